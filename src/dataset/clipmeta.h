/* Per-clip metadata, metas/v0/{clip_uuid}.json, as Cosmos Curator's
 * ClipWriterStage._make_clip_metadata builds it (key order matters: shard
 * packs this dict and tools diff it). */
#ifndef VC_DATASET_CLIPMETA_H
#define VC_DATASET_CLIPMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "dataset/model.h"

/* What later stages add to a clip's metadata. Zero-initialise it: all off,
 * no windows (captioning disabled), no extra errors. */
typedef struct vc_clipmeta_opts {
    bool has_motion_score;                 /* motion stage ran */
    double motion_global_mean;
    double motion_per_patch_min_256;
    bool has_aesthetic_score;              /* aesthetic stage ran */
    double aesthetic_score;
    json_t *extra;                         /* borrowed object, or NULL: keys copied after
                                              aesthetic_score, before "errors" (e.g.
                                              qwen_type_classification, post_production_text) */
    const char *const *error_keys;         /* clip.errors keys after "transcode" */
    size_t n_error_keys;
    json_t *windows;                       /* borrowed array of window objects, NULL = [] */
    json_t *filtered_windows;              /* borrowed array, NULL = [] */
    bool has_caption;                      /* a window has a success/truncated caption */
    int64_t total_prompt_tokens;
    int64_t total_output_tokens;
} vc_clipmeta_opts;

/* The metadata dict for clip c of video v; clip_location is where its mp4
 * goes ({out}/clips/{uuid}.mp4, or filtered_clips/ for filtered clips).
 * Same as vc_clipmeta_json_ex with all options off. New reference. */
json_t *vc_clipmeta_json(const vc_video *v, const vc_clip *c, const char *clip_location);

json_t *vc_clipmeta_json_ex(const vc_video *v, const vc_clip *c, const char *clip_location,
                            const vc_clipmeta_opts *opts);

/* {"start_frame": s, "end_frame": e} (end inclusive, as Cosmos windows);
 * add "<algo>_caption" etc. to it, then append it to opts->windows. */
json_t *vc_clipmeta_window(int64_t start_frame, int64_t end_frame);

/* True when the clip has encoded bytes (Python's bool(clip.encoded_data)). */
bool vc_clip_has_mp4(const vc_clip *c);

#endif
