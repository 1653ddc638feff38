/* cells_by_hand: IrCell graphs built directly in C for the executor tests (test_cellvm,
 * test_exec), independent of the parser and sema: the prelude's lstm, gru and rnn equations
 * (LANGUAGE.md section 5, PyTorch parametrisation and param order weight_ih, weight_hh,
 * bias_ih, bias_hh), and a peephole LSTM (section 4).
 *
 * Ownership: a CellBuild is a plain struct holding fixed arrays; the IrCell inside points into
 * it, so the CellBuild must outlive every use of its cell. Nothing is heap-allocated. */
#ifndef RECUR_TESTS_CELLS_BY_HAND_H
#define RECUR_TESTS_CELLS_BY_HAND_H

#include <stdarg.h>
#include <string.h>

#include "ir/ir.h"

enum { CB_MAX_NODES = 96, CB_MAX_IN = 6, CB_MAX_PARAMS = 16, CB_MAX_STATES = 8 };

typedef struct CellBuild {
    IrCell c;
    IrNode nodes[CB_MAX_NODES];
    int ins[CB_MAX_NODES][CB_MAX_IN];
    IrParam params[CB_MAX_PARAMS];
    IrState states[CB_MAX_STATES];
} CellBuild;

/* Starts an empty cell with the given input width. */
static inline void cb_init(CellBuild *b, const char *name, int input_width)
{
    memset(b, 0, sizeof *b);
    b->c.name = name;
    b->c.input_width = input_width;
    b->c.nodes = b->nodes;
    b->c.params = b->params;
    b->c.states = b->states;
}

/* Appends a node of op with the given width and nin inputs (node indices). Returns its index. */
static inline int cb_node(CellBuild *b, IrOpKind op, int width, int nin, ...)
{
    int n = b->c.nnodes++;
    IrNode *nd = &b->nodes[n];
    nd->op = op;
    nd->width = width;
    nd->in = b->ins[n];
    nd->nin = nin;
    va_list ap;
    va_start(ap, nin);
    for (int k = 0; k < nin; k++)
        nd->in[k] = va_arg(ap, int);
    va_end(ap);
    for (int k = 0; k < nin; k++)
        nd->uses_state = nd->uses_state || b->nodes[nd->in[k]].uses_state;
    return n;
}

/* Elementwise binary / unary helpers: the result has the wider operand's width. */
static inline int cb_bin(CellBuild *b, IrOpKind op, int x, int y)
{
    int wx = b->nodes[x].width, wy = b->nodes[y].width;
    int n = cb_node(b, op, wx > wy ? wx : wy, 2, x, y);
    b->nodes[n].scalar = b->nodes[x].scalar && b->nodes[y].scalar;
    return n;
}
static inline int cb_un(CellBuild *b, IrOpKind op, int x)
{
    return cb_node(b, op, b->nodes[x].width, 1, x);
}

/* The cell's input x_t. */
static inline int cb_input(CellBuild *b) { return cb_node(b, IR_OP_INPUT, b->c.input_width, 0); }

/* A scalar constant. */
static inline int cb_const(CellBuild *b, double v)
{
    int n = cb_node(b, IR_OP_CONST, 1, 0);
    b->nodes[n].value = v;
    b->nodes[n].scalar = true;
    return n;
}

/* Declares a trained tensor [rows][cols] (rows 0: vector) and returns its PARAM node. */
static inline int cb_param(CellBuild *b, const char *name, int rows, int cols)
{
    int k = b->c.nparams++;
    b->params[k].name = name;
    b->params[k].rows = rows;
    b->params[k].cols = cols;
    b->params[k].tensor = -1;
    int n = cb_node(b, IR_OP_PARAM, cols, 0);
    b->nodes[n].rows = rows;
    b->nodes[n].aux = k;
    return n;
}

/* Declares a state of width w (its next node is set with cb_set_next); returns its index. */
static inline int cb_state_decl(CellBuild *b, const char *name, int w)
{
    int s = b->c.nstates++;
    b->states[s].name = name;
    b->states[s].width = w;
    b->states[s].next = -1;
    return s;
}
/* A read of state s at t-1. */
static inline int cb_prev(CellBuild *b, int s)
{
    int n = cb_node(b, IR_OP_STATE, b->states[s].width, 0);
    b->nodes[n].aux = s;
    b->nodes[n].uses_state = true;
    return n;
}
static inline void cb_set_next(CellBuild *b, int s, int node) { b->states[s].next = node; }

