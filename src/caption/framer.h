/* The frames a clip's caption windows send to the VLM, taken from the frames
 * the cut stage decodes anyway (no second decode).
 *
 * Which frames a window samples depends on the clip's final length (the last
 * window absorbs a short remainder), and their size on the number of frames
 * sampled over the whole clip, and both are known only when the clip ends.
 * So every arriving frame is first shrunk to a proxy of the largest size the
 * clip can end up with (smart_resize with VIDEO_MAX_PIXELS, which is the
 * final size for any clip sampling <= 64 frames, i.e. shorter than ~32 s at
 * 2 fps), bicubic with antialiasing as Cosmos's torchvision resize
 * (src/caption/resize.c), range-converted on the way to JPEG's full-range
 * YCbCr (so a decoder gets the RGB of a BT.601 conversion, as Cosmos's
 * decode does). Proxies are kept only while they can still be sampled: once
 * a window's length is certain (the clip has run `remainder` frames past
 * it), everything but its sampled frames is dropped and their buffers are
 * reused. At most window_size + remainder proxies plus the samples of
 * earlier windows are held (<= 383 + 2 per second of clip at the defaults,
 * each <= 602112 pixels in YUV 4:2:0, under 1 MB). At the end the sampled
 * proxies are scaled to the final size if it is smaller, JPEG-encoded from
 * the planes (no RGB round trip) and base64-encoded. */
#ifndef VC_CAPTION_FRAMER_H
#define VC_CAPTION_FRAMER_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

typedef struct vc_cap_frames_cfg {
    int64_t window_size;     /* 256 */
    int64_t remainder;       /* 128 */
    double sampling_fps;     /* 2.0 */
    double video_fps;        /* the clip's average frame rate */
    int jpeg_quality;        /* 1..100 */
} vc_cap_frames_cfg;

typedef struct vc_cap_window_frames {
    int64_t start, end;      /* clip frame indices, end inclusive */
    int nframes;
    int64_t *indices;
    int width, height;       /* of every frame */
    char **b64;              /* base64 JPEG per frame */
    size_t *b64_len;
} vc_cap_window_frames;

typedef struct vc_cap_clip_frames {
    int nwindows;
    vc_cap_window_frames *w;
    int64_t n_total;         /* frames sampled over the clip */
} vc_cap_clip_frames;

typedef struct vc_cap_framer vc_cap_framer;

/* Proxy buffers passed from one clip's framer to the next on the same
 * thread: a fresh ~1 MB buffer costs ~250 page faults, as much as half its
 * resize. A pool keeps at most what its last framer held at its peak, so
 * the peak memory is unchanged. One thread at a time. */
typedef struct vc_cap_pool vc_cap_pool;
vc_cap_pool *vc_cap_pool_new(void);
void vc_cap_pool_free(vc_cap_pool *p);

/* width, height: the clip's size (the frames' top-left width x height).
 * pool: where proxies come from and go back to when the framer is freed
 * (NULL: none). */
vc_cap_framer *vc_cap_framer_new(const vc_cap_frames_cfg *c, int width, int height, vc_cap_pool *pool);
/* Frames in clip order, index 0, 1, 2, ... Returns -1 on a scaler failure. */
int vc_cap_framer_add(vc_cap_framer *f, const AVFrame *frame, int64_t index);
/* The clip has n frames: windows and their encoded frames. -1 with err set
 * (e.g. an aspect ratio Cosmos refuses). */
int vc_cap_framer_finish(vc_cap_framer *f, int64_t n, vc_cap_clip_frames *out, char *err, size_t errlen);
void vc_cap_framer_free(vc_cap_framer *f);
/* Proxies held right now (for tests of the memory bound). */
int vc_cap_framer_held(const vc_cap_framer *f);

/* Sizes only, without pixels: what finish() would produce for n frames. */
int vc_cap_plan(const vc_cap_frames_cfg *c, int width, int height, int64_t n, vc_cap_clip_frames *out);
void vc_cap_clip_frames_free(vc_cap_clip_frames *c);

#endif
