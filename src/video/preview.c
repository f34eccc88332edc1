/* Animated WebP previews, built the way Cosmos's ffmpeg command builds
 * them so the files come out the same: each picked frame is encoded on its
 * own by libwebp (WebPEncode on the scaled yuv420p picture, as FFmpeg's
 * "libwebp" encoder does) and the frames are wrapped in VP8X/ANIM/ANMF
 * chunks exactly as FFmpeg's webp muxer writes them. */
#include "video/preview.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/intreadwrite.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <webp/encode.h>

#include "util/common.h"
#include "video/swsconv.h"

/* Cosmos: -q:v 50 -compression_level 6 -lossless 0 */
#define VC_PREVIEW_QUALITY 50.0f
#define VC_PREVIEW_METHOD 6

struct vc_preview {
    int src_w, src_h;
    int out_w, out_h;
    AVRational src_fps, tgt_fps;
    struct SwsContext *sws;
    int sws_fmt;               /* what sws converts from */
    bool sws_full_range;
    AVFrame *yuv;
    WebPConfig config;
    vc_buf file;               /* the WebP file so far */
    uint8_t *last;             /* last encoded frame, written once the next pts is known */
    size_t last_len;
    int64_t last_pts_ms;
    int64_t next_index;
    int frames;                /* frames muxed (FFmpeg's frame_count) */
    int failed;
    char err[256];
};

__attribute__((format(printf, 3, 4)))
static int fail(vc_preview *p, int code, const char *fmt, ...)
{
    if (p->failed)
        return p->failed;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof(p->err), fmt, ap);
    va_end(ap);
    p->failed = code;
    return code;
}

/* Output slot of source frame i: FFmpeg's fps filter rounds each input
 * timestamp to the output time base, halves away from zero. */
static int64_t slot_of(const vc_preview *p, int64_t i)
{
    return av_rescale_rnd(i, (int64_t)p->src_fps.den * p->tgt_fps.num,
                          (int64_t)p->src_fps.num * p->tgt_fps.den, AV_ROUND_NEAR_INF);
}

static int ensure_sws(vc_preview *p, const AVFrame *f)
{
    bool full = vc_frame_full_range(f);
    if (p->sws && f->format == p->sws_fmt && full == p->sws_full_range)
        return 0;
    sws_freeContext(p->sws);
    p->sws = vc_sws_to_yuv420p(p->src_w, p->src_h, f->format, full, p->out_w, p->out_h);
    if (!p->sws)
        return fail(p, AVERROR(EINVAL), "preview: cannot scale %s frames",
                    av_get_pix_fmt_name(f->format));
    p->sws_fmt = f->format;
    p->sws_full_range = full;
    return 0;
}

/* Milliseconds of output slot `slot` (the fps filter's time base is
 * 1/target_fps; the webp muxer's is 1/1000). */
static int64_t slot_ms(const vc_preview *p, int64_t slot)
{
    return av_rescale_q(slot, av_inv_q(p->tgt_fps), (AVRational){ 1, 1000 });
}

vc_preview *vc_preview_new(int src_w, int src_h, int src_pix_fmt, AVRational src_fps,
                           int target_height, double target_fps, char *err, size_t errlen)
{
    if (src_w <= 0 || src_h <= 0 || target_height <= 0 || target_height > WEBP_MAX_DIMENSION) {
        snprintf(err, errlen, "preview: bad size %dx%d -> height %d", src_w, src_h, target_height);
        return NULL;
    }
    if (src_fps.num <= 0 || src_fps.den <= 0 || !(target_fps > 0.0) || target_fps > 1000.0) {
        snprintf(err, errlen, "preview: bad frame rates %d/%d -> %g", src_fps.num, src_fps.den, target_fps);
        return NULL;
    }
    if (!av_pix_fmt_desc_get(src_pix_fmt)) {
        snprintf(err, errlen, "preview: unknown pixel format %d", src_pix_fmt);
        return NULL;
    }
    int64_t out_w = av_rescale(target_height, src_w, src_h);   /* scale=-1:H */
    if (out_w < 1 || out_w > WEBP_MAX_DIMENSION) {
        snprintf(err, errlen, "preview: %dx%d scaled to height %d is %lld wide", src_w, src_h,
                 target_height, (long long)out_w);
        return NULL;
    }
    vc_preview *p = vc_xcalloc(1, sizeof(*p));
    p->src_w = src_w;
    p->src_h = src_h;
    p->sws_fmt = AV_PIX_FMT_NONE;
    p->src_fps = src_fps;
    p->tgt_fps = av_d2q(target_fps, 1000000);
    p->out_h = target_height;
    p->out_w = (int)out_w;
    p->yuv = av_frame_alloc();
    if (!p->yuv || !WebPConfigInit(&p->config)) {
        snprintf(err, errlen, "preview: libwebp initialisation failed");
        vc_preview_free(p);
        return NULL;
    }
    p->config.lossless = 0;
    p->config.quality = VC_PREVIEW_QUALITY;
    p->config.method = VC_PREVIEW_METHOD;
    p->yuv->format = AV_PIX_FMT_YUV420P;
    p->yuv->width = p->out_w;
    p->yuv->height = p->out_h;
    if (!WebPValidateConfig(&p->config) || av_frame_get_buffer(p->yuv, 0) < 0) {
        snprintf(err, errlen, "preview: cannot set up a %dx%d WebP encoder", p->out_w, p->out_h);
        vc_preview_free(p);
        return NULL;
    }
    return p;
}

