/* Orders and merges candidate events from the cut rule and the gradual
 * finder, and releases them once final. */
#ifndef VC_DETECT_EVENT_MERGE_H
#define VC_DETECT_EVENT_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/detector.h"

typedef struct vc_event_merge {
    int gap;                 /* events closer than this (frames) merge when one is a transition */
    int latency;             /* an event is released at most this many frames after its first frame */
    vc_shot_event *pend;     /* candidates, sorted by first */
    size_t npend, cappend;
    vc_shot_event *ready;    /* final, not yet returned */
    size_t nready, capready, headready;
    int64_t out_last;        /* last frame covered by a released event, -1 if none */
} vc_event_merge;

void vc_event_merge_init(vc_event_merge *m, int gap, int latency);
void vc_event_merge_free(vc_event_merge *m);
void vc_event_merge_add(vc_event_merge *m, const vc_shot_event *ev);
/* fb: no new candidate will touch frames < fb (INT64_MAX at end of stream);
 * t: the frame just pushed. */
void vc_event_merge_release(vc_event_merge *m, int64_t fb, int64_t t);
bool vc_event_merge_next(vc_event_merge *m, vc_shot_event *ev);
int64_t vc_event_merge_final_before(const vc_event_merge *m, int64_t fb);
/* Is frame f inside a transition candidate that will surely be released as
 * (part of) a transition? Candidates only grow, never shrink or vanish. */
bool vc_event_merge_in_transition(const vc_event_merge *m, int64_t f);

#endif
