/* onnx_in_cell: an ONNX LSTM/GRU/RNN node as recur text (see onnx_in_int.h). A node that a
 * built-in takes exactly (default activations, relu RNN, hard-sigmoid gates, either GRU reset
 * form, reverse, bidirectional) becomes that built-in; any other (peepholes, clip,
 * input_forget, other activations) becomes a cell written as ONNX's own equations, gates in
 * ONNX's order so that W, R, B and P are copied without permuting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/onnx_in_int.h"

const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

int64_t onnx_attr_int(const Onnx__NodeProto *n, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    return a && a->has_i ? a->i : def;
}

bool onnx_attr_str_is(const Onnx__NodeProto *n, const char *name, const char *want, bool def)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    if (!a || !a->has_s)
        return def;
    return a->s.len == strlen(want) && memcmp(a->s.data, want, a->s.len) == 0;
}

/* ONNX's RNN activations: the cell function, how many of alpha/beta it takes, and the
 * defaults ONNX and onnxruntime agree on (NAN-free: has_def false means none is agreed, so a
 * missing value is refused rather than guessed). */
static const struct Act {
    const char *onnx, *fn;
    int nargs;
    bool has_def;
    float def[2];
} acts[] = {
    {"Relu", "relu", 0, true, {0}}, {"Tanh", "tanh", 0, true, {0}},
    {"Sigmoid", "sigmoid", 0, true, {0}}, {"Softsign", "softsign", 0, true, {0}},
    {"Softplus", "softplus", 0, true, {0}}, {"LeakyRelu", "leakyrelu", 1, true, {0.01f}},
    {"Elu", "elu", 1, true, {1.0f}}, {"HardSigmoid", "hardsigmoid", 2, true, {0.2f, 0.5f}},
    {"ThresholdedRelu", "thresholdedrelu", 1, false, {0}},
    {"ScaledTanh", "scaledtanh", 2, false, {0}}, {"Affine", "affine", 2, false, {0}},
};

/* Formats activation a with its constants taken from alpha/beta (*ka, *kb: the next unused
 * values, advanced) into buf as "fn(%s, a, b)". 0, or -1 with the reason. */
static int act_format(const struct Act *a, const Onnx__AttributeProto *al,
                      const Onnx__AttributeProto *be, size_t *ka, size_t *kb, char *buf,
                      size_t n, char *why, size_t nwhy)
{
    float v[2];
    for (int k = 0; k < a->nargs; k++) {   /* alpha is the first constant, beta the second */
        const Onnx__AttributeProto *l = k ? be : al;
        size_t *at = k ? kb : ka;
        if (l && *at < l->n_floats)
            v[k] = l->floats[(*at)++];
        else if (a->has_def)
            v[k] = a->def[k];
        else
            return snprintf(why, nwhy, "activation %s needs its %s in activation_%s (ONNX "
                            "and onnxruntime do not agree on a default)", a->onnx,
                            k ? "beta" : "alpha", k ? "beta" : "alpha"), -1;
    }
    if (a->nargs == 0)
        snprintf(buf, n, "%s(%%s)", a->fn);
    else if (a->nargs == 1)
        snprintf(buf, n, "%s(%%s, %.9g)", a->fn, (double)v[0]);
    else
        snprintf(buf, n, "%s(%%s, %.9g, %.9g)", a->fn, (double)v[0], (double)v[1]);
    return 0;
}

/* The activations of n into r->act: ONNX's defaults, or the `activations` list (one per
 * function, or one per function and direction, which must then agree). */
