/* Stream-copy cutting of frame ranges out of an in-memory mp4. */
#include "video/mp4cut.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "util/common.h"
#include "video/memio.h"

typedef struct pkts {
    AVPacket **p;
    int64_t n, cap;
} pkts;

static void pkts_free(pkts *v)
{
    for (int64_t i = 0; i < v->n; i++)
        av_packet_free(&v->p[i]);
    free(v->p);
    memset(v, 0, sizeof *v);
}

static void av_err(char *err, size_t errlen, const char *what, int code)
{
    char msg[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(code, msg, sizeof msg);
    snprintf(err, errlen, "%s: %s", what, msg);
}

/* Every packet of the video track, in decode order. */
static int read_video(AVFormatContext *ic, int vi, pkts *v, char *err, size_t errlen)
{
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int ret;
    while ((ret = av_read_frame(ic, pkt)) >= 0) {
        if (pkt->stream_index != vi) {
            av_packet_unref(pkt);
            continue;
        }
        if (v->n == v->cap) {
            v->cap = v->cap ? v->cap * 2 : 256;
            v->p = vc_xrealloc(v->p, (size_t)v->cap * sizeof(*v->p));
        }
        v->p[v->n] = av_packet_alloc();
        if (!v->p[v->n]) {
            av_packet_free(&pkt);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        av_packet_move_ref(v->p[v->n++], pkt);
    }
    av_packet_free(&pkt);
    if (ret != AVERROR_EOF) {
        av_err(err, errlen, "reading the clip", ret);
        return -1;
    }
    return 0;
}

/* In a closed GOP structure the packets before an IDR (decode order) are
 * exactly the frames shown before it, so decode index == display index at
 * IDRs; the pts checks make sure nothing of the range leaks out. */
static bool closed_run(const pkts *v, int64_t a, int64_t b)
{
    if (a < 0 || b < a || b >= v->n || !(v->p[a]->flags & AV_PKT_FLAG_KEY))
        return false;
    if (b + 1 < v->n && !(v->p[b + 1]->flags & AV_PKT_FLAG_KEY))
        return false;
    int64_t lo = v->p[a]->pts, hi = b + 1 < v->n ? v->p[b + 1]->pts : INT64_MAX;
    if (lo == AV_NOPTS_VALUE)
        return false;
    for (int64_t i = a; i <= b; i++)
        if (v->p[i]->pts == AV_NOPTS_VALUE || v->p[i]->pts < lo || v->p[i]->pts >= hi)
            return false;
    return true;
}

static int write_range(const AVStream *ist, const pkts *v, int64_t a, int64_t b, uint8_t **out, size_t *len,
                       char *err, size_t errlen)
{
    AVFormatContext *oc = NULL;
    vc_memfile mf = { 0 };
    AVPacket *pkt = av_packet_alloc();
    int ret = pkt ? avformat_alloc_output_context2(&oc, NULL, "mp4", NULL) : AVERROR(ENOMEM);
    if (ret < 0 || !oc) {
        av_err(err, errlen, "mp4 muxer", ret < 0 ? ret : AVERROR(ENOMEM));
        av_packet_free(&pkt);
        return -1;
    }
    AVStream *st = NULL;
    av_freep(&oc->url);
    oc->url = av_strdup("window.mp4");
    if (!oc->url || (ret = vc_memio_attach(oc, &mf)) < 0) {
        ret = ret < 0 ? ret : AVERROR(ENOMEM);
        goto fail;
    }
    if (!(st = avformat_new_stream(oc, NULL))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = avcodec_parameters_copy(st->codecpar, ist->codecpar)) < 0)
        goto fail;
    st->codecpar->codec_tag = 0;
    st->time_base = ist->time_base;
    st->avg_frame_rate = ist->avg_frame_rate;
    st->sample_aspect_ratio = ist->sample_aspect_ratio;
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(oc, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        goto fail;
    int64_t base = v->p[a]->pts;
    for (int64_t i = a; i <= b && ret >= 0; i++) {
        if ((ret = av_packet_ref(pkt, v->p[i])) < 0)
            break;
        pkt->stream_index = st->index;
        pkt->pos = -1;
        pkt->pts -= base;
        if (pkt->dts != AV_NOPTS_VALUE)
            pkt->dts -= base;
        av_packet_rescale_ts(pkt, ist->time_base, st->time_base);
        ret = av_interleaved_write_frame(oc, pkt);
        av_packet_unref(pkt);
    }
    if (ret >= 0)
        ret = av_write_trailer(oc);
    if (ret < 0)
        goto fail;
    vc_memio_detach(oc);
    avformat_free_context(oc);
    av_packet_free(&pkt);
    *out = vc_memfile_take(&mf, len);
    return 0;
fail:
    av_err(err, errlen, "writing the window mp4", ret);
    vc_memio_detach(oc);
    avformat_free_context(oc);
    vc_memfile_free(&mf);
    av_packet_free(&pkt);
    return -1;
}

int vc_mp4_cut_frames(const uint8_t *mp4, size_t len, const int64_t (*win)[2], int n,
                      uint8_t **out, size_t *lens, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
        lens[i] = 0;
    }
    /* read-only: the reader never writes through data */
    vc_memfile src = { .data = (uint8_t *)mp4, .len = len, .cap = len };
    AVFormatContext *ic = avformat_alloc_context();
    AVIOContext *pb = ic ? vc_memio_reader(&src) : NULL;
    pkts v = { 0 };
    int rc = -1;
    if (!pb) {
        snprintf(err, errlen, "out of memory");
        avformat_free_context(ic);
        return -1;
    }
    ic->pb = pb;
    ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    int ret = avformat_open_input(&ic, NULL, av_find_input_format("mp4"), NULL);
    if (ret < 0) {   /* ic was freed */
        av_err(err, errlen, "opening the clip", ret);
        vc_memio_close_reader(pb);
        return -1;
    }
    int vi = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (vi < 0) {
        snprintf(err, errlen, "the clip has no video track");
        goto out;
    }
    if (read_video(ic, vi, &v, err, errlen) < 0)
        goto out;
    for (int i = 0; i < n; i++) {
        if (!closed_run(&v, win[i][0], win[i][1])) {
            snprintf(err, errlen, "frames %lld..%lld of %lld are not a closed run of packets (no IDR at %lld%s)",
                     (long long)win[i][0], (long long)win[i][1], (long long)v.n, (long long)win[i][0],
                     win[i][1] + 1 < v.n ? " or after the range" : "");
            goto out;
        }
        if (write_range(ic->streams[vi], &v, win[i][0], win[i][1], &out[i], &lens[i], err, errlen) < 0)
            goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        for (int i = 0; i < n; i++) {
            free(out[i]);
            out[i] = NULL;
            lens[i] = 0;
        }
    pkts_free(&v);
    avformat_close_input(&ic);
    vc_memio_close_reader(pb);
    return rc;
}
