/* golden_check: what `recur check FILE` does, for the semantic golden tests
 * (tests/golden/sema/NAME.rnn + NAME.expected): loads the file, compiles it with sema (vocab and
 * classes may stay unbound, as in `check`), prints every diagnostic to stdout, then "ok" when
 * there was no error. --set NAME=VALUE may be repeated before FILE; --explain (first) prints the
 * expanded model instead of "ok".
 * Exit status: 0 without errors, 1 with errors, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/explain.h"
#include "lang/diag.h"
#include "lang/sema.h"

int main(int argc, char **argv)
{
    const char *sets[64];
    int nsets = 0, i = 1, explain = 0;
    if (i < argc && strcmp(argv[i], "--explain") == 0) {
        explain = 1;
        i++;
    }
    while (i + 1 < argc && strcmp(argv[i], "--set") == 0 && nsets < 64) {
        sets[nsets++] = argv[i + 1];
        i += 2;
    }
    if (i + 1 != argc) {
        fprintf(stderr, "usage: golden_check [--explain] [--set NAME=VALUE]... FILE.rnn\n");
        return 2;
    }
    Diag d;
    diag_init(&d);
    const Source *src = diag_load_file(&d, argv[i], 16u << 20);
    SemaOptions o = { .allow_auto = true };
    IrModel *m = NULL;
    if (src && explain) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            ir_explain_source(&d, src, sets, nsets, f);
            fclose(f);
        }
        diag_print(&d, stdout);
        if (buf && !diag_error_count(&d))
            fputs(buf, stdout);
        free(buf);
    } else if (src) {
        m = sema_compile_opts(&d, src, sets, nsets, &o);
        diag_print(&d, stdout);
    }
    int errors = diag_error_count(&d);
    if (!errors && !explain)
        puts("ok");
    ir_model_free(m);
    diag_free(&d);
    return errors ? 1 : 0;
}
