/* main: the recur command-line program (placeholder until the commands land). */
#include <stdio.h>
#include "recur.h"

int main(void)
{
    printf("recur %s\n", RECUR_VERSION);
    return 0;
}
