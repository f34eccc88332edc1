/* AVFrame -> small BGR24 image (~256 px on the longest side).
 *
 * Why hand-written instead of sws_scale: the detector must cost well under a
 * millisecond per 1080p frame, and sws_scale's downscaling filters read every
 * source pixel (its converting to BGR first would touch 6 MB per frame). We
 * only need what PySceneDetect computes, cv2.resize(INTER_LINEAR) of the
 * decoded frame, and for a downscale INTER_LINEAR is a plain bilinear sample
 * at src = (dst + 0.5) * scale - 0.5: 4 reads per output pixel and plane.
 * So each YUV plane is sampled bilinearly straight from the decoder's buffer
 * (256x144 outputs: ~150k reads instead of 3M), and only the small result is
 * converted to BGR (BT.601, the matrix FFmpeg/OpenCV use when none is forced;
 * full range for yuvj* / JPEG-range frames). Since both the resize and the
 * matrix are linear, this equals convert-then-resize up to rounding.
 * Any YUV/gray layout libavcodec emits (planar, NV12/NV21, packed 4:2:2,
 * 8..16 bit little-endian) goes through this path via the pixel-format
 * descriptor; anything else (RGB, palette, big-endian) falls back to sws_scale
 * straight to the small BGR24 size. */
#include "detect/frame_sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/frame.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "util/common.h"

/* One bilinear axis: for each output index, two source offsets and a weight. */
typedef struct axis {
    int *off0, *off1;   /* element offsets (x: bytes incl. step/offset; y: rows) */
    float *w;           /* weight of off1 */
} axis;

struct vc_sampler {
    int dw, dh;
    int src_w, src_h, src_fmt;       /* what the tables below were built for */
    bool fast;                       /* descriptor path usable */
    const AVPixFmtDescriptor *desc;
    int ncomp;                       /* 1 (gray) or 3 */
    axis x[3], y[3];                 /* per component */
    float *plane[3];                 /* sampled components, 8-bit scale */
    struct SwsContext *sws;
};

void vc_small_size(int w, int h, int *sw, int *sh)
{
    int m = w > h ? w : h;
    if (m < 256 || w <= 0 || h <= 0) {
        *sw = w > 0 ? w : 1;
        *sh = h > 0 ? h : 1;
        return;
    }
    double f = m / 256.0;
    *sw = (int)lround(w / f);
    *sh = (int)lround(h / f);
    if (*sw < 1) *sw = 1;
    if (*sh < 1) *sh = 1;
}

vc_sampler *vc_sampler_new(int dst_w, int dst_h)
{
    vc_sampler *s = vc_xcalloc(1, sizeof *s);
    s->dw = dst_w;
    s->dh = dst_h;
    s->src_fmt = -1;
    for (int c = 0; c < 3; c++) {
        s->x[c].off0 = vc_xmalloc(sizeof(int) * (size_t)dst_w);
        s->x[c].off1 = vc_xmalloc(sizeof(int) * (size_t)dst_w);
        s->x[c].w = vc_xmalloc(sizeof(float) * (size_t)dst_w);
        s->y[c].off0 = vc_xmalloc(sizeof(int) * (size_t)dst_h);
        s->y[c].off1 = vc_xmalloc(sizeof(int) * (size_t)dst_h);
        s->y[c].w = vc_xmalloc(sizeof(float) * (size_t)dst_h);
        s->plane[c] = vc_xmalloc(sizeof(float) * (size_t)dst_w * (size_t)dst_h);
    }
    return s;
}

void vc_sampler_free(vc_sampler *s)
{
    if (!s)
        return;
    for (int c = 0; c < 3; c++) {
        free(s->x[c].off0); free(s->x[c].off1); free(s->x[c].w);
        free(s->y[c].off0); free(s->y[c].off1); free(s->y[c].w);
        free(s->plane[c]);
    }
    sws_freeContext(s->sws);
    free(s);
}

/* OpenCV INTER_LINEAR source coordinates for n outputs over a src-sample axis. */
static void build_axis(axis *a, int n, int src, int step, int offset)
{
    double scale = (double)src / n;
    for (int i = 0; i < n; i++) {
        double sx = (i + 0.5) * scale - 0.5;
        int x0 = (int)floor(sx);
        float w = (float)(sx - x0);
        if (x0 < 0) {
            x0 = 0;
            w = 0;
        }
        if (x0 >= src - 1) {
            x0 = src - 1;
            w = 0;
        }
        int x1 = x0 + 1 < src ? x0 + 1 : x0;
        a->off0[i] = x0 * step + offset;
        a->off1[i] = x1 * step + offset;
        a->w[i] = w;
    }
}

static bool fast_path_ok(const AVPixFmtDescriptor *d)
{
    if (!d || (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BE |
                           AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL |
                           AV_PIX_FMT_FLAG_FLOAT)))
        return false;
    int n = d->nb_components >= 3 ? 3 : 1;
    for (int c = 0; c < n; c++)
        if (d->comp[c].depth < 8 || d->comp[c].depth > 16)
            return false;
    return true;
}

static void setup(vc_sampler *s, const AVFrame *f)
{
    s->src_w = f->width;
    s->src_h = f->height;
    s->src_fmt = f->format;
    s->desc = av_pix_fmt_desc_get(f->format);
    s->fast = fast_path_ok(s->desc);
    if (!s->fast)
        return;
    s->ncomp = s->desc->nb_components >= 3 ? 3 : 1;
    for (int c = 0; c < s->ncomp; c++) {
        const AVComponentDescriptor *cd = &s->desc->comp[c];
        int cw = c ? AV_CEIL_RSHIFT(f->width, s->desc->log2_chroma_w) : f->width;
        int ch = c ? AV_CEIL_RSHIFT(f->height, s->desc->log2_chroma_h) : f->height;
        build_axis(&s->x[c], s->dw, cw, cd->step, cd->offset);
        build_axis(&s->y[c], s->dh, ch, 1, 0);
    }
}

