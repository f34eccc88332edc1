/* The write stage. Every file is written atomically and never overwritten
 * (Cosmos Curator skips existing objects), and a video's processed record is
 * written last, after all its clips and chunk records: its presence is what
 * tells a later run that the video is done. */
#include "split/stage_write.h"

#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dataset/clipmeta.h"
#include "caption/client.h"
#include "caption/sampling.h"
#include "dataset/predict2.h"
#include "dataset/pyjson.h"
#include "dataset/records.h"
#include "shard/pickle.h"
#include "split/preview_windows.h"
#include "split/run.h"
#include "storage/fs.h"
#include "util/common.h"
#include "util/log.h"
#include "video/mp4cut.h"

static void write_previews(const vc_split_config *cfg, const vc_split_item *it)
{
    for (int i = 0; i < it->npreviews; i++) {
        char *path = vc_asprintf("%s/previews/%s/%lld_%lld.webp", cfg->output_clip_path, it->clip.uuid,
                                 (long long)it->preview_windows[i][0], (long long)it->preview_windows[i][1]);
        if (vc_fs_write_atomic_noclobber(path, it->previews[i], it->preview_lens[i]) < 0)
            vc_error("%s: cannot write preview", path);
        free(path);
    }
}

/* One window of the metas: start/end, then (when captioned) the caption
 * and its token counts under the algorithm's keys, the enhanced caption,
 * and caption_status/caption_error for windows that did not succeed. */
static json_t *window_json(const vc_caption_config *cc, const vc_cap_window_result *r)
{
    json_t *w = vc_clipmeta_window(r->start, r->end);
    char key[160];
    if (r->caption) {
        snprintf(key, sizeof key, "%s_caption", cc->algo_name);
        json_object_set_new(w, key, vc_pyjson_str(r->caption));
        snprintf(key, sizeof key, "%s_prompt_tokens", cc->algo_name);
        json_object_set_new(w, key, json_integer(r->prompt_tokens));
        snprintf(key, sizeof key, "%s_output_tokens", cc->algo_name);
        json_object_set_new(w, key, json_integer(r->output_tokens));
    }
    if (r->enhanced) {
        snprintf(key, sizeof key, "%s_enhanced_caption", cc->enhance_variant);
        json_object_set_new(w, key, vc_pyjson_str(r->enhanced));
    }
    if (r->status == VC_CAP_TRUNCATED)
        json_object_set_new(w, "caption_status", json_string("truncated"));
    else if (r->status == VC_CAP_ERROR) {
        json_object_set_new(w, "caption_status", json_string("error"));
        json_object_set_new(w, "caption_error", vc_pyjson_str(r->error ? r->error : "failed"));
    }
    return w;
}

/* Caption windows are listed even with captions off: Cosmos Curator marks
 * a clip valid only when it has windows, and with captions off it lists
 * none, so its shard packs nothing. */
static json_t *clip_meta(const vc_split_config *cfg, const vc_split_item *it, const char *mp4_path)
{
    const vc_clip *c = &it->clip;
    const vc_caption_config *cc = &cfg->caption;
    vc_clipmeta_opts opts = { 0 };
    opts.windows = json_array();
    const char *err_key[1];
    char ekey[96];
    if (it->cap) {
        bool failed = false;
        for (int i = 0; i < it->ncap; i++) {
            const vc_cap_window_result *r = &it->cap[i];
            json_array_append_new(opts.windows, window_json(cc, r));
            if (r->status == VC_CAP_SUCCESS || r->status == VC_CAP_TRUNCATED) {
                opts.has_caption = true;
                opts.total_prompt_tokens += r->prompt_tokens;
                opts.total_output_tokens += r->output_tokens;
            } else {
                failed = true;
            }
        }
        if (failed) {
            snprintf(ekey, sizeof ekey, "%s_caption", cc->algo_name);
            err_key[0] = ekey;
            opts.error_keys = err_key;
            opts.n_error_keys = 1;
        }
    } else {
        int max = vc_cap_windows_max(c->num_frames, cc->window_size);
        int64_t(*win)[2] = vc_xcalloc((size_t)max, sizeof(*win));
        int nw = vc_cap_windows(c->num_frames, cc->window_size, cc->remainder_threshold, win);
        for (int i = 0; i < nw; i++)
            json_array_append_new(opts.windows, vc_clipmeta_window(win[i][0], win[i][1]));
        free(win);
    }
    json_t *meta = vc_clipmeta_json_ex(&it->video->v, c, mp4_path, &opts);
    json_decref(opts.windows);
    return meta;
}

