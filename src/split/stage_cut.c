/* The cut stage: one decode pass per video feeds both the shot detector and
 * the clip encoders.
 *
 * Decoded frames wait in a short delay line until the detector has settled
 * every boundary that could affect them (detector latency + crop frames);
 * then the segmenter says which clip, if any, each frame belongs to, and the
 * frame goes straight to that clip's encoder thread. A clip is encoded while
 * later frames are still being decoded; whether it survives the minimum
 * length rule is only known when it ends, so its bytes stay in memory until
 * then (an encoded clip is small next to its raw frames). Memory is bounded
 * by the delay line and the per-encoder frame queues, never by video length;
 * frames inside a fade the detector has not settled yet are freed early.
 * Audio packets are passed through to the clip whose time span holds them. */
#include "split/stage_cut.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detector.h"
#include "pipeline/cancel.h"
#include "pipeline/queue.h"
#include "split/clipjob.h"
#include "split/run.h"
#include "split/segmenter.h"
#include "split/stride.h"
#include "util/common.h"
#include "util/log.h"
#include "util/pyfmt.h"
#include "video/decode.h"
#include "video/clipwriter.h"
#include "video/probe.h"

/* One decoded frame waiting for the detector to settle. */
typedef struct held_frame {
    AVFrame *frame;
    int64_t index;
    double time;
} held_frame;

typedef struct cut {
    vc_stage_ctx *sctx;
    vc_split_run *run;
    vc_split_video *sv;
    const vc_split_config *cfg;

    vc_decoder *dec;
    vc_detector *det;            /* shot-based algorithms */
    vc_segmenter *seg;
    vc_stride_spans spans;       /* fixed stride */
    size_t span_at;

    vc_clip_pool *pool;
    vc_clip_job *cur;            /* clip receiving frames */
    int64_t cur_piece;
    int64_t lost_piece;          /* a clip dropped for a frame freed too early, or -1 */
    int64_t clips_opened;
    bool limit_reached;

    held_frame *held;            /* delay line (ring) */
    int held_cap, held_head, held_len;

    AVPacket **audio;            /* audio packets not yet placed */
    int naudio, cap_audio;
    AVRational vtb, atb;
    double frame_dur;
    double last_time;            /* of the last frame released */
} cut;

/* ---- clip boundaries ------------------------------------------------- */

static void close_clip(cut *c, int64_t end_frame)
{
    vc_clip_job *j = c->cur;
    if (!j)
        return;
    c->cur = NULL;
    int64_t n = end_frame - j->start_frame;
    bool keep = c->seg ? vc_segmenter_keep(c->seg, n) : n > 0;
    if (keep) {
        j->end_frame = end_frame;
        if (c->seg) {
            /* Shot-based clips are named by frame indices, spans in seconds. */
            char *name = vc_asprintf("%s_%lld_%lld", c->sv->v.path, (long long)j->start_frame, (long long)end_frame);
            vc_uuid5_url(name, j->clip_uuid);
            free(name);
            j->span_start = (double)j->start_frame / c->sv->v.info.fps;
            j->span_end = (double)end_frame / c->sv->v.info.fps;
        }
        int64_t limit = c->cfg->limit_clips;
        if (limit > 0 && ++c->clips_opened >= limit)
            c->limit_reached = true;
    }
    vc_clip_job_close(j, keep);
}

static void open_clip(cut *c, const held_frame *h, int64_t piece)
{
    c->cur = vc_clip_pool_start(c->pool, h->index, h->frame);
    c->cur_piece = piece;
    if (!c->seg) {
        const vc_stride_span *sp = &c->spans.items[c->span_at];
        memcpy(c->cur->clip_uuid, sp->uuid, VC_UUID_STR_LEN);
        c->cur->span_start = sp->start;
        c->cur->span_end = sp->end;
    }
}

/* Audio that starts before the end of frame h goes to the open clip (if it
 * started no earlier than the clip), the rest waits for later frames. */
static void place_audio(cut *c, double until)
{
    int used = 0;
    for (; used < c->naudio; used++) {
        AVPacket *p = c->audio[used];
        double t = (double)p->pts * av_q2d(c->atb) - (double)vc_decoder_start_pts(c->dec) * av_q2d(c->vtb);
        if (t >= until)
            break;
        if (c->cur)
            vc_clip_job_audio(c->cur, p);   /* takes the packet */
        else
            av_packet_free(&p);
    }
    memmove(c->audio, c->audio + used, (size_t)(c->naudio - used) * sizeof(*c->audio));
    c->naudio -= used;
}

/* Stride mode: which span holds time t? Returns false for none. */
static bool stride_place(cut *c, double t)
{
    while (c->span_at < c->spans.len && t >= c->spans.items[c->span_at].end - 1e-6)
        c->span_at++;
    return c->span_at < c->spans.len && t >= c->spans.items[c->span_at].start - 1e-6;
}

