/* summary.json, as Cosmos Curator's summary_writers._write_split_result_summary:
 *   top level: num_input_videos, num_input_videos_selected,
 *     num_processed_videos (files under processed_videos/), embedding_algorithm,
 *     total_video_duration, total_clip_duration, max_clip_duration,
 *     pipeline_run_time, total_video_bytes, num_remuxed_videos,
 *     total_prompt_tokens, total_output_tokens, total_<counter> x 10;
 *   then per listed relpath: {source_video, processed: false} or
 *     {source_video, video_uuid, num_clip_chunks (chunk records found),
 *      num_total_clips, clips, filtered_clips, <counter> x 10};
 *   then output_tokens_per_s = round(total_output_tokens / (run_time * 60), 1)
 *     when both are > 0.
 * Numbers keep Python's types: the totals start as int 0 and become floats
 * once a float is added; max() keeps the first of equal values (so an int 0
 * stays 0, not 0.0). Written with json.dumps(indent=4), old copy -> .bak{N}. */
#include "dataset/summary.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/pyjson.h"
#include "dataset/records.h"
#include "storage/fs.h"
#include "util/log.h"

static const char *const COUNTERS[] = {
    "num_clips_filtered_by_motion",
    "num_clips_filtered_by_aesthetic",
    "num_clips_filtered_by_qwen_classifier",
    "num_clips_filtered_by_qwen_semantic",
    "num_clips_filtered_by_artificial_text",
    "num_clips_passed",
    "num_clips_transcoded",
    "num_clips_with_embeddings",
    "num_clips_with_caption",
    "num_clips_with_webp",
};

/* ---- Python number arithmetic on JSON values ---- */

static double num_value(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

/* a + b with Python's int/float rules; non-numbers are ignored. */
static json_t *py_add(const json_t *a, const json_t *b)
{
    if (!json_is_number(b))
        return json_deep_copy(a);
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer(json_integer_value(a) + json_integer_value(b));
    return vc_pyjson_real(num_value(a) + num_value(b));
}

/* max(a, b): Python returns a unless b is strictly greater. */
static json_t *py_max(const json_t *a, const json_t *b)
{
    if (json_is_number(b) && num_value(b) > num_value(a))
        return json_deep_copy(b);
    return json_deep_copy(a);
}

static void add_into(json_t *obj, const char *key, const json_t *val)
{
    json_object_set_new(obj, key, py_add(json_object_get(obj, key), val));
}

/* Python round(x, 1): correctly rounded, which glibc's %.1f also is. */
static double py_round1(double x)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.1f", x);
    return strtod(buf, NULL);
}

/* ---- reading the records ---- */

