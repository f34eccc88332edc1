/* The shot detector: per frame, downscale (frame_sample.c), score the HSV
 * change (hsv.c), run PySceneDetect's content or adaptive cut rule, feed the
 * gradual-transition finder (gradual.c), then merge both event streams
 * (event_merge.c) so that cuts inside or next to a dissolve/fade become part
 * of that transition. */
#include "detect/detector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/frame.h>

#include "detect/event_merge.h"
#include "detect/flash_filter.h"
#include "detect/frame_sample.h"
#include "detect/gradual.h"
#include "detect/hsv.h"
#include "detect/tnet_detector.h"
#include "util/common.h"

enum { TINY_BLOCK = 4 };   /* tiny image = small image averaged 4x4 */

struct vc_detector {
    vc_detect_params p;
    int sw, sh, tw, th;
    size_t nsmall, ntiny;
    vc_sampler *sampler;
    vc_hsv_tables hsv_tab;
    uint8_t *bgr, *tiny;
    uint8_t *hsv[2][3];        /* current / previous H, S, V planes */
    int cur;                   /* index of the current HSV set */
    int64_t t;                 /* frames pushed so far */
    bool finished;
    /* cut rule state */
    vc_flash_filter flash;
    double *scores;            /* ring of recent content scores */
    int nscores;
    int64_t adaptive_last_cut;
    vc_gradual *grad;
    vc_event_merge merge;
    vc_frame_stats_fn stats_fn;
    void *stats_opaque;
    vc_tnet_detector *tn;      /* TransNetV2: everything else is unused */
};

void vc_detect_params_default(vc_detect_params *p, vc_detect_algo algo)
{
    *p = (vc_detect_params){
        .algo = algo,
        .threshold = algo == VC_DETECT_ADAPTIVE ? 3.0 : 27.0,
        .min_content_val = 15.0,
        .window_width = 2,
        .min_scene_len = 15,
        .gradual = true,
        .gradual_min_len = 4,
        .gradual_max_len = 24,
        .gradual_min_diff = 10.0,
        .gradual_max_path_ratio = 1.3,
        .gradual_max_residual = 0.08,
        .gradual_max_alpha_dev = 0.25,
        .merge_gap = 10,
        .tnet_threshold = 0.4,
    };
}

const char *vc_detect_algo_name(vc_detect_algo a)
{
    return a == VC_DETECT_TRANSNETV2 ? "transnetv2" : a == VC_DETECT_ADAPTIVE ? "adaptive" : "content";
}

int vc_detect_algo_parse(const char *s, vc_detect_algo *out)
{
    if (!s)
        return -1;
    if (!strcmp(s, "content")) {
        *out = VC_DETECT_CONTENT;
        return 0;
    }
    if (!strcmp(s, "adaptive")) {
        *out = VC_DETECT_ADAPTIVE;
        return 0;
    }
    if (!strcmp(s, "transnetv2")) {
        *out = VC_DETECT_TRANSNETV2;
        return 0;
    }
    return -1;
}

static int cut_latency(const vc_detect_params *p)
{
    if (p->algo == VC_DETECT_ADAPTIVE)
        return p->window_width;
    return p->min_scene_len > 0 ? p->min_scene_len : 0;
}

static bool check_params(const vc_detect_params *p, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (p->algo != VC_DETECT_CONTENT && p->algo != VC_DETECT_ADAPTIVE)
        bad = "unknown algorithm";
    else if (!(p->threshold >= 0) || !isfinite(p->threshold))
        bad = "threshold must be a finite number >= 0";
    else if (p->algo == VC_DETECT_ADAPTIVE && (p->window_width < 1 || p->window_width > 1000))
        bad = "window_width must be in 1..1000";
    else if (p->min_scene_len < 0 || p->min_scene_len > 100000)
        bad = "min_scene_len must be in 0..100000";
    else if (p->gradual && (p->gradual_min_len < 1 || p->gradual_max_len < p->gradual_min_len ||
                            p->gradual_max_len > 1000))
        bad = "gradual window lengths must satisfy 1 <= min <= max <= 1000";
    else if (p->merge_gap < 0 || p->merge_gap > 1000)
        bad = "merge_gap must be in 0..1000";
    if (bad && err && errlen)
        snprintf(err, errlen, "shot detector: %s", bad);
    return !bad;
}