static int read_acts(const Onnx__NodeProto *n, OnnxRec *r, char *why, size_t nwhy)
{
    static const char *const def[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh", "Tanh"},
                                          {"Sigmoid", "Tanh"}};
    int nact = r->op == ONNX_REC_LSTM ? 3 : r->op == ONNX_REC_GRU ? 2 : 1;
    const Onnx__AttributeProto *a = onnx_attr(n, "activations");
    const Onnx__AttributeProto *al = onnx_attr(n, "activation_alpha");
    const Onnx__AttributeProto *be = onnx_attr(n, "activation_beta");
    size_t given = a ? a->n_strings : 0, ka = 0, kb = 0;
    if (given && given != (size_t)nact && given != (size_t)(nact * r->dirs))
        return snprintf(why, nwhy, "%zu activations, expected %d (or %d per direction)", given,
                        nact * r->dirs, nact), -1;
    for (int k = 0; k < nact * r->dirs; k++) {
        char name[32], buf[64];
        size_t at = given == (size_t)nact ? (size_t)(k % nact) : (size_t)k;
        if (given)
            snprintf(name, sizeof name, "%.*s", (int)a->strings[at].len,
                     (const char *)a->strings[at].data);
        else
            snprintf(name, sizeof name, "%s", def[r->op][k % nact]);
        const struct Act *f = NULL;
        for (size_t j = 0; j < sizeof acts / sizeof *acts && !f; j++)
            f = strcasecmp(acts[j].onnx, name) == 0 ? &acts[j] : NULL;
        if (!f)
            return snprintf(why, nwhy, "activation '%s' is not one of ONNX's", name), -1;
        if (act_format(f, al, be, &ka, &kb, buf, sizeof buf, why, nwhy))
            return -1;
        if (k >= nact && strcmp(buf, r->act[k % nact]) != 0)
            return snprintf(why, nwhy, "the directions have different activations: a "
                            "bidirectional recur layer runs one cell both ways"), -1;
        snprintf(r->act[k % nact], sizeof r->act[0], "%s", buf);
    }
    if ((al && ka < al->n_floats) || (be && kb < be->n_floats))
        return snprintf(why, nwhy, "activation_alpha/beta have more values than the "
                        "activations use"), -1;
    return 0;
}

int onnx_rec_read(const Onnx__NodeProto *n, bool peepholes, OnnxRec *r, char *why, size_t nwhy)
{
    memset(r, 0, sizeof *r);
    r->op = strcmp(n->op_type, "LSTM") == 0 ? ONNX_REC_LSTM
          : strcmp(n->op_type, "GRU") == 0 ? ONNX_REC_GRU : ONNX_REC_RNN;
    r->gates = r->op == ONNX_REC_LSTM ? 4 : r->op == ONNX_REC_GRU ? 3 : 1;
    r->hidden = (int)onnx_attr_int(n, "hidden_size", 0);
    r->dirs = onnx_attr_str_is(n, "direction", "bidirectional", false) ? 2 : 1;
    r->reverse = onnx_attr_str_is(n, "direction", "reverse", false);
    if (!onnx_attr_str_is(n, "direction", "forward", true) && r->dirs == 1 && !r->reverse)
        return snprintf(why, nwhy, "direction is not forward, reverse or bidirectional"), -1;
    if (r->hidden <= 0 || r->hidden > 1 << 20)
        return snprintf(why, nwhy, "no valid hidden_size"), -1;
    const Onnx__AttributeProto *c = onnx_attr(n, "clip");
    r->has_clip = c != NULL;
    r->clip = c && c->has_f ? c->f : 0;
    if (c && !(r->clip > 0))
        return snprintf(why, nwhy, "clip must be a positive float"), -1;
    r->input_forget = r->op == ONNX_REC_LSTM && onnx_attr_int(n, "input_forget", 0);
    r->peepholes = peepholes;
    r->lbr = r->op == ONNX_REC_GRU ? (int)onnx_attr_int(n, "linear_before_reset", 0) : 1;
    return read_acts(n, r, why, nwhy);
}

bool onnx_rec_builtin(const OnnxRec *r, char *buf, size_t n)
{
    static const char *const kind[3] = {"rnn", "lstm", "gru"};
    const char *f = r->act[0], *hs = "hardsigmoid(%s, 0.200000003, 0.5)";
    bool gated = r->op != ONNX_REC_RNN, relu = strcmp(f, "relu(%s)") == 0;
    bool hard = gated && strcmp(f, hs) == 0;
    if (r->has_clip || r->input_forget || r->peepholes)
        return false;
    if (!gated && !relu && strcmp(f, "tanh(%s)") != 0)
        return false;
    if (gated && !hard && strcmp(f, "sigmoid(%s)") != 0)
        return false;
    for (int k = 1; gated && k < (r->op == ONNX_REC_LSTM ? 3 : 2); k++)
        if (strcmp(r->act[k], "tanh(%s)") != 0)
            return false;
    snprintf(buf, n, "%s(%d%s%s%s%s%s)", kind[r->op], r->hidden,
             r->dirs == 2 ? ", bidirectional=true" : "", r->reverse ? ", reverse=true" : "",
             relu ? ", activation=relu" : "", hard ? ", recurrent_activation=hard_sigmoid" : "",
             r->op == ONNX_REC_GRU && !r->lbr ? ", reset_after=false" : "");
    return true;
}

