/* processed_videos / processed_clip_chunks / video_errors records and the
 * output path scheme. Key orders, from Cosmos Curator's
 * ClipWriterStage._write_video_metadata / _write_video_errors:
 *   processed video: video, height, width, framerate, num_frames, duration,
 *     video_codec, pixel_format, audio_format, num_total_clips,
 *     num_clip_chunks, video_uuid
 *   clip chunk: video, clip_chunk_index, num_clips_filtered_by_motion,
 *     num_clips_filtered_by_aesthetic, num_clips_filtered_by_qwen_classifier,
 *     num_clips_filtered_by_qwen_semantic,
 *     num_clips_filtered_by_artificial_text, num_clips_passed,
 *     num_clips_transcoded, num_clips_with_embeddings, num_clips_with_caption,
 *     num_clips_with_webp, total_clip_duration, max_clip_duration,
 *     total_prompt_tokens, total_output_tokens, clips, filtered_clips,
 *     all_windows, all_windows_enhanced_caption
 *   video errors: video, clip_chunk_index, errors
 * All through write_json: json.dumps(indent=4), skipped when present. */
#include "dataset/records.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/clipmeta.h"
#include "dataset/pyjson.h"
#include "storage/fs.h"
#include "util/log.h"

#define RECORD_INDENT 4

char *vc_out_processed_video_path(const char *out, const char *relpath)
{
    char *dir = vc_fs_join(out, "processed_videos");
    char *p = vc_asprintf("%s/%s.json", dir, relpath);
    free(dir);
    return p;
}

static char *chunk_file_path(const char *out, const char *subdir, const char *relpath,
                             int64_t chunk)
{
    char *dir = vc_fs_join(out, subdir);
    char *p = vc_asprintf("%s/%s_%" PRId64 ".json", dir, relpath, chunk);
    free(dir);
    return p;
}

char *vc_out_clip_chunk_path(const char *out, const char *relpath, int64_t chunk)
{
    return chunk_file_path(out, "processed_clip_chunks", relpath, chunk);
}

char *vc_out_video_error_path(const char *out, const char *relpath, int64_t chunk)
{
    return chunk_file_path(out, "video_errors", relpath, chunk);
}

char *vc_out_clip_mp4_path(const char *out, const char *clip_uuid, bool filtered)
{
    char *dir = vc_fs_join(out, filtered ? "filtered_clips" : "clips");
    char *p = vc_asprintf("%s/%s.mp4", dir, clip_uuid);
    free(dir);
    return p;
}

char *vc_out_clip_meta_path(const char *out, const char *clip_uuid)
{
    char *dir = vc_fs_join(out, "metas/v0");
    char *p = vc_asprintf("%s/%s.json", dir, clip_uuid);
    free(dir);
    return p;
}

char *vc_input_video_path(const char *input_path, const char *relpath)
{
    char *joined = vc_asprintf("%s/%s", input_path, relpath);
    char *p = vc_fs_pypath(joined);
    free(joined);
    return p;
}

void vc_video_uuid(const char *path, char out[VC_UUID_STR_LEN])
{
    vc_uuid5_url(path, out);
}

size_t vc_chunk_clips(const vc_clip *clips, size_t n, int64_t clip_re_chunk_size, size_t *starts)
{
    int64_t budget = clip_re_chunk_size * 8;
    int64_t filled = 0;
    size_t k = 0;
    bool open = false;
    for (size_t i = 0; i < n; i++) {
        if (!open) {
            starts[k++] = i;
            open = true;
        }
        /* Python int() truncates toward zero, as the C cast does. */
        filled += (int64_t)(clips[i].span_end - clips[i].span_start);
        if (filled >= budget) {
            open = false;
            filled = 0;
        }
    }
    starts[k] = n;
    return k;
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? vc_pyjson_str(s) : json_null();
}

