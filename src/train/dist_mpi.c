/* dist_mpi: dist.h over Open MPI (MPI_COMM_WORLD). Every MPI call of recur is in this file. */
#include "train/dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest piece of one collective (elements): MPI counts are int. */
enum { DIST_PIECE = 1 << 30 };

const char *dist_build_info(void)
{
    static char info[MPI_MAX_LIBRARY_VERSION_STRING + 8];
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);   /* may be called before MPI_Init */
    v[strcspn(v, ",\n")] = 0;           /* "Open MPI v4.1.4, package: ..." -> the name */
    snprintf(info, sizeof info, "MPI: %s", v);
    return info;
}

/* True when an MPI launcher (mpirun, mpiexec, srun with PMIx/PMI2) started this process. */
static bool launched_by_mpi(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int dist_open(Dist *g, Diag *d)
{
    (void)d;
    memset(g, 0, sizeof *g);
    g->size = 1;
    if (!launched_by_mpi())
        return 0;
    int init = 0;
    MPI_Initialized(&init);
    if (!init) {
        MPI_Init(NULL, NULL);   /* failure aborts (MPI_ERRORS_ARE_FATAL) */
        g->started = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g->size);
    return 0;
}

void dist_close(Dist *g)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (g->started && !fin) {
        MPI_Barrier(MPI_COMM_WORLD);    /* rank 0 has printed before any rank exits */
        MPI_Finalize();
    }
    g->started = false;
}

void dist_sum_floats(const Dist *g, float *buf, int64_t n)
{
    if (g->size == 1)
        return;
    for (int64_t i = 0; i < n; i += DIST_PIECE) {
        int k = (int)(n - i < DIST_PIECE ? n - i : DIST_PIECE);
        MPI_Allreduce(MPI_IN_PLACE, buf + i, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

void dist_sum_doubles(const Dist *g, double *buf, int n)
{
    if (g->size > 1)
        MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void dist_allgather(const Dist *g, const void *mine, size_t n, void *all)
{
    if (g->size == 1) {
        memmove(all, mine, n);
        return;
    }
    MPI_Allgather(mine, (int)n, MPI_BYTE, all, (int)n, MPI_BYTE, MPI_COMM_WORLD);
}

void dist_gather_floats(const Dist *g, const float *mine, int64_t n, float *all)
{
    if (g->size == 1) {
        memmove(all, mine, sizeof(float) * (size_t)n);
        return;
    }
    MPI_Gather(mine, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
}

int dist_text_to_root(const Dist *g, int from, const char *mine, char **got)
{
    if (got)
        *got = NULL;
    if (g->rank != from && g->rank != 0)
        return 0;
    if (from == 0)
        return g->rank == 0 && !(*got = strdup(mine)) ? -1 : 0;
    int len = 0;
    if (g->rank == from) {
        len = (int)strlen(mine) + 1;
        MPI_Send(&len, 1, MPI_INT, 0, 1, MPI_COMM_WORLD);
        MPI_Send(mine, len, MPI_CHAR, 0, 2, MPI_COMM_WORLD);
        return 0;
    }
    MPI_Recv(&len, 1, MPI_INT, from, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    char *buf = malloc((size_t)len);
    if (!buf)
        return -1;     /* the message stays unreceived; the job is failing anyway */
    MPI_Recv(buf, len, MPI_CHAR, from, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    buf[len - 1] = 0;
    *got = buf;
    return 0;
}
