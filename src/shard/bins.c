#include "shard/bins.h"

#include <math.h>

#include "util/common.h"

typedef struct ar_bin { double min_w_by_h, max_w_by_h; int w, h; } ar_bin;

static const ar_bin aspect_bins[] = {
    { 0, 0.65, 9, 16 }, { 0.65, 0.88, 3, 4 }, { 0.88, 1.16, 1, 1 },
    { 1.16, 1.55, 4, 3 }, { 1.55, 10, 16, 9 },
};

/* Python compares float and int exactly: dur <= 2**63 - 1 holds for a
 * double exactly when dur < 2**63. */
#define LENGTH_LIMIT 9223372036854775808.0

static const char *resolution_of(double width, double height)
{
    double m = VC_MIN(width, height);
    return m >= 1080 ? "1080" : m >= 720 ? "720" : "lt_720";
}

vc_shard_nobin vc_shard_find_bin(double width, double height, double num_frames,
                                 double framerate, bool short_clip_bin, vc_shard_bin *out)
{
    /* sharding_pipeline._group_samples_by_bin: `if framerate and framerate > 0` */
    if (!(framerate > 0))
        return VC_SHARD_NOBIN_FRAMERATE;
    if (height == 0)
        return VC_SHARD_NOBIN_ASPECT; /* Python would raise ZeroDivisionError */
    double w_by_h = width / height;
    double dur = num_frames / framerate;
    const ar_bin *ar = NULL;
    for (size_t i = 0; i < VC_ARRAY_LEN(aspect_bins) && !ar; i++)
        if (aspect_bins[i].min_w_by_h < w_by_h && w_by_h <= aspect_bins[i].max_w_by_h)
            ar = &aspect_bins[i];
    if (!ar)
        return VC_SHARD_NOBIN_ASPECT;
    const char *duration;
    if (5 <= dur && dur <= 10)
        duration = "5_10";
    else if (10 <= dur && dur <= 30)
        duration = "10_30";
    else if (30 <= dur && dur < LENGTH_LIMIT)
        duration = "30_inf";
    else if (short_clip_bin && 0 <= dur && dur < 5)
        duration = "0_5";
    else if (dur < 5)
        return VC_SHARD_NOBIN_TOO_SHORT;
    else
        return VC_SHARD_NOBIN_DURATION;
    out->resolution = resolution_of(width, height);
    out->ar_w = ar->w;
    out->ar_h = ar->h;
    out->duration = duration;
    return VC_SHARD_BIN_OK;
}

char *vc_shard_bin_path(const vc_shard_bin *b)
{
    return vc_asprintf("resolution_%s/aspect_ratio_%d_%d/duration_%s", b->resolution, b->ar_w,
                       b->ar_h, b->duration);
}

const char *vc_shard_nobin_reason(vc_shard_nobin why)
{
    switch (why) {
    case VC_SHARD_BIN_OK: return "ok";
    case VC_SHARD_NOBIN_FRAMERATE: return "bad_framerate";
    case VC_SHARD_NOBIN_ASPECT: return "bad_aspect_ratio";
    case VC_SHARD_NOBIN_TOO_SHORT: return "too_short";
    case VC_SHARD_NOBIN_DURATION: return "bad_duration";
    }
    return "unknown";
}
