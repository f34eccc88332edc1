/* Internal: one H.264 encoder behind a small send/receive interface, so
 * clipwriter.c does not care which library encodes. Not part of the public
 * API; include only from src/video. */
#ifndef VC_VIDEO_ENCODER_H
#define VC_VIDEO_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

typedef struct vc_h264_params {
    int width, height;          /* even, > 0 */
    AVRational frame_rate;      /* nominal rate, for rate control */
    AVRational time_base;       /* of frame->pts and of the packets returned */
    int64_t bit_rate;           /* bits/s */
    int threads;                /* 0 = let the library choose */
    int gop;                    /* keyframe interval in frames, 0 = only the first */
    const char *x264_preset;    /* libx264 only */
    bool forced_idr;            /* frames sent with pict_type I become IDRs (closed GOP) */
} vc_h264_params;

typedef struct vc_h264_enc vc_h264_enc;
struct vc_h264_enc {
    /* Annex-B SPS+PPS, valid after open: the mp4 muxer turns them into avcC. */
    uint8_t *extradata;
    int extradata_size;
    /* frame: yuv420p of params width x height, pts in params time_base;
     * pict_type AV_PICTURE_TYPE_I forces an IDR there (every encoder);
     * NULL flushes. Returns 0 or a negative AVERROR (message in err). */
    int (*send)(vc_h264_enc *e, const AVFrame *frame);
    /* 0 with a packet (Annex-B, pts/dts in params time_base), AVERROR(EAGAIN)
     * when it needs more input, AVERROR_EOF when flushed and drained. */
    int (*receive)(vc_h264_enc *e, AVPacket *pkt);
    void (*close)(vc_h264_enc *e);
    char err[256];
};

/* Implementations (enc_openh264.c, enc_lavc.c). On failure they return NULL
 * and write a message to err. */
vc_h264_enc *vc_h264_openh264_open(const vc_h264_params *p, char *err, size_t errlen);
/* codec_name: "libx264" or "h264_nvenc" */
vc_h264_enc *vc_h264_lavc_open(const char *codec_name, const vc_h264_params *p,
                               char *err, size_t errlen);

static inline void vc_h264_close(vc_h264_enc *e)
{
    if (e)
        e->close(e);
}

#endif
