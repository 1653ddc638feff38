/* tensorcmp: compares two tensor files (.npy, or .safetensors by tensor name) within a
 * tolerance, for the end-to-end tests: |a - b| <= atol + rtol * |b| elementwise, or bit-exact
 * with --exact. Prints the worst element of each tensor; exits 0 when all match, 1 when not,
 * 2 on a usage or file error. --subset compares only the tensors EXPECTED has (GOT may have
 * more: an ONNX graph that outputs Y_h but not Y_c against recur's final states).
 *   tensorcmp [--rtol R] [--atol A] [--exact] [--subset] GOT EXPECTED */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/npy.h"
#include "io/safetensors.h"

/* Reads a .npy (as one tensor named "array", converted to float32) or a .safetensors file. */
static int load(const char *path, CkptTensorList *l, Diag *d)
{
    size_t n = strlen(path);
    if (n < 4 || strcmp(path + n - 4, ".npy") != 0)
        return safetensors_read(path, l, NULL, d);
    NpyArray a;
    if (npy_read(path, &a, d))
        return -1;
    float *v = malloc(sizeof *v * (size_t)(a.count + 1));
    for (int64_t i = 0; v && i < a.count; i++) {
        switch (a.dtype) {
        case NPY_F32: v[i] = ((float *)a.data)[i]; break;
        case NPY_F64: v[i] = (float)((double *)a.data)[i]; break;
        case NPY_I32: v[i] = (float)((int32_t *)a.data)[i]; break;
        case NPY_I64: v[i] = (float)((int64_t *)a.data)[i]; break;
        }
    }
    int rc = v && ckpt_add_tensor(l, "array", a.ndim, a.shape, v) ? 0 : -1;
    free(v);
    npy_free(&a);
    return rc;
}

int main(int argc, char **argv)
{
    double rtol = 1e-5, atol = 1e-6;
    int exact = 0, subset = 0, i = 1;
    for (; i < argc - 2; i++) {
        if (strcmp(argv[i], "--rtol") == 0)
            rtol = atof(argv[++i]);
        else if (strcmp(argv[i], "--atol") == 0)
            atol = atof(argv[++i]);
        else if (strcmp(argv[i], "--exact") == 0)
            exact = 1;
        else if (strcmp(argv[i], "--subset") == 0)
            subset = 1;
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: tensorcmp [--rtol R] [--atol A] [--exact] [--subset] GOT EXPECTED\n");
        return 2;
    }
    Diag d;
    diag_init(&d);
    CkptTensorList got = {0}, want = {0};
    if (load(argv[i], &got, &d) || load(argv[i + 1], &want, &d)) {
        diag_print(&d, stderr);
        return 2;
    }
    int bad = subset ? got.n < want.n : got.n != want.n;
    if (bad)
        printf("tensor count differs: %d vs %d\n", got.n, want.n);
    for (int k = 0; k < want.n; k++) {
        const CkptTensor *w = &want.items[k];
        const CkptTensor *g = ckpt_find_tensor(&got, w->name);
        if (!g || g->count != w->count || g->ndim != w->ndim) {
            printf("%s: missing or shape differs\n", w->name);
            bad = 1;
            continue;
        }
        double worst = 0, worst_rel = 0;
        int64_t at = -1;
        for (int64_t j = 0; j < w->count; j++) {
            double a = g->data[j], b = w->data[j], diff = fabs(a - b);
            int ok = exact ? memcmp(&g->data[j], &w->data[j], sizeof(float)) == 0
                           : diff <= atol + rtol * fabs(b);
            if (!ok && at < 0)
                at = j;
            if (diff > worst)
                worst = diff, worst_rel = diff / (fabs(b) > 1e-30 ? fabs(b) : 1e-30);
        }
        printf("%-28s %8lld values  max |diff| %.3g (relative %.3g)%s\n", w->name,
               (long long)w->count, worst, worst_rel, at >= 0 ? "  MISMATCH" : "");
        if (at >= 0) {
            printf("  first mismatch at %lld: got %.9g, expected %.9g\n", (long long)at,
                   g->data[at], w->data[at]);
            bad = 1;
        }
    }
    ckpt_tensors_free(&got);
    ckpt_tensors_free(&want);
    diag_free(&d);
    return bad;
}
