/* Pickle virtual machine (protocols 2 to 5, the opcodes state dicts use) and
 * the PyTorch globals it may call. Opcode semantics follow CPython's
 * Lib/pickle.py (_Unpickler.load_*). */
#include "nn/io/pickle.h"

#include <stdlib.h>
#include <string.h>

#include "nn/io/io_internal.h"

/* ---- the globals a state dict may name ---- */

typedef enum {
    G_ORDERED_DICT,
    G_REBUILD_TENSOR_V2,
    G_REBUILD_PARAMETER,
    G_REBUILD_PARAMETER_WITH_STATE,
    G_REBUILD_FROM_TYPE_V2,
    G_TENSOR_TYPE,       /* torch.Tensor, nn.Parameter: type arguments only */
    G_STORAGE_TYPE,
    G_TORCH_SIZE,
    G_CODECS_ENCODE,     /* protocol 2 pickles bytes as _codecs.encode(str, 'latin1') */
    G_SET,               /* protocols 2-3 pickle sets as set(list) */
} global_id;

struct pk_global_def {
    const char *module, *name;
    global_id id;
    vc_dtype dtype;      /* G_STORAGE_TYPE: element type */
};

static const struct pk_global_def known_globals[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2, 0},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER, 0},
    {"torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAMETER_WITH_STATE, 0},
    {"torch._tensor", "_rebuild_from_type_v2", G_REBUILD_FROM_TYPE_V2, 0},
    {"torch", "Tensor", G_TENSOR_TYPE, 0},
    {"torch.nn.parameter", "Parameter", G_TENSOR_TYPE, 0},
    {"torch", "Size", G_TORCH_SIZE, 0},
    {"_codecs", "encode", G_CODECS_ENCODE, 0},
    /* protocol 2 writes Python 2's module name for builtins */
    {"builtins", "set", G_SET, 0},
    {"builtins", "frozenset", G_SET, 0},
    {"__builtin__", "set", G_SET, 0},
    {"__builtin__", "frozenset", G_SET, 0},
    {"torch", "FloatStorage", G_STORAGE_TYPE, VC_DT_F32},
    {"torch", "HalfStorage", G_STORAGE_TYPE, VC_DT_F16},
    {"torch", "BFloat16Storage", G_STORAGE_TYPE, VC_DT_BF16},
    {"torch", "DoubleStorage", G_STORAGE_TYPE, VC_DT_F64},
    {"torch", "LongStorage", G_STORAGE_TYPE, VC_DT_I64},
    {"torch", "IntStorage", G_STORAGE_TYPE, VC_DT_I32},
    {"torch", "CharStorage", G_STORAGE_TYPE, VC_DT_I8},
    {"torch", "ByteStorage", G_STORAGE_TYPE, VC_DT_U8},
    {"torch", "BoolStorage", G_STORAGE_TYPE, VC_DT_BOOL},
    /* torch.load reads untyped storages as bytes */
    {"torch", "UntypedStorage", G_STORAGE_TYPE, VC_DT_U8},
    {"torch.storage", "UntypedStorage", G_STORAGE_TYPE, VC_DT_U8},
};

/* ---- opcodes ---- */

enum {
    OP_MARK = '(', OP_STOP = '.', OP_POP = '0', OP_POP_MARK = '1', OP_DUP = '2',
    OP_BININT = 'J', OP_BININT1 = 'K', OP_BININT2 = 'M', OP_NONE = 'N',
    OP_BINPERSID = 'Q', OP_REDUCE = 'R', OP_BINSTRING = 'T', OP_SHORT_BINSTRING = 'U',
    OP_BINUNICODE = 'X', OP_APPEND = 'a', OP_BUILD = 'b', OP_GLOBAL = 'c', OP_DICT = 'd',
    OP_EMPTY_DICT = '}', OP_APPENDS = 'e', OP_BINGET = 'h', OP_LONG_BINGET = 'j',
    OP_LIST = 'l', OP_EMPTY_LIST = ']', OP_BINPUT = 'q', OP_LONG_BINPUT = 'r',
    OP_SETITEM = 's', OP_TUPLE = 't', OP_EMPTY_TUPLE = ')', OP_SETITEMS = 'u',
    OP_BINFLOAT = 'G', OP_BINBYTES = 'B', OP_SHORT_BINBYTES = 'C',
    OP_PROTO = 0x80, OP_NEWOBJ = 0x81, OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86,
    OP_TUPLE3 = 0x87, OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a,
    OP_LONG4 = 0x8b, OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE8 = 0x8d,
    OP_BINBYTES8 = 0x8e, OP_EMPTY_SET = 0x8f, OP_ADDITEMS = 0x90, OP_FROZENSET = 0x91,
    OP_NEWOBJ_EX = 0x92, OP_STACK_GLOBAL = 0x93, OP_MEMOIZE = 0x94, OP_FRAME = 0x95,
};

