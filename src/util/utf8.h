/* utf8: the one UTF-8 decoder and encoder, strict as RFC 3629 asks (no overlong forms, no
 * surrogates, nothing above U+10FFFF). The lexer, diagnostics (columns count characters) and the
 * text data sources (char-level vocabularies) all use it.
 *
 * Ownership: pure functions over caller buffers. */
#ifndef RECUR_UTF8_H
#define RECUR_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the character at s (n bytes available): its byte length 1-4 and *cp, or 0 when the
 * bytes at s are not a complete valid sequence (then *cp is untouched). */
int utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* Byte length of the valid character at s, or 0 when there is none (utf8_decode without *cp). */
int utf8_length(const uint8_t *s, size_t n);
/* Writes code point cp (at most U+10FFFF, not a surrogate) as UTF-8; returns its length 1-4. */
int utf8_encode(uint32_t cp, char out[4]);

#endif
