/* data: the training data of a run, as fixed-shape batches for the executor.
 *
 * Sources (LANGUAGE.md section 7; the `data` block or --data FILE):
 *   text(PATH, level=char|byte)   a corpus. The vocabulary is the sorted set of characters
 *       (UTF-8 code points; level=byte: bytes) that occur in it. The first 1-valid of the tokens
 *       are cut into B contiguous streams, char-rnn style; each training window takes bptt+1
 *       tokens per stream (inputs t .. t+bptt-1, targets t+1 .. t+bptt) and the next window
 *       continues where it stopped, so the hidden state is carried (batch.reset is false). At
 *       the end of the streams an epoch ends and every stream restarts at its beginning (reset).
 *       The last `valid` fraction is the validation split, read the same way in B streams with a
 *       masked final window.
 *   csv(PATH, target=label|values, features=F, targets=K, header=auto|true|false)
 *       one sequence per row:   TARGET,v1,v2,...,vn   (comma separated, blank lines and lines
 *       starting with '#' ignored). target=label (default): TARGET is one column, a class label:
 *       non-negative integers (class = the number, classes = max+1) or names (classes = the
 *       sorted distinct names). target=values: the first K columns are regression targets. The
 *       remaining n values are the sequence, F per step (n must be a positive multiple of F), so
 *       rows may have different lengths: batches are padded to the longest row of the file and
 *       carry lengths and masks. header=auto treats the first row as a header when one of its
 *       sequence fields is not a number. A bad row is reported as `PATH:LINE: error: ...`.
 *       Rows are shuffled every epoch; the last `valid` fraction of the rows (in file order) is
 *       the validation split.
 *   A separate validation file (valid = text(...) / csv(...), DataConfig.valid_path) replaces
 *   the `valid` fraction: the whole training file is trained on and the other file, read the
 *   same way, is the validation split. Its text is mapped with the training text's vocabulary
 *   (a character the training text lacks is an error naming it); its csv labels must be
 *   classes of the training file (an unknown label is an error naming the file and line).
 *   adding(length=T)    the adding problem (Hochreiter & Schmidhuber 1997): T steps of 2
 *       channels, a value in [0, 1) and a marker that is 1 at one step in the first half and
 *       one in the second half; target = the sum of the two marked values (predicting the mean
 *       1.0 always gives MSE 1/6 = 0.167).
 *   reber(embedded=true, length=L)   next-symbol prediction on (embedded) Reber strings over
 *       the 7 symbols B E P S T V X (ids in that sorted order), at most L symbols (default 60;
 *       longer strings are redrawn); padded and masked.
 *   copy(length=L, delay=D)   10 tokens: 0 blank, 1..8 symbols, 9 go. Input: L random symbols,
 *       D-1 blanks, go, L blanks (2L+D steps; vocabulary "_abcdefgh|"); target: blank for
 *       L+D steps, then the L symbols.
 * Generated tasks draw every batch from the data Rng; their validation set is regenerated from
 * a fixed seed each time (the same sequences at every evaluation): valid (>= 1) sequences
 * rounded up to whole batches;
 * an epoch of a generated task is 100 batches.
 *
 * Ownership: a DataSet owns its tokens, rows, vocabulary and both batch buffers; data_free
 * releases them. The DataBatch pointers returned stay valid until the next call that fills the
 * same batch or data_free. Config strings are borrowed for data_open only. */
#ifndef RECUR_DATA_H
#define RECUR_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/schema.h"   /* DataKind, DataLevel, DataConfig: the typed data settings */
#include "util/diag.h"
#include "util/file.h"
#include "util/rng.h"

/* The largest corpus or CSV file read (2 GiB): bigger ones are refused before allocating. */
#define DATA_MAX_FILE ((size_t)1 << 31)

/* What the model is asked to predict. */
typedef enum DataTarget {
    DATA_TARGET_STEP_IDS,   /* a class per step: target_ids [T][B] (-1 = ignore) */
    DATA_TARGET_LABEL,      /* a class per sequence: target_ids [B] (-1 = padding row) */
    DATA_TARGET_VALUES      /* K values per sequence: target [B][K] */
} DataTarget;

/* The vocabulary of token data: id i is the code point (char) or byte codes[i]; codes sorted. */
typedef struct Vocab {
    DataLevel level;
    int size;
    uint32_t *codes;
} Vocab;

