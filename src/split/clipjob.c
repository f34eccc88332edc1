#include "split/clipjob.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/cancel.h"
#include "pipeline/queue.h"
#include "caption/framer.h"
#include "split/preview_windows.h"
#include "split/stage_caption.h"
#include "util/common.h"
#include "util/log.h"
#include "video/clipwriter.h"

/* Frames queued per clip: enough to keep an encoder busy while the decoder
 * works, small enough that a few 4K clips in flight stay well under 400 MB. */
#define FRAMES_PER_JOB 8

typedef struct msg {
    AVFrame *frame;
    AVPacket *pkt;
    int64_t index;
} msg;

struct vc_clip_pool {
    vc_clip_pool_cfg c;
    vc_queue *jobs;
    pthread_t *threads;
    int nthreads;
    atomic_llong emitted;
    bool finished;
    /* Frames queued to all of this pool's clips together: FRAMES_PER_JOB per
     * encoder. Without it, clips waiting for an encoder queued their own
     * frames too, and the rare moments when several short clips met made
     * the peak memory of a long video higher than a short one's. */
    pthread_mutex_t budget_mu;
    pthread_cond_t budget_cv;
    int budget;
};

/* The cut thread takes one frame's place before queueing it; never waits
 * forever, since every queued frame belongs to a clip an encoder will run. */
static void budget_take(vc_clip_pool *p)
{
    pthread_mutex_lock(&p->budget_mu);
    while (p->budget == 0)
        pthread_cond_wait(&p->budget_cv, &p->budget_mu);
    p->budget--;
    pthread_mutex_unlock(&p->budget_mu);
}

static void budget_give(vc_clip_pool *p)
{
    pthread_mutex_lock(&p->budget_mu);
    p->budget++;
    pthread_cond_signal(&p->budget_cv);
    pthread_mutex_unlock(&p->budget_mu);
}

static int64_t bit_rate_for(const vc_clip_pool *p)
{
    const vc_split_config *cfg = p->c.cfg;
    /* Cosmos passes "{bit_rate_k}K" to ffmpeg, where K is 1000. */
    return cfg->use_input_bit_rate ? p->c.sv->v.info.bit_rate_k * 1000 : 4000000;
}

static vc_clip_writer *open_writer(vc_clip_pool *p, const AVFrame *f, char *err, size_t errlen)
{
    const vc_split_config *cfg = p->c.cfg;
    const AVStream *vs = p->c.video_stream;
    const AVStream *as = p->c.audio_stream;
    vc_clip_writer_cfg wc = {
        .encoder = cfg->encoder,
        .width = f->width,
        .height = f->height,
        .pix_fmt = f->format,
        .frame_rate = (AVRational){ p->c.sv->v.info.fps_num, p->c.sv->v.info.fps_den },
        .time_base = vs->time_base,
        .bit_rate = bit_rate_for(p),
        .threads = cfg->encoder_threads,
        .x264_preset = cfg->x264_preset,
        .sample_aspect_ratio = f->sample_aspect_ratio,
        .audio = as ? as->codecpar : NULL,
        .audio_time_base = as ? as->time_base : (AVRational){ 1, 1 },
        /* predict2: caption windows start at multiples of the window size;
         * an IDR there lets write cut each window's mp4 by stream copy */
        .key_interval = cfg->predict2 ? cfg->caption.window_size : 0,
    };
    return vc_clip_writer_open(&wc, err, errlen);
}

static int64_t frame_pts(const vc_clip_pool *p, const vc_clip_job *j, const AVFrame *f, int64_t index)
{
    if (f->best_effort_timestamp != AV_NOPTS_VALUE && j->first_pts != AV_NOPTS_VALUE)
        return f->best_effort_timestamp - j->first_pts;
    /* No timestamps: evenly spaced at the nominal rate. */
    AVRational fr = { p->c.sv->v.info.fps_num, p->c.sv->v.info.fps_den };
    return av_rescale_q(index - j->start_frame, av_inv_q(fr), p->c.video_stream->time_base);
}

/* The clip's caption frames: taken from an earlier run's metas when its
 * windows are all captioned there, else encoded now from the proxies. */
