/* test_pickle: the restricted unpickler and the pickle writer (src/io/pickle.c) on hand-made
 * pickles (bytes as CPython's pickle.dumps(..., protocol=2) writes them), the refusals of
 * globals that are not torch.save's, truncation at every length, and writer -> reader round
 * trips; plus torch_pt's reading of the pickles torch.save wrote (tests/fixtures/interchange). */
#include "io_testutil.h"

#include "io/pickle.h"
#include "io/torch_pt.h"

/* Loads buf; asserts the status; returns the message text on failure (static). */
static int load(const void *buf, size_t n, PkDoc *doc, PkValue **root, const char **msg)
{
    Diag d;
    diag_init(&d);
    size_t used;
    int rc = pickle_load(buf, n, "t.pkl", doc, root, &used, &d);
    static char text[8192];
    snprintf(text, sizeof text, "%s", diag_error_count(&d) ? diag_text(&d) : "");
    if (msg)
        *msg = text;
    else if (rc)
        fprintf(stderr, "%s", text);
    if (rc == 0)
        assert_int_equal(used, n);
    else
        assert_true(diag_error_count(&d) >= 1);
    diag_free(&d);
    return rc;
}

/* pickle.dumps({'a': (1, -2, 300, 70000, -70000, 2**40), 'b': [True, None, 'x'], 'c': 1.5},
 * protocol=2) */
static void test_values(void **state)
{
    (void)state;
    static const unsigned char p[] =
        "\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01(K\x01J\xfe\xff\xff\xffM,\x01J\x70\x11\x01\x00"
        "J\x90\xee\xfe\xff\x8a\x06\x00\x00\x00\x00\x00\x01tq\x02X\x01\x00\x00\x00" "bq\x03]q\x04"
        "(\x88NX\x01\x00\x00\x00xq\x05" "eX\x01\x00\x00\x00"
        "cq\x06G?\xf8\x00\x00\x00\x00\x00\x00u.";
    PkDoc doc = {0};
    PkValue *root;
    assert_int_equal(load(p, sizeof p - 1, &doc, &root, NULL), 0);
    assert_int_equal(root->kind, PK_DICT);
    assert_int_equal(root->n, 6);
    const PkValue *a = pickle_dict_get(root, "a"), *b = pickle_dict_get(root, "b");
    assert_int_equal(a->kind, PK_TUPLE);
    assert_int_equal(a->n, 6);
    const int64_t want[] = {1, -2, 300, 70000, -70000, (int64_t)1 << 40};
    for (int i = 0; i < 6; i++)
        assert_int_equal(a->items[i]->i, want[i]);
    assert_int_equal(b->kind, PK_LIST);
    assert_int_equal(b->n, 3);
    assert_int_equal(b->items[0]->kind, PK_BOOL);
    assert_int_equal(b->items[0]->i, 1);
    assert_int_equal(b->items[1]->kind, PK_NONE);
    assert_string_equal(b->items[2]->s, "x");
    assert_true(pickle_dict_get(root, "c")->f == 1.5);
    assert_null(pickle_dict_get(root, "zz"));
    pickle_doc_free(&doc);
}

/* Every prefix of a valid pickle is an error, never a crash or a read past the end. */
static void test_truncated_everywhere(void **state)
{
    (void)state;
    static const unsigned char p[] =
        "\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01(K\x01J\xfe\xff\xff\xffM,\x01tq\x02X\x01\x00"
        "\x00\x00" "bq\x03]q\x04(\x88Ne\x8a\x02\x01\x01h\x01u.";
    for (size_t n = 0; n < sizeof p - 1; n++) {
        unsigned char *copy = malloc(n ? n : 1);   /* exactly n bytes: ASan sees overreads */
        memcpy(copy, p, n);
        PkDoc doc = {0};
        PkValue *root;
        const char *msg;
        assert_int_equal(load(copy, n, &doc, &root, &msg), -1);
        pickle_doc_free(&doc);
        free(copy);
    }
}

