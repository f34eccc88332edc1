/* Weight-free shot boundary detection on a stream of decoded frames.
 *
 * TransNetV2 (tnet_detector.c) runs the shot-transition network; two
 * weight-free hard-cut algorithms re-implement PySceneDetect (0.6/0.7):
 *  - content:  ContentDetector (mean HSV delta >= threshold, FlashFilter MERGE)
 *  - adaptive: AdaptiveDetector (content score / mean of its 2w neighbours)
 * and, unless params.gradual is false, a dissolve/fade detector (gradual.c)
 * reports gradual transitions as frame ranges that belong to no shot.
 *
 * Frames are pushed one at a time, in decode order, as they come out of
 * libavcodec (any pixel format). Events come out in increasing frame order,
 * each final once returned, at most vc_detector_latency() frames after the
 * frames they are about. Memory is bounded and independent of video length. */
#ifndef VC_DETECT_DETECTOR_H
#define VC_DETECT_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct AVFrame;

typedef enum { VC_DETECT_CONTENT, VC_DETECT_ADAPTIVE, VC_DETECT_TRANSNETV2 } vc_detect_algo;
struct vc_tnet;

typedef struct vc_detect_params {
    vc_detect_algo algo;
    double threshold;          /* content threshold (27) or adaptive_threshold (3.0) */
    double min_content_val;    /* adaptive: 15 */
    int window_width;          /* adaptive: 2 */
    int min_scene_len;         /* frames, flash filter (15) */
    bool gradual;              /* find dissolves/fades (default true) */
    /* Gradual-transition knobs (see gradual.c for their meaning). */
    int gradual_min_len;           /* shortest blend run, frames (4) */
    int gradual_max_len;           /* longest window tested, frames (24); longer
                                      dissolves are found as chains of windows */
    double gradual_min_diff;       /* endpoint difference, mean |dYUV| of tiny images, 0..255 (10) */
    double gradual_max_path_ratio; /* sum of frame-to-frame diffs / endpoint diff (1.3) */
    double gradual_max_residual;   /* linear-blend residual energy / endpoint energy (0.08) */
    double gradual_max_alpha_dev;  /* |alpha - linear ramp| (0.25) */
    int merge_gap;                 /* cuts/transitions closer than this merge (10) */
    /* TransNetV2 (tnet_detector.c): the loaded model, shared by detectors */
    struct vc_tnet *tnet_model;
    double tnet_threshold;         /* 0.4 (Cosmos Curator's default) */
    int tnet_compat;               /* vc_tnet_compat: 0 Cosmos Curator, 1 reference TransNetV2 */
    int tnet_scale_threads;        /* slice threads for the 48x27 scaling (0: 1) */
} vc_detect_params;

void vc_detect_params_default(vc_detect_params *p, vc_detect_algo algo);

typedef enum { VC_SHOT_CUT, VC_SHOT_TRANSITION } vc_shot_kind;

typedef struct vc_shot_event {
    vc_shot_kind kind;
    int64_t first, last;   /* CUT: first==last== index of the first frame of the new shot.
                              TRANSITION (dissolve/fade): frames first..last inclusive belong to neither shot. */
    double score;          /* CUT: content score (adaptive: ratio); TRANSITION: endpoint difference */
} vc_shot_event;

/* Per-frame features, for debugging and stats export. */
typedef struct vc_frame_stats {
    int64_t frame;
    double content_val;    /* PySceneDetect content_val (0 for frame 0) */
    double delta_hue, delta_sat, delta_lum;
    double tiny_diff;      /* mean |dYUV| of the 4x-smaller image vs the previous frame */
} vc_frame_stats;
typedef void (*vc_frame_stats_fn)(void *opaque, const vc_frame_stats *st);

typedef struct vc_detector vc_detector;

/* width/height/pix_fmt describe the stream (pix_fmt is an enum AVPixelFormat);
 * frames of another size or format are still accepted. NULL + err on bad params. */
vc_detector *vc_detector_new(const vc_detect_params *p, double fps, int width, int height,
                             int pix_fmt, char *err, size_t errlen);
int  vc_detector_push(vc_detector *d, const struct AVFrame *frame);  /* frames 0,1,2,... ; 0 or negative AVERROR */
int  vc_detector_finish(vc_detector *d);                             /* end of stream; 0 or <0 */
const char *vc_detector_error(const vc_detector *d);                 /* after a failed push/finish */
bool vc_detector_next_event(vc_detector *d, vc_shot_event *ev);      /* events in increasing frame order */
int64_t vc_detector_final_before(const vc_detector *d);              /* INT64_MAX after finish */
int vc_detector_latency(const vc_detector *d);
/* Is frame f (not yet covered by a returned event) certain to fall inside a
 * transition, so that it can belong to no shot? Lets a caller that holds
 * frames for vc_detector_latency() free those early: while a fade is still
 * open the detector cannot settle it, but its frames are already doomed. */
bool vc_detector_frame_doomed(const vc_detector *d, int64_t f);
void vc_detector_set_stats_callback(vc_detector *d, vc_frame_stats_fn fn, void *opaque);
/* TransNetV2 only: per-frame probabilities of both heads, in frame order. */
typedef void (*vc_frame_pred_fn)(void *opaque, int64_t frame, float single, float many);
void vc_detector_set_pred_callback(vc_detector *d, vc_frame_pred_fn fn, void *opaque);
const char *vc_detect_algo_name(vc_detect_algo a);
int vc_detect_algo_parse(const char *s, vc_detect_algo *out);        /* 0, or -1 if unknown */
void vc_detector_free(vc_detector *d);

#endif
