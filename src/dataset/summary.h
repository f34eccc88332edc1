/* summary.json (and v0/all_window_captions.json) of a split run, built the
 * way Cosmos Curator's _write_split_result_summary builds them: from the
 * records on disk, so videos finished by earlier runs are covered too. The
 * previous file is kept as summary.json.bak{N}. */
#ifndef VC_DATASET_SUMMARY_H
#define VC_DATASET_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/common.h"

typedef struct vc_summary_input {
    const char *output_path;               /* --output-clip-path */
    const char *input_path;                /* --input-video-path */
    const vc_strlist *input_videos;        /* relpaths listed this run (vc_resume_result.all_videos) */
    int64_t num_input_videos_selected;     /* videos handed to the pipeline this run */
    const char *embedding_algorithm;       /* --embedding-algorithm, "internvideo2" by default */
    int64_t limit;                         /* --limit (only changes a log line, as in Cosmos) */
    double pipeline_run_time;              /* minutes */
    int64_t total_video_bytes;             /* Cosmos sums the source file size once per
                                              output task, i.e. size x num_clip_chunks per
                                              video (0 for a video without clips) */
    int64_t num_remuxed_videos;            /* this run's videos remuxed from mpegts (chunk 0 only) */
    bool write_all_caption_json;           /* also v0/all_window_captions.json (Cosmos default on) */
} vc_summary_input;

/* Build the summary dict. Key order: num_input_videos,
 * num_input_videos_selected, num_processed_videos, embedding_algorithm,
 * total_video_duration, total_clip_duration, max_clip_duration,
 * pipeline_run_time, total_video_bytes, num_remuxed_videos,
 * total_prompt_tokens, total_output_tokens, total_<10 counters>, then one
 * entry per listed video keyed by relpath, then output_tokens_per_s when any
 * output token was counted. If all_window_captions is not NULL it receives
 * the {relpath: {clip_uuid: {"S_E": caption}}} dict (new reference). */
json_t *vc_summary_json(const vc_summary_input *in, json_t **all_window_captions);

/* Build and write summary.json (and all_window_captions.json when asked),
 * backing up existing copies. Returns 0 or -errno (logged with the path). */
int vc_write_summary(const vc_summary_input *in);

/* Keep the current content of path as path.bak{N} (first free N >= 1), as
 * Cosmos's backup_file. 0 when done or path does not exist, else -errno. */
int vc_backup_file(const char *path);

#endif
