/* data_csv: the csv(...) source of data.h (layout documented there). Internal to src/train:
 * data.c calls these; everything they allocate hangs off the DataSet and is released by
 * data_csv_free. */
#ifndef RECUR_DATA_CSV_H
#define RECUR_DATA_CSV_H

#include <stdbool.h>

#include "train/data.h"

/* Parses ds->cfg.path into rows, labels/targets and shapes; reports bad rows as PATH:LINE. */
int data_csv_open(DataSet *ds, Diag *d);
void data_csv_free(DataSet *ds);
/* This epoch's row order, recomputed from ds->pos.rng (the Rng at the start of the epoch). */
void data_csv_shuffle(DataSet *ds);
/* Moves ds->pos.rng past this epoch's shuffle and makes the next epoch's order. */
void data_csv_next_epoch(DataSet *ds);
/* Batch i of the training order (valid false) or of the validation rows (valid true). */
void data_csv_fill(DataSet *ds, DataBatch *b, bool valid, int64_t i);

#endif
