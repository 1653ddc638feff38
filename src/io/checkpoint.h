/* checkpoint: self-describing model + training-state files, protobuf-c inside a checked header.
 *
 * File layout (see checkpoint.proto): "RECURCKP", u32 version, u32 CRC-32 of the payload, u64
 * payload length, then the serialized recur.Checkpoint message. Reading verifies magic, version,
 * exact length and CRC before unpacking, then validates every tensor (rank, shape product x 4 ==
 * data bytes, unique names), so a flipped bit, a truncated file or a foreign file is a clear
 * `path: error: ...`, never a crash. Writing is atomic (temporary file, fsync, rename, fsync dir).
 *
 * The C struct mirrors the message and hides protobuf-c from callers.
 *
 * Ownership: a Checkpoint owns every string, array and tensor buffer it points to (all malloc'ed);
 * ckpt_free releases them. The ckpt_set_ and ckpt_add_ helpers copy their arguments. Pointers
 * returned by ckpt_add_tensor and ckpt_find_tensor point into the Checkpoint and stay valid until
 * the next add to the same list or ckpt_free. ckpt_write only reads the Checkpoint. */
#ifndef RECUR_CHECKPOINT_H
#define RECUR_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

enum {
    CKPT_FILE_VERSION = 1,    /* the fixed header's version */
    CKPT_FORMAT_VERSION = 1,  /* the message's format_version */
    CKPT_HEADER_BYTES = 24,
    CKPT_MAX_DIMS = 8,
};

/* A named float32 tensor: count = product of shape (1 for rank 0), data is count floats. */
typedef struct CkptTensor {
    char *name;
    int ndim;
    int64_t shape[CKPT_MAX_DIMS];
    int64_t count;
    float *data;
} CkptTensor;

/* A list of tensors (the parameters, or the optimiser's state). */
typedef struct CkptTensorList {
    CkptTensor *items;
    int n;
    size_t cap;
} CkptTensorList;

typedef struct CkptConst {
    char *name;
    int64_t value;
} CkptConst;

typedef struct CkptHyper {
    char *name;
    double value;
} CkptHyper;

/* A data file a run read (checkpoint.proto DataFile); present false when not recorded. */
typedef struct CkptDataFile {
    bool present;
    char *path;                     /* as the user gave it; may be NULL */
    char *resolved;                 /* absolute; may be NULL */
    uint64_t size;
    uint32_t crc32;
} CkptDataFile;

typedef struct Checkpoint {
    uint32_t format_version;        /* set by ckpt_read; ckpt_write always writes the current */
    char *recur_version;            /* may be NULL */

    char *source_name;              /* may be NULL */
    char *source_text;              /* source_len bytes + a NUL; may be NULL */
    size_t source_len;
    char **overrides;               /* noverrides "name=value" strings */
    int noverrides;
    CkptConst *consts;
    int nconsts;
    unsigned char *vocab;           /* vocab_len bytes; NULL when the model has none */
    size_t vocab_len;

    CkptTensorList params;

    char *optimizer;                /* may be NULL */
    CkptHyper *hypers;
    int nhypers;
    CkptTensorList optim_state;
    uint64_t step, epoch;
    uint64_t *rng_state;
    int nrng_state;
    uint64_t *data_pos;
    int ndata_pos;
    bool has_best_val_loss;
    double best_val_loss;
    uint64_t seed;
    int threads;

    char **class_names;             /* nclass_names class names in id order (none: numbers) */
    int nclass_names;
    CkptDataFile data, valid_data;  /* the training and validation files, when recorded */
    uint64_t stale_evals;           /* early stopping's count (0 when absent) */
    double log_loss_sum;            /* the sums behind the next log.csv row (0 when absent): */
    uint64_t log_loss_n, log_tokens;/* loss summed over log_loss_n steps, input steps seen */
} Checkpoint;

/* An empty checkpoint (all zero). */
void ckpt_init(Checkpoint *c);
void ckpt_free(Checkpoint *c);

/* Writes c to path atomically. Tensors must be consistent (count == product of shape). */
int ckpt_write(const char *path, const Checkpoint *c, Diag *d);
/* Reads path into out (initialised here; on failure out is empty and -1 is returned). */
int ckpt_read(const char *path, Checkpoint *out, Diag *d);

/* The helpers return 0, or -1 when out of memory or given an invalid argument (the caller
 * reports; they never touch a Diag). */

/* Copies name/text (text may hold NULs: len bytes are kept, plus a terminator). */
int ckpt_set_source(Checkpoint *c, const char *name, const char *text, size_t len);
int ckpt_add_override(Checkpoint *c, const char *name_eq_value);
/* Sets (adds or replaces) a constant / a hyperparameter. */
int ckpt_set_const(Checkpoint *c, const char *name, int64_t value);
int ckpt_set_hyper(Checkpoint *c, const char *name, double value);
/* Looks up a constant / hyperparameter; false when absent. */
bool ckpt_get_const(const Checkpoint *c, const char *name, int64_t *value);
bool ckpt_get_hyper(const Checkpoint *c, const char *name, double *value);
int ckpt_set_vocab(Checkpoint *c, const unsigned char *bytes, size_t len);
int ckpt_set_optimizer(Checkpoint *c, const char *name);
/* Appends a copy of one class name. */
int ckpt_add_class_name(Checkpoint *c, const char *name);
/* Records a data file (copies the strings; either may be NULL); f->present becomes true. */
int ckpt_set_data_file(CkptDataFile *f, const char *path, const char *resolved, uint64_t size,
                       uint32_t crc32);
/* Frees f's strings; f is not present afterwards. */
void ckpt_data_file_free(CkptDataFile *f);
/* Copies n words into rng_state / data_pos. */
int ckpt_set_rng_state(Checkpoint *c, const uint64_t *words, int n);
int ckpt_set_data_pos(Checkpoint *c, const uint64_t *words, int n);

/* Appends a tensor named name with shape[ndim] and copies its data (count floats; zeros when
 * data is NULL). Returns the new tensor, or NULL when out of memory, the name is already in the
 * list, ndim is outside 0..CKPT_MAX_DIMS or a dimension is negative. */
CkptTensor *ckpt_add_tensor(CkptTensorList *l, const char *name, int ndim, const int64_t *shape,
                            const float *data);
/* The tensor called name in l, or NULL. */
CkptTensor *ckpt_find_tensor(const CkptTensorList *l, const char *name);
void ckpt_tensors_free(CkptTensorList *l);

#endif
