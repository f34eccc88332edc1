/* TransNetV2 as a streaming shot detector: frames in, events out, with at
 * most one window of frames kept (see tnet_detector.h for the rules). */
#include "detect/tnet_detector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "nn/transnetv2.h"
#include "util/common.h"

enum {
    WIN = VC_TNET_WINDOW,          /* 100 frames a window */
    STRIDE = WIN / 2,              /* 50: predictions kept per window */
    CONTEXT = WIN / 4,             /* 25 frames of context on each side */
    RING = 128,                    /* frames kept: one window and some */
    FB = VC_TNET_FRAME_BYTES,
};

int vc_tnet_compat_parse(const char *s, vc_tnet_compat *out)
{
    if (s && !strcmp(s, "cosmos")) {
        *out = VC_TNET_COMPAT_COSMOS;
        return 0;
    }
    if (s && !strcmp(s, "reference")) {
        *out = VC_TNET_COMPAT_REFERENCE;
        return 0;
    }
    return -1;
}

/* ---- predictions -> events ------------------------------------------ */

void vc_tnet_scene_rule_init(vc_tnet_scene_rule *r, vc_tnet_compat compat)
{
    *r = (vc_tnet_scene_rule){ .compat = compat };
}

/* The run of transition frames [a, b] has ended (frame b+1 starts a shot). */
static bool run_event(const vc_tnet_scene_rule *r, int64_t a, int64_t b, vc_shot_event *ev)
{
    if (r->compat == VC_TNET_COMPAT_REFERENCE && a > 0) {
        /* predictions_to_scenes: the previous scene ends ON frame a. */
        if (b == a)
            *ev = (vc_shot_event){ .kind = VC_SHOT_CUT, .first = a + 1, .last = a + 1 };
        else
            *ev = (vc_shot_event){ .kind = VC_SHOT_TRANSITION, .first = a + 1, .last = b };
        return true;
    }
    /* Cosmos (and a leading run in both modes): the run belongs to no scene. */
    *ev = (vc_shot_event){ .kind = VC_SHOT_TRANSITION, .first = a, .last = b };
    return true;
}

bool vc_tnet_scene_rule_push(vc_tnet_scene_rule *r, bool t, vc_shot_event *ev)
{
    int64_t i = r->n++;
    bool out = false;
    if (r->prev && !t)
        out = run_event(r, r->run_start, i - 1, ev);
    if (!r->prev && t) {
        r->run_start = i;
        if (i != 0)
            r->any_scene = true;
    }
    r->prev = t;
    return out;
}

bool vc_tnet_scene_rule_end(vc_tnet_scene_rule *r, vc_shot_event *ev)
{
    int64_t last = r->n - 1;
    if (r->n == 0)
        return false;
    if (r->prev) {
        /* A trailing run: excluded, unless the whole video is one run (then
         * both rules keep the whole video as one scene). */
        if (r->run_start == 0)
            return false;
        if (r->compat == VC_TNET_COMPAT_REFERENCE) {
            if (r->run_start == last)
                return false;
            *ev = (vc_shot_event){ .kind = VC_SHOT_TRANSITION, .first = r->run_start + 1, .last = last };
            return true;
        }
        *ev = (vc_shot_event){ .kind = VC_SHOT_TRANSITION, .first = r->run_start, .last = last };
        return true;
    }
    /* Cosmos appends (start, last_index): the last frame is left out. */
    if (r->compat == VC_TNET_COMPAT_COSMOS && r->any_scene) {
        *ev = (vc_shot_event){ .kind = VC_SHOT_TRANSITION, .first = last, .last = last };
        return true;
    }
    return false;
}

int64_t vc_tnet_scene_rule_settled(const vc_tnet_scene_rule *r)
{
    if (r->prev)
        return r->run_start;
    /* Cosmos may still drop the last frame seen, at the end. */
    return r->compat == VC_TNET_COMPAT_COSMOS ? VC_MAX(r->n - 1, 0) : r->n;
}

/* ---- the streaming detector ------------------------------------------ */

