/* bench_rnn_bare.h: part of bench_rnn.c -- the configuration's recurrent layers as bare oneDNN
 * primitives, called directly: per layer one primitive (input width I for the first, H above),
 * weights kept in PyTorch's ldgoi layout and reordered into the primitives' layouts every step,
 * training = forward training + backward + the weight gradients reordered back to ldgoi.
 * Inputs are random; every buffer is allocated by oneDNN in the layout it asks for. */
#ifdef HAVE_DNNL

/* Aborts on a failed oneDNN call (benchmark only). */
#define BARE(call)                                                                              \
    do {                                                                                        \
        if ((call) != dnnl_success) {                                                           \
            fprintf(stderr, "bench_rnn: %s failed\n", #call);                                   \
            exit(1);                                                                            \
        }                                                                                       \
    } while (0)

typedef struct BareLayer {
    dnnl_primitive_t p[3];       /* forward inference, forward training, backward */
    dnnl_exec_arg_t args[3][24];
    int nargs[3];
    dnnl_primitive_t ro[4][2];   /* weights user -> p[k]'s layout; [3]: diff weights -> user */
    dnnl_memory_t ro_from[4][2], ro_to[4][2];
} BareLayer;

typedef struct Bare {
    dnnl_engine_t eng;
    dnnl_stream_t s;
    BareLayer layer[16];
    int L;
} Bare;

/* A memory of md, allocated by oneDNN and filled with small values. */
static dnnl_memory_t bare_mem(Bare *b, const dnnl_memory_desc_t *md)
{
    dnnl_memory_t m;
    void *p;
    BARE(dnnl_memory_create(&m, md, b->eng, DNNL_MEMORY_ALLOCATE));
    BARE(dnnl_memory_get_data_handle(m, &p));
    size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
    for (size_t i = 0; i < n; i++)
        ((float *)p)[i] = (float)((i * 2654435761u) % 1000) * 2e-4f - 0.1f;
    return m;
}

/* A reorder between two memories. */
static dnnl_primitive_t bare_reorder(Bare *b, dnnl_memory_t from, dnnl_memory_t to)
{
    const dnnl_memory_desc_t *fm, *tm;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    BARE(dnnl_memory_get_memory_desc(from, &fm));
    BARE(dnnl_memory_get_memory_desc(to, &tm));
    BARE(dnnl_reorder_primitive_desc_create(&pd, fm, b->eng, tm, b->eng, NULL));
    BARE(dnnl_primitive_create(&p, pd));
    dnnl_primitive_desc_destroy(pd);
    return p;
}

/* The rnn descriptor of cell for mode k (0 infer, 1 train, 2 backward) over md[]: src, iter,
 * wl, wi, bias, dst (diff descriptors equal). */
static void bare_desc(const char *cell, int k, const dnnl_memory_desc_t *md, dnnl_rnn_desc_t *rd)
{
    dnnl_prop_kind_t prop = k == 0 ? dnnl_forward_inference : dnnl_forward_training;
    dnnl_rnn_direction_t dir = dnnl_unidirectional_left2right;
    const dnnl_memory_desc_t *s = &md[0], *i = &md[1], *wl = &md[2], *wi = &md[3], *bi = &md[4],
                             *y = &md[5];
    if (!strcmp(cell, "lstm"))
        BARE(k < 2 ? dnnl_lstm_forward_desc_init(rd, prop, dir, s, i, i, wl, wi, bi, y, i, i, 0)
                   : dnnl_lstm_backward_desc_init(rd, dnnl_backward, dir, s, i, i, wl, wi, bi, y,
                                                  i, i, s, i, i, wl, wi, bi, y, i, i, 0));
    else if (!strcmp(cell, "gru"))
        BARE(k < 2 ? dnnl_lbr_gru_forward_desc_init(rd, prop, dir, s, i, wl, wi, bi, y, i, 0)
                   : dnnl_lbr_gru_backward_desc_init(rd, dnnl_backward, dir, s, i, wl, wi, bi, y,
                                                     i, s, i, wl, wi, bi, y, i, 0));
    else
        BARE(k < 2 ? dnnl_vanilla_rnn_forward_desc_init(rd, prop, dnnl_eltwise_tanh, dir, s, i,
                                                        wl, wi, bi, y, i, 0, 0.0f, 0.0f)
                   : dnnl_vanilla_rnn_backward_desc_init(rd, dnnl_backward, dnnl_eltwise_tanh,
                                                         dir, s, i, wl, wi, bi, y, i, s, i, wl,
                                                         wi, bi, y, i, 0, 0.0f, 0.0f));
}

/* Every execution argument of p (all its memories, made in the layouts it queries). */
static int bare_args(Bare *b, const_dnnl_primitive_desc_t pd, dnnl_exec_arg_t *args,
                     dnnl_memory_t *shared, int nshared, const int *shared_arg)
{
    int n = 0;
    static const int all[] = { DNNL_ARG_SRC_LAYER, DNNL_ARG_SRC_ITER, DNNL_ARG_SRC_ITER_C,
                               DNNL_ARG_WEIGHTS_LAYER, DNNL_ARG_WEIGHTS_ITER, DNNL_ARG_BIAS,
                               DNNL_ARG_DST_LAYER, DNNL_ARG_DST_ITER, DNNL_ARG_DST_ITER_C,
                               DNNL_ARG_WORKSPACE, DNNL_ARG_DIFF_SRC_LAYER,
                               DNNL_ARG_DIFF_SRC_ITER, DNNL_ARG_DIFF_SRC_ITER_C,
                               DNNL_ARG_DIFF_WEIGHTS_LAYER, DNNL_ARG_DIFF_WEIGHTS_ITER,
                               DNNL_ARG_DIFF_BIAS, DNNL_ARG_DIFF_DST_LAYER,
                               DNNL_ARG_DIFF_DST_ITER, DNNL_ARG_DIFF_DST_ITER_C };
    for (size_t a = 0; a < sizeof all / sizeof *all; a++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md,
                                                                    all[a]);
        if (!md || md->ndims == 0)
            continue;
        dnnl_memory_t m = NULL;
        for (int s = 0; s < nshared; s++)
            if (shared_arg[s] == all[a])
                m = shared[s];
        args[n++] = (dnnl_exec_arg_t){ all[a], m ? m : bare_mem(b, md) };
    }
    return n;
}

