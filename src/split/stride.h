/* Fixed-stride spans, computed exactly as Cosmos Curator's
 * _populate_clips_fixed_stride so clip UUIDs and spans match bit for bit. */
#ifndef VC_SPLIT_STRIDE_H
#define VC_SPLIT_STRIDE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset/model.h"

typedef struct vc_stride_span {
    double start, end;                /* seconds */
    char uuid[VC_UUID_STR_LEN];       /* uuid5(URL, f"{session}_{start}_{end}") */
} vc_stride_span;

typedef struct vc_stride_spans {
    vc_stride_span *items;
    size_t len;
} vc_stride_spans;

/* first_ts: the video's first timestamp in seconds (Cosmos keeps it as float32). */
void vc_stride_make(vc_stride_spans *out, const char *session_id, const vc_video_info *info,
                    double first_ts, double clip_len_s, double min_clip_len_s, int64_t limit_clips);
void vc_stride_free(vc_stride_spans *s);

#endif