struct vc_tnet_detector {
    vc_tnet *model;
    double threshold;
    vc_tnet_compat compat;
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt;
    int scale_threads;
    uint8_t *ring;                 /* RING frames of 48x27 RGB24 */
    uint8_t *win;                  /* one window being assembled */
    int64_t n;                     /* frames pushed */
    int64_t next_win;              /* next window to run */
    bool finished;
    vc_tnet_scene_rule rule;
    vc_shot_event *ev;             /* events not yet taken */
    int nev, cap_ev, ev_head;
    vc_tnet_pred_fn pred_fn;
    void *pred_opaque;
    char err[256];
};

vc_tnet_detector *vc_tnet_detector_new(vc_tnet *model, double threshold, vc_tnet_compat compat,
                                       char *err, size_t errlen)
{
    if (!model || !(threshold >= 0 && threshold <= 1)) {
        snprintf(err, errlen, "TransNetV2: %s", model ? "threshold must be in [0, 1]" : "no model");
        return NULL;
    }
    vc_tnet_detector *d = vc_xcalloc(1, sizeof(*d));
    d->model = model;
    d->threshold = threshold;
    d->compat = compat;
    d->sws_fmt = -1;
    d->scale_threads = 1;
    d->ring = vc_xmalloc((size_t)RING * FB);
    d->win = vc_xmalloc((size_t)WIN * FB);
    vc_tnet_scene_rule_init(&d->rule, compat);
    return d;
}

void vc_tnet_detector_free(vc_tnet_detector *d)
{
    if (!d)
        return;
    sws_freeContext(d->sws);
    free(d->ring);
    free(d->win);
    free(d->ev);
    free(d);
}

void vc_tnet_detector_set_pred_callback(vc_tnet_detector *d, vc_tnet_pred_fn fn, void *opaque)
{
    d->pred_fn = fn;
    d->pred_opaque = opaque;
}

void vc_tnet_detector_set_scale_threads(vc_tnet_detector *d, int threads)
{
    d->scale_threads = VC_MAX(threads, 1);
}

const char *vc_tnet_detector_error(const vc_tnet_detector *d) { return d->err; }
int vc_tnet_detector_latency(const vc_tnet_detector *d)
{
    (void)d;
    /* predictions trail by up to WIN - CONTEXT frames; leave room for a
     * transition run of CONTEXT frames and Cosmos' last-frame rule */
    return WIN - CONTEXT + CONTEXT + 1;
}

static uint8_t *ring_frame(const vc_tnet_detector *d, int64_t i)
{
    return d->ring + (size_t)(i % RING) * FB;
}

static void queue_event(vc_tnet_detector *d, const vc_shot_event *ev)
{
    if (d->ev_head > 0 && d->ev_head == d->nev) {
        d->ev_head = d->nev = 0;
    }
    if (d->nev == d->cap_ev) {
        d->cap_ev = d->cap_ev ? d->cap_ev * 2 : 8;
        d->ev = vc_xrealloc(d->ev, (size_t)d->cap_ev * sizeof(*d->ev));
    }
    d->ev[d->nev++] = *ev;
}

/* Window k covers frames [50k-25, 50k+75), frame indices clamped to the
 * video (the reference pads both ends; Cosmos pads only the front, so its
 * tail windows stop at the last frame). Runs it and feeds the kept
 * predictions [25, 75) to the scene rule. */
static int run_window(vc_tnet_detector *d, int64_t k, int64_t nframes)
{
    int64_t first = k * STRIDE - CONTEXT;
    int64_t end = first + WIN;
    if (d->compat == VC_TNET_COMPAT_COSMOS && end > nframes)
        end = nframes;
    int len = (int)(end - first);
    for (int j = 0; j < len; j++) {
        int64_t f = VC_MAX(first + j, 0);
        f = VC_MIN(f, nframes - 1);
        memcpy(d->win + (size_t)j * FB, ring_frame(d, f), FB);
    }
    float single[WIN], many[WIN];
    if (vc_tnet_forward_window(d->model, d->win, len, single, many, d->err, sizeof(d->err)) < 0)
        return -1;
    int64_t stop = VC_MIN(k * STRIDE + STRIDE, nframes);
    for (int64_t f = k * STRIDE; f < stop; f++) {
        int j = (int)(f - first);
        if (d->pred_fn)
            d->pred_fn(d->pred_opaque, f, single[j], many[j]);
        vc_shot_event ev;
        if (vc_tnet_scene_rule_push(&d->rule, single[j] > d->threshold, &ev))
            queue_event(d, &ev);
    }
    d->next_win = k + 1;
    return 0;
}

