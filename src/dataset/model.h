/* The data that flows from the split pipeline into its output files.
 * Field names follow Cosmos Curator's metadata so the writers stay obvious. */
#ifndef VC_DATASET_MODEL_H
#define VC_DATASET_MODEL_H

#include <stdint.h>
#include <stdbool.h>

#include "util/uuid5.h"

/* What probing a source video tells (ffprobe-equivalent). */
typedef struct vc_video_info {
    int width, height;
    double fps;               /* avg_frame_rate num/den */
    int fps_num, fps_den;
    double duration;          /* stream duration, else container duration, s */
    int64_t num_frames;       /* int(duration * fps), as Cosmos Curator */
    int64_t bit_rate_k;       /* stream bit_rate / 1024, default 4000 */
    char video_codec[32];     /* e.g. "h264" */
    char pixel_format[32];    /* e.g. "yuv420p" */
    char audio_format[32];    /* audio codec name, "" when no audio */
    char format_name[64];     /* container, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    int64_t size_bytes;       /* file size */
} vc_video_info;

/* One output clip. */
typedef struct vc_clip {
    char uuid[VC_UUID_STR_LEN];
    int64_t start_frame, end_frame;   /* source frame indices, end exclusive */
    double span_start, span_end;      /* duration_span, seconds */
    /* Transcoded clip (from the encoder, not re-probed). */
    uint8_t *mp4;                     /* NULL when the transcode failed or --dry-run */
    size_t mp4_len;
    int width, height;
    double framerate;
    int64_t num_frames;
    const char *video_codec;          /* "h264" */
    char *error;                      /* transcode error, or NULL */
} vc_clip;

/* One input video as the writers see it. */
typedef struct vc_video {
    char *path;                       /* input path as listed: hashed into uuids */
    char *relpath;                    /* path relative to --input-video-path */
    char uuid[VC_UUID_STR_LEN];       /* uuid5(NAMESPACE_URL, path) */
    vc_video_info info;
    bool info_ok;
} vc_video;

/* Per-chunk counters written to processed_clip_chunks and summed in summary.json. */
typedef struct vc_chunk_stats {
    int64_t num_clips_filtered_by_motion;
    int64_t num_clips_filtered_by_aesthetic;
    int64_t num_clips_filtered_by_qwen_classifier;
    int64_t num_clips_filtered_by_qwen_semantic;
    int64_t num_clips_filtered_by_artificial_text;
    int64_t num_clips_passed;
    int64_t num_clips_transcoded;
    int64_t num_clips_with_embeddings;
    int64_t num_clips_with_caption;
    int64_t num_clips_with_webp;
    double total_clip_duration;
    double max_clip_duration;
    int64_t total_prompt_tokens;
    int64_t total_output_tokens;
} vc_chunk_stats;

#endif
