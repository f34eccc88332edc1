#include "caption/framer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "caption/base64.h"
#include "caption/jpeg.h"
#include "caption/resize.h"
#include "caption/sampling.h"
#include "util/common.h"

struct vc_cap_pool {
    AVFrame **f;
    int n, w, h;
};

struct vc_cap_framer {
    vc_cap_frames_cfg c;
    vc_cap_pool *pool;
    int width, height;           /* clip size */
    int pw, ph;                  /* proxy size */
    AVFrame **proxy;             /* by clip frame index; NULL when dropped; full range */
    int64_t cap, count;
    int64_t settled;             /* blocks whose window is certain */
    int held;
    AVFrame **spare;             /* dropped proxies, reused */
    int nspare;
    vc_resize *rs[2];            /* luma, chroma: source -> proxy (yuv420p / yuvj420p) */
    int rs_fmt;
    struct SwsContext *sws;      /* other pixel formats */
    int sws_fmt;
    bool failed;
};

/* Catmull-Rom-like bicubic with a = -0.5 (PIL / torchvision BICUBIC):
 * swscale's Mitchell-Netravali B = 0, C = 0.5. When shrinking, swscale
 * widens the kernel by the scale factor, i.e. it antialiases. */
static const double BICUBIC_PARAM[2] = { 0.0, 0.5 };
#define SWS_FLAGS SWS_BICUBIC

static struct SwsContext *make_sws(int sw, int sh, int sfmt, int dw, int dh, int dfmt)
{
    return sws_getContext(sw, sh, sfmt, dw, dh, dfmt, SWS_FLAGS, NULL, NULL, BICUBIC_PARAM);
}

vc_cap_pool *vc_cap_pool_new(void)
{
    return vc_xcalloc(1, sizeof(vc_cap_pool));
}

/* Frees all but the first keep frames. */
static void pool_trim(vc_cap_pool *p, int keep)
{
    while (p->n > keep)
        av_frame_free(&p->f[--p->n]);
}

void vc_cap_pool_free(vc_cap_pool *p)
{
    if (!p)
        return;
    pool_trim(p, 0);
    free(p->f);
    free(p);
}

static void pool_put(vc_cap_pool *p, AVFrame *fr)
{
    if (p->n == 0 || fr->width != p->w || fr->height != p->h) {
        pool_trim(p, 0);
        p->w = fr->width;
        p->h = fr->height;
    }
    p->f = vc_xrealloc(p->f, (size_t)(p->n + 1) * sizeof(*p->f));
    p->f[p->n++] = fr;
}

/* A proxy the framer is done with: to its pool, if it has one. */
static void release(vc_cap_framer *f, AVFrame *fr)
{
    if (fr && f->pool)
        pool_put(f->pool, fr);
    else
        av_frame_free(&fr);
}

vc_cap_framer *vc_cap_framer_new(const vc_cap_frames_cfg *c, int width, int height, vc_cap_pool *pool)
{
    vc_cap_framer *f = vc_xcalloc(1, sizeof(*f));
    f->c = *c;
    f->pool = pool;
    f->width = width;
    f->height = height;
    f->sws_fmt = -1;
    if (vc_cap_smart_resize(height, width, VC_CAP_MAX_PIXELS, &f->ph, &f->pw) < 0)
        f->failed = true;   /* reported by finish() */
    return f;
}

int vc_cap_framer_held(const vc_cap_framer *f)
{
    return f->held;
}

static void drop(vc_cap_framer *f, int64_t i)
{
    if (i < f->count && f->proxy[i]) {
        f->spare = vc_xrealloc(f->spare, (size_t)(f->nspare + 1) * sizeof(*f->spare));
        f->spare[f->nspare++] = f->proxy[i];
        f->proxy[i] = NULL;
        f->held--;
    }
}

/* Video-range BT.601 Y'CbCr -> the full-range Y'CbCr of JPEG (JFIF), so
 * that a decoder's RGB equals libswscale's default yuv420p -> rgb24 (what
 * Cosmos's PyAV decode gives) without an RGB round trip; folded into the
 * resize (shrinking yuv420p) or applied with these tables to the sampled
 * frames (libswscale's proxies). */
