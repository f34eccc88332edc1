#include "shard/report.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/pyjson.h"
#include "util/log.h"

#define LOG_PER_REASON 50

static const char *const reasons[] = {
    VC_SHARD_LEFT_INVALID, VC_SHARD_LEFT_MISSING_METAS, VC_SHARD_LEFT_BAD_METAS,
    VC_SHARD_LEFT_MISSING_MP4, VC_SHARD_LEFT_DUPLICATE, "too_short", "bad_aspect_ratio",
    "bad_framerate", "bad_duration", VC_SHARD_LEFT_SMALL_SHARD,
};

static size_t reason_index(const char *r)
{
    for (size_t i = 0; i < VC_ARRAY_LEN(reasons); i++)
        if (strcmp(reasons[i], r) == 0)
            return i;
    return 0;
}

void vc_shard_log_left_out(const vc_shard_cliplist *clips)
{
    size_t counts[VC_ARRAY_LEN(reasons)] = { 0 };
    for (size_t i = 0; i < clips->len; i++) {
        const vc_shard_clip *c = &clips->items[i];
        if (!c->left_out)
            continue;
        size_t r = reason_index(c->left_out);
        enum vc_log_level lvl = counts[r]++ < LOG_PER_REASON ? VC_LOG_WARN : VC_LOG_DEBUG;
        vc_log(lvl, "clip %s left out (%s): %s", c->listed, c->left_out,
               c->detail ? c->detail : "");
    }
    for (size_t r = 0; r < VC_ARRAY_LEN(reasons); r++) {
        if (counts[r] > LOG_PER_REASON)
            vc_warn("%zu clips left out as %s (%zu more than listed above; all are in "
                    "shard_summary.json, or use --verbose)", counts[r], reasons[r],
                    counts[r] - LOG_PER_REASON);
        else if (counts[r])
            vc_info("%zu clip(s) left out as %s", counts[r], reasons[r]);
    }
}

static json_t *left_out_json(const vc_shard_cliplist *clips, json_t *counts)
{
    json_t *list = json_array();
    for (size_t i = 0; i < clips->len; i++) {
        const vc_shard_clip *c = &clips->items[i];
        if (!c->left_out)
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "clip", vc_pyjson_str(c->listed));
        json_object_set_new(e, "span_uuid", c->uuid ? vc_pyjson_str(c->uuid) : json_null());
        json_object_set_new(e, "reason", json_string(c->left_out));
        json_object_set_new(e, "detail", vc_pyjson_str(c->detail ? c->detail : ""));
        json_array_append_new(list, e);
        json_t *n = json_object_get(counts, c->left_out);
        json_object_set_new(counts, c->left_out,
                            json_integer(n ? json_integer_value(n) + 1 : 1));
    }
    return list;
}

static json_t *bins_json(const vc_shard_plan *plan)
{
    json_t *bins = json_array();
    for (size_t b = 0; b < plan->nbins; b++) {
        if (plan->bins[b].nclips == 0)
            continue;
        json_int_t ntars = 0;
        for (size_t t = 0; t < plan->ntars; t++)
            ntars += plan->tars[t].bin == b;
        json_t *e = json_object();
        json_object_set_new(e, "path", vc_pyjson_str(plan->bins[b].rel));
        json_object_set_new(e, "num_clips", json_integer((json_int_t)plan->bins[b].nclips));
        json_object_set_new(e, "num_tars", json_integer(ntars));
        json_object_set_new(e, "video_bytes", json_integer(plan->bins[b].file_bytes));
        json_array_append_new(bins, e);
    }
    return bins;
}

int vc_shard_write_summary(const char *out_root, const vc_shard_opts *o,
                           const vc_shard_cliplist *clips, const vc_shard_plan *plan,
                           const vc_shard_t5 *t5, const vc_shard_pack_stats *stats)
{
    json_t *counts = json_object();
    json_t *left = left_out_json(clips, counts);
    json_int_t sharded = 0, bytes = 0;
    for (size_t b = 0; b < plan->nbins; b++) {
        sharded += (json_int_t)plan->bins[b].nclips;
        bytes += plan->bins[b].file_bytes;
    }
    json_t *s = json_object();
    json_object_set_new(s, "input_clip_path", vc_pyjson_str(o->input_clip_path));
    json_object_set_new(s, "output_dataset_path", vc_pyjson_str(o->output_dataset_path));
    json_object_set_new(s, "annotation_version", vc_pyjson_str(o->annotation_version));
    json_object_set_new(s, "captioning_algorithm", vc_pyjson_str(o->captioning_algorithm));
    json_object_set_new(s, "num_clips_listed", json_integer((json_int_t)clips->len));
    json_object_set_new(s, "num_clips_sharded", json_integer(sharded));
    json_object_set_new(s, "num_clips_left_out", json_integer((json_int_t)json_array_size(left)));
    json_object_set_new(s, "left_out_counts", counts);
    json_object_set_new(s, "num_tars", json_integer((json_int_t)plan->ntars));
    json_object_set_new(s, "total_video_bytes", json_integer(bytes));
    json_object_set_new(s, "num_clips_valid_false_missing_caption",
                        json_integer(stats->clips_caption_missing));
    /* where the packed clips' t5_xxl members come from (the plan, not what
     * this run happened to write: a resumed run writes the same summary) */
    vc_shard_t5_counts n;
    vc_shard_t5_count(clips, &n);
    json_t *t5j = json_object();
    json_object_set_new(t5j, "mode", json_string(t5->mode == VC_SHARD_T5_NONE    ? "empty"
                                                 : t5->mode == VC_SHARD_T5_FILES ? "files"
                                                                                 : "auto"));
    json_object_set_new(t5j, "embeddings_path", vc_pyjson_str(t5->dir));
    json_object_set_new(t5j, "num_clips_from_embed", json_integer(n.file));
    json_object_set_new(t5j, "num_clips_computed_by_shard", json_integer(n.missing + n.stale));
    json_object_set_new(t5j, "num_clips_without_captions", json_integer(n.empty));
    json_object_set_new(s, "t5_xxl", t5j);
    json_object_set_new(s, "bins", bins_json(plan));
    json_object_set_new(s, "left_out", left);
    char *path = vc_asprintf("%s/shard_summary.json", out_root);
    int rc = vc_pyjson_write_file(path, s, 4, false);
    if (rc < 0)
        vc_error("cannot write %s: %s", path, strerror(-rc));
    free(path);
    json_decref(s);
    return rc < 0 ? -1 : 0;
}
