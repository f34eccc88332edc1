/* H.264 through openh264's own C API (FFmpeg here is built without it).
 * Settings follow FFmpeg's libopenh264 wrapper, which is what Cosmos runs
 * (`-c:v libopenh264 -b:v 4M`): constrained baseline (CAVLC), an IDR every
 * `gop` frames, quality rate control at the bit rate, no frame skipping,
 * LOW_COMPLEXITY (the library's default and its fastest mode). */
#include "video/encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/mathematics.h>
#include <wels/codec_api.h>

#include "util/common.h"
#include "util/log.h"

/* openh264 clamps the rate-control frame rate to this range. */
#define OH264_MIN_FPS 1.0f
#define OH264_MAX_FPS 60.0f

typedef struct oh264_enc {
    vc_h264_enc base;
    ISVCEncoder *enc;
    AVPacket *pending;      /* openh264 returns exactly one access unit per frame */
    bool has_pending, flushed;
} oh264_enc;

static void oh264_trace(void *ctx, int level, const char *msg)
{
    oh264_enc *s = ctx;
    if (level <= WELS_LOG_ERROR) {
        snprintf(s->base.err, sizeof(s->base.err), "openh264: %s", msg);
        size_t n = strlen(s->base.err);
        while (n && (s->base.err[n - 1] == '\n' || s->base.err[n - 1] == '\r'))
            s->base.err[--n] = '\0';
    }
    vc_debug("openh264: %s", msg);
}

static int nal_start_code_len(const uint8_t *p, int len)
{
    if (len >= 4 && p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 1)
        return 4;
    if (len >= 3 && p[0] == 0 && p[1] == 0 && p[2] == 1)
        return 3;
    return 0;
}

/* SPS/PPS go to extradata once (CONSTANT_ID keeps them identical), so they are
 * dropped from IDR access units as FFmpeg's wrapper does with global headers. */
static bool nal_is_parameter_set(const uint8_t *p, int len)
{
    int sc = nal_start_code_len(p, len);
    if (sc == 0 || sc >= len)
        return false;
    int type = p[sc] & 0x1f;
    return type == 7 || type == 8;
}

/* Calls fn(nal, len, opaque) for every NAL of every layer. */
static void for_each_nal(const SFrameBSInfo *bs, void (*fn)(const uint8_t *, int, void *), void *opaque)
{
    for (int l = 0; l < bs->iLayerNum; l++) {
        const SLayerBSInfo *layer = &bs->sLayerInfo[l];
        const uint8_t *p = layer->pBsBuf;
        for (int i = 0; i < layer->iNalCount; i++) {
            fn(p, layer->pNalLengthInByte[i], opaque);
            p += layer->pNalLengthInByte[i];
        }
    }
}

typedef struct nal_sink {
    uint8_t *dst;      /* NULL: only count */
    int size;
    bool keep_param_sets;
} nal_sink;

static void nal_collect(const uint8_t *nal, int len, void *opaque)
{
    nal_sink *s = opaque;
    if (!s->keep_param_sets && nal_is_parameter_set(nal, len))
        return;
    if (s->dst)
        memcpy(s->dst + s->size, nal, (size_t)len);
    s->size += len;
}