static void caption_frames(vc_clip_pool *p, vc_split_item *it, vc_cap_framer *fr)
{
    const vc_clip *c = &it->clip;
    if (!c->mp4 || vc_caption_reuse(p->c.cfg, it))
        return;
    it->cap_frames = vc_xcalloc(1, sizeof(*it->cap_frames));
    char err[256] = "";
    if (!fr || vc_cap_framer_finish(fr, c->num_frames, it->cap_frames, err, sizeof err) < 0) {
        vc_warn("%s: clip %s: no caption frames: %s", p->c.sv->v.path, c->uuid, fr ? err : "no frames");
        vc_caption_fail_all(it, err[0] ? err : "no frames", p->c.cfg->caption.window_size,
                            p->c.cfg->caption.remainder_threshold);
    }
}

static void emit_clip(vc_clip_pool *p, vc_clip_job *j, vc_clip_writer *w, int64_t nframes,
                      vc_preview_set *pv, vc_cap_framer *fr, const char *error)
{
    const vc_video_info *info = &p->c.sv->v.info;
    vc_split_item *it = vc_split_item_new(VC_ITEM_CLIP, p->c.sv);
    vc_clip *c = &it->clip;
    memcpy(c->uuid, j->clip_uuid, VC_UUID_STR_LEN);
    c->start_frame = j->start_frame;
    c->end_frame = j->end_frame;
    c->span_start = j->span_start;
    c->span_end = j->span_end;
    /* 4:2:0 H.264 has even sizes: the writer drops an odd last column/row. */
    c->width = info->width & ~1;
    c->height = info->height & ~1;
    c->framerate = info->fps;
    c->num_frames = nframes;
    c->video_codec = "h264";
    char err[512] = "";
    if (error) {
        c->error = vc_xstrdup(error);
    } else if (w) {
        int64_t n = 0;
        if (vc_clip_writer_finish(w, &c->mp4, &c->mp4_len, &n, err, sizeof err) < 0)
            c->error = vc_xstrdup(err);
        else
            c->num_frames = n;
    }
    if (pv)
        vc_preview_set_finish(pv, nframes, it);
    if (p->c.cfg->caption.enabled && !p->c.cfg->dry_run)
        caption_frames(p, it, fr);
    atomic_fetch_add(&p->emitted, 1);
    vc_stage_emit(p->c.sctx, it);
}

static void run_job(vc_clip_pool *p, vc_clip_job *j, vc_cap_pool *cap_pool)
{
    const vc_split_config *cfg = p->c.cfg;
    vc_clip_writer *w = NULL;
    vc_preview_set *pv = NULL;
    vc_cap_framer *fr = NULL;
    bool captions = cfg->caption.enabled && !cfg->dry_run;
    char err[512] = "";
    int64_t nframes = 0;
    msg *m;
    while ((m = vc_queue_pop(j->msgs)) != NULL) {
        if (m->frame) {
            if (!cfg->dry_run && !err[0]) {
                if (!w && !(w = open_writer(p, m->frame, err, sizeof err)))
                    vc_warn("%s: clip %s: %s", p->c.sv->v.path, j->clip_uuid, err);
                if (w && vc_clip_writer_video(w, m->frame, frame_pts(p, j, m->frame, m->index)) < 0)
                    snprintf(err, sizeof err, "encoding frame %lld failed", (long long)m->index);
            }
            if (cfg->generate_previews && !cfg->dry_run) {
                if (!pv)
                    pv = vc_preview_set_new(m->frame, &p->c.sv->v.info, cfg->caption.window_size,
                                            cfg->caption.remainder_threshold);
                vc_preview_set_add(pv, m->frame, nframes);
            }
            if (captions) {
                if (!fr) {
                    vc_cap_frames_cfg fc = {
                        .window_size = cfg->caption.window_size,
                        .remainder = cfg->caption.remainder_threshold,
                        .sampling_fps = cfg->caption.sampling_fps,
                        .video_fps = p->c.sv->v.info.fps,
                        .jpeg_quality = cfg->caption.jpeg_quality,
                    };
                    fr = vc_cap_framer_new(&fc, m->frame->width & ~1, m->frame->height & ~1, cap_pool);
                }
                vc_cap_framer_add(fr, m->frame, nframes);
            }
            nframes++;
            av_frame_free(&m->frame);
            budget_give(p);
        } else if (m->pkt) {
            if (w && !err[0])
                vc_clip_writer_audio(w, m->pkt);
            av_packet_free(&m->pkt);
        }
        free(m);
    }
    if (j->keep && !vc_cancelled())
        emit_clip(p, j, w, nframes, pv, fr, err[0] ? err : NULL);
    vc_preview_set_free(pv);
    vc_cap_framer_free(fr);
    vc_clip_writer_free(w);
    vc_queue_free(j->msgs);
    free(j);
}

