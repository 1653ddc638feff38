/* recur.h: the public C API of librecur.
 *
 * recur reads the .rnn language (stacked RNN/LSTM/GRU layers and cells written as equations),
 * compiles it to an IR, and runs it on the CPU. This header is the stable surface for programs
 * that embed recur: compile a model or load a checkpoint, run it forward, save it. The `recur`
 * program (training, conversion, checks) is built on the same library.
 *
 * Errors: functions that can fail return NULL or -1 and, when `error` is not NULL, set *error to
 * a malloc'ed text with every diagnostic (file:line:col: error: ..., as the CLI prints them); the
 * caller frees it with free(). Nothing here calls exit() or prints.
 *
 * Ownership: a RecurModel belongs to the caller and is released with recur_free. Buffers passed
 * in stay the caller's; recur_forward writes into the caller's `out`. */
#ifndef RECUR_H
#define RECUR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RECUR_VERSION "0.1.0"

typedef struct RecurModel RecurModel;

/* The library's version string ("0.1.0"). */
const char *recur_version(void);

/* Compiles the .rnn file at path with nsets "NAME=VALUE" overrides (e.g. "vocab=65") and
 * initialises its weights from seed, as `recur init` does. */
RecurModel *recur_compile(const char *path, const char *const *sets, int nsets, uint64_t seed,
                          char **error);
/* Loads a checkpoint written by `recur init`, `recur train` or `recur convert`. */
RecurModel *recur_load(const char *ckpt_path, char **error);
/* Writes the model and its weights as a checkpoint, atomically. */
int recur_save(const RecurModel *m, const char *ckpt_path, char **error);
void recur_free(RecurModel *m);

/* Total number of trained parameters. */
int64_t recur_num_params(const RecurModel *m);
/* The vocabulary size when the model reads token ids, else 0. */
int recur_input_vocab(const RecurModel *m);
/* Floats per step of a vector input, 0 when the model reads token ids. */
int recur_input_width(const RecurModel *m);
/* Floats per output row. */
int recur_output_width(const RecurModel *m);
/* 1 when the output is one row per step ([T][B][width]), 0 when pooled ([B][width]). */
int recur_output_is_sequence(const RecurModel *m);

/* Runs the model in inference mode (dropout off) over T steps of B sequences, from a zero
 * state. Input: tokens [T][B] (ids < vocab) for token models, or vectors [T][B][width].
 * out receives [T][B][output_width] floats, or [B][output_width] when pooled. */
int recur_forward(RecurModel *m, int T, int B, const int32_t *tokens, const float *vectors,
                  float *out, char **error);

#ifdef __cplusplus
}
#endif

#endif
