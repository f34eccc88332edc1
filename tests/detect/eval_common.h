/* Test/bench helpers: decode a video through the detector, load a
 * ground-truth JSON (scripts/make-groundtruth.py) and score events. */
#ifndef VC_TESTS_DETECT_EVAL_COMMON_H
#define VC_TESTS_DETECT_EVAL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "detect/detector.h"

typedef struct eval_events {
    vc_shot_event *ev;
    size_t n, cap;
    int64_t frames;        /* frames decoded */
    double detect_secs;    /* time spent inside vc_detector_* calls */
    double total_secs;     /* decode + detect */
    int max_lag;           /* largest (frame pushed - final_before) seen */
    int ordered;           /* 1 if events came in increasing, non-overlapping order */
} eval_events;

/* 0, or -1 with err filled. stats_fn may be NULL. */
int eval_run(const char *path, const vc_detect_params *p, int threads, eval_events *out,
             vc_frame_stats_fn stats_fn, void *opaque, char *err, size_t errlen);
void eval_events_free(eval_events *e);

typedef struct gt_range { int64_t first, last; char type[16]; } gt_range;
/* Returns count (>= 0) or -1; *out is malloc'ed. */
int gt_load(const char *json_path, gt_range **out, char *err, size_t errlen);

typedef struct eval_score { int tp, fp, fn; double precision, recall, f1; } eval_score;
/* A detection matches a ground-truth range when [first,last] of the detection
 * intersects [gt.first - tol, gt.last + tol]; each side matched at most once. */
eval_score eval_match(const gt_range *gt, int ngt, const vc_shot_event *ev, size_t nev, int tol);

#endif
