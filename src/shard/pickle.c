/* Pickle protocol 4 writer for lists of float16 numpy arrays.
 *
 * Byte-identical output needs CPython's framing rules (Modules/_pickle.c):
 * - PROTO is written unframed; then every write lands in a frame whose 9-byte
 *   FRAME header is reserved when the frame opens;
 * - at the start of each save() a frame holding >= 64 KiB is committed;
 * - a frame shorter than 4 bytes gets no header at all;
 * - a bytes payload >= 64 KiB commits the frame and is written unframed;
 * - objects are memoized (MEMOIZE) in save order; a repeated object (the
 *   float16 dtype, the globals, the "numpy" module string, b'b') is a BINGET.
 * The tests compare against /usr/bin/python3's pickle.dumps byte for byte. */
#include "shard/pickle.h"

#include <stdlib.h>
#include <string.h>

enum {
    OP_PROTO = 0x80, OP_FRAME = 0x95, OP_MEMOIZE = 0x94, OP_BINGET = 'h',
    OP_LONG_BINGET = 'j', OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE = 'X',
    OP_STACK_GLOBAL = 0x93, OP_BININT1 = 'K', OP_BININT2 = 'M', OP_BININT = 'J',
    OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_NONE = 'N', OP_SHORT_BINBYTES = 'C',
    OP_BINBYTES = 'B', OP_BINBYTES8 = 0x8e, OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86,
    OP_TUPLE3 = 0x87, OP_MARK = '(', OP_TUPLE = 't', OP_REDUCE = 'R',
    OP_BUILD = 'b', OP_EMPTY_LIST = ']', OP_APPEND = 'a', OP_APPENDS = 'e',
    OP_STOP = '.',
};

#define FRAME_HEADER_SIZE 9
#define FRAME_SIZE_MIN 4
#define FRAME_SIZE_TARGET (64 * 1024)
#define LIST_BATCH 1000   /* pickle's BATCHSIZE for APPENDS */
#define NO_MEMO (-1)

typedef struct pickler {
    vc_buf *out;
    bool framing, in_frame;
    bool size_only;      /* array payloads >= 64 KiB are counted, not copied */
    size_t skipped;      /* bytes counted that way */
    size_t frame_start;
    long memo_next;
    /* Memo slots of the objects Python shares between arrays. */
    long m_reconstruct, m_ndarray, m_numpy_str, m_b_bytes, m_dtype;
} pickler;

static void put_le(uint8_t *dst, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = (uint8_t)(v >> (8 * i));
}

static void pk_write(pickler *p, const void *data, size_t len)
{
    if (p->framing && !p->in_frame) {
        static const uint8_t reserve[FRAME_HEADER_SIZE];
        p->frame_start = p->out->len;
        vc_buf_append(p->out, reserve, sizeof(reserve));
        p->in_frame = true;
    }
    vc_buf_append(p->out, data, len);
}

static void pk_op(pickler *p, uint8_t op) { pk_write(p, &op, 1); }

static void pk_op_arg(pickler *p, uint8_t op, uint64_t arg, int arg_bytes)
{
    uint8_t b[9];
    b[0] = op;
    put_le(b + 1, arg, arg_bytes);
    pk_write(p, b, 1 + (size_t)arg_bytes);
}

static void pk_commit_frame(pickler *p)
{
    if (!p->in_frame)
        return;
    size_t frame_len = p->out->len - p->frame_start - FRAME_HEADER_SIZE;
    uint8_t *hdr = p->out->data + p->frame_start;
    if (frame_len >= FRAME_SIZE_MIN) {
        hdr[0] = OP_FRAME;
        put_le(hdr + 1, frame_len, 8);
    } else {
        memmove(hdr, hdr + FRAME_HEADER_SIZE, frame_len);
        p->out->len -= FRAME_HEADER_SIZE;
    }
    p->in_frame = false;
}

/* Called where Python's save() starts. */
static void pk_boundary(pickler *p)
{
    if (p->in_frame && p->out->len - p->frame_start - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET)
        pk_commit_frame(p);
}

static long pk_memoize(pickler *p)
{
    pk_op(p, OP_MEMOIZE);
    return p->memo_next++;
}

