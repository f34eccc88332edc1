/* The models vcurate can use: where they are published, the revision we
 * pin, which files each needs and which tensors its code reads. */
#include "models/models.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "storage/fs.h"
#include "util/common.h"

void vc_model_tensors_free(vc_model_tensors *t)
{
    for (size_t i = 0; i < t->len; i++)
        free(t->items[i].name);
    free(t->items);
    memset(t, 0, sizeof *t);
}

/* add(out, ndim, d0, d1, ..., fmt, ...): one expected tensor. */
static void add(vc_model_tensors *t, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(vc_model_tensors *t, int ndim, const int64_t *shape, const char *fmt, ...)
{
    if (t->len == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->items = vc_xrealloc(t->items, t->cap * sizeof *t->items);
    }
    vc_model_tensor *x = &t->items[t->len++];
    memset(x, 0, sizeof *x);
    va_list ap;
    va_start(ap, fmt);
    x->name = vc_vasprintf(fmt, ap);
    va_end(ap);
    x->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        x->shape[i] = shape[i];
}

#define SHAPE(...) (const int64_t[]){ __VA_ARGS__ }
#define NDIM(...) ((int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)))
#define T(t, name_fmt, ...) add((t), NDIM(__VA_ARGS__), SHAPE(__VA_ARGS__), name_fmt

/* ---- TransNetV2: the 90 entries of the PyTorch state dict (peers.md 1.4) ---- */

static int transnetv2_expected(const char *repo_dir, vc_model_tensors *t, char *err, size_t errlen)
{
    (void)repo_dir;
    (void)err;
    (void)errlen;
    static const int64_t in_ch[3][2] = { { 3, 64 }, { 64, 128 }, { 128, 256 } };
    for (int i = 0; i < 3; i++) {
        int64_t f = (int64_t)16 << i;
        for (int j = 0; j < 2; j++) {
            for (int d = 1; d <= 8; d *= 2) {
                T(t, "SDDCNN.%d.DDCNN.%d.Conv3D_%d.layers.0.weight", 2 * f, in_ch[i][j], 1, 3, 3), i, j, d);
                T(t, "SDDCNN.%d.DDCNN.%d.Conv3D_%d.layers.1.weight", f, 2 * f, 3, 1, 1), i, j, d);
            }
            static const char *const bn[] = { "weight", "bias", "running_mean", "running_var" };
            for (int k = 0; k < 4; k++)
                T(t, "SDDCNN.%d.DDCNN.%d.bn.%s", 4 * f), i, j, bn[k]);
            add(t, 0, NULL, "SDDCNN.%d.DDCNN.%d.bn.num_batches_tracked", i, j);
        }
    }
    T(t, "frame_sim_layer.projection.weight", 128, 448));
    T(t, "frame_sim_layer.projection.bias", 128));
    T(t, "frame_sim_layer.fc.weight", 128, 101));
    T(t, "frame_sim_layer.fc.bias", 128));
    T(t, "color_hist_layer.fc.weight", 128, 101));
    T(t, "color_hist_layer.fc.bias", 128));
    T(t, "fc1.weight", 1024, 4864));
    T(t, "fc1.bias", 1024));
    T(t, "cls_layer1.weight", 1, 1024));
    T(t, "cls_layer1.bias", 1));
    T(t, "cls_layer2.weight", 1, 1024));
    T(t, "cls_layer2.bias", 1));
    return 0;
}

/* ---- config.json helpers ---- */

/* Loads {repo_dir}/config.json; NULL (and no error) when absent. */
static json_t *load_config(const char *repo_dir, char *err, size_t errlen, int *rc)
{
    *rc = 0;
    char *path = vc_fs_join(repo_dir, "config.json");
    if (!vc_fs_exists(path)) {
        free(path);
        return NULL;
    }
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg || !json_is_object(cfg)) {
        snprintf(err, errlen, "%s: not a JSON object (%s, line %d)", path, cfg ? "top level" : je.text,
                 je.line);
        json_decref(cfg);
        *rc = -1;
        cfg = NULL;
    }
    free(path);
    return cfg;
}