#define HIGHEST_PROTOCOL 5
#define MAX_GLOBAL_NAME 256

typedef struct pk_vm {
    const uint8_t *start, *p, *end;
    pk_value **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t mark_count, marks_cap;
    pk_value **memo;
    size_t memo_cap, memo_count, memo_limit;
    pk_heap *heap;
    pk_storage_loader loader;
    void *loader_ctx;
    char *err;
    size_t errlen;
} pk_vm;

static size_t offset_of(const pk_vm *vm) { return (size_t)(vm->p - vm->start); }

/* Grows an array of `elem`-sized items to hold at least `need`. */
static void *grow(void *items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return items;
    size_t c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    *cap = c;
    return vc_xrealloc(items, c * elem);
}

/* ---- reading the byte stream ---- */

static int need(pk_vm *vm, size_t n)
{
    if ((size_t)(vm->end - vm->p) < n)
        return io_fail(vm->err, vm->errlen, "data.pkl is truncated at offset %zu", offset_of(vm));
    return 0;
}

static uint64_t read_le(pk_vm *vm, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)vm->p[i] << (8 * i);
    vm->p += n;
    return v;
}

/* Reads an n-byte little-endian unsigned argument into *v. */
static int arg_le(pk_vm *vm, size_t n, uint64_t *v)
{
    if (need(vm, n) != 0)
        return -1;
    *v = read_le(vm, n);
    return 0;
}

/* ---- values ---- */

static pk_value *new_value(pk_vm *vm, pk_kind kind)
{
    pk_value *v = vc_xcalloc(1, sizeof(*v));
    v->kind = kind;
    v->next = vm->heap->all;
    vm->heap->all = v;
    return v;
}

static pk_value *new_int(pk_vm *vm, int64_t i)
{
    pk_value *v = new_value(vm, PK_INT);
    v->u.i = i;
    return v;
}

static pk_value *new_str(pk_vm *vm, const uint8_t *s, size_t len)
{
    pk_value *v = new_value(vm, PK_STR);
    v->u.str.s = vc_xmalloc(len + 1);
    memcpy(v->u.str.s, s, len);
    v->u.str.s[len] = '\0';
    v->u.str.len = len;
    return v;
}

static pk_value *new_seq(pk_vm *vm, pk_kind kind, pk_value *const *items, size_t n)
{
    pk_value *v = new_value(vm, kind);
    v->u.seq.items = grow(NULL, &v->u.seq.cap, n, sizeof(pk_value *));
    if (n)
        memcpy(v->u.seq.items, items, n * sizeof(pk_value *));
    v->u.seq.len = n;
    return v;
}

static void seq_append(pk_value *seq, pk_value *item)
{
    seq->u.seq.items = grow(seq->u.seq.items, &seq->u.seq.cap, seq->u.seq.len + 1, sizeof(pk_value *));
    seq->u.seq.items[seq->u.seq.len++] = item;
}

/* Duplicate keys are kept; readers of the result reject duplicate tensor names. */
static void dict_set(pk_value *d, pk_value *key, pk_value *val)
{
    if (d->u.dict.len == d->u.dict.cap) {
        d->u.dict.cap = d->u.dict.cap ? 2 * d->u.dict.cap : 8;
        d->u.dict.keys = vc_xrealloc(d->u.dict.keys, d->u.dict.cap * sizeof(pk_value *));
        d->u.dict.vals = vc_xrealloc(d->u.dict.vals, d->u.dict.cap * sizeof(pk_value *));
    }
    d->u.dict.keys[d->u.dict.len] = key;
    d->u.dict.vals[d->u.dict.len++] = val;
}

