/* Opening checkpoints: map the file, recognise its format by content, hand it
 * to its reader; then name lookups common to all formats. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/io/io_internal.h"

int io_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int io_prefix(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return -1;
    char *cause = vc_xstrdup(err);
    va_list ap;
    va_start(ap, fmt);
    char *prefix = vc_vasprintf(fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s%s", prefix, cause);
    free(prefix);
    free(cause);
    return -1;
}

const char *io_keep_string(vc_weights *w, const char *s, size_t len)
{
    char *copy = vc_xmalloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    vc_strlist_push_owned(&w->strings, copy);
    return copy;
}

void io_add_tensor(vc_weights *w, const vc_weight_info *t)
{
    if (w->count == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->tensors = vc_xrealloc(w->tensors, w->cap * sizeof(*w->tensors));
    }
    vc_weight_info *dst = &w->tensors[w->count++];
    *dst = *t;
    dst->name = io_keep_string(w, t->name, strlen(t->name));
}

static int compare_by_name(const void *a, const void *b)
{
    return strcmp((*(const vc_weight_info *const *)a)->name, (*(const vc_weight_info *const *)b)->name);
}

int io_index_names(vc_weights *w, char *err, size_t errlen)
{
    w->by_name = vc_xcalloc(w->count ? w->count : 1, sizeof(*w->by_name));
    for (size_t i = 0; i < w->count; i++)
        w->by_name[i] = &w->tensors[i];
    qsort(w->by_name, w->count, sizeof(*w->by_name), compare_by_name);
    for (size_t i = 1; i < w->count; i++) {
        if (!strcmp(w->by_name[i - 1]->name, w->by_name[i]->name))
            return io_fail(err, errlen, "tensor %s appears twice", w->by_name[i]->name);
    }
    return 0;
}

/* ---- mapping ---- */

static int map_file(const char *path, io_map *m, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, errlen, "cannot open: %s", strerror(errno));
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0)
        io_fail(err, errlen, "cannot stat: %s", strerror(errno));
    else if (!S_ISREG(st.st_mode))
        io_fail(err, errlen, "not a regular file");
    else if (st.st_size == 0)
        io_fail(err, errlen, "empty file");
    else {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            io_fail(err, errlen, "cannot map: %s", strerror(errno));
        } else {
            m->data = p;
            m->size = (size_t)st.st_size;
            rc = 0;
        }
    }
    close(fd);
    return rc;
}

/* ---- recognising the format ---- */

static const uint8_t zip_magic[] = {'P', 'K', 3, 4}, empty_zip_magic[] = {'P', 'K', 5, 6};

/* Before torch 1.6, torch.save wrote pickles directly (protocol 2, which
 * starts with 0x80 0x02); other bare pickles start the same way. */
static bool is_bare_pickle(const io_map *m)
{
    return m->size >= 2 && m->data[0] == 0x80 && m->data[1] <= 5;
}

/* An 8-byte header length below 4 GiB, then the JSON object. */
static bool is_safetensors(const io_map *m)
{
    return m->size >= 9 && m->data[8] == '{' && !m->data[4] && !m->data[5] && !m->data[6] &&
           !m->data[7];
}

static bool is_json_object(const io_map *m)
{
    size_t i = 0;
    while (i < m->size && m->data[i] && strchr(" \t\r\n", m->data[i]))
        i++;
    return i < m->size && m->data[i] == '{';
}

static int read_format(vc_weights *w, bool allow_index, char *err, size_t errlen)
{
    const io_map *m = &w->map;
    if (m->size >= 4 && (!memcmp(m->data, zip_magic, 4) || !memcmp(m->data, empty_zip_magic, 4)))
        return io_read_torch_zip(w, err, errlen);
    if (is_bare_pickle(m))
        return io_fail(err, errlen,
                       "a pickle without torch's zip container: a legacy torch.save file (torch < 1.6, "
                       "or _use_new_zipfile_serialization=False), which is not supported; re-save it "
                       "with a current torch: torch.save(torch.load(path), path)");
    if (is_safetensors(m))
        return io_read_safetensors(w, err, errlen);
    if (is_json_object(m)) {
        if (!allow_index)
            return io_fail(err, errlen, "a sharded index may not name another index as a shard");
        w->is_index = true;
        return io_read_index(w, err, errlen);
    }
    return io_fail(err, errlen,
                   "not a checkpoint (neither a torch.save zip, safetensors, nor a *.index.json)");
}

vc_weights *io_open(const char *path, const io_map *buffer, bool allow_index, char *err,
                    size_t errlen)
{
    vc_weights *w = vc_xcalloc(1, sizeof(*w));
    char cause[1024] = "";
    w->path = vc_xstrdup(path);
    pthread_mutex_init(&w->shard_lock, NULL);
    int rc;
    if (buffer) {
        w->map = *buffer;
        rc = buffer->size ? 0 : io_fail(cause, sizeof(cause), "empty file");
    } else {
        rc = map_file(path, &w->map, cause, sizeof(cause));
        w->mapped = rc == 0;
    }
    if (rc != 0 || read_format(w, allow_index, cause, sizeof(cause)) != 0 ||
        (!w->is_index && io_index_names(w, cause, sizeof(cause)) != 0)) {
        io_fail(err, errlen, "%s: %s", path, cause);
        vc_weights_close(w);
        return NULL;
    }
    return w;
}

/* ---- the API ---- */

vc_weights *vc_weights_open(const char *path, char *err, size_t errlen)
{
    return io_open(path, NULL, true, err, errlen);
}

vc_weights *vc_weights_open_buffer(const void *data, size_t size, const char *name, char *err,
                                   size_t errlen)
{
    io_map buffer = {.data = data, .size = size};
    return io_open(name, &buffer, true, err, errlen);
}

void vc_weights_close(vc_weights *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->shard_count; i++) {
        vc_weights_close(w->shards[i].w);
        free(w->shards[i].path);
        free(w->shards[i].error);
    }
    free(w->shards);
    free(w->entries);
    free(w->entries_by_name);
    free(w->tensors);
    free(w->by_name);
    vc_strlist_free(&w->strings);
    if (w->mapped)
        munmap((void *)w->map.data, w->map.size);
    pthread_mutex_destroy(&w->shard_lock);
    free(w->path);
    free(w);
}

size_t vc_weights_count(const vc_weights *w)
{
    return w->is_index ? w->entry_count : w->count;
}

const vc_weight_info *vc_weights_at(const vc_weights *w, size_t i)
{
    if (i >= vc_weights_count(w))
        return NULL;
    return w->is_index ? io_index_get(w, i, NULL, 0) : &w->tensors[i];
}

const vc_weight_info *vc_weights_get(const vc_weights *w, const char *name, char *err, size_t errlen)
{
    if (w->is_index) {
        const io_index_entry *e = io_index_find(w, name);
        if (!e) {
            io_fail(err, errlen, "%s: tensor %s: not in the index", w->path, name);
            return NULL;
        }
        return io_index_get(w, (size_t)(e - w->entries), err, errlen);
    }
    vc_weight_info key = {.name = name};
    const vc_weight_info *pkey = &key;
    const vc_weight_info **found =
        w->count ? bsearch(&pkey, w->by_name, w->count, sizeof(*w->by_name), compare_by_name) : NULL;
    if (!found) {
        io_fail(err, errlen, "%s: tensor %s: not in the checkpoint", w->path, name);
        return NULL;
    }
    return *found;
}

const vc_weight_info *vc_weights_find(const vc_weights *w, const char *name)
{
    return vc_weights_get(w, name, NULL, 0);
}
