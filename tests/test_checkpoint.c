/* test_checkpoint: checkpoint round trips (every field, bit-exact tensors), and rejection of every
 * single-bit corruption, every truncation, foreign files, absurd headers and payloads that pass
 * the CRC but are not a valid or consistent message. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/checkpoint.h"
#include "io/checkpoint.pb-c.h"
#include "io/fileio.h"
#include "io_testutil.h"

/* Each test gets its own temporary directory; f->path is dir/m.ckpt. */
static int setup(void **state)
{
    return fix_setup(state, "m.ckpt");
}

/* A checkpoint with every field set, including awkward values (NUL inside the source, all 256
 * vocabulary bytes, NaN/Inf/-0 and denormals in a tensor, a rank-0 and an empty tensor). */
static void make_full(Checkpoint *c)
{
    ckpt_init(c);
    static const char src[] = "model m {\n  x = onehot(vocab)\0tail\n}\n";
    assert_int_equal(ckpt_set_source(c, "models/m.rnn", src, sizeof src - 1), 0);
    c->recur_version = strdup("0.1.0");
    assert_int_equal(ckpt_add_override(c, "hidden=64"), 0);
    assert_int_equal(ckpt_add_override(c, "lr=0.003"), 0);
    assert_int_equal(ckpt_set_const(c, "vocab", 256), 0);
    assert_int_equal(ckpt_set_const(c, "classes", -3), 0);
    assert_int_equal(ckpt_set_const(c, "vocab", 65), 0);   /* replaces */
    unsigned char v[256];
    for (int i = 0; i < 256; i++)
        v[i] = (unsigned char)(255 - i);
    assert_int_equal(ckpt_set_vocab(c, v, sizeof v), 0);

    int64_t s1[2] = {3, 4};
    float w[12];
    for (int i = 0; i < 12; i++)
        w[i] = (float)i * 0.37f - 1.1f;
    w[0] = NAN;
    w[1] = INFINITY;
    w[2] = -0.0f;
    w[3] = 1e-42f;   /* denormal */
    assert_non_null(ckpt_add_tensor(&c->params, "lstm0.W", 2, s1, w));
    assert_non_null(ckpt_add_tensor(&c->params, "scale", 0, NULL, &w[5]));
    int64_t s0[1] = {0};
    assert_non_null(ckpt_add_tensor(&c->params, "empty", 1, s0, NULL));

    assert_int_equal(ckpt_set_optimizer(c, "adamw"), 0);
    assert_int_equal(ckpt_set_hyper(c, "lr", 3e-3), 0);
    assert_int_equal(ckpt_set_hyper(c, "beta2", 0.999), 0);
    assert_int_equal(ckpt_set_hyper(c, "weight_decay", -0.0), 0);
    CkptTensor *m = ckpt_add_tensor(&c->optim_state, "m.lstm0.W", 2, s1, NULL);
    assert_non_null(m);
    m->data[7] = 42.5f;
    c->step = 123456789012ull;
    c->epoch = 7;
    const uint64_t rng[4] = {1, UINT64_MAX, 0x0123456789abcdefull, 0};
    assert_int_equal(ckpt_set_rng_state(c, rng, 4), 0);
    const uint64_t pos[2] = {99, 1ull << 40};
    assert_int_equal(ckpt_set_data_pos(c, pos, 2), 0);
    c->has_best_val_loss = true;
    c->best_val_loss = 1.2345678901234567;
    c->seed = 0xdeadbeefcafeull;
    c->threads = 2;
}

