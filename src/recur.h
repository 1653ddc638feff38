/* recur.h: the public C API of librecur.
 *
 * recur reads the .rnn language (stacked RNN/LSTM/GRU layers and cells written as equations),
 * compiles it to an IR, and runs it on the CPU. This header is the stable surface for programs
 * that embed recur: compile a model or load a checkpoint, run it forward, save it. The `recur`
 * program (training, conversion, checks) is built on the same library.
 *
 * Errors: functions that can fail return NULL or -1 and, when `error` is not NULL, set *error to
 * a malloc'ed text with every diagnostic (file:line:col: error: ..., as the CLI prints them, but
 * naming overrides as such rather than the CLI's --set); the caller frees it with free().
 * Nothing here calls exit() or prints.
 *
 * Threads: the library keeps no global state of its own, so different RecurModel and
 * RecurState objects may be used from different threads at once. One object must not be used
 * by two threads at the same time -- that includes recur_forward on one RecurModel, and a
 * RecurState with its model being freed. recur_forward and recur_step compute with OpenBLAS,
 * whose own threads are set with OPENBLAS_NUM_THREADS (or openblas_set_num_threads).
 *
 * Ownership: a RecurModel belongs to the caller and is released with recur_free; a RecurState
 * with recur_state_free, before its model. Strings returned by recur_class_name belong to the
 * model. Buffers passed in stay the caller's; recur_forward and recur_step write into the
 * caller's `out`. */
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

/* The vocabulary of a model trained on text or symbols: its size (0 when the checkpoint holds
 * none, e.g. a model compiled from a .rnn file), the symbol of token id as UTF-8 written into
 * out with a NUL (returns its length in bytes, -1 for an id outside the vocabulary), and the id
 * of the symbol at the start of utf8 (-1 when it is not in the vocabulary). A byte-level
 * vocabulary's symbols are single bytes. */
int recur_vocab_size(const RecurModel *m);
int recur_vocab_symbol(const RecurModel *m, int id, char out[5]);
int recur_vocab_id(const RecurModel *m, const char *utf8);
/* The class names of a classifier trained on a CSV with labels, in class-id order (the index
 * of the output row's entry): their number (0 when none are recorded), and name id (NULL
 * outside them). Labels that were numbers are named "0", "1", ... */
int recur_num_classes(const RecurModel *m);
const char *recur_class_name(const RecurModel *m, int id);

/* Runs the model in inference mode (dropout off) over T steps of B sequences, from a zero
 * state. Input: tokens [T][B] (ids < vocab) for token models, or vectors [T][B][width].
 * out receives [T][B][output_width] floats, or [B][output_width] when pooled. */
int recur_forward(RecurModel *m, int T, int B, const int32_t *tokens, const float *vectors,
                  float *out, char **error);

/* A stateful runner: B sequences fed one step at a time, the recurrent state carried from one
 * recur_step to the next (as a streaming application or a sampler needs). recur_state_new
 * starts from a zero state; recur_state_reset zeroes it again. recur_step reads one step --
 * tokens [B] or vectors [B][input_width] -- and writes the output of that step into out:
 * [B][output_width] floats. A model whose output is pooled over the sequence cannot be
 * stepped (recur_state_new fails). */
typedef struct RecurState RecurState;
RecurState *recur_state_new(RecurModel *m, int B, char **error);
int recur_step(RecurState *s, const int32_t *tokens, const float *vectors, float *out,
               char **error);
void recur_state_reset(RecurState *s);
void recur_state_free(RecurState *s);

/* The carried state of a RecurState, to start from given states and to read the final ones
 * (ONNX initial_h/initial_c and Y_h/Y_c, PyTorch's h_0/c_0 and h_n/c_n). As files:
 * recur_state_load sets it from a safetensors file with, per recurrent layer, <label>.h0 (and
 * <label>.c0 for an LSTM; a user cell's states by their names, <label>.<state>0), each float32
 * [layers * directions, B, H] indexed level * directions + direction as PyTorch's h_0 -- the
 * files of `recur run --state-in/--state-out`; every state must be there with its shape, and
 * nothing else. recur_state_save writes the current state in the same form, atomically.
 * As one array: recur_state_floats numbers, those tensors concatenated in model order (each
 * layer's states in cell order: h before c), row-major; recur_state_get copies it out,
 * recur_state_set in (in has recur_state_floats floats); both return 0, or -1 when out of
 * memory (the state is then unchanged). */
int recur_state_load(RecurState *s, const char *path, char **error);
int recur_state_save(const RecurState *s, const char *path, char **error);
int64_t recur_state_floats(const RecurState *s);
int recur_state_get(const RecurState *s, float *out, char **error);
int recur_state_set(RecurState *s, const float *in, char **error);

#ifdef __cplusplus
}
#endif

#endif
