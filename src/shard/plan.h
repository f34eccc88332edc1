/* Which clip goes into which tar (sharding_pipeline.py::_group_samples_*):
 * - bins in order of their first clip (Python dict insertion order over the
 *   sorted clip list), clips inside a bin in that sorted order;
 * - a new tar starts when current + clip num_bytes > target (a larger clip
 *   gets a tar of its own); with drop_small_shards the bin's last tar is
 *   dropped when it has < min_clips_per_tar clips;
 * - tars numbered 000000.. inside part_000000.., max_tars_per_part per part.
 * The plan is a pure function of the clip list and options: reruns rebuild
 * the same plan, which is what makes resuming safe. */
#ifndef VC_SHARD_PLAN_H
#define VC_SHARD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shard/clips.h"

typedef struct vc_shard_plan_opts {
    int64_t target_tar_bytes;
    int max_tars_per_part;
    int min_clips_per_tar;
    bool drop_small_shards;
    bool short_clip_bin;
} vc_shard_plan_opts;

typedef struct vc_shard_tar_plan {
    size_t bin;            /* index in plan.bins */
    int part, index;       /* part_{part:06d}/{index:06d}.tar */
    size_t *clips;         /* clip indices, in sample order */
    size_t nclips;
    int64_t mp4_bytes;     /* metadata num_bytes summed (the grouping measure) */
    char *rel;             /* "part_000000/000000.tar" */
} vc_shard_tar_plan;

typedef struct vc_shard_bin_plan {
    char *rel;             /* "resolution_720/aspect_ratio_16_9/duration_5_10" */
    size_t nclips;         /* clips packed in this bin */
    int64_t file_bytes;    /* mp4 bytes packed in this bin */
} vc_shard_bin_plan;

typedef struct vc_shard_plan {
    vc_shard_bin_plan *bins;
    size_t nbins;
    vc_shard_tar_plan *tars;  /* bin by bin, in bin order */
    size_t ntars;
} vc_shard_plan;

/* Bins every clip not yet left out (setting clip->bin or left_out), marks
 * duplicate keys, then groups into tars. Clips of dropped small shards get
 * left_out = small_shard_dropped. */
void vc_shard_plan_build(vc_shard_cliplist *clips, const vc_shard_plan_opts *o,
                         vc_shard_plan *out);

void vc_shard_plan_free(vc_shard_plan *p);

#endif
