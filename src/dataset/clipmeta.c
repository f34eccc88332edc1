/* metas/v0/{clip_uuid}.json. Key order, from Cosmos Curator's
 * ClipWriterStage._make_clip_metadata (metadata_writer_stage.py):
 *   span_uuid, source_video, duration_span, width_source, height_source,
 *   framerate_source, clip_location,
 *   [width, height, framerate, num_frames, video_codec, num_bytes]  only when
 *       the clip has encoded bytes (clip.extract_metadata() of the mp4),
 *   [motion_score {global_mean, per_patch_min_256}], [aesthetic_score],
 *   [qwen_type_classification], [qwen_rejection_stage], [post_production_text],
 *   [sam3_num_instances], [sam3_num_events]   (our opts->extra),
 *   [errors: list(clip.errors)]  only when there are errors,
 *   windows, filtered_windows, valid, has_caption,
 *   total_prompt_tokens, total_output_tokens.
 * valid = bool(clip.encoded_data and len(clip.windows) > 0). Windows exist
 * only when a captioning stage ran, so with captions off every clip is
 * valid: false (and shard then packs nothing) - Cosmos behaves the same. */
#include "dataset/clipmeta.h"

#include "dataset/pyjson.h"

bool vc_clip_has_mp4(const vc_clip *c)
{
    return c->mp4 != NULL && c->mp4_len > 0;
}

json_t *vc_clipmeta_window(int64_t start_frame, int64_t end_frame)
{
    json_t *w = json_object();
    json_object_set_new(w, "start_frame", json_integer(start_frame));
    json_object_set_new(w, "end_frame", json_integer(end_frame));
    return w;
}

/* Python None when the probe did not give a value (VideoMetadata defaults). */
static json_t *int_or_null(const vc_video *v, int64_t x)
{
    return v->info_ok ? json_integer(x) : json_null();
}

static void add_source_fields(json_t *d, const vc_video *v, const vc_clip *c,
                              const char *clip_location)
{
    json_object_set_new(d, "span_uuid", json_string(c->uuid));
    json_object_set_new(d, "source_video", vc_pyjson_str(v->path));
    json_t *span = json_array();
    json_array_append_new(span, vc_pyjson_real(c->span_start));
    json_array_append_new(span, vc_pyjson_real(c->span_end));
    json_object_set_new(d, "duration_span", span);
    json_object_set_new(d, "width_source", int_or_null(v, v->info.width));
    json_object_set_new(d, "height_source", int_or_null(v, v->info.height));
    json_object_set_new(d, "framerate_source",
                        v->info_ok ? vc_pyjson_real(v->info.fps) : json_null());
    json_object_set_new(d, "clip_location", vc_pyjson_str(clip_location));
}

/* clip.extract_metadata(): the transcoded clip's own stream properties. */
static void add_encoded_fields(json_t *d, const vc_clip *c)
{
    if (!vc_clip_has_mp4(c))
        return;
    json_object_set_new(d, "width", json_integer(c->width));
    json_object_set_new(d, "height", json_integer(c->height));
    json_object_set_new(d, "framerate", vc_pyjson_real(c->framerate));
    json_object_set_new(d, "num_frames", json_integer(c->num_frames));
    json_object_set_new(d, "video_codec", json_string(c->video_codec ? c->video_codec : "h264"));
    json_object_set_new(d, "num_bytes", json_integer((json_int_t)c->mp4_len));
}

static void add_scores(json_t *d, const vc_clipmeta_opts *o)
{
    if (o->has_motion_score) {
        json_t *m = json_object();
        json_object_set_new(m, "global_mean", vc_pyjson_real(o->motion_global_mean));
        json_object_set_new(m, "per_patch_min_256", vc_pyjson_real(o->motion_per_patch_min_256));
        json_object_set_new(d, "motion_score", m);
    }
    if (o->has_aesthetic_score)
        json_object_set_new(d, "aesthetic_score", vc_pyjson_real(o->aesthetic_score));
    if (o->extra) {
        const char *key;
        json_t *val;
        json_object_foreach(o->extra, key, val)
            json_object_set(d, key, val);
    }
}

static void add_errors(json_t *d, const vc_clip *c, const vc_clipmeta_opts *o)
{
    json_t *errs = json_array();
    if (c->error)
        json_array_append_new(errs, json_string("transcode"));
    for (size_t i = 0; i < o->n_error_keys; i++)
        json_array_append_new(errs, vc_pyjson_str(o->error_keys[i]));
    if (json_array_size(errs) > 0)
        json_object_set_new(d, "errors", errs);
    else
        json_decref(errs);
}

static json_t *array_or_empty(json_t *a)
{
    return a ? json_incref(a) : json_array();
}

json_t *vc_clipmeta_json_ex(const vc_video *v, const vc_clip *c, const char *clip_location,
                            const vc_clipmeta_opts *opts)
{
    static const vc_clipmeta_opts none;
    const vc_clipmeta_opts *o = opts ? opts : &none;
    json_t *d = json_object();
    add_source_fields(d, v, c, clip_location);
    add_encoded_fields(d, c);
    add_scores(d, o);
    add_errors(d, c, o);
    json_object_set_new(d, "windows", array_or_empty(o->windows));
    json_object_set_new(d, "filtered_windows", array_or_empty(o->filtered_windows));
    bool has_windows = o->windows && json_array_size(o->windows) > 0;
    json_object_set_new(d, "valid", json_boolean(vc_clip_has_mp4(c) && has_windows));
    json_object_set_new(d, "has_caption", json_boolean(o->has_caption));
    json_object_set_new(d, "total_prompt_tokens", json_integer(o->total_prompt_tokens));
    json_object_set_new(d, "total_output_tokens", json_integer(o->total_output_tokens));
    return d;
}

json_t *vc_clipmeta_json(const vc_video *v, const vc_clip *c, const char *clip_location)
{
    return vc_clipmeta_json_ex(v, c, clip_location, NULL);
}
