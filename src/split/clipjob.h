/* Clip encoders of one video: a small pool of threads, each turning the
 * frames of one clip at a time into an mp4 in memory, so clip encoding runs
 * alongside decoding and alongside other clips of the same video. */
#ifndef VC_SPLIT_CLIPJOB_H
#define VC_SPLIT_CLIPJOB_H

#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "pipeline/stage.h"
#include "split/run.h"

typedef struct vc_clip_pool_cfg {
    const vc_split_config *cfg;
    vc_split_run *run;
    vc_split_video *sv;
    vc_stage_ctx *sctx;              /* finished clips are emitted here */
    const AVStream *video_stream;
    const AVStream *audio_stream;    /* NULL: no audio */
    int64_t start_pts;               /* video stream start, its time base */
} vc_clip_pool_cfg;

/* The cut stage fills these in before closing the job. */
typedef struct vc_clip_job {
    struct vc_clip_pool *pool;
    struct vc_queue *msgs;
    int64_t start_frame, end_frame;
    int64_t first_pts;
    char clip_uuid[VC_UUID_STR_LEN];
    double span_start, span_end;
    bool keep;
} vc_clip_job;

typedef struct vc_clip_pool vc_clip_pool;

vc_clip_pool *vc_clip_pool_new(const vc_clip_pool_cfg *pc);
/* Start a clip whose first frame is first (not taken); blocks while every
 * encoder is busy and the backlog is full. */
vc_clip_job *vc_clip_pool_start(vc_clip_pool *p, int64_t start_frame, const AVFrame *first);
void vc_clip_job_frame(vc_clip_job *j, AVFrame *frame, int64_t index);  /* takes frame */
void vc_clip_job_audio(vc_clip_job *j, AVPacket *pkt);                  /* takes pkt */
/* No more frames. keep=false discards the clip (too short, or cancelled).
 * The job belongs to the encoder after this call. */
void vc_clip_job_close(vc_clip_job *j, bool keep);
/* Wait for every encoder; returns the number of clips emitted. */
int64_t vc_clip_pool_finish(vc_clip_pool *p);
void vc_clip_pool_free(vc_clip_pool *p);

#endif
