/* decode_only VIDEO [--threads N] [--scale]: the decode pass of
 * `vcurate detect` alone, through vcurate's own decoder (src/video/decode.c,
 * same thread count and thread types), timed the way detect times itself
 * (from opening the decoder to the last frame). --scale adds the per-frame
 * conversion TransNetV2 needs (1080p -> 48x27 RGB24, SWS_BICUBIC, as
 * src/detect/tnet_detector.c does), so the network's own share shows as the
 * gap between this and `detect --splitting-algorithm transnetv2`.
 * Prints one JSON line: frames, seconds, frames_per_second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libswscale/swscale.h>

#include "util/common.h"
#include "video/decode.h"

int main(int argc, char **argv)
{
    const char *path = NULL;
    int threads = 0, scale = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--scale"))
            scale = 1;
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: decode_only VIDEO [--threads N] [--scale]\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: decode_only VIDEO [--threads N] [--scale]\n");
        return 2;
    }
    char err[512];
    double t0 = vc_now();
    vc_decoder *dec = vc_decoder_open(path, threads, err, sizeof err);
    if (!dec) {
        fprintf(stderr, "%s: %s\n", path, err);
        return 1;
    }
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct SwsContext *sws = NULL;
    uint8_t rgb[48 * 27 * 3];
    unsigned sum = 0;
    long long n = 0;
    for (;;) {
        int r = vc_decoder_next(dec, frame, pkt);
        if (r == VC_DEC_EOF || r < 0)
            break;
        if (r == VC_DEC_AUDIO) {
            av_packet_unref(pkt);
            continue;
        }
        if (scale) {
            sws = sws_getCachedContext(sws, frame->width, frame->height, frame->format, 48, 27,
                                       AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
            uint8_t *planes[4] = { rgb };
            int strides[4] = { 48 * 3 };
            sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
                      planes, strides);
            sum += rgb[n % sizeof rgb];
        }
        av_frame_unref(frame);
        n++;
    }
    double secs = vc_now() - t0;
    printf("{\"video\": \"%s\", \"mode\": \"%s\", \"threads\": %d, \"frames\": %lld, "
           "\"seconds\": %.4f, \"frames_per_second\": %.2f, \"check\": %u}\n",
           path, scale ? "decode+scale48x27" : "decode", threads, n, secs, n / secs, sum);
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    vc_decoder_free(dec);
    return n > 0 ? 0 : 1;
}