void pk_heap_free(pk_heap *heap)
{
    for (pk_value *v = heap->all, *next; v; v = next) {
        next = v->next;
        if (v->kind == PK_STR)
            free(v->u.str.s);
        else if (v->kind == PK_TUPLE || v->kind == PK_LIST)
            free(v->u.seq.items);
        else if (v->kind == PK_DICT) {
            free(v->u.dict.keys);
            free(v->u.dict.vals);
        }
        free(v);
    }
    heap->all = NULL;
}

/* ---- the stack, marks and memo ---- */

static void push(pk_vm *vm, pk_value *v)
{
    vm->stack = grow(vm->stack, &vm->stack_cap, vm->sp + 1, sizeof(pk_value *));
    vm->stack[vm->sp++] = v;
}

/* The stack floor is the latest mark: values below it belong to the caller. */
static size_t stack_floor(const pk_vm *vm)
{
    return vm->mark_count ? vm->marks[vm->mark_count - 1] : 0;
}

static int pop(pk_vm *vm, pk_value **v)
{
    if (vm->sp <= stack_floor(vm))
        return io_fail(vm->err, vm->errlen, "pickle stack underflow at offset %zu", offset_of(vm));
    *v = vm->stack[--vm->sp];
    return 0;
}

static int top(pk_vm *vm, pk_value **v)
{
    if (vm->sp <= stack_floor(vm))
        return io_fail(vm->err, vm->errlen, "pickle stack underflow at offset %zu", offset_of(vm));
    *v = vm->stack[vm->sp - 1];
    return 0;
}

static void push_mark(pk_vm *vm)
{
    vm->marks = grow(vm->marks, &vm->marks_cap, vm->mark_count + 1, sizeof(size_t));
    vm->marks[vm->mark_count++] = vm->sp;
}

/* Pops the latest mark; the values above it are stack[*first .. sp). */
static int pop_mark(pk_vm *vm, size_t *first)
{
    if (!vm->mark_count)
        return io_fail(vm->err, vm->errlen, "pickle MARK missing at offset %zu", offset_of(vm));
    *first = vm->marks[--vm->mark_count];
    return 0;
}

static int memo_put(pk_vm *vm, uint64_t idx)
{
    pk_value *v = NULL;
    if (top(vm, &v) != 0)
        return -1;
    /* Picklers number memo entries from 0, one per opcode at most, so an
     * index past the pickle's size is corrupt (and would waste memory). */
    if (idx >= vm->memo_limit)
        return io_fail(vm->err, vm->errlen, "pickle memo index %llu out of range at offset %zu",
                       (unsigned long long)idx, offset_of(vm));
    if (idx >= vm->memo_cap) {
        size_t old = vm->memo_cap;
        vm->memo = grow(vm->memo, &vm->memo_cap, (size_t)idx + 1, sizeof(pk_value *));
        memset(vm->memo + old, 0, (vm->memo_cap - old) * sizeof(pk_value *));
    }
    if (!vm->memo[idx])
        vm->memo_count++;
    vm->memo[idx] = v;
    return 0;
}

static int memo_get(pk_vm *vm, uint64_t idx)
{
    if (idx >= vm->memo_cap || !vm->memo[idx])
        return io_fail(vm->err, vm->errlen, "pickle memo entry %llu is unset at offset %zu",
                       (unsigned long long)idx, offset_of(vm));
    push(vm, vm->memo[idx]);
    return 0;
}

/* ---- globals and calls ---- */

static int find_global(pk_vm *vm, const char *module, const char *name)
{
    for (size_t i = 0; i < VC_ARRAY_LEN(known_globals); i++) {
        if (!strcmp(known_globals[i].module, module) && !strcmp(known_globals[i].name, name)) {
            pk_value *v = new_value(vm, PK_GLOBAL);
            v->u.global = &known_globals[i];
            push(vm, v);
            return 0;
        }
    }
    if (!strcmp(module, "torch") && strstr(name, "Storage"))
        return io_fail(vm->err, vm->errlen, "tensors of storage type torch.%s are not supported", name);
    return io_fail(vm->err, vm->errlen,
                   "refusing pickle global %s.%s: only the globals of PyTorch state dicts are "
                   "understood, and nothing in a checkpoint is executed",
                   module, name);
}