static void pk_get(pickler *p, long idx)
{
    if (idx < 256)
        pk_op_arg(p, OP_BINGET, (uint64_t)idx, 1);
    else
        pk_op_arg(p, OP_LONG_BINGET, (uint64_t)idx, 4);
}

/* save(x) for a Python object that may already be memoized in *slot
 * (slot == NULL: a fresh object). Returns true when it was a memo hit. */
static bool pk_begin(pickler *p, const long *slot)
{
    pk_boundary(p);
    if (slot && *slot != NO_MEMO) {
        pk_get(p, *slot);
        return true;
    }
    return false;
}

static void save_str(pickler *p, const char *s, long *slot)
{
    if (pk_begin(p, slot))
        return;
    size_t n = strlen(s);
    if (n <= 0xff)
        pk_op_arg(p, OP_SHORT_BINUNICODE, n, 1);
    else
        pk_op_arg(p, OP_BINUNICODE, n, 4);
    pk_write(p, s, n);
    long m = pk_memoize(p);
    if (slot)
        *slot = m;
}

static void save_int(pickler *p, int64_t v)
{
    pk_begin(p, NULL);
    if (v >= 0 && v <= 0xff)
        pk_op_arg(p, OP_BININT1, (uint64_t)v, 1);
    else if (v >= 0 && v <= 0xffff)
        pk_op_arg(p, OP_BININT2, (uint64_t)v, 2);
    else /* shapes and dtype fields stay far inside int32 */
        pk_op_arg(p, OP_BININT, (uint64_t)(uint32_t)(int32_t)v, 4);
}

static void save_bool(pickler *p, bool v)
{
    pk_begin(p, NULL);
    pk_op(p, v ? OP_NEWTRUE : OP_NEWFALSE);
}

static void save_none(pickler *p)
{
    pk_begin(p, NULL);
    pk_op(p, OP_NONE);
}

static void save_bytes_header(pickler *p, uint64_t n)
{
    if (n <= 0xff)
        pk_op_arg(p, OP_SHORT_BINBYTES, n, 1);
    else if (n <= 0xffffffffu)
        pk_op_arg(p, OP_BINBYTES, n, 4);
    else
        pk_op_arg(p, OP_BINBYTES8, n, 8);
}

/* Large payloads bypass framing, as _Pickler_write_bytes does. */
static void save_bytes(pickler *p, const void *data, size_t n, long *slot)
{
    if (pk_begin(p, slot))
        return;
    if (n >= FRAME_SIZE_TARGET) {
        pk_commit_frame(p);
        p->framing = false;
        save_bytes_header(p, n);
        if (p->size_only)
            p->skipped += n;
        else
            pk_write(p, data, n);
        p->framing = true;
    } else {
        save_bytes_header(p, n);
        pk_write(p, data, n);
    }
    long m = pk_memoize(p);
    if (slot)
        *slot = m;
}

/* Protocol 4 globals: module and name strings, STACK_GLOBAL, memoized. */
static void save_global(pickler *p, const char *module, long *module_slot,
                        const char *name, long *slot)
{
    if (pk_begin(p, slot))
        return;
    save_str(p, module, module_slot);
    save_str(p, name, NULL);
    pk_op(p, OP_STACK_GLOBAL);
    *slot = pk_memoize(p);
}

/* dtype('float16').__reduce__() = (dtype, ('f2', False, True),
 * (3, '<', None, None, None, -1, -1, 0)). */
static void save_dtype_f16(pickler *p)
{
    if (pk_begin(p, &p->m_dtype))
        return;
    save_global(p, "numpy", &p->m_numpy_str, "dtype", &(long){ NO_MEMO });
    pk_begin(p, NULL); /* args tuple */
    save_str(p, "f2", NULL);
    save_bool(p, false);
    save_bool(p, true);
    pk_op(p, OP_TUPLE3);
    pk_memoize(p);
    pk_op(p, OP_REDUCE);
    p->m_dtype = pk_memoize(p);
    pk_begin(p, NULL); /* state tuple, 8 items: MARK ... TUPLE */
    pk_op(p, OP_MARK);
    save_int(p, 3);
    save_str(p, "<", NULL);
    save_none(p);
    save_none(p);
    save_none(p);
    save_int(p, -1);
    save_int(p, -1);
    save_int(p, 0);
    pk_op(p, OP_TUPLE);
    pk_memoize(p);
    pk_op(p, OP_BUILD);
}