static void sample_plane8(const vc_sampler *s, const AVFrame *f, int c)
{
    const AVComponentDescriptor *cd = &s->desc->comp[c];
    const uint8_t *base = f->data[cd->plane];
    ptrdiff_t ls = f->linesize[cd->plane];
    const axis *ax = &s->x[c], *ay = &s->y[c];
    float *out = s->plane[c];
    for (int j = 0; j < s->dh; j++) {
        const uint8_t *r0 = base + ay->off0[j] * ls, *r1 = base + ay->off1[j] * ls;
        float wy = ay->w[j];
        for (int i = 0; i < s->dw; i++) {
            int a = ax->off0[i], b = ax->off1[i];
            float wx = ax->w[i];
            float top = r0[a] + wx * (float)(r0[b] - r0[a]);
            float bot = r1[a] + wx * (float)(r1[b] - r1[a]);
            *out++ = top + wy * (bot - top);
        }
    }
}

static void sample_plane16(const vc_sampler *s, const AVFrame *f, int c)
{
    const AVComponentDescriptor *cd = &s->desc->comp[c];
    const uint8_t *base = f->data[cd->plane];
    ptrdiff_t ls = f->linesize[cd->plane];
    const axis *ax = &s->x[c], *ay = &s->y[c];
    float norm = 1.0f / (float)(1 << (cd->depth - 8));
    int sh = cd->shift;
    float *out = s->plane[c];
    for (int j = 0; j < s->dh; j++) {
        const uint8_t *r0 = base + ay->off0[j] * ls, *r1 = base + ay->off1[j] * ls;
        float wy = ay->w[j];
        for (int i = 0; i < s->dw; i++) {
            int a = ax->off0[i], b = ax->off1[i];
            float wx = ax->w[i];
            float p00 = (float)(AV_RL16(r0 + a) >> sh), p01 = (float)(AV_RL16(r0 + b) >> sh);
            float p10 = (float)(AV_RL16(r1 + a) >> sh), p11 = (float)(AV_RL16(r1 + b) >> sh);
            float top = p00 + wx * (p01 - p00);
            float bot = p10 + wx * (p11 - p10);
            *out++ = (top + wy * (bot - top)) * norm;
        }
    }
}

static inline uint8_t clamp_u8(float v)
{
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)(v + 0.5f);
}

static bool is_full_range(const AVFrame *f)
{
    switch (f->format) {
    case AV_PIX_FMT_YUVJ420P: case AV_PIX_FMT_YUVJ422P: case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P: case AV_PIX_FMT_YUVJ411P:
        return true;
    default:
        return f->color_range == AVCOL_RANGE_JPEG;
    }
}

static void yuv_to_bgr(const vc_sampler *s, const AVFrame *f, uint8_t *bgr)
{
    size_t n = (size_t)s->dw * (size_t)s->dh;
    const float *Y = s->plane[0];
    if (s->ncomp == 1) {
        for (size_t i = 0; i < n; i++)
            bgr[3 * i] = bgr[3 * i + 1] = bgr[3 * i + 2] = clamp_u8(Y[i]);
        return;
    }
    const float *U = s->plane[1], *V = s->plane[2];
    /* BT.601: limited range scales Y by 255/219 and chroma by 255/224. */
    bool full = is_full_range(f);
    float ky = full ? 1.0f : 255.0f / 219.0f, y0 = full ? 0.0f : 16.0f;
    float kc = full ? 1.0f : 255.0f / 224.0f;
    float rv = 1.402f * kc, gu = -0.344136f * kc, gv = -0.714136f * kc, bu = 1.772f * kc;
    for (size_t i = 0; i < n; i++) {
        float y = (Y[i] - y0) * ky, u = U[i] - 128.0f, v = V[i] - 128.0f;
        bgr[3 * i] = clamp_u8(y + bu * u);
        bgr[3 * i + 1] = clamp_u8(y + gu * u + gv * v);
        bgr[3 * i + 2] = clamp_u8(y + rv * v);
    }
}

static int run_sws(vc_sampler *s, const AVFrame *f, uint8_t *bgr)
{
    s->sws = sws_getCachedContext(s->sws, f->width, f->height, f->format, s->dw, s->dh,
                                  AV_PIX_FMT_BGR24, SWS_BILINEAR, NULL, NULL, NULL);
    if (!s->sws)
        return AVERROR(ENOSYS);
    uint8_t *dst[4] = { bgr, NULL, NULL, NULL };
    int dls[4] = { s->dw * 3, 0, 0, 0 };
    int r = sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dls);
    return r > 0 ? 0 : AVERROR(EINVAL);
}

int vc_sampler_run(vc_sampler *s, const AVFrame *f, uint8_t *bgr)
{
    if (!f || f->width <= 0 || f->height <= 0 || !f->data[0])
        return AVERROR(EINVAL);
    if (f->width != s->src_w || f->height != s->src_h || f->format != s->src_fmt)
        setup(s, f);
    if (!s->fast)
        return run_sws(s, f, bgr);
    for (int c = 0; c < s->ncomp; c++) {
        if (s->desc->comp[c].depth > 8)
            sample_plane16(s, f, c);
        else
            sample_plane8(s, f, c);
    }
    yuv_to_bgr(s, f, bgr);
    return 0;
}