static bool is_global(const pk_value *v, global_id id)
{
    return v->kind == PK_GLOBAL && v->u.global->id == id;
}

static const pk_value *arg(const pk_value *args, size_t i)
{
    return args->u.seq.items[i];
}

static int bad_args(pk_vm *vm, const pk_value *callable)
{
    return io_fail(vm->err, vm->errlen, "unexpected arguments to %s.%s before offset %zu",
                   callable->u.global->module, callable->u.global->name, offset_of(vm));
}

/* Reads a tuple of non-negative ints (a size or stride) into out. */
static bool read_dims(const pk_value *t, int64_t *out, int *n)
{
    if (t->kind != PK_TUPLE || t->u.seq.len > VC_WEIGHTS_MAX_DIMS)
        return false;
    for (size_t i = 0; i < t->u.seq.len; i++) {
        const pk_value *d = t->u.seq.items[i];
        if (d->kind != PK_INT || d->u.i < 0)
            return false;
        out[i] = d->u.i;
    }
    *n = (int)t->u.seq.len;
    return true;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]): a view of `storage`, bounds-checked. */
static pk_value *rebuild_tensor(pk_vm *vm, const pk_value *callable, const pk_value *args)
{
    if (args->u.seq.len < 4 || arg(args, 0)->kind != PK_STORAGE || arg(args, 1)->kind != PK_INT) {
        bad_args(vm, callable);
        return NULL;
    }
    const pk_value *storage = arg(args, 0);
    int64_t offset = arg(args, 1)->u.i;
    pk_value *v = new_value(vm, PK_TENSOR);
    vc_weight_info *t = &v->u.tensor;
    int nstride = -1;
    if (!read_dims(arg(args, 2), t->shape, &t->ndim) || !read_dims(arg(args, 3), t->stride, &nstride) ||
        nstride != t->ndim) {
        io_fail(vm->err, vm->errlen, "tensor with a malformed size or stride before offset %zu",
                offset_of(vm));
        return NULL;
    }
    t->dtype = storage->u.storage.dtype;
    uint64_t numel = storage->u.storage.numel;
    if (offset < 0 || (uint64_t)offset > numel) {
        io_fail(vm->err, vm->errlen, "tensor storage offset %lld outside its storage of %llu elements",
                (long long)offset, (unsigned long long)numel);
        return NULL;
    }
    size_t esize = vc_dtype_size(t->dtype);
    t->data = storage->u.storage.data + (uint64_t)offset * esize;
    if (io_check_extent(t, (numel - (uint64_t)offset) * esize, vm->err, vm->errlen) != 0)
        return NULL;
    return v;
}

static pk_value *call(pk_vm *vm, const pk_value *callable, const pk_value *args);

/* _rebuild_from_type_v2(func, type, args, state): how torch pickles a tensor
 * carrying Python attributes; the attributes do not matter here. */
static pk_value *rebuild_from_type(pk_vm *vm, const pk_value *callable, const pk_value *args)
{
    if (args->u.seq.len != 4 || arg(args, 0)->kind != PK_GLOBAL ||
        is_global(arg(args, 0), G_REBUILD_FROM_TYPE_V2) || !is_global(arg(args, 1), G_TENSOR_TYPE) ||
        arg(args, 2)->kind != PK_TUPLE) {
        bad_args(vm, callable);
        return NULL;
    }
    return call(vm, arg(args, 0), arg(args, 2));
}