static void p2_write(vc_split_run *run, const char *path, const void *data, size_t len)
{
    int rc = vc_fs_write_atomic_noclobber(path, data, len);
    if (rc < 0)
        vc_error("%s: cannot write: %s", path, strerror(-rc));
    else
        atomic_fetch_add(&run->stats.bytes_written, (long long)len);
}

/* --generate-cosmos-predict-dataset predict2: per captioned window with an
 * embedding, videos/ (the clip itself when it is the only window, as Cosmos
 * Curator does; else the window's packets, cut by stream copy at the IDRs
 * the clip encoder put at window starts), metas/ (the caption) and t5_xxl/
 * (pickle of [float16 [L,1024]]). Existing files are kept. */
static void write_predict2(vc_split_run *run, vc_split_item *it)
{
    const vc_split_config *cfg = run->cfg;
    const vc_clip *c = &it->clip;
    if (!c->mp4 || !it->cap)
        return;
    int n = 0;
    int64_t(*win)[2] = vc_xcalloc((size_t)(it->ncap ? it->ncap : 1), sizeof(*win));
    int *idx = vc_xcalloc((size_t)(it->ncap ? it->ncap : 1), sizeof(*idx));
    for (int i = 0; i < it->ncap; i++)
        if (it->cap[i].t5) {
            win[n][0] = it->cap[i].start;
            win[n][1] = it->cap[i].end;
            idx[n++] = i;
        }
    uint8_t **mp4 = vc_xcalloc((size_t)(n ? n : 1), sizeof(*mp4));
    size_t *lens = vc_xcalloc((size_t)(n ? n : 1), sizeof(*lens));
    char err[512] = "";
    bool whole = it->ncap == 1;
    if (n > 0 && !whole && vc_mp4_cut_frames(c->mp4, c->mp4_len, (const int64_t(*)[2])win, n, mp4, lens, err,
                                             sizeof err) < 0) {
        vc_split_video_fail(it->video, "predict2", "clip %s: window videos: %s", c->uuid, err);
        n = 0;
    }
    for (int k = 0; k < n; k++) {
        const vc_cap_window_result *r = &it->cap[idx[k]];
        if (r->end - r->start + 1 < VC_P2_MIN_FRAMES && !atomic_exchange(&run->p2_short_warned, 1))
            vc_warn("predict2: clip %s window %lld_%lld has %lld frames; Cosmos Predict 2's dataloader needs "
                    "more than %d (%d+1) frames per video and will fail on shorter ones: raise "
                    "--transnetv2-min-length-frames (Cosmos Curator's guide uses 120). Warned once.",
                    c->uuid, (long long)r->start, (long long)r->end, (long long)(r->end - r->start + 1),
                    VC_P2_NUM_FRAMES, VC_P2_NUM_FRAMES);
        char *vp = vc_p2_path(cfg->output_clip_path, VC_P2_VIDEO, c->uuid, r->start, r->end);
        char *mp = vc_p2_path(cfg->output_clip_path, VC_P2_META, c->uuid, r->start, r->end);
        char *tp = vc_p2_path(cfg->output_clip_path, VC_P2_T5, c->uuid, r->start, r->end);
        p2_write(run, vp, whole ? c->mp4 : mp4[k], whole ? c->mp4_len : lens[k]);
        p2_write(run, mp, r->caption, strlen(r->caption));
        vc_pickle_f16_array arr = { r->t5, r->t5_rows, r->t5_cols };
        vc_buf pk = { 0 };
        vc_pickle_f16_array_list(&pk, &arr, 1);
        p2_write(run, tp, pk.data, pk.len);   /* last: the dataloader goes by videos/ + t5_xxl/ */
        vc_buf_free(&pk);
        free(vp);
        free(mp);
        free(tp);
        atomic_fetch_add(&run->p2_windows, 1);
    }
    for (int k = 0; k < n; k++)
        free(mp4[k]);
    free(mp4);
    free(lens);
    free(idx);
    free(win);
}

