/* Shared by the checkpoint readers of src/nn/io; not part of the API.
 *
 * Each reader (torch zip, safetensors, sharded index) fills a vc_weights from
 * a mapped file. Errors are written to err as the bare cause; weights.c
 * prefixes the file name. */
#ifndef VC_NN_IO_INTERNAL_H
#define VC_NN_IO_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/weights.h"
#include "util/common.h"

/* A read-only memory map of a whole file. */
typedef struct io_map {
    const uint8_t *data;
    size_t size;
} io_map;

/* One shard of a sharded index, opened on first use. */
typedef struct io_shard {
    char *path;
    vc_weights *w;     /* NULL until opened */
    char *error;       /* why opening failed, kept so it is reported again */
} io_shard;

/* One name of a sharded index's weight_map. */
typedef struct io_index_entry {
    const char *name;
    size_t shard;
} io_index_entry;

struct vc_weights {
    char *path;
    io_map map;
    bool mapped;                 /* map is ours to unmap (not a caller's buffer) */
    vc_strlist strings;          /* owns tensor names and other copied strings */

    /* Files (zip, safetensors): every tensor, in file order, and a by-name view. */
    vc_weight_info *tensors;
    size_t count, cap;
    const vc_weight_info **by_name;

    /* Sharded index: names in weight_map order, a by-name view, lazy shards. */
    io_index_entry *entries;
    size_t entry_count;
    const io_index_entry **entries_by_name;
    io_shard *shards;
    size_t shard_count;
    pthread_mutex_t shard_lock;  /* guards shard opening */
    bool is_index;
};

/* Writes the message to err and returns -1, so failures read `return io_fail(...)`. */
int io_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Puts the formatted prefix before the message already in err; returns -1. */
int io_prefix(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Copies s into w's string store; the copy lives as long as w. */
const char *io_keep_string(vc_weights *w, const char *s, size_t len);

/* Appends a tensor (its name is copied). */
void io_add_tensor(vc_weights *w, const vc_weight_info *t);

/* Checks a tensor's extent against the bytes available from its data pointer:
 * every element reachable through shape and strides must lie in [0, avail). */
int io_check_extent(const vc_weight_info *t, uint64_t avail_bytes, char *err, size_t errlen);

/* Sorts the by-name view; fails on a repeated name. */
int io_index_names(vc_weights *w, char *err, size_t errlen);

/* Opens a checkpoint from path, or from buffer if not NULL (path then names it
 * in messages and locates an index's shards). A sharded index may not name
 * another index. */
vc_weights *io_open(const char *path, const io_map *buffer, bool allow_index, char *err,
                    size_t errlen);

/* The readers, each given a vc_weights whose map is set. */
int io_read_torch_zip(vc_weights *w, char *err, size_t errlen);
int io_read_safetensors(vc_weights *w, char *err, size_t errlen);
int io_read_index(vc_weights *w, char *err, size_t errlen);

/* Sharded index lookups (index.c). */
const vc_weight_info *io_index_get(const vc_weights *w, size_t entry, char *err, size_t errlen);
const io_index_entry *io_index_find(const vc_weights *w, const char *name);

#endif
