/* Animated WebP preview of a caption window, like Cosmos's
 * `ffmpeg -vf fps=1,scale=-1:240 -c:v libwebp -lossless 0
 *  -compression_level 6 -q:v 50 -loop 0`.
 *
 * Frame choice (FFmpeg's fps filter, round=near, checked against the CLI):
 * with q(i) = round_half_away(i * target_fps / src_fps), frame i is shown
 * iff q(i+1) > q(i), at time q(i)/target_fps, until q(i+1)/target_fps.
 * So a window of N frames gives round_half_away(N * target_fps / src_fps)
 * frames, e.g. frames 14, 44, 74, ... at 30 fps; a window shorter than
 * half a target period gives none (vc_preview_finish then fails).
 *
 * Size: height target_height, width round(target_height * src_w / src_h)
 * (FFmpeg's scale=-1:H; may be odd, which WebP allows). Frames are scaled
 * (bicubic) to yuv420p as FFmpeg feeds libwebp, and encoded at once:
 * no raw frame is kept. */
#ifndef VC_VIDEO_PREVIEW_H
#define VC_VIDEO_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/rational.h>

typedef struct vc_preview vc_preview;

/* NULL on error, with the cause in err. */
vc_preview *vc_preview_new(int src_w, int src_h, int src_pix_fmt, AVRational src_fps,
                           int target_height, double target_fps, char *err, size_t errlen);
/* Every frame of the window in order, index 0, 1, 2, ...; it encodes only the
 * frames the rule above picks. 0 or a negative AVERROR. */
int vc_preview_add(vc_preview *p, const AVFrame *frame, int64_t index);
/* The frames before index that the sampling does not show were dropped:
 * continue at index (an error if one of them would be shown). */
int vc_preview_skip(vc_preview *p, int64_t index);
/* On success *webp is malloc'd (free() it). 0 or a negative AVERROR. */
int vc_preview_finish(vc_preview *p, uint8_t **webp, size_t *len);
/* The message of the last failure, "" when none. */
const char *vc_preview_error(const vc_preview *p);
/* Number of frames encoded so far. */
int vc_preview_frame_count(const vc_preview *p);
void vc_preview_free(vc_preview *p);

#endif
