/* Where each clip's t5_xxl member comes from.
 *
 * Cosmos Curator's shard (T5StageForShard) embeds, for every window holding
 * "{algo}_caption", the caption with the T5-11B encoder and packs
 * pickle.dumps([float16 [L, 1024] per such window]) as the clip's t5_xxl
 * member. `vcurate embed` writes exactly that member per clip:
 *   {input}/t5_xxl/{version}/{algo}/{uuid}.pickle
 *   {input}/t5_xxl/{version}/{algo}/{uuid}.json   (frames + caption sha256)
 * so shard packs that file unchanged when its record still matches the
 * clip's metas (same captioned windows, in order, same frames, same caption
 * hashes). Otherwise (never embedded, or captions edited since) the
 * embeddings are computed in this process with the T5 encoder, when its
 * weights are there; else shard stops at start-up, naming the clips and the
 * two fixes. A clip without captions gets the empty list, as in Cosmos.
 *
 * Member sizes are known before anything is packed (file size, or for
 * computed clips the pickle size of the token counts), so the plan predicts
 * every tar's size and an interrupted run resumes as before. */
#ifndef VC_SHARD_T5SRC_H
#define VC_SHARD_T5SRC_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "nn/t5_text.h"
#include "shard/clips.h"
#include "shard/plan.h"
#include "shard/shard.h"
#include "util/common.h"

/* vc_shard_clip.t5_src */
enum {
    VC_SHARD_T5_EMPTY = 0,  /* no captioned window (or --t5-embeddings empty): [] */
    VC_SHARD_T5_FILE,       /* vcurate embed's pickle, packed unchanged */
    VC_SHARD_T5_MISSING,    /* no pickle or record: computed here */
    VC_SHARD_T5_STALE,      /* record does not match the captions: computed here */
};

#define VC_SHARD_T5_RECORD_FORMAT "vcurate-t5-embeddings-1"  /* embed_cmd.c's RECORD_FORMAT */
#define VC_SHARD_T5_BATCH 16                                 /* Cosmos' T5 batch */

typedef struct vc_shard_t5 {
    vc_shard_t5_mode mode;
    const char *input, *version, *algo;
    char *caption_key;      /* "{algo}_caption" */
    char *dir;              /* {input}/t5_xxl/{version}/{algo} */
    bool dir_exists;
    int64_t empty_bytes;    /* len(pickle.dumps([])) */
    /* The encoder, open only when some packed clip is computed here. */
    bool open;
    vc_t5_text text;
    int d_model;
    pthread_mutex_t lock;   /* one forward pass at a time */
} vc_shard_t5;

/* Counts over the clips a plan packs. */
typedef struct vc_shard_t5_counts {
    int64_t empty, file, missing, stale;
    int64_t compute_windows;
} vc_shard_t5_counts;

void vc_shard_t5_init(vc_shard_t5 *t, const vc_shard_opts *o, const char *input);
void vc_shard_t5_free(vc_shard_t5 *t);

/* Sets c->t5_src / t5_windows / t5_bytes from the clip's parsed metadata and
 * its embed record (thread-safe; reads the record and stats the pickle). */
void vc_shard_t5_classify(const vc_shard_t5 *t, vc_shard_clip *c, json_t *metas);

/* The string "{caption_key}" values of the metadata's windows, in order:
 * the captions the t5 member holds one array each for. */
void vc_shard_t5_captions(json_t *metas, const char *caption_key, vc_strlist *out);

/* Start-up, after the plan: logs where the members come from; when some
 * packed clip must be computed here, checks the weights, opens the encoder
 * and sizes those members by tokenizing their captions. Returns 0, or -1
 * (logged: which clips, why, and the commands that fix it). */
int vc_shard_t5_prepare(vc_shard_t5 *t, const vc_shard_opts *o, vc_shard_cliplist *clips,
                        const vc_shard_plan *plan, int threads);

void vc_shard_t5_count(const vc_shard_cliplist *clips, vc_shard_t5_counts *out);

static inline bool vc_shard_t5_computed(const vc_shard_clip *c)
{
    return c->t5_src == VC_SHARD_T5_MISSING || c->t5_src == VC_SHARD_T5_STALE;
}

/* {dir}/{listed}.pickle (caller frees). */
char *vc_shard_t5_file(const vc_shard_t5 *t, const vc_shard_clip *c);

/* Embeds n captions with the open encoder, one pass at a time across the
 * pack workers. 0, or -1 with *err. */
int vc_shard_t5_embed(vc_shard_t5 *t, int n, const char *const *captions, vc_t5_embedding *out,
                      char **err);

#endif
