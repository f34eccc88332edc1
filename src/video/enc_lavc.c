/* H.264 through libavcodec: libx264, and h264_nvenc with Cosmos's options. */
#include "video/encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/opt.h>

#include "util/common.h"

typedef struct lavc_enc {
    vc_h264_enc base;
    AVCodecContext *ctx;
} lavc_enc;

static void set_av_err(vc_h264_enc *e, const char *what, int ret)
{
    char msg[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(ret, msg, sizeof(msg));
    snprintf(e->err, sizeof(e->err), "%s: %s", what, msg);
}

static int lavc_send(vc_h264_enc *base, const AVFrame *frame)
{
    lavc_enc *s = (lavc_enc *)base;
    int ret = avcodec_send_frame(s->ctx, frame);
    if (ret < 0)
        set_av_err(base, s->ctx->codec->name, ret);
    return ret;
}

static int lavc_receive(vc_h264_enc *base, AVPacket *pkt)
{
    lavc_enc *s = (lavc_enc *)base;
    int ret = avcodec_receive_packet(s->ctx, pkt);
    if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
        set_av_err(base, s->ctx->codec->name, ret);
    return ret;
}

static void lavc_close(vc_h264_enc *base)
{
    lavc_enc *s = (lavc_enc *)base;
    avcodec_free_context(&s->ctx);
    av_freep(&base->extradata);
    free(s);
}

/* Cosmos's h264_nvenc command line: -rc:v vbr -cq:v 21 -tune hq
 * -b_ref_mode middle -temporal-aq 1 -rc-lookahead 20 -spatial-aq 1 */
static int set_nvenc_options(AVCodecContext *ctx)
{
    static const char *const opts[][2] = {
        { "rc", "vbr" }, { "cq", "21" }, { "tune", "hq" }, { "b_ref_mode", "middle" },
        { "temporal-aq", "1" }, { "rc-lookahead", "20" }, { "spatial-aq", "1" },
    };
    for (size_t i = 0; i < VC_ARRAY_LEN(opts); i++) {
        int ret = av_opt_set(ctx->priv_data, opts[i][0], opts[i][1], 0);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static void describe_open_failure(const char *codec_name, int ret, char *err, size_t errlen)
{
    char msg[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(ret, msg, sizeof(msg));
    if (strcmp(codec_name, "h264_nvenc") == 0)
        snprintf(err, errlen, "h264_nvenc cannot be opened (%s): it needs an NVIDIA GPU with NVENC "
                 "(H100/H200 have none), the driver's libcuda and libnvidia-encode", msg);
    else
        snprintf(err, errlen, "%s cannot be opened: %s", codec_name, msg);
}

vc_h264_enc *vc_h264_lavc_open(const char *codec_name, const vc_h264_params *p,
                               char *err, size_t errlen)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(codec_name);
    if (!codec) {
        snprintf(err, errlen, "encoder %s is not available in this libavcodec build", codec_name);
        return NULL;
    }
    lavc_enc *s = vc_xcalloc(1, sizeof(*s));
    s->base.send = lavc_send;
    s->base.receive = lavc_receive;
    s->base.close = lavc_close;
    s->ctx = avcodec_alloc_context3(codec);
    if (!s->ctx) {
        snprintf(err, errlen, "%s: out of memory", codec_name);
        lavc_close(&s->base);
        return NULL;
    }
    AVCodecContext *c = s->ctx;
    c->width = p->width;
    c->height = p->height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = p->time_base;
    c->framerate = p->frame_rate;
    c->bit_rate = p->bit_rate;
    c->gop_size = p->gop > 0 ? p->gop : -1;   /* -1: the encoder's own default */
    c->thread_count = p->threads;
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  /* SPS/PPS in extradata for the avcC */

    int ret = 0;
    if (strcmp(codec_name, "libx264") == 0)
        ret = av_opt_set(c->priv_data, "preset", p->x264_preset ? p->x264_preset : "veryfast", 0);
    else if (strcmp(codec_name, "h264_nvenc") == 0)
        ret = set_nvenc_options(c);
    /* pict_type I on a frame gives an IDR, not an open-GOP I frame. */
    if (ret >= 0 && p->forced_idr)
        ret = av_opt_set(c->priv_data, "forced-idr", "1", 0);
    if (ret < 0) {
        snprintf(err, errlen, "%s: invalid option (preset \"%s\"?)", codec_name,
                 p->x264_preset ? p->x264_preset : "");
        lavc_close(&s->base);
        return NULL;
    }
    ret = avcodec_open2(c, codec, NULL);
    if (ret < 0) {
        describe_open_failure(codec_name, ret, err, errlen);
        lavc_close(&s->base);
        return NULL;
    }
    if (c->extradata_size > 0) {
        s->base.extradata = av_mallocz((size_t)c->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!s->base.extradata) {
            snprintf(err, errlen, "%s: out of memory", codec_name);
            lavc_close(&s->base);
            return NULL;
        }
        memcpy(s->base.extradata, c->extradata, (size_t)c->extradata_size);
        s->base.extradata_size = c->extradata_size;
    }
    return &s->base;
}
