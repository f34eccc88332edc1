/* TransNetV2 shot detection on a stream of decoded frames.
 *
 * Each frame is scaled to 48x27 RGB24 exactly as
 * `ffmpeg -i V -f rawvideo -pix_fmt rgb24 -s 48x27 -` does (libswscale,
 * bicubic), kept in a ring of the last frames, and the network runs on
 * windows of 100 frames with stride 50 as soon as a window is complete,
 * keeping the middle 50 predictions of each. So predictions trail the
 * decoder by at most 75 frames and memory does not grow with the video.
 *
 * Two compatibility modes (cosmos-curate.md §2.2, peers.md §1.2):
 *  - COSMOS (default): Cosmos Curator's _get_batches (the tail windows are
 *    shorter than 100 frames, unpadded) and _get_scenes (scenes end where a
 *    transition run starts, exclusive; the last frame of the video is dropped
 *    when any transition was found; no transition: one scene, whole video);
 *  - REFERENCE: TransNetV2's own predict_frames (tail padded with the last
 *    frame) and predictions_to_scenes (a scene ends ON the first transition
 *    frame, inclusive; the last frame is kept).
 * A frame is a transition frame when its single-frame probability is
 * strictly greater than the threshold. */
#ifndef VC_DETECT_TNET_DETECTOR_H
#define VC_DETECT_TNET_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/detector.h"

struct AVFrame;
struct vc_tnet;

typedef enum { VC_TNET_COMPAT_COSMOS, VC_TNET_COMPAT_REFERENCE } vc_tnet_compat;

int vc_tnet_compat_parse(const char *s, vc_tnet_compat *out);   /* 0, or -1 */

/* Turns per-frame transition flags into shot events, one flag at a time.
 * Pure logic, no model: unit-tested against the Python rules. */
typedef struct vc_tnet_scene_rule {
    vc_tnet_compat compat;
    int64_t n;             /* flags seen */
    bool prev;             /* previous flag */
    int64_t run_start;     /* first frame of the current transition run */
    bool any_scene;        /* a transition closed a scene (Cosmos' `scenes` non-empty) */
} vc_tnet_scene_rule;

void vc_tnet_scene_rule_init(vc_tnet_scene_rule *r, vc_tnet_compat compat);
/* Feeds the flag of frame r->n; returns true and fills *ev when an event
 * becomes known. */
bool vc_tnet_scene_rule_push(vc_tnet_scene_rule *r, bool transition, vc_shot_event *ev);
/* End of video: the event the final rule adds, if any. */
bool vc_tnet_scene_rule_end(vc_tnet_scene_rule *r, vc_shot_event *ev);
/* Frames before this have all their events out. */
int64_t vc_tnet_scene_rule_settled(const vc_tnet_scene_rule *r);

/* Per-frame probabilities, for `vcurate detect --predictions`. */
typedef vc_frame_pred_fn vc_tnet_pred_fn;

typedef struct vc_tnet_detector vc_tnet_detector;

/* The model is shared (forward calls on it are serialised); it must outlive
 * the detector. */
vc_tnet_detector *vc_tnet_detector_new(struct vc_tnet *model, double threshold, vc_tnet_compat compat,
                                       char *err, size_t errlen);
int  vc_tnet_detector_push(vc_tnet_detector *d, const struct AVFrame *frame);  /* 0 or <0 (see error) */
/* Pushes one frame that is already 48x27 RGB24 (for tests and tools). */
int  vc_tnet_detector_push_rgb(vc_tnet_detector *d, const uint8_t *rgb);
int  vc_tnet_detector_finish(vc_tnet_detector *d);
bool vc_tnet_detector_next_event(vc_tnet_detector *d, vc_shot_event *ev);
int64_t vc_tnet_detector_final_before(const vc_tnet_detector *d);
int  vc_tnet_detector_latency(const vc_tnet_detector *d);
const char *vc_tnet_detector_error(const vc_tnet_detector *d);
void vc_tnet_detector_set_pred_callback(vc_tnet_detector *d, vc_tnet_pred_fn fn, void *opaque);
/* Slice threads for the 48x27 scaling: a 1080p frame costs ~0.7 ms on one
 * core, as much as decoding it; the output is the same for any count. */
void vc_tnet_detector_set_scale_threads(vc_tnet_detector *d, int threads);
void vc_tnet_detector_free(vc_tnet_detector *d);

#endif
