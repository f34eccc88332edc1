/* State shared by the split stages, and the items that flow between them:
 * probe -> cut (decode, detect, encode) -> write. */
#ifndef VC_SPLIT_RUN_H
#define VC_SPLIT_RUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dataset/model.h"
#include "split/config.h"

/* Live counters for the progress line and the final report. */
typedef struct vc_split_stats {
    atomic_llong videos_total;       /* selected for this run */
    atomic_llong videos_done;
    atomic_llong videos_failed;
    atomic_llong clips_written;
    atomic_llong clips_failed;
    atomic_llong frames_decoded;
    atomic_llong bytes_written;
    atomic_llong video_seconds_total; /* durations of selected videos, ms */
    atomic_llong video_seconds_done;  /* ms */
} vc_split_stats;

typedef struct vc_split_run {
    const vc_split_config *cfg;
    vc_split_stats stats;
    double t_start;
} vc_split_run;

/* A clip's bookkeeping kept until its video is finalized (not its bytes). */
typedef struct vc_clip_note {
    vc_clip clip;           /* mp4 and error pointers cleared */
    vc_chunk_stats stats;   /* this clip's share of its chunk's counters */
} vc_clip_note;

/* One input video on its way through the pipeline. */
typedef struct vc_split_video {
    vc_video v;
    char *error_stage;              /* first failure: stage name ... */
    char *error;                    /* ... and cause; NULL when fine */
    int64_t corrupt_packets;

    atomic_int refs;                /* one per item that points at it */
    pthread_mutex_t lock;           /* guards the fields below */
    vc_clip_note *notes;
    int64_t nnotes, cap_notes;
    int64_t clips_emitted;          /* set by cut when it is done */
    int64_t clips_handled;          /* by write */
    bool cut_done;
    bool finalized;
} vc_split_video;

typedef enum { VC_ITEM_VIDEO, VC_ITEM_CLIP, VC_ITEM_VIDEO_END } vc_item_kind;

typedef struct vc_split_item {
    vc_item_kind kind;
    vc_split_video *video;
    vc_clip clip;                   /* VC_ITEM_CLIP */
    uint8_t **previews;             /* VC_ITEM_CLIP: one WebP per caption window */
    size_t *preview_lens;
    int64_t (*preview_windows)[2];
    int npreviews;
} vc_split_item;

/* Videos are shared by the items that point at them: each item holds a
 * reference, and the last one released frees the video. */
vc_split_video *vc_split_video_new(const char *path, const char *relpath);
void vc_split_video_fail(vc_split_video *sv, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

vc_split_item *vc_split_item_new(vc_item_kind kind, vc_split_video *sv); /* takes a reference */
void vc_split_item_free(vc_split_item *it);   /* frees clip bytes, releases the video */
void vc_split_item_drop(void *it);            /* stage drop callback */

#endif
