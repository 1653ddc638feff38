/* prelude: the text of src/ir/prelude.rnn, compiled into the program by a build rule that turns
 * the file into src/ir/prelude_text.c (see src/ir/Makemodule.am). sema parses it as the source
 * "<prelude>" before every user file: the built-in rnn, lstm and gru layers are its cells.
 *
 * Ownership: static data, never freed. */
#ifndef RECUR_PRELUDE_H
#define RECUR_PRELUDE_H

extern const char ir_prelude_text[];   /* NUL-terminated */
extern const unsigned ir_prelude_len;  /* bytes, excluding the terminator */

#endif
