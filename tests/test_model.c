/* test_model: the parts of src/model that train relies on. model_bind_sizes binds the sizes a
 * model leaves to its data (the result equals a fresh compile with the same overrides), does
 * not repeat the first compile's warnings, and leaves the model untouched when the sizes do
 * not compile; the vocabulary and its level survive a checkpoint round trip with the weights;
 * an executor from model_exec borrows the model's weights (one buffer, no copies). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lang/prelude.h"
#include "lang/sema.h"
#include "model/model.h"

static const char *MODEL_TEXT =
    "format 1\n"
    "model m {\n  input tokens(vocab=auto)\n  embedding(4)\n  lstm(8, dropout=0.5)\n"
    "  dense(vocab)\n}\n";

/* Compiles MODEL_TEXT with allow_auto, as `recur train` does before it has read the data. */
static const Source *auto_compile(Diag *d, Model *m, SemaOptions *so)
{
    const Source *src = diag_add_source(d, "m.rnn", MODEL_TEXT, strlen(MODEL_TEXT));
    assert_non_null(src);
    so->allow_auto = true;
    assert_int_equal(model_compile_opts(m, d, src, NULL, 0, so), 0);
    assert_true(so->vocab_auto);
    return src;
}

static void test_recompile(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Model m;
    SemaOptions so = {0};
    const Source *src = auto_compile(&d, &m, &so);
    int warnings = d.nwarnings;
    assert_true(warnings >= 1);     /* dropout with one layer */
    const char *extra[] = {"vocab=5"};
    assert_int_equal(model_bind_sizes(&m, &d, 5, 0), 0);
    assert_int_equal(d.nwarnings, warnings);
    assert_int_equal(diag_error_count(&d), 0);
    assert_int_equal(m.ir->vocab, 5);
    assert_int_equal(m.nsets, 1);
    assert_string_equal(m.sets[0], "vocab=5");

    Model ref;   /* an independent compile with the same override */
    assert_int_equal(model_compile(&ref, &d, src, extra, 1), 0);
    assert_int_equal(m.ir->nparams, ref.ir->nparams);
    assert_int_equal(m.ir->ntensors, ref.ir->ntensors);
    for (int i = 0; i < ref.ir->ntensors; i++)
        assert_string_equal(m.ir->tensors[i].name, ref.ir->tensors[i].name);
    for (int64_t i = 0; i < m.ir->nparams; i++)
        assert_true(m.params[i] == 0);

    /* a bad size: reported, and the model stays as it was */
    const IrModel *before = m.ir;
    assert_int_equal(model_bind_sizes(&m, &d, 0, -3), -1);
    assert_true(diag_error_count(&d) >= 1);
    assert_ptr_equal(m.ir, before);
    assert_int_equal(m.nsets, 1);
    model_free(&ref);
    model_free(&m);
    diag_free(&d);
}

