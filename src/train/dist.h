/* dist: the one module that talks to MPI (data-parallel training, doc/MPI.md). Two
 * implementations of this interface: dist_mpi.c (configure found Open MPI) and dist_none.c
 * (built without MPI: always rank 0 of 1, every collective a no-op), so the training loop has no
 * #ifdefs.
 *
 * MPI is started only when the process was launched by an MPI launcher (mpirun/mpiexec set
 * OMPI_COMM_WORLD_SIZE, srun with PMIx or PMI2 sets PMIX_RANK or PMI_RANK); a plain `recur
 * train` stays a single process and never initialises MPI. All calls below are collective over
 * MPI_COMM_WORLD: every rank calls them in the same order. MPI errors keep MPI's default
 * (MPI_ERRORS_ARE_FATAL): a rank that dies (kill -9) ends the whole job.
 *
 * Ownership: Dist is a plain struct owned by the caller; buffers are the caller's. */
#ifndef RECUR_DIST_H
#define RECUR_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

typedef struct Dist {
    int rank, size;         /* this process and the number of processes (1 without MPI) */
    bool started;           /* this Dist called MPI_Init (dist_close finalises) */
} Dist;

/* "MPI: Open MPI v4.1.4" (or the library's version string), or "MPI: no" in a build without
 * MPI; for `recur --version`. Static storage. */
const char *dist_build_info(void);

/* Joins the job: MPI_Init when launched by an MPI launcher, else rank 0 of 1. -1 with a
 * diagnostic when MPI cannot start (a build without MPI launched by mpirun: refused, since N
 * copies would each train alone and race on the same files). */
int dist_open(Dist *g, Diag *d);
/* Leaves the job: waits for every rank, then MPI_Finalize (when dist_open started MPI). */
void dist_close(Dist *g);

/* In place: buf[i] = the sum over ranks of buf[i] (MPI_Allreduce, MPI_IN_PLACE), sent in
 * pieces of at most 2^30 elements. */
void dist_sum_floats(const Dist *g, float *buf, int64_t n);
void dist_sum_doubles(const Dist *g, double *buf, int n);
/* all[r * n .. r * n + n) = rank r's mine[0 .. n) on every rank (MPI_Allgather of bytes). */
void dist_allgather(const Dist *g, const void *mine, size_t n, void *all);
/* At rank 0 only: all[r * n ..] = rank r's mine[0 .. n) (MPI_Gather); all may be NULL
 * elsewhere. */
void dist_gather_floats(const Dist *g, const float *mine, int64_t n, float *all);
/* Rank `from`'s text (NUL-terminated) to rank 0: called by both (other ranks return at once);
 * at rank 0 *got is a malloc'ed copy (caller frees), elsewhere NULL. -1 when out of memory. */
int dist_text_to_root(const Dist *g, int from, const char *mine, char **got);

#endif