json_t *vc_processed_video_json(const vc_video *v, int64_t num_total_clips, int64_t num_clip_chunks)
{
    const vc_video_info *in = &v->info;
    bool ok = v->info_ok;
    char uuid[VC_UUID_STR_LEN];
    vc_video_uuid(v->path, uuid);
    json_t *d = json_object();
    json_object_set_new(d, "video", vc_pyjson_str(v->path));
    json_object_set_new(d, "height", ok ? json_integer(in->height) : json_null());
    json_object_set_new(d, "width", ok ? json_integer(in->width) : json_null());
    json_object_set_new(d, "framerate", ok ? vc_pyjson_real(in->fps) : json_null());
    json_object_set_new(d, "num_frames", ok ? json_integer(in->num_frames) : json_null());
    json_object_set_new(d, "duration", ok ? vc_pyjson_real(in->duration) : json_null());
    json_object_set_new(d, "video_codec", ok ? str_or_null(in->video_codec) : json_null());
    json_object_set_new(d, "pixel_format", ok ? str_or_null(in->pixel_format) : json_null());
    /* ffprobe's audio codec, None (null) for a video without audio. */
    json_object_set_new(d, "audio_format", ok ? str_or_null(in->audio_format) : json_null());
    json_object_set_new(d, "num_total_clips", json_integer(num_total_clips));
    json_object_set_new(d, "num_clip_chunks", json_integer(num_clip_chunks));
    json_object_set_new(d, "video_uuid", json_string(uuid));
    return d;
}

/* Write a record, logging failures with the path (callers only count). */
static int write_record(const char *path, const json_t *rec, const char *what)
{
    int rc = vc_pyjson_write_file(path, rec, RECORD_INDENT, true);
    if (rc < 0)
        vc_error("cannot write %s %s: %s", what, path, strerror(-rc));
    else if (rc == 1)
        vc_warn("%s %s already exists, skipping", what, path);
    return rc;
}

int vc_write_processed_video(const char *out, const vc_video *v, int64_t num_total_clips,
                             int64_t num_clip_chunks)
{
    json_t *rec = vc_processed_video_json(v, num_total_clips, num_clip_chunks);
    char *path = vc_out_processed_video_path(out, v->relpath);
    int rc = write_record(path, rec, "video metadata");
    free(path);
    json_decref(rec);
    return rc;
}

static void add_counters(json_t *d, const vc_chunk_stats *s)
{
    json_object_set_new(d, "num_clips_filtered_by_motion", json_integer(s->num_clips_filtered_by_motion));
    json_object_set_new(d, "num_clips_filtered_by_aesthetic", json_integer(s->num_clips_filtered_by_aesthetic));
    json_object_set_new(d, "num_clips_filtered_by_qwen_classifier",
                        json_integer(s->num_clips_filtered_by_qwen_classifier));
    json_object_set_new(d, "num_clips_filtered_by_qwen_semantic",
                        json_integer(s->num_clips_filtered_by_qwen_semantic));
    json_object_set_new(d, "num_clips_filtered_by_artificial_text",
                        json_integer(s->num_clips_filtered_by_artificial_text));
    json_object_set_new(d, "num_clips_passed", json_integer(s->num_clips_passed));
    json_object_set_new(d, "num_clips_transcoded", json_integer(s->num_clips_transcoded));
    json_object_set_new(d, "num_clips_with_embeddings", json_integer(s->num_clips_with_embeddings));
    json_object_set_new(d, "num_clips_with_caption", json_integer(s->num_clips_with_caption));
    json_object_set_new(d, "num_clips_with_webp", json_integer(s->num_clips_with_webp));
    /* ClipStats keeps these as Python floats (0.0 when there is no clip). */
    json_object_set_new(d, "total_clip_duration", vc_pyjson_real(s->total_clip_duration));
    json_object_set_new(d, "max_clip_duration", vc_pyjson_real(s->max_clip_duration));
    json_object_set_new(d, "total_prompt_tokens", json_integer(s->total_prompt_tokens));
    json_object_set_new(d, "total_output_tokens", json_integer(s->total_output_tokens));
}

static json_t *uuid_list(const vc_clip *clips, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(clips[i].uuid));
    return a;
}