/* Builds layer l (input width in): the three primitives, their memories and weight reorders. */
static void bare_layer(Bare *b, const Config *c, int l, int in)
{
    BareLayer *bl = &b->layer[l];
    int G = !strcmp(c->cell, "lstm") ? 4 : !strcmp(c->cell, "gru") ? 3 : 1;
    int nb = !strcmp(c->cell, "gru") ? 4 : G;
    dnnl_memory_desc_t md[6], user[2];
    dnnl_dims_t src = { c->T, c->B, in }, iter = { 1, 1, c->B, c->H }, dst = { c->T, c->B, c->H };
    dnnl_dims_t wl = { 1, 1, in, G, c->H }, wi = { 1, 1, c->H, G, c->H }, bias = { 1, 1, nb, c->H };
    BARE(dnnl_memory_desc_init_by_tag(&md[0], 3, src, dnnl_f32, dnnl_tnc));
    BARE(dnnl_memory_desc_init_by_tag(&md[1], 4, iter, dnnl_f32, dnnl_ldnc));
    BARE(dnnl_memory_desc_init_by_tag(&md[2], 5, wl, dnnl_f32, dnnl_format_tag_any));
    BARE(dnnl_memory_desc_init_by_tag(&md[3], 5, wi, dnnl_f32, dnnl_format_tag_any));
    BARE(dnnl_memory_desc_init_by_tag(&md[4], 4, bias, dnnl_f32, dnnl_ldgo));
    BARE(dnnl_memory_desc_init_by_tag(&md[5], 3, dst, dnnl_f32, dnnl_tnc));
    BARE(dnnl_memory_desc_init_by_tag(&user[0], 5, wl, dnnl_f32, dnnl_ldgoi));
    BARE(dnnl_memory_desc_init_by_tag(&user[1], 5, wi, dnnl_f32, dnnl_ldgoi));
    dnnl_memory_t uw[2] = { bare_mem(b, &user[0]), bare_mem(b, &user[1]) };
    dnnl_memory_t udw[2] = { bare_mem(b, &user[0]), bare_mem(b, &user[1]) };
    dnnl_primitive_desc_t pd[3];
    dnnl_memory_t ws = NULL;
    for (int k = 0; k < 3; k++) {
        dnnl_rnn_desc_t rd;
        bare_desc(c->cell, k, md, &rd);
        BARE(dnnl_primitive_desc_create(&pd[k], &rd, NULL, b->eng, k == 2 ? pd[1] : NULL));
        BARE(dnnl_primitive_create(&bl->p[k], pd[k]));
        int wsarg = DNNL_ARG_WORKSPACE;
        bl->nargs[k] = bare_args(b, pd[k], bl->args[k], &ws, ws ? 1 : 0, &wsarg);
        for (int a = 0; a < bl->nargs[k]; a++) {
            int arg = bl->args[k][a].arg, w = arg == DNNL_ARG_WEIGHTS_LAYER ? 0
                                              : arg == DNNL_ARG_WEIGHTS_ITER ? 1 : -1;
            if (arg == DNNL_ARG_WORKSPACE)
                ws = bl->args[k][a].memory;
            if (w >= 0) {
                bl->ro_from[k][w] = uw[w], bl->ro_to[k][w] = bl->args[k][a].memory;
                bl->ro[k][w] = bare_reorder(b, uw[w], bl->args[k][a].memory);
            }
            int dw = arg == DNNL_ARG_DIFF_WEIGHTS_LAYER ? 0
                     : arg == DNNL_ARG_DIFF_WEIGHTS_ITER ? 1 : -1;
            if (dw >= 0) {
                bl->ro_from[3][dw] = bl->args[k][a].memory, bl->ro_to[3][dw] = udw[dw];
                bl->ro[3][dw] = bare_reorder(b, bl->args[k][a].memory, udw[dw]);
            }
        }
    }
}

