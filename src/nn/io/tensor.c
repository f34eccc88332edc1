/* Element types, extents, and copying any tensor out as float32. */
#include <stdio.h>
#include <string.h>

#include "nn/io/io_internal.h"

/* Tensor bytes are used as they lie in the file, which is little-endian. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "checkpoint reading needs a little-endian host");

static const struct {
    const char *name;
    size_t size;
} dtype_table[] = {
    [VC_DT_F32] = {"float32", 4}, [VC_DT_F16] = {"float16", 2}, [VC_DT_BF16] = {"bfloat16", 2},
    [VC_DT_F64] = {"float64", 8}, [VC_DT_I64] = {"int64", 8},   [VC_DT_I32] = {"int32", 4},
    [VC_DT_I8] = {"int8", 1},     [VC_DT_U8] = {"uint8", 1},    [VC_DT_BOOL] = {"bool", 1},
};

size_t vc_dtype_size(vc_dtype t)
{
    return (size_t)t < VC_ARRAY_LEN(dtype_table) ? dtype_table[t].size : 0;
}

const char *vc_dtype_name(vc_dtype t)
{
    return (size_t)t < VC_ARRAY_LEN(dtype_table) ? dtype_table[t].name : "unknown";
}

/* Tensors reaching callers passed io_check_extent, so the product fits. */
int64_t vc_weight_numel(const vc_weight_info *t)
{
    int64_t n = 1;
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape[k] == 0)
            return 0;
        if (__builtin_mul_overflow(n, t->shape[k], &n))
            return INT64_MAX;
    }
    return n;
}

int io_check_extent(const vc_weight_info *t, uint64_t avail_bytes, char *err, size_t errlen)
{
    if (t->ndim < 0 || t->ndim > VC_WEIGHTS_MAX_DIMS)
        return io_fail(err, errlen, "%d dimensions (at most %d are supported)", t->ndim,
                       VC_WEIGHTS_MAX_DIMS);
    uint64_t last = 0;   /* element index of the furthest element */
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape[k] < 0 || t->stride[k] < 0)
            return io_fail(err, errlen, "negative size or stride");
        if (t->shape[k] == 0)
            return 0;    /* no elements, nothing to read */
    }
    for (int k = 0; k < t->ndim; k++) {
        uint64_t span;
        if (__builtin_mul_overflow((uint64_t)t->shape[k] - 1, (uint64_t)t->stride[k], &span) ||
            __builtin_add_overflow(last, span, &last))
            goto too_big;
    }
    uint64_t bytes;
    if (__builtin_add_overflow(last, 1, &bytes) ||
        __builtin_mul_overflow(bytes, (uint64_t)vc_dtype_size(t->dtype), &bytes))
        goto too_big;
    if (bytes > avail_bytes)
        return io_fail(err, errlen, "its elements need %llu bytes but only %llu are in the file",
                       (unsigned long long)bytes, (unsigned long long)avail_bytes);
    return 0;
too_big:
    return io_fail(err, errlen, "size and strides overflow 64 bits");
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | mant << 13;          /* inf, NaN */
    } else if (exp) {
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;
    } else if (!mant) {
        bits = sign;                                      /* zero */
    } else {
        /* subnormal: shift the mantissa up to the implicit bit */
        uint32_t e = 127 - 15 + 1;
        while (!(mant & 0x400)) {
            mant <<= 1;
            e--;
        }
        bits = sign | e << 23 | (mant & 0x3ff) << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

static float bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

/* Loads go through memcpy: safetensors data need not be aligned. */
static uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, sizeof(v)); return v; }
static int32_t load_i32(const uint8_t *p) { int32_t v; memcpy(&v, p, sizeof(v)); return v; }
static int64_t load_i64(const uint8_t *p) { int64_t v; memcpy(&v, p, sizeof(v)); return v; }
static float load_f32(const uint8_t *p) { float v; memcpy(&v, p, sizeof(v)); return v; }
static double load_f64(const uint8_t *p) { double v; memcpy(&v, p, sizeof(v)); return v; }

static float element_as_f32(vc_dtype dtype, const uint8_t *p)
{
    switch (dtype) {
    case VC_DT_F32: return load_f32(p);
    case VC_DT_F16: return half_to_float(load_u16(p));
    case VC_DT_BF16: return bf16_to_float(load_u16(p));
    case VC_DT_F64: return (float)load_f64(p);
    case VC_DT_I64: return (float)load_i64(p);
    case VC_DT_I32: return (float)load_i32(p);
    case VC_DT_I8: return (float)(int8_t)*p;
    case VC_DT_U8: return (float)*p;
    case VC_DT_BOOL: return *p ? 1.0f : 0.0f;
    }
    return 0.0f;
}

/* Converts n elements, `step` bytes apart, starting at p. */
static void convert_run(vc_dtype dtype, const uint8_t *p, int64_t step, int64_t n, float *dst)
{
    for (int64_t i = 0; i < n; i++, p += step)
        dst[i] = element_as_f32(dtype, p);
}

static bool is_contiguous(const vc_weight_info *t)
{
    int64_t want = 1;
    for (int k = t->ndim - 1; k >= 0; k--) {
        if (t->shape[k] != 1 && t->stride[k] != want)
            return false;
        want *= t->shape[k];
    }
    return true;
}

/* Walks the tensor in row-major order, one innermost row at a time. */
static void copy_as_f32(const vc_weight_info *t, float *dst)
{
    int64_t n = vc_weight_numel(t);
    size_t esize = vc_dtype_size(t->dtype);
    if (n == 0)
        return;
    if (t->dtype == VC_DT_F32 && is_contiguous(t)) {
        memcpy(dst, t->data, (size_t)n * sizeof(float));
        return;
    }
    int inner = t->ndim - 1;
    int64_t row = t->ndim ? t->shape[inner] : 1;
    int64_t step = t->ndim ? t->stride[inner] * (int64_t)esize : 0;
    int64_t idx[VC_WEIGHTS_MAX_DIMS] = {0};
    for (int64_t done = 0; done < n; done += row) {
        int64_t off = 0;
        for (int k = 0; k < inner; k++)
            off += idx[k] * t->stride[k];
        convert_run(t->dtype, (const uint8_t *)t->data + off * (int64_t)esize, step, row, dst + done);
        for (int k = inner - 1; k >= 0 && ++idx[k] == t->shape[k]; k--)
            idx[k] = 0;
    }
}

/* "[2, 3]" into buf. */
static const char *format_shape(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int k = 0; k < ndim && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", k ? ", " : "", (long long)shape[k]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
    return buf;
}

int vc_weights_read_f32(const vc_weights *w, const char *name, int ndim, const int64_t *shape,
                        float *dst, char *err, size_t errlen)
{
    const vc_weight_info *t = vc_weights_get(w, name, err, errlen);
    if (!t)
        return -1;
    bool same = ndim == t->ndim;
    for (int k = 0; same && k < ndim; k++)
        same = shape[k] == t->shape[k];
    if (!same) {
        char have[160], want[160];
        return io_fail(err, errlen, "%s: tensor %s: shape %s where %s was expected", t->file, name,
                       format_shape(t->ndim, t->shape, have, sizeof(have)),
                       format_shape(ndim < 0 ? 0 : VC_MIN(ndim, VC_WEIGHTS_MAX_DIMS), shape, want,
                                    sizeof(want)));
    }
    copy_as_f32(t, dst);
    return 0;
}