static void add_note(vc_split_video *sv, const vc_split_item *it, const vc_chunk_stats *st)
{
    const vc_clip *c = &it->clip;
    pthread_mutex_lock(&sv->lock);
    if (sv->nnotes == sv->cap_notes) {
        sv->cap_notes = sv->cap_notes ? sv->cap_notes * 2 : 16;
        sv->notes = vc_xrealloc(sv->notes, (size_t)sv->cap_notes * sizeof(*sv->notes));
    }
    vc_clip_note *n = &sv->notes[sv->nnotes++];
    n->clip = *c;
    n->clip.mp4 = NULL;
    n->clip.error = NULL;
    n->stats = *st;
    n->captions = n->enhanced = NULL;
    n->cap_failed = 0;
    n->cap_error = NULL;
    for (int i = 0; i < it->ncap; i++) {
        const vc_cap_window_result *r = &it->cap[i];
        char key[64];
        snprintf(key, sizeof key, "%lld_%lld", (long long)r->start, (long long)r->end);
        if (r->caption) {
            if (!n->captions)
                n->captions = json_object();
            json_object_set_new(n->captions, key, vc_pyjson_str(r->caption));
        }
        if (r->enhanced) {
            if (!n->enhanced)
                n->enhanced = json_object();
            json_object_set_new(n->enhanced, key, vc_pyjson_str(r->enhanced));
        }
        if (r->status == VC_CAP_ERROR && n->cap_failed++ == 0)
            n->cap_error = vc_xstrdup(r->error ? r->error : "failed");
    }
    pthread_mutex_unlock(&sv->lock);
}

static void write_clip(vc_split_run *run, vc_split_item *it)
{
    const vc_split_config *cfg = run->cfg;
    vc_clip *c = &it->clip;
    char *mp4_path = vc_out_clip_mp4_path(cfg->output_clip_path, c->uuid, false);
    if (c->mp4 && cfg->upload_clips && !cfg->dry_run) {
        int rc = vc_fs_write_atomic_noclobber(mp4_path, c->mp4, c->mp4_len);
        if (rc < 0)
            vc_error("%s: cannot write clip: %s", mp4_path, strerror(-rc));
        else
            atomic_fetch_add(&run->stats.bytes_written, (long long)c->mp4_len);
    }
    if (c->error) {
        vc_warn("%s: clip %s failed to transcode: %s", it->video->v.path, c->uuid, c->error);
        atomic_fetch_add(&run->stats.clips_failed, 1);
    }
    json_t *meta = clip_meta(cfg, it, mp4_path);
    if (!cfg->dry_run) {
        /* Fresh captions replace the metas of an earlier run whose windows failed. */
        if (it->cap && !it->cap_reused)
            vc_write_clip_meta_replace(cfg->output_clip_path, c->uuid, meta);
        else
            vc_write_clip_meta(cfg->output_clip_path, c->uuid, meta);
        write_previews(cfg, it);
        if (cfg->predict2)
            write_predict2(run, it);
    }
    vc_chunk_stats st = { 0 };
    vc_chunk_stats_add_clip(&st, c, false, meta, false, it->npreviews > 0);
    json_decref(meta);
    free(mp4_path);
    add_note(it->video, it, &st);
    atomic_fetch_add(&run->stats.clips_written, 1);
}

static int cmp_note(const void *a, const void *b)
{
    const vc_clip_note *x = a, *y = b;
    return (x->clip.start_frame > y->clip.start_frame) - (x->clip.start_frame < y->clip.start_frame);
}

static void sum_stats(vc_chunk_stats *to, const vc_chunk_stats *s)
{
    to->num_clips_filtered_by_motion += s->num_clips_filtered_by_motion;
    to->num_clips_filtered_by_aesthetic += s->num_clips_filtered_by_aesthetic;
    to->num_clips_filtered_by_qwen_classifier += s->num_clips_filtered_by_qwen_classifier;
    to->num_clips_filtered_by_qwen_semantic += s->num_clips_filtered_by_qwen_semantic;
    to->num_clips_filtered_by_artificial_text += s->num_clips_filtered_by_artificial_text;
    to->num_clips_passed += s->num_clips_passed;
    to->num_clips_transcoded += s->num_clips_transcoded;
    to->num_clips_with_embeddings += s->num_clips_with_embeddings;
    to->num_clips_with_caption += s->num_clips_with_caption;
    to->num_clips_with_webp += s->num_clips_with_webp;
    to->total_clip_duration += s->total_clip_duration;
    to->max_clip_duration = VC_MAX(to->max_clip_duration, s->max_clip_duration);
    to->total_prompt_tokens += s->total_prompt_tokens;
    to->total_output_tokens += s->total_output_tokens;
}

