/* WebP previews of a clip's caption windows, built while the clip is being
 * encoded. Windows follow Cosmos Curator's compute_windows: 256-frame
 * windows, a remainder of 128+ frames gets its own window, a shorter one
 * extends the last window. The clip's length is only known at its end, so
 * the frames that could extend the previous window are held (only those the
 * 1 fps sampling would show: a handful) until that is decided. */
#ifndef VC_SPLIT_PREVIEW_WINDOWS_H
#define VC_SPLIT_PREVIEW_WINDOWS_H

#include <stdint.h>

#include <libavutil/frame.h>

#include "dataset/model.h"
#include "split/run.h"

#define VC_WINDOW_SIZE 256
#define VC_WINDOW_REMAINDER 128

typedef struct vc_preview_set vc_preview_set;

vc_preview_set *vc_preview_set_new(const AVFrame *first, const vc_video_info *info, int64_t window_size,
                                   int64_t remainder);
void vc_preview_set_add(vc_preview_set *s, const AVFrame *frame, int64_t index);
/* The clip has n frames: finish the windows and attach them to the item. */
void vc_preview_set_finish(vc_preview_set *s, int64_t n, vc_split_item *it);
void vc_preview_set_free(vc_preview_set *s);

#endif
