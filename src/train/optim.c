/* optim: PyTorch's SGD, Adam, AdamW and RMSprop over one flat buffer; clipping; schedules. */
#include "train/optim.h"
#include "train/optim_update.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The optimizer's name in the settings schema (ir/schema.c), which checkpoints also record. */
const char *optim_kind_name(OptimKind k)
{
    const CfgFamily *optims = cfg_settings[CFG_SET_OPTIMIZER].arg.family;
    for (int i = 0; i < optims->nfns; i++)
        if (optims->fns[i].kind == (int)k) return optims->fns[i].name;
    return "?";
}

/* The names torch.optim's state_dict gives the state buffers, so checkpoints read alike. */
void optim_state_names(OptimKind k, const char **m, const char **v)
{
    *m = k == OPTIM_ADAM || k == OPTIM_ADAMW ? "exp_avg" : "momentum_buffer";
    *v = k == OPTIM_RMSPROP ? "square_avg" : "exp_avg_sq";
}

/* Which state buffers a configuration needs: m (momentum / first moment), v (second moment). */
static void state_needs(const OptimConfig *c, bool *need_m, bool *need_v)
{
    *need_m = *need_v = false;
    switch (c->kind) {
    case OPTIM_SGD: *need_m = c->momentum != 0; break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW: *need_m = *need_v = true; break;
    case OPTIM_RMSPROP: *need_v = true; *need_m = c->momentum != 0; break;
    }
}

/* Checks the hyper-parameters the way torch.optim's constructors do, then allocates state. */
int optim_init(Optim *o, const OptimConfig *cfg, int64_t n, Diag *d)
{
    memset(o, 0, sizeof *o);
    const char *name = optim_kind_name(cfg->kind);
    if (!(cfg->lr >= 0) || !isfinite(cfg->lr)) {
        diag_error_in(d, name, "learning rate must be a finite number >= 0, got %g", cfg->lr);
        return -1;
    }
    if (!(cfg->momentum >= 0) || !(cfg->weight_decay >= 0) || !(cfg->eps >= 0)) {
        diag_error_in(d, name, "momentum, weight_decay and eps must be >= 0");
        return -1;
    }
    if (cfg->kind == OPTIM_SGD && cfg->nesterov && cfg->momentum <= 0) {
        diag_error_in(d, name, "nesterov momentum needs momentum > 0");
        return -1;
    }
    if ((cfg->kind == OPTIM_ADAM || cfg->kind == OPTIM_ADAMW) &&
        !(cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 && cfg->beta2 < 1)) {
        diag_error_in(d, name, "beta1 and beta2 must be in [0, 1), got %g and %g", cfg->beta1,
                      cfg->beta2);
        return -1;
    }
    if (cfg->kind == OPTIM_RMSPROP && !(cfg->alpha >= 0 && cfg->alpha <= 1)) {
        diag_error_in(d, name, "alpha must be in [0, 1], got %g", cfg->alpha);
        return -1;
    }
    if (n < 0) {
        diag_error_in(d, name, "negative parameter count");
        return -1;
    }
    o->cfg = *cfg;
    o->n = n;
    bool need_m, need_v;
    state_needs(cfg, &need_m, &need_v);
    size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
    if (need_m && !(o->m = calloc(1, bytes))) goto oom;
    if (need_v && !(o->v = calloc(1, bytes))) goto oom;
    return 0;
oom:
    diag_error_in(d, name, "out of memory for optimiser state (%lld parameters)", (long long)n);
    optim_free(o);
    return -1;
}