vc_detector *vc_detector_new(const vc_detect_params *p, double fps, int width, int height,
                             int pix_fmt, char *err, size_t errlen)
{
    (void)fps;       /* min_scene_len is in frames; kept for future seconds-based knobs */
    (void)pix_fmt;   /* the sampler adapts to each frame's own format */
    if (p->algo == VC_DETECT_TRANSNETV2) {
        vc_tnet_detector *tn = vc_tnet_detector_new(p->tnet_model, p->tnet_threshold,
                                                    (vc_tnet_compat)p->tnet_compat, err, errlen);
        if (tn)
            vc_tnet_detector_set_scale_threads(tn, p->tnet_scale_threads);
        if (!tn)
            return NULL;
        vc_detector *d = vc_xcalloc(1, sizeof(*d));
        d->p = *p;
        d->tn = tn;
        return d;
    }
    if (!check_params(p, err, errlen))
        return NULL;
    if (width <= 0 || height <= 0 || width > 65536 || height > 65536) {
        if (err && errlen)
            snprintf(err, errlen, "shot detector: bad frame size %dx%d", width, height);
        return NULL;
    }
    vc_detector *d = vc_xcalloc(1, sizeof *d);
    d->p = *p;
    vc_small_size(width, height, &d->sw, &d->sh);
    d->tw = VC_MAX(1, d->sw / TINY_BLOCK);
    d->th = VC_MAX(1, d->sh / TINY_BLOCK);
    d->nsmall = (size_t)d->sw * (size_t)d->sh;
    d->ntiny = (size_t)d->tw * (size_t)d->th * 3;
    d->sampler = vc_sampler_new(d->sw, d->sh);
    vc_hsv_tables_init(&d->hsv_tab);
    d->bgr = vc_xmalloc(d->nsmall * 3);
    d->tiny = vc_xmalloc(d->ntiny);
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 3; c++)
            d->hsv[i][c] = vc_xmalloc(d->nsmall);
    vc_flash_filter_init(&d->flash, p->algo == VC_DETECT_CONTENT ? p->min_scene_len : 0);
    d->nscores = VC_MAX(p->min_scene_len, 2 * p->window_width + 1) + 2;
    d->scores = vc_xcalloc((size_t)d->nscores, sizeof(double));
    d->adaptive_last_cut = -1;
    if (p->gradual) {
        vc_gradual_params gp = {
            .min_len = p->gradual_min_len, .max_len = p->gradual_max_len,
            .min_diff = p->gradual_min_diff, .max_path_ratio = p->gradual_max_path_ratio,
            .max_residual = p->gradual_max_residual, .max_alpha_dev = p->gradual_max_alpha_dev,
            .join_gap = p->merge_gap,
        };
        d->grad = vc_gradual_new(&gp, d->ntiny);
    }
    int lat = cut_latency(p);
    if (d->grad && vc_gradual_latency(d->grad) > lat)
        lat = vc_gradual_latency(d->grad);
    vc_event_merge_init(&d->merge, p->merge_gap, lat + p->merge_gap + 1);
    return d;
}

void vc_detector_free(vc_detector *d)
{
    if (!d)
        return;
    vc_tnet_detector_free(d->tn);
    vc_sampler_free(d->sampler);
    free(d->bgr);
    free(d->tiny);
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 3; c++)
            free(d->hsv[i][c]);
    free(d->scores);
    vc_gradual_free(d->grad);
    vc_event_merge_free(&d->merge);
    free(d);
}

void vc_detector_set_stats_callback(vc_detector *d, vc_frame_stats_fn fn, void *opaque)
{
    d->stats_fn = fn;
    d->stats_opaque = opaque;
}

void vc_detector_set_pred_callback(vc_detector *d, vc_frame_pred_fn fn, void *opaque)
{
    if (d->tn)
        vc_tnet_detector_set_pred_callback(d->tn, fn, opaque);
}

static uint8_t clamp_byte(double v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5);
}

/* Box-average the small BGR image into TINY_BLOCK x TINY_BLOCK cells, as YUV. */
static void make_tiny(const vc_detector *d)
{
    int bw = d->sw >= TINY_BLOCK ? TINY_BLOCK : 1, bh = d->sh >= TINY_BLOCK ? TINY_BLOCK : 1;
    int area = bw * bh;
    for (int ty = 0; ty < d->th; ty++) {
        for (int tx = 0; tx < d->tw; tx++) {
            int sum[3] = { 0, 0, 0 };
            for (int y = 0; y < bh; y++) {
                const uint8_t *row = d->bgr + ((size_t)(ty * bh + y) * (size_t)d->sw + (size_t)(tx * bw)) * 3;
                for (int x = 0; x < bw; x++)
                    for (int c = 0; c < 3; c++)
                        sum[c] += row[3 * x + c];
            }
            /* YUV as cv2.COLOR_BGR2YUV: the gradual thresholds were tuned in
             * this space, where chroma weighs less than in BGR */
            double b = (double)sum[0] / area, g = (double)sum[1] / area, r = (double)sum[2] / area;
            double y = 0.299 * r + 0.587 * g + 0.114 * b;
            uint8_t *o = d->tiny + ((size_t)ty * (size_t)d->tw + (size_t)tx) * 3;
            o[0] = clamp_byte(y);
            o[1] = clamp_byte(0.492 * (b - y) + 128.0);
            o[2] = clamp_byte(0.877 * (r - y) + 128.0);
        }
    }
}

static double score_at(const vc_detector *d, int64_t f) { return d->scores[f % d->nscores]; }

static void add_cut(vc_detector *d, int64_t f, double score)
{
    vc_shot_event ev = { .kind = VC_SHOT_CUT, .first = f, .last = f, .score = score };
    vc_event_merge_add(&d->merge, &ev);
}

