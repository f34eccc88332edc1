/* A pickle interpreter for PyTorch state dicts (data.pkl of a torch.save
 * archive).
 *
 * It builds plain values (None, bools, ints, floats, strings, tuples, lists,
 * dicts) and tensors, and understands only the globals torch.save writes for
 * state dicts (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
 * _rebuild_parameter, the torch.*Storage types, ...). Any other global is
 * refused by name: nothing in the file is ever executed, and a pickle naming
 * os.system or a model class fails instead of being half-understood.
 * Every read is bounds-checked; a malformed pickle is an error. */
#ifndef VC_NN_IO_PICKLE_H
#define VC_NN_IO_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/weights.h"

typedef enum {
    PK_NONE,
    PK_BOOL,
    PK_INT,
    PK_FLOAT,
    PK_STR,       /* str or bytes; NUL-terminated copy */
    PK_TUPLE,
    PK_LIST,      /* also sets: they are only walked, never queried */
    PK_DICT,      /* keys in insertion order, as Python dicts */
    PK_GLOBAL,    /* one of the known globals */
    PK_STORAGE,   /* a tensor storage (persistent id), bytes in the archive */
    PK_TENSOR,
} pk_kind;

typedef struct pk_value pk_value;
struct pk_global_def;

struct pk_value {
    pk_kind kind;
    bool visited;        /* for walks over a graph that may share nodes */
    pk_value *next;      /* every value of a load, for freeing */
    union {
        bool b;
        int64_t i;
        double f;
        struct { char *s; size_t len; } str;
        struct { pk_value **items; size_t len, cap; } seq;
        struct { pk_value **keys, **vals; size_t len, cap; } dict;
        const struct pk_global_def *global;
        struct { vc_dtype dtype; const uint8_t *data; uint64_t numel; } storage;
        vc_weight_info tensor;   /* name and file left NULL */
    } u;
};

/* Finds the bytes of storage `key` (archive member data/KEY). */
typedef int (*pk_storage_loader)(void *ctx, const char *key, const uint8_t **data,
                                 uint64_t *nbytes, char *err, size_t errlen);

/* Owns every value a load created. */
typedef struct pk_heap {
    pk_value *all;
} pk_heap;

/* Runs the pickle and returns the object it builds (owned by heap), or NULL
 * with the cause in err. */
pk_value *pk_load(const uint8_t *data, size_t len, pk_storage_loader loader, void *loader_ctx,
                  pk_heap *heap, char *err, size_t errlen);
void pk_heap_free(pk_heap *heap);

#endif
