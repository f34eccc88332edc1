/* safetensors writer (see safetensors.h). */
#include "models/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "models/internal.h"
#include "util/common.h"

size_t vc_st_dtype_size(const char *d)
{
    static const struct { const char *n; size_t s; } t[] = {
        { "F64", 8 }, { "I64", 8 }, { "U64", 8 }, { "F32", 4 }, { "I32", 4 }, { "U32", 4 },
        { "F16", 2 }, { "BF16", 2 }, { "I16", 2 }, { "U16", 2 }, { "I8", 1 }, { "U8", 1 }, { "BOOL", 1 },
    };
    for (size_t i = 0; i < VC_ARRAY_LEN(t); i++)
        if (!strcmp(t[i].n, d))
            return t[i].s;
    return 0;
}

typedef struct {
    const vc_st_tensor *t;
    size_t esz;
    int64_t numel;
    uint64_t begin, end;
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->esz != y->esz)
        return x->esz > y->esz ? -1 : 1;
    return strcmp(x->t->name, y->t->name);
}

typedef struct {
    int fd;
    char *buf;
    size_t len, cap;
    vc_hasher *h;
    int err;
} out_t;

static int out_flush(out_t *o)
{
    size_t off = 0;
    while (off < o->len) {
        ssize_t w = write(o->fd, o->buf + off, o->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            o->err = errno;
            return -1;
        }
        off += (size_t)w;
    }
    o->len = 0;
    return 0;
}

static int out_put(out_t *o, const void *data, size_t n)
{
    vc_hasher_update(o->h, data, n);
    const char *p = data;
    while (n) {
        if (o->len == o->cap && out_flush(o))
            return -1;
        size_t k = VC_MIN(n, o->cap - o->len);
        memcpy(o->buf + o->len, p, k);
        o->len += k;
        p += k;
        n -= k;
    }
    return 0;
}

/* Writes one tensor row-major from any strides. */
static int put_tensor(out_t *o, const entry *e, bool (*cancelled)(void))
{
    const vc_st_tensor *t = e->t;
    const char *base = t->data;
    size_t esz = e->esz;
    bool contiguous = true;
    if (t->strides) {
        int64_t want = 1;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (t->shape[d] != 1 && t->strides[d] != want)
                contiguous = false;
            want *= t->shape[d];
        }
    }
    if (e->numel == 0)
        return 0;
    if (contiguous) {
        size_t total = (size_t)e->numel * esz, off = 0, step = (size_t)64 << 20;
        while (off < total) {
            size_t k = VC_MIN(step, total - off);
            if (out_put(o, base + off, k))
                return -1;
            off += k;
            if (cancelled && cancelled()) {
                o->err = ECANCELED;
                return -1;
            }
        }
        return 0;
    }
    /* Odometer over all but the last dimension; the last is a strided run. */
    int nd = t->ndim;
    int64_t idx[8] = { 0 };
    int64_t inner = t->shape[nd - 1], istr = t->strides[nd - 1];
    char *row = vc_xmalloc((size_t)inner * esz);
    int rc = 0;
    for (;;) {
        int64_t off = 0;
        for (int d = 0; d < nd - 1; d++)
            off += idx[d] * t->strides[d];
        for (int64_t i = 0; i < inner; i++)
            memcpy(row + (size_t)i * esz, base + (size_t)(off + i * istr) * esz, esz);
        if (out_put(o, row, (size_t)inner * esz)) {
            rc = -1;
            break;
        }
        int d = nd - 2;
        while (d >= 0 && ++idx[d] == t->shape[d])
            idx[d--] = 0;
        if (d < 0)
            break;
    }
    free(row);
    return rc;
}

