/* Captions to T5 embeddings as Cosmos Curator stores them: tokenizer
 * (tok/t5_tok.h) + encoder (t5.h), output float16 [L][d_model] per caption,
 * L = real tokens including </s> (<= 512), no padding rows. This is what
 * split's predict2 dataset, shard's t5_xxl family and `vcurate embed` need. */
#ifndef VC_NN_T5_TEXT_H
#define VC_NN_T5_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/t5.h"
#include "nn/tok/t5_tok.h"

typedef struct vc_t5_text {
    vc_t5 *model;
    vc_t5_tok *tok;
} vc_t5_text;

/* One caption's embedding: rows x cols IEEE half values (malloc'd). */
typedef struct vc_t5_embedding {
    uint16_t *data;
    int rows, cols;
} vc_t5_embedding;

/* Opens repo_dir (the google-t5/t5-11b folder: config.json, spiece.model and
 * a checkpoint, see vc_t5_opts). Returns 0 or -1 with err. */
int vc_t5_text_open(vc_t5_text *t, const char *repo_dir, const vc_t5_opts *opts, char *err, size_t errlen);
void vc_t5_text_close(vc_t5_text *t);

/* Embeds n captions (stripped, tokenized, encoded in one batch). out[i]
 * receives malloc'd data; free with vc_t5_embedding_free. Returns 0, or -1
 * with err (nothing left allocated). out[i].rows is L. */
int vc_t5_text_embed(vc_t5_text *t, int n, const char *const *captions, vc_t5_embedding *out, char *err,
                     size_t errlen);
void vc_t5_embedding_free(vc_t5_embedding *e);

#endif
