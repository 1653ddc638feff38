/* data_int: what data.c shares with its sources (data_vocab.c: UTF-8 and vocabularies;
 * data_text.c: text corpora; data_gen.c: generated tasks). Internal to src/train/data*.c; the
 * csv source has its own data_csv.h. Everything these functions allocate hangs off the DataSet
 * (or the Vocab) and is released by data_free (data_vocab_free). */
#ifndef RECUR_DATA_INT_H
#define RECUR_DATA_INT_H

#include <stdint.h>

#include "train/data.h"

/* --- data_vocab.c --- */
/* A fixed vocabulary from a string of strictly increasing ASCII characters. */
int data_vocab_fixed(Vocab *v, const char *chars, Diag *d);

/* --- data_text.c --- */
/* Per-stream length of the validation split (tokens). */
int64_t data_text_valid_stream_len(const DataSet *ds);
/* Loads a corpus (and a separate validation text) and checks that it fills B streams of at
 * least one window each. */
int data_text_open(DataSet *ds, Diag *d);
/* Training window ds->pos.index: stream b reads tokens b*L + o + t (input) and +1 (target). */
void data_text_fill(DataSet *ds, DataBatch *b);
/* Validation window i of the text: stream s covers tokens ntrain + s*Lv .. +Lv; the window
 * starts at i*T and the steps past the stream's end are masked. */
void data_text_valid_fill(DataSet *ds, DataBatch *b, int64_t i);

/* --- data_gen.c --- */
/* Sets up a generated task's shapes and vocabulary; checks the sizes. */
int data_gen_open(DataSet *ds, Diag *d);
/* One batch of a generated task from rng; rows s >= nreal are padding (row_mask 0). */
void data_gen_fill(DataSet *ds, Rng *r, DataBatch *b, int nreal);

#endif
