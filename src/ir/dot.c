/* dot: Graphviz text for the model graph and for one cell's equation graph (see dot.h). */
#include "ir/dot.h"

#include <string.h>

/* Writes s inside a DOT double-quoted string (escaping quotes and backslashes). */
static void put_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

void ir_dot_model(const IrModel *m, FILE *out)
{
    fprintf(out, "digraph \"");
    put_escaped(out, m->name ? m->name : "model");
    fprintf(out, "\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for (int i = 0; i < m->nlayers; i++) {
        const IrLayer *l = &m->layers[i];
        bool cells = ir_layer_facts[l->kind].cells;
        const char *kind = cells && l->ncells ? l->cells[0].name
                                              : ir_layer_facts[l->kind].spelling;
        fprintf(out, "  l%d [label=\"", i);
        put_escaped(out, l->label);
        fprintf(out, "\\n");
        put_escaped(out, kind);
        if (cells && (l->num_layers > 1 || l->bidirectional))
            fprintf(out, " (%d layer%s%s)", l->num_layers, l->num_layers > 1 ? "s" : "",
                    l->bidirectional ? ", bidirectional" : "");
        if (l->tokens)
            fprintf(out, "\\nids < %d\"", l->vocab);
        else
            fprintf(out, "\\n%s%d\"", l->sequence ? "" : "per sequence: ", l->width);
        if (i == m->output)
            fprintf(out, ", peripheries=2");
        if (cells)
            fprintf(out, ", style=filled, fillcolor=\"#e8f0ff\"");
        fprintf(out, "];\n");
    }
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < m->layers[i].ninputs; j++)
            fprintf(out, "  l%d -> l%d;\n", m->layers[i].inputs[j], i);
    fprintf(out, "}\n");
}

/* One node of a cell graph: its op (or name), its shape. */
static void cell_node(FILE *out, const IrCell *c, int i)
{
    const IrNode *n = &c->nodes[i];
    fprintf(out, "  n%d [label=\"", i);
    switch (n->op) {
    case IR_OP_INPUT:
        put_escaped(out, n->name ? n->name : "x");
        fprintf(out, "\\n[%d]\", shape=invhouse", n->width);
        break;
    case IR_OP_PARAM:
        put_escaped(out, n->name ? n->name : "param");
        if (n->rows)
            fprintf(out, "\\n[%d, %d]\"", n->rows, n->width);
        else
            fprintf(out, "\\n[%d]\"", n->width);
        fprintf(out, ", shape=box, style=filled, fillcolor=\"#eeeeee\"");
        break;
    case IR_OP_STATE:
        put_escaped(out, n->name ? n->name : "state");
        fprintf(out, "[t-1]\\n[%d]\", shape=ellipse, style=filled, fillcolor=\"#ffe8c0\"",
                n->width);
        break;
    case IR_OP_CONST:
        fprintf(out, "%g\", shape=plaintext", n->value);
        break;
    default:
        if (n->name) {
            put_escaped(out, n->name);
            fprintf(out, " = ");
        }
        if (n->op == IR_OP_SLICE)
            fprintf(out, "chunk[%d:%d]", n->aux, n->aux + n->width);
        else
            put_escaped(out, ir_op_spelling[n->op]);
        fprintf(out, "\\n[%d]\"", n->width);
        break;
    }
    if (i == c->output)
        fprintf(out, ", peripheries=2");
    fprintf(out, "];\n");
}

/* Finds the cell to draw: a layer label first, then the first layer using a cell name. */
static const IrCell *find_cell(const IrModel *m, const char *name)
{
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].ncells && strcmp(m->layers[i].label, name) == 0)
            return &m->layers[i].cells[0];
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].ncells && strcmp(m->layers[i].cells[0].name, name) == 0)
            return &m->layers[i].cells[0];
    return NULL;
}

int ir_dot_cell(const IrModel *m, const char *name, Diag *d, FILE *out)
{
    const IrCell *c = find_cell(m, name);
    if (!c) {
        const char *cand[512];
        int n = 0;
        for (int i = 0; i < m->nlayers && n < 510; i++)
            if (m->layers[i].ncells) {
                cand[n++] = m->layers[i].label;
                cand[n++] = m->layers[i].cells[0].name;
            }
        const char *sug = diag_suggest(name, cand, n);
        DiagMessage *msg = sug ? diag_error_in(d, "--cell", "no cell '%s' in the model; did "
                                               "you mean '%s'?", name, sug)
                               : diag_error_in(d, "--cell", "no cell '%s' in the model", name);
        diag_help(msg, n ? "give a recurrent layer's label or its cell's name"
                         : "the model has no recurrent layer");
        return -1;
    }
    fprintf(out, "digraph \"");
    put_escaped(out, c->name);
    fprintf(out, "\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", shape=box, "
            "style=rounded];\n  edge [fontname=\"Helvetica\"];\n");
    for (int i = 0; i < c->nnodes; i++)
        cell_node(out, c, i);
    for (int i = 0; i < c->nnodes; i++)
        for (int j = 0; j < c->nodes[i].nin; j++)
            fprintf(out, "  n%d -> n%d;\n", c->nodes[i].in[j], i);
    /* t-1 edges: a state's new value becomes the next step's read of it */
    for (int s = 0; s < c->nstates; s++)
        for (int i = 0; i < c->nnodes; i++)
            if (c->nodes[i].op == IR_OP_STATE && c->nodes[i].aux == s && c->states[s].next >= 0)
                fprintf(out, "  n%d -> n%d [style=dashed, label=\"t-1\", constraint=false, "
                        "color=\"#c06000\"];\n", c->states[s].next, i);
    fprintf(out, "}\n");
    return 0;
}