/* Applies one of the known callables; anything else is refused. */
static pk_value *call(pk_vm *vm, const pk_value *callable, const pk_value *args)
{
    if (callable->kind != PK_GLOBAL || args->kind != PK_TUPLE) {
        io_fail(vm->err, vm->errlen, "pickle calls a non-callable before offset %zu", offset_of(vm));
        return NULL;
    }
    size_t n = args->u.seq.len;
    switch (callable->u.global->id) {
    case G_ORDERED_DICT:
        if (n != 0)
            break;
        return new_value(vm, PK_DICT);
    case G_REBUILD_TENSOR_V2:
        return rebuild_tensor(vm, callable, args);
    case G_REBUILD_PARAMETER:              /* (data, requires_grad, backward_hooks) */
    case G_REBUILD_PARAMETER_WITH_STATE:   /* ... and state */
        if (n < 1 || arg(args, 0)->kind != PK_TENSOR)
            break;
        return args->u.seq.items[0];
    case G_REBUILD_FROM_TYPE_V2:
        return rebuild_from_type(vm, callable, args);
    case G_TORCH_SIZE:
        if (n != 1 || arg(args, 0)->kind != PK_TUPLE)
            break;
        return args->u.seq.items[0];
    case G_CODECS_ENCODE:
        if (n < 1 || arg(args, 0)->kind != PK_STR)
            break;
        return args->u.seq.items[0];
    case G_SET:
        if (n == 0)
            return new_seq(vm, PK_LIST, NULL, 0);
        if (n != 1 || arg(args, 0)->kind != PK_LIST)
            break;
        return args->u.seq.items[0];
    case G_TENSOR_TYPE:
    case G_STORAGE_TYPE:
        io_fail(vm->err, vm->errlen, "pickle calls %s.%s, which a state dict never does",
                callable->u.global->module, callable->u.global->name);
        return NULL;
    }
    bad_args(vm, callable);
    return NULL;
}

/* BINPERSID: torch's persistent id ('storage', storage_type, key, location,
 * numel) names archive member data/KEY. */
static pk_value *persistent_load(pk_vm *vm, const pk_value *pid)
{
    if (pid->kind != PK_TUPLE || pid->u.seq.len != 5 || arg(pid, 0)->kind != PK_STR ||
        strcmp(arg(pid, 0)->u.str.s, "storage") != 0 || !is_global(arg(pid, 1), G_STORAGE_TYPE) ||
        arg(pid, 2)->kind != PK_STR || arg(pid, 4)->kind != PK_INT || arg(pid, 4)->u.i < 0) {
        io_fail(vm->err, vm->errlen, "unexpected persistent id before offset %zu", offset_of(vm));
        return NULL;
    }
    vc_dtype dtype = arg(pid, 1)->u.global->dtype;
    uint64_t numel = (uint64_t)arg(pid, 4)->u.i, nbytes = 0, want;
    const uint8_t *data = NULL;
    const char *key = arg(pid, 2)->u.str.s;
    if (vm->loader(vm->loader_ctx, key, &data, &nbytes, vm->err, vm->errlen) != 0)
        return NULL;
    if (__builtin_mul_overflow(numel, (uint64_t)vc_dtype_size(dtype), &want) || want > nbytes) {
        io_fail(vm->err, vm->errlen, "storage %s claims %llu elements but holds %llu bytes", key,
                (unsigned long long)numel, (unsigned long long)nbytes);
        return NULL;
    }
    pk_value *v = new_value(vm, PK_STORAGE);
    v->u.storage.dtype = dtype;
    v->u.storage.data = data;
    v->u.storage.numel = numel;
    return v;
}

/* ---- opcode handlers ---- */

/* Pushes a string whose length is an n-byte little-endian prefix. */
static int op_string(pk_vm *vm, size_t len_bytes)
{
    uint64_t len = 0;
    if (arg_le(vm, len_bytes, &len) != 0)
        return -1;
    if (len > (uint64_t)(vm->end - vm->p))
        return need(vm, SIZE_MAX);
    push(vm, new_str(vm, vm->p, (size_t)len));
    vm->p += len;
    return 0;
}

/* A signed little-endian integer of n bytes (LONG1/LONG4 payloads). */
static int op_long(pk_vm *vm, size_t len_bytes)
{
    uint64_t n = 0;
    if (arg_le(vm, len_bytes, &n) != 0)
        return -1;
    if (need(vm, (size_t)n) != 0)
        return -1;
    if (n > 8) {
        /* Wider ints (seeds, say) can be no size or offset: kept as an opaque value. */
        vm->p += n;
        push(vm, new_value(vm, PK_NONE));
        return 0;
    }
    uint64_t u = read_le(vm, (size_t)n);
    if (n > 0 && n < 8 && (u >> (8 * n - 1)) & 1)
        u |= ~(uint64_t)0 << (8 * n);   /* sign-extend */
    push(vm, new_int(vm, (int64_t)u));
    return 0;
}

