/* pickle: a restricted Python pickle reader and a pickle writer, for exactly what torch.save
 * writes (protocol 2; the framing opcodes of protocols 3-4 are accepted too). The opcode table
 * (PICKLE_OPCODES) is the one list of what is understood: any other opcode is refused by name.
 *
 * Nothing is ever executed. A GLOBAL is resolved against an allow-list (pickle.c: allowed[]):
 * collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter(_with_state),
 * the torch storage types and _codecs.encode (bytes under protocol 2); the few callables among
 * them are interpreted here, by name, with their arguments checked. Any other global (`os.system`,
 * `builtins.exec`, `subprocess.Popen`, a class of the saving script) is refused with an error
 * naming it; when the pickle names torch.nn's classes, the refusal adds that the file
 * holds a whole pickled nn.Module and `model.state_dict()` should be saved instead. The memo, the
 * stack and the number of values are bounded (PICKLE_MAX_*: each opcode makes at most one value
 * of about 200 bytes, and there are at most PICKLE_MAX_VALUES), so a hostile input cannot
 * exhaust memory.
 *
 * Persistent ids (BINPERSID) must be torch storage references ('storage', torch.XStorage, "key",
 * "location", numel[, view]) and become PK_STORAGE values; _rebuild_tensor_v2 calls become
 * PK_TENSOR values (storage, offset, size, stride), checked for rank and sign but not yet
 * against the storage's size (the caller does that when the bytes are known).
 *
 * Ownership: every PkValue of one load lives in its PkDoc (a pool, values shared through the memo
 * are shared pointers); pickle_doc_free releases them all. The writer's PkWriter owns its
 * growing buffer (pk_writer_free, or take it with pk_writer_take). */
#ifndef RECUR_IO_PICKLE_H
#define RECUR_IO_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

enum {
    PICKLE_MAX_MEMO = 1 << 20,
    PICKLE_MAX_STACK = 1 << 20,
    PICKLE_MAX_VALUES = 1 << 19,   /* a state_dict needs ~15 per tensor */
    PICKLE_MAX_DIMS = 8,
};

/* The opcodes understood: X(NAME, byte, what it does). One table for the reader's dispatch and
 * the writer's emitters. */
#define PICKLE_OPCODES(X)                                               \
    X(PROTO, 0x80, "protocol version")                                  \
    X(FRAME, 0x95, "frame length (protocol 4)")                         \
    X(STOP, '.', "end of the pickle")                                   \
    X(MARK, '(', "push a mark")                                         \
    X(POP, '0', "discard the top")                                      \
    X(POP_MARK, '1', "discard to the mark")                             \
    X(DUP, '2', "duplicate the top")                                    \
    X(NONE, 'N', "None")                                                \
    X(NEWTRUE, 0x88, "True")                                            \
    X(NEWFALSE, 0x89, "False")                                          \
    X(BININT, 'J', "int32")                                             \
    X(BININT1, 'K', "uint8")                                            \
    X(BININT2, 'M', "uint16")                                           \
    X(LONG1, 0x8a, "long, 1-byte length")                               \
    X(BINFLOAT, 'G', "float64, big-endian")                             \
    X(BINUNICODE, 'X', "str, 4-byte length")                            \
    X(SHORT_BINUNICODE, 0x8c, "str, 1-byte length")                     \
    X(BINUNICODE8, 0x8d, "str, 8-byte length")                          \
    X(SHORT_BINSTRING, 'U', "bytes-like str, 1-byte length")            \
    X(BINSTRING, 'T', "bytes-like str, 4-byte length")                  \
    X(SHORT_BINBYTES, 'C', "bytes, 1-byte length")                      \
    X(BINBYTES, 'B', "bytes, 4-byte length")                            \
    X(EMPTY_TUPLE, ')', "()")                                           \
    X(TUPLE, 't', "tuple from the mark")                                \
    X(TUPLE1, 0x85, "1-tuple")                                          \
    X(TUPLE2, 0x86, "2-tuple")                                          \
    X(TUPLE3, 0x87, "3-tuple")                                          \
    X(EMPTY_LIST, ']', "[]")                                            \
    X(LIST, 'l', "list from the mark")                                  \
    X(APPEND, 'a', "list append")                                       \
    X(APPENDS, 'e', "list extend from the mark")                        \
    X(EMPTY_DICT, '}', "{}")                                            \
    X(DICT, 'd', "dict from the mark")                                  \
    X(SETITEM, 's', "dict item")                                        \
    X(SETITEMS, 'u', "dict items from the mark")                        \
    X(BINPUT, 'q', "memo store, 1-byte index")                          \
    X(LONG_BINPUT, 'r', "memo store, 4-byte index")                     \
    X(MEMOIZE, 0x94, "memo store, next index")                          \
    X(BINGET, 'h', "memo fetch, 1-byte index")                          \
    X(LONG_BINGET, 'j', "memo fetch, 4-byte index")                     \
    X(GLOBAL, 'c', "module and name (allow-listed)")                    \
    X(STACK_GLOBAL, 0x93, "module and name from the stack")             \
    X(REDUCE, 'R', "call (allow-listed callables only)")                \
    X(BUILD, 'b', "set state (ignored for OrderedDict and tensors)")    \
    X(BINPERSID, 'Q', "persistent id (torch storages)")

