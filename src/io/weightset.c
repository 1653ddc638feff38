/* weightset: WeightSet helpers and the metadata encoding of a checkpoint (see weightset.h). */
#include "io/weightset.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wf_set_free(WeightSet *w)
{
    for (int i = 0; i < w->nhow; i++)
        free(w->how[i]);
    free(w->how);
    ckpt_tensors_free(&w->tensors);
    safetensors_meta_free(&w->meta);
    for (int i = 0; i < w->nnotes; i++)
        free(w->notes[i]);
    free(w->notes);
    memset(w, 0, sizeof *w);
}

int wf_set_note(WeightSet *w, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (int i = 0; i < w->nnotes; i++)
        if (strcmp(w->notes[i], buf) == 0)
            return 0;   /* one note per kind of conversion */
    char **n = realloc(w->notes, sizeof *n * (size_t)(w->nnotes + 1));
    if (!n)
        return -1;
    w->notes = n;
    if (!(n[w->nnotes] = strdup(buf)))
        return -1;
    w->nnotes++;
    return 0;
}

/* how[] grows with the tensor list (nhow entries, the new ones NULL). */
int wf_set_how(WeightSet *w, int i, const char *text)
{
    if (i < 0 || i >= w->tensors.n)
        return -1;
    if (w->nhow < w->tensors.n) {
        char **h = realloc(w->how, sizeof *h * (size_t)w->tensors.n);
        if (!h)
            return -1;
        memset(h + w->nhow, 0, sizeof *h * (size_t)(w->tensors.n - w->nhow));
        w->how = h;
        w->nhow = w->tensors.n;
    }
    char *old = w->how[i];
    size_t n = (old ? strlen(old) + 2 : 0) + strlen(text) + 1;
    char *s = malloc(n);
    if (!s)
        return -1;
    snprintf(s, n, "%s%s%s", old ? old : "", old ? "; " : "", text);
    free(old);
    w->how[i] = s;
    return 0;
}

int wf_set_meta(WeightSet *w, const char *key, const char *value)
{
    return safetensors_meta_set(&w->meta, key, value);
}

int wf_set_copy(const WeightSet *from, WeightSet *to)
{
    memset(to, 0, sizeof *to);
    for (int i = 0; i < from->tensors.n; i++) {
        const CkptTensor *t = &from->tensors.items[i];
        if (!ckpt_add_tensor(&to->tensors, t->name, t->ndim, t->shape, t->data))
            goto oom;
    }
    for (int i = 0; i < from->meta.n; i++)
        if (wf_set_meta(to, from->meta.keys[i], from->meta.values[i]))
            goto oom;
    return 0;
oom:
    wf_set_free(to);
    return -1;
}

/* Lower-case hex of n bytes; malloc'ed. */
static char *hex_of(const unsigned char *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; s && i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", b[i]);
    if (s)
        s[2 * n] = '\0';
    return s;
}

int wf_meta_from_checkpoint(const Checkpoint *c, WeightSet *w)
{
    if (!c->source_text)
        return 0;
    size_t n = 1;
    for (int i = 0; i < c->noverrides; i++)
        n += strlen(c->overrides[i]) + 1;
    char *sets = malloc(n), *vocab = c->vocab ? hex_of(c->vocab, c->vocab_len) : NULL;
    int rc = !sets || (c->vocab && !vocab);
    for (int i = 0, at = 0; sets && i < c->noverrides; i++)
        at += snprintf(sets + at, n - (size_t)at, "%s\n", c->overrides[i]);
    if (sets && !c->noverrides)
        sets[0] = '\0';
    double level = 0;
    ckpt_get_hyper(c, "vocab_level", &level);
    rc = rc || wf_set_meta(w, WF_META_SOURCE, c->source_text) ||
         wf_set_meta(w, WF_META_SOURCE_NAME, c->source_name ? c->source_name : "") ||
         wf_set_meta(w, WF_META_SETS, sets);
    if (!rc && vocab)
        rc = wf_set_meta(w, WF_META_VOCAB, vocab) ||
             wf_set_meta(w, WF_META_VOCAB_LEVEL, level == 1 ? "1" : "0");
    free(sets);
    free(vocab);
    return rc ? -1 : 0;
}

/* The bytes of a hex string (NULL when empty or malformed); malloc'ed. */
static unsigned char *bytes_of_hex(const char *hex, size_t *n)
{
    size_t len = hex ? strlen(hex) : 0;
    unsigned char *b = len && len % 2 == 0 ? malloc(len / 2) : NULL;
    for (size_t i = 0; b && i < len / 2; i++) {
        unsigned x = 0;
        if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &x) != 1) {
            free(b);
            return NULL;
        }
        b[i] = (unsigned char)x;
    }
    *n = b ? len / 2 : 0;
    return b;
}

int wf_meta_to_checkpoint(const SafetensorsMeta *m, const char *default_name, Checkpoint *c)
{
    const char *src = safetensors_meta_get(m, WF_META_SOURCE);
    const char *name = safetensors_meta_get(m, WF_META_SOURCE_NAME);
    const char *sets = safetensors_meta_get(m, WF_META_SETS);
    const char *level = safetensors_meta_get(m, WF_META_VOCAB_LEVEL);
    if (!src)
        return 1;
    int rc = ckpt_set_source(c, name && *name ? name : default_name, src, strlen(src));
    char *copy = sets ? strdup(sets) : NULL, *save = NULL;
    for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; !rc && line;
         line = strtok_r(NULL, "\n", &save))
        rc = ckpt_add_override(c, line);
    free(copy);
    size_t vn = 0;
    unsigned char *vb = bytes_of_hex(safetensors_meta_get(m, WF_META_VOCAB), &vn);
    if (!rc && vb)
        rc = ckpt_set_vocab(c, vb, vn) ||
             ckpt_set_hyper(c, "vocab_level", level && strcmp(level, "1") == 0);
    free(vb);
    return rc ? -1 : 0;
}
