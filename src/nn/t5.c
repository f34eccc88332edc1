#include "nn/t5.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nn/cpu/cpu_ops.h"
#include "nn/cpu/cpu_pool.h"
#include "nn/cpu/cpu_xformer.h"
#include "nn/weights.h"
#ifdef VC_T5_HAVE_CUDA
#include "nn/t5_cuda.h"
#endif

typedef struct t5_layer {
    const float *ln0, *q, *k, *v, *o;
    const float *ln1, *wi, *wi1, *wo;   /* wi1: the gate's second input (v1.1) */
} t5_layer;

struct vc_t5 {
    vc_t5_config cfg;
    char *ckpt;
    vc_weights *w;
    vc_cpu_pool *pool;
    vc_xact act;
    const float *embed;                 /* [vocab_rows][d_model] */
    int64_t embed_rows;
    const float *rel_bias;              /* [buckets][heads] */
    t5_layer *layers;
    const float *final_ln;
    float **owned;                      /* converted copies */
    size_t nowned;
    char **names;
    size_t nnames;
#ifdef VC_T5_HAVE_CUDA
    vc_t5_cuda *cuda;
#endif
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- config.json ---- */

static int cfg_int(json_t *cfg, const char *key, int def, bool required, int *out, const char *path,
                   char *err, size_t errlen)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        if (required) {
            set_err(err, errlen, "%s: \"%s\" is missing", path, key);
            return -1;
        }
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > (1 << 24)) {
        set_err(err, errlen, "%s: \"%s\" must be a positive integer", path, key);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int read_config(const char *folder, vc_t5_config *c, char *err, size_t errlen)
{
    size_t plen = strlen(folder) + 16;
    char *path = malloc(plen);
    if (!path) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    snprintf(path, plen, "%s/config.json", folder);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    int rc = -1;
    if (!cfg) {
        set_err(err, errlen, "%s: %s", path, je.text);
        goto out;
    }
    if (!json_is_object(cfg)) {
        set_err(err, errlen, "%s: not a JSON object", path);
        goto out;
    }
    /* Defaults are T5Config's; the sizes must be given. */
    if (cfg_int(cfg, "d_model", 0, true, &c->d_model, path, err, errlen) ||
        cfg_int(cfg, "d_kv", 0, true, &c->d_kv, path, err, errlen) ||
        cfg_int(cfg, "num_heads", 0, true, &c->num_heads, path, err, errlen) ||
        cfg_int(cfg, "d_ff", 0, true, &c->d_ff, path, err, errlen) ||
        cfg_int(cfg, "num_layers", 0, true, &c->num_layers, path, err, errlen) ||
        cfg_int(cfg, "vocab_size", 32128, false, &c->vocab_size, path, err, errlen) ||
        cfg_int(cfg, "relative_attention_num_buckets", 32, false, &c->rel_buckets, path, err, errlen) ||
        cfg_int(cfg, "relative_attention_max_distance", 128, false, &c->rel_max_distance, path, err,
                errlen))
        goto out;
    c->eps = 1e-6f;
    json_t *eps = json_object_get(cfg, "layer_norm_epsilon");
    if (eps && !json_is_null(eps)) {
        if (!json_is_number(eps) || json_number_value(eps) < 0) {
            set_err(err, errlen, "%s: \"layer_norm_epsilon\" must be a non-negative number", path);
            goto out;
        }
        c->eps = (float)json_number_value(eps);
    }
    const char *ff = json_string_value(json_object_get(cfg, "feed_forward_proj"));
    if (!ff)
        ff = "relu";
    /* T5Config: "gated-ACT" or "ACT"; "gated-gelu" means gelu_new. */
    c->gated = !strncmp(ff, "gated-", 6);
    const char *act = c->gated ? ff + 6 : ff;
    if (strchr(act, '-') || (strcmp(act, "relu") && strcmp(act, "gelu") && strcmp(act, "gelu_new"))) {
        set_err(err, errlen, "%s: feed_forward_proj \"%s\" is not supported (relu, gelu, gelu_new, gated-*)",
                path, ff);
        goto out;
    }
    snprintf(c->act, sizeof c->act, "%s", !strcmp(ff, "gated-gelu") ? "gelu_new" : act);
    if (c->rel_buckets < 2) {
        set_err(err, errlen, "%s: relative_attention_num_buckets must be >= 2", path);
        goto out;
    }
    rc = 0;
out:
    json_decref(cfg);
    free(path);
    return rc;
}

/* ---- weights ---- */

static bool file_exists(const char *folder, const char *name)
{
    size_t n = strlen(folder) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p)
        return false;
    snprintf(p, n, "%s/%s", folder, name);
    struct stat st;
    bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

static const char *const ckpt_names[] = {
    "encoder.safetensors", "pytorch_model.bin.reduced", "model.safetensors.index.json",
    "model.safetensors", "pytorch_model.bin.index.json", "pytorch_model.bin", NULL,
};

static int remember(vc_t5 *m, const char *name)
{
    char **n = realloc(m->names, (m->nnames + 1) * sizeof *n);
    if (!n)
        return -1;
    m->names = n;
    if (!(n[m->nnames] = strdup(name)))
        return -1;
    m->nnames++;
    return 0;
}

/* The tensor as float32 [shape]: in place when the checkpoint holds it so,
 * else a converted copy the model owns. */
static const float *tensor(vc_t5 *m, const char *name, int ndim, int64_t d0, int64_t d1, char *err,
                           size_t errlen)
{
    if (remember(m, name)) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    const vc_weight_info *t = vc_weights_get(m->w, name, err, errlen);
    if (!t)
        return NULL;
    int64_t shape[2] = { d0, d1 };
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char got[128] = "", want[64];
        size_t off = 0;
        for (int i = 0; i < t->ndim && off < sizeof got - 24; i++)
            off += (size_t)snprintf(got + off, sizeof got - off, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (ndim == 1)
            snprintf(want, sizeof want, "%lld", (long long)d0);
        else
            snprintf(want, sizeof want, "%lld, %lld", (long long)d0, (long long)d1);
        set_err(err, errlen, "%s: tensor %s: shape [%s], config.json says [%s]", t->file, name, got, want);
        return NULL;
    }
    bool contiguous = ndim == 1 ? t->stride[0] == 1 : (t->stride[1] == 1 && t->stride[0] == d1);
    if (t->dtype == VC_DT_F32 && contiguous && ((uintptr_t)t->data % sizeof(float)) == 0)
        return t->data;
    size_t numel = (size_t)d0 * (ndim == 2 ? (size_t)d1 : 1);
    float *copy = vc_cpu_alloc_floats(numel);
    float **owned = copy ? realloc(m->owned, (m->nowned + 1) * sizeof *owned) : NULL;
    if (!owned) {
        free(copy);
        set_err(err, errlen, "out of memory converting %s", name);
        return NULL;
    }
    m->owned = owned;
    m->owned[m->nowned++] = copy;
    if (vc_weights_read_f32(m->w, name, ndim, shape, copy, err, errlen))
        return NULL;
    return copy;
}

#define TNAME(buf, ...) (snprintf(buf, sizeof buf, __VA_ARGS__), buf)

static int load_tensors(vc_t5 *m, char *err, size_t errlen)
{
    const vc_t5_config *c = &m->cfg;
    int64_t inner = (int64_t)c->num_heads * c->d_kv;
    char n[160];
    /* T5's embedding is shared.weight; encoder-only exports name it
     * encoder.embed_tokens.weight (the same tied tensor). */
    const char *emb = vc_weights_find(m->w, "shared.weight") ? "shared.weight"
                      : vc_weights_find(m->w, "encoder.embed_tokens.weight") ? "encoder.embed_tokens.weight"
                                                                              : "shared.weight";
    const vc_weight_info *e = vc_weights_get(m->w, emb, err, errlen);
    if (!e)
        return -1;
    if (e->ndim != 2 || e->shape[0] < 1) {
        set_err(err, errlen, "%s: tensor %s: not a 2-D embedding", e->file, emb);
        return -1;
    }
    m->embed_rows = e->shape[0];
    if (!(m->embed = tensor(m, emb, 2, m->embed_rows, c->d_model, err, errlen)))
        return -1;
    if (!(m->rel_bias = tensor(m, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 2,
                               c->rel_buckets, c->num_heads, err, errlen)))
        return -1;
    for (int l = 0; l < c->num_layers; l++) {
        t5_layer *L = &m->layers[l];
        const char *p = "encoder.block";
        if (!(L->ln0 = tensor(m, TNAME(n, "%s.%d.layer.0.layer_norm.weight", p, l), 1, c->d_model, 0, err, errlen)) ||
            !(L->q = tensor(m, TNAME(n, "%s.%d.layer.0.SelfAttention.q.weight", p, l), 2, inner, c->d_model, err, errlen)) ||
            !(L->k = tensor(m, TNAME(n, "%s.%d.layer.0.SelfAttention.k.weight", p, l), 2, inner, c->d_model, err, errlen)) ||
            !(L->v = tensor(m, TNAME(n, "%s.%d.layer.0.SelfAttention.v.weight", p, l), 2, inner, c->d_model, err, errlen)) ||
            !(L->o = tensor(m, TNAME(n, "%s.%d.layer.0.SelfAttention.o.weight", p, l), 2, c->d_model, inner, err, errlen)) ||
            !(L->ln1 = tensor(m, TNAME(n, "%s.%d.layer.1.layer_norm.weight", p, l), 1, c->d_model, 0, err, errlen)))
            return -1;
        if (c->gated) {
            if (!(L->wi = tensor(m, TNAME(n, "%s.%d.layer.1.DenseReluDense.wi_0.weight", p, l), 2, c->d_ff, c->d_model, err, errlen)) ||
                !(L->wi1 = tensor(m, TNAME(n, "%s.%d.layer.1.DenseReluDense.wi_1.weight", p, l), 2, c->d_ff, c->d_model, err, errlen)))
                return -1;
        } else if (!(L->wi = tensor(m, TNAME(n, "%s.%d.layer.1.DenseReluDense.wi.weight", p, l), 2, c->d_ff, c->d_model, err, errlen))) {
            return -1;
        }
        if (!(L->wo = tensor(m, TNAME(n, "%s.%d.layer.1.DenseReluDense.wo.weight", p, l), 2, c->d_model, c->d_ff, err, errlen)))
            return -1;
    }
    if (!(m->final_ln = tensor(m, "encoder.final_layer_norm.weight", 1, c->d_model, 0, err, errlen)))
        return -1;
    return 0;
}

vc_t5 *vc_t5_open(const char *folder, const vc_t5_opts *opts, char *err, size_t errlen)
{
    vc_t5_opts def = { 0 };
    if (!opts)
        opts = &def;
    vc_t5 *m = calloc(1, sizeof *m);
    if (!m) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    if (read_config(folder, &m->cfg, err, errlen))
        goto fail;
    m->act = !strcmp(m->cfg.act, "relu") ? VC_XACT_RELU : !strcmp(m->cfg.act, "gelu") ? VC_XACT_GELU
                                                                                     : VC_XACT_GELU_TANH;
    if (opts->checkpoint) {
        m->ckpt = strdup(opts->checkpoint);
    } else {
        for (int i = 0; ckpt_names[i] && !m->ckpt; i++) {
            if (file_exists(folder, ckpt_names[i])) {
                size_t n = strlen(folder) + strlen(ckpt_names[i]) + 2;
                if ((m->ckpt = malloc(n)))
                    snprintf(m->ckpt, n, "%s/%s", folder, ckpt_names[i]);
                else
                    break;
            }
        }
        if (!m->ckpt) {
            set_err(err, errlen, "%s: no T5 checkpoint (encoder.safetensors, model.safetensors[.index.json] "
                    "or pytorch_model.bin[.index.json])", folder);
            goto fail;
        }
    }
    if (!m->ckpt) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    if (!(m->w = vc_weights_open(m->ckpt, err, errlen)))
        goto fail;
    if (!(m->layers = calloc((size_t)m->cfg.num_layers, sizeof *m->layers))) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    if (load_tensors(m, err, errlen))
        goto fail;
    if (opts->cuda) {
#ifdef VC_T5_HAVE_CUDA
        const vc_t5_config *c = &m->cfg;
        vc_t5_cuda_cfg cc = { m->embed_rows, c->d_model, c->d_kv, c->num_heads, c->d_ff, c->num_layers,
                              c->rel_buckets, c->rel_max_distance, c->eps,
                              m->act == VC_XACT_RELU ? 0 : m->act == VC_XACT_GELU ? 1 : 2, c->gated,
                              opts->tf32 ? 1 : 0 };
        const float **lw = calloc((size_t)c->num_layers * 9, sizeof *lw);
        if (!lw) {
            set_err(err, errlen, "out of memory");
            goto fail;
        }
        for (int l = 0; l < c->num_layers; l++) {
            const t5_layer *L = &m->layers[l];
            const float *p[9] = { L->ln0, L->q, L->k, L->v, L->o, L->ln1, L->wi, L->wi1, L->wo };
            memcpy(lw + (size_t)l * 9, p, sizeof p);
        }
        m->cuda = vc_t5_cuda_new(&cc, m->embed, m->rel_bias, lw, m->final_ln, opts->cuda_device, err, errlen);
        free(lw);
        if (!m->cuda)
            goto fail;
        return m;
#else
        set_err(err, errlen, "this build has no CUDA T5 encoder");
        goto fail;
#endif
    }
    if (!(m->pool = vc_cpu_pool_new(opts->threads))) {
        set_err(err, errlen, "cannot start the CPU thread pool");
        goto fail;
    }
    vc_cpu_blas_single_thread();
    return m;
fail:
    vc_t5_close(m);
    return NULL;
}

void vc_t5_close(vc_t5 *m)
{
    if (!m)
        return;
#ifdef VC_T5_HAVE_CUDA
    vc_t5_cuda_free(m->cuda);
#endif
    vc_cpu_pool_free(m->pool);
    for (size_t i = 0; i < m->nowned; i++)
        free(m->owned[i]);
    free(m->owned);
    for (size_t i = 0; i < m->nnames; i++)
        free(m->names[i]);
    free(m->names);
    free(m->layers);
    vc_weights_close(m->w);
    free(m->ckpt);
    free(m);
}

bool vc_t5_has_cuda(void)
{
#ifdef VC_T5_HAVE_CUDA
    return true;
#else
    return false;
#endif
}

const vc_t5_config *vc_t5_config_of(const vc_t5 *m)
{
    return &m->cfg;
}

const char *vc_t5_checkpoint_path(const vc_t5 *m)
{
    return m->ckpt;
}

size_t vc_t5_tensors_read(const vc_t5 *m, const char *const **names)
{
    *names = (const char *const *)m->names;
    return m->nnames;
}

/* ---- forward ---- */

/* transformers' T5Attention._relative_position_bucket, bidirectional, with
 * the same float32 arithmetic (torch computes the log branch in float32).
 * Shared with the CUDA encoder (t5_cuda.h). */
int vc_t5_rel_bucket(int rel, int num_buckets, int max_distance)
{
    int nb = num_buckets / 2;
    int bucket = rel > 0 ? nb : 0;
    int n = rel < 0 ? -rel : rel;
    int max_exact = nb / 2;
    if (n < max_exact)
        return bucket + n;
    float x = logf((float)n / (float)max_exact) / (float)log((double)max_distance / max_exact) *
              (float)(nb - max_exact);
    long large = max_exact + (long)x;
    if (large > nb - 1)
        large = nb - 1;
    return bucket + (int)large;
}

typedef struct fwd_bufs {
    float *x, *h, *q, *k, *v, *a, *ff, *ff1, *bias;
} fwd_bufs;

static void bufs_free(fwd_bufs *b)
{
    free(b->x);
    free(b->h);
    free(b->q);
    free(b->k);
    free(b->v);
    free(b->a);
    free(b->ff);
    free(b->ff1);
    free(b->bias);
}

/* Rows of the feed-forward hidden layer computed at once. */
#define FF_ROWS 512

int vc_t5_encode(vc_t5 *m, int n, const int32_t *const *ids, const int *lens, float *const *out,
                 char *err, size_t errlen)
{
    if (n <= 0)
        return 0;
    const vc_t5_config *c = &m->cfg;
    int d = c->d_model, inner = c->num_heads * c->d_kv, heads = c->num_heads;
    int *off = malloc(((size_t)n + 1) * sizeof *off);
    if (!off) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    off[0] = 0;
    int longest = 0;
    for (int s = 0; s < n; s++) {
        if (lens[s] < 1 || lens[s] > VC_T5_MAX_SEQ) {
            set_err(err, errlen, "sequence %d: %d tokens (1..%d)", s, lens[s], VC_T5_MAX_SEQ);
            free(off);
            return -1;
        }
        for (int i = 0; i < lens[s]; i++) {
            if (ids[s][i] < 0 || ids[s][i] >= m->embed_rows) {
                set_err(err, errlen, "sequence %d: token id %d outside the embedding (%lld rows)", s,
                        (int)ids[s][i], (long long)m->embed_rows);
                free(off);
                return -1;
            }
        }
        off[s + 1] = off[s] + lens[s];
        if (lens[s] > longest)
            longest = lens[s];
    }
#ifdef VC_T5_HAVE_CUDA
    if (m->cuda) {
        free(off);
        return vc_t5_cuda_encode(m->cuda, n, ids, lens, out, err, errlen);
    }
#endif
    int T = off[n];
    int ffr = T < FF_ROWS ? T : FF_ROWS;
    int nbias = 2 * longest - 1;
    fwd_bufs b = { 0 };
    b.x = vc_cpu_alloc_floats((size_t)T * d);
    b.h = vc_cpu_alloc_floats((size_t)T * d);
    b.q = vc_cpu_alloc_floats((size_t)T * inner);
    b.k = vc_cpu_alloc_floats((size_t)T * inner);
    b.v = vc_cpu_alloc_floats((size_t)T * inner);
    b.a = vc_cpu_alloc_floats((size_t)T * inner);
    b.ff = vc_cpu_alloc_floats((size_t)ffr * c->d_ff);
    b.ff1 = c->gated ? vc_cpu_alloc_floats((size_t)ffr * c->d_ff) : NULL;
    b.bias = vc_cpu_alloc_floats((size_t)heads * nbias);
    if (!b.x || !b.h || !b.q || !b.k || !b.v || !b.a || !b.ff || (c->gated && !b.ff1) || !b.bias) {
        set_err(err, errlen, "out of memory (%d tokens)", T);
        bufs_free(&b);
        free(off);
        return -1;
    }
    /* The layer-0 bias, shared by every layer: bias[h][j - i + longest - 1]. */
    for (int r = -(longest - 1); r <= longest - 1; r++) {
        int bk = vc_t5_rel_bucket(r, c->rel_buckets, c->rel_max_distance);
        for (int h = 0; h < heads; h++)
            b.bias[(size_t)h * nbias + (r + longest - 1)] = m->rel_bias[(size_t)bk * heads + h];
    }
    for (int s = 0; s < n; s++)
        for (int i = 0; i < lens[s]; i++)
            memcpy(b.x + (size_t)(off[s] + i) * d, m->embed + (size_t)ids[s][i] * d, (size_t)d * sizeof(float));
    int rc = 0;
    for (int l = 0; l < c->num_layers && !rc; l++) {
        const t5_layer *L = &m->layers[l];
        vc_cpu_rms_norm(m->pool, b.x, T, d, d, L->ln0, c->eps, b.h, d);
        vc_cpu_linear_acc(m->pool, b.h, T, d, d, L->q, inner, 0.0f, b.q, inner);
        vc_cpu_linear_acc(m->pool, b.h, T, d, d, L->k, inner, 0.0f, b.k, inner);
        vc_cpu_linear_acc(m->pool, b.h, T, d, d, L->v, inner, 0.0f, b.v, inner);
        if (vc_cpu_attention(m->pool, b.q, b.k, b.v, inner, b.a, inner, n, off, heads, c->d_kv, 1.0f, b.bias,
                             longest)) {
            set_err(err, errlen, "out of memory in attention");
            rc = -1;
            break;
        }
        vc_cpu_linear_acc(m->pool, b.a, T, inner, inner, L->o, d, 1.0f, b.x, d);
        vc_cpu_rms_norm(m->pool, b.x, T, d, d, L->ln1, c->eps, b.h, d);
        for (int r0 = 0; r0 < T; r0 += ffr) {
            int rows = T - r0 < ffr ? T - r0 : ffr;
            const float *hin = b.h + (size_t)r0 * d;
            vc_cpu_linear_acc(m->pool, hin, rows, d, d, L->wi, c->d_ff, 0.0f, b.ff, c->d_ff);
            if (c->gated) {
                vc_cpu_linear_acc(m->pool, hin, rows, d, d, L->wi1, c->d_ff, 0.0f, b.ff1, c->d_ff);
                vc_cpu_act_mul(m->pool, b.ff, c->d_ff, b.ff1, c->d_ff, rows, c->d_ff, m->act);
            } else {
                vc_cpu_act(m->pool, b.ff, rows, c->d_ff, c->d_ff, m->act);
            }
            vc_cpu_linear_acc(m->pool, b.ff, rows, c->d_ff, c->d_ff, L->wo, d, 1.0f, b.x + (size_t)r0 * d, d);
        }
    }
    if (!rc) {
        vc_cpu_rms_norm(m->pool, b.x, T, d, d, m->final_ln, c->eps, b.h, d);
        for (int s = 0; s < n; s++)
            memcpy(out[s], b.h + (size_t)off[s] * d, (size_t)lens[s] * d * sizeof(float));
    }
    bufs_free(&b);
    free(off);
    return rc;
}

int vc_t5_encode_padded(vc_t5 *m, int n, int pad_len, const int32_t *ids, const int32_t *mask,
                        float *out, char *err, size_t errlen)
{
    if (n <= 0)
        return 0;
    int d = m->cfg.d_model;
    int *lens = calloc((size_t)n, sizeof *lens);
    const int32_t **rows = calloc((size_t)n, sizeof *rows);
    float **outs = calloc((size_t)n, sizeof *outs);
    int rc = -1;
    if (!lens || !rows || !outs) {
        set_err(err, errlen, "out of memory");
        goto done;
    }
    for (int s = 0; s < n; s++) {
        const int32_t *mk = mask + (size_t)s * pad_len;
        int len = 0;
        while (len < pad_len && mk[len])
            len++;
        for (int i = len; i < pad_len; i++) {
            if (mk[i]) {
                set_err(err, errlen, "row %d: the attention mask is not a prefix (right padding only)", s);
                goto done;
            }
        }
        if (len == 0) {
            set_err(err, errlen, "row %d: empty attention mask", s);
            goto done;
        }
        lens[s] = len;
        rows[s] = ids + (size_t)s * pad_len;
        outs[s] = out + (size_t)s * pad_len * d;
    }
    rc = vc_t5_encode(m, n, rows, lens, outs, err, errlen);
    if (!rc)
        for (int s = 0; s < n; s++)
            memset(outs[s] + (size_t)lens[s] * d, 0, (size_t)(pad_len - lens[s]) * d * sizeof(float));
done:
    free(lens);
    free(rows);
    free(outs);
    return rc;
}

uint16_t vc_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan (keep a quiet nan) */
        return sign | (absx > 0x7f800000u ? (uint16_t)(0x7e00 | ((absx >> 13) & 0x3ff)) : 0x7c00);
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow */
        return sign | 0x7c00;
    if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        if (absx < 0x33000000u) /* below half the smallest subnormal (2^-25): zero */
            return sign;
        uint32_t mant = (absx & 0x7fffff) | 0x800000;
        int shift = 126 - (int)(absx >> 23); /* 14..24 */
        uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return sign | (uint16_t)q;
    }
    uint32_t q = (absx - 0x38000000u) >> 13; /* rebias exponent 127 -> 15 */
    uint32_t rem = absx & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1)))
        q++;
    return sign | (uint16_t)q;
}
