/* exec_own: the executor's one allocator. Every buffer an ExecModel uses is calloc'ed here and
 * recorded in ExecModel.allocs, so exec_free releases them in one loop. A file of its own so
 * that exec.c (creation) and exec_setup.c and the layer files (which allocate while setting up)
 * all call down into it, never into each other. */
#include <stdlib.h>

#include "exec/exec_int.h"

enum { EXEC_ALLOCS_FIRST_CAP = 64 };   /* first size of the allocation list (then doubled) */

/* Zeroed memory owned by e (freed in exec_free); NULL and e->oom set when out of memory. */
void *exec_own(ExecModel *e, size_t n, size_t size)
{
    if (e->oom)
        return NULL;
    if (e->nallocs == e->allocs_cap) {
        int cap = e->allocs_cap ? 2 * e->allocs_cap : EXEC_ALLOCS_FIRST_CAP;
        void **a = realloc(e->allocs, sizeof *a * cap);
        if (!a) {
            e->oom = true;
            return NULL;
        }
        e->allocs = a;
        e->allocs_cap = cap;
    }
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        e->oom = true;
        return NULL;
    }
    e->allocs[e->nallocs++] = p;
    return p;
}
