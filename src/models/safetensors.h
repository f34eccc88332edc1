/* Writing safetensors files (https://github.com/huggingface/safetensors):
 *   u64 little-endian header length N, N bytes of JSON header, raw data.
 * The header is {"__metadata__": {str: str}, NAME: {"dtype", "shape",
 * "data_offsets": [begin, end]}, ...}; offsets are relative to the data
 * start, tensors are contiguous and row-major, with no holes between them.
 * Like the reference writer we lay tensors out by decreasing element size,
 * then by name, so each tensor is aligned to its element size, and pad the
 * header with spaces so the data starts on an 8-byte boundary. */
#ifndef VC_MODELS_SAFETENSORS_H
#define VC_MODELS_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vc_st_tensor {
    const char *name;
    const char *dtype;       /* "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL" */
    int ndim;
    const int64_t *shape;
    const int64_t *strides;  /* in elements; NULL: contiguous */
    const void *data;        /* first element */
} vc_st_tensor;

/* Element size of a safetensors dtype name, 0 if unknown. */
size_t vc_st_dtype_size(const char *dtype);

/* Writes path atomically (temporary name in the same folder, fsync,
 * rename). metadata: key, value, key, value, ..., NULL (may be NULL).
 * sha256_hex (>= 65 bytes, may be NULL) gets the file's sha256. Returns 0,
 * or -1 with a message in err (nothing is left under path or the
 * temporary name). cancelled may be NULL. */
int vc_safetensors_write(const char *path, const vc_st_tensor *tensors, size_t n, const char *const *metadata,
                         char *sha256_hex, bool (*cancelled)(void), char *err, size_t errlen);

#endif