static void put_le(vc_buf *b, uint32_t v, int bytes)
{
    uint8_t tmp[4];
    for (int i = 0; i < bytes; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    vc_buf_append(b, tmp, (size_t)bytes);
}

static void put_tag(vc_buf *b, const char *tag)
{
    vc_buf_append(b, tag, 4);
}

/* FFmpeg's webp muxer, flush(): writes the pending frame; the file header,
 * VP8X and ANIM come with the first frame of an animation, and a single
 * frame stays a still image. pts_ms < 0: end of stream. Returns true when
 * it wrote a complete still image (RIFF size already set). */
static bool mux_flush(vc_preview *p, bool trailer, int64_t pts_ms)
{
    if (!p->last)
        return false;
    const uint8_t *d = p->last;
    size_t skip = 0;
    unsigned flags = 0;
    bool vp8x = false, writing_header = false;
    if (p->last_len >= 12 && memcmp(d, "RIFF", 4) == 0)
        skip = 12;
    if (p->last_len >= skip + 9 && memcmp(d + skip, "VP8X", 4) == 0) {
        flags |= d[skip + 8];
        vp8x = true;
        skip += AV_RL32(d + skip + 4) + 8;
    }
    if (p->file.len == 0) {
        put_tag(&p->file, "RIFF");
        put_le(&p->file, 0, 4);   /* patched at the end */
        put_tag(&p->file, "WEBP");
        writing_header = true;
    }
    if (p->frames == 1) {
        if (!trailer) {
            vp8x = true;
            flags |= 2 + 16;   /* animation (+ alpha, as FFmpeg sets it) */
        }
        if (vp8x) {
            put_tag(&p->file, "VP8X");
            put_le(&p->file, 10, 4);
            put_le(&p->file, flags, 1);
            put_le(&p->file, 0, 3);
            put_le(&p->file, (uint32_t)p->out_w - 1, 3);
            put_le(&p->file, (uint32_t)p->out_h - 1, 3);
        }
        if (!trailer) {
            put_tag(&p->file, "ANIM");
            put_le(&p->file, 6, 4);
            put_le(&p->file, 0xFFFFFFFFu, 4);   /* background colour */
            put_le(&p->file, 0, 2);             /* loop count: 0 = forever (-loop 0) */
        }
    }
    if (p->frames > (trailer ? 1 : 0)) {
        int64_t duration = pts_ms >= 0 ? pts_ms - p->last_pts_ms : slot_ms(p, 1);
        put_tag(&p->file, "ANMF");
        put_le(&p->file, (uint32_t)(16 + p->last_len - skip), 4);
        put_le(&p->file, 0, 3);
        put_le(&p->file, 0, 3);
        put_le(&p->file, (uint32_t)p->out_w - 1, 3);
        put_le(&p->file, (uint32_t)p->out_h - 1, 3);
        put_le(&p->file, (uint32_t)duration, 3);
        put_le(&p->file, 0, 1);
    }
    if (trailer && writing_header)
        AV_WL32(p->file.data + 4, (uint32_t)(p->file.len - 8 + p->last_len - skip));
    vc_buf_append(&p->file, d + skip, p->last_len - skip);
    free(p->last);
    p->last = NULL;
    p->last_len = 0;
    return trailer && writing_header;
}

/* FFmpeg's webp muxer, write_packet(). Takes `data`. */
static void mux_frame(vc_preview *p, uint8_t *data, size_t len, int64_t pts_ms)
{
    mux_flush(p, false, pts_ms);
    p->last = data;
    p->last_len = len;
    p->last_pts_ms = pts_ms;
    p->frames++;
}

/* Scale and encode one frame to a standalone WebP image (malloc'd). */
static int encode_frame(vc_preview *p, const AVFrame *f, uint8_t **out, size_t *out_len)
{
    int ret = ensure_sws(p, f);
    if (ret < 0)
        return ret;
    sws_scale(p->sws, (const uint8_t *const *)f->data, f->linesize, 0, p->src_h,
              p->yuv->data, p->yuv->linesize);
    WebPPicture pic;
    if (!WebPPictureInit(&pic))
        return fail(p, AVERROR_EXTERNAL, "preview: libwebp version mismatch");
    pic.use_argb = 0;
    pic.colorspace = WEBP_YUV420;
    pic.width = p->out_w;
    pic.height = p->out_h;
    pic.y = p->yuv->data[0];
    pic.u = p->yuv->data[1];
    pic.v = p->yuv->data[2];
    pic.y_stride = p->yuv->linesize[0];
    pic.uv_stride = p->yuv->linesize[1];
    WebPMemoryWriter mw;
    WebPMemoryWriterInit(&mw);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &mw;
    int ok = WebPEncode(&p->config, &pic);
    int code = pic.error_code;
    WebPPictureFree(&pic);
    if (!ok) {
        WebPMemoryWriterClear(&mw);
        return fail(p, AVERROR_EXTERNAL, "preview: WebP encoding failed (libwebp error %d)", code);
    }
    *out = vc_xmalloc(mw.size);
    memcpy(*out, mw.mem, mw.size);
    *out_len = mw.size;
    WebPMemoryWriterClear(&mw);
    return 0;
}

int vc_preview_add(vc_preview *p, const AVFrame *frame, int64_t index)
{
    if (p->failed)
        return p->failed;
    if (index != p->next_index)
        return fail(p, AVERROR(EINVAL), "preview: frame index %lld given, %lld expected",
                    (long long)index, (long long)p->next_index);
    if (frame->width != p->src_w || frame->height != p->src_h)
        return fail(p, AVERROR(EINVAL), "preview: frame size %dx%d, %dx%d expected",
                    frame->width, frame->height, p->src_w, p->src_h);
    p->next_index++;
    int64_t slot = slot_of(p, index), next = slot_of(p, index + 1);
    if (next <= slot)   /* a later frame owns this slot */
        return 0;
    uint8_t *img;
    size_t len;
    int ret = encode_frame(p, frame, &img, &len);
    if (ret < 0)
        return ret;
    /* a source slower than the target fills several slots: the fps filter
     * repeats the frame, and the encoder gives the same bytes each time */
    for (int64_t s = slot; s < next; s++) {
        uint8_t *copy = img;
        if (s + 1 < next) {
            copy = vc_xmalloc(len);
            memcpy(copy, img, len);
        }
        mux_frame(p, copy, len, slot_ms(p, s));
    }
    return 0;
}

int vc_preview_skip(vc_preview *p, int64_t index)
{
    if (p->failed)
        return p->failed;
    for (int64_t i = p->next_index; i < index; i++)
        if (slot_of(p, i + 1) > slot_of(p, i))
            return fail(p, AVERROR(EINVAL), "preview: frame %lld skipped but the sampling shows it", (long long)i);
    if (index > p->next_index)
        p->next_index = index;
    return 0;
}

int vc_preview_finish(vc_preview *p, uint8_t **webp, size_t *len)
{
    *webp = NULL;
    *len = 0;
    if (p->failed)
        return p->failed;
    if (p->frames == 0)
        return fail(p, AVERROR(EINVAL), "preview: window of %lld frames is too short for %d/%d fps",
                    (long long)p->next_index, p->tgt_fps.num, p->tgt_fps.den);
    if (!mux_flush(p, true, -1))
        AV_WL32(p->file.data + 4, (uint32_t)(p->file.len - 8));
    *webp = p->file.data;
    *len = p->file.len;
    memset(&p->file, 0, sizeof(p->file));
    return 0;
}

const char *vc_preview_error(const vc_preview *p)
{
    return p->err;
}

int vc_preview_frame_count(const vc_preview *p)
{
    return p->frames;
}

void vc_preview_free(vc_preview *p)
{
    if (!p)
        return;
    sws_freeContext(p->sws);
    av_frame_free(&p->yuv);
    vc_buf_free(&p->file);
    free(p->last);
    free(p);
}