int vc_safetensors_write(const char *path, const vc_st_tensor *tensors, size_t n, const char *const *metadata,
                         char *sha256_hex, bool (*cancelled)(void), char *err, size_t errlen)
{
    entry *es = vc_xcalloc(n ? n : 1, sizeof *es);
    for (size_t i = 0; i < n; i++) {
        const vc_st_tensor *t = &tensors[i];
        es[i].t = t;
        es[i].esz = vc_st_dtype_size(t->dtype);
        if (!es[i].esz || t->ndim < 0 || t->ndim > 8 || (t->ndim > 0 && !t->shape) || !t->name[0]) {
            snprintf(err, errlen, "%s: tensor '%s': unsupported dtype or shape", path, t->name);
            free(es);
            return -1;
        }
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0) {
                snprintf(err, errlen, "%s: tensor '%s': negative dimension", path, t->name);
                free(es);
                return -1;
            }
            numel *= t->shape[d];
        }
        es[i].numel = numel;
    }
    qsort(es, n, sizeof *es, cmp_entry);
    for (size_t i = 1; i < n; i++) {
        if (!strcmp(es[i].t->name, es[i - 1].t->name) && es[i].esz == es[i - 1].esz) {
            snprintf(err, errlen, "%s: tensor '%s' given twice", path, es[i].t->name);
            free(es);
            return -1;
        }
    }
    /* Header: __metadata__ first, then tensors in data order. */
    json_t *hdr = json_object();
    if (metadata && metadata[0]) {
        json_t *m = json_object();
        for (size_t i = 0; metadata[i] && metadata[i + 1]; i += 2)
            json_object_set_new(m, metadata[i], json_string(metadata[i + 1]));
        json_object_set_new(hdr, "__metadata__", m);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const vc_st_tensor *t = es[i].t;
        if (json_object_get(hdr, t->name)) {
            snprintf(err, errlen, "%s: tensor '%s' given twice", path, t->name);
            json_decref(hdr);
            free(es);
            return -1;
        }
        es[i].begin = off;
        off += (uint64_t)es[i].numel * es[i].esz;
        es[i].end = off;
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *o = json_object();
        json_object_set_new(o, "dtype", json_string(t->dtype));
        json_object_set_new(o, "shape", shape);
        json_object_set_new(o, "data_offsets", json_pack("[II]", (json_int_t)es[i].begin, (json_int_t)es[i].end));
        json_object_set_new(hdr, t->name, o);
    }
    char *js = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(hdr);
    size_t jl = strlen(js);
    size_t padded = (jl + 7) / 8 * 8; /* 8 + padded is a multiple of 8 */

    char *dir = vc_xstrdup(path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash)
        *slash = 0;
    char *tmp = vc_asprintf("%s/.%s.tmp-%d", slash ? dir : ".", base, (int)getpid());
    int rc = -1;
    out_t o = { .fd = -1, .cap = (size_t)8 << 20 };
    o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o.fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    o.buf = vc_xmalloc(o.cap);
    o.h = vc_hasher_new(VC_ETAG_SHA256, -1);
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    if (out_put(&o, le, 8) || out_put(&o, js, jl))
        goto werr;
    for (size_t i = jl; i < padded; i++)
        if (out_put(&o, " ", 1))
            goto werr;
    for (size_t i = 0; i < n; i++)
        if (put_tensor(&o, &es[i], cancelled))
            goto werr;
    if (out_flush(&o) || fsync(o.fd) != 0)
        goto werr;
    if (close(o.fd) != 0) {
        o.fd = -1;
        goto werr;
    }
    o.fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto out;
    }
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    if (sha256_hex) {
        vc_hasher_final(o.h, sha256_hex);
        o.h = NULL;
    }
    rc = 0;
    goto out;
werr:
    snprintf(err, errlen, "%s %s: %s", o.err == ECANCELED ? "interrupted writing" : "cannot write", path,
             strerror(o.err ? o.err : errno));
out:
    if (o.fd >= 0)
        close(o.fd);
    if (rc)
        unlink(tmp);
    vc_hasher_free(o.h);
    free(o.buf);
    free(tmp);
    free(dir);
    free(js);
    free(es);
    return rc;
}