/* Activation k of r applied to the expression x, with the clip of the pre-activation. */
static const char *act(const OnnxRec *r, int k, const char *x, bool clip, char *buf, size_t n)
{
    char in[160];
    if (clip && r->has_clip)
        snprintf(in, sizeof in, "clip(%s, %.9g, %.9g)", x, -(double)r->clip, (double)r->clip);
    else
        snprintf(in, sizeof in, "%s", x);
    snprintf(buf, n, r->act[k], in);
    return buf;
}

/* The equations of an ONNX LSTM (gates i, o, f, c; f = 1 - i with input_forget, whose W, R
 * and B then carry only i, o, c):
 *   i = f(clip(W_i x + Wb_i + R_i h[t-1] + Rb_i + P_i * c[t-1]))   (o, f alike; o sees c)
 *   c = f * c[t-1] + i * g(clip(W_c x + Wb_c + R_c h[t-1] + Rb_c)),  h = o * h(c) */
static int lstm_text(const OnnxRec *r, char *buf, size_t n)
{
    char a[5][200];
    bool p = r->peepholes, fo = r->input_forget;
    return snprintf(buf, n,
        "  state h : [H], c : [H]\n"
        "  param W : [%d*H, I], R : [%d*H, H], Wb : [%d*H], Rb : [%d*H]\n%s"
        "  zi, zo,%s zc = chunk(W @ x + Wb + R @ h[t-1] + Rb, %d)\n"
        "  i = %s\n  f = %s\n  c = f * c[t-1] + i * %s\n  o = %s\n  h = o * %s\n",
        fo ? 3 : 4, fo ? 3 : 4, fo ? 3 : 4, fo ? 3 : 4,
        !p ? "" : fo ? "  param Pi : [H], Po : [H]\n" : "  param Pi : [H], Po : [H], Pf : [H]\n",
        fo ? "" : " zf,", fo ? 3 : 4, act(r, 0, p ? "zi + Pi * c[t-1]" : "zi", true, a[0], 200),
        fo ? "1 - i" : act(r, 0, p ? "zf + Pf * c[t-1]" : "zf", true, a[1], 200),
        act(r, 1, "zc", true, a[2], 200), act(r, 0, p ? "zo + Po * c" : "zo", true, a[3], 200),
        act(r, 2, "c", false, a[4], 200));
}

/* The equations of an ONNX GRU (gates z, r, h; R split into the z, r rows and the h rows):
 *   z = f(clip(W_z x + Wb_z + R_z h[t-1] + Rb_z)),  r alike,
 *   n = g(clip(W_h x + Wb_h + R_h (r * h[t-1]) + Rb_h))     (linear_before_reset=0)
 *   n = g(clip(W_h x + Wb_h + r * (R_h h[t-1] + Rb_h)))     (linear_before_reset=1)
 *   h = (1 - z) * n + z * h[t-1] */
static int gru_text(const OnnxRec *r, char *buf, size_t n)
{
    char a[3][200];
    return snprintf(buf, n,
        "  state h : [H]\n"
        "  param W : [3*H, I], Rzr : [2*H, H], Rh : [H, H], Wb : [3*H], Rbzr : [2*H], Rbh : [H]\n"
        "  xz, xr, xh = chunk(W @ x + Wb, 3)\n"
        "  hz, hr = chunk(Rzr @ h[t-1] + Rbzr, 2)\n"
        "  z = %s\n  r = %s\n  n = %s\n  h = (1 - z) * n + z * h[t-1]\n",
        act(r, 0, "xz + hz", true, a[0], 200), act(r, 0, "xr + hr", true, a[1], 200),
        act(r, 1, r->lbr ? "xh + r * (Rh @ h[t-1] + Rbh)" : "xh + Rh @ (r * h[t-1]) + Rbh",
            true, a[2], 200));
}