static int op_binfloat(pk_vm *vm)
{
    if (need(vm, 8) != 0)
        return -1;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | *vm->p++;    /* big-endian */
    pk_value *v = new_value(vm, PK_FLOAT);
    memcpy(&v->u.f, &bits, sizeof(bits));
    push(vm, v);
    return 0;
}

/* Reads one newline-terminated line of GLOBAL's text argument into buf. */
static int read_line(pk_vm *vm, char *buf)
{
    const uint8_t *nl = memchr(vm->p, '\n', (size_t)(vm->end - vm->p));
    if (!nl)
        return need(vm, SIZE_MAX);
    size_t len = (size_t)(nl - vm->p);
    if (len >= MAX_GLOBAL_NAME)
        return io_fail(vm->err, vm->errlen, "overlong global name at offset %zu", offset_of(vm));
    memcpy(buf, vm->p, len);
    buf[len] = '\0';
    vm->p = nl + 1;
    return 0;
}

static int op_global(pk_vm *vm)
{
    char module[MAX_GLOBAL_NAME], name[MAX_GLOBAL_NAME];
    if (read_line(vm, module) != 0 || read_line(vm, name) != 0)
        return -1;
    return find_global(vm, module, name);
}

static int op_stack_global(pk_vm *vm)
{
    pk_value *module = NULL, *name = NULL;
    if (pop(vm, &name) != 0 || pop(vm, &module) != 0)
        return -1;
    if (module->kind != PK_STR || name->kind != PK_STR)
        return io_fail(vm->err, vm->errlen, "STACK_GLOBAL without strings at offset %zu", offset_of(vm));
    return find_global(vm, module->u.str.s, name->u.str.s);
}

/* Replaces the values above the latest mark by one sequence of them. */
static int op_collect(pk_vm *vm, pk_kind kind)
{
    size_t first = 0;
    if (pop_mark(vm, &first) != 0)
        return -1;
    pk_value *v = new_seq(vm, kind, vm->stack + first, vm->sp - first);
    vm->sp = first;
    push(vm, v);
    return 0;
}

static int op_small_tuple(pk_vm *vm, size_t n)
{
    if (vm->sp - stack_floor(vm) < n)
        return io_fail(vm->err, vm->errlen, "pickle stack underflow at offset %zu", offset_of(vm));
    pk_value *v = new_seq(vm, PK_TUPLE, vm->stack + vm->sp - n, n);
    vm->sp -= n;
    push(vm, v);
    return 0;
}

/* APPENDS/ADDITEMS (marked) or APPEND: adds values to the list below them. */
static int op_append(pk_vm *vm, bool marked)
{
    size_t first = vm->sp - 1;
    if (marked ? pop_mark(vm, &first) != 0 : vm->sp <= stack_floor(vm))
        return io_fail(vm->err, vm->errlen, "pickle APPEND without a list at offset %zu", offset_of(vm));
    if (first <= stack_floor(vm) || vm->stack[first - 1]->kind != PK_LIST)
        return io_fail(vm->err, vm->errlen, "pickle APPEND without a list at offset %zu", offset_of(vm));
    pk_value *list = vm->stack[first - 1];
    for (size_t i = first; i < vm->sp; i++)
        seq_append(list, vm->stack[i]);
    vm->sp = first;
    return 0;
}

/* SETITEMS (marked) or SETITEM: key/value pairs into the dict below them. */
static int op_setitems(pk_vm *vm, bool marked)
{
    size_t first = vm->sp >= 2 ? vm->sp - 2 : 0;
    if (marked ? pop_mark(vm, &first) != 0 : vm->sp < stack_floor(vm) + 2)
        return io_fail(vm->err, vm->errlen, "pickle SETITEM without a dict at offset %zu", offset_of(vm));
    if ((vm->sp - first) % 2 || first <= stack_floor(vm) || vm->stack[first - 1]->kind != PK_DICT)
        return io_fail(vm->err, vm->errlen, "pickle SETITEM without a dict at offset %zu", offset_of(vm));
    pk_value *dict = vm->stack[first - 1];
    for (size_t i = first; i < vm->sp; i += 2)
        dict_set(dict, vm->stack[i], vm->stack[i + 1]);
    vm->sp = first;
    return 0;
}