#define Y_GAIN (255.0 / 219.0)
#define Y_OFF (-16 * 255.0 / 219.0)
#define C_GAIN (255.0 / 224.0)
#define C_OFF (128 - 128 * 255.0 / 224.0)
static uint8_t LUT_Y[256], LUT_C[256];

static void init_luts(void)
{
    for (int i = 0; i < 256; i++) {
        double y = i * Y_GAIN + Y_OFF, c = i * C_GAIN + C_OFF;
        LUT_Y[i] = (uint8_t)(y < 0 ? 0 : y > 255 ? 255 : y + 0.5);
        LUT_C[i] = (uint8_t)(c < 0 ? 0 : c > 255 ? 255 : c + 0.5);
    }
}

/* Both resize plans for a 4:2:0 plane set; gain/offset per plane kind. */
static int make_plans(vc_resize *rs[2], int sw, int sh, int dw, int dh, bool video_range)
{
    rs[0] = vc_resize_new(sw, sh, dw, dh, video_range ? Y_GAIN : 1, video_range ? Y_OFF : 0);
    rs[1] = vc_resize_new((sw + 1) / 2, (sh + 1) / 2, (dw + 1) / 2, (dh + 1) / 2, video_range ? C_GAIN : 1,
                          video_range ? C_OFF : 0);
    return rs[0] && rs[1] ? 0 : -1;
}

static void free_plans(vc_resize *rs[2])
{
    vc_resize_free(rs[0]);
    vc_resize_free(rs[1]);
    rs[0] = rs[1] = NULL;
}

static void run_plans(vc_resize *rs[2], const AVFrame *src, AVFrame *dst)
{
    for (int pl = 0; pl < 3; pl++)
        vc_resize_run(rs[pl > 0], src->data[pl], src->linesize[pl], dst->data[pl], dst->linesize[pl]);
}

static AVFrame *new_proxy(vc_cap_framer *f)
{
    if (f->nspare > 0)
        return f->spare[--f->nspare];
    vc_cap_pool *pool = f->pool;
    if (pool && pool->n > 0 && pool->w == f->pw && pool->h == f->ph)
        return pool->f[--pool->n];
    AVFrame *p = av_frame_alloc();
    p->format = AV_PIX_FMT_YUV420P;
    p->width = f->pw;
    p->height = f->ph;
    if (av_frame_get_buffer(p, 0) < 0)
        av_frame_free(&p);
    return p;
}

/* Window b is certain to be [bW, bW + W - 1] once the clip has run
 * min(remainder, W) frames past it: keep its samples, drop the rest. */
static void settle(vc_cap_framer *f, int64_t c)
{
    int64_t W = f->c.window_size, R = f->c.remainder < W ? f->c.remainder : W;
    while ((f->settled + 1) * W + R <= c) {
        int64_t s = f->settled * W, e = s + W - 1;
        int n = vc_cap_nframes(s, e, f->c.video_fps, f->c.sampling_fps);
        int64_t *idx = vc_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*idx));
        vc_cap_indices(s, e, n, idx);
        int k = 0;
        for (int64_t i = s; i <= e; i++) {
            while (k < n && idx[k] < i)
                k++;
            if (!(k < n && idx[k] == i))
                drop(f, i);
        }
        free(idx);
        f->settled++;
    }
}