int onnx_rec_cell_text(const OnnxRec *r, const char *name, char *buf, size_t n)
{
    static const char *const what[3] = {"RNN", "LSTM", "GRU"};
    char body[1400], a[200];
    int len = r->op == ONNX_REC_LSTM ? lstm_text(r, body, sizeof body)
            : r->op == ONNX_REC_GRU ? gru_text(r, body, sizeof body)
            : snprintf(body, sizeof body, "  state h : [H]\n"
                       "  param W : [H, I], R : [H, H], Wb : [H], Rb : [H]\n  h = %s\n",
                       act(r, 0, "W @ x + Wb + R @ h[t-1] + Rb", true, a, sizeof a));
    if (len < 0 || (size_t)len >= sizeof body)
        return -1;
    len = snprintf(buf, n, "# the ONNX %s node written as ONNX's equations\n"
                   "cell %s(H) {\n  input x : [I]\n%s  output h\n}\n", what[r->op], name, body);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

void onnx_rec_cell_use(const OnnxRec *r, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s(%d%s%s)", name, r->hidden, r->dirs == 2 ? ", bidirectional=true" : "",
             r->reverse ? ", reverse=true" : "");
}

/* Adds label.name[sfx] of shape [d0] or [d0, d1] from src. */
static int add(CkptTensorList *out, const char *label, const char *name, const char *sfx,
               int64_t d0, int64_t d1, const float *src)
{
    char full[160];
    int64_t shape[2] = {d0, d1};
    snprintf(full, sizeof full, "%s.%s%s", label, name, sfx);
    return ckpt_add_tensor(out, full, d1 ? 2 : 1, shape, src) ? 0 : -1;
}

/* The gate blocks keep[0..nkeep) (each h rows) of an ONNX [G*H, cols] matrix,
 * gathered into dst (input_forget drops the f rows). */
static void gather(const float *src, int h, int cols, const int *keep, int nkeep, float *dst)
{
    for (int k = 0; k < nkeep; k++)
        memcpy(dst + (size_t)k * h * cols, src + (size_t)keep[k] * h * cols,
               sizeof *dst * (size_t)h * cols);
}

int onnx_rec_cell_tensors(const OnnxRec *r, const char *label, int in_w, const float *w,
                          const float *rr, const float *b, const float *p, CkptTensorList *out)
{
    static const int iof_c[3] = {0, 1, 3};   /* input_forget: i, o, c of i, o, f, c */
    int h = r->hidden, gh = r->gates * h, rc = 0;
    int g = r->input_forget ? 3 : r->gates, cols = in_w > h ? in_w : h;
    float *tmp = r->input_forget ? malloc(sizeof *tmp * (size_t)g * h * cols) : NULL;
    if (r->input_forget && !tmp)
        return -1;
    for (int d = 0; !rc && d < r->dirs; d++) {
        const char *sfx = d ? "_reverse" : "";
        const float *wd = w + (size_t)d * gh * in_w, *rd = rr + (size_t)d * gh * h;
        const float *bd = b ? b + (size_t)d * 2 * gh : NULL, *pd = p ? p + (size_t)d * 3 * h : NULL;
        if (r->op == ONNX_REC_GRU) {
            rc = add(out, label, "W", sfx, gh, in_w, wd) || add(out, label, "Rzr", sfx, 2 * h, h, rd)
              || add(out, label, "Rh", sfx, h, h, rd + (size_t)2 * h * h)
              || add(out, label, "Wb", sfx, gh, 0, bd) || add(out, label, "Rbzr", sfx, 2 * h, 0,
                                                               bd ? bd + gh : NULL)
              || add(out, label, "Rbh", sfx, h, 0, bd ? bd + gh + 2 * h : NULL);
            continue;
        }
        const float *parts[4] = {wd, rd, bd, bd ? bd + gh : NULL};
        static const char *const names[4] = {"W", "R", "Wb", "Rb"};
        for (int k = 0; !rc && k < 4; k++) {
            int c = k == 0 ? in_w : k == 1 ? h : 1;
            if (r->input_forget && parts[k])
                gather(parts[k], h, c, iof_c, 3, tmp);
            rc = add(out, label, names[k], sfx, (int64_t)g * h, k < 2 ? c : 0,
                     r->input_forget && parts[k] ? tmp : parts[k]);
        }
        static const char *const pn[3] = {"Pi", "Po", "Pf"};
        for (int k = 0; !rc && pd && k < (r->input_forget ? 2 : 3); k++)
            rc = add(out, label, pn[k], sfx, h, 0, pd + (size_t)k * h);
    }
    free(tmp);
    return rc ? -1 : 0;
}