/* W @ v. */
static inline int cb_matvec(CellBuild *b, int W, int v)
{
    return cb_node(b, IR_OP_MATVEC, b->nodes[W].rows, 2, W, v);
}
/* Elements [off, off + w) of v (one part of chunk). */
static inline int cb_slice(CellBuild *b, int v, int off, int w)
{
    int n = cb_node(b, IR_OP_SLICE, w, 1, v);
    b->nodes[n].aux = off;
    return n;
}

/* LSTM (gates i, f, g, o):
 *   [zi zf zg zo] = weight_ih @ x + bias_ih + weight_hh @ h[t-1] + bias_hh
 *   c = sigmoid(zf) * c[t-1] + sigmoid(zi) * tanh(zg);  h = sigmoid(zo) * tanh(c)
 * States: h (0), c (1). */
static inline void cb_lstm(CellBuild *b, int I, int H)
{
    cb_init(b, "lstm", I);
    int sh = cb_state_decl(b, "h", H), sc = cb_state_decl(b, "c", H);
    int wih = cb_param(b, "weight_ih", 4 * H, I), whh = cb_param(b, "weight_hh", 4 * H, H);
    int bih = cb_param(b, "bias_ih", 0, 4 * H), bhh = cb_param(b, "bias_hh", 0, 4 * H);
    int x = cb_input(b), h = cb_prev(b, sh), c = cb_prev(b, sc);
    int z = cb_bin(b, IR_OP_ADD, cb_bin(b, IR_OP_ADD, cb_matvec(b, wih, x), bih),
                   cb_bin(b, IR_OP_ADD, cb_matvec(b, whh, h), bhh));
    int i = cb_un(b, IR_OP_SIGMOID, cb_slice(b, z, 0, H));
    int f = cb_un(b, IR_OP_SIGMOID, cb_slice(b, z, H, H));
    int g = cb_un(b, IR_OP_TANH, cb_slice(b, z, 2 * H, H));
    int o = cb_un(b, IR_OP_SIGMOID, cb_slice(b, z, 3 * H, H));
    int cn = cb_bin(b, IR_OP_ADD, cb_bin(b, IR_OP_MUL, f, c), cb_bin(b, IR_OP_MUL, i, g));
    int hn = cb_bin(b, IR_OP_MUL, o, cb_un(b, IR_OP_TANH, cn));
    cb_set_next(b, sh, hn);
    cb_set_next(b, sc, cn);
    b->c.output = hn;
}

/* GRU (gates r, z, n; reset after the recurrent product):
 *   gi = weight_ih @ x + bias_ih,  gh = weight_hh @ h[t-1] + bias_hh
 *   r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n)
 *   h = (1 - z) * n + z * h[t-1].  State: h. */
static inline void cb_gru(CellBuild *b, int I, int H)
{
    cb_init(b, "gru", I);
    int sh = cb_state_decl(b, "h", H);
    int wih = cb_param(b, "weight_ih", 3 * H, I), whh = cb_param(b, "weight_hh", 3 * H, H);
    int bih = cb_param(b, "bias_ih", 0, 3 * H), bhh = cb_param(b, "bias_hh", 0, 3 * H);
    int x = cb_input(b), h = cb_prev(b, sh);
    int gi = cb_bin(b, IR_OP_ADD, cb_matvec(b, wih, x), bih);
    int gh = cb_bin(b, IR_OP_ADD, cb_matvec(b, whh, h), bhh);
    int r = cb_un(b, IR_OP_SIGMOID,
                  cb_bin(b, IR_OP_ADD, cb_slice(b, gi, 0, H), cb_slice(b, gh, 0, H)));
    int z = cb_un(b, IR_OP_SIGMOID,
                  cb_bin(b, IR_OP_ADD, cb_slice(b, gi, H, H), cb_slice(b, gh, H, H)));
    int n = cb_un(b, IR_OP_TANH,
                  cb_bin(b, IR_OP_ADD, cb_slice(b, gi, 2 * H, H),
                         cb_bin(b, IR_OP_MUL, r, cb_slice(b, gh, 2 * H, H))));
    int one = cb_const(b, 1.0);
    int hn = cb_bin(b, IR_OP_ADD, cb_bin(b, IR_OP_MUL, cb_bin(b, IR_OP_SUB, one, z), n),
                    cb_bin(b, IR_OP_MUL, z, h));
    cb_set_next(b, sh, hn);
    b->c.output = hn;
}

