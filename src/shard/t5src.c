#include "shard/t5src.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "shard/parallel.h"
#include "shard/pickle.h"
#include "shard/pyload.h"
#include "storage/fs.h"
#include "storage/s3.h"
#include "util/log.h"

#define EXAMPLES 5   /* clips named in the start-up messages */

void vc_shard_t5_init(vc_shard_t5 *t, const vc_shard_opts *o, const char *input)
{
    memset(t, 0, sizeof *t);
    t->mode = o->t5_mode;
    t->input = input;
    t->version = o->annotation_version;
    t->algo = o->captioning_algorithm;
    t->caption_key = vc_asprintf("%s_caption", o->captioning_algorithm);
    t->dir = vc_asprintf("%s/t5_xxl/%s/%s", input, o->annotation_version, o->captioning_algorithm);
    /* one listing instead of a failed GET per clip when embed never ran */
    t->dir_exists = t->mode != VC_SHARD_T5_NONE && vc_fs_is_dir(t->dir);
    t->empty_bytes = (int64_t)vc_pickle_f16_array_list_size(NULL, 0);
    pthread_mutex_init(&t->lock, NULL);
}

void vc_shard_t5_free(vc_shard_t5 *t)
{
    if (t->open)
        vc_t5_text_close(&t->text);
    pthread_mutex_destroy(&t->lock);
    free(t->caption_key);
    free(t->dir);
    memset(t, 0, sizeof *t);
}

char *vc_shard_t5_file(const vc_shard_t5 *t, const vc_shard_clip *c)
{
    return vc_asprintf("%s/%s.pickle", t->dir, c->listed);
}

