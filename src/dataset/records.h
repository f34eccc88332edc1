/* The split pipeline's bookkeeping records under the output root, written
 * exactly as Cosmos Curator's ClipWriterStage does (json indent=4, never
 * overwriting an existing record), plus the output path scheme and the
 * clip re-chunking rule that decides how many chunk records a video gets. */
#ifndef VC_DATASET_RECORDS_H
#define VC_DATASET_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "dataset/model.h"
#include "util/uuid5.h"

/* ---- Output paths (all new strings). out = --output-clip-path. ---- */
char *vc_out_processed_video_path(const char *out, const char *relpath);   /* processed_videos/{rel}.json */
char *vc_out_clip_chunk_path(const char *out, const char *relpath, int64_t chunk);  /* processed_clip_chunks/{rel}_{i}.json */
char *vc_out_video_error_path(const char *out, const char *relpath, int64_t chunk); /* video_errors/{rel}_{i}.json */
char *vc_out_clip_mp4_path(const char *out, const char *clip_uuid, bool filtered);  /* clips|filtered_clips/{uuid}.mp4 */
char *vc_out_clip_meta_path(const char *out, const char *clip_uuid);       /* metas/v0/{uuid}.json */

/* str(pathlib.Path(input_path, relpath)): the form Cosmos records in
 * "video"/"source_video" and hashes into video and clip uuids; use it for
 * vc_video.path. (input_path should itself be normalised with vc_fs_pypath,
 * or Cosmos's relpath arithmetic breaks on "./" or "//".) */
char *vc_input_video_path(const char *input_path, const char *relpath);

/* uuid5(NAMESPACE_URL, path): the video_uuid of processed_videos records. */
void vc_video_uuid(const char *path, char out[VC_UUID_STR_LEN]);

/* ---- Re-chunking (ClipTranscodingStage: grouping.split_by_chunk_size) ----
 * Clips are taken in order; a chunk closes as soon as the sum of
 * int(span_end - span_start) over its clips reaches clip_re_chunk_size * 8
 * (256 s by default); a trailing partial chunk is kept. Writes the index of
 * each chunk's first clip to starts[0..k-1] and starts[k] = n (starts needs
 * n + 1 entries); returns k, the number of chunks (0 when n == 0). */
size_t vc_chunk_clips(const vc_clip *clips, size_t n, int64_t clip_re_chunk_size, size_t *starts);

/* ---- processed_videos/{rel}.json, written by chunk 0 only ----
 * {video, height, width, framerate, num_frames, duration, video_codec,
 *  pixel_format, audio_format, num_total_clips, num_clip_chunks, video_uuid}
 * A video that yields no clip gets num_total_clips 0, num_clip_chunks 0 (our
 * fix: Cosmos writes nothing and redoes it every run; its own resume and
 * summary readers accept num_clip_chunks 0 as "done, no clips"). */
json_t *vc_processed_video_json(const vc_video *v, int64_t num_total_clips, int64_t num_clip_chunks);
int vc_write_processed_video(const char *out, const vc_video *v, int64_t num_total_clips,
                             int64_t num_clip_chunks);

/* ---- processed_clip_chunks/{rel}_{i}.json, one per chunk ----
 * clips / filtered: this chunk's passed and filtered clips (uuids listed in
 * that order). all_windows / all_windows_enhanced: borrowed objects
 * {clip_uuid: {"S_E": caption}}, or NULL for {uuid: {}} per passed clip
 * (what Cosmos writes when captioning is off). */
typedef struct vc_chunk_record {
    int64_t chunk_index;
    const vc_chunk_stats *stats;
    const vc_clip *clips;
    size_t n_clips;
    const vc_clip *filtered;
    size_t n_filtered;
    json_t *all_windows;
    json_t *all_windows_enhanced;
} vc_chunk_record;

json_t *vc_clip_chunk_json(const vc_video *v, const vc_chunk_record *r);
int vc_write_clip_chunk(const char *out, const vc_video *v, const vc_chunk_record *r);

/* ---- video_errors/{rel}_{i}.json: {video, clip_chunk_index, errors} ----
 * errors: borrowed object {stage: message}. Cosmos writes this INSTEAD of
 * the processed records when the video has errors (so it is retried). */
json_t *vc_video_errors_json(const vc_video *v, int64_t chunk_index, json_t *errors);
int vc_write_video_errors(const char *out, const vc_video *v, int64_t chunk_index, json_t *errors);

/* ---- metas/v0/{uuid}.json (from vc_clipmeta_json) ---- */
int vc_write_clip_meta(const char *out, const char *clip_uuid, const json_t *meta);
/* The same, replacing an existing file (captions redone by a rerun). */
int vc_write_clip_meta_replace(const char *out, const char *clip_uuid, const json_t *meta);

/* Add one clip's contribution to its chunk's counters, as ClipWriterStage
 * does: passed clips count in num_clips_passed (+ transcoded when they have
 * bytes, + with_caption from meta's has_caption, + tokens); filtered clips
 * only in transcoded; both add their span to total/max_clip_duration.
 * with_embedding / with_webp: this clip had one. */
void vc_chunk_stats_add_clip(vc_chunk_stats *st, const vc_clip *c, bool filtered,
                             const json_t *meta, bool with_embedding, bool with_webp);

/* All writers return 0 when written, 1 when the file already existed and
 * was left alone ("already exists, skipping"), or -errno. They log errors
 * with the path. */

#endif