int vc_tnet_detector_push_rgb(vc_tnet_detector *d, const uint8_t *rgb)
{
    if (d->finished)
        return AVERROR(EINVAL);
    memcpy(ring_frame(d, d->n), rgb, FB);
    d->n++;
    /* window k is complete once frame 50k+74 is in */
    int64_t k = d->next_win;
    if (d->n >= k * STRIDE + (WIN - CONTEXT))
        return run_window(d, k, INT64_MAX) < 0 ? AVERROR_EXTERNAL : 0;
    return 0;
}

/* The scaler and flags the ffmpeg CLI uses for -s 48x27 (bicubic), with
 * slice threads (libswscale >= 6; same output for any thread count). */
static struct SwsContext *new_scaler(const AVFrame *f, int threads)
{
    struct SwsContext *s = sws_alloc_context();
    if (!s)
        return NULL;
    av_opt_set_int(s, "srcw", f->width, 0);
    av_opt_set_int(s, "srch", f->height, 0);
    av_opt_set_int(s, "src_format", f->format, 0);
    av_opt_set_int(s, "dstw", VC_TNET_W, 0);
    av_opt_set_int(s, "dsth", VC_TNET_H, 0);
    av_opt_set_int(s, "dst_format", AV_PIX_FMT_RGB24, 0);
    av_opt_set_int(s, "sws_flags", SWS_BICUBIC, 0);
    av_opt_set_int(s, "threads", VC_MAX(threads, 1), 0);
    if (sws_init_context(s, NULL, NULL) < 0) {
        sws_freeContext(s);
        return NULL;
    }
    return s;
}

static int scale_to_rgb(vc_tnet_detector *d, const AVFrame *f, uint8_t *dst)
{
    if (!d->sws || f->width != d->sws_w || f->height != d->sws_h || f->format != d->sws_fmt) {
        sws_freeContext(d->sws);
        d->sws = new_scaler(f, d->scale_threads);
        if (!d->sws) {
            snprintf(d->err, sizeof(d->err), "TransNetV2: cannot scale %dx%d frames of format %d",
                     f->width, f->height, f->format);
            return AVERROR(EINVAL);
        }
        d->sws_w = f->width;
        d->sws_h = f->height;
        d->sws_fmt = f->format;
    }
    uint8_t *planes[4] = { dst };
    int strides[4] = { VC_TNET_W * 3 };
    sws_scale(d->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes, strides);
    return 0;
}

int vc_tnet_detector_push(vc_tnet_detector *d, const AVFrame *frame)
{
    uint8_t rgb[FB];
    int rc = scale_to_rgb(d, frame, rgb);
    return rc < 0 ? rc : vc_tnet_detector_push_rgb(d, rgb);
}

int vc_tnet_detector_finish(vc_tnet_detector *d)
{
    if (d->finished)
        return 0;
    d->finished = true;
    /* Python: for i in range(0, n + (-n % 50), 50) */
    for (int64_t k = d->next_win; k * STRIDE < d->n; k++)
        if (run_window(d, k, d->n) < 0)
            return AVERROR_EXTERNAL;
    vc_shot_event ev;
    if (vc_tnet_scene_rule_end(&d->rule, &ev))
        queue_event(d, &ev);
    return 0;
}

bool vc_tnet_detector_next_event(vc_tnet_detector *d, vc_shot_event *ev)
{
    if (d->ev_head >= d->nev)
        return false;
    *ev = d->ev[d->ev_head++];
    return true;
}

int64_t vc_tnet_detector_final_before(const vc_tnet_detector *d)
{
    return d->finished ? INT64_MAX : vc_tnet_scene_rule_settled(&d->rule);
}
