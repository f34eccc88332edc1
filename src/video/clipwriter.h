/* Encode one clip's decoded frames to H.264 and mux them, with the source
 * audio packets copied, into an mp4 held in memory (Cosmos re-encodes each
 * clip with `ffmpeg ... -c:v libopenh264 -b:v 4M -c:a copy`).
 *
 * Usage: vc_clip_writer_open(), then any interleaving of
 * vc_clip_writer_video() (every frame, increasing pts) and
 * vc_clip_writer_audio(), then vc_clip_writer_finish(), then
 * vc_clip_writer_free(). Writers are independent: many may run at once in
 * different threads (one writer is used by one thread at a time).
 *
 * Output: H.264 yuv420p 8-bit at the source size (odd widths/heights lose
 * their last column/row: H.264 4:2:0 cannot code odd sizes, and openh264
 * itself rounds down the same way; FFmpeg+libx264 would fail instead), an
 * IDR at the start and every 12 frames (FFmpeg's default GOP, which Cosmos's
 * openh264 clips have), pts/dts from the pts given and each frame lasting
 * 1/frame_rate at the end, moov at the front (+faststart). Other pixel formats (10-bit,
 * 4:2:2, full-range yuvj420p, RGB...) are converted to limited-range
 * yuv420p with swscale, as FFmpeg's automatic conversion does. */
#ifndef VC_VIDEO_CLIPWRITER_H
#define VC_VIDEO_CLIPWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/rational.h>

typedef enum { VC_ENC_OPENH264, VC_ENC_LIBX264, VC_ENC_NVENC } vc_encoder_kind;

/* "libopenh264", "libx264", "h264_nvenc" -> 0, else -1. */
int vc_encoder_parse(const char *name, vc_encoder_kind *out);
const char *vc_encoder_name(vc_encoder_kind k);
/* Start-up check: can this encoder be used here? Opens it on a small frame,
 * so a missing GPU/driver for nvenc is reported with the reason in err. */
bool vc_encoder_available(vc_encoder_kind k, char *err, size_t errlen);

#define VC_X264_DEFAULT_PRESET "veryfast"

typedef struct vc_clip_writer_cfg {
    vc_encoder_kind encoder;
    int width, height;               /* of the frames passed in */
    int pix_fmt;                     /* enum AVPixelFormat of the frames (any decoder output) */
    AVRational frame_rate;           /* source avg_frame_rate */
    AVRational time_base;            /* of the pts passed to vc_clip_writer_video */
    AVRational sample_aspect_ratio;  /* {0,1} when unknown */
    int64_t bit_rate;                /* bits/s, e.g. 4000000 */
    int threads;                     /* encoder threads, 0 = library default (all cores) */
    const char *x264_preset;         /* NULL = VC_X264_DEFAULT_PRESET */
    const AVCodecParameters *audio;  /* NULL: no audio track */
    AVRational audio_time_base;      /* of the audio packets' pts/dts */
    /* > 0: also an IDR at every multiple of this many frames (the predict2
     * caption windows), so a window is a closed run of packets that can be
     * cut out by stream copy (vc_mp4_cut_frames). 0: only the GOP's IDRs. */
    int64_t key_interval;
} vc_clip_writer_cfg;

typedef struct vc_clip_writer vc_clip_writer;

/* Can this audio stream be copied into mp4? (e.g. AAC, MP3, Opus, AC-3: yes;
 * PCM, Vorbis: no). vc_clip_writer_open fails for those that cannot. */
bool vc_clip_audio_copyable(const AVCodecParameters *audio);

/* NULL on error, with the cause in err. */
vc_clip_writer *vc_clip_writer_open(const vc_clip_writer_cfg *cfg, char *err, size_t errlen);
/* pts relative to the clip start, in cfg->time_base, strictly increasing.
 * The frame is neither modified nor kept. 0 or a negative AVERROR. */
int vc_clip_writer_video(vc_clip_writer *w, const AVFrame *frame, int64_t pts);
/* pts/dts already relative to the clip start, in cfg->audio_time_base. The
 * packet is not modified. 0 or a negative AVERROR. */
int vc_clip_writer_audio(vc_clip_writer *w, const AVPacket *pkt);
/* Flush the encoder and finish the mp4. On success *mp4 is malloc'd (free()
 * it), *num_frames the number of video frames in it. 0 or a negative AVERROR
 * with the cause in err (including any earlier failure of _video/_audio). */
int vc_clip_writer_finish(vc_clip_writer *w, uint8_t **mp4, size_t *len, int64_t *num_frames,
                          char *err, size_t errlen);
/* The message of the last failure, "" when none. */
const char *vc_clip_writer_error(const vc_clip_writer *w);
void vc_clip_writer_free(vc_clip_writer *w);

#endif