/* One batch, time-major. T is the window length and B the batch size; unused arrays are NULL. */
typedef struct DataBatch {
    int T, B;
    int in_width;           /* 0: token input (ids); else floats per step (x) */
    int32_t *ids;           /* [T][B] input token ids (padding: 0) */
    float *x;               /* [T][B][in_width] input vectors (padding: 0) */
    int32_t *lengths;       /* [B] valid steps of each sequence, in [1, T] */
    float *mask;            /* [T][B] 1 for a real step, 0 for padding */
    float *row_mask;        /* [B] 1 for a real sequence, 0 for a padding row */
    DataTarget target_kind;
    int32_t *target_ids;    /* STEP_IDS: [T][B]; LABEL: [B] */
    float *target;          /* VALUES: [B][out_width] */
    int out_width;          /* VALUES: K */
    bool reset;             /* zero the recurrent state before this window */
    int64_t ntargets;       /* number of counted targets (for tokens/s and averages) */
} DataBatch;

/* Where the training stream is: enough to continue bit-identically after a restart. */
typedef struct DataPos {
    int64_t epoch;          /* completed epochs */
    int64_t index;          /* windows/batches taken in the current epoch */
    Rng rng;                /* csv: state at the start of the epoch (the shuffle is redone
                               from it); generated: current state; text: unused */
} DataPos;

typedef struct DataSet {
    DataConfig cfg;
    Vocab vocab;            /* text (from the corpus), reber and copy (fixed); size 0 else */
    int classes;            /* csv label: number of classes; else 0 */
    char **class_names;     /* csv label names (NULL when labels are numbers) */
    int in_width, out_width;/* as in DataBatch */
    DataTarget target_kind;
    int T;                  /* window length of every batch */
    int64_t batches_per_epoch;
    DataPos pos;
    /* text */
    int32_t *tokens;        /* [ntokens] ids */
    int64_t ntokens, ntrain;
    /* csv */
    int nrows, ntrain_rows;
    float **row_values;     /* row r: [row_len[r]][in_width] */
    float *row_targets;     /* [nrows][K] (values) */
    int32_t *row_labels;    /* [nrows] */
    int32_t *row_len;       /* [nrows] steps */
    int32_t *order;         /* [ntrain_rows] this epoch's permutation */
    DataBatch batch, vbatch;
    /* data_part: this process's share of every batch, columns [part_first, part_first +
     * part.B) of the global batch (part_n 0: the whole batch) */
    int part_first, part_n;
    DataBatch part, vpart;
} DataSet;

/* Loads a file or sets up a generator and allocates the batches; -1 with a diagnostic naming
 * the file (and line) on any problem: unreadable, empty, too small for batch x bptt, bad UTF-8
 * (help: level=byte), a malformed CSV row. */
int data_open(DataSet *ds, const DataConfig *cfg, Diag *d);
void data_free(DataSet *ds);
/* data_defaults (ir/schema.h) gives every DataConfig field its default. */

/* The next training batch (advances ds->pos; crosses epochs by itself). Never fails once open. */
const DataBatch *data_next(DataSet *ds);
/* Data parallelism: from now on data_next and data_valid_batch return only columns [first,
 * first + n) of each global batch (its streams, rows or sequences, exactly as the single
 * process has them there), in batches of B = n; the position still follows the whole batch, so
 * it is the same in every process. -1 (reported) when out of memory or out of range. */
int data_part(DataSet *ds, int first, int n, Diag *d);
/* Restores a saved position; -1 (reported) when it does not fit this data (e.g. another file). */
int data_set_pos(DataSet *ds, const DataPos *pos, Diag *d);

/* Validation: the number of batches, and batch i of them (0 <= i < n) in ds->vbatch. Text
 * windows must be visited in order 0, 1, ... (state carried; batch.reset on i = 0). */
int64_t data_valid_batches(const DataSet *ds);
const DataBatch *data_valid_batch(DataSet *ds, int64_t i);

/* One line about the data for the start of a run, without a newline:
 *   "corpus.txt: 65 symbols, 1003854 training tokens, 52834 validation tokens, 313 batches per
 *    epoch", "t.csv: 270 training rows, 30 validation rows, 3 classes, 17 batches per epoch",
 *   "adding (generated): 100 batches per epoch, 1024 validation sequences". Returns buf. */
char *data_summary(const DataSet *ds, char *buf, size_t n);

/* Vocabulary helpers. Id of a code point/byte, or -1 when it is not in the vocabulary. */
int data_vocab_id(const Vocab *v, uint32_t code);
/* Writes the UTF-8 (char) or single byte (byte level) of id into out [4]; returns its length. */
int data_vocab_utf8(const Vocab *v, int id, char out[4]);
/* Serialised vocabulary: the tokens' bytes concatenated in id order (UTF-8 for char level).
 * *out is malloc'ed (caller frees). */
int data_vocab_bytes(const Vocab *v, uint8_t **out, size_t *len, Diag *d);
/* Rebuilds a vocabulary from data_vocab_bytes output (owned by v; data_vocab_free). */
int data_vocab_from_bytes(Vocab *v, DataLevel level, const uint8_t *bytes, size_t len, Diag *d);
void data_vocab_free(Vocab *v);

#endif
