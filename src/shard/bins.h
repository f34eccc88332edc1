/* Cosmos Curator's shard bins (core/utils/dataset/dimensions.py,
 * ResolutionAspectRatioFramesBinsSpec.for_standard_video_datasets):
 *   resolution   min(w,h) >= 1080 -> "1080", >= 720 -> "720", else "lt_720"
 *   aspect w/h   (0,0.65] 9_16, (0.65,0.88] 3_4, (0.88,1.16] 1_1,
 *                (1.16,1.55] 4_3, (1.55,10] 16_9
 *   duration s   [5,10] 5_10, [10,30] 10_30, [30,2**63-1] 30_inf
 * The spec's bin list is scanned in order and the first match wins, so the
 * shared edges go to the shorter bin (10 s -> 5_10, 30 s -> 10_30).
 * Our addition (opt-in): [0,5) -> "0_5" for clips Cosmos drops. */
#ifndef VC_SHARD_BINS_H
#define VC_SHARD_BINS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum vc_shard_nobin {
    VC_SHARD_BIN_OK = 0,
    VC_SHARD_NOBIN_FRAMERATE,    /* framerate missing or <= 0 */
    VC_SHARD_NOBIN_ASPECT,       /* w/h outside (0,10], or height 0 */
    VC_SHARD_NOBIN_TOO_SHORT,    /* under 5 s (and no short bin) */
    VC_SHARD_NOBIN_DURATION,     /* NaN or beyond 2**63-1 s */
} vc_shard_nobin;

typedef struct vc_shard_bin {
    const char *resolution;   /* "1080", "720", "lt_720" */
    int ar_w, ar_h;           /* 16_9 ... */
    const char *duration;     /* "0_5", "5_10", "10_30", "30_inf" */
} vc_shard_bin;

/* Bin of a clip of width x height, num_frames / framerate seconds. */
vc_shard_nobin vc_shard_find_bin(double width, double height, double num_frames,
                                 double framerate, bool short_clip_bin, vc_shard_bin *out);

/* "resolution_720/aspect_ratio_16_9/duration_5_10" (new string). */
char *vc_shard_bin_path(const vc_shard_bin *b);

/* Short words for the log and the summary ("too_short", ...). */
const char *vc_shard_nobin_reason(vc_shard_nobin why);

#endif