static int oh264_send(vc_h264_enc *base, const AVFrame *frame)
{
    oh264_enc *s = (oh264_enc *)base;
    if (!frame) {
        s->flushed = true;
        return 0;
    }
    if (s->has_pending) {
        snprintf(base->err, sizeof(base->err), "openh264: packet not received before next frame");
        return AVERROR_BUG;
    }
    SSourcePicture pic;
    memset(&pic, 0, sizeof(pic));
    pic.iColorFormat = videoFormatI420;
    pic.iPicWidth = frame->width;
    pic.iPicHeight = frame->height;
    for (int i = 0; i < 3; i++) {
        pic.iStride[i] = frame->linesize[i];
        pic.pData[i] = frame->data[i];
    }
    /* A forced keyframe (window starts of the predict2 dataset) is an IDR. */
    if (frame->pict_type == AV_PICTURE_TYPE_I)
        (*s->enc)->ForceIntraFrame(s->enc, true);
    SFrameBSInfo bs;
    memset(&bs, 0, sizeof(bs));
    int rv = (*s->enc)->EncodeFrame(s->enc, &pic, &bs);
    if (rv != cmResultSuccess) {
        if (!base->err[0])
            snprintf(base->err, sizeof(base->err), "openh264: EncodeFrame failed (%d)", rv);
        return AVERROR_EXTERNAL;
    }
    /* Frame skipping is off, so a skipped frame would silently change the
     * clip's frame count: treat it as an error rather than hide it. */
    if (bs.eFrameType == videoFrameTypeSkip || bs.eFrameType == videoFrameTypeInvalid) {
        snprintf(base->err, sizeof(base->err), "openh264: encoder %s a frame",
                 bs.eFrameType == videoFrameTypeSkip ? "skipped" : "rejected");
        return AVERROR_EXTERNAL;
    }
    nal_sink count = { NULL, 0, false };
    for_each_nal(&bs, nal_collect, &count);
    int ret = av_new_packet(s->pending, count.size);
    if (ret < 0)
        return ret;
    nal_sink copy = { s->pending->data, 0, false };
    for_each_nal(&bs, nal_collect, &copy);
    s->pending->pts = s->pending->dts = frame->pts;   /* no B-frames: dts == pts */
    if (bs.eFrameType == videoFrameTypeIDR)
        s->pending->flags |= AV_PKT_FLAG_KEY;
    s->has_pending = true;
    return 0;
}

static int oh264_receive(vc_h264_enc *base, AVPacket *pkt)
{
    oh264_enc *s = (oh264_enc *)base;
    if (s->has_pending) {
        av_packet_move_ref(pkt, s->pending);
        s->has_pending = false;
        return 0;
    }
    return s->flushed ? AVERROR_EOF : AVERROR(EAGAIN);
}

static void oh264_close(vc_h264_enc *base)
{
    oh264_enc *s = (oh264_enc *)base;
    if (s->enc) {
        (*s->enc)->Uninitialize(s->enc);
        WelsDestroySVCEncoder(s->enc);
    }
    av_packet_free(&s->pending);
    av_freep(&base->extradata);
    free(s);
}

static void oh264_fill_params(SEncParamExt *prm, const vc_h264_params *p)
{
    float fps = (float)av_q2d(p->frame_rate);
    fps = fps < OH264_MIN_FPS ? OH264_MIN_FPS : fps > OH264_MAX_FPS ? OH264_MAX_FPS : fps;
    int bitrate = (int)VC_MIN(p->bit_rate, (int64_t)INT32_MAX);

    prm->iUsageType = CAMERA_VIDEO_REAL_TIME;
    prm->iPicWidth = p->width;
    prm->iPicHeight = p->height;
    prm->iTargetBitrate = bitrate;
    prm->iMaxBitrate = bitrate;
    /* FFmpeg's wrapper defaults to quality mode, so that is what Cosmos's
     * `-b:v 4M` runs; on 1080p film it gave the same rate as
     * RC_BITRATE_MODE (3.85 vs 3.83 Mb/s) at +0.16 dB PSNR and equal speed. */
    prm->iRCMode = RC_QUALITY_MODE;
    prm->fMaxFrameRate = fps;
    prm->iTemporalLayerNum = 1;
    prm->iSpatialLayerNum = 1;
    prm->iComplexityMode = LOW_COMPLEXITY;        /* fastest; the library default */
    prm->uiIntraPeriod = (unsigned)p->gop;
    prm->eSpsPpsIdStrategy = CONSTANT_ID;         /* one SPS/PPS pair for the avcC */
    prm->bPrefixNalAddingCtrl = false;
    prm->iEntropyCodingModeFlag = 0;              /* CAVLC, constrained baseline like FFmpeg's default */
    prm->bEnableFrameSkip = false;                /* frame count must be exact */
    prm->bEnableDenoise = false;
    prm->bEnableBackgroundDetection = true;
    prm->bEnableAdaptiveQuant = true;
    prm->bEnableLongTermReference = false;
    prm->iLoopFilterDisableIdc = 0;
    prm->iMultipleThreadIdc = (unsigned short)VC_MAX(p->threads, 0);
    /* Slice sizes follow the threads' actual speed: up to 1.5x faster on a
     * busy machine, but the bytes then differ between runs when threads != 1. */
    prm->bUseLoadBalancing = true;

    SSpatialLayerConfig *layer = &prm->sSpatialLayers[0];
    layer->iVideoWidth = p->width;
    layer->iVideoHeight = p->height;
    layer->fFrameRate = fps;
    layer->iSpatialBitrate = bitrate;
    layer->iMaxSpatialBitrate = bitrate;
    /* Threads in openh264 work on slices: one slice per thread, or one
     * slice per core when the thread count is automatic. */
    layer->sSliceArgument.uiSliceMode = p->threads == 1 ? SM_SINGLE_SLICE : SM_FIXEDSLCNUM_SLICE;
    layer->sSliceArgument.uiSliceNum = p->threads == 1 ? 1 : (unsigned)VC_MAX(p->threads, 0);
}