/* A frame leaves the delay line: decide its clip, hand it over. */
static void release(cut *c, held_frame *h)
{
    int64_t piece = 0;
    bool in;
    if (c->seg) {
        in = vc_segmenter_place(c->seg, h->index, &piece);
    } else {
        in = stride_place(c, h->time);
        piece = (int64_t)c->span_at;
    }
    if (in && !h->frame && piece != c->lost_piece) {
        /* Freed early as doomed but placed in a clip after all: a detector
         * bug. Drop that whole clip rather than write one with a hole in it. */
        vc_warn("%s: internal error: frame %lld was released early; clip dropped", c->sv->v.path,
                (long long)h->index);
        if (c->cur)
            vc_clip_job_close(c->cur, false);
        c->cur = NULL;
        c->lost_piece = piece;
    }
    if (in && piece == c->lost_piece)
        in = false;
    if (c->cur && (!in || piece != c->cur_piece))
        close_clip(c, h->index);
    if (in && !c->cur && !c->limit_reached)
        open_clip(c, h, piece);
    c->last_time = h->time;
    if (c->cur)
        vc_clip_job_frame(c->cur, h->frame, h->index);  /* takes the frame */
    else
        av_frame_free(&h->frame);
    if (c->naudio)
        place_audio(c, h->time + c->frame_dur);
}

/* ---- delay line ------------------------------------------------------ */

static void hold(cut *c, AVFrame *f, int64_t index, double time)
{
    held_frame *h = &c->held[(c->held_head + c->held_len) % c->held_cap];
    h->frame = f;
    h->index = index;
    h->time = time;
    c->held_len++;
}

/* Frees held frames that the detector already knows fall inside a
 * transition (an open fade): they can belong to no clip, and holding them
 * until the fade settles is what made the delay line peak at 1080p. Only the
 * index and time stay, for ordering and audio placement. */
static void drop_doomed(cut *c)
{
    for (int k = 0; k < c->held_len; k++) {
        held_frame *h = &c->held[(c->held_head + k) % c->held_cap];
        if (h->frame && vc_detector_frame_doomed(c->det, h->index))
            av_frame_free(&h->frame);
    }
}

/* Release every held frame whose clip membership is now certain. */
static void release_settled(cut *c, bool all)
{
    int64_t settled = INT64_MAX;
    if (c->det && !all) {
        vc_shot_event ev;
        while (vc_detector_next_event(c->det, &ev))
            vc_segmenter_push(c->seg, &ev);
        settled = vc_detector_final_before(c->det) - vc_segmenter_lookahead(c->seg);
        drop_doomed(c);
    }
    while (c->held_len > 0) {
        held_frame *h = &c->held[c->held_head];
        if (!all && h->index >= settled && c->held_len < c->held_cap)
            break;
        release(c, h);
        c->held_head = (c->held_head + 1) % c->held_cap;
        c->held_len--;
    }
}

/* ---- the decode loop ------------------------------------------------- */

static int setup(cut *c, char *err, size_t errlen)
{
    const vc_split_config *cfg = c->cfg;
    const vc_video_info *info = &c->sv->v.info;
    c->dec = vc_decoder_open(c->sv->v.path, cfg->decode_threads, err, errlen);
    if (!c->dec)
        return -1;
    const AVStream *vs = vc_decoder_video_stream(c->dec);
    const AVStream *as = vc_decoder_audio_stream(c->dec);
    if (as && !vc_clip_audio_copyable(as->codecpar)) {
        vc_warn("%s: %s audio cannot be copied into mp4; clips will have no audio", c->sv->v.path,
                avcodec_get_name(as->codecpar->codec_id));
        as = NULL;
    }
    c->vtb = vs->time_base;
    c->frame_dur = 1.0 / info->fps;
    int latency = 0;
    if (cfg->algo == VC_SPLIT_FIXED_STRIDE) {
        vc_stride_make(&c->spans, c->sv->v.path, info, (double)vc_decoder_start_pts(c->dec) * av_q2d(vs->time_base),
                       cfg->fixed_stride_split_duration, cfg->fixed_stride_min_clip_length_s, cfg->limit_clips);
    } else {
        const AVCodecContext *dc = vc_decoder_codec(c->dec);
        vc_detect_params dp;
        vc_split_detect_params(cfg, &dp);
        c->det = vc_detector_new(&dp, info->fps, dc->width, dc->height, dc->pix_fmt, err, errlen);
        if (!c->det)
            return -1;
        vc_clip_rules rules;
        vc_clip_rules_for(cfg, info->fps, &rules);
        c->seg = vc_segmenter_new(&rules);
        latency = vc_detector_latency(c->det) + (int)rules.crop;
    }
    c->held_cap = latency + 2;
    c->held = vc_xcalloc((size_t)c->held_cap, sizeof(*c->held));
    if (as) {
        c->atb = as->time_base;
        c->cap_audio = 64;
        c->audio = vc_xcalloc((size_t)c->cap_audio, sizeof(*c->audio));
    }
    vc_clip_pool_cfg pc = {
        .cfg = cfg, .run = c->run, .sv = c->sv, .sctx = c->sctx,
        .video_stream = vs, .audio_stream = as, .start_pts = vc_decoder_start_pts(c->dec),
    };
    c->pool = vc_clip_pool_new(&pc);
    return 0;
}