int vc_cap_framer_add(vc_cap_framer *f, const AVFrame *frame, int64_t index)
{
    if (f->failed)
        return -1;
    if (index >= f->cap) {
        int64_t nc = f->cap ? f->cap * 2 : 512;
        while (nc <= index)
            nc *= 2;
        f->proxy = vc_xrealloc(f->proxy, (size_t)nc * sizeof(*f->proxy));
        memset(f->proxy + f->cap, 0, (size_t)(nc - f->cap) * sizeof(*f->proxy));
        f->cap = nc;
    }
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_luts);
    /* our resize when shrinking 4:2:0; libswscale for enlarging (no
     * antialiasing to do there, and its 4-tap upscale is ~2x cheaper) and
     * for other formats */
    bool direct = (frame->format == AV_PIX_FMT_YUV420P || frame->format == AV_PIX_FMT_YUVJ420P) &&
                  (f->pw < f->width || f->ph < f->height);
    if (direct && (!f->rs[0] || f->rs_fmt != frame->format)) {
        free_plans(f->rs);
        f->rs_fmt = frame->format;
        if (make_plans(f->rs, f->width, f->height, f->pw, f->ph, frame->format == AV_PIX_FMT_YUV420P) < 0) {
            f->failed = true;
            return -1;
        }
    } else if (!direct && (!f->sws || f->sws_fmt != frame->format)) {
        sws_freeContext(f->sws);
        f->sws = make_sws(f->width, f->height, frame->format, f->pw, f->ph, AV_PIX_FMT_YUV420P);
        f->sws_fmt = frame->format;
        if (!f->sws) {
            f->failed = true;
            return -1;
        }
    }
    AVFrame *p = new_proxy(f);
    if (!p) {
        f->failed = true;
        return -1;
    }
    if (direct) {
        run_plans(f->rs, frame, p);
        p->color_range = AVCOL_RANGE_JPEG;
    } else {
        /* video range until encoded (range tables on the sampled frames only) */
        sws_scale(f->sws, (const uint8_t *const *)frame->data, frame->linesize, 0, f->height, p->data, p->linesize);
        p->color_range = AVCOL_RANGE_MPEG;
    }
    if (f->proxy[index])
        drop(f, index);
    f->proxy[index] = p;
    f->held++;
    if (index + 1 > f->count)
        f->count = index + 1;
    settle(f, index + 1);
    return 0;
}

static int plan(const vc_cap_frames_cfg *c, int width, int height, int64_t n, vc_cap_clip_frames *out,
                char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int max = vc_cap_windows_max(n, c->window_size);
    int64_t(*win)[2] = vc_xcalloc((size_t)max, sizeof(*win));
    int nw = vc_cap_windows(n, c->window_size, c->remainder, win);
    out->w = vc_xcalloc((size_t)(nw > 0 ? nw : 1), sizeof(*out->w));
    out->nwindows = nw;
    for (int i = 0; i < nw; i++) {
        vc_cap_window_frames *w = &out->w[i];
        w->start = win[i][0];
        w->end = win[i][1];
        w->nframes = vc_cap_nframes(w->start, w->end, c->video_fps, c->sampling_fps);
        w->indices = vc_xcalloc((size_t)(w->nframes > 0 ? w->nframes : 1), sizeof(*w->indices));
        vc_cap_indices(w->start, w->end, w->nframes, w->indices);
        out->n_total += w->nframes;
    }
    free(win);
    int h = 0, wd = 0;
    if (nw > 0 && vc_cap_smart_resize(height, width, vc_cap_max_pixels(out->n_total), &h, &wd) < 0) {
        snprintf(err, errlen, "clip size %dx%d: aspect ratio above 200 cannot be captioned", width, height);
        return -1;
    }
    for (int i = 0; i < nw; i++) {
        out->w[i].width = wd;
        out->w[i].height = h;
    }
    return 0;
}

int vc_cap_plan(const vc_cap_frames_cfg *c, int width, int height, int64_t n, vc_cap_clip_frames *out)
{
    char err[128];
    return plan(c, width, height, n, out, err, sizeof err);
}

typedef struct encoder {
    vc_jpeg *jpeg;
    AVFrame *tmp;                /* a proxy scaled to the final size or range-converted */
    vc_resize *rs[2];
    bool rs_video;
} encoder;

