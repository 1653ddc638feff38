/* layer_kinds: the executor hooks of every layer kind, one ExecLayerOps per kind, each defined
 * in its layer_<kind>.c file and gathered into the table indexed by IrLayerKind in
 * exec_layers.c. Internal to src/exec.
 *
 * Ownership: static tables; nothing is allocated. */
#ifndef RECUR_LAYER_KINDS_H
#define RECUR_LAYER_KINDS_H

#include "exec/exec_int.h"

extern const ExecLayerOps layer_tokens_ops;     /* layer_input.c: input tokens */
extern const ExecLayerOps layer_vector_ops;     /* layer_input.c: input vector */
extern const ExecLayerOps layer_embedding_ops;  /* layer_embedding.c */
extern const ExecLayerOps layer_onehot_ops;     /* layer_embedding.c */
extern const ExecLayerOps layer_recurrent_ops;  /* layer_recurrent.c */
extern const ExecLayerOps layer_dense_ops;      /* layer_dense.c */
extern const ExecLayerOps layer_dropout_ops;    /* layer_rowwise.c */
extern const ExecLayerOps layer_layernorm_ops;  /* layer_rowwise.c */
extern const ExecLayerOps layer_softmax_ops;    /* layer_rowwise.c */
extern const ExecLayerOps layer_pool_ops;       /* layer_pool.c */
extern const ExecLayerOps layer_concat_ops;     /* layer_join.c */
extern const ExecLayerOps layer_add_ops;        /* layer_join.c */

#endif