typedef enum PkOp {
#define X(name, byte, what) PK_OP_##name = byte,
    PICKLE_OPCODES(X)
#undef X
} PkOp;

typedef enum PkKind {
    PK_NONE, PK_BOOL, PK_INT, PK_FLOAT, PK_STR, PK_BYTES, PK_TUPLE, PK_LIST, PK_DICT,
    PK_GLOBAL, PK_STORAGE, PK_TENSOR, PK_MARK
} PkKind;

/* torch storage element types, as named by torch.<Name>Storage. */
typedef enum PkDtype { PK_F32, PK_F64, PK_F16, PK_BF16, PK_I64, PK_I32, PK_I16, PK_I8, PK_U8,
                       PK_BOOLEAN, PK_DTYPE_COUNT } PkDtype;

typedef struct PkValue PkValue;
struct PkValue {
    PkKind kind;
    int64_t i;              /* INT, BOOL; STORAGE: numel */
    double f;               /* FLOAT */
    char *s;                /* STR/BYTES (len bytes + NUL); GLOBAL "module.name"; STORAGE key */
    size_t len;
    PkValue **items;        /* TUPLE/LIST: n items; DICT: n pairs as 2n items (k, v, ...) */
    int n;
    size_t cap;
    /* STORAGE: dtype (and i = numel, s = key). TENSOR: storage, offset, ndim, shape, stride. */
    PkDtype dtype;
    PkValue *storage;
    int64_t offset;
    int ndim;
    int64_t shape[PICKLE_MAX_DIMS], stride[PICKLE_MAX_DIMS];
};

typedef struct PkDoc {
    PkValue **pool;         /* every value made, for pickle_doc_free */
    int npool;
    size_t pool_cap;
} PkDoc;

/* Element size of a storage dtype, and its torch spelling ("FloatStorage"). */
size_t pickle_dtype_size(PkDtype t);
const char *pickle_dtype_name(PkDtype t);

/* Unpickles one pickle from buf[0..n): *root is the value STOP returned, *used the bytes it
 * took (legacy files hold several pickles in a row). what names the input in messages
 * ("m.pt: data.pkl"). -1 (reported, with the byte offset) on anything refused or malformed. */
int pickle_load(const unsigned char *buf, size_t n, const char *what, PkDoc *doc,
                PkValue **root, size_t *used, Diag *d);
void pickle_doc_free(PkDoc *doc);
/* The value for the string key in a DICT, or NULL. */
PkValue *pickle_dict_get(const PkValue *dict, const char *key);

typedef struct PkWriter {
    unsigned char *buf;
    size_t len, cap;
    bool oom;
    uint32_t memo;          /* next memo index */
} PkWriter;

/* Emitters (protocol 2), each one opcode and its argument. */
void pk_emit_op(PkWriter *w, PkOp op);
void pk_emit_proto(PkWriter *w, int version);
void pk_emit_int(PkWriter *w, int64_t v);     /* BININT1/BININT2/BININT/LONG1 as numbers need */
void pk_emit_str(PkWriter *w, const char *s); /* BINUNICODE */
void pk_emit_global(PkWriter *w, const char *module, const char *name);
void pk_emit_put(PkWriter *w);               /* BINPUT/LONG_BINPUT with the next index */
void pk_emit_get(PkWriter *w, uint32_t index);
/* The bytes written so far (NULL when out of memory); the writer is emptied. */
unsigned char *pk_writer_take(PkWriter *w, size_t *len);
void pk_writer_free(PkWriter *w);

#endif
