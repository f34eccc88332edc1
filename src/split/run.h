/* State shared by the split stages, and the items that flow between them:
 * probe -> cut (decode, detect, encode) -> write. */
#ifndef VC_SPLIT_RUN_H
#define VC_SPLIT_RUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

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
    struct vc_caption_stage *cap;   /* captioning state, NULL when captions are off */
    struct vc_t5_stage *t5;         /* predict2 embeddings, NULL when off */
    atomic_int p2_short_warned;     /* predict2: the short-clip warning was printed */
    atomic_llong p2_windows;        /* predict2: windows written */
} vc_split_run;

/* One caption window's outcome (cosmos-curate.md §2.8: caption_status). */
typedef struct vc_cap_window_result {
    int64_t start, end;             /* clip frame indices, end inclusive */
    int status;                     /* vc_cap_status: success, truncated, error */
    char *caption;                  /* success / truncated */
    char *enhanced;                 /* --enhance-captions */
    int64_t prompt_tokens, output_tokens;
    char *error;                    /* error: why */
    uint16_t *t5;                   /* predict2: float16 [t5_rows][t5_cols], the caption's T5 */
    int t5_rows, t5_cols;
    bool p2_done;                   /* predict2: its three files exist already (a rerun) */
} vc_cap_window_result;

/* A clip's bookkeeping kept until its video is finalized (not its bytes). */
typedef struct vc_clip_note {
    vc_clip clip;           /* mp4 and error pointers cleared */
    vc_chunk_stats stats;   /* this clip's share of its chunk's counters */
    json_t *captions;       /* {"S_E": caption} of its captioned windows, or NULL */
    json_t *enhanced;       /* {"S_E": enhanced caption}, or NULL */
    int cap_failed;         /* caption windows that ended in error */
    char *cap_error;        /* the first such error */
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
    int64_t cap_passed;             /* clips the caption stage passed on */
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
    struct vc_cap_clip_frames *cap_frames;  /* VC_ITEM_CLIP: frames per caption window (cut -> caption) */
    vc_cap_window_result *cap;      /* VC_ITEM_CLIP: per-window outcome (caption -> write) */
    int ncap;
    bool cap_reused;                /* captions taken from an earlier run's metas */
} vc_split_item;

/* Videos are shared by the items that point at them: each item holds a
 * reference, and the last one released frees the video. */
vc_split_video *vc_split_video_new(const char *path, const char *relpath);
void vc_split_video_fail(vc_split_video *sv, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void vc_split_video_ref(vc_split_video *sv);
void vc_split_video_unref(vc_split_video *sv);
vc_split_item *vc_split_item_new(vc_item_kind kind, vc_split_video *sv); /* takes a reference */
void vc_split_item_free(vc_split_item *it);   /* frees clip bytes, releases the video */
void vc_split_item_drop(void *it);            /* stage drop callback */
void vc_cap_results_free(vc_cap_window_result *r, int n);

#endif
