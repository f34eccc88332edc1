/* Turns shot-boundary events into clip membership, one frame at a time, so
 * clips can be encoded while the video is still being decoded.
 *
 * Rules (Cosmos Curator's _get_filtered_scenes, applied to every shot-based
 * detector): a scene is the run of frames between boundaries (a hard cut
 * starts a new scene; the frames of a gradual transition belong to no
 * scene). Each scene is cut into consecutive pieces of at most max_len frames
 * (only the first is kept in truncate mode), crop frames are trimmed from
 * both ends of every piece, and pieces shorter than min_len are dropped.
 *
 * Frame f's membership depends on boundaries up to f + crop, so the caller
 * must have pushed every event whose first frame is <= f + crop (or called
 * vc_segmenter_end) before asking about f. The last rule, min_len, is only
 * decidable when a clip is complete: vc_segmenter_keep() answers it then. */
#ifndef VC_SPLIT_SEGMENTER_H
#define VC_SPLIT_SEGMENTER_H

#include <stdbool.h>
#include <stdint.h>

#include "detect/detector.h"
#include "split/config.h"

typedef struct vc_segmenter vc_segmenter;

vc_segmenter *vc_segmenter_new(const vc_clip_rules *rules);
void vc_segmenter_free(vc_segmenter *s);

void vc_segmenter_push(vc_segmenter *s, const vc_shot_event *ev);  /* in frame order */
void vc_segmenter_end(vc_segmenter *s, int64_t num_frames);        /* no more frames */
/* Frames of look-ahead the caller must hold back: crop. */
int64_t vc_segmenter_lookahead(const vc_segmenter *s);

/* Is frame f (asked in increasing order) part of a clip? *piece identifies
 * the clip: consecutive frames with the same piece form one clip. */
bool vc_segmenter_place(vc_segmenter *s, int64_t f, int64_t *piece);
/* Does a complete clip of n frames survive the minimum-length rule? */
bool vc_segmenter_keep(const vc_segmenter *s, int64_t n);

/* Offline form for tests and `vcurate detect`: clips [start,end) of a video
 * of n frames from its events. Returns the count written (at most max). */
int vc_segment_offline(const vc_clip_rules *rules, const vc_shot_event *ev, int nev,
                       int64_t n, int64_t (*clips)[2], int max);

#endif