/* Integer key of obj, or def when absent; -1 (rc) when present but not a positive integer. */
static int64_t cfg_int(const json_t *obj, const char *key, int64_t def, int *rc, char *err, size_t errlen)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v)
        return def;
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > ((int64_t)1 << 40)) {
        if (!*rc)
            snprintf(err, errlen, "config.json: \"%s\" must be a positive integer", key);
        *rc = -1;
        return def;
    }
    return json_integer_value(v);
}

/* ---- T5 encoder (google-t5/t5-11b): encoder.* and shared.weight ---- */

static int t5_expected(const char *repo_dir, vc_model_tensors *t, char *err, size_t errlen)
{
    int rc;
    json_t *cfg = load_config(repo_dir, err, errlen, &rc);
    if (rc)
        return -1;
    /* t5-11b's values when config.json is not there yet. */
    int64_t vocab = cfg_int(cfg, "vocab_size", 32128, &rc, err, errlen);
    int64_t d_model = cfg_int(cfg, "d_model", 1024, &rc, err, errlen);
    int64_t d_kv = cfg_int(cfg, "d_kv", 128, &rc, err, errlen);
    int64_t heads = cfg_int(cfg, "num_heads", 128, &rc, err, errlen);
    int64_t d_ff = cfg_int(cfg, "d_ff", 65536, &rc, err, errlen);
    int64_t layers = cfg_int(cfg, "num_layers", 24, &rc, err, errlen);
    int64_t buckets = cfg_int(cfg, "relative_attention_num_buckets", 32, &rc, err, errlen);
    const char *ff = cfg ? json_string_value(json_object_get(cfg, "feed_forward_proj")) : NULL;
    bool gated = ff && !strncmp(ff, "gated-", 6);
    if (rc) {
        json_decref(cfg);
        return -1;
    }
    int64_t inner = heads * d_kv;
    T(t, "shared.weight", vocab, d_model));
    for (int64_t l = 0; l < layers; l++) {
        const char *const qkv[] = { "q", "k", "v" };
        for (int k = 0; k < 3; k++)
            T(t, "encoder.block.%lld.layer.0.SelfAttention.%s.weight", inner, d_model), (long long)l, qkv[k]);
        T(t, "encoder.block.%lld.layer.0.SelfAttention.o.weight", d_model, inner), (long long)l);
        if (l == 0)
            T(t, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", buckets, heads));
        T(t, "encoder.block.%lld.layer.0.layer_norm.weight", d_model), (long long)l);
        if (gated) {
            T(t, "encoder.block.%lld.layer.1.DenseReluDense.wi_0.weight", d_ff, d_model), (long long)l);
            T(t, "encoder.block.%lld.layer.1.DenseReluDense.wi_1.weight", d_ff, d_model), (long long)l);
        } else {
            T(t, "encoder.block.%lld.layer.1.DenseReluDense.wi.weight", d_ff, d_model), (long long)l);
        }
        T(t, "encoder.block.%lld.layer.1.DenseReluDense.wo.weight", d_model, d_ff), (long long)l);
        T(t, "encoder.block.%lld.layer.1.layer_norm.weight", d_model), (long long)l);
    }
    T(t, "encoder.final_layer_norm.weight", d_model));
    json_decref(cfg);
    return 0;
}

bool vc_models_t5_keep_tensor(const char *name)
{
    return !strncmp(name, "encoder.", 8) || !strcmp(name, "shared.weight");
}

/* ---- CLIP ViT-L/14 image tower (what the aesthetic filter reads) ---- */

