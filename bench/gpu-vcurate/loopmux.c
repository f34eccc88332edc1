/* loopmux IN OUT N: OUT = IN played N times in a row, stream copy (no
 * re-encoding), timestamps shifted so the result is one continuous MP4.
 * Lets the GPU benchmark carry one 30 s clip and still time minutes of
 * 1080p H.264 there (the machine has no ffmpeg). */
#include <stdio.h>
#include <stdlib.h>

#include <libavformat/avformat.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: loopmux IN OUT N\n");
        return 2;
    }
    const char *in = argv[1], *out = argv[2];
    int loops = atoi(argv[3]);
    AVFormatContext *ic = NULL, *oc = NULL;
    if (avformat_open_input(&ic, in, NULL, NULL) < 0 || avformat_find_stream_info(ic, NULL) < 0) {
        fprintf(stderr, "%s: cannot open\n", in);
        return 1;
    }
    if (avformat_alloc_output_context2(&oc, NULL, "mp4", out) < 0) {
        fprintf(stderr, "no mp4 muxer\n");
        return 1;
    }
    unsigned ns = ic->nb_streams;
    int64_t *span = calloc(ns, sizeof *span);     /* per stream, its time base */
    int64_t *first = calloc(ns, sizeof *first);
    for (unsigned i = 0; i < ns; i++) {
        AVStream *os = avformat_new_stream(oc, NULL);
        avcodec_parameters_copy(os->codecpar, ic->streams[i]->codecpar);
        os->codecpar->codec_tag = 0;
        os->time_base = ic->streams[i]->time_base;
        first[i] = AV_NOPTS_VALUE;
    }
    if (avio_open(&oc->pb, out, AVIO_FLAG_WRITE) < 0 || avformat_write_header(oc, NULL) < 0) {
        fprintf(stderr, "%s: cannot write\n", out);
        return 1;
    }
    AVPacket *pkt = av_packet_alloc();
    /* one pass to learn each stream's span (last dts + duration - first dts) */
    while (av_read_frame(ic, pkt) >= 0) {
        unsigned s = (unsigned)pkt->stream_index;
        if (first[s] == AV_NOPTS_VALUE)
            first[s] = pkt->dts;
        if (pkt->dts + pkt->duration - first[s] > span[s])
            span[s] = pkt->dts + pkt->duration - first[s];
        av_packet_unref(pkt);
    }
    /* every stream is shifted by the same time: the longest span */
    double longest = 0;
    for (unsigned i = 0; i < ns; i++)
        if (span[i] * av_q2d(ic->streams[i]->time_base) > longest)
            longest = span[i] * av_q2d(ic->streams[i]->time_base);
    long long packets = 0;
    for (int k = 0; k < loops; k++) {
        if (avformat_seek_file(ic, -1, INT64_MIN, ic->start_time == AV_NOPTS_VALUE ? 0 : ic->start_time,
                               INT64_MAX, AVSEEK_FLAG_BACKWARD) < 0) {
            fprintf(stderr, "%s: cannot seek back\n", in);
            return 1;
        }
        while (av_read_frame(ic, pkt) >= 0) {
            unsigned s = (unsigned)pkt->stream_index;
            AVRational tb = ic->streams[s]->time_base;
            int64_t shift = (int64_t)(k * longest / av_q2d(tb) + 0.5);
            if (pkt->pts != AV_NOPTS_VALUE)
                pkt->pts += shift;
            if (pkt->dts != AV_NOPTS_VALUE)
                pkt->dts += shift;
            av_packet_rescale_ts(pkt, tb, oc->streams[s]->time_base);
            pkt->pos = -1;
            if (av_interleaved_write_frame(oc, pkt) < 0) {
                fprintf(stderr, "%s: write failed\n", out);
                return 1;
            }
            packets++;
        }
    }
    av_write_trailer(oc);
    avio_closep(&oc->pb);
    printf("loopmux: %s x%d -> %s (%lld packets, %.2f s)\n", in, loops, out, packets, loops * longest);
    av_packet_free(&pkt);
    avformat_free_context(oc);
    avformat_close_input(&ic);
    free(span);
    free(first);
    return 0;
}
