/* Model weights as users download them, read in place.
 *
 * One reader for the three layouts published checkpoints come in:
 *  - PyTorch zip archives (.pth/.bin written by torch.save): data.pkl is a
 *    pickle of the state dict (OrderedDict of _rebuild_tensor_v2 calls whose
 *    storages are persistent ids naming archive members data/N);
 *  - safetensors (8-byte header length, JSON header, raw data);
 *  - Hugging Face sharded indexes (*.index.json: weight_map name -> file),
 *    each shard being one of the two above.
 * Files are memory-mapped; only the tensors a model asks for are touched, so
 * reading the encoder out of a 45 GB checkpoint reads the encoder's pages
 * only. A malformed or truncated file is an error naming the file and the
 * cause, never a crash.
 *
 * Refused, with a message saying so: legacy pre-zip torch files (torch < 1.6),
 * TorchScript archives, compressed or big-endian archives, element types
 * outside vc_dtype (int16, complex, float8, quantized, sparse), and pickles
 * naming any global a state dict does not use (nothing is ever executed). */
#ifndef VC_NN_WEIGHTS_H
#define VC_NN_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VC_WEIGHTS_MAX_DIMS 8

typedef enum {
    VC_DT_F32,
    VC_DT_F16,
    VC_DT_BF16,
    VC_DT_F64,
    VC_DT_I64,
    VC_DT_I32,
    VC_DT_I8,
    VC_DT_U8,
    VC_DT_BOOL,
} vc_dtype;

size_t vc_dtype_size(vc_dtype t);
const char *vc_dtype_name(vc_dtype t);   /* "float32", "float16", ... */

/* One tensor of the checkpoint. `data` points into the mapped file at the
 * tensor's first element; elements are at data + sum(i_k * stride[k]) *
 * element size (strides in elements, as PyTorch keeps them; safetensors
 * tensors are contiguous). Little-endian, as both formats store them. torch.save
 * aligns storages to 64 bytes, but safetensors data may be unaligned: load
 * through memcpy, or use vc_weights_read_f32. Valid until vc_weights_close. */
typedef struct vc_weight_info {
    const char *name;
    vc_dtype dtype;
    int ndim;                               /* 0 for a scalar */
    int64_t shape[VC_WEIGHTS_MAX_DIMS];
    int64_t stride[VC_WEIGHTS_MAX_DIMS];
    const void *data;
    const char *file;                       /* the file it lives in, for messages */
} vc_weight_info;

typedef struct vc_weights vc_weights;

/* Opens a checkpoint file (zip, safetensors or *.index.json, recognised by
 * content, not by name). NULL and "FILE: cause" in err on failure.
 *
 * In a torch.save archive the tensors are those of the state dict: the
 * pickled dict itself, or, for a training checkpoint that nests it
 * ({"state_dict": {...}}, {"model": {...}, "optimizer": {...}}), the dict
 * holding the most tensors directly (the first in file order on a tie).
 * Names are that dict's keys, unprefixed; its non-tensor values are skipped.
 *
 * A sharded index opens each shard the first time one of its tensors is
 * asked for. The handle may be shared by threads. */
vc_weights *vc_weights_open(const char *path, char *err, size_t errlen);

/* The same for a checkpoint already in memory (embedded, downloaded, or a
 * test's exact-size buffer that makes any overread visible to ASan). data
 * must outlive the handle; name is used in messages and, for an index, to
 * locate the shards (which are opened from files). */
vc_weights *vc_weights_open_buffer(const void *data, size_t size, const char *name, char *err,
                                   size_t errlen);
void vc_weights_close(vc_weights *w);   /* NULL is fine */

/* Tensors in file order (weight_map order for an index). For an index,
 * vc_weights_at opens the tensor's shard and is NULL if it cannot. */
size_t vc_weights_count(const vc_weights *w);
const vc_weight_info *vc_weights_at(const vc_weights *w, size_t i);
/* NULL if absent (or, for an index, if its shard cannot be opened). */
const vc_weight_info *vc_weights_find(const vc_weights *w, const char *name);

/* vc_weights_find, saying why on failure ("FILE: tensor NAME: not in the
 * checkpoint", or why its shard could not be opened). */
const vc_weight_info *vc_weights_get(const vc_weights *w, const char *name, char *err, size_t errlen);

int64_t vc_weight_numel(const vc_weight_info *t);   /* 1 for a scalar */

/* Copies tensor `name` into dst as float32 (converting f16/bf16/f64, and
 * integer and bool tensors by value, any strides), after checking it exists
 * and has exactly the given shape (ndim 0 and shape NULL for a scalar).
 * Returns 0, or -1 with "FILE: tensor NAME: ..." in err. */
int vc_weights_read_f32(const vc_weights *w, const char *name, int ndim, const int64_t *shape,
                        float *dst, char *err, size_t errlen);

#endif
