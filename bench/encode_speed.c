/* Encode speed of the clip writer on pre-decoded frames (raw yuv420p file),
 * so it can be compared with the ffmpeg CLI reading the same raw file.
 * Usage: encode_speed RAW W H FPS FRAMES ENCODER THREADS JOBS [PRESET [BITRATE]]
 * JOBS writers run at once, each in its own thread, each encoding all
 * FRAMES (like several clips in flight). Prints "fps=... cpufps=... kbps=...":
 * wall-clock frames/s over all jobs, frames per CPU-second (steadier on a
 * shared machine), and the output bitrate. */
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "util/common.h"
#include "video/clipwriter.h"

typedef struct job {
    const vc_clip_writer_cfg *cfg;
    AVFrame **frames;
    int n;
    size_t bytes;
    int ok;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    char err[512];
    vc_clip_writer *w = vc_clip_writer_open(j->cfg, err, sizeof(err));
    if (!w) {
        fprintf(stderr, "encode_speed: %s\n", err);
        return NULL;
    }
    for (int i = 0; i < j->n; i++)
        if (vc_clip_writer_video(w, j->frames[i], i) < 0)
            break;
    uint8_t *mp4 = NULL;
    int64_t frames = 0;
    if (vc_clip_writer_finish(w, &mp4, &j->bytes, &frames, err, sizeof(err)) < 0)
        fprintf(stderr, "encode_speed: %s\n", err);
    j->ok = frames == j->n;
    free(mp4);
    vc_clip_writer_free(w);
    return NULL;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static AVFrame **load_frames(const char *path, int w, int h, int n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    AVFrame **frames = vc_xcalloc((size_t)n, sizeof(*frames));
    for (int i = 0; i < n; i++) {
        AVFrame *fr = av_frame_alloc();
        fr->format = AV_PIX_FMT_YUV420P;
        fr->width = w;
        fr->height = h;
        if (av_frame_get_buffer(fr, 0) < 0)
            exit(1);
        for (int p = 0; p < 3; p++) {
            int pw = p ? (w + 1) / 2 : w, ph = p ? (h + 1) / 2 : h;
            for (int y = 0; y < ph; y++)
                if (fread(fr->data[p] + y * fr->linesize[p], 1, (size_t)pw, f) != (size_t)pw) {
                    fprintf(stderr, "%s: only %d frames\n", path, i);
                    exit(1);
                }
        }
        frames[i] = fr;
    }
    fclose(f);
    return frames;
}

int main(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr, "usage: %s RAW W H FPS FRAMES ENCODER THREADS JOBS [PRESET [BITRATE]]\n", argv[0]);
        return 2;
    }
    av_log_set_level(AV_LOG_ERROR);
    int w = atoi(argv[2]), h = atoi(argv[3]), fps = atoi(argv[4]), n = atoi(argv[5]);
    int threads = atoi(argv[7]), jobs = atoi(argv[8]);
    vc_clip_writer_cfg cfg = {
        .width = w, .height = h, .pix_fmt = AV_PIX_FMT_YUV420P,
        .frame_rate = { fps, 1 }, .time_base = { 1, fps },
        .bit_rate = argc > 10 ? atoll(argv[10]) : 4000000, .threads = threads,
        .x264_preset = argc > 9 ? argv[9] : NULL,
    };
    if (vc_encoder_parse(argv[6], &cfg.encoder) < 0) {
        fprintf(stderr, "unknown encoder %s\n", argv[6]);
        return 2;
    }
    AVFrame **frames = load_frames(argv[1], w, h, n);
    job js[64];
    pthread_t th[64];
    jobs = VC_MAX(1, VC_MIN(jobs, 64));
    double t0 = vc_now(), c0 = cpu_seconds();
    for (int i = 0; i < jobs; i++) {
        js[i] = (job){ .cfg = &cfg, .frames = frames, .n = n };
        pthread_create(&th[i], NULL, run_job, &js[i]);
    }
    size_t bytes = 0;
    int ok = 1;
    for (int i = 0; i < jobs; i++) {
        pthread_join(th[i], NULL);
        bytes += js[i].bytes;
        ok &= js[i].ok;
    }
    double dt = vc_now() - t0, dc = cpu_seconds() - c0;
    printf("fps=%.1f cpufps=%.1f kbps=%.0f%s\n", (double)n * jobs / dt, (double)n * jobs / dc,
           (double)bytes / jobs * 8.0 / 1000.0 / ((double)n / fps), ok ? "" : " FAILED");
    for (int i = 0; i < n; i++)
        av_frame_free(&frames[i]);
    free(frames);
    return ok ? 0 : 1;
}
