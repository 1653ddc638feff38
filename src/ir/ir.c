/* ir: the tables of op spellings and layer-kind facts, and small lookups over an IrModel. */
#include "ir/ir.h"
#include "ir/op_math.h"

#include <stdlib.h>
#include <string.h>

const char *const ir_op_spelling[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) spelling,
#include "ir/ops.def"
#undef IR_OP
};

const int ir_op_arity[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) arity,
#include "ir/ops.def"
#undef IR_OP
};

const IrOpShape ir_op_shape[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) IR_SHAPE_##shape,
#include "ir/ops.def"
#undef IR_OP
};

/* FUNC rows are functions of the cell language; SYNTAX rows are not. */
#define IR_OP_IS_FUNC true
#define IR_OP_IS_SYNTAX false
const bool ir_op_is_function[IR_OP_COUNT] = {
#define IR_OP(name, spelling, arity, shape, call, fwd, bwd, onnx) IR_OP_IS_##call,
#include "ir/ops.def"
#undef IR_OP
};
#undef IR_OP_IS_FUNC
#undef IR_OP_IS_SYNTAX

/* The BOUNDED ops' parameters: clip's bounds are required; ONNX's activations default to the
 * ONNX operators' values, so `hardsigmoid(x)` is ONNX's and Keras's hard_sigmoid. */
const IrOpParams ir_op_params[IR_OP_COUNT] = {
    [IR_OP_CLIP] = { "clip(x, lo, hi)", 3, { 0, 0 } },
    [IR_OP_HARDSIGMOID] = { "hardsigmoid(x, alpha, beta)", 1,
                            { OP_HARDSIGMOID_ALPHA, OP_HARDSIGMOID_BETA } },
    [IR_OP_LEAKYRELU] = { "leakyrelu(x, alpha)", 1, { OP_LEAKYRELU_ALPHA, 0 } },
    [IR_OP_THRESHOLDEDRELU] = { "thresholdedrelu(x, alpha)", 1, { OP_THRESHOLDEDRELU_ALPHA, 0 } },
    [IR_OP_ELU] = { "elu(x, alpha)", 1, { OP_ELU_ALPHA, 0 } },
    [IR_OP_SCALEDTANH] = { "scaledtanh(x, alpha, beta)", 1,
                           { OP_SCALEDTANH_ALPHA, OP_SCALEDTANH_BETA } },
    [IR_OP_AFFINE] = { "affine(x, alpha, beta)", 1, { OP_AFFINE_ALPHA, OP_AFFINE_BETA } },
};

const IrLayerFacts ir_layer_facts[IR_LAYER_COUNT] = {
#define X(name, spelling, input, gives, reads, keeps, cells, probs, show) \
    { spelling, input, gives, reads, keeps, cells, probs, show },
    IR_LAYER_KINDS(X)
#undef X
};

const char *const ir_role_spelling[IR_ROLE_COUNT] = {
#define X(name, spelling) spelling,
    IR_TENSOR_ROLES(X)
#undef X
};

/* Releases the model's arena (which holds everything) and the model itself. */
void ir_model_free(IrModel *m)
{
    if (!m)
        return;
    arena_free(&m->arena);
    free(m);
}

/* Linear search: settings lists are a handful of entries. */
const IrSetting *ir_find_setting(const IrSetting *s, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    return NULL;
}

/* Linear search over the tensor table (a few dozen entries for real models). */
int ir_find_tensor(const IrModel *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return i;
    return -1;
}
