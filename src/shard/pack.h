/* Writing the planned tars (read_write/download_stages.py::DownloadPackUpload):
 * for each tar, three parallel files with the same samples in the same order:
 *   video/{rel}   {uuid}.mp4    clip bytes, streamed from the clip file
 *   metas/{rel}   {uuid}.json   json.dumps(clip metadata), one line
 *   t5_xxl/{rel}  {uuid}.pickle pickle.dumps(list of T5 arrays), from
 *                               vcurate embed's file or computed here
 *                               (shard/t5src.h)
 * A worker pool packs tars in parallel; each file is renamed into place when
 * complete. A file already present with the size the plan predicts is kept
 * (it can only come from an earlier run of the same plan: see shard.c), so
 * an interrupted run resumes where it stopped. */
#ifndef VC_SHARD_PACK_H
#define VC_SHARD_PACK_H

#include <stdint.h>

#include "shard/clips.h"
#include "shard/plan.h"
#include "shard/t5src.h"

typedef struct vc_shard_pack_stats {
    int64_t files_written, files_kept;   /* tar files (3 per planned tar) */
    int64_t tars_failed;
    int64_t video_bytes;                 /* clip bytes packed or kept */
    int64_t clips_caption_missing;       /* clips marked valid:false (a window lacks the caption) */
    int64_t t5_clips_computed, t5_captions_computed;   /* embedded in this run */
} vc_shard_pack_stats;

typedef void (*vc_shard_progress_fn)(int64_t tars_done, int64_t bytes_done, void *opaque);

/* Returns 0 when every tar is in place, -1 otherwise (errors logged). */
int vc_shard_pack(const vc_shard_cliplist *clips, const vc_shard_plan *plan,
                  const char *out_root, const char *caption_algo, vc_shard_t5 *t5, int threads,
                  vc_shard_progress_fn progress, void *progress_opaque,
                  vc_shard_pack_stats *stats);

/* json.dumps of a clip's metadata as the metas member holds it: windows
 * lacking "{caption_key}" turn "valid" false, as Cosmos's T5 stage does.
 * *invalidated tells whether that happened; captions (when not NULL)
 * receives the windows' string captions, in order (vc_shard_t5_captions).
 * NULL with *err on failure. */
char *vc_shard_metas_member(const char *metas_path, const char *caption_key, bool *invalidated,
                            vc_strlist *captions, char **err);

#endif