/* A refused pickle's message, which must contain want. */
static void refused(const char *p, size_t n, const char *want)
{
    PkDoc doc = {0};
    PkValue *root;
    const char *msg;
    assert_int_equal(load(p, n, &doc, &root, &msg), -1);
    if (!strstr(msg, want))
        fail_msg("message '%s' lacks '%s'", msg, want);
    pickle_doc_free(&doc);
}

/* The classic payloads (pickle.dumps of an object whose __reduce__ returns os.system etc.). */
static void test_hostile_globals(void **state)
{
    (void)state;
    static const char sys_[] = "\x80\x02" "cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01"
                               "\x85q\x02Rq\x03.";
    refused(sys_, sizeof sys_ - 1, "refused global os.system");
    static const char ex[] = "\x80\x02" "c__builtin__\nexec\nq\x00X\x01\x00\x00\x00" "1\x85R.";
    refused(ex, sizeof ex - 1, "refused global builtins.exec (written as __builtin__.exec)");
    static const char ev[] = "\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93\x8c\x01" "1\x85R.";
    refused(ev, sizeof ev - 1, "refused global builtins.eval");
    static const char po[] = "\x80\x02" "csubprocess\nPopen\n]X\x04\x00\x00\x00true\x85R.";
    refused(po, sizeof po - 1, "refused global subprocess.Popen");
    static const char mod[] = "\x80\x02" "c__main__\nNet\nq\x00)\x81}X\x10\x00\x00\x00"
                              "torch.nn.modulesbb.";
    refused(mod, sizeof mod - 1, "whole pickled nn.Module");
    /* allowed globals are not callable beyond what they are for */
    static const char st[] = "\x80\x02" "ctorch\nFloatStorage\n)R.";
    refused(st, sizeof st - 1, "torch.FloatStorage cannot be called");
}

static void test_malformed(void **state)
{
    (void)state;
    refused("\x80\x02" "i", 3, "opcode 0x69 is not one torch.save writes");
    refused("\x80\x02" "h\x05.", 4, "memo index 5 was never stored");
    refused("\x80\x02" "t.", 4, "no mark on the stack");
    refused("\x80\x02" "0.", 4, "stack underflow");
    refused("\x80\x02" "K\x01K\x02.", 7, "STOP with 2 values");
    refused("\x80\x02" "K\x01s.", 6, "stack underflow");
    refused("\x80\x02" "]K\x01K\x02s.", 9, "SETITEM on something that is not a dict");
    refused("\x80\x02" "\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.", 14, "too large");
    refused("\x80\x02" "X\xff\xff\xff\x7f" "abc", 10, "truncated");
    refused("\x80\x02" "r\x00\x00\x00\x01" "K\x01.", 10, "stack underflow");
    refused("\x80\x02K\x01r\x00\x00\x00\x40.", 10, "memo index 1073741824 is too large");
    refused("\x80\x06.", 3, "pickle protocol 6");
}

/* A deep stack of marks is bounded, not an unbounded allocation. */
static void test_bounded_stack(void **state)
{
    (void)state;
    size_t n = (size_t)PICKLE_MAX_STACK + 10;
    char *p = malloc(n + 3);
    memcpy(p, "\x80\x02", 2);
    memset(p + 2, '(', n);
    p[n + 2] = '.';
    refused(p, n + 3, "the stack is deeper than");
    free(p);
}

