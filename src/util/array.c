/* array: the growable-array helper (see array.h). */
#include "util/array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { ARRAY_FIRST_CAP = 8 };

/* The pointer is read and written through memcpy, so one function serves arrays of every type
 * without converting a T** to void** (which C does not allow to be dereferenced). */
int array_reserve(void *arrp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : ARRAY_FIRST_CAP;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    if (elem && ncap > SIZE_MAX / elem)
        return -1;
    void *old;
    memcpy(&old, arrp, sizeof old);
    void *p = realloc(old, ncap * elem);
    if (!p)
        return -1;
    memcpy(arrp, &p, sizeof p);
    *cap = ncap;
    return 0;
}
