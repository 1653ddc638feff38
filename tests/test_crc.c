/* test_crc: every format recur writes carries a CRC-32 of its tensor data (issue 14 item 5):
 * safetensors in __metadata__ ("recur.crc32"), Keras .h5 in a root attribute ("recur_crc32"),
 * .pt and .npz in the zip's own per-entry CRC-32 (the archive's central directory), checked by
 * libzip on every read. One flipped byte of tensor data in each is refused with a message
 * naming the file; a safetensors file without the key (a foreign one) is read as it is. */
#include "io_testutil.h"

#include "io/format.h"
#include "io/safetensors.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = make_tmpdir();
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_tree(dir);
    free(dir);
    return 0;
}

/* Two tensors with distinct values, named as a Keras file names its weights. */
static void make_set(WeightSet *w)
{
    memset(w, 0, sizeof *w);
    int64_t shape[2] = {4, 8};
    CkptTensor *a = ckpt_add_tensor(&w->tensors, "dense/dense/kernel:0", 2, shape, NULL);
    assert_non_null(a);
    for (int i = 0; i < 32; i++)
        a->data[i] = 0.25f + (float)i * 0.03125f;
    CkptTensor *b = ckpt_add_tensor(&w->tensors, "dense/dense/bias:0", 1, shape + 1, NULL);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b->data[i] = -1.5f - (float)i;
}

/* Writes the set as format id, checks it reads back, then flips one bit inside the bytes of
 * the first tensor's data (found by content: every writer stores float32 as is) and expects
 * the read to fail with want in the message. */
static void flip_is_detected(WfId id, const char *ext, const char *want)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/w%s", dir, ext);
    WeightSet w, back;
    make_set(&w);
    Diag d;
    diag_init(&d);
    assert_int_equal(wf_write(id, path, &w, &d), 0);
    assert_int_equal(wf_read(id, path, NULL, &back, &d), 0);
    wf_set_free(&back);
    size_t n;
    unsigned char *buf = slurp(path, &n);
    assert_non_null(buf);
    const unsigned char *needle = (const unsigned char *)w.tensors.items[0].data;
    unsigned char *at = NULL;
    for (size_t i = 0; i + 64 <= n && !at; i++)
        if (memcmp(buf + i, needle, 64) == 0)
            at = buf + i;
    assert_non_null(at);
    at[37] ^= 0x10;
    assert_int_equal(spit(path, buf, n), 0);
    free(buf);
    assert_int_equal(wf_read(id, path, NULL, &back, &d), -1);
    const char *text = diag_text(&d);
    assert_non_null(strstr(text, path));
    if (!strstr(text, want))
        fail_msg("%s: '%s' does not say '%s'", ext, text, want);
    wf_set_free(&w);
    diag_free(&d);
}

static void test_safetensors_flip(void **state)
{
    (void)state;
    flip_is_detected(WF_SAFETENSORS, ".safetensors", "the tensor data are damaged: their CRC-32 "
                                                      "is");
}

static void test_npz_flip(void **state)
{
    (void)state;
    flip_is_detected(WF_NPZ, ".npz", "is damaged: its data do not match the CRC-32 the archive "
                                     "records for it");
}

static void test_pt_flip(void **state)
{
    (void)state;
    flip_is_detected(WF_TORCH_ZIP, ".pt", "is damaged: its data do not match the CRC-32 the "
                                          "archive records for it");
}

static void test_h5_flip(void **state)
{
    (void)state;
    flip_is_detected(WF_KERAS_H5, ".h5", "the weight data are damaged: their CRC-32 is");
}

/* A safetensors file without recur.crc32 (as other programs write it) reads as it is; the key
 * is checked, not handed on as metadata. */
static void test_foreign_safetensors(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/foreign.safetensors", dir);
    const char head[] = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    unsigned char buf[8 + sizeof head - 1 + 8];
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((sizeof head - 1) >> (8 * i));
    memcpy(buf + 8, head, sizeof head - 1);
    float v[2] = {1, 2};
    memcpy(buf + 8 + sizeof head - 1, v, 8);
    assert_int_equal(spit(path, buf, sizeof buf), 0);
    CkptTensorList l;
    SafetensorsMeta m;
    Diag d;
    diag_init(&d);
    assert_int_equal(safetensors_read(path, &l, &m, &d), 0);
    assert_int_equal(l.n, 1);
    ckpt_tensors_free(&l);
    safetensors_meta_free(&m);
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    WeightSet w;
    make_set(&w);
    assert_int_equal(wf_write(WF_SAFETENSORS, path, &w, &d), 0);
    assert_int_equal(safetensors_read(path, &l, &m, &d), 0);
    assert_null(safetensors_meta_get(&m, SAFETENSORS_CRC_KEY));
    ckpt_tensors_free(&l);
    safetensors_meta_free(&m);
    wf_set_free(&w);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_flip), cmocka_unit_test(test_npz_flip),
        cmocka_unit_test(test_pt_flip),          cmocka_unit_test(test_h5_flip),
        cmocka_unit_test(test_foreign_safetensors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