static void write_video_records(vc_split_run *run, vc_split_video *sv)
{
    const char *out = run->cfg->output_clip_path;
    size_t n = (size_t)sv->nnotes;
    if (n > 0)   /* notes is NULL for a video without clips (UBSan: qsort(NULL, 0)) */
        qsort(sv->notes, n, sizeof(*sv->notes), cmp_note);
    vc_clip *clips = vc_xcalloc(n + 1, sizeof(*clips));
    for (size_t i = 0; i < n; i++)
        clips[i] = sv->notes[i].clip;
    size_t *starts = vc_xcalloc(n + 1, sizeof(*starts));
    size_t nchunks = vc_chunk_clips(clips, n, run->cfg->clip_re_chunk_size, starts);
    for (size_t k = 0; k < nchunks; k++) {
        vc_chunk_stats st = { 0 };
        json_t *aw = NULL, *ae = NULL;
        if (run->cfg->caption.enabled) {
            aw = json_object();
            ae = json_object();
        }
        for (size_t i = starts[k]; i < starts[k + 1]; i++) {
            sum_stats(&st, &sv->notes[i].stats);
            if (aw) {
                const vc_clip_note *nt = &sv->notes[i];
                json_object_set_new(aw, nt->clip.uuid, nt->captions ? json_deep_copy(nt->captions) : json_object());
                json_object_set_new(ae, nt->clip.uuid, nt->enhanced ? json_deep_copy(nt->enhanced) : json_object());
            }
        }
        vc_chunk_record r = {
            .chunk_index = (int64_t)k, .stats = &st,
            .clips = clips + starts[k], .n_clips = starts[k + 1] - starts[k],
            .all_windows = aw, .all_windows_enhanced = ae,
        };
        vc_write_clip_chunk(out, &sv->v, &r);
        json_decref(aw);
        json_decref(ae);
    }
    vc_write_processed_video(out, &sv->v, (int64_t)n, (int64_t)nchunks);
    /* A rerun that completed the captions: the earlier failure record goes
     * (local output only: storage has no delete for s3:// yet, and resume
     * goes by processed_videos/ anyway). */
    char *stale = vc_out_video_error_path(out, sv->v.relpath, 0);
    if (strncmp(stale, "s3://", 5) != 0 && vc_fs_exists(stale))
        unlink(stale);
    free(stale);
    free(starts);
    free(clips);
}

/* Caption windows that ended in error keep the video from being marked done
 * (as any failure does): its video_errors record says so and a rerun
 * captions the clips that have failed windows, reusing the others. */
static void caption_failures(vc_split_video *sv)
{
    int64_t failed = 0, clips = 0;
    const char *first = NULL;
    for (int64_t i = 0; i < sv->nnotes; i++)
        if (sv->notes[i].cap_failed) {
            failed += sv->notes[i].cap_failed;
            clips++;
            if (!first)
                first = sv->notes[i].cap_error;
        }
    if (failed && !sv->error) {
        sv->error_stage = vc_xstrdup("captioning");
        sv->error = vc_asprintf("%lld caption windows in %lld clips failed (first: %s); rerun to retry them",
                                (long long)failed, (long long)clips, first ? first : "?");
    }
}

static void finalize_video(vc_split_run *run, vc_split_video *sv)
{
    caption_failures(sv);
    if (sv->error) {
        json_t *errors = json_object();
        json_object_set_new(errors, sv->error_stage, json_string(sv->error));
        vc_write_video_errors(run->cfg->output_clip_path, &sv->v, 0, errors);
        json_decref(errors);
        vc_error("%s: %s", sv->v.path, sv->error);
        atomic_fetch_add(&run->stats.videos_failed, 1);
    } else {
        write_video_records(run, sv);
        vc_info("%s: %lld clips", sv->v.path, (long long)sv->nnotes);
    }
    atomic_fetch_add(&run->stats.videos_done, 1);
    atomic_fetch_add(&run->stats.video_seconds_done, (long long)(sv->v.info.duration * 1000));
}

/* The video is finished once cut is done and every clip it emitted is written. */
static void maybe_finalize(vc_split_run *run, vc_split_video *sv)
{
    pthread_mutex_lock(&sv->lock);
    bool now = sv->cut_done && !sv->finalized && sv->clips_handled == sv->clips_emitted;
    if (now)
        sv->finalized = true;
    pthread_mutex_unlock(&sv->lock);
    if (now)
        finalize_video(run, sv);
}

static int write_process(vc_stage_ctx *ctx, void *p)
{
    vc_split_item *it = p;
    vc_split_run *run = vc_stage_shared(ctx);
    vc_split_video *sv = it->video;
    if (it->kind == VC_ITEM_CLIP) {
        write_clip(run, it);
        pthread_mutex_lock(&sv->lock);
        sv->clips_handled++;
        pthread_mutex_unlock(&sv->lock);
    } else {
        pthread_mutex_lock(&sv->lock);
        sv->cut_done = true;
        pthread_mutex_unlock(&sv->lock);
    }
    maybe_finalize(run, sv);
    vc_split_item_free(it);
    return 0;
}

const vc_stage vc_stage_write = { "write", write_process, vc_split_item_drop };