/* {uuid: {}} for every passed clip: what Cosmos writes without captions. */
static json_t *empty_windows(const vc_clip *clips, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, clips[i].uuid, json_object());
    return o;
}

json_t *vc_clip_chunk_json(const vc_video *v, const vc_chunk_record *r)
{
    static const vc_chunk_stats zero;
    json_t *d = json_object();
    json_object_set_new(d, "video", vc_pyjson_str(v->path));
    json_object_set_new(d, "clip_chunk_index", json_integer(r->chunk_index));
    add_counters(d, r->stats ? r->stats : &zero);
    json_object_set_new(d, "clips", uuid_list(r->clips, r->n_clips));
    json_object_set_new(d, "filtered_clips", uuid_list(r->filtered, r->n_filtered));
    json_object_set_new(d, "all_windows", r->all_windows ? json_incref(r->all_windows)
                                                         : empty_windows(r->clips, r->n_clips));
    json_object_set_new(d, "all_windows_enhanced_caption",
                        r->all_windows_enhanced ? json_incref(r->all_windows_enhanced)
                                                : empty_windows(r->clips, r->n_clips));
    return d;
}

int vc_write_clip_chunk(const char *out, const vc_video *v, const vc_chunk_record *r)
{
    json_t *rec = vc_clip_chunk_json(v, r);
    char *path = vc_out_clip_chunk_path(out, v->relpath, r->chunk_index);
    int rc = write_record(path, rec, "clip chunk metadata");
    free(path);
    json_decref(rec);
    return rc;
}

json_t *vc_video_errors_json(const vc_video *v, int64_t chunk_index, json_t *errors)
{
    json_t *d = json_object();
    json_object_set_new(d, "video", vc_pyjson_str(v->path));
    json_object_set_new(d, "clip_chunk_index", json_integer(chunk_index));
    json_object_set_new(d, "errors", errors ? json_incref(errors) : json_object());
    return d;
}

int vc_write_video_errors(const char *out, const vc_video *v, int64_t chunk_index, json_t *errors)
{
    json_t *rec = vc_video_errors_json(v, chunk_index, errors);
    char *path = vc_out_video_error_path(out, v->relpath, chunk_index);
    int rc = write_record(path, rec, "video errors");
    free(path);
    json_decref(rec);
    return rc;
}

int vc_write_clip_meta(const char *out, const char *clip_uuid, const json_t *meta)
{
    char *path = vc_out_clip_meta_path(out, clip_uuid);
    int rc = write_record(path, meta, "metadata");
    free(path);
    return rc;
}

int vc_write_clip_meta_replace(const char *out, const char *clip_uuid, const json_t *meta)
{
    char *path = vc_out_clip_meta_path(out, clip_uuid);
    int rc = vc_pyjson_write_file(path, meta, RECORD_INDENT, false);
    if (rc < 0)
        vc_error("cannot write metadata %s: %s", path, strerror(-rc));
    free(path);
    return rc;
}

static int64_t meta_int(const json_t *meta, const char *key)
{
    return meta ? (int64_t)json_integer_value(json_object_get(meta, key)) : 0;
}

void vc_chunk_stats_add_clip(vc_chunk_stats *st, const vc_clip *c, bool filtered,
                             const json_t *meta, bool with_embedding, bool with_webp)
{
    /* _write_clip_mp4 */
    if (vc_clip_has_mp4(c))
        st->num_clips_transcoded++;
    if (!filtered) {
        st->num_clips_passed++;
        st->num_clips_with_embeddings += with_embedding;
        st->num_clips_with_webp += with_webp;
    }
    /* _write_clip_metadata (runs for filtered clips too) */
    if (meta && json_is_true(json_object_get(meta, "has_caption")))
        st->num_clips_with_caption++;
    st->total_prompt_tokens += meta_int(meta, "total_prompt_tokens");
    st->total_output_tokens += meta_int(meta, "total_output_tokens");
    double dur = c->span_end - c->span_start;
    st->total_clip_duration += dur;
    if (dur > st->max_clip_duration)
        st->max_clip_duration = dur;
}