/* DICT: a dict of the key/value pairs above the latest mark. */
static int op_dict(pk_vm *vm)
{
    size_t first = 0;
    if (pop_mark(vm, &first) != 0)
        return -1;
    if ((vm->sp - first) % 2)
        return io_fail(vm->err, vm->errlen, "pickle DICT with an odd item count at offset %zu", offset_of(vm));
    pk_value *dict = new_value(vm, PK_DICT);
    for (size_t i = first; i < vm->sp; i += 2)
        dict_set(dict, vm->stack[i], vm->stack[i + 1]);
    vm->sp = first;
    push(vm, dict);
    return 0;
}

/* REDUCE (callable, args) and NEWOBJ (cls, args) both build through call(). */
static int op_reduce(pk_vm *vm)
{
    pk_value *callable = NULL, *args = NULL, *result;
    if (pop(vm, &args) != 0 || pop(vm, &callable) != 0)
        return -1;
    if (!(result = call(vm, callable, args)))
        return -1;
    push(vm, result);
    return 0;
}

static int op_newobj_ex(pk_vm *vm)
{
    pk_value *kwargs = NULL;
    if (pop(vm, &kwargs) != 0)
        return -1;
    if (kwargs->kind != PK_DICT || kwargs->u.dict.len)
        return io_fail(vm->err, vm->errlen, "NEWOBJ_EX with keyword arguments at offset %zu", offset_of(vm));
    return op_reduce(vm);
}

/* BUILD sets an object's state: an OrderedDict's _metadata, which a reader of
 * tensors does not need, so the state is dropped. */
static int op_build(pk_vm *vm)
{
    pk_value *state = NULL, *obj = NULL;
    return pop(vm, &state) != 0 || top(vm, &obj) != 0 ? -1 : 0;
}

static int op_persid(pk_vm *vm)
{
    pk_value *pid = NULL, *storage;
    if (pop(vm, &pid) != 0 || !(storage = persistent_load(vm, pid)))
        return -1;
    push(vm, storage);
    return 0;
}

static int op_proto(pk_vm *vm)
{
    uint64_t proto = 0;
    if (arg_le(vm, 1, &proto) != 0)
        return -1;
    if (proto > HIGHEST_PROTOCOL)
        return io_fail(vm->err, vm->errlen, "unsupported pickle protocol %llu", (unsigned long long)proto);
    return 0;
}

/* FRAME announces the length of what follows, a buffering hint. */
static int op_frame(pk_vm *vm)
{
    uint64_t frame_len = 0;
    return arg_le(vm, 8, &frame_len);
}

static int op_memo(pk_vm *vm, size_t idx_bytes, bool put)
{
    uint64_t idx = 0;
    if (arg_le(vm, idx_bytes, &idx) != 0)
        return -1;
    return put ? memo_put(vm, idx) : memo_get(vm, idx);
}

static int op_pop(pk_vm *vm)
{
    pk_value *v = NULL;
    return pop(vm, &v);
}

static int op_dup(pk_vm *vm)
{
    pk_value *v = NULL;
    if (top(vm, &v) != 0)
        return -1;
    push(vm, v);
    return 0;
}

static int op_pop_mark(pk_vm *vm)
{
    size_t first = 0;
    if (pop_mark(vm, &first) != 0)
        return -1;
    vm->sp = first;
    return 0;
}

static int op_push_int(pk_vm *vm, size_t bytes, bool is_signed)
{
    uint64_t u = 0;
    if (arg_le(vm, bytes, &u) != 0)
        return -1;
    push(vm, new_int(vm, is_signed ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u));
    return 0;
}

static int op_push_bool(pk_vm *vm, bool b)
{
    pk_value *v = new_value(vm, PK_BOOL);
    v->u.b = b;
    push(vm, v);
    return 0;
}

static int op_push_empty(pk_vm *vm, pk_kind kind)
{
    push(vm, kind == PK_DICT ? new_value(vm, PK_DICT) : new_seq(vm, kind, NULL, 0));
    return 0;
}