/* Runs reorder r from -> to. */
static void bare_ro(Bare *b, dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to)
{
    dnnl_exec_arg_t a[2] = { { DNNL_ARG_FROM, from }, { DNNL_ARG_TO, to } };
    BARE(dnnl_primitive_execute(r, b->s, 2, a));
}

/* One step of every layer: inference, or training (forward, backward, gradients back). */
static void bare_step(Bare *b, bool train)
{
    for (int l = 0; l < b->L; l++) {
        BareLayer *bl = &b->layer[l];
        int f = train ? 1 : 0;
        for (int w = 0; w < 2; w++)
            bare_ro(b, bl->ro[f][w], bl->ro_from[f][w], bl->ro_to[f][w]);
        BARE(dnnl_primitive_execute(bl->p[f], b->s, bl->nargs[f], bl->args[f]));
    }
    for (int l = b->L - 1; train && l >= 0; l--) {
        BareLayer *bl = &b->layer[l];
        for (int w = 0; w < 2; w++)
            bare_ro(b, bl->ro[2][w], bl->ro_from[2][w], bl->ro_to[2][w]);
        BARE(dnnl_primitive_execute(bl->p[2], b->s, bl->nargs[2], bl->args[2]));
        for (int w = 0; w < 2; w++)
            bare_ro(b, bl->ro[3][w], bl->ro_from[3][w], bl->ro_to[3][w]);
    }
    BARE(dnnl_stream_wait(b->s));
}
static void bare_train_fn(void *b, int i) { (void)i, bare_step(b, true); }
static void bare_infer_fn(void *b, int i) { (void)i, bare_step(b, false); }

/* The bare layers of c (built once per process), or NULL without oneDNN. */
static void *bare_new(const Config *c)
{
    static Bare b;
    BARE(dnnl_engine_create(&b.eng, dnnl_cpu, 0));
    BARE(dnnl_stream_create(&b.s, b.eng, dnnl_stream_default_flags));
    b.L = c->L < 16 ? c->L : 16;
    for (int l = 0; l < b.L; l++)
        bare_layer(&b, c, l, l ? c->H : c->onehot ? c->V : c->E);
    return &b;
}

#else
/* Without oneDNN there are no bare primitives to time. */
static void *bare_new(const Config *c)
{
    (void)c;
    printf("# no oneDNN in this build: no bare primitives\n");
    return NULL;
}
static void bare_train_fn(void *b, int i) { (void)b, (void)i; }
static void bare_infer_fn(void *b, int i) { (void)b, (void)i; }
#endif
