/* trace_html: the page of recur trace -- one self-contained HTML file (inline CSS, JS and SVG
 * built by the script; no network reference), its data in a JSON block
 * <script type="application/json" id="trace-data"> that the page's script reads and tests
 * parse: {"T", "text" (per step the token's text, or null for vectors), "names", "values"
 * (per array [T][W] of batch column 0), "top5" (per step [[token, p] x 5])}. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "train/trace.h"

/* A JSON string with <, >, & and control characters escaped (safe inside <script>). */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&') fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* Per step the five most likely next tokens of batch column 0: [[token, p], ...]. */
static void json_top5(FILE *f, const Trace *t, const TraceArray *p)
{
    fputs("[", f);
    for (int s = 0; p && s < p->T; s++) {
        const float *q = p->v + (size_t)s * p->B * p->W;
        int best[5], nb = 0;
        for (int j = 0; j < p->W; j++) {
            int k = nb < 5 ? nb++ : 5;
            if (k == 5 && q[j] <= q[best[4]]) continue;
            if (k == 5) k = 4;
            for (; k > 0 && q[best[k - 1]] < q[j]; k--) best[k] = best[k - 1];
            best[k] = j;
        }
        fputs(s ? ",[" : "[", f);
        for (int k = 0; k < nb; k++) {
            fputs(k ? ",[" : "[", f);
            if (t->tokens && best[k] < t->ntokens) json_string(f, t->tokens[best[k]]);
            else fprintf(f, "\"%d\"", best[k]);
            if (isfinite(q[best[k]])) fprintf(f, ",%.6g]", q[best[k]]);
            else fputs(",null]", f);
        }
        fputs("]", f);
    }
    fputs("]", f);
}

/* The data block: text, names, values of batch column 0, top-5 predictions. */
static void json_data(FILE *f, const Trace *t)
{
    fprintf(f, "{\"T\":%d,\"text\":", t->T);
    if (t->ids && t->tokens) {
        fputs("[", f);
        for (int s = 0; s < t->T; s++) {
            int id = t->ids[(size_t)s * t->B];
            fputs(s ? "," : "", f);
            json_string(f, id >= 0 && id < t->ntokens ? t->tokens[id] : "?");
        }
        fputs("]", f);
    } else {
        fputs("null", f);
    }
    fputs(",\"names\":[", f);
    for (int i = 0; i < t->n; i++) {
        fputs(i ? "," : "", f);
        json_string(f, t->a[i].name);
    }
    fputs("],\"values\":{", f);
    for (int i = 0; i < t->n; i++) {
        const TraceArray *a = &t->a[i];
        fputs(i ? "," : "", f);
        json_string(f, a->name);
        fputs(":[", f);
        for (int s = 0; s < a->T; s++) {
            fputs(s ? ",[" : "[", f);
            for (int j = 0; j < a->W; j++) { /* JSON has no NaN or infinity: null */
                float x = a->v[((size_t)s * a->B) * a->W + j];
                fputs(j ? "," : "", f);
                if (isfinite(x)) fprintf(f, "%.9g", x);
                else fputs("null", f);
            }
            fputs("]", f);
        }
        fputs("]", f);
    }
    fputs("},\"top5\":", f);
    json_top5(f, t, trace_find(t, "output.probs"));
    fputs("}", f);
}

static const char page_head[] =
#include "train/trace_page_head.inc"
    ;
static const char page_tail[] =
#include "train/trace_page_tail.inc"
    ;

/* Writes the page to path.tmp, then renames it over path (nothing half-written). */
int trace_write_html(const Trace *t, const char *path, Diag *d)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        diag_error_in(d, path, "path too long");
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        diag_error_in(d, path, "cannot write: %s", strerror(errno));
        return -1;
    }
    fputs(page_head, f);
    json_data(f, t);
    fputs(page_tail, f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        diag_error_in(d, path, "cannot write: %s", strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
