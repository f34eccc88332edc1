/* Which input videos a split run processes: Cosmos Curator's resume rule
 * (video_pipe_input.extract_single_cam_split_tasks) and its --limit and
 * --input-video-list-json-path handling. */
#ifndef VC_DATASET_RESUME_H
#define VC_DATASET_RESUME_H

#include <stdbool.h>
#include <stdint.h>

#include "util/common.h"

typedef struct vc_resume_input {
    const char *input_path;      /* --input-video-path */
    const char *output_path;     /* --output-clip-path */
    const char *list_json_path;  /* --input-video-list-json-path, or NULL */
    int64_t limit;               /* --limit, 0 = all */
} vc_resume_input;

typedef struct vc_resume_result {
    vc_strlist all_videos;       /* relpaths listed this run (summary.json covers these) */
    vc_strlist to_process;       /* relpaths to process, in order */
    size_t num_processed;        /* fully processed videos found under processed_videos/ */
} vc_resume_result;

/* A video is fully processed iff processed_videos/{rel}.json parses, has a
 * num_clip_chunks, and processed_clip_chunks/{rel}_{i}.json exists for every
 * i < num_clip_chunks (so num_clip_chunks 0 - a video without clips - is
 * done). Returns the sorted relpaths of such videos in out. */
void vc_resume_find_processed(const char *output_path, vc_strlist *out);

/* The selection: listing = the JSON list (never truncated), or every file
 * under input_path in sorted order, truncated to the first
 * |processed| + limit entries when limit > 0; remove processed videos, then
 * keep the first limit. Returns 0, or -1 with *err (a message naming the
 * file or entry at fault; free it) when the input cannot be listed. */
int vc_resume_select(const vc_resume_input *in, vc_resume_result *out, char **err);

/* The pure part of vc_resume_select, for given listings. */
void vc_resume_filter(const vc_strlist *listed, const vc_strlist *processed_sorted, int64_t limit,
                      vc_strlist *to_process);

void vc_resume_result_free(vc_resume_result *r);

#endif