static int clip_expected(const char *repo_dir, vc_model_tensors *t, char *err, size_t errlen)
{
    int rc;
    json_t *cfg = load_config(repo_dir, err, errlen, &rc);
    if (rc)
        return -1;
    const json_t *vc = cfg ? json_object_get(cfg, "vision_config") : NULL;
    int64_t hidden = cfg_int(vc, "hidden_size", 1024, &rc, err, errlen);
    int64_t inter = cfg_int(vc, "intermediate_size", 4096, &rc, err, errlen);
    int64_t layers = cfg_int(vc, "num_hidden_layers", 24, &rc, err, errlen);
    int64_t patch = cfg_int(vc, "patch_size", 14, &rc, err, errlen);
    int64_t image = cfg_int(vc, "image_size", 224, &rc, err, errlen);
    int64_t chans = cfg_int(vc, "num_channels", 3, &rc, err, errlen);
    int64_t proj = cfg_int(cfg, "projection_dim", 768, &rc, err, errlen);
    if (rc) {
        json_decref(cfg);
        return -1;
    }
    int64_t npos = (image / patch) * (image / patch) + 1;
    T(t, "vision_model.embeddings.class_embedding", hidden));
    T(t, "vision_model.embeddings.patch_embedding.weight", hidden, chans, patch, patch));
    T(t, "vision_model.embeddings.position_embedding.weight", npos, hidden));
    T(t, "vision_model.pre_layrnorm.weight", hidden));
    T(t, "vision_model.pre_layrnorm.bias", hidden));
    for (int64_t l = 0; l < layers; l++) {
        const char *const p[] = { "q_proj", "k_proj", "v_proj", "out_proj" };
        for (int k = 0; k < 4; k++) {
            T(t, "vision_model.encoder.layers.%lld.self_attn.%s.weight", hidden, hidden), (long long)l, p[k]);
            T(t, "vision_model.encoder.layers.%lld.self_attn.%s.bias", hidden), (long long)l, p[k]);
        }
        for (int k = 1; k <= 2; k++) {
            T(t, "vision_model.encoder.layers.%lld.layer_norm%d.weight", hidden), (long long)l, k);
            T(t, "vision_model.encoder.layers.%lld.layer_norm%d.bias", hidden), (long long)l, k);
        }
        T(t, "vision_model.encoder.layers.%lld.mlp.fc1.weight", inter, hidden), (long long)l);
        T(t, "vision_model.encoder.layers.%lld.mlp.fc1.bias", inter), (long long)l);
        T(t, "vision_model.encoder.layers.%lld.mlp.fc2.weight", hidden, inter), (long long)l);
        T(t, "vision_model.encoder.layers.%lld.mlp.fc2.bias", hidden), (long long)l);
    }
    T(t, "vision_model.post_layernorm.weight", hidden));
    T(t, "vision_model.post_layernorm.bias", hidden));
    T(t, "visual_projection.weight", proj, hidden));
    json_decref(cfg);
    return 0;
}

/* ---- LAION aesthetic MLP (improved-aesthetic-predictor, peers.md 4.1) ---- */

static int aesthetic_expected(const char *repo_dir, vc_model_tensors *t, char *err, size_t errlen)
{
    (void)repo_dir;
    (void)err;
    (void)errlen;
    static const int64_t dims[6] = { 768, 1024, 128, 64, 16, 1 };
    static const int idx[5] = { 0, 2, 4, 6, 7 };
    for (int k = 0; k < 5; k++) {
        T(t, "layers.%d.weight", dims[k + 1], dims[k]), idx[k]);
        T(t, "layers.%d.bias", dims[k + 1]), idx[k]);
    }
    return 0;
}

/* ---- the table ---- */

static const char *const no_files[] = { NULL };
static const char *const tnet_ckpt[] = { "transnetv2-pytorch-weights.pth", NULL };
static const char *const t5_files[] = { "config.json", "spiece.model", NULL };
static const char *const hf_ckpts[] = { "model.safetensors.index.json", "model.safetensors",
                                        "pytorch_model.bin.index.json", "pytorch_model.bin", NULL };
static const char *const clip_files[] = { "config.json", NULL };
static const char *const clip_ckpts[] = { "model.safetensors", "pytorch_model.bin", NULL };
static const char *const aes_ckpts[] = { "model.safetensors", NULL };
static const char *const t5_alias[] = { "t5", "t5-11b", "t5_11b", NULL };
static const char *const clip_alias[] = { "clip", "clip_vit_l14", NULL };
static const char *const aes_alias[] = { "aesthetic", "aesthetics", NULL };