static void save_f16_data(pickler *p, const vc_pickle_f16_array *a)
{
    size_t count = (size_t)(a->rows * a->cols);
    size_t n = count * 2;
    const union { uint16_t u; uint8_t b[2]; } probe = { .u = 1 };
    if (p->size_only) {
        /* same opcodes; a payload under 64 KiB lands in a frame (zeros) */
        static const uint8_t zeros[FRAME_SIZE_TARGET];
        save_bytes(p, n < FRAME_SIZE_TARGET ? zeros : NULL, n, NULL);
        return;
    }
    if (probe.b[0] == 1) {
        save_bytes(p, a->data, n, NULL);
        return;
    }
    uint8_t *le = vc_xmalloc(n);
    for (size_t i = 0; i < count; i++)
        put_le(le + 2 * i, a->data[i], 2);
    save_bytes(p, le, n, NULL);
    free(le);
}

/* ndarray.__reduce__() for protocol < 5:
 * (_reconstruct, (ndarray, (0,), b'b'), (1, shape, dtype, False, data)). */
static void save_array(pickler *p, const vc_pickle_f16_array *a)
{
    pk_begin(p, NULL);
    save_global(p, "numpy.core.multiarray", NULL, "_reconstruct", &p->m_reconstruct);
    pk_begin(p, NULL); /* args tuple */
    save_global(p, "numpy", &p->m_numpy_str, "ndarray", &p->m_ndarray);
    pk_begin(p, NULL); /* (0,) */
    save_int(p, 0);
    pk_op(p, OP_TUPLE1);
    pk_memoize(p);
    save_bytes(p, "b", 1, &p->m_b_bytes);
    pk_op(p, OP_TUPLE3);
    pk_memoize(p);
    pk_op(p, OP_REDUCE);
    pk_memoize(p);
    pk_begin(p, NULL); /* state tuple, 5 items */
    pk_op(p, OP_MARK);
    save_int(p, 1);
    pk_begin(p, NULL); /* shape */
    save_int(p, a->rows);
    save_int(p, a->cols);
    pk_op(p, OP_TUPLE2);
    pk_memoize(p);
    save_dtype_f16(p);
    save_bool(p, false); /* not Fortran-ordered */
    save_f16_data(p, a);
    pk_op(p, OP_TUPLE);
    pk_memoize(p);
    pk_op(p, OP_BUILD);
}

static void pickle_list(vc_buf *out, const vc_pickle_f16_array *arrays, size_t n, bool size_only,
                        size_t *skipped)
{
    pickler p = { .out = out, .size_only = size_only, .m_reconstruct = NO_MEMO,
                  .m_ndarray = NO_MEMO, .m_numpy_str = NO_MEMO, .m_b_bytes = NO_MEMO,
                  .m_dtype = NO_MEMO };
    const uint8_t proto[2] = { OP_PROTO, 4 };
    pk_write(&p, proto, sizeof(proto));
    p.framing = true;
    pk_begin(&p, NULL);
    pk_op(&p, OP_EMPTY_LIST);
    pk_memoize(&p);
    if (n == 1) {
        save_array(&p, &arrays[0]);
        pk_op(&p, OP_APPEND);
    } else {
        for (size_t i = 0; i < n; i += LIST_BATCH) {
            pk_op(&p, OP_MARK);
            for (size_t j = i; j < n && j < i + LIST_BATCH; j++)
                save_array(&p, &arrays[j]);
            pk_op(&p, OP_APPENDS);
        }
    }
    pk_op(&p, OP_STOP);
    pk_commit_frame(&p);
    if (skipped)
        *skipped = p.skipped;
}

void vc_pickle_f16_array_list(vc_buf *out, const vc_pickle_f16_array *arrays, size_t n)
{
    pickle_list(out, arrays, n, false, NULL);
}

size_t vc_pickle_f16_array_list_size(const vc_pickle_f16_array *arrays, size_t n)
{
    vc_buf b = { 0 };
    size_t skipped = 0;
    pickle_list(&b, arrays, n, true, &skipped);
    size_t len = b.len + skipped;
    vc_buf_free(&b);
    return len;
}
