/* prelude: the text of src/lang/prelude.rnn, compiled into the program by a build rule (see
 * src/lang/Makemodule.am) that turns it into src/lang/prelude_text.c in the build tree. sema parses
 * it (lang_prelude_source, "<prelude>") before every user file: the built-in rnn, lstm and gru are its cells.
 *
 * Ownership: static data, never freed. */
#ifndef RECUR_PRELUDE_H
#define RECUR_PRELUDE_H

#include "util/diag.h"

extern const char lang_prelude_text[];   /* NUL-terminated */
extern const unsigned lang_prelude_len;  /* bytes, excluding the terminator */
/* The prelude as a static Source named "<prelude>": SrcRanges into it (in ASTs, IRs and
 * diagnostics) stay valid for the whole run, whatever Diag reported them. Never modified. */
extern const Source lang_prelude_source;

#endif
