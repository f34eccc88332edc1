#include "nn/t5_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vc_t5_text_open(vc_t5_text *t, const char *repo_dir, const vc_t5_opts *opts, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    size_t n = strlen(repo_dir) + 16;
    char *sp = malloc(n);
    if (!sp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(sp, n, "%s/spiece.model", repo_dir);
    t->tok = vc_t5_tok_load(sp, err, errlen);
    free(sp);
    if (!t->tok)
        return -1;
    if (!(t->model = vc_t5_open(repo_dir, opts, err, errlen))) {
        vc_t5_text_close(t);
        return -1;
    }
    return 0;
}

void vc_t5_text_close(vc_t5_text *t)
{
    vc_t5_close(t->model);
    vc_t5_tok_free(t->tok);
    memset(t, 0, sizeof *t);
}

void vc_t5_embedding_free(vc_t5_embedding *e)
{
    free(e->data);
    memset(e, 0, sizeof *e);
}

int vc_t5_text_embed(vc_t5_text *t, int n, const char *const *captions, vc_t5_embedding *out, char *err,
                     size_t errlen)
{
    if (n <= 0)
        return 0;
    memset(out, 0, (size_t)n * sizeof *out);
    int d = vc_t5_config_of(t->model)->d_model;
    int32_t **ids = calloc((size_t)n, sizeof *ids);
    int *lens = calloc((size_t)n, sizeof *lens);
    float **f32 = calloc((size_t)n, sizeof *f32);
    int rc = -1;
    if (!ids || !lens || !f32) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (!(ids[i] = malloc(VC_T5_MAX_TOKENS * sizeof **ids))) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        int len = vc_t5_tok_encode(t->tok, captions[i], VC_T5_MAX_TOKENS, ids[i], err, errlen);
        if (len < 0)
            goto done;
        lens[i] = len;
        if (!(f32[i] = malloc((size_t)len * d * sizeof(float)))) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
    }
    if (vc_t5_encode(t->model, n, (const int32_t *const *)ids, lens, f32, err, errlen))
        goto done;
    for (int i = 0; i < n; i++) {
        size_t cnt = (size_t)lens[i] * d;
        if (!(out[i].data = malloc(cnt * sizeof(uint16_t)))) {
            snprintf(err, errlen, "out of memory");
            for (int k = 0; k < i; k++)
                vc_t5_embedding_free(&out[k]);
            goto done;
        }
        for (size_t k = 0; k < cnt; k++)
            out[i].data[k] = vc_f32_to_f16(f32[i][k]);
        out[i].rows = lens[i];
        out[i].cols = d;
    }
    rc = 0;
done:
    for (int i = 0; i < n; i++) {
        if (ids)
            free(ids[i]);
        if (f32)
            free(f32[i]);
    }
    free(ids);
    free(lens);
    free(f32);
    return rc;
}