/* Runs one opcode; *done is set by STOP. */
static int step(pk_vm *vm, bool *done)
{
    if (need(vm, 1) != 0)
        return -1;
    int op = *vm->p++;
    switch (op) {
    case OP_PROTO: return op_proto(vm);
    case OP_FRAME: return op_frame(vm);
    case OP_STOP: *done = true; return 0;
    case OP_MARK: push_mark(vm); return 0;
    case OP_POP: return op_pop(vm);
    case OP_POP_MARK: return op_pop_mark(vm);
    case OP_DUP: return op_dup(vm);
    case OP_NONE: push(vm, new_value(vm, PK_NONE)); return 0;
    case OP_NEWTRUE: return op_push_bool(vm, true);
    case OP_NEWFALSE: return op_push_bool(vm, false);
    case OP_BININT: return op_push_int(vm, 4, true);
    case OP_BININT1: return op_push_int(vm, 1, false);
    case OP_BININT2: return op_push_int(vm, 2, false);
    case OP_LONG1: return op_long(vm, 1);
    case OP_LONG4: return op_long(vm, 4);
    case OP_BINFLOAT: return op_binfloat(vm);
    case OP_SHORT_BINUNICODE: case OP_SHORT_BINSTRING: case OP_SHORT_BINBYTES: return op_string(vm, 1);
    case OP_BINUNICODE: case OP_BINSTRING: case OP_BINBYTES: return op_string(vm, 4);
    case OP_BINUNICODE8: case OP_BINBYTES8: return op_string(vm, 8);
    case OP_EMPTY_TUPLE: return op_push_empty(vm, PK_TUPLE);
    case OP_EMPTY_LIST: case OP_EMPTY_SET: return op_push_empty(vm, PK_LIST);
    case OP_EMPTY_DICT: return op_push_empty(vm, PK_DICT);
    case OP_TUPLE: return op_collect(vm, PK_TUPLE);
    case OP_LIST: case OP_FROZENSET: return op_collect(vm, PK_LIST);
    case OP_TUPLE1: return op_small_tuple(vm, 1);
    case OP_TUPLE2: return op_small_tuple(vm, 2);
    case OP_TUPLE3: return op_small_tuple(vm, 3);
    case OP_DICT: return op_dict(vm);
    case OP_APPEND: return op_append(vm, false);
    case OP_APPENDS: case OP_ADDITEMS: return op_append(vm, true);
    case OP_SETITEM: return op_setitems(vm, false);
    case OP_SETITEMS: return op_setitems(vm, true);
    case OP_BINPUT: return op_memo(vm, 1, true);
    case OP_LONG_BINPUT: return op_memo(vm, 4, true);
    case OP_MEMOIZE: return memo_put(vm, vm->memo_count);
    case OP_BINGET: return op_memo(vm, 1, false);
    case OP_LONG_BINGET: return op_memo(vm, 4, false);
    case OP_GLOBAL: return op_global(vm);
    case OP_STACK_GLOBAL: return op_stack_global(vm);
    case OP_REDUCE: case OP_NEWOBJ: return op_reduce(vm);
    case OP_NEWOBJ_EX: return op_newobj_ex(vm);
    case OP_BUILD: return op_build(vm);
    case OP_BINPERSID: return op_persid(vm);
    default:
        return io_fail(vm->err, vm->errlen, "unsupported pickle opcode 0x%02x at offset %zu", op,
                       offset_of(vm) - 1);
    }
}

pk_value *pk_load(const uint8_t *data, size_t len, pk_storage_loader loader, void *loader_ctx,
                  pk_heap *heap, char *err, size_t errlen)
{
    pk_vm vm = {.start = data, .p = data, .end = data + len, .heap = heap, .loader = loader,
                .loader_ctx = loader_ctx, .err = err, .errlen = errlen,
                .memo_limit = VC_MAX(len, (size_t)256)};
    pk_value *result = NULL;
    bool done = false;
    int rc = 0;
    while (rc == 0 && !done)
        rc = step(&vm, &done);
    if (rc == 0 && pop(&vm, &result) != 0)
        result = NULL;
    free(vm.stack);
    free(vm.marks);
    free(vm.memo);
    return result;
}