/* _rebuild_tensor_v2 with a persistent storage id becomes a TENSOR value. */
static void test_tensor(void **state)
{
    (void)state;
    static const char p[] =
        "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\nq\x00((X\x07\x00\x00\x00storageq\x01"
        "ctorch\nHalfStorage\nq\x02X\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x0ctq\x03QK\x02"
        "K\x03K\x02\x86K\x01K\x03\x86\x89" "ccollections\nOrderedDict\n)Rtq\x04Rq\x05.";
    PkDoc doc = {0};
    PkValue *root;
    assert_int_equal(load(p, sizeof p - 1, &doc, &root, NULL), 0);
    assert_int_equal(root->kind, PK_TENSOR);
    assert_int_equal(root->dtype, PK_F16);
    assert_int_equal(root->offset, 2);
    assert_int_equal(root->ndim, 2);
    assert_int_equal(root->shape[0], 3);
    assert_int_equal(root->shape[1], 2);
    assert_int_equal(root->stride[0], 1);
    assert_int_equal(root->stride[1], 3);
    assert_int_equal(root->storage->i, 12);
    assert_string_equal(root->storage->s, "0");
    pickle_doc_free(&doc);
    static const char bad[] = "\x80\x02" "(X\x07\x00\x00\x00storageX\x01\x00\x00\x00" "0tQ.";
    refused(bad, sizeof bad - 1, "not a torch storage reference");
}

/* Whatever the writer emits, the reader reads back as written. */
static void test_writer_round_trip(void **state)
{
    (void)state;
    const int64_t ints[] = {0, 1, 255, 256, 65535, 65536, -1, INT32_MIN, INT32_MAX,
                            (int64_t)INT32_MAX + 1, INT64_MIN, INT64_MAX};
    int n = (int)(sizeof ints / sizeof *ints);
    PkWriter w = {0};
    pk_emit_proto(&w, 2);
    pk_emit_global(&w, "collections", "OrderedDict");
    pk_emit_put(&w);
    pk_emit_op(&w, PK_OP_EMPTY_TUPLE);
    pk_emit_op(&w, PK_OP_REDUCE);
    pk_emit_op(&w, PK_OP_MARK);
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        pk_emit_str(&w, key);
        pk_emit_int(&w, ints[i]);
    }
    for (int i = 0; i < 300; i++) {   /* LONG_BINPUT / LONG_BINGET past index 255 */
        pk_emit_str(&w, "x");
        pk_emit_put(&w);
        pk_emit_op(&w, PK_OP_POP);
    }
    pk_emit_str(&w, "last");
    pk_emit_get(&w, 299);
    pk_emit_op(&w, PK_OP_SETITEMS);
    pk_emit_op(&w, PK_OP_STOP);
    size_t len;
    unsigned char *buf = pk_writer_take(&w, &len);
    assert_non_null(buf);
    PkDoc doc = {0};
    PkValue *root;
    assert_int_equal(load(buf, len, &doc, &root, NULL), 0);
    assert_int_equal(root->kind, PK_DICT);
    assert_int_equal(root->n, 2 * (n + 1));
    for (int i = 0; i < n; i++)
        assert_true(root->items[2 * i + 1]->i == ints[i]);
    assert_string_equal(pickle_dict_get(root, "last")->s, "x");
    pickle_doc_free(&doc);
    free(buf);
}

/* torch_read_buffer on what torch.save wrote: both formats, same tensors. */
static void test_torch_files(void **state)
{
    (void)state;
    WeightSet a = {0}, b = {0};
    Diag d;
    diag_init(&d);
    size_t na, nb;
    unsigned char *za = slurp(fixture("interchange/charlm.pt"), &na);
    unsigned char *zb = slurp(fixture("interchange/charlm.legacy.pt"), &nb);
    assert_non_null(za);
    assert_non_null(zb);
    assert_int_equal(torch_read_buffer(za, na, "charlm.pt", NULL, &a, &d), 0);
    assert_int_equal(torch_read_buffer(zb, nb, "charlm.legacy.pt", NULL, &b, &d), 0);
    assert_int_equal(a.tensors.n, 11);
    assert_tensor_lists_equal(&a.tensors, &b.tensors);
    assert_string_equal(a.tensors.items[1].name, "lstm1.weight_ih_l0");
    assert_int_equal(a.tensors.items[1].shape[0], 28);
    wf_set_free(&a);
    wf_set_free(&b);
    diag_free(&d);
    free(za);
    free(zb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),          cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_hostile_globals), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bounded_stack),   cmocka_unit_test(test_tensor),
        cmocka_unit_test(test_writer_round_trip), cmocka_unit_test(test_torch_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