static const vc_model_def models[] = {
    {
        .id = "transnetv2",
        .title = "TransNetV2 shot detector",
        .used_by = "split/detect --splitting-algorithm transnetv2",
        .repo = "Sn4kehead/TransNetV2",
        /* Cosmos Curator's pin; NeMo Curator pins the same commit (db6ceab). */
        .revision = "db6ceabeb692ec71ecc6beb6d00db67ad1412d7f",
        .license = "MIT (TransNetV2)",
        .files = no_files,
        .checkpoints = tnet_ckpt,
        .approx_bytes = 30500000,
        .expected = transnetv2_expected,
    },
    {
        .id = "t5_xxl",
        .aliases = t5_alias,
        .title = "T5-11B text encoder (caption embeddings)",
        .used_by = "split --generate-cosmos-predict-dataset predict2, shard (t5_xxl)",
        .repo = "google-t5/t5-11b",
        .revision = "90f37703b3334dfe9d2b009bfcbfbf1ac9d28ea3",
        .license = "Apache-2.0",
        .files = t5_files,
        .checkpoints = hf_ckpts,
        .approx_bytes = 45200000000,
        .reduced_file = "encoder.safetensors",
        .expected = t5_expected,
    },
    {
        .id = "clip_vit",
        .aliases = clip_alias,
        .title = "CLIP ViT-L/14 image encoder (aesthetic filter)",
        .used_by = "split --aesthetic-threshold",
        .repo = "openai/clip-vit-large-patch14",
        .revision = "32bd64288804d66eefd0ccbe215aa642df71cc41",
        .license = "MIT (OpenAI CLIP)",
        .files = clip_files,
        .checkpoints = clip_ckpts,
        .approx_bytes = 1710000000,
        .expected = clip_expected,
    },
    {
        .id = "aesthetic_scorer",
        .aliases = aes_alias,
        .title = "LAION aesthetic predictor MLP (sac+logos+ava1-l14-linearMSE)",
        .used_by = "split --aesthetic-threshold",
        .repo = "ttj/sac-logos-ava1-l14-linearMSE",
        .revision = "1e77fa05081323d99725fc40a9bf9f88180490e7",
        .license = "Apache-2.0 (improved-aesthetic-predictor)",
        .files = no_files,
        .checkpoints = aes_ckpts,
        .approx_bytes = 3700000,
        .expected = aesthetic_expected,
    },
};

size_t vc_models_count(void) { return VC_ARRAY_LEN(models); }

const vc_model_def *vc_models_at(size_t i) { return i < VC_ARRAY_LEN(models) ? &models[i] : NULL; }

const vc_model_def *vc_models_find(const char *name)
{
    for (size_t i = 0; i < VC_ARRAY_LEN(models); i++) {
        if (!strcmp(models[i].id, name))
            return &models[i];
        for (const char *const *a = models[i].aliases; a && *a; a++)
            if (!strcmp(*a, name))
                return &models[i];
    }
    return NULL;
}

const char *vc_models_ids(void)
{
    static char buf[256];
    if (!buf[0]) {
        size_t off = 0;
        for (size_t i = 0; i < VC_ARRAY_LEN(models); i++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s", i ? ", " : "", models[i].id);
    }
    return buf;
}

const char *vc_models_default_dir(void)
{
    static char buf[4096];
    const char *env = getenv("VCURATE_MODEL_DIR");
    if (env && *env)
        return env;
    const char *home = getenv("HOME");
    snprintf(buf, sizeof buf, "%s/.cache/vcurate/models", home && *home ? home : ".");
    return buf;
}

char *vc_models_repo_dir(const char *model_dir, const vc_model_def *m)
{
    return vc_fs_join(model_dir, m->repo);
}

void vc_models_fmt_size(int64_t b, char *buf, size_t len)
{
    if (b < 1000)
        snprintf(buf, len, "%lld B", (long long)b);
    else if (b < 1000000)
        snprintf(buf, len, "%.1f kB", (double)b / 1e3);
    else if (b < 1000000000)
        snprintf(buf, len, "%.1f MB", (double)b / 1e6);
    else
        snprintf(buf, len, "%.2f GB", (double)b / 1e9);
}