static void test_checkpoint_vocab_and_exec(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    Model m;
    SemaOptions so = {0};
    auto_compile(&d, &m, &so);
    assert_int_equal(model_bind_sizes(&m, &d, 3, 0), 0);
    assert_int_equal(model_init_weights(&m, 7, &d), 0);
    m.vocab = malloc(3);
    assert_non_null(m.vocab);
    memcpy(m.vocab, "\x01\x80\xff", 3);    /* bytes, not UTF-8 */
    m.vocab_len = 3;
    m.vocab_level = 1;

    Checkpoint c;
    ckpt_init(&c);
    assert_int_equal(model_to_checkpoint(&m, &c, &d), 0);
    assert_int_equal(model_checkpoint_vocab_level(&c), 1);
    Model back;
    assert_int_equal(model_from_checkpoint(&back, &d, &c, "x.ckpt"), 0);
    assert_int_equal(back.vocab_level, 1);
    assert_int_equal(back.vocab_len, 3);
    assert_memory_equal(back.vocab, "\x01\x80\xff", 3);
    assert_int_equal(back.ir->nparams, m.ir->nparams);
    assert_memory_equal(back.params, m.params, sizeof(float) * (size_t)m.ir->nparams);
    ckpt_free(&c);

    /* the executor borrows m's weights: one buffer, trained in place, each tensor at its
     * offset in m's layout */
    ExecModel *e = model_exec(&m, 2, 3, &d);
    assert_non_null(e);
    float *p = exec_params(e);
    assert_ptr_equal(p, m.params);
    const float *want = back.params;    /* the initial weights, loaded from the checkpoint */
    for (int i = 0; i < exec_ntensors(e); i++) {
        const ExecTensor *t = exec_tensor(e, i);
        assert_memory_equal(p + t->offset, want, sizeof(float) * (size_t)t->size);
        want += t->size;
    }
    for (int i = 0; i < exec_ntensors(e); i++) {   /* train: every weight changes */
        const ExecTensor *t = exec_tensor(e, i);
        for (int64_t k = 0; k < t->size; k++)
            p[t->offset + k] = (float)(i * 1000 + k);
    }
    float *q = m.params;                            /* the model sees them without a copy */
    for (int i = 0; i < exec_ntensors(e); i++)
        for (int64_t k = 0; k < exec_tensor(e, i)->size; k++)
            assert_true(*q++ == (float)(i * 1000 + k));
    CkptTensorList l = {0};                         /* loading into m is seen by the executor */
    assert_int_equal(model_get_tensors(&back, &l, &d), 0);
    assert_int_equal(model_set_tensors(&m, &l, "x.ckpt", &d), 0);
    ckpt_tensors_free(&l);
    want = back.params;
    for (int i = 0; i < exec_ntensors(e); i++) {
        const ExecTensor *t = exec_tensor(e, i);
        assert_memory_equal(p + t->offset, want, sizeof(float) * (size_t)t->size);
        want += t->size;
    }
    exec_free(e);
    model_free(&back);
    model_free(&m);
    assert_int_equal(diag_error_count(&d), 0);
    diag_free(&d);
}

/* Two phases: one parse, compiled with sizes bound by SemaSizes, equals a compile with the
 * same --set; the IR outlives every Diag (the prelude is a static source). */
static void test_unit_sizes_and_static_prelude(void **state)
{
    (void)state;
    Diag d;
    diag_init(&d);
    const Source *src = diag_add_source(&d, "m.rnn", MODEL_TEXT, strlen(MODEL_TEXT));
    SemaUnit *u = sema_unit_parse(&d, src, NULL, 0);
    assert_non_null(u);
    const char *sets[] = {"vocab=9"};
    IrModel *ref = sema_compile(&d, src, sets, 1);
    assert_non_null(ref);
    Diag other;     /* phase 2 may report into another Diag, freed before the IR is used */
    diag_init(&other);
    SemaSizes sizes = {.vocab = 9};
    IrModel *m = sema_unit_compile(u, &other, &sizes, NULL);
    SemaSizes bigger = {.vocab = 11};
    IrModel *m11 = sema_unit_compile(u, &other, &bigger, NULL);   /* the unit is reusable */
    diag_free(&other);
    assert_non_null(m);
    assert_non_null(m11);
    assert_int_equal(m->vocab, 9);
    assert_int_equal(m11->vocab, 11);
    assert_int_equal(m->nparams, ref->nparams);
    assert_int_equal(m->ntensors, ref->ntensors);
    for (int i = 0; i < ref->ntensors; i++) {
        assert_string_equal(m->tensors[i].name, ref->tensors[i].name);
        assert_int_equal(m->tensors[i].size, ref->tensors[i].size);
    }
    /* the lstm's cell comes from the prelude: its ranges point into the static source */
    const IrLayer *lstm = &m->layers[2];
    assert_int_equal(lstm->kind, IR_LAYER_RECURRENT);
    const SrcRange loc = lstm->cells[0].nodes[lstm->cells[0].nnodes - 1].loc;
    assert_ptr_equal(loc.src, &lang_prelude_source);
    assert_true(loc.end <= lang_prelude_source.len);
    assert_string_equal(lang_prelude_source.name, "<prelude>");
    /* an unbound size is still refused without allow_auto; a bad one is reported */
    assert_null(sema_unit_compile(u, &d, NULL, NULL));
    SemaSizes bad = {.vocab = -1};
    assert_null(sema_unit_compile(u, &d, &bad, NULL));
    ir_model_free(m);
    ir_model_free(m11);
    ir_model_free(ref);
    sema_unit_free(u);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recompile),
        cmocka_unit_test(test_checkpoint_vocab_and_exec),
        cmocka_unit_test(test_unit_sizes_and_static_prelude),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
