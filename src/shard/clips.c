#include "shard/clips.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shard/parallel.h"
#include "shard/pyload.h"
#include "shard/t5src.h"
#include "storage/fs.h"
#include "storage/s3.h"
#include "util/log.h"

uint64_t vc_shard_fnv1a(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int cmp_clip_path(const void *a, const void *b)
{
    return strcmp(((const vc_shard_clip *)a)->metas_path, ((const vc_shard_clip *)b)->metas_path);
}

static void collect_listed(json_t *summary, vc_strlist *uuids)
{
    const char *key;
    json_t *entry;
    json_object_foreach(summary, key, entry) {
        json_t *clips = json_object_get(entry, "clips"); /* NULL for non-objects */
        if (!json_is_array(clips))
            continue;
        size_t i;
        json_t *c;
        json_array_foreach(clips, i, c) {
            if (json_is_string(c))
                vc_strlist_push(uuids, json_string_value(c));
            else
                vc_warn("summary.json: entry %s lists a clip that is not a string; ignored", key);
        }
    }
}

int vc_shard_list_clips(const char *input, const char *version, vc_shard_cliplist *out, char **err)
{
    char *path = vc_fs_join(input, "summary.json");
    size_t len = 0;
    char *text = vc_fs_read_all(path, &len);
    if (!text) {
        *err = errno == ENOENT
                   ? vc_asprintf("%s not found: shard reads the clip list from split's "
                                 "summary.json (is --input-clip-path a split output?)", path)
                   : vc_asprintf("cannot read %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    char *jerr = NULL;
    json_t *summary = vc_shard_json_loads(text, len, &jerr);
    free(text);
    if (!summary || !json_is_object(summary)) {
        *err = vc_asprintf("%s: not a JSON object%s%s", path, jerr ? ": " : "", jerr ? jerr : "");
        free(jerr);
        json_decref(summary);
        free(path);
        return -1;
    }
    vc_strlist uuids = { 0 };
    collect_listed(summary, &uuids);
    json_decref(summary);

    char *metas_dir = vc_asprintf("%s/metas/%s", input, version);
    out->items = vc_xcalloc(uuids.len ? uuids.len : 1, sizeof(*out->items));
    out->len = uuids.len;
    for (size_t i = 0; i < uuids.len; i++) {
        vc_shard_clip *c = &out->items[i];
        c->listed = uuids.items[i];
        c->metas_path = vc_asprintf("%s/%s.json", metas_dir, c->listed);
        c->bin = -1;
        c->framerate = NAN;
    }
    free(uuids.items); /* strings now owned by the clips */
    qsort(out->items, out->len, sizeof(*out->items), cmp_clip_path);
    /* The same clip listed twice (e.g. two summary entries) is one clip. */
    size_t w = 0;
    for (size_t i = 0; i < out->len; i++) {
        if (w > 0 && strcmp(out->items[w - 1].metas_path, out->items[i].metas_path) == 0) {
            vc_warn("summary.json lists clip %s more than once; packing it once",
                    out->items[i].listed);
            free(out->items[i].listed);
            free(out->items[i].metas_path);
            continue;
        }
        out->items[w++] = out->items[i];
    }
    out->len = w;
    free(metas_dir);
    free(path);
    return 0;
}

/* Python truthiness of a JSON value (`if clip_metadata["valid"]:`). */
static bool py_truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_TRUE: return true;
    case JSON_FALSE: case JSON_NULL: return false;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0;
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_OBJECT: return json_object_size(v) > 0;
    }
    return false;
}

static void leave_out(vc_shard_clip *c, const char *reason, char *detail)
{
    c->left_out = reason;
    c->detail = detail;
}

static bool get_number(json_t *m, const char *key, double *out)
{
    json_t *v = json_object_get(m, key);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void scan_captions(vc_shard_clip *c, json_t *m, const char *caption_key)
{
    json_t *windows = json_object_get(m, "windows");
    size_t i;
    json_t *win;
    json_array_foreach(windows, i, win) {
        c->windows++;
        const char *k;
        json_t *v;
        bool has = false;
        json_object_foreach(win, k, v) {
            if (strcmp(k, caption_key) == 0) {
                has = true;
            } else if (ends_with(k, "_caption")) {
                bool seen = false;
                for (size_t j = 0; j < c->other_captions.len && !seen; j++)
                    seen = strcmp(c->other_captions.items[j], k) == 0;
                if (!seen)
                    vc_strlist_push(&c->other_captions, k);
            }
        }
        c->windows_captioned += has;
    }
}

static bool is_remote(const char *p)
{
    return strncmp(p, "s3://", 5) == 0 || strncmp(p, "az://", 5) == 0;
}

static bool regular_file_size(const char *path, int64_t *size)
{
    return vc_fs_size(path, size) == 0;
}

/* Cosmos reads clip_location as written (so the split output must not move);
 * we fall back to {input}/clips/{uuid}.mp4 when that path is gone. */
static void resolve_mp4(vc_shard_clip *c, const char *input, const char *location)
{
    bool readable = location && (!is_remote(location) || vc_s3_is_url(location));
    if (readable && regular_file_size(location, &c->file_bytes)) {
        c->mp4_path = vc_xstrdup(location);
        return;
    }
    char *fallback = vc_asprintf("%s/clips/%s.mp4", input, c->uuid);
    if (regular_file_size(fallback, &c->file_bytes)) {
        if (location)
            vc_debug("clip %s: %s not found, using %s", c->uuid, location, fallback);
        c->mp4_path = fallback;
        return;
    }
    if (location && !readable)
        leave_out(c, VC_SHARD_LEFT_MISSING_MP4,
                  vc_asprintf("clip_location %s is on unsupported storage and %s "
                              "does not exist", location, fallback));
    else if (location && strcmp(location, fallback) != 0)
        leave_out(c, VC_SHARD_LEFT_MISSING_MP4,
                  vc_asprintf("%s not found (nor %s)", location, fallback));
    else if (location)
        leave_out(c, VC_SHARD_LEFT_MISSING_MP4, vc_asprintf("%s not found", location));
    else
        leave_out(c, VC_SHARD_LEFT_MISSING_MP4,
                  vc_asprintf("no clip_location in metadata and %s not found", fallback));
    free(fallback);
}

static void fill_from_metadata(vc_shard_clip *c, json_t *m, const char *input,
                               const char *caption_key)
{
    json_t *valid = json_object_get(m, "valid");
    json_t *span = json_object_get(m, "span_uuid");
    if (!json_is_string(span)) {
        leave_out(c, VC_SHARD_LEFT_BAD_METAS,
                  vc_asprintf("%s: no span_uuid string", c->metas_path));
        return;
    }
    c->uuid = vc_xstrdup(json_string_value(span));
    if (!valid) {
        leave_out(c, VC_SHARD_LEFT_BAD_METAS, vc_asprintf("%s: no 'valid' field", c->metas_path));
        return;
    }
    if (!py_truthy(valid)) {
        leave_out(c, VC_SHARD_LEFT_INVALID, vc_asprintf("%s says valid: false", c->metas_path));
        return;
    }
    static const char *const required[] = { "width", "height", "num_frames", "num_bytes" };
    double num_bytes = 0;
    double *dest[] = { &c->width, &c->height, &c->num_frames, &num_bytes };
    for (size_t i = 0; i < VC_ARRAY_LEN(required); i++) {
        if (!get_number(m, required[i], dest[i])) {
            leave_out(c, VC_SHARD_LEFT_BAD_METAS,
                      vc_asprintf("%s: missing or non-numeric '%s'", c->metas_path, required[i]));
            return;
        }
    }
    c->num_bytes = (int64_t)num_bytes;
    get_number(m, "framerate", &c->framerate); /* missing: no bin, as Cosmos */
    scan_captions(c, m, caption_key);
    json_t *loc = json_object_get(m, "clip_location");
    resolve_mp4(c, input, json_is_string(loc) ? json_string_value(loc) : NULL);
    if (!c->left_out && c->file_bytes != c->num_bytes)
        vc_warn("clip %s: metadata num_bytes %lld but %s has %lld bytes; packing the file",
                c->uuid, (long long)c->num_bytes, c->mp4_path, (long long)c->file_bytes);
}

typedef struct load_ctx {
    vc_shard_cliplist *l;
    const char *input;
    char *caption_key;
    const vc_shard_t5 *t5;
} load_ctx;

static void load_one(size_t i, void *opaque)
{
    load_ctx *ctx = opaque;
    vc_shard_clip *c = &ctx->l->items[i];
    size_t len = 0;
    char *text = vc_fs_read_all(c->metas_path, &len);
    if (!text) {
        int e = errno;
        leave_out(c, e == ENOENT ? VC_SHARD_LEFT_MISSING_METAS : VC_SHARD_LEFT_BAD_METAS,
                  vc_asprintf("cannot read %s: %s", c->metas_path, strerror(e)));
        return;
    }
    c->metas_hash = vc_shard_fnv1a(VC_SHARD_FNV_INIT, text, len);
    char *err = NULL;
    json_t *m = vc_shard_json_loads(text, len, &err);
    free(text);
    if (!json_is_object(m)) {
        leave_out(c, VC_SHARD_LEFT_BAD_METAS,
                  vc_asprintf("%s: %s", c->metas_path, err ? err : "not a JSON object"));
        free(err);
        json_decref(m);
        return;
    }
    fill_from_metadata(c, m, ctx->input, ctx->caption_key);
    if (ctx->t5)
        vc_shard_t5_classify(ctx->t5, c, m);
    json_decref(m);
}

void vc_shard_load_clips(vc_shard_cliplist *l, const char *input, const char *caption_algo,
                         const struct vc_shard_t5 *t5, int threads)
{
    load_ctx ctx = { l, input, vc_asprintf("%s_caption", caption_algo), t5 };
    vc_shard_parallel_for(l->len, threads, load_one, &ctx);
    free(ctx.caption_key);
}

void vc_shard_cliplist_free(vc_shard_cliplist *l)
{
    for (size_t i = 0; i < l->len; i++) {
        vc_shard_clip *c = &l->items[i];
        free(c->listed);
        free(c->metas_path);
        free(c->uuid);
        free(c->mp4_path);
        free(c->detail);
        vc_strlist_free(&c->other_captions);
    }
    free(l->items);
    l->items = NULL;
    l->len = 0;
}
