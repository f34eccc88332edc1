/* `vcurate shard`: split output -> WebDataset tar shards, laid out as
 * Cosmos Curator's Shard-Dataset pipeline writes them (cosmos-curate.md §4):
 *   {out}/{version}/resolution_R/aspect_ratio_W_H/duration_D/
 *       {video,metas,t5_xxl}/part_PPPPPP/TTTTTT.tar, wdinfo.json
 *   {out}/{version}/wdinfo_list.csv
 * plus ours: {out}/{version}/shard_summary.json (every clip left out and
 * why) and {out}/{version}/.vcurate-shard-state.json (plan fingerprint).
 *
 * Reruns: Cosmos refuses a non-empty output. We accept one written by an
 * earlier run of the same plan (same clips, metadata bytes, clip sizes and
 * options, checked by fingerprint) and only write the tars that are missing,
 * so an interrupted run completes and a finished one is left unchanged.
 * Anything else in the output is refused, as Cosmos does. */
#ifndef VC_SHARD_SHARD_H
#define VC_SHARD_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/device.h"

/* --t5-embeddings: where the t5_xxl members come from (shard/t5src.h). */
typedef enum {
    VC_SHARD_T5_AUTO,   /* vcurate embed's pickles; the rest computed here, or an error */
    VC_SHARD_T5_FILES,  /* vcurate embed's pickles only: never load the encoder */
    VC_SHARD_T5_NONE,   /* empty lists for every clip (no T5) */
} vc_shard_t5_mode;

typedef struct vc_shard_opts {
    const char *input_clip_path;
    const char *output_dataset_path;
    const char *annotation_version;    /* "v0" */
    const char *captioning_algorithm;  /* "qwen" */
    int max_tars_per_part;             /* 100 */
    int64_t target_tar_size_mb;        /* 500 (MiB of clip bytes) */
    int min_clips_per_tar;             /* 1 */
    bool drop_small_shards;            /* false */
    bool short_clip_bin;               /* false: our duration_0_5 bin */
    int threads;                       /* <= 0: auto */
    bool progress_tty;                 /* draw a live progress line */
    vc_shard_t5_mode t5_mode;          /* auto */
    const char *model_weights_path;    /* NULL: vc_models_default_dir() */
    vc_nn_device device;               /* T5 encoder, when computed here (auto) */
    int t5_threads;                    /* CPU encoder threads (0: all cores) */
} vc_shard_opts;

void vc_shard_opts_init(vc_shard_opts *o);

/* Run the whole pipeline. Returns 0 on success, 1 on failure (logged). */
int vc_shard_run(const vc_shard_opts *o);

#endif
