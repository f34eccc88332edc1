/* Helpers shared by the video tests: synthetic frames, temp files and a
 * libavformat-based inspection of the mp4s the clip writer produces. */
#ifndef VC_TESTS_VIDEO_VTEST_H
#define VC_TESTS_VIDEO_VTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>

/* A w x h frame of `fmt` showing a moving gradient; its luma is about
 * `base_luma` (limited-range Y) on average. */
AVFrame *vt_make_frame(int fmt, int w, int h, int index, int base_luma);
/* Same frame content in yuv420p, flat luma `y` (limited range). */
AVFrame *vt_make_flat_frame(int fmt, int w, int h, int y);

/* Writes bytes to a new temp file; returns its malloc'd path. */
char *vt_write_temp(const void *data, size_t len, const char *suffix);

typedef struct vt_mp4_info {
    int nb_streams;
    int video_codec, audio_codec;        /* enum AVCodecID, 0 when absent */
    int width, height;
    int64_t video_packets, audio_packets;
    int64_t decoded_frames;              /* all video frames decode */
    double fps;                          /* stream avg_frame_rate */
    double video_duration;               /* seconds, stream duration */
    double mean_luma;                    /* of the first decoded frame */
    bool first_is_key;
    bool moov_first;                     /* +faststart */
} vt_mp4_info;

/* Inspect an mp4 held in memory. Returns 0 or a negative AVERROR. */
int vt_inspect_mp4(const uint8_t *mp4, size_t len, vt_mp4_info *info);

/* Runs a shell command; returns its exit status. */
int vt_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Demuxes every packet of the first audio stream of `path`. */
typedef struct vt_audio {
    AVCodecParameters *par;
    AVRational time_base;
    AVPacket **pkts;
    int n;
} vt_audio;
int vt_load_audio(const char *path, vt_audio *a);
void vt_audio_free(vt_audio *a);

/* Decodes every video frame of `path` in order and calls fn(frame, index).
 * Fills *par with the stream's parameters and *fps with its avg_frame_rate.
 * Returns the number of frames or a negative AVERROR. */
typedef void (*vt_frame_fn)(const AVFrame *frame, int64_t index, void *opaque);
int64_t vt_decode_video(const char *path, vt_frame_fn fn, void *opaque, int *w, int *h, int *fmt,
                        AVRational *fps);

#endif