/* Elman RNN: h = act(weight_ih @ x + bias_ih + weight_hh @ h[t-1] + bias_hh), act = tanh or
 * relu (IR_OP_TANH / IR_OP_RELU). State: h. */
static inline void cb_rnn(CellBuild *b, int I, int H, IrOpKind act)
{
    cb_init(b, "rnn", I);
    int sh = cb_state_decl(b, "h", H);
    int wih = cb_param(b, "weight_ih", H, I), whh = cb_param(b, "weight_hh", H, H);
    int bih = cb_param(b, "bias_ih", 0, H), bhh = cb_param(b, "bias_hh", 0, H);
    int x = cb_input(b), h = cb_prev(b, sh);
    int z = cb_bin(b, IR_OP_ADD, cb_bin(b, IR_OP_ADD, cb_matvec(b, wih, x), bih),
                   cb_bin(b, IR_OP_ADD, cb_matvec(b, whh, h), bhh));
    int hn = cb_un(b, act, z);
    cb_set_next(b, sh, hn);
    b->c.output = hn;
}

/* The peephole LSTM of LANGUAGE.md section 4:
 *   zi, zf, zg, zo = chunk(W @ x + U @ h[t-1] + b, 4)
 *   i = sigmoid(zi + p_i * c[t-1]); f = sigmoid(zf + p_f * c[t-1])
 *   c = f * c[t-1] + i * tanh(zg); o = sigmoid(zo + p_o * c); h = o * tanh(c)
 * States h (0), c (1); params W, U, b, p_i, p_f, p_o. */
static inline void cb_peephole(CellBuild *b, int I, int H)
{
    cb_init(b, "peephole", I);
    int sh = cb_state_decl(b, "h", H), sc = cb_state_decl(b, "c", H);
    int W = cb_param(b, "W", 4 * H, I), U = cb_param(b, "U", 4 * H, H);
    int bb = cb_param(b, "b", 0, 4 * H);
    int pi = cb_param(b, "p_i", 0, H), pf = cb_param(b, "p_f", 0, H), po = cb_param(b, "p_o", 0, H);
    int x = cb_input(b), h = cb_prev(b, sh), c = cb_prev(b, sc);
    int z = cb_bin(b, IR_OP_ADD,
                   cb_bin(b, IR_OP_ADD, cb_matvec(b, W, x), cb_matvec(b, U, h)), bb);
    int i = cb_un(b, IR_OP_SIGMOID,
                  cb_bin(b, IR_OP_ADD, cb_slice(b, z, 0, H), cb_bin(b, IR_OP_MUL, pi, c)));
    int f = cb_un(b, IR_OP_SIGMOID,
                  cb_bin(b, IR_OP_ADD, cb_slice(b, z, H, H), cb_bin(b, IR_OP_MUL, pf, c)));
    int cn = cb_bin(b, IR_OP_ADD, cb_bin(b, IR_OP_MUL, f, c),
                    cb_bin(b, IR_OP_MUL, i, cb_un(b, IR_OP_TANH, cb_slice(b, z, 2 * H, H))));
    int o = cb_un(b, IR_OP_SIGMOID,
                  cb_bin(b, IR_OP_ADD, cb_slice(b, z, 3 * H, H), cb_bin(b, IR_OP_MUL, po, cn)));
    int hn = cb_bin(b, IR_OP_MUL, o, cb_un(b, IR_OP_TANH, cn));
    cb_set_next(b, sh, hn);
    cb_set_next(b, sc, cn);
    b->c.output = hn;
}

/* The same peephole LSTM as .rnn source text (a string literal to paste into a test program), for
 * the tests that compile it through sema instead of building it by hand. */
#define CB_PEEPHOLE_SRC \
    "cell peephole(H) {\n" \
    "  input x : [I]\n" \
    "  state h : [H], c : [H]\n" \
    "  param W : [4*H, I], U : [4*H, H] = uniform(-0.5, 0.5)\n" \
    "  param b : [4*H] = 0.1\n" \
    "  param p_i : [H], p_f : [H], p_o : [H] = uniform(-0.5, 0.5)\n" \
    "  zi, zf, zg, zo = chunk(W @ x + U @ h[t-1] + b, 4)\n" \
    "  i = sigmoid(zi + p_i * c[t-1])\n" \
    "  f = sigmoid(zf + p_f * c[t-1])\n" \
    "  c = f * c[t-1] + i * tanh(zg)\n" \
    "  o = sigmoid(zo + p_o * c)\n" \
    "  h = o * tanh(c)\n" \
    "  output h\n" \
    "}\n"

#endif
