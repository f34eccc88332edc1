/* Hugging Face sharded checkpoints: NAME.index.json maps each tensor to the
 * shard holding it ({"weight_map": {name: file}}), files relative to the
 * index's folder. A shard is opened the first time one of its tensors is
 * asked for, so a model using part of the weights maps only its shards. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "nn/io/io_internal.h"

/* Shard names come from the file: keep them inside the index's folder. */
static bool is_safe_relative(const char *file)
{
    if (!*file || file[0] == '/')
        return false;
    for (const char *s = file; s; s = strchr(s, '/')) {
        s += *s == '/';
        if (!strncmp(s, "..", 2) && (s[2] == '/' || s[2] == '\0'))
            return false;
    }
    return true;
}

static char *shard_path(const char *index_path, const char *file)
{
    const char *slash = strrchr(index_path, '/');
    if (!slash)
        return vc_xstrdup(file);
    return vc_asprintf("%.*s/%s", (int)(slash - index_path), index_path, file);
}

/* A weight_map entry with its shard's file name, for grouping by shard. */
typedef struct pending {
    const char *file;
    size_t entry;
} pending;

static int compare_pending(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : (x->entry > y->entry) - (x->entry < y->entry);
}

/* Gives each distinct shard file one io_shard and points entries at it. */
static void assign_shards(vc_weights *w, pending *p, size_t n)
{
    qsort(p, n, sizeof(*p), compare_pending);
    w->shards = vc_xcalloc(n ? n : 1, sizeof(*w->shards));
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(p[i - 1].file, p[i].file) != 0)
            w->shards[w->shard_count++].path = shard_path(w->path, p[i].file);
        w->entries[p[i].entry].shard = w->shard_count - 1;
    }
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp((*(const io_index_entry *const *)a)->name, (*(const io_index_entry *const *)b)->name);
}

static int read_weight_map(vc_weights *w, json_t *map, char *err, size_t errlen)
{
    size_t n = json_object_size(map);
    pending *p = vc_xcalloc(n ? n : 1, sizeof(*p));
    w->entries = vc_xcalloc(n ? n : 1, sizeof(*w->entries));
    const char *name;
    json_t *file;
    json_object_foreach(map, name, file) {
        const char *f = json_string_value(file);
        if (!f || !is_safe_relative(f)) {
            free(p);
            return io_fail(err, errlen, "weight_map entry %s: shard must be a file name inside the "
                                        "index's folder", name);
        }
        w->entries[w->entry_count].name = io_keep_string(w, name, strlen(name));
        p[w->entry_count] = (pending){.file = f, .entry = w->entry_count};
        w->entry_count++;
    }
    assign_shards(w, p, w->entry_count);
    free(p);
    w->entries_by_name = vc_xcalloc(n ? n : 1, sizeof(*w->entries_by_name));
    for (size_t i = 0; i < w->entry_count; i++)
        w->entries_by_name[i] = &w->entries[i];
    qsort(w->entries_by_name, w->entry_count, sizeof(*w->entries_by_name), compare_entries);
    return 0;
}

int io_read_index(vc_weights *w, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)w->map.data, w->map.size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return io_fail(err, errlen, "not valid JSON: %s (line %d)", jerr.text, jerr.line);
    json_t *map = json_object_get(root, "weight_map");
    int rc = json_is_object(map)
                 ? read_weight_map(w, map, err, errlen)
                 : io_fail(err, errlen, "JSON without a \"weight_map\" object, so not a sharded index");
    json_decref(root);
    return rc;
}

const io_index_entry *io_index_find(const vc_weights *w, const char *name)
{
    io_index_entry key = {.name = name};
    const io_index_entry *pkey = &key;
    const io_index_entry **found =
        w->entry_count ? bsearch(&pkey, w->entries_by_name, w->entry_count,
                                 sizeof(*w->entries_by_name), compare_entries)
                       : NULL;
    return found ? *found : NULL;
}

/* Opens the shard once; a failure is remembered and reported on every use. */
static vc_weights *open_shard(const vc_weights *w, io_shard *s, char *err, size_t errlen)
{
    pthread_mutex_t *lock = (pthread_mutex_t *)&w->shard_lock;
    pthread_mutex_lock(lock);
    if (!s->w && !s->error) {
        char cause[1024];
        s->w = io_open(s->path, NULL, false, cause, sizeof(cause));
        if (!s->w)
            s->error = vc_xstrdup(cause);
    }
    vc_weights *shard = s->w;
    pthread_mutex_unlock(lock);
    if (!shard)
        io_fail(err, errlen, "%s", s->error);
    return shard;
}

const vc_weight_info *io_index_get(const vc_weights *w, size_t entry, char *err, size_t errlen)
{
    const io_index_entry *e = &w->entries[entry];
    io_shard *s = &w->shards[e->shard];
    vc_weights *shard = open_shard(w, s, err, errlen);
    if (!shard)
        return NULL;
    const vc_weight_info *t = vc_weights_find(shard, e->name);
    if (!t)
        io_fail(err, errlen, "%s: tensor %s: not in this shard, though %s says it is", s->path,
                e->name, w->path);
    return t;
}