static json_t *load_record(const char *path)
{
    json_error_t err;
    json_t *j = vc_json_load_path(path, JSON_ALLOW_NUL, &err);
    if (!j)
        vc_error("cannot read %s: %s (line %d)", path, err.text, err.line);
    else if (!json_is_object(j)) {
        vc_error("cannot read %s: not a JSON object", path);
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* The chunk records of one processed video that exist on disk. */
static json_t *load_chunks(const char *out, const char *rel, const json_t *video_rec)
{
    json_t *chunks = json_array();
    json_int_t n = json_integer_value(json_object_get(video_rec, "num_clip_chunks"));
    if (n == 0)
        vc_warn("video process-record %s has no clip", rel);
    for (json_int_t i = 0; i < n; i++) {
        char *path = vc_out_clip_chunk_path(out, rel, i);
        if (!vc_fs_exists(path)) {
            vc_error("clip chunk record %s not found ???", path);
        } else {
            json_t *c = load_record(path);
            if (c)
                json_array_append_new(chunks, c);
        }
        free(path);
    }
    return chunks;
}

/* ---- building ---- */

static json_t *summary_header(const vc_summary_input *in, size_t num_processed)
{
    json_t *s = json_object();
    json_object_set_new(s, "num_input_videos", json_integer((json_int_t)in->input_videos->len));
    json_object_set_new(s, "num_input_videos_selected", json_integer(in->num_input_videos_selected));
    json_object_set_new(s, "num_processed_videos", json_integer((json_int_t)num_processed));
    json_object_set_new(s, "embedding_algorithm",
                        vc_pyjson_str(in->embedding_algorithm ? in->embedding_algorithm : "internvideo2"));
    json_object_set_new(s, "total_video_duration", json_integer(0));
    json_object_set_new(s, "total_clip_duration", json_integer(0));
    json_object_set_new(s, "max_clip_duration", json_integer(0));
    json_object_set_new(s, "pipeline_run_time", vc_pyjson_real(in->pipeline_run_time));
    json_object_set_new(s, "total_video_bytes", json_integer(in->total_video_bytes));
    json_object_set_new(s, "num_remuxed_videos", json_integer(in->num_remuxed_videos));
    json_object_set_new(s, "total_prompt_tokens", json_integer(0));
    json_object_set_new(s, "total_output_tokens", json_integer(0));
    for (size_t k = 0; k < VC_ARRAY_LEN(COUNTERS); k++) {
        char *key = vc_asprintf("total_%s", COUNTERS[k]);
        json_object_set_new(s, key, json_integer(0));
        free(key);
    }
    return s;
}

static json_t *get_or(const json_t *obj, const char *key, json_t *fallback)
{
    json_t *v = json_object_get(obj, key);
    if (v) {
        json_decref(fallback);
        return json_incref(v);
    }
    return fallback;
}

static void extend(json_t *dst, const json_t *src)
{
    if (json_is_array(src))
        json_array_extend(dst, (json_t *)src);
}

/* Fold one chunk record into its video entry and the totals. */
static void add_chunk(json_t *s, json_t *entry, const json_t *chunk)
{
    json_t *zero = json_integer(0); /* chunk.get(key, 0) */
    for (size_t k = 0; k < VC_ARRAY_LEN(COUNTERS); k++) {
        const json_t *v = json_object_get(chunk, COUNTERS[k]);
        v = v ? v : zero;
        add_into(entry, COUNTERS[k], v);
        char *key = vc_asprintf("total_%s", COUNTERS[k]);
        add_into(s, key, v);
        free(key);
    }
    extend(json_object_get(entry, "clips"), json_object_get(chunk, "clips"));
    extend(json_object_get(entry, "filtered_clips"), json_object_get(chunk, "filtered_clips"));
    const json_t *d = json_object_get(chunk, "total_clip_duration");
    add_into(s, "total_clip_duration", d ? d : zero);
    const json_t *m = json_object_get(chunk, "max_clip_duration");
    json_object_set_new(s, "max_clip_duration",
                        py_max(json_object_get(s, "max_clip_duration"), m ? m : zero));
    const json_t *pt = json_object_get(chunk, "total_prompt_tokens");
    add_into(s, "total_prompt_tokens", pt ? pt : zero);
    const json_t *ot = json_object_get(chunk, "total_output_tokens");
    add_into(s, "total_output_tokens", ot ? ot : zero);
    json_decref(zero);
}

/* all_window_captions.json entry: clip_uuid -> merged window captions. */
static void add_captions(json_t *captions, const json_t *chunk)
{
    const char *clip;
    json_t *wins;
    json_object_foreach((json_t *)json_object_get(chunk, "all_windows"), clip, wins) {
        json_t *dst = json_object_get(captions, clip);
        if (!dst) {
            dst = json_object();
            json_object_set_new(captions, clip, dst);
        }
        if (json_is_object(wins))
            json_object_update(dst, wins);
    }
}

static json_t *video_entry(const vc_summary_input *in, const char *rel, json_t *s,
                           json_t *all_captions)
{
    char *source = vc_input_video_path(in->input_path, rel);
    json_t *e = json_object();
    json_object_set_new(e, "source_video", vc_pyjson_str(source));
    free(source);

    char *path = vc_out_processed_video_path(in->output_path, rel);
    bool exists = vc_fs_exists(path);
    json_t *rec = exists ? load_record(path) : NULL;
    if (!exists && in->limit == 0)
        vc_warn("%s has no processed record (it failed or was interrupted: see video_errors/; "
                "a rerun retries it)", rel);
    free(path);
    if (!rec) {
        json_object_set_new(e, "processed", json_false());
        return e;
    }
    json_t *chunks = load_chunks(in->output_path, rel, rec);
    json_object_set_new(e, "video_uuid", get_or(rec, "video_uuid", json_string("N/A")));
    json_object_set_new(e, "num_clip_chunks", json_integer((json_int_t)json_array_size(chunks)));
    json_object_set_new(e, "num_total_clips", get_or(rec, "num_total_clips", json_string("N/A")));
    json_object_set_new(e, "clips", json_array());
    json_object_set_new(e, "filtered_clips", json_array());
    for (size_t k = 0; k < VC_ARRAY_LEN(COUNTERS); k++)
        json_object_set_new(e, COUNTERS[k], json_integer(0));
    json_t *captions = json_object();
    size_t i;
    json_t *chunk;
    json_array_foreach(chunks, i, chunk) {
        add_chunk(s, e, chunk);
        add_captions(captions, chunk);
    }
    json_t *dur = json_object_get(rec, "duration");
    if (dur)
        add_into(s, "total_video_duration", dur);
    json_object_set_new_nocheck(all_captions, rel, captions);
    json_decref(chunks);
    json_decref(rec);
    return e;
}

static size_t count_processed_files(const char *out)
{
    char *dir = vc_fs_join(out, "processed_videos");
    vc_strlist files = {0};
    vc_fs_list_recursive(dir, &files);
    size_t n = files.len;
    vc_strlist_free(&files);
    free(dir);
    return n;
}

json_t *vc_summary_json(const vc_summary_input *in, json_t **all_window_captions)
{
    json_t *s = summary_header(in, count_processed_files(in->output_path));
    json_t *captions = json_object();
    json_t *seen = json_object(); /* Cosmos keys videos by relpath: a repeat counts once */
    for (size_t i = 0; i < in->input_videos->len; i++) {
        const char *rel = in->input_videos->items[i];
        if (json_object_get(seen, rel))
            continue;
        json_object_set_new_nocheck(seen, rel, json_true());
        json_object_set_new_nocheck(s, rel, video_entry(in, rel, s, captions));
    }
    json_decref(seen);
    json_int_t out_tokens = json_integer_value(json_object_get(s, "total_output_tokens"));
    if (out_tokens > 0 && in->pipeline_run_time > 0) {
        double per_s = (double)out_tokens / (in->pipeline_run_time * 60);
        json_object_set_new(s, "output_tokens_per_s", vc_pyjson_real(py_round1(per_s)));
    }
    if (all_window_captions)
        *all_window_captions = captions;
    else
        json_decref(captions);
    return s;
}

/* ---- writing ---- */

int vc_backup_file(const char *path)
{
    if (!vc_fs_exists(path))
        return 0;
    for (int n = 1;; n++) {
        char *bak = vc_asprintf("%s.bak%d", path, n);
        int rc = 0;
        if (!strncmp(path, "s3://", 5)) {
            /* server-side copy; the caller's PUT then replaces path */
            rc = vc_fs_copy_noclobber(path, bak);
            free(bak);
            if (rc != -EEXIST)
                return rc;
            continue;
        }
        /* link keeps path in place until the caller's atomic replace, and
         * fails instead of clobbering a backup another process just made. */
        if (link(path, bak) != 0) {
            rc = -errno;
            if (rc != -EEXIST && !vc_fs_exists(bak))
                rc = rename(path, bak) == 0 ? 0 : -errno;
        }
        free(bak);
        if (rc != -EEXIST)
            return rc;
    }
}

static int backup_and_write(const char *path, const json_t *j, const char *what)
{
    int rc = vc_backup_file(path);
    if (rc == 0)
        rc = vc_pyjson_write_file(path, j, 4, false);
    if (rc < 0)
        vc_error("cannot write %s %s: %s", what, path, strerror(-rc));
    else
        vc_info("Wrote %s to %s", what, path);
    return rc;
}

int vc_write_summary(const vc_summary_input *in)
{
    json_t *captions = NULL;
    json_t *s = vc_summary_json(in, &captions);
    char *path = vc_fs_join(in->output_path, "summary.json");
    int rc = backup_and_write(path, s, "summary");
    free(path);
    if (rc == 0 && in->write_all_caption_json) {
        path = vc_fs_join(in->output_path, "v0/all_window_captions.json");
        rc = backup_and_write(path, captions, "all window captions");
        free(path);
    }
    json_decref(captions);
    json_decref(s);
    return rc;
}
