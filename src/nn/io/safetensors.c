/* safetensors: an 8-byte little-endian header length N, N bytes of JSON
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
 * then the data; offsets are relative to the data's start. */
#include <jansson.h>
#include <string.h>

#include "nn/io/io_internal.h"

/* The format's own limit (safetensors rejects larger headers). */
#define MAX_HEADER (100u * 1024 * 1024)

static const struct {
    const char *name;
    vc_dtype dtype;
} safetensors_dtypes[] = {
    {"F32", VC_DT_F32}, {"F16", VC_DT_F16}, {"BF16", VC_DT_BF16}, {"F64", VC_DT_F64},
    {"I64", VC_DT_I64}, {"I32", VC_DT_I32}, {"I8", VC_DT_I8},     {"U8", VC_DT_U8},
    {"BOOL", VC_DT_BOOL},
};

static int parse_dtype(const json_t *j, vc_dtype *out, char *err, size_t errlen)
{
    const char *s = json_string_value(j);
    if (!s)
        return io_fail(err, errlen, "no dtype");
    for (size_t i = 0; i < VC_ARRAY_LEN(safetensors_dtypes); i++) {
        if (!strcmp(s, safetensors_dtypes[i].name)) {
            *out = safetensors_dtypes[i].dtype;
            return 0;
        }
    }
    return io_fail(err, errlen, "unsupported dtype %s", s);
}

/* Reads a JSON array of n non-negative integers (n = -1: any length up to max). */
static int parse_uints(const json_t *j, int64_t *out, int max, int *n)
{
    if (!json_is_array(j) || json_array_size(j) > (size_t)max)
        return -1;
    for (size_t i = 0; i < json_array_size(j); i++) {
        const json_t *v = json_array_get(j, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return -1;
        out[i] = json_integer_value(v);
    }
    *n = (int)json_array_size(j);
    return 0;
}

/* Contiguous row-major strides, as safetensors stores every tensor. A shape
 * too large for int64 saturates; the extent check then rejects it. */
static void set_contiguous_strides(vc_weight_info *t)
{
    int64_t s = 1;
    for (int k = t->ndim - 1; k >= 0; k--) {
        t->stride[k] = s;
        if (__builtin_mul_overflow(s, t->shape[k] ? t->shape[k] : 1, &s))
            s = INT64_MAX;
    }
}

static int parse_tensor(vc_weights *w, const char *name, const json_t *j, const uint8_t *data,
                        uint64_t data_len, char *err, size_t errlen)
{
    vc_weight_info t = {.name = name, .file = w->path};
    int64_t range[2];
    int nrange = 0;
    if (!json_is_object(j))
        return io_fail(err, errlen, "tensor %s: header entry is not an object", name);
    if (parse_dtype(json_object_get(j, "dtype"), &t.dtype, err, errlen) != 0)
        return io_prefix(err, errlen, "tensor %s: ", name);
    if (parse_uints(json_object_get(j, "shape"), t.shape, VC_WEIGHTS_MAX_DIMS, &t.ndim) != 0)
        return io_fail(err, errlen, "tensor %s: bad shape (at most %d non-negative sizes)", name,
                       VC_WEIGHTS_MAX_DIMS);
    if (parse_uints(json_object_get(j, "data_offsets"), range, 2, &nrange) != 0 || nrange != 2 ||
        range[0] > range[1] || (uint64_t)range[1] > data_len)
        return io_fail(err, errlen, "tensor %s: data_offsets outside the %llu data bytes", name,
                       (unsigned long long)data_len);
    set_contiguous_strides(&t);
    t.data = data + range[0];
    uint64_t len = (uint64_t)(range[1] - range[0]);
    if (io_check_extent(&t, len, err, errlen) != 0)
        return io_prefix(err, errlen, "tensor %s: ", name);
    if ((uint64_t)vc_weight_numel(&t) * vc_dtype_size(t.dtype) != len)
        return io_fail(err, errlen, "tensor %s: %llu data bytes for %lld elements of %s", name,
                       (unsigned long long)len, (long long)vc_weight_numel(&t), vc_dtype_name(t.dtype));
    io_add_tensor(w, &t);
    return 0;
}

static int parse_header(vc_weights *w, const json_t *header, const uint8_t *data, uint64_t data_len,
                        char *err, size_t errlen)
{
    if (!json_is_object(header))
        return io_fail(err, errlen, "safetensors header is not a JSON object");
    const char *name;
    json_t *entry;
    json_object_foreach((json_t *)header, name, entry) {
        if (!strcmp(name, "__metadata__"))
            continue;
        if (parse_tensor(w, name, entry, data, data_len, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int io_read_safetensors(vc_weights *w, char *err, size_t errlen)
{
    const uint8_t *file = w->map.data;
    size_t size = w->map.size;
    uint64_t header_len = 0;
    for (int i = 0; i < 8; i++)
        header_len |= (uint64_t)file[i] << (8 * i);
    if (header_len > size - 8 || header_len > MAX_HEADER)
        return io_fail(err, errlen, "safetensors header of %llu bytes does not fit the file",
                       (unsigned long long)header_len);
    json_error_t jerr;
    json_t *header = json_loadb((const char *)file + 8, (size_t)header_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!header)
        return io_fail(err, errlen, "safetensors header is not valid JSON: %s (byte %d)", jerr.text,
                       jerr.position);
    const uint8_t *data = file + 8 + header_len;
    int rc = parse_header(w, header, data, size - 8 - header_len, err, errlen);
    json_decref(header);
    return rc;
}
