#include "vtest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "util/common.h"

static AVFrame *alloc_frame(int fmt, int w, int h)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        abort();
    f->format = fmt;
    f->width = w;
    f->height = h;
    if (av_frame_get_buffer(f, 0) < 0)
        abort();
    return f;
}

/* Convert a yuv420p frame to fmt; yuv420p Y=16..235 maps to the full range
 * in yuvj formats, like a decoder of a full-range source would give. */
static AVFrame *convert(AVFrame *src, int fmt)
{
    if (fmt == AV_PIX_FMT_YUV420P)
        return src;
    AVFrame *dst = alloc_frame(fmt, src->width, src->height);
    struct SwsContext *sws = sws_getContext(src->width, src->height, AV_PIX_FMT_YUV420P,
                                            src->width, src->height, fmt, SWS_POINT, NULL, NULL, NULL);
    if (!sws)
        abort();
    sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
              dst->data, dst->linesize);
    sws_freeContext(sws);
    av_frame_free(&src);
    return dst;
}

AVFrame *vt_make_frame(int fmt, int w, int h, int index, int base_luma)
{
    AVFrame *f = alloc_frame(AV_PIX_FMT_YUV420P, w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            f->data[0][y * f->linesize[0] + x] =
                (uint8_t)(base_luma - 20 + ((x + y + 2 * index) % 41));
    for (int y = 0; y < (h + 1) / 2; y++)
        for (int x = 0; x < (w + 1) / 2; x++) {
            f->data[1][y * f->linesize[1] + x] = (uint8_t)(108 + (x * 40) / w);
            f->data[2][y * f->linesize[2] + x] = (uint8_t)(108 + (y * 40) / h);
        }
    return convert(f, fmt);
}

AVFrame *vt_make_flat_frame(int fmt, int w, int h, int yval)
{
    AVFrame *f = alloc_frame(AV_PIX_FMT_YUV420P, w, h);
    for (int y = 0; y < h; y++)
        memset(f->data[0] + y * f->linesize[0], yval, (size_t)w);
    for (int y = 0; y < (h + 1) / 2; y++) {
        memset(f->data[1] + y * f->linesize[1], 128, (size_t)(w + 1) / 2);
        memset(f->data[2] + y * f->linesize[2], 128, (size_t)(w + 1) / 2);
    }
    return convert(f, fmt);
}

char *vt_write_temp(const void *data, size_t len, const char *suffix)
{
    char *path = vc_asprintf("/tmp/vc_video_test_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0 || write(fd, data, len) != (ssize_t)len)
        abort();
    close(fd);
    return path;
}

int vt_system(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = vc_vasprintf(fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    free(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static bool moov_before_mdat(const uint8_t *p, size_t len)
{
    /* walk the top-level boxes */
    size_t off = 0;
    while (off + 8 <= len) {
        uint64_t size = ((uint64_t)p[off] << 24) | (p[off + 1] << 16) | (p[off + 2] << 8) | p[off + 3];
        if (memcmp(p + off + 4, "moov", 4) == 0)
            return true;
        if (memcmp(p + off + 4, "mdat", 4) == 0)
            return false;
        if (size == 1 && off + 16 <= len) {
            size = 0;
            for (int i = 0; i < 8; i++)
                size = (size << 8) | p[off + 8 + i];
        }
        if (size < 8)
            return false;
        off += size;
    }
    return false;
}

static double mean_luma(const AVFrame *f)
{
    double sum = 0;
    for (int y = 0; y < f->height; y++)
        for (int x = 0; x < f->width; x++)
            sum += f->data[0][y * f->linesize[0] + x];
    return sum / ((double)f->width * f->height);
}

static int decode_video(AVFormatContext *fc, int vi, vt_mp4_info *info)
{
    AVStream *st = fc->streams[vi];
    const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *ctx = avcodec_alloc_context3(dec);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int ret = avcodec_parameters_to_context(ctx, st->codecpar);
    if (ret >= 0)
        ret = avcodec_open2(ctx, dec, NULL);
    bool first_pkt = true;
    while (ret >= 0) {
        ret = av_read_frame(fc, pkt);
        bool eof = ret == AVERROR_EOF;
        if (ret < 0 && !eof)
            break;
        if (!eof && pkt->stream_index != vi) {
            if (fc->streams[pkt->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
                info->audio_packets++;
            av_packet_unref(pkt);
            continue;
        }
        if (!eof) {
            info->video_packets++;
            if (first_pkt)
                info->first_is_key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
            first_pkt = false;
        }
        ret = avcodec_send_packet(ctx, eof ? NULL : pkt);
        av_packet_unref(pkt);
        while (ret >= 0) {
            ret = avcodec_receive_frame(ctx, frame);
            if (ret < 0)
                break;
            if (info->decoded_frames++ == 0)
                info->mean_luma = mean_luma(frame);
            av_frame_unref(frame);
        }
        if (ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret == AVERROR(EAGAIN))
            ret = 0;
        if (eof)
            break;
    }
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return ret;
}

int vt_inspect_mp4(const uint8_t *mp4, size_t len, vt_mp4_info *info)
{
    memset(info, 0, sizeof(*info));
    info->moov_first = moov_before_mdat(mp4, len);
    char *path = vt_write_temp(mp4, len, ".mp4");
    AVFormatContext *fc = NULL;
    int ret = avformat_open_input(&fc, path, NULL, NULL);
    if (ret >= 0)
        ret = avformat_find_stream_info(fc, NULL);
    if (ret >= 0) {
        info->nb_streams = (int)fc->nb_streams;
        int vi = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        int ai = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
        if (ai >= 0)
            info->audio_codec = fc->streams[ai]->codecpar->codec_id;
        if (vi < 0) {
            ret = AVERROR_STREAM_NOT_FOUND;
        } else {
            AVStream *st = fc->streams[vi];
            info->video_codec = st->codecpar->codec_id;
            info->width = st->codecpar->width;
            info->height = st->codecpar->height;
            info->fps = av_q2d(st->avg_frame_rate);
            info->video_duration = st->duration * av_q2d(st->time_base);
            ret = decode_video(fc, vi, info);
        }
    }
    avformat_close_input(&fc);
    unlink(path);
    free(path);
    return ret;
}

int vt_load_audio(const char *path, vt_audio *a)
{
    memset(a, 0, sizeof(*a));
    AVFormatContext *fc = NULL;
    int ret = avformat_open_input(&fc, path, NULL, NULL);
    if (ret >= 0)
        ret = avformat_find_stream_info(fc, NULL);
    int ai = ret >= 0 ? av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0) : ret;
    if (ai < 0) {
        avformat_close_input(&fc);
        return ai;
    }
    a->par = avcodec_parameters_alloc();
    avcodec_parameters_copy(a->par, fc->streams[ai]->codecpar);
    a->time_base = fc->streams[ai]->time_base;
    AVPacket *pkt = av_packet_alloc();
    while (av_read_frame(fc, pkt) >= 0) {
        if (pkt->stream_index == ai) {
            a->pkts = vc_xrealloc(a->pkts, sizeof(*a->pkts) * (size_t)(a->n + 1));
            a->pkts[a->n++] = av_packet_clone(pkt);
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fc);
    return 0;
}

void vt_audio_free(vt_audio *a)
{
    for (int i = 0; i < a->n; i++)
        av_packet_free(&a->pkts[i]);
    free(a->pkts);
    avcodec_parameters_free(&a->par);
    memset(a, 0, sizeof(*a));
}

static int64_t decode_packets(AVFormatContext *fc, AVCodecContext *ctx, int vi, vt_frame_fn fn,
                              void *opaque)
{
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int64_t n = 0;
    int ret = 0;
    bool eof = false;
    while (ret >= 0 && !eof) {
        ret = av_read_frame(fc, pkt);
        eof = ret == AVERROR_EOF;
        if (ret < 0 && !eof)
            break;
        if (!eof && pkt->stream_index != vi) {
            av_packet_unref(pkt);
            continue;
        }
        ret = avcodec_send_packet(ctx, eof ? NULL : pkt);
        av_packet_unref(pkt);
        while (ret >= 0 && (ret = avcodec_receive_frame(ctx, frame)) >= 0) {
            fn(frame, n++, opaque);
            av_frame_unref(frame);
        }
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            ret = 0;
    }
    av_frame_free(&frame);
    av_packet_free(&pkt);
    return ret < 0 ? ret : n;
}

int64_t vt_decode_video(const char *path, vt_frame_fn fn, void *opaque, int *w, int *h, int *fmt,
                        AVRational *fps)
{
    AVFormatContext *fc = NULL;
    int ret = avformat_open_input(&fc, path, NULL, NULL);
    if (ret >= 0)
        ret = avformat_find_stream_info(fc, NULL);
    int vi = ret >= 0 ? av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0) : ret;
    if (vi < 0) {
        avformat_close_input(&fc);
        return vi;
    }
    AVStream *st = fc->streams[vi];
    *w = st->codecpar->width;
    *h = st->codecpar->height;
    *fmt = st->codecpar->format;
    *fps = st->avg_frame_rate;
    const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *ctx = avcodec_alloc_context3(dec);
    ret = avcodec_parameters_to_context(ctx, st->codecpar);
    if (ret >= 0)
        ret = avcodec_open2(ctx, dec, NULL);
    int64_t n = ret < 0 ? ret : (fn ? decode_packets(fc, ctx, vi, fn, opaque) : 0);
    avcodec_free_context(&ctx);
    avformat_close_input(&fc);
    return n;
}
