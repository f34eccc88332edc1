/* PyTorch zip checkpoints (torch.save since torch 1.6).
 *
 * PREFIX/data.pkl pickles the saved object; each tensor storage is the stored
 * member PREFIX/data/KEY, named by a persistent id in the pickle. PREFIX is
 * the archive's top folder, whose name varies with the file it was saved to.
 * Only the central directory, data.pkl and the storages' local headers are
 * read here; tensor bytes are left for the caller to touch. */
#include <stdlib.h>
#include <string.h>

#include "nn/io/io_internal.h"
#include "nn/io/pickle.h"
#include "nn/io/zip.h"

/* Nested containers deeper than this are not searched for a state dict. */
#define MAX_SEARCH_DEPTH 32

typedef struct torch_archive {
    vc_weights *w;
    io_zip zip;
    char *prefix;          /* top folder, without the slash */
} torch_archive;

static int load_storage(void *ctx, const char *key, const uint8_t **data, uint64_t *nbytes,
                        char *err, size_t errlen)
{
    torch_archive *a = ctx;
    char *name = vc_asprintf("%s/data/%s", a->prefix, key);
    const io_zip_member *m = io_zip_find(&a->zip, name);
    free(name);
    if (!m)
        return io_fail(err, errlen, "storage %s is missing from the archive", key);
    *nbytes = m->size;
    return io_zip_member_data(a->w->map.data, a->w->map.size, m, data, err, errlen);
}

/* Finds TOP/data.pkl, TOP being a single folder name. */
static const io_zip_member *find_pickle(torch_archive *a)
{
    static const char suffix[] = "/data.pkl";
    for (size_t i = 0; i < a->zip.count; i++) {
        const char *name = a->zip.members[i].name;
        const char *slash = strchr(name, '/');
        if (slash && slash != name && !strcmp(slash, suffix)) {
            a->prefix = vc_xmalloc((size_t)(slash - name) + 1);
            memcpy(a->prefix, name, (size_t)(slash - name));
            a->prefix[slash - name] = '\0';
            return &a->zip.members[i];
        }
    }
    return NULL;
}

static bool has_member(const torch_archive *a, const char *leaf)
{
    char *name = vc_asprintf("%s/%s", a->prefix, leaf);
    bool found = io_zip_find(&a->zip, name) != NULL;
    free(name);
    return found;
}

/* Tensor bytes are used as they lie, so they must be little-endian. */
static int check_byteorder(const torch_archive *a, char *err, size_t errlen)
{
    char *name = vc_asprintf("%s/byteorder", a->prefix);
    const io_zip_member *m = io_zip_find(&a->zip, name);
    free(name);
    const uint8_t *data = NULL;
    if (!m)
        return 0;   /* written before torch 2.1: always little-endian in practice */
    if (io_zip_member_data(a->w->map.data, a->w->map.size, m, &data, err, errlen) != 0)
        return -1;
    if (m->size != 6 || memcmp(data, "little", 6) != 0)
        return io_fail(err, errlen, "big-endian checkpoints are not supported");
    return 0;
}

static size_t count_tensors(const pk_value *dict)
{
    size_t n = 0;
    for (size_t i = 0; i < dict->u.dict.len; i++)
        n += dict->u.dict.keys[i]->kind == PK_STR && dict->u.dict.vals[i]->kind == PK_TENSOR;
    return n;
}

/* A training checkpoint nests the state dict ({"state_dict": ...},
 * {"model": ..., "optimizer": ...}); the state dict is the dict holding the
 * most tensors directly, the first one in file order on a tie. */
static void find_state_dict(pk_value *v, int depth, pk_value **best, size_t *best_count)
{
    if (v->visited || depth > MAX_SEARCH_DEPTH)
        return;
    v->visited = true;
    if (v->kind == PK_DICT) {
        size_t n = count_tensors(v);
        if (n > *best_count) {
            *best = v;
            *best_count = n;
        }
        for (size_t i = 0; i < v->u.dict.len; i++)
            find_state_dict(v->u.dict.vals[i], depth + 1, best, best_count);
    } else if (v->kind == PK_TUPLE || v->kind == PK_LIST) {
        for (size_t i = 0; i < v->u.seq.len; i++)
            find_state_dict(v->u.seq.items[i], depth + 1, best, best_count);
    }
}

static int add_state_dict(torch_archive *a, pk_value *root, char *err, size_t errlen)
{
    pk_value *dict = NULL;
    size_t count = 0;
    find_state_dict(root, 0, &dict, &count);
    if (!dict) {
        if (root->kind == PK_DICT)
            return 0;   /* an empty state dict */
        return io_fail(err, errlen, "data.pkl holds no dict of tensors (not a state dict)");
    }
    for (size_t i = 0; i < dict->u.dict.len; i++) {
        const pk_value *key = dict->u.dict.keys[i], *val = dict->u.dict.vals[i];
        if (key->kind != PK_STR || val->kind != PK_TENSOR)
            continue;
        vc_weight_info t = val->u.tensor;
        t.name = key->u.str.s;
        t.file = a->w->path;
        io_add_tensor(a->w, &t);
    }
    return 0;
}

static int read_archive(torch_archive *a, char *err, size_t errlen)
{
    const uint8_t *file = a->w->map.data;
    if (io_zip_read(file, a->w->map.size, &a->zip, err, errlen) != 0)
        return -1;
    const io_zip_member *pkl = find_pickle(a);
    if (!pkl)
        return io_fail(err, errlen, "a ZIP archive without */data.pkl, so not a torch.save checkpoint");
    if (has_member(a, "constants.pkl"))
        return io_fail(err, errlen, "a TorchScript archive (torch.jit.save), not a state dict: "
                                    "save model.state_dict() with torch.save instead");
    const uint8_t *pickle = NULL;
    if (check_byteorder(a, err, errlen) != 0 ||
        io_zip_member_data(file, a->w->map.size, pkl, &pickle, err, errlen) != 0)
        return -1;
    pk_heap heap = {0};
    pk_value *root = pk_load(pickle, (size_t)pkl->size, load_storage, a, &heap, err, errlen);
    int rc = root ? add_state_dict(a, root, err, errlen) : -1;
    pk_heap_free(&heap);
    return rc;
}

int io_read_torch_zip(vc_weights *w, char *err, size_t errlen)
{
    torch_archive a = {.w = w};
    int rc = read_archive(&a, err, errlen);
    io_zip_free(&a.zip);
    free(a.prefix);
    return rc;
}
