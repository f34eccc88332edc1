#include "split/stride.h"

#include <stdlib.h>

#include "util/common.h"
#include "util/pyfmt.h"

void vc_stride_make(vc_stride_spans *out, const char *session_id, const vc_video_info *info,
                    double first_ts, double clip_len_s, double min_clip_len_s, int64_t limit_clips)
{
    out->items = NULL;
    out->len = 0;
    if (info->fps <= 0 || info->num_frames <= 0)
        return;
    /* Cosmos: duration = num_frames / framerate; start = float(float32 first pts);
     * end_s = (start + duration) - start, then spans from 0.0. The round trip
     * through start is kept: it can change the last bits of end_s. */
    double duration = (double)info->num_frames / info->fps;
    double start = (double)(float)first_ts;
    double end_s = (start + duration) - start;
    size_t cap = 0;
    for (double t = 0.0; t < end_s; t += clip_len_s) {
        double e = VC_MIN(t + clip_len_s, end_s);
        if (e - t < min_clip_len_s)
            continue;
        if (limit_clips > 0 && (int64_t)out->len >= limit_clips)
            break;
        if (out->len == cap) {
            cap = cap ? cap * 2 : 16;
            out->items = vc_xrealloc(out->items, cap * sizeof(*out->items));
        }
        vc_stride_span *sp = &out->items[out->len++];
        sp->start = t;
        sp->end = e;
        char a[VC_PY_FLOAT_REPR_MAX], b[VC_PY_FLOAT_REPR_MAX];
        char *name = vc_asprintf("%s_%s_%s", session_id, vc_py_float_repr(t, a), vc_py_float_repr(e, b));
        vc_uuid5_url(name, sp->uuid);
        free(name);
    }
}

void vc_stride_free(vc_stride_spans *s)
{
    free(s->items);
    s->items = NULL;
    s->len = 0;
}
