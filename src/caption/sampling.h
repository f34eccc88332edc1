/* Cosmos Curator's caption windows and frame sampling, as pure arithmetic
 * (cosmos-curate.md §2.8: windowing_utils.compute_windows,
 * vision_process.smart_nframes / read_video_cpu / fetch_video / smart_resize).
 * Everything here is integer-exact or reproduces Python's float arithmetic
 * (round-half-even included), so the frame counts, indices and sizes match. */
#ifndef VC_CAPTION_SAMPLING_H
#define VC_CAPTION_SAMPLING_H

#include <stdint.h>

#define VC_CAP_FACTOR 28                       /* IMAGE_FACTOR */
#define VC_CAP_MIN_PIXELS (128 * 28 * 28)      /* VIDEO_MIN_PIXELS */
#define VC_CAP_MAX_PIXELS (768 * 28 * 28)      /* VIDEO_MAX_PIXELS */
#define VC_CAP_TOTAL_PIXELS (24576 * 28 * 28)  /* VIDEO_TOTAL_PIXELS */
#define VC_CAP_MAX_FRAMES 768                  /* FPS_MAX_FRAMES */

/* compute_windows(n, size, remainder): fills [start, end] pairs (end
 * inclusive) into win (which must hold n / size + 1 entries) and returns
 * their count: none below 4 frames, one [0, n-1] up to size frames, else
 * size-frame windows, a remainder of at least `remainder` frames gets its own
 * window and a shorter one extends the last. */
int vc_cap_windows(int64_t n, int64_t size, int64_t remainder, int64_t (*win)[2]);
int vc_cap_windows_max(int64_t n, int64_t size);   /* room win needs */

/* smart_nframes(sampling_fps, T = end - start, video_fps): frames sampled
 * from a window; 0 when Cosmos would raise (never for windows of 4+ frames). */
int vc_cap_nframes(int64_t start, int64_t end, double video_fps, double sampling_fps);

/* round(torch.linspace(start, end - 1, n)): the clip frame indices sampled
 * from window [start, end] (the window's last frame is never sampled). */
void vc_cap_indices(int64_t start, int64_t end, int n, int64_t *out);

/* fetch_video's max_pixels for n_total frames sampled over the whole clip. */
int64_t vc_cap_max_pixels(int64_t n_total);

/* smart_resize(height, width, 28, VIDEO_MIN_PIXELS, max_pixels); -1 when the
 * aspect ratio exceeds 200 (Cosmos raises). */
int vc_cap_smart_resize(int height, int width, int64_t max_pixels, int *out_h, int *out_w);

#endif