/* AdaptiveDetector: decide the frame window_width frames back. */
static void adaptive_step(vc_detector *d, int64_t t)
{
    int w = d->p.window_width;
    if (t < 2 * w)
        return;
    int64_t c = t - w;
    double sum = 0;
    for (int64_t f = t - 2 * w; f <= t; f++)
        if (f != c)
            sum += score_at(d, f);
    double avg = sum / (2.0 * w), sc = score_at(d, c), ratio = 0.0;
    if (fabs(avg) >= 1e-5)
        ratio = fmin(sc / avg, 255.0);
    else if (sc >= d->p.min_content_val)
        ratio = 255.0;
    if (ratio >= d->p.threshold && sc >= d->p.min_content_val &&
        (d->adaptive_last_cut < 0 || c - d->adaptive_last_cut >= d->p.min_scene_len)) {
        d->adaptive_last_cut = c;
        add_cut(d, c, ratio);
    }
}

static int64_t components_final_before(const vc_detector *d)
{
    if (d->finished)
        return INT64_MAX;
    int64_t fb = d->t - cut_latency(&d->p);   /* d->t = frames pushed = last frame + 1 */
    if (d->grad) {
        int64_t g = vc_gradual_final_before(d->grad);
        if (g < fb)
            fb = g;
    }
    return fb;
}

static void drain_gradual(vc_detector *d)
{
    vc_shot_event ev = { .kind = VC_SHOT_TRANSITION };
    while (d->grad && vc_gradual_pop(d->grad, &ev.first, &ev.last, &ev.score))
        vc_event_merge_add(&d->merge, &ev);
}

int vc_detector_push(vc_detector *d, const AVFrame *frame)
{
    if (d->tn)
        return vc_tnet_detector_push(d->tn, frame);
    if (d->finished)
        return AVERROR(EINVAL);
    int r = vc_sampler_run(d->sampler, frame, d->bgr);
    if (r < 0)
        return r;
    int64_t t = d->t;
    uint8_t **h = d->hsv[d->cur], **prev = d->hsv[d->cur ^ 1];
    vc_bgr_to_hsv(&d->hsv_tab, d->bgr, d->nsmall, h[0], h[1], h[2]);
    double delta[4] = { 0, 0, 0, 0 };
    if (t > 0)
        vc_hsv_delta((const uint8_t *const *)h, (const uint8_t *const *)prev, d->nsmall, delta);
    d->cur ^= 1;
    d->scores[t % d->nscores] = delta[3];
    double tiny_diff = 0;
    if (d->grad) {
        make_tiny(d);
        tiny_diff = vc_gradual_push(d->grad, t, d->tiny);
    }
    if (d->p.algo == VC_DETECT_CONTENT) {
        int64_t c = vc_flash_filter_push(&d->flash, t, delta[3] >= d->p.threshold);
        if (c >= 0)
            add_cut(d, c, score_at(d, c));
    } else {
        adaptive_step(d, t);
    }
    d->t = t + 1;
    drain_gradual(d);
    vc_event_merge_release(&d->merge, components_final_before(d), t);
    if (d->stats_fn) {
        vc_frame_stats st = { .frame = t, .content_val = delta[3], .delta_hue = delta[0],
                              .delta_sat = delta[1], .delta_lum = delta[2], .tiny_diff = tiny_diff };
        d->stats_fn(d->stats_opaque, &st);
    }
    return 0;
}

int vc_detector_finish(vc_detector *d)
{
    if (d->tn)
        return vc_tnet_detector_finish(d->tn);
    if (d->finished)
        return 0;
    d->finished = true;
    if (d->grad) {
        vc_gradual_finish(d->grad);
        drain_gradual(d);
    }
    vc_event_merge_release(&d->merge, INT64_MAX, INT64_MAX);
    return 0;
}

const char *vc_detector_error(const vc_detector *d)
{
    return d->tn ? vc_tnet_detector_error(d->tn) : "";
}

bool vc_detector_next_event(vc_detector *d, vc_shot_event *ev)
{
    if (d->tn)
        return vc_tnet_detector_next_event(d->tn, ev);
    return vc_event_merge_next(&d->merge, ev);
}

int64_t vc_detector_final_before(const vc_detector *d)
{
    if (d->tn)
        return vc_tnet_detector_final_before(d->tn);
    if (d->finished)
        return INT64_MAX;
    return vc_event_merge_final_before(&d->merge, components_final_before(d));
}

bool vc_detector_frame_doomed(const vc_detector *d, int64_t f)
{
    if (d->tn || f <= d->merge.out_last)
        return false;
    if (vc_event_merge_in_transition(&d->merge, f))
        return true;
    /* An open gradual range joins the candidates whole once it ends (a
     * released cut inside it cannot come first: see the merge latency). */
    int64_t first, last;
    return d->grad && vc_gradual_open_range(d->grad, &first, &last) && f >= first && f <= last;
}

int vc_detector_latency(const vc_detector *d)
{
    if (d->tn)
        return vc_tnet_detector_latency(d->tn);
    return d->merge.latency;
}
