/* What ffprobe would report about a source video, through libavformat. */
#ifndef VC_VIDEO_PROBE_H
#define VC_VIDEO_PROBE_H

#include <stddef.h>

#include "dataset/model.h"

/* Fills info like Cosmos Curator's ffprobe step (cosmos-curate.md §2.1).
 * Returns 0, or -1 with a one-line cause in err ("no video stream (audio
 * only)", "unsupported video codec 'x'", "not a video file: ..."). */
int vc_probe_video(const char *path, vc_video_info *info, char *err, size_t errlen);

/* FFmpeg error code as text. */
const char *vc_av_err(int code, char buf[128]);

#endif