static void keep_audio(cut *c, AVPacket *pkt)
{
    if (c->naudio == c->cap_audio) {
        c->cap_audio *= 2;
        c->audio = vc_xrealloc(c->audio, (size_t)c->cap_audio * sizeof(*c->audio));
    }
    c->audio[c->naudio++] = av_packet_clone(pkt);
}

static int decode_all(cut *c, char *err, size_t errlen)
{
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int64_t index = 0;
    int rc;
    while (!c->limit_reached && !vc_cancelled()) {
        rc = vc_decoder_next(c->dec, frame, pkt);
        if (rc == VC_DEC_EOF)
            break;
        if (rc < 0) {
            char eb[128];
            snprintf(err, errlen, "read error at frame %lld: %s", (long long)index, vc_av_err(rc, eb));
            goto out;
        }
        if (rc == VC_DEC_AUDIO) {
            if (c->audio)
                keep_audio(c, pkt);
            av_packet_unref(pkt);
            continue;
        }
        if (c->det && vc_detector_push(c->det, frame) < 0) {
            snprintf(err, errlen, "shot detector failed at frame %lld: %s", (long long)index,
                     vc_detector_error(c->det));
            rc = -1;
            goto out;
        }
        AVFrame *mine = av_frame_alloc();
        av_frame_move_ref(mine, frame);
        hold(c, mine, index, vc_decoder_frame_time(c->dec, mine));
        index++;
        atomic_fetch_add(&c->run->stats.frames_decoded, 1);
        release_settled(c, false);
    }
    if (index == 0 && !vc_cancelled()) {
        snprintf(err, errlen, "no decodable video frames (corrupt or truncated stream)");
        rc = -1;
        goto out;
    }
    if (c->det) {
        if (vc_detector_finish(c->det) < 0) {
            snprintf(err, errlen, "shot detector failed: %s", vc_detector_error(c->det));
            rc = -1;
            goto out;
        }
        vc_shot_event ev;
        while (vc_detector_next_event(c->det, &ev))
            vc_segmenter_push(c->seg, &ev);
        vc_segmenter_end(c->seg, index);
    }
    release_settled(c, true);
    if (c->audio)
        place_audio(c, c->last_time + c->frame_dur);
    close_clip(c, index);
    rc = 0;
out:
    c->sv->corrupt_packets = vc_decoder_corrupt_packets(c->dec);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    return rc;
}

static void teardown(cut *c)
{
    if (c->cur)
        vc_clip_job_close(c->cur, false);
    c->cur = NULL;
    while (c->held_len > 0) {
        av_frame_free(&c->held[c->held_head].frame);
        c->held_head = (c->held_head + 1) % c->held_cap;
        c->held_len--;
    }
    for (int i = 0; i < c->naudio; i++)
        av_packet_free(&c->audio[i]);
    free(c->audio);
    free(c->held);
    vc_clip_pool_free(c->pool);   /* waits for the encoders */
    vc_detector_free(c->det);
    vc_segmenter_free(c->seg);
    vc_stride_free(&c->spans);
    vc_decoder_free(c->dec);
}

static int cut_process(vc_stage_ctx *sctx, void *p)
{
    vc_split_item *it = p;
    vc_split_video *sv = it->video;
    vc_split_run *run = vc_stage_shared(sctx);
    if (!sv->error) {
        cut c = { .sctx = sctx, .run = run, .sv = sv, .cfg = run->cfg, .lost_piece = -1 };
        char err[512] = "";
        if (setup(&c, err, sizeof err) < 0 || decode_all(&c, err, sizeof err) < 0)
            vc_split_video_fail(sv, "cut", "%s", err);
        if (c.cur)
            vc_clip_job_close(c.cur, false);
        c.cur = NULL;
        int64_t emitted = c.pool ? vc_clip_pool_finish(c.pool) : 0;
        teardown(&c);
        if (sv->corrupt_packets > 0)
            vc_warn("%s: %lld corrupt packets skipped", sv->v.path, (long long)sv->corrupt_packets);
        pthread_mutex_lock(&sv->lock);
        sv->clips_emitted = emitted;
        pthread_mutex_unlock(&sv->lock);
        if (vc_cancelled()) {
            /* Half a video must not look done: no end marker, no records. */
            vc_split_item_free(it);
            return 0;
        }
    }
    it->kind = VC_ITEM_VIDEO_END;
    vc_stage_emit(sctx, it);   /* on cancel the item is dropped: nothing to report */
    return 0;
}

const vc_stage vc_stage_cut = { "cut", cut_process, vc_split_item_drop };