static char *encode_frame(encoder *e, const AVFrame *p, int w, int h, int quality, size_t *b64_len)
{
    bool video = p->color_range == AVCOL_RANGE_MPEG;
    if (!e->tmp && (video || p->width != w || p->height != h)) {
        e->tmp = av_frame_alloc();
        e->tmp->format = AV_PIX_FMT_YUV420P;
        e->tmp->width = w;
        e->tmp->height = h;
        if (av_frame_get_buffer(e->tmp, 0) < 0)
            return NULL;
    }
    if (p->width != w || p->height != h) {
        /* the clip samples more than 64 frames: its final size is smaller */
        if (!e->rs[0] || e->rs_video != video) {
            free_plans(e->rs);
            e->rs_video = video;
            if (make_plans(e->rs, p->width, p->height, w, h, video) < 0)
                return NULL;
        }
        run_plans(e->rs, p, e->tmp);
        p = e->tmp;
    } else if (video) {
        for (int pl = 0; pl < 3; pl++) {
            const uint8_t *lut = pl ? LUT_C : LUT_Y;
            int pw = pl ? (w + 1) / 2 : w, ph = pl ? (h + 1) / 2 : h;
            for (int y = 0; y < ph; y++) {
                const uint8_t *src = p->data[pl] + (size_t)y * (size_t)p->linesize[pl];
                uint8_t *dst = e->tmp->data[pl] + (size_t)y * (size_t)e->tmp->linesize[pl];
                for (int x = 0; x < pw; x++)
                    dst[x] = lut[src[x]];
            }
        }
        p = e->tmp;
    }
    const uint8_t *planes[3] = { p->data[0], p->data[1], p->data[2] }, *jpg;
    int strides[3] = { p->linesize[0], p->linesize[1], p->linesize[2] };
    size_t jlen;
    if (vc_jpeg_encode420(e->jpeg, planes, strides, w, h, quality, &jpg, &jlen) < 0)
        return NULL;
    return vc_b64_encode(jpg, jlen, b64_len);
}

int vc_cap_framer_finish(vc_cap_framer *f, int64_t n, vc_cap_clip_frames *out, char *err, size_t errlen)
{
    if (plan(&f->c, f->width, f->height, n, out, err, errlen) < 0)
        return -1;
    if (out->nwindows == 0)
        return 0;
    if (f->failed) {
        snprintf(err, errlen, "cannot scale the clip's frames for captioning");
        return -1;
    }
    encoder e = { .jpeg = vc_jpeg_new() };
    if (!e.jpeg) {
        snprintf(err, errlen, "cannot start a JPEG encoder");
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < out->nwindows && rc == 0; i++) {
        vc_cap_window_frames *w = &out->w[i];
        w->b64 = vc_xcalloc((size_t)(w->nframes > 0 ? w->nframes : 1), sizeof(*w->b64));
        w->b64_len = vc_xcalloc((size_t)(w->nframes > 0 ? w->nframes : 1), sizeof(*w->b64_len));
        for (int k = 0; k < w->nframes; k++) {
            int64_t j = w->indices[k];
            if (j >= f->count || !f->proxy[j]) {
                snprintf(err, errlen, "caption frame %lld of the clip was not kept", (long long)j);
                rc = -1;
                break;
            }
            w->b64[k] = encode_frame(&e, f->proxy[j], w->width, w->height, f->c.jpeg_quality, &w->b64_len[k]);
            if (!w->b64[k]) {
                snprintf(err, errlen, "JPEG encoding failed: %s", vc_jpeg_error(e.jpeg));
                rc = -1;
                break;
            }
        }
    }
    av_frame_free(&e.tmp);
    free_plans(e.rs);
    vc_jpeg_free(e.jpeg);
    return rc;
}

void vc_cap_framer_free(vc_cap_framer *f)
{
    if (!f)
        return;
    /* to the pool, which then holds at most this framer's frames */
    int owned = f->held + f->nspare;
    for (int64_t i = 0; i < f->count; i++)
        release(f, f->proxy[i]);
    for (int i = 0; i < f->nspare; i++)
        release(f, f->spare[i]);
    if (f->pool)
        pool_trim(f->pool, owned);
    free(f->spare);
    free(f->proxy);
    free_plans(f->rs);
    sws_freeContext(f->sws);
    free(f);
}

void vc_cap_clip_frames_free(vc_cap_clip_frames *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nwindows; i++) {
        vc_cap_window_frames *w = &c->w[i];
        for (int k = 0; w->b64 && k < w->nframes; k++)
            free(w->b64[k]);
        free(w->b64);
        free(w->b64_len);
        free(w->indices);
    }
    free(c->w);
    memset(c, 0, sizeof(*c));
}
