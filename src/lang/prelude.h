/* prelude: the text of src/lang/prelude.rnn, compiled into the program by a build rule (see
 * src/lang/Makemodule.am) that turns it into src/lang/prelude_text.c in the build tree. sema parses
 * it as the source "<prelude>" before every user file: the built-in rnn, lstm and gru are its cells.
 *
 * Ownership: static data, never freed. */
#ifndef RECUR_PRELUDE_H
#define RECUR_PRELUDE_H

extern const char lang_prelude_text[];   /* NUL-terminated */
extern const unsigned lang_prelude_len;  /* bytes, excluding the terminator */

#endif