static void *encoder_main(void *arg)
{
    vc_clip_pool *p = arg;
    vc_cap_pool *cap_pool = vc_cap_pool_new();   /* caption proxies, clip to clip */
    vc_clip_job *j;
    while ((j = vc_queue_pop(p->jobs)) != NULL)
        run_job(p, j, cap_pool);
    vc_cap_pool_free(cap_pool);
    return NULL;
}

vc_clip_pool *vc_clip_pool_new(const vc_clip_pool_cfg *pc)
{
    vc_clip_pool *p = vc_xcalloc(1, sizeof(*p));
    p->c = *pc;
    p->nthreads = VC_MAX(1, pc->cfg->encoders_per_video);
    p->jobs = vc_queue_new((size_t)p->nthreads);
    pthread_mutex_init(&p->budget_mu, NULL);
    pthread_cond_init(&p->budget_cv, NULL);
    p->budget = FRAMES_PER_JOB * p->nthreads;
    p->threads = vc_xcalloc((size_t)p->nthreads, sizeof(*p->threads));
    for (int i = 0; i < p->nthreads; i++)
        if (pthread_create(&p->threads[i], NULL, encoder_main, p) != 0) {
            vc_error("cannot start an encoder thread");
            abort();
        }
    return p;
}

vc_clip_job *vc_clip_pool_start(vc_clip_pool *p, int64_t start_frame, const AVFrame *first)
{
    vc_clip_job *j = vc_xcalloc(1, sizeof(*j));
    j->pool = p;
    j->msgs = vc_queue_new(FRAMES_PER_JOB);
    j->start_frame = start_frame;
    j->first_pts = first->best_effort_timestamp;
    vc_queue_push(p->jobs, j);
    return j;
}

static void job_send(vc_clip_job *j, msg *m)
{
    if (!vc_queue_push(j->msgs, m)) {
        if (m->frame)
            budget_give(j->pool);
        av_frame_free(&m->frame);
        av_packet_free(&m->pkt);
        free(m);
    }
}

void vc_clip_job_frame(vc_clip_job *j, AVFrame *frame, int64_t index)
{
    msg *m = vc_xcalloc(1, sizeof(*m));
    m->frame = frame;
    m->index = index;
    budget_take(j->pool);
    job_send(j, m);
}

void vc_clip_job_audio(vc_clip_job *j, AVPacket *pkt)
{
    const vc_clip_pool *p = j->pool;
    int64_t a0 = j->first_pts == AV_NOPTS_VALUE ? 0
               : av_rescale_q(j->first_pts, p->c.video_stream->time_base, p->c.audio_stream->time_base);
    if (pkt->pts == AV_NOPTS_VALUE || pkt->pts < a0) {
        av_packet_free(&pkt);   /* starts before the clip */
        return;
    }
    pkt->pts -= a0;
    pkt->dts = pkt->dts == AV_NOPTS_VALUE ? pkt->pts : VC_MAX(0, pkt->dts - a0);
    msg *m = vc_xcalloc(1, sizeof(*m));
    m->pkt = pkt;
    job_send(j, m);
}

void vc_clip_job_close(vc_clip_job *j, bool keep)
{
    j->keep = keep;
    vc_queue_close(j->msgs);
}

int64_t vc_clip_pool_finish(vc_clip_pool *p)
{
    if (!p->finished) {
        vc_queue_close(p->jobs);
        for (int i = 0; i < p->nthreads; i++)
            pthread_join(p->threads[i], NULL);
        p->finished = true;
    }
    return atomic_load(&p->emitted);
}

void vc_clip_pool_free(vc_clip_pool *p)
{
    if (!p)
        return;
    vc_clip_pool_finish(p);
    vc_queue_free(p->jobs);
    pthread_mutex_destroy(&p->budget_mu);
    pthread_cond_destroy(&p->budget_cv);
    free(p->threads);
    free(p);
}