static void assert_ckpt_equal(const Checkpoint *a, const Checkpoint *b)
{
    assert_string_equal(a->recur_version, b->recur_version);
    assert_string_equal(a->source_name, b->source_name);
    assert_int_equal(a->source_len, b->source_len);
    assert_memory_equal(a->source_text, b->source_text, a->source_len);
    assert_int_equal(a->noverrides, b->noverrides);
    for (int i = 0; i < a->noverrides; i++)
        assert_string_equal(a->overrides[i], b->overrides[i]);
    assert_int_equal(a->nconsts, b->nconsts);
    for (int i = 0; i < a->nconsts; i++) {
        assert_string_equal(a->consts[i].name, b->consts[i].name);
        assert_int_equal(a->consts[i].value, b->consts[i].value);
    }
    assert_int_equal(a->vocab_len, b->vocab_len);
    assert_memory_equal(a->vocab, b->vocab, a->vocab_len);
    assert_tensor_lists_equal(&a->params, &b->params);
    assert_string_equal(a->optimizer, b->optimizer);
    assert_int_equal(a->nhypers, b->nhypers);
    for (int i = 0; i < a->nhypers; i++) {
        assert_string_equal(a->hypers[i].name, b->hypers[i].name);
        assert_memory_equal(&a->hypers[i].value, &b->hypers[i].value, sizeof(double));
    }
    assert_tensor_lists_equal(&a->optim_state, &b->optim_state);
    assert_int_equal(a->step, b->step);
    assert_int_equal(a->epoch, b->epoch);
    assert_int_equal(a->nrng_state, b->nrng_state);
    assert_memory_equal(a->rng_state, b->rng_state, (size_t)a->nrng_state * 8);
    assert_int_equal(a->ndata_pos, b->ndata_pos);
    assert_memory_equal(a->data_pos, b->data_pos, (size_t)a->ndata_pos * 8);
    assert_int_equal(a->has_best_val_loss, b->has_best_val_loss);
    assert_memory_equal(&a->best_val_loss, &b->best_val_loss, sizeof(double));
    assert_int_equal(a->seed, b->seed);
    assert_int_equal(a->threads, b->threads);
}

static void test_crc32_check_value(void **state)
{
    (void)state;
    assert_int_equal(io_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(io_crc32(0, "", 0), 0);
    /* incremental == one shot */
    assert_int_equal(io_crc32(io_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    /* the 8-bytes-at-a-time path against a bit-at-a-time reference, at every alignment and
     * every tail length */
    unsigned char buf[1100];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 24);
    }
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len < 1090; len += off + 1) {
            uint32_t c = 0xFFFFFFFFu;
            for (size_t i = 0; i < len; i++) {
                c ^= buf[off + i];
                for (int k = 0; k < 8; k++)
                    c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
            }
            assert_int_equal(io_crc32(0, buf + off, len), ~c);
        }
}

