/* init: weight initialisation of an ExecModel's parameters by each tensor's IrInit, drawing from
 * the one seeded Rng, tensor by tensor in IrModel.tensors order (so a seed fixes every weight). */
#include "exec/exec.h"

#include <math.h>
#include <stdlib.h>

/* A column whose norm falls below this after Gram-Schmidt is (numerically) dependent on the
 * earlier ones: the draw is degenerate. */
static const double ORTHO_MIN_NORM = 1e-12;

/* Orthogonal init as torch.nn.init.orthogonal_: a [rows][cols] matrix whose rows (rows <= cols)
 * or columns (rows > cols) are orthonormal, times gain. A = M x N standard normal (M = max,
 * N = min of the sizes), Q = the Gram-Schmidt orthonormalisation of A's columns (the Q of
 * A = QR with a positive diagonal of R, which is what PyTorch's sign correction gives), then
 * v = Q (or Q^T when rows < cols). Done in double.   v [rows][cols] */
static int init_orthogonal(float *v, int rows, int cols, double gain, Rng *rng, Diag *d)
{
    int M = rows > cols ? rows : cols, N = rows > cols ? cols : rows;
    double *A = malloc(sizeof(double) * (size_t)M * N);
    if (!A) {
        diag_error_in(d, "init", "out of memory for an orthogonal [%d, %d] matrix", rows, cols);
        return -1;
    }
    for (size_t i = 0; i < (size_t)M * N; i++)
        A[i] = rng_normal(rng);
    /* modified Gram-Schmidt over the N columns of A (column j: A[i*N + j]) */
    for (int j = 0; j < N; j++) {
        for (int k = 0; k < j; k++) {
            double dot = 0;
            for (int i = 0; i < M; i++)
                dot += A[(size_t)i * N + k] * A[(size_t)i * N + j];
            for (int i = 0; i < M; i++)
                A[(size_t)i * N + j] -= dot * A[(size_t)i * N + k];
        }
        double nrm = 0;
        for (int i = 0; i < M; i++)
            nrm += A[(size_t)i * N + j] * A[(size_t)i * N + j];
        nrm = sqrt(nrm);
        if (!(nrm > ORTHO_MIN_NORM)) {
            free(A);
            diag_error_in(d, "init", "orthogonal init drew a degenerate matrix");
            return -1;
        }
        for (int i = 0; i < M; i++)
            A[(size_t)i * N + j] /= nrm;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            v[(size_t)r * cols + c] =
                (float)(gain * (rows >= cols ? A[(size_t)r * N + c] : A[(size_t)c * N + r]));
    free(A);
    return 0;
}

int exec_init_tensor(float *v, int rows, int cols, IrInit init, Rng *rng, Diag *d)
{
    size_t n = (size_t)rows * cols;
    switch (init.kind) {
    case IR_INIT_UNIFORM: /* v ~ U(a, b) */
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(init.a + (init.b - init.a) * rng_uniform(rng));
        return 0;
    case IR_INIT_NORMAL: /* v ~ N(0, a^2) */
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(init.a * rng_normal(rng));
        return 0;
    case IR_INIT_ORTHOGONAL:
        return init_orthogonal(v, rows, cols, init.a != 0 ? init.a : 1.0, rng, d);
    case IR_INIT_CONST:
        for (size_t i = 0; i < n; i++)
            v[i] = (float)init.a;
        return 0;
    }
    diag_error_in(d, "init", "unknown initialiser %d", (int)init.kind);
    return -1;
}

int exec_init_params(ExecModel *e, Rng *rng, Diag *d)
{
    const IrModel *m = exec_model(e);
    float *p = exec_params(e);
    for (int t = 0; t < exec_ntensors(e); t++) {
        const ExecTensor *x = exec_tensor(e, t);
        int rows = x->ndim == 2 ? x->shape[0] : 1, cols = x->ndim == 2 ? x->shape[1] : x->shape[0];
        if (exec_init_tensor(p + x->offset, rows, cols, m->tensors[t].init, rng, d))
            return -1;
    }
    return 0;
}