static int oh264_set_extradata(oh264_enc *s)
{
    SFrameBSInfo bs;
    memset(&bs, 0, sizeof(bs));
    if ((*s->enc)->EncodeParameterSets(s->enc, &bs) != cmResultSuccess)
        return AVERROR_EXTERNAL;
    nal_sink count = { NULL, 0, true };
    for_each_nal(&bs, nal_collect, &count);
    if (count.size <= 0)
        return AVERROR_EXTERNAL;
    s->base.extradata = av_mallocz((size_t)count.size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!s->base.extradata)
        return AVERROR(ENOMEM);
    nal_sink copy = { s->base.extradata, 0, true };
    for_each_nal(&bs, nal_collect, &copy);
    s->base.extradata_size = count.size;
    return 0;
}

vc_h264_enc *vc_h264_openh264_open(const vc_h264_params *p, char *err, size_t errlen)
{
    oh264_enc *s = vc_xcalloc(1, sizeof(*s));
    s->base.send = oh264_send;
    s->base.receive = oh264_receive;
    s->base.close = oh264_close;
    s->pending = av_packet_alloc();
    if (!s->pending || WelsCreateSVCEncoder(&s->enc) != 0 || !s->enc) {
        snprintf(err, errlen, "openh264: cannot create encoder");
        s->enc = NULL;
        oh264_close(&s->base);
        return NULL;
    }
    int level = WELS_LOG_WARNING;
    WelsTraceCallback cb = oh264_trace;
    void *ctx = s;
    (*s->enc)->SetOption(s->enc, ENCODER_OPTION_TRACE_LEVEL, &level);
    (*s->enc)->SetOption(s->enc, ENCODER_OPTION_TRACE_CALLBACK, (void *)&cb);
    (*s->enc)->SetOption(s->enc, ENCODER_OPTION_TRACE_CALLBACK_CONTEXT, &ctx);

    SEncParamExt prm;
    (*s->enc)->GetDefaultParams(s->enc, &prm);
    oh264_fill_params(&prm, p);
    if ((*s->enc)->InitializeExt(s->enc, &prm) != cmResultSuccess) {
        snprintf(err, errlen, "openh264: cannot initialise a %dx%d encoder%s%s", p->width, p->height,
                 s->base.err[0] ? ": " : "", s->base.err);
        oh264_close(&s->base);
        return NULL;
    }
    int fmt = videoFormatI420;
    (*s->enc)->SetOption(s->enc, ENCODER_OPTION_DATAFORMAT, &fmt);
    if (oh264_set_extradata(s) < 0) {
        snprintf(err, errlen, "openh264: cannot get SPS/PPS");
        oh264_close(&s->base);
        return NULL;
    }
    return &s->base;
}