static void test_round_trip(void **state)
{
    Fix *f = *state;
    Checkpoint c, r;
    make_full(&c);
    Diag d;
    diag_init(&d);
    assert_int_equal(ckpt_write(f->path, &c, &d), 0);
    assert_int_equal(count_entries(f->dir), 1);
    int rc = ckpt_read(f->path, &r, &d);
    if (rc)
        fprintf(stderr, "%s", diag_text(&d));
    assert_int_equal(rc, 0);
    assert_int_equal(r.format_version, CKPT_FORMAT_VERSION);
    assert_ckpt_equal(&c, &r);
    int64_t v;
    assert_true(ckpt_get_const(&r, "vocab", &v));
    assert_int_equal(v, 65);
    assert_false(ckpt_get_const(&r, "nope", &v));
    double h;
    assert_true(ckpt_get_hyper(&r, "beta2", &h));
    assert_true(h == 0.999);
    CkptTensor *t = ckpt_find_tensor(&r.optim_state, "m.lstm0.W");
    assert_non_null(t);
    assert_true(t->data[7] == 42.5f);
    assert_null(ckpt_find_tensor(&r.params, "m.lstm0.W"));

    /* writing the read copy again gives the identical file */
    size_t n1, n2;
    unsigned char *b1 = slurp(f->path, &n1);
    assert_int_equal(ckpt_write(f->path, &r, &d), 0);
    unsigned char *b2 = slurp(f->path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    assert_memory_equal(b1, "RECURCKP\x01\0\0\0", 12);
    assert_int_equal(io_le64(b1 + 16), n1 - CKPT_HEADER_BYTES);
    free(b1);
    free(b2);
    ckpt_free(&r);
    ckpt_free(&c);

    /* an empty checkpoint round-trips too, with "no best loss" preserved */
    ckpt_init(&c);
    assert_int_equal(ckpt_write(f->path, &c, &d), 0);
    assert_int_equal(ckpt_read(f->path, &r, &d), 0);
    assert_false(r.has_best_val_loss);
    assert_null(r.source_text);
    assert_null(r.vocab);
    assert_int_equal(r.params.n, 0);
    ckpt_free(&r);
    assert_int_equal(diag_error_count(&d), 0);
    diag_free(&d);
}

/* Expects ckpt_read(path) to fail with a message naming path and containing want (if given). */
static void read_fails(const char *path, const char *want)
{
    Diag d;
    diag_init(&d);
    Checkpoint c;
    assert_int_equal(ckpt_read(path, &c, &d), -1);
    assert_int_equal(c.params.n, 0);
    assert_null(c.source_text);
    assert_names_file(diag_text(&d), path, want);
    diag_free(&d);
}

/* A small but complete checkpoint (every field present) for the exhaustive corruption tests. */
static unsigned char *small_file(const char *path, size_t *n)
{
    Checkpoint c;
    ckpt_init(&c);
    ckpt_set_source(&c, "m.rnn", "model m {}", 10);
    ckpt_add_override(&c, "h=2");
    ckpt_set_const(&c, "vocab", 3);
    ckpt_set_vocab(&c, (const unsigned char *)"abc", 3);
    int64_t s[2] = {2, 3};
    const float w[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
    ckpt_add_tensor(&c.params, "w", 2, s, w);
    ckpt_set_optimizer(&c, "sgd");
    ckpt_set_hyper(&c, "lr", 0.1);
    ckpt_add_tensor(&c.optim_state, "v.w", 2, s, w);
    const uint64_t rng[2] = {5, 6};
    ckpt_set_rng_state(&c, rng, 2);
    ckpt_set_data_pos(&c, rng, 1);
    c.has_best_val_loss = true;
    c.best_val_loss = 2.5;
    c.step = 10;
    Diag d;
    diag_init(&d);
    assert_int_equal(ckpt_write(path, &c, &d), 0);
    diag_free(&d);
    ckpt_free(&c);
    return slurp(path, n);
}

/* Every single-bit flip anywhere in the file (header or payload) is rejected. */
static void test_every_bit_flip(void **state)
{
    Fix *f = *state;
    size_t n;
    unsigned char *good = small_file(f->path, &n);
    assert_non_null(good);
    assert_true(n > CKPT_HEADER_BYTES + 60);
    char bad[700];
    snprintf(bad, sizeof bad, "%s/flip.ckpt", f->dir);
    unsigned char *b = malloc(n);
    int crc_msgs = 0;
    for (size_t bit = 0; bit < n * 8; bit++) {
        memcpy(b, good, n);
        b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        assert_int_equal(spit(bad, b, n), 0);
        Diag d;
        diag_init(&d);
        Checkpoint c;
        assert_int_equal(ckpt_read(bad, &c, &d), -1);
        const char *t = diag_text(&d);
        assert_non_null(strstr(t, bad));
        if (strstr(t, "CRC-32 mismatch"))
            crc_msgs++;
        diag_free(&d);
    }
    /* every payload bit and every CRC bit is caught by the CRC check */
    assert_int_equal(crc_msgs, (int)(n - CKPT_HEADER_BYTES) * 8 + 32);
    free(b);
    free(good);
}

static void test_every_truncation(void **state)
{
    Fix *f = *state;
    size_t n;
    unsigned char *good = small_file(f->path, &n);
    char bad[700];
    snprintf(bad, sizeof bad, "%s/cut.ckpt", f->dir);
    for (size_t cut = 0; cut < n; cut++) {
        assert_int_equal(spit(bad, good, cut), 0);
        read_fails(bad, cut < 8 ? "not a recur checkpoint" : "truncated");
    }
    /* and a byte appended is caught by the length check */
    unsigned char *more = malloc(n + 1);
    memcpy(more, good, n);
    more[n] = 0;
    spit(bad, more, n + 1);
    read_fails(bad, "corrupt checkpoint");
    free(more);
    free(good);
}

static void test_foreign_and_absurd(void **state)
{
    Fix *f = *state;
    char p[700];
    snprintf(p, sizeof p, "%s/x", f->dir);
    spit(p, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10", 20);
    read_fails(p, "PNG");
    /* a safetensors file: 8-byte header length then JSON */
    const char st[] = "\x0f\0\0\0\0\0\0\0{\"__metadata__\":{}}";
    spit(p, st, sizeof st - 1);
    read_fails(p, "safetensors");
    spit(p, "\x93NUMPY\x01\x00", 8);
    read_fails(p, ".npy");
    spit(p, "", 0);
    read_fails(p, "not a recur checkpoint");
    spit(p, "model m { }\n", 12);
    read_fails(p, "not a recur checkpoint");
    read_fails("/nonexistent/recur/m.ckpt", "cannot read");
    read_fails(f->dir, "not a regular file");

    unsigned char h[CKPT_HEADER_BYTES + 4] = "RECURCKP";
    io_put_le32(h + 8, 1);
    io_put_le64(h + 16, UINT64_MAX / 2);   /* absurd payload length */
    spit(p, h, sizeof h);
    read_fails(p, "truncated checkpoint");
    io_put_le32(h + 8, 77);
    spit(p, h, sizeof h);
    read_fails(p, "version 77");
}

/* Writes header + payload with a correct CRC, so the message-level checks are reached. */
static void write_payload(const char *path, const void *payload, size_t n)
{
    unsigned char *b = malloc(CKPT_HEADER_BYTES + n + 1);
    memcpy(b, "RECURCKP", 8);
    io_put_le32(b + 8, 1);
    io_put_le32(b + 12, io_crc32(0, payload, n));
    io_put_le64(b + 16, n);
    memcpy(b + CKPT_HEADER_BYTES, payload, n);
    spit(path, b, CKPT_HEADER_BYTES + n);
    free(b);
}

/* Packs a message with one tensor as given and checks the reader's verdict. */
static void bad_message(const char *path, uint32_t version, Recur__Tensor **ts, size_t nt,
                        const char *want)
{
    Recur__Checkpoint m = RECUR__CHECKPOINT__INIT;
    m.format_version = version;
    m.n_tensors = nt;
    m.tensors = ts;
    size_t n = recur__checkpoint__get_packed_size(&m);
    uint8_t *buf = malloc(n + 1);
    recur__checkpoint__pack(&m, buf);
    write_payload(path, buf, n);
    free(buf);
    read_fails(path, want);
}

static void test_inconsistent_messages(void **state)
{
    Fix *f = *state;
    write_payload(f->path, "\xff\xff\xff\xff garbage", 12);
    read_fails(f->path, "not a valid recur.Checkpoint");
    write_payload(f->path, "", 0);   /* missing required format_version */
    read_fails(f->path, "not a valid recur.Checkpoint");

    float data[4] = {1, 2, 3, 4};
    int64_t shape[9] = {2, 3, 1, 1, 1, 1, 1, 1, 1};
    Recur__Tensor t = RECUR__TENSOR__INIT, u = RECUR__TENSOR__INIT;
    Recur__Tensor *ts[2] = {&t, &u};
    t.name = "w";
    t.n_shape = 2;
    t.shape = shape;
    t.data.data = (uint8_t *)data;
    t.data.len = 16;
    bad_message(f->path, 1, ts, 1, "does not match its shape");   /* 2x3 with 4 floats */
    shape[1] = 2;
    bad_message(f->path, 2, ts, 1, "format version 2");
    t.n_shape = 9;
    bad_message(f->path, 1, ts, 1, "9 dimensions");
    t.n_shape = 2;
    shape[0] = -2;
    shape[1] = -2;
    bad_message(f->path, 1, ts, 1, "does not match its shape");
    shape[0] = shape[1] = INT64_MAX / 2;
    bad_message(f->path, 1, ts, 1, "does not match its shape");
    shape[0] = shape[1] = 2;
    u = t;
    bad_message(f->path, 1, ts, 2, "two parameter tensors are named 'w'");
    t.name = "";
    bad_message(f->path, 1, ts, 1, "has no name");
}

static void test_sanity_consistent_message_reads(void **state)
{
    /* The hand-packing used above is sound: a consistent version-1 message reads fine. */
    Fix *f = *state;
    float data[4] = {1, 2, 3, 4};
    int64_t shape[2] = {2, 2};
    Recur__Tensor t = RECUR__TENSOR__INIT;
    Recur__Tensor *ts[1] = {&t};
    t.name = "w";
    t.n_shape = 2;
    t.shape = shape;
    t.data.data = (uint8_t *)data;
    t.data.len = 16;
    Recur__Checkpoint m = RECUR__CHECKPOINT__INIT;
    m.format_version = 1;
    m.n_tensors = 1;
    m.tensors = ts;
    size_t n = recur__checkpoint__get_packed_size(&m);
    uint8_t *buf = malloc(n);
    recur__checkpoint__pack(&m, buf);
    write_payload(f->path, buf, n);
    free(buf);
    Checkpoint c;
    Diag d;
    diag_init(&d);
    assert_int_equal(ckpt_read(f->path, &c, &d), 0);
    assert_int_equal(c.params.n, 1);
    assert_memory_equal(c.params.items[0].data, data, 16);
    ckpt_free(&c);
    diag_free(&d);
}

/* Forward compatibility: fields a newer recur might add (unknown here) are skipped, even many
 * of them, within the unpack allocation budget; and many small tensors read fine too. */
static void test_unknown_fields_and_many_tensors(void **state)
{
    Fix *f = *state;
    Checkpoint c, r;
    ckpt_init(&c);
    char name[32];
    const int64_t one[1] = {1};
    for (int i = 0; i < 4000; i++) {
        snprintf(name, sizeof name, "t%d", i);
        float v = (float)i;
        assert_non_null(ckpt_add_tensor(&c.params, name, 1, one, &v));
    }
    Diag d;
    diag_init(&d);
    assert_int_equal(ckpt_write(f->path, &c, &d), 0);
    assert_int_equal(ckpt_read(f->path, &r, &d), 0);
    assert_int_equal(r.params.n, 4000);
    assert_true(r.params.items[3999].data[0] == 3999.0f);
    ckpt_free(&r);
    ckpt_free(&c);

    /* a valid message followed by 50000 unknown varint fields (number 99, value 0) */
    size_t n;
    unsigned char *good = small_file(f->path, &n);
    size_t extra = 3 * 50000, plen = n - CKPT_HEADER_BYTES + extra;
    unsigned char *payload = malloc(plen);
    memcpy(payload, good + CKPT_HEADER_BYTES, n - CKPT_HEADER_BYTES);
    for (size_t i = 0; i < extra; i += 3)
        memcpy(payload + n - CKPT_HEADER_BYTES + i, "\x98\x06\x00", 3);
    write_payload(f->path, payload, plen);
    int rc = ckpt_read(f->path, &r, &d);
    if (rc)
        fprintf(stderr, "%s", diag_text(&d));
    assert_int_equal(rc, 0);
    assert_int_equal(r.params.n, 1);
    assert_string_equal(r.optimizer, "sgd");
    ckpt_free(&r);
    free(payload);
    free(good);
    diag_free(&d);
}

static void test_write_errors_and_helpers(void **state)
{
    Fix *f = *state;
    Checkpoint c;
    make_full(&c);
    Diag d;
    diag_init(&d);
    assert_int_equal(ckpt_write("/nonexistent/recur/m.ckpt", &c, &d), -1);
    assert_non_null(strstr(diag_text(&d), "/nonexistent/recur/m.ckpt: error: cannot write"));
    diag_free(&d);

    /* an inconsistent tensor is refused and nothing is left in the directory */
    c.params.items[0].count = 5;
    diag_init(&d);
    assert_int_equal(ckpt_write(f->path, &c, &d), -1);
    assert_non_null(strstr(diag_text(&d), "lstm0.W"));
    assert_int_equal(count_entries(f->dir), 0);
    diag_free(&d);
    c.params.items[0].count = 12;

    /* a hand-built struct with a missing name is refused, not a crash in protobuf-c */
    char *keep = c.params.items[1].name;
    c.params.items[1].name = NULL;
    diag_init(&d);
    assert_int_equal(ckpt_write(f->path, &c, &d), -1);
    assert_non_null(strstr(diag_text(&d), "tensor #1: it has no name"));
    diag_free(&d);
    c.params.items[1].name = keep;
    keep = c.consts[0].name;
    c.consts[0].name = NULL;
    diag_init(&d);
    assert_int_equal(ckpt_write(f->path, &c, &d), -1);
    assert_non_null(strstr(diag_text(&d), "constant #0 has no name"));
    diag_free(&d);
    c.consts[0].name = keep;
    assert_int_equal(count_entries(f->dir), 0);

    /* replacing an existing file */
    spit(f->path, "old", 3);
    diag_init(&d);
    assert_int_equal(ckpt_write(f->path, &c, &d), 0);
    Checkpoint r;
    assert_int_equal(ckpt_read(f->path, &r, &d), 0);
    assert_ckpt_equal(&c, &r);
    assert_int_equal(count_entries(f->dir), 1);
    ckpt_free(&r);
    diag_free(&d);

    int64_t s[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_null(ckpt_add_tensor(&c.params, "lstm0.W", 1, s, NULL));   /* duplicate */
    assert_null(ckpt_add_tensor(&c.params, "x", 9, s, NULL));         /* rank */
    s[0] = -1;
    assert_null(ckpt_add_tensor(&c.params, "x", 1, s, NULL));         /* negative */
    s[0] = INT64_MAX;
    s[1] = 4;
    assert_null(ckpt_add_tensor(&c.params, "x", 2, s, NULL));         /* overflow */
    assert_int_equal(c.params.n, 3);
    ckpt_free(&c);
    ckpt_free(&c);   /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_value),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_and_absurd, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_inconsistent_messages, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_sanity_consistent_message_reads, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_fields_and_many_tensors, setup, fix_teardown),
        cmocka_unit_test_setup_teardown(test_write_errors_and_helpers, setup, fix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