void optim_free(Optim *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

/* SGD (torch.optim.SGD, dampening 0):
 *   g = g + wd*p;  b = mu*b + g;  g = nesterov ? g + mu*b : b;  p = p - lr*g
 * The first buffer is a copy of g, which equals mu*0 + g. */
static void sgd_step(Optim *o, float *p, float *g, float lr)
{
    const float wd = (float)o->cfg.weight_decay, mu = (float)o->cfg.momentum;
    for (int64_t i = 0; i < o->n; i++) {
        float gi = g[i];
        if (wd != 0) gi = gi + wd * p[i];
        if (o->m) {
            float b = o->t == 0 ? gi : mu * o->m[i] + gi;
            o->m[i] = b;
            gi = o->cfg.nesterov ? gi + mu * b : b;
        }
        p[i] = p[i] - lr * gi;
    }
}

/* Adam / AdamW (torch.optim.Adam, AdamW; amsgrad off):
 *   AdamW: p = p * (1 - lr*wd);  Adam: g = g + wd*p
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
 *   p = p - (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps) */
static void adam_step(Optim *o, float *p, float *g, float lr)
{
    const OptimConfig *c = &o->cfg;
    double t = (double)o->t + 1;
    /* 1 - beta is formed in double, as PyTorch does in Python: (1 - 0.999f) in float would be
     * off by 1e-5 relative. The loop itself is optim_update.c's (vectorised). */
    AdamConsts k = {
        .b1 = (float)c->beta1, .b2 = (float)c->beta2,
        .omb1 = (float)(1.0 - c->beta1), .omb2 = (float)(1.0 - c->beta2),
        .wd = (float)c->weight_decay, .decay = (float)(1.0 - (double)lr * c->weight_decay),
        .step_size = (float)(lr / (1.0 - pow(c->beta1, t))),
        .bc2_sqrt = (float)sqrt(1.0 - pow(c->beta2, t)),
        .decoupled = c->kind == OPTIM_ADAMW,
    };
    optim_adam_update(&k, (float)c->eps, o->n, p, g, o->m, o->v);
}

/* RMSprop (torch.optim.RMSprop, not centred):
 *   g = g + wd*p;  s = alpha*s + (1-alpha)*g*g;  a = sqrt(s) + eps
 *   momentum: b = mu*b + g/a, p = p - lr*b;  otherwise p = p - lr*g/a */
static void rmsprop_step(Optim *o, float *p, float *g, float lr)
{
    const OptimConfig *c = &o->cfg;
    const float alpha = (float)c->alpha, eps = (float)c->eps, wd = (float)c->weight_decay;
    const float oma = (float)(1.0 - c->alpha);
    const float mu = (float)c->momentum;
    for (int64_t i = 0; i < o->n; i++) {
        float gi = g[i];
        if (wd != 0) gi = gi + wd * p[i];
        float s = o->v[i] = alpha * o->v[i] + oma * (gi * gi);
        float a = sqrtf(s) + eps;
        if (o->m) {
            float b = o->m[i] = mu * o->m[i] + gi / a;
            p[i] = p[i] - lr * b;
        } else {
            p[i] = p[i] - lr * (gi / a);
        }
    }
}

/* Dispatches one update; the kernels above never touch grads beyond reading them. */
void optim_step(Optim *o, float *params, float *grads, double lr)
{
    switch (o->cfg.kind) {
    case OPTIM_SGD: sgd_step(o, params, grads, (float)lr); break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW: adam_step(o, params, grads, (float)lr); break;
    case OPTIM_RMSPROP: rmsprop_step(o, params, grads, (float)lr); break;
    }
    o->t++;
}

/* m (if any) then v (if any), each n floats, with the names a checkpoint stores them under. */
int optim_state_buffers(const Optim *o, OptimStateBuffer out[OPTIM_MAX_STATE])
{
    const char *mname, *vname;
    optim_state_names(o->cfg.kind, &mname, &vname);
    int k = 0;
    if (o->m) out[k++] = (OptimStateBuffer){mname, o->m, o->n};
    if (o->v) out[k++] = (OptimStateBuffer){vname, o->v, o->n};
    return k;
}

int64_t optim_state_floats(const Optim *o)
{
    OptimStateBuffer b[OPTIM_MAX_STATE];
    int64_t total = 0;
    for (int i = 0, n = optim_state_buffers(o, b); i < n; i++)
        total += b[i].n;
    return total;
}

/* The buffers of optim_state_buffers, one after the other. */
void optim_state_get(const Optim *o, float *out)
{
    OptimStateBuffer b[OPTIM_MAX_STATE];
    for (int i = 0, n = optim_state_buffers(o, b); i < n; i++) {
        memcpy(out, b[i].data, (size_t)b[i].n * sizeof(float));
        out += b[i].n;
    }
}

void optim_state_set(Optim *o, const float *in)
{
    OptimStateBuffer b[OPTIM_MAX_STATE];
    for (int i = 0, n = optim_state_buffers(o, b); i < n; i++) {
        memcpy(b[i].data, in, (size_t)b[i].n * sizeof(float));
        in += b[i].n;
    }
}

/* clip_grad_norm_(max_norm, norm_type=2): norm = sqrt(sum g^2); if norm > max_norm,
 * g *= max_norm / (norm + 1e-6). The sum is in double so the result does not depend on n. */
double optim_clip_grad_norm(float *grads, int64_t n, double max_norm)
{
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)grads[i] * grads[i];
    double norm = sqrt(ss);
    if (!isfinite(norm) || !(max_norm > 0) || norm <= max_norm) return norm;
    float scale = (float)(max_norm / (norm + 1e-6));
    for (int64_t i = 0; i < n; i++)
        grads[i] *= scale;
    return norm;
}

/* See optim.h for the three formulas. */
double optim_schedule_lr(const ScheduleConfig *s, double base, int64_t step)
{
    switch (s->kind) {
    case SCHED_CONSTANT:
        return base;
    case SCHED_STEP: {
        int64_t every = s->every > 0 ? s->every : 1;
        return base * pow(s->factor, (double)(step / every));
    }
    case SCHED_COSINE: {
        if (step < s->warmup) return base * (double)(step + 1) / (double)s->warmup;
        double span = (double)(s->total - s->warmup);
        if (span < 1) span = 1;
        double p = (double)(step - s->warmup) / span;
        if (p > 1) p = 1;
        if (p < 0) p = 0;
        const double pi = 3.14159265358979323846;
        return base * (s->min_factor + (1 - s->min_factor) * 0.5 * (1 + cos(pi * p)));
    }
    }
    return base;
}