void vc_shard_t5_captions(json_t *metas, const char *caption_key, vc_strlist *out)
{
    size_t i;
    json_t *win;
    json_array_foreach(json_object_get(metas, "windows"), i, win) {
        json_t *cap = json_object_get(win, caption_key);
        if (json_is_string(cap))
            vc_strlist_push(out, json_string_value(cap));
    }
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The "windows" of the record `vcurate embed` writes for these captions:
 * [{start_frame, end_frame, caption_sha256}] of the windows holding a string
 * caption, frames read as embed reads them. */
static json_t *wanted_windows(json_t *metas, const char *caption_key)
{
    json_t *want = json_array();
    size_t i;
    json_t *win;
    json_array_foreach(json_object_get(metas, "windows"), i, win) {
        json_t *cap = json_object_get(win, caption_key);
        if (!json_is_string(cap))
            continue;
        char sha[65];
        sha256_hex(json_string_value(cap), sha);
        json_array_append_new(want, json_pack("{s:I,s:I,s:s}", "start_frame",
                                              json_integer_value(json_object_get(win, "start_frame")),
                                              "end_frame",
                                              json_integer_value(json_object_get(win, "end_frame")),
                                              "caption_sha256", sha));
    }
    return want;
}

static bool str_field_is(json_t *o, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && strcmp(v, want) == 0;
}

static bool record_matches(const vc_shard_t5 *t, json_t *rec, json_t *want)
{
    return json_is_object(rec) && str_field_is(rec, "format", VC_SHARD_T5_RECORD_FORMAT) &&
           str_field_is(rec, "captioning_algorithm", t->algo) &&
           str_field_is(rec, "annotation_version", t->version) &&
           json_equal(json_object_get(rec, "windows"), want);
}

void vc_shard_t5_classify(const vc_shard_t5 *t, vc_shard_clip *c, json_t *metas)
{
    c->t5_src = VC_SHARD_T5_EMPTY;
    c->t5_bytes = t->empty_bytes;
    c->t5_windows = 0;
    if (c->left_out || t->mode == VC_SHARD_T5_NONE)
        return;
    json_t *want = wanted_windows(metas, t->caption_key);
    c->t5_windows = (int)json_array_size(want);
    if (c->t5_windows == 0) {
        json_decref(want);
        return;
    }
    c->t5_src = VC_SHARD_T5_MISSING;
    if (t->dir_exists) {
        char *rp = vc_asprintf("%s/%s.json", t->dir, c->listed);
        size_t len = 0;
        char *text = vc_fs_read_all(rp, &len);
        if (text) {
            char *err = NULL;
            json_t *rec = vc_shard_json_loads(text, len, &err);
            if (!record_matches(t, rec, want)) {
                c->t5_src = VC_SHARD_T5_STALE;
            } else {
                char *pk = vc_shard_t5_file(t, c);
                int64_t size = -1;
                if (vc_fs_size(pk, &size) == 0) {
                    c->t5_src = VC_SHARD_T5_FILE;
                    c->t5_bytes = size;
                }
                free(pk);
            }
            json_decref(rec);
            free(err);
            free(text);
        }
        free(rp);
    }
    json_decref(want);
}

void vc_shard_t5_count(const vc_shard_cliplist *clips, vc_shard_t5_counts *n)
{
    memset(n, 0, sizeof *n);
    for (size_t i = 0; i < clips->len; i++) {
        const vc_shard_clip *c = &clips->items[i];
        if (c->left_out)
            continue;   /* not packed */
        switch (c->t5_src) {
        case VC_SHARD_T5_FILE: n->file++; break;
        case VC_SHARD_T5_MISSING: n->missing++; break;
        case VC_SHARD_T5_STALE: n->stale++; break;
        default: n->empty++; break;
        }
        if (vc_shard_t5_computed(c))
            n->compute_windows += c->t5_windows;
    }
}

/* " --model-weights-path 'DIR'" when one was given (caller frees). */
static char *weights_arg(const vc_shard_opts *o)
{
    if (!o->model_weights_path)
        return vc_xstrdup("");
    char *q = vc_models_shell_quote(o->model_weights_path);
    char *s = vc_asprintf(" --model-weights-path %s", q);
    free(q);
    return s;
}

/* "N clips (M never embedded, K whose captions changed since), e.g. a, b". */
static char *describe(const vc_shard_cliplist *clips, const vc_shard_t5_counts *n,
                      const char *caption_key)
{
    vc_buf b = { 0 };
    char *head = vc_asprintf("%" PRId64 " clip%s with \"%s\" captions (%" PRId64
                             " never embedded, %" PRId64 " whose captions changed since), e.g. ",
                             n->missing + n->stale, n->missing + n->stale == 1 ? "" : "s",
                             caption_key, n->missing, n->stale);
    vc_buf_append(&b, head, strlen(head));
    free(head);
    int shown = 0;
    for (size_t i = 0; i < clips->len && shown < EXAMPLES; i++) {
        const vc_shard_clip *c = &clips->items[i];
        if (c->left_out || !vc_shard_t5_computed(c))
            continue;
        if (shown++)
            vc_buf_append(&b, ", ", 2);
        vc_buf_append(&b, c->listed, strlen(c->listed));
    }
    vc_buf_append(&b, "", 1);
    return (char *)b.data;
}

static void fail_no_weights(const vc_shard_t5 *t, const vc_shard_opts *o,
                            const vc_shard_cliplist *clips, const vc_shard_t5_counts *n,
                            const char *why)
{
    char *what = describe(clips, n, t->caption_key);
    char *wa = weights_arg(o);
    char *in = vc_models_shell_quote(t->input);
    vc_error("no up-to-date T5 embeddings in %s/ for %s; shard cannot compute them: %s\n"
             "Fix with either:\n"
             "  vcurate embed --input-clip-path %s --captioning-algorithm %s "
             "--annotation-version %s%s\n"
             "      computes and stores them there once; shard then packs them as they are\n"
             "  vcurate models download --models t5_xxl --encoder-only%s\n"
             "      gets the T5 weights, so shard computes them itself (--model-weights-path, "
             "--device)%s",
             t->dir, what, why, in, t->algo, t->version, wa,
             wa, t->mode == VC_SHARD_T5_FILES ? ", without --t5-embeddings files" : "");
    free(in);
    free(wa);
    free(what);
}

/* ---- member sizes of the clips computed here ---- */

typedef struct size_ctx {
    vc_shard_t5 *t;
    vc_shard_cliplist *clips;
    const size_t *idx;
    atomic_int failed;
} size_ctx;

static void size_one(size_t k, void *opaque)
{
    size_ctx *ctx = opaque;
    vc_shard_clip *c = &ctx->clips->items[ctx->idx[k]];
    size_t len = 0;
    char *text = vc_fs_read_all(c->metas_path, &len);
    char *err = NULL;
    json_t *m = text ? vc_shard_json_loads(text, len, &err) : NULL;
    free(text);
    if (!json_is_object(m)) {
        vc_error("clip %s: cannot read %s again: %s", c->listed, c->metas_path,
                 err ? err : strerror(errno));
        atomic_fetch_add(&ctx->failed, 1);
        free(err);
        json_decref(m);
        return;
    }
    vc_strlist caps = { 0 };
    vc_shard_t5_captions(m, ctx->t->caption_key, &caps);
    vc_pickle_f16_array *arr = vc_xcalloc(caps.len ? caps.len : 1, sizeof *arr);
    int32_t ids[VC_T5_MAX_TOKENS];
    char terr[256];
    for (size_t i = 0; i < caps.len; i++) {
        int n = vc_t5_tok_encode(ctx->t->text.tok, caps.items[i], VC_T5_MAX_TOKENS, ids, terr,
                                 sizeof terr);
        if (n < 0) {
            vc_error("clip %s: caption %zu: %s", c->listed, i, terr);
            atomic_fetch_add(&ctx->failed, 1);
            break;
        }
        arr[i] = (vc_pickle_f16_array){ NULL, n, ctx->t->d_model };
    }
    c->t5_bytes = (int64_t)vc_pickle_f16_array_list_size(arr, caps.len);
    free(arr);
    vc_strlist_free(&caps);
    json_decref(m);
}

static int open_encoder(vc_shard_t5 *t, const vc_shard_opts *o, const vc_shard_cliplist *clips,
                        const vc_shard_t5_counts *n)
{
    char err[2048];
    char *folder = NULL, *ckpt = NULL;
    /* an s3:// folder is fetched into a local cache (the loader maps files) */
    char *weights = vc_models_localize(o->model_weights_path ? o->model_weights_path : vc_models_default_dir(),
                                       "t5_xxl", err, sizeof err);
    if (!weights) {
        fail_no_weights(t, o, clips, n, err);
        return -1;
    }
    char *cfg = vc_fs_join(weights, "config.json");
    bool direct = vc_fs_exists(cfg);   /* a Hugging Face folder given directly, as embed takes */
    free(cfg);
    if (direct) {
        folder = vc_xstrdup(weights);
    } else {
        static const char *const ids[] = { "t5_xxl", NULL };
        if (vc_models_check(weights, ids, err, sizeof err) < 0 ||
            !(ckpt = vc_models_checkpoint_path(weights, "t5_xxl", err, sizeof err))) {
            fail_no_weights(t, o, clips, n, err);
            free(weights);
            return -1;
        }
        folder = vc_models_repo_dir(weights, vc_models_find("t5_xxl"));
    }
    free(weights);
    vc_nn_device dev = o->device;
    if (dev.kind == VC_DEV_CUDA && !vc_t5_has_cuda()) {
        vc_error("--device cuda: this build has no CUDA T5 encoder (built without nvcc); use "
                 "--device cpu");
        free(folder);
        free(ckpt);
        return -1;
    }
    dev = vc_t5_has_cuda() ? vc_nn_device_resolve(dev) : (vc_nn_device){ VC_DEV_CPU, 0 };
    vc_t5_opts to = { .checkpoint = ckpt, .threads = o->t5_threads,
                      .cuda = dev.kind == VC_DEV_CUDA, .cuda_device = dev.index };
    double t0 = vc_now();
    int rc = vc_t5_text_open(&t->text, folder, &to, err, sizeof err);
    if (rc) {
        fail_no_weights(t, o, clips, n, err);
    } else {
        t->open = true;
        const vc_t5_config *cf = vc_t5_config_of(t->text.model);
        t->d_model = cf->d_model;
        char dn[32];
        vc_info("T5 encoder %s (%d layers, d_model %d) on %s, opened in %.1f s",
                vc_t5_checkpoint_path(t->text.model), cf->num_layers, cf->d_model,
                vc_nn_device_name(dev, dn, sizeof dn), vc_now() - t0);
    }
    free(folder);
    free(ckpt);
    return rc ? -1 : 0;
}

int vc_shard_t5_prepare(vc_shard_t5 *t, const vc_shard_opts *o, vc_shard_cliplist *clips,
                        const vc_shard_plan *plan, int threads)
{
    (void)plan; /* the clips it packs are those not left out */
    if (t->mode == VC_SHARD_T5_NONE) {
        vc_info("t5_xxl: empty lists for every clip (--t5-embeddings empty)");
        return 0;
    }
    vc_shard_t5_counts n;
    vc_shard_t5_count(clips, &n);
    int64_t need = n.missing + n.stale;
    vc_info("t5_xxl members: %" PRId64 " from vcurate embed (%s/), %" PRId64 " to compute here, %" PRId64
            " without \"%s\" captions (empty lists)", n.file, t->dir, need, n.empty, t->caption_key);
    if (need == 0)
        return 0;
    if (t->mode == VC_SHARD_T5_FILES) {
        fail_no_weights(t, o, clips, &n, "--t5-embeddings files does not load the encoder");
        return -1;
    }
    if (open_encoder(t, o, clips, &n) < 0)
        return -1;
    size_t *idx = vc_xcalloc((size_t)need, sizeof *idx);
    size_t k = 0;
    for (size_t i = 0; i < clips->len; i++)
        if (!clips->items[i].left_out && vc_shard_t5_computed(&clips->items[i]))
            idx[k++] = i;
    size_ctx ctx = { .t = t, .clips = clips, .idx = idx };
    vc_shard_parallel_for(k, threads, size_one, &ctx);
    free(idx);
    if (atomic_load(&ctx.failed))
        return -1;
    vc_info("computing the T5 embeddings of %" PRId64 " clips (%" PRId64 " captions) while packing "
            "(`vcurate embed` stores them for reuse)", need, n.compute_windows);
    return 0;
}

int vc_shard_t5_embed(vc_shard_t5 *t, int n, const char *const *captions, vc_t5_embedding *out,
                      char **err)
{
    char e[512];
    pthread_mutex_lock(&t->lock);
    int rc = vc_t5_text_embed(&t->text, n, captions, out, e, sizeof e);
    pthread_mutex_unlock(&t->lock);
    if (rc)
        *err = vc_asprintf("T5: %s", e);
    return rc ? -1 : 0;
}
