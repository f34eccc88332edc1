/* The shard input: the clip list from split's summary.json and what each
 * clip's metas/{version}/{uuid}.json says (sharding_pipeline.py +
 * utils/video_pipe_input.py::extract_shard_tasks). Only the fields the plan
 * needs are kept; the metadata is re-read when its tar is packed, so memory
 * stays small for millions of clips. */
#ifndef VC_SHARD_CLIPS_H
#define VC_SHARD_CLIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/common.h"

typedef struct vc_shard_clip {
    char *listed;          /* uuid as listed in summary.json */
    char *metas_path;      /* {input}/metas/{version}/{listed}.json */
    char *uuid;            /* the metadata's span_uuid: the WebDataset key */
    char *mp4_path;        /* clip file to pack (clip_location, else {input}/clips/) */
    int64_t num_bytes;     /* metadata num_bytes: tar grouping, as Cosmos */
    int64_t file_bytes;    /* size of mp4_path */
    double width, height, num_frames, framerate;
    int windows;           /* windows in the metadata */
    int windows_captioned; /* windows holding "{algo}_caption" */
    vc_strlist other_captions; /* other "*_caption" keys seen in its windows */
    uint64_t metas_hash;   /* of the metadata bytes (rerun fingerprint) */
    int t5_src;            /* VC_SHARD_T5_* (shard/t5src.h) */
    int t5_windows;        /* windows with a string "{algo}_caption" */
    int64_t t5_bytes;      /* size of its t5_xxl member */
    const char *left_out;  /* NULL, or why the clip is not sharded */
    char *detail;          /* human detail for left_out */
    int bin;               /* plan bin index, -1 when none */
} vc_shard_clip;

typedef struct vc_shard_cliplist {
    vc_shard_clip *items;
    size_t len;
} vc_shard_cliplist;

/* Reasons a clip is left out (also the keys of shard_summary.json). */
#define VC_SHARD_LEFT_INVALID "invalid"
#define VC_SHARD_LEFT_MISSING_METAS "missing_metas"
#define VC_SHARD_LEFT_BAD_METAS "bad_metas"
#define VC_SHARD_LEFT_MISSING_MP4 "missing_mp4"
#define VC_SHARD_LEFT_DUPLICATE "duplicate_uuid"
#define VC_SHARD_LEFT_SMALL_SHARD "small_shard_dropped"

/* Every uuid in the `clips` arrays of summary.json's per-video entries,
 * deduplicated, in sorted order of their metas path (as Cosmos sorts).
 * Returns 0, or -1 with *err set. */
int vc_shard_list_clips(const char *input, const char *version, vc_shard_cliplist *out,
                        char **err);

/* Read every clip's metadata (threads in parallel) and fill the fields;
 * clips that cannot be used get left_out/detail. t5 (a const
 * vc_shard_t5 *, shard/t5src.h) classifies each clip's t5_xxl source. */
struct vc_shard_t5;
void vc_shard_load_clips(vc_shard_cliplist *l, const char *input, const char *caption_algo,
                         const struct vc_shard_t5 *t5, int threads);

void vc_shard_cliplist_free(vc_shard_cliplist *l);

/* 64-bit FNV-1a, for fingerprints. */
uint64_t vc_shard_fnv1a(uint64_t h, const void *data, size_t len);
#define VC_SHARD_FNV_INIT 0xcbf29ce484222325ULL

#endif
