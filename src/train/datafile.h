/* datafile: the record of a data file in a checkpoint (io/checkpoint.h CkptDataFile: the path
 * as given, the absolute path, the size and a CRC-32 of the bytes), made when a run opens its
 * data and used by `recur eval`, `recur train --resume` (and anything else given only a
 * checkpoint) to find the same file again. A file that moved, shrank or changed is a clear
 * error naming every path tried and the recorded size and CRC, never a silent evaluation on
 * other data.
 *
 * Ownership: the CkptDataFile strings are malloc'ed (ckpt_data_file_free); *found is a
 * malloc'ed path the caller frees. */
#ifndef RECUR_DATAFILE_H
#define RECUR_DATAFILE_H

#include "io/checkpoint.h"
#include "util/diag.h"

/* Fills f for the file opened at path, which the user named `given`: realpath, size and the
 * CRC-32 of its bytes (read in chunks, so a corpus is not held twice). */
int datafile_record(CkptDataFile *f, const char *given, const char *path, Diag *d);
/* Finds the file f records: the path as given (from the working directory) or else its
 * absolute path, whichever has the recorded size and CRC-32. *found is that path (malloc'ed).
 * -1 when neither exists or what exists changed (the error names the path tried and both
 * fingerprints); what names the checkpoint. */
int datafile_find(const CkptDataFile *f, const char *what, char **found, Diag *d);

#endif
