/* Animated WebP previews with libwebp's WebPAnimEncoder. */
#include "video/preview.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include "util/common.h"
#include "video/swsconv.h"

/* Cosmos: -q:v 50 -compression_level 6 -lossless 0 */
#define VC_PREVIEW_QUALITY 50.0f
#define VC_PREVIEW_METHOD 6

struct vc_preview {
    int src_w, src_h, src_fmt;
    int out_w, out_h;
    AVRational src_fps, tgt_fps;
    struct SwsContext *sws;
    int sws_fmt;               /* what sws converts from */
    bool sws_full_range;
    AVFrame *yuv;
    WebPAnimEncoder *enc;
    WebPConfig config;
    int64_t next_index;
    int frames;
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

static int slot_ms(const vc_preview *p, int64_t slot)
{
    return (int)av_rescale(slot, 1000LL * p->tgt_fps.den, p->tgt_fps.num);
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

vc_preview *vc_preview_new(int src_w, int src_h, int src_pix_fmt, AVRational src_fps,
                           int target_height, double target_fps, char *err, size_t errlen)
{
    if (src_w <= 0 || src_h <= 0 || target_height <= 0 || target_height > 16384) {
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
    vc_preview *p = vc_xcalloc(1, sizeof(*p));
    p->src_w = src_w;
    p->src_h = src_h;
    p->src_fmt = src_pix_fmt;
    p->sws_fmt = AV_PIX_FMT_NONE;
    p->src_fps = src_fps;
    p->tgt_fps = av_d2q(target_fps, 1000000);
    p->out_h = target_height;
    p->out_w = (int)VC_MAX(1, av_rescale(target_height, src_w, src_h));   /* scale=-1:H */

    WebPAnimEncoderOptions opts;
    p->yuv = av_frame_alloc();
    if (!p->yuv || !WebPAnimEncoderOptionsInit(&opts) || !WebPConfigInit(&p->config)) {
        snprintf(err, errlen, "preview: libwebp initialisation failed");
        vc_preview_free(p);
        return NULL;
    }
    opts.anim_params.loop_count = 0;   /* -loop 0: forever */
    p->config.lossless = 0;
    p->config.quality = VC_PREVIEW_QUALITY;
    p->config.method = VC_PREVIEW_METHOD;
    p->yuv->format = AV_PIX_FMT_YUV420P;
    p->yuv->width = p->out_w;
    p->yuv->height = p->out_h;
    p->enc = WebPAnimEncoderNew(p->out_w, p->out_h, &opts);
    if (!WebPValidateConfig(&p->config) || !p->enc || av_frame_get_buffer(p->yuv, 0) < 0) {
        snprintf(err, errlen, "preview: cannot create a %dx%d WebP encoder", p->out_w, p->out_h);
        vc_preview_free(p);
        return NULL;
    }
    return p;
}

static int encode_frame(vc_preview *p, const AVFrame *f, int timestamp_ms)
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
    /* The encoder converts the picture to ARGB inside pic: free that after. */
    int ok = WebPAnimEncoderAdd(p->enc, &pic, timestamp_ms, &p->config);
    WebPPictureFree(&pic);
    if (!ok)
        return fail(p, AVERROR_EXTERNAL, "preview: WebP encoding failed: %s",
                    WebPAnimEncoderGetError(p->enc));
    p->frames++;
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
    int64_t slot = slot_of(p, index);
    if (slot_of(p, index + 1) <= slot)   /* a later frame owns this slot */
        return 0;
    return encode_frame(p, frame, slot_ms(p, slot));
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
    /* the end time fixes the last frame's duration */
    if (!WebPAnimEncoderAdd(p->enc, NULL, slot_ms(p, slot_of(p, p->next_index)), NULL))
        return fail(p, AVERROR_EXTERNAL, "preview: %s", WebPAnimEncoderGetError(p->enc));
    WebPData data;
    WebPDataInit(&data);
    if (!WebPAnimEncoderAssemble(p->enc, &data))
        return fail(p, AVERROR_EXTERNAL, "preview: %s", WebPAnimEncoderGetError(p->enc));
    *webp = vc_xmalloc(data.size);
    memcpy(*webp, data.bytes, data.size);
    *len = data.size;
    WebPDataClear(&data);
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
    if (p->enc)
        WebPAnimEncoderDelete(p->enc);
    sws_freeContext(p->sws);
    av_frame_free(&p->yuv);
    free(p);
}
