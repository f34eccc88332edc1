#include "video/decode.h"

#include <stdio.h>

#include <libavutil/cpu.h>

#include "util/common.h"
#include "video/probe.h"
#include "video/srcio.h"

struct vc_decoder {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    int vidx, aidx;
    int64_t start_pts;      /* stream start_time, else first frame pts */
    int64_t corrupt;
    int64_t frames_out;
    int state;              /* 0 reading, 1 draining, 2 done */
};

int vc_decoder_auto_threads(void)
{
    /* FFmpeg's own auto is cores + 1, right for a caller that does nothing
     * between frames (ffmpeg -f null). Our callers run the shot detector on
     * each frame in the calling thread; two more frames in flight keep every
     * core decoding meanwhile. vcurate detect, 60 s of 1080p H.264 on 2 cores,
     * medians of runs with the machine otherwise idle: cores + 1 0.91x of
     * ffmpeg's decode-only wall time, cores + 2 0.93x, cores + 3 0.99x. */
    int n = av_cpu_count() + 3;
    return n > 16 ? 16 : n;
}

vc_decoder *vc_decoder_open(const char *path, int threads, char *err, size_t errlen)
{
    char eb[128];
    vc_decoder *d = vc_xcalloc(1, sizeof(*d));
    d->aidx = -1;
    char why[512] = "";
    int rc = vc_src_open(&d->fmt, path, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "cannot open: %s", why[0] ? why : vc_av_err(rc, eb));
        goto fail;
    }
    if ((rc = avformat_find_stream_info(d->fmt, NULL)) < 0) {
        snprintf(err, errlen, "cannot read stream info: %s", vc_av_err(rc, eb));
        goto fail;
    }
    const AVCodec *codec = NULL;
    d->vidx = av_find_best_stream(d->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (d->vidx < 0) {
        snprintf(err, errlen, d->vidx == AVERROR_DECODER_NOT_FOUND ? "unsupported video codec" : "no video stream");
        goto fail;
    }
    d->aidx = av_find_best_stream(d->fmt, AVMEDIA_TYPE_AUDIO, -1, d->vidx, NULL, 0);
    /* Demux only what we use: the others are discarded without parsing. */
    for (unsigned i = 0; i < d->fmt->nb_streams; i++)
        if ((int)i != d->vidx && (int)i != d->aidx)
            d->fmt->streams[i]->discard = AVDISCARD_ALL;

    AVStream *vs = d->fmt->streams[d->vidx];
    d->dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(d->dec, vs->codecpar);
    d->dec->pkt_timebase = vs->time_base;
    d->dec->thread_count = threads > 0 ? threads : vc_decoder_auto_threads();
    d->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if ((rc = avcodec_open2(d->dec, codec, NULL)) < 0) {
        snprintf(err, errlen, "cannot open %s decoder: %s", codec->name, vc_av_err(rc, eb));
        goto fail;
    }
    d->start_pts = vs->start_time;
    d->pkt = av_packet_alloc();
    return d;
fail:
    vc_decoder_free(d);
    return NULL;
}

void vc_decoder_free(vc_decoder *d)
{
    if (!d)
        return;
    avcodec_free_context(&d->dec);
    vc_src_close(&d->fmt);
    av_packet_free(&d->pkt);
    free(d);
}

const AVStream *vc_decoder_video_stream(const vc_decoder *d) { return d->fmt->streams[d->vidx]; }
const AVStream *vc_decoder_audio_stream(const vc_decoder *d) { return d->aidx >= 0 ? d->fmt->streams[d->aidx] : NULL; }
const AVCodecContext *vc_decoder_codec(const vc_decoder *d) { return d->dec; }
int64_t vc_decoder_corrupt_packets(const vc_decoder *d) { return d->corrupt; }
int64_t vc_decoder_start_pts(const vc_decoder *d) { return d->start_pts == AV_NOPTS_VALUE ? 0 : d->start_pts; }

double vc_decoder_frame_time(const vc_decoder *d, const AVFrame *frame)
{
    const AVStream *vs = d->fmt->streams[d->vidx];
    int64_t ts = frame->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) {
        /* No timestamps at all: count frames at the nominal rate. */
        AVRational fr = vs->avg_frame_rate.num > 0 ? vs->avg_frame_rate : (AVRational){ 25, 1 };
        return (double)(d->frames_out - 1) * av_q2d(av_inv_q(fr));
    }
    return (double)(ts - vc_decoder_start_pts(d)) * av_q2d(vs->time_base);
}

/* Try to take a frame the decoder already has. */
static int receive(vc_decoder *d, AVFrame *frame)
{
    int rc = avcodec_receive_frame(d->dec, frame);
    if (rc == 0) {
        if (d->start_pts == AV_NOPTS_VALUE && frame->best_effort_timestamp != AV_NOPTS_VALUE)
            d->start_pts = frame->best_effort_timestamp;
        d->frames_out++;
        return VC_DEC_FRAME;
    }
    if (rc == AVERROR_EOF) {
        d->state = 2;
        return VC_DEC_EOF;
    }
    if (rc == AVERROR(EAGAIN))
        return 0;
    d->corrupt++;      /* a frame failed to decode: skip it, like ffmpeg */
    return 0;
}

int vc_decoder_next(vc_decoder *d, AVFrame *frame, AVPacket *out)
{
    for (;;) {
        if (d->state == 2)
            return VC_DEC_EOF;
        int r = receive(d, frame);
        if (r != 0 || d->state == 2)   /* VC_DEC_EOF is 0 too */
            return r;
        if (d->state == 1) {
            /* Draining: keep receiving until EOF. */
            continue;
        }
        int rc = av_read_frame(d->fmt, d->pkt);
        if (rc < 0) {
            if (rc != AVERROR_EOF && rc != AVERROR_INVALIDDATA && d->frames_out == 0 && rc != AVERROR(EIO))
                return rc;
            /* End of file, or a truncated/damaged tail: decode what we have. */
            avcodec_send_packet(d->dec, NULL);
            d->state = 1;
            continue;
        }
        if (d->pkt->stream_index == d->aidx) {
            av_packet_move_ref(out, d->pkt);
            return VC_DEC_AUDIO;
        }
        if (d->pkt->stream_index != d->vidx) {
            av_packet_unref(d->pkt);
            continue;
        }
        rc = avcodec_send_packet(d->dec, d->pkt);
        av_packet_unref(d->pkt);
        if (rc < 0 && rc != AVERROR(EAGAIN))
            d->corrupt++;
    }
}
