/* vcurate embed: (re)computes the T5 embeddings of the captions already in a
 * split output, e.g. after captions were edited into metas/v1, so neither
 * split nor the captioner has to run again.
 *
 * Reads  INPUT/metas/VERSION/{uuid}.json, field "{algo}_caption" of each window.
 * Writes INPUT/t5_xxl/VERSION/ALGO/{uuid}.pickle
 *          pickle.dumps([float16 [L_i, d_model] per captioned window, in
 *          window order]): byte for byte the t5_xxl member Cosmos Curator's
 *          shard packs for the clip (windows without the caption are skipped
 *          there too);
 *        INPUT/t5_xxl/VERSION/ALGO/{uuid}.json
 *          what the pickle was computed from (frames and sha256 of each
 *          caption, model sizes), written after the pickle: a clip whose
 *          record matches its metas is skipped on the next run (resume), a
 *          clip whose captions changed is recomputed;
 *   with --predict2, also, for every window whose per-window video exists,
 *        INPUT/cosmos_predict2_video2world_dataset/t5_xxl/{uuid}_{S}_{E}.pickle
 *          ([float16 [L, d_model]], as split's predict2 writes it) and
 *        .../metas/{uuid}_{S}_{E}.txt (the caption), replaced.
 * Every file is written atomically (temporary name, fsync, rename). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "dataset/predict2.h"
#include "models/models.h"
#include "nn/device.h"
#include "nn/t5_text.h"
#include "pipeline/cancel.h"
#include "shard/pickle.h"
#include "storage/fs.h"
#include "util/common.h"
#include "util/log.h"

static const char usage[] =
"usage: vcurate embed --input-clip-path DIR [options]\n"
"\n"
"(Re)compute the T5 (google-t5/t5-11b encoder) embeddings of the captions in a\n"
"split output, as Cosmos Curator computes them for the predict2 dataset and the\n"
"shard t5_xxl family: caption .strip(), T5 tokenizer (</s>, at most 512 tokens),\n"
"fp32 encoder, float16 [L,1024] per caption window, L = real tokens.\n"
"\n"
"Reads DIR/metas/VERSION/*.json (field \"ALGO_caption\" of each window) and writes\n"
"  DIR/t5_xxl/VERSION/ALGO/UUID.pickle  pickle of [float16 array per captioned\n"
"                                       window], the clip's shard t5_xxl member\n"
"  DIR/t5_xxl/VERSION/ALGO/UUID.json    caption hashes it was computed from\n"
"Clips whose record matches their captions are skipped: rerun after an\n"
"interruption or after editing some captions, and only what changed is computed.\n"
"\n"
"required:\n"
"  --input-clip-path DIR        the split output (its --output-clip-path)\n"
"\n"
"options:\n"
"  --captioning-algorithm A     caption field \"A_caption\" (default: qwen)\n"
"  --annotation-version V       metas/V/ to read (default: v0)\n"
"  --model-weights-path DIR     model folder root (default: $VCURATE_MODEL_DIR or\n"
"                               ~/.cache/vcurate/models); T5 is read from\n"
"                               DIR/google-t5/t5-11b/ (config.json, spiece.model,\n"
"                               encoder.safetensors or the full checkpoint), or\n"
"                               from DIR itself when it holds config.json\n"
"  --device D                   auto (a GPU when there is one), cpu, cuda, cuda:N\n"
"  --tf32                       GPU: TF32 tensor cores for the matrix products\n"
"                               (~5x faster, ~1e-3 relative difference); default\n"
"                               fp32 as Cosmos Curator computes\n"
"  --batch-size N               captions per forward pass (default: 16)\n"
"  --threads N                  CPU threads (default: 0 = all cores)\n"
"  --predict2                   also rewrite the predict2 dataset's t5_xxl/*.pickle\n"
"                               and metas/*.txt of windows whose video exists\n"
"  --force                      recompute every clip\n"
"  --verbose                    debug logs\n"
"  -h, --help                   this help\n"
"\n"
"exit status: 0 success, 1 failure, 2 usage error, 130 interrupted\n";

enum {
    OPT_INPUT = 1000, OPT_ALGO, OPT_VERSION, OPT_WEIGHTS, OPT_DEVICE, OPT_BATCH, OPT_THREADS,
    OPT_PREDICT2, OPT_FORCE, OPT_VERBOSE, OPT_TF32,
};

static const struct option long_opts[] = {
    { "input-clip-path", required_argument, NULL, OPT_INPUT },
    { "captioning-algorithm", required_argument, NULL, OPT_ALGO },
    { "annotation-version", required_argument, NULL, OPT_VERSION },
    { "model-weights-path", required_argument, NULL, OPT_WEIGHTS },
    { "device", required_argument, NULL, OPT_DEVICE },
    { "batch-size", required_argument, NULL, OPT_BATCH },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "predict2", no_argument, NULL, OPT_PREDICT2 },
    { "force", no_argument, NULL, OPT_FORCE },
    { "tf32", no_argument, NULL, OPT_TF32 },
    { "verbose", no_argument, NULL, OPT_VERBOSE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

#define RECORD_FORMAT "vcurate-t5-embeddings-1"

typedef struct embed_opts {
    const char *input, *algo, *version, *weights;
    int batch, threads;
    bool predict2, force;
    bool cuda, tf32;
    int cuda_device;
} embed_opts;

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vcurate embed: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see vcurate embed --help)\n", stderr);
    va_end(ap);
    return 2;
}

static bool parse_int(const char *s, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

static bool valid_name(const char *a, bool dots)
{
    if (!*a || !strcmp(a, ".") || !strcmp(a, ".."))
        return false;
    for (const char *p = a; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || (dots && (*p == '.' || *p == '-'))))
            return false;
    return true;
}

/* ---- one clip ---- */

typedef struct window {
    long long start, end;
    const char *caption;   /* borrowed from the clip's JSON */
    char sha[65];
    vc_t5_embedding emb;
} window;

typedef struct clip {
    char *uuid;
    json_t *meta;
    window *w;
    size_t nw;
} clip;

static void clip_free(clip *c)
{
    for (size_t i = 0; i < c->nw; i++)
        vc_t5_embedding_free(&c->w[i].emb);
    free(c->w);
    json_decref(c->meta);
    free(c->uuid);
    memset(c, 0, sizeof *c);
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A JSON file, local or s3://. NULL with je->text set on failure. */
static json_t *load_json(const char *path, json_error_t *je)
{
    size_t len = 0;
    char *text = vc_fs_read_all(path, &len);
    if (!text) {
        snprintf(je->text, sizeof je->text, "cannot read it: %s", vc_fs_strerror(path, -errno));
        return NULL;
    }
    json_t *j = json_loadb(text, len, 0, je);
    free(text);
    return j;
}

/* Loads a metas JSON and its captioned windows. 0, or -1 (logged). */
static int clip_load(const char *path, const char *caption_key, clip *c, size_t *uncaptioned)
{
    memset(c, 0, sizeof *c);
    json_error_t je;
    c->meta = load_json(path, &je);
    if (!json_is_object(c->meta)) {
        vc_error("%s: %s", path, c->meta ? "not a JSON object" : je.text);
        return -1;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    c->uuid = vc_xstrdup(base);
    c->uuid[strlen(c->uuid) - 5] = '\0';   /* ".json" */
    json_t *wins = json_object_get(c->meta, "windows");
    size_t n = json_array_size(wins);
    c->w = vc_xcalloc(n ? n : 1, sizeof *c->w);
    size_t i;
    json_t *win;
    json_array_foreach(wins, i, win) {
        json_t *cap = json_object_get(win, caption_key);
        if (!cap) {
            (*uncaptioned)++;
            continue;
        }
        if (!json_is_string(cap)) {
            vc_warn("%s: window %zu: \"%s\" is not a string; skipped", path, i, caption_key);
            (*uncaptioned)++;
            continue;
        }
        window *w = &c->w[c->nw++];
        w->start = json_integer_value(json_object_get(win, "start_frame"));
        w->end = json_integer_value(json_object_get(win, "end_frame"));
        w->caption = json_string_value(cap);
        sha256_hex(w->caption, w->sha);
    }
    return 0;
}

static json_t *clip_record(const clip *c, const embed_opts *o, int d_model)
{
    json_t *r = json_object();
    json_object_set_new(r, "format", json_string(RECORD_FORMAT));
    json_object_set_new(r, "model", json_string("google-t5/t5-11b encoder, fp32, float16 output"));
    json_object_set_new(r, "d_model", json_integer(d_model));
    json_object_set_new(r, "captioning_algorithm", json_string(o->algo));
    json_object_set_new(r, "annotation_version", json_string(o->version));
    json_t *ws = json_array();
    for (size_t i = 0; i < c->nw; i++)
        json_array_append_new(ws, json_pack("{s:I,s:I,s:s}", "start_frame", (json_int_t)c->w[i].start,
                                            "end_frame", (json_int_t)c->w[i].end, "caption_sha256",
                                            c->w[i].sha));
    json_object_set_new(r, "windows", ws);
    return r;
}

/* True when out_dir has this clip's pickle and a record for the same captions. */
static bool clip_up_to_date(const clip *c, const embed_opts *o, const char *out_dir, int d_model)
{
    char *pk = vc_asprintf("%s/%s.pickle", out_dir, c->uuid);
    char *rp = vc_asprintf("%s/%s.json", out_dir, c->uuid);
    bool ok = false;
    if (vc_fs_exists(pk)) {
        json_error_t je;
        json_t *have = load_json(rp, &je);
        json_t *want = clip_record(c, o, d_model);
        ok = have && json_equal(have, want);
        json_decref(have);
        json_decref(want);
    }
    free(pk);
    free(rp);
    return ok;
}

static int write_file(const char *path, const void *data, size_t len)
{
    int rc = vc_fs_write_atomic(path, data, len);
    if (rc)
        vc_error("cannot write %s: %s", path, strerror(-rc));
    return rc ? -1 : 0;
}

static int clip_write(const clip *c, const embed_opts *o, const char *out_dir, const char *p2_dir,
                      int d_model, size_t *p2_written)
{
    vc_pickle_f16_array *arr = vc_xcalloc(c->nw ? c->nw : 1, sizeof *arr);
    for (size_t i = 0; i < c->nw; i++)
        arr[i] = (vc_pickle_f16_array){ c->w[i].emb.data, c->w[i].emb.rows, c->w[i].emb.cols };
    vc_buf pk = { 0 };
    vc_pickle_f16_array_list(&pk, arr, c->nw);
    char *path = vc_asprintf("%s/%s.pickle", out_dir, c->uuid);
    int rc = write_file(path, pk.data, pk.len);
    free(path);
    vc_buf_free(&pk);
    if (!rc) {
        json_t *r = clip_record(c, o, d_model);
        char *text = json_dumps(r, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        path = vc_asprintf("%s/%s.json", out_dir, c->uuid);
        rc = write_file(path, text, strlen(text));
        free(path);
        free(text);
        json_decref(r);
    }
    for (size_t i = 0; !rc && p2_dir && i < c->nw; i++) {
        const window *w = &c->w[i];
        char *video = vc_p2_path(o->input, VC_P2_VIDEO, c->uuid, w->start, w->end);
        if (vc_fs_exists(video)) {
            vc_buf one = { 0 };
            vc_pickle_f16_array_list(&one, &arr[i], 1);
            char *tp = vc_p2_path(o->input, VC_P2_T5, c->uuid, w->start, w->end);
            char *mp = vc_p2_path(o->input, VC_P2_META, c->uuid, w->start, w->end);
            rc = write_file(tp, one.data, one.len);
            if (!rc)
                rc = write_file(mp, w->caption, strlen(w->caption));
            if (!rc)
                (*p2_written)++;
            free(tp);
            free(mp);
            vc_buf_free(&one);
        }
        free(video);
    }
    free(arr);
    return rc;
}

/* ---- the run ---- */

static char *t5_folder(const char *weights_arg, char **ckpt, char *err, size_t errlen)
{
    *ckpt = NULL;
    char *weights = vc_models_localize(weights_arg, "t5_xxl", err, errlen);   /* s3:// -> local cache */
    if (!weights)
        return NULL;
    char *cfg = vc_fs_join(weights, "config.json");
    bool direct = vc_fs_exists(cfg);
    free(cfg);
    if (direct)
        return weights;   /* a Hugging Face folder given directly */
    char *folder = NULL;
    if ((*ckpt = vc_models_checkpoint_path(weights, "t5_xxl", err, errlen)))
        folder = vc_models_repo_dir(weights, vc_models_find("t5_xxl"));
    free(weights);
    return folder;
}

static int run(const embed_opts *o)
{
    char err[1024];
    char *metas_dir = vc_asprintf("%s/metas/%s", o->input, o->version);
    char *out_dir = vc_asprintf("%s/t5_xxl/%s/%s", o->input, o->version, o->algo);
    char *p2_dir = o->predict2 ? vc_p2_dir(o->input) : NULL;
    char *caption_key = vc_asprintf("%s_caption", o->algo);
    char *folder = NULL, *ckpt = NULL;
    vc_strlist files = { 0 };
    clip *clips = NULL;
    vc_t5_text t5 = { 0 };
    bool t5_open = false;
    int status = 1;
    size_t nclips = 0, uncaptioned = 0, up_to_date = 0, windows_done = 0, clips_done = 0, p2 = 0, failed = 0;

    int lr = vc_fs_list_recursive(metas_dir, &files);
    if (lr) {
        vc_error("cannot list %s: %s", metas_dir, strerror(-lr));
        goto out;
    }
    /* metas/VERSION/{uuid}.json directly in the folder */
    clips = vc_xcalloc(files.len ? files.len : 1, sizeof *clips);
    size_t prefix = strlen(metas_dir) + 1;
    for (size_t i = 0; i < files.len; i++) {
        const char *f = files.items[i];
        size_t n = strlen(f);
        if (n < prefix + 6 || strchr(f + prefix, '/') || strcmp(f + n - 5, ".json"))
            continue;
        if (clip_load(f, caption_key, &clips[nclips], &uncaptioned)) {
            clip_free(&clips[nclips]);
            failed++;
            continue;
        }
        nclips++;
    }
    if (!(folder = t5_folder(o->weights, &ckpt, err, sizeof err))) {
        vc_error("%s", err);
        goto out;
    }
    double t0 = vc_now();
    vc_t5_opts to = { .checkpoint = ckpt, .threads = o->threads, .cuda = o->cuda, .cuda_device = o->cuda_device,
                      .tf32 = o->tf32 };
    if (vc_t5_text_open(&t5, folder, &to, err, sizeof err)) {
        vc_error("T5: %s", err);
        goto out;
    }
    t5_open = true;
    int d_model = vc_t5_config_of(t5.model)->d_model;
    vc_info("T5 encoder from %s (%d layers, d_model %d) opened in %.1f s", vc_t5_checkpoint_path(t5.model),
            vc_t5_config_of(t5.model)->num_layers, d_model, vc_now() - t0);

    /* Pending clips, then batches of captions across them. */
    size_t *pending = vc_xcalloc(nclips ? nclips : 1, sizeof *pending);
    size_t npending = 0, ncaptions = 0;
    for (size_t i = 0; i < nclips; i++) {
        if (!o->force && clip_up_to_date(&clips[i], o, out_dir, d_model)) {
            up_to_date++;
            continue;
        }
        pending[npending++] = i;
        ncaptions += clips[i].nw;
    }
    vc_info("%zu clips in %s: %zu up to date, %zu to embed (%zu captions); %zu windows without \"%s\"",
            nclips, metas_dir, up_to_date, npending, ncaptions, uncaptioned, caption_key);
    const char **batch = vc_xcalloc((size_t)o->batch, sizeof *batch);
    window **slots = vc_xcalloc((size_t)o->batch, sizeof *slots);
    vc_t5_embedding *embs = vc_xcalloc((size_t)o->batch, sizeof *embs);
    double t1 = vc_now();
    size_t next = 0;    /* first pending clip with windows not yet in a batch */
    size_t wnext = 0;   /* its next window */
    size_t flushed = 0; /* pending clips written */
    status = 0;
    while (!status) {
        if (vc_cancelled()) {
            status = 130;
            break;
        }
        int nb = 0;
        for (;;) {
            while (next < npending && wnext >= clips[pending[next]].nw) {
                next++;
                wnext = 0;
            }
            if (nb >= o->batch || next >= npending)
                break;
            window *w = &clips[pending[next]].w[wnext++];
            slots[nb] = w;
            batch[nb] = w->caption;
            nb++;
        }
        if (nb && vc_t5_text_embed(&t5, nb, batch, embs, err, sizeof err)) {
            vc_error("T5: %s", err);
            status = 1;
            break;
        }
        for (int k = 0; k < nb; k++)
            slots[k]->emb = embs[k];
        windows_done += (size_t)nb;
        /* every clip before `next` has all its windows embedded */
        for (; flushed < next && !status; flushed++) {
            clip *c = &clips[pending[flushed]];
            if (clip_write(c, o, out_dir, p2_dir, d_model, &p2)) {
                status = 1;
                break;
            }
            clips_done++;
            for (size_t k = 0; k < c->nw; k++)
                vc_t5_embedding_free(&c->w[k].emb);
        }
        vc_info("embedded %zu/%zu captions, %zu/%zu clips written", windows_done, ncaptions, clips_done, npending);
        if (next >= npending)
            break;
    }
    double dt = vc_now() - t1;
    free(pending);
    free(batch);
    free(slots);
    free(embs);
    if (status == 130)
        vc_warn("interrupted: %zu of %zu clips written; rerun to finish", clips_done, npending);
    vc_info("embedded %zu captions of %zu clips in %.1f s (%.2f captions/s) into %s", windows_done, clips_done,
            dt, dt > 0 ? windows_done / dt : 0.0, out_dir);
    if (p2_dir)
        vc_info("predict2: %zu window embeddings and captions rewritten under %s", p2, p2_dir);
    if (failed) {
        vc_error("%zu metadata files could not be read", failed);
        if (!status)
            status = 1;
    }
out:
    for (size_t i = 0; i < nclips; i++)
        clip_free(&clips[i]);
    free(clips);
    if (t5_open)
        vc_t5_text_close(&t5);
    vc_strlist_free(&files);
    free(folder);
    free(ckpt);
    free(caption_key);
    free(p2_dir);
    free(out_dir);
    free(metas_dir);
    return status;
}

int vc_cmd_embed(int argc, char **argv)
{
    embed_opts o = { .algo = "qwen", .version = "v0", .batch = 16 };
    const char *device = "auto";
    bool verbose = false;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case OPT_INPUT: o.input = optarg; break;
        case OPT_ALGO:
            if (!valid_name(optarg, false))
                return usage_error("--captioning-algorithm '%s': use letters, digits and _", optarg);
            o.algo = optarg;
            break;
        case OPT_VERSION:
            if (!valid_name(optarg, true))
                return usage_error("--annotation-version '%s' must name one directory", optarg);
            o.version = optarg;
            break;
        case OPT_WEIGHTS: o.weights = optarg; break;
        case OPT_DEVICE: device = optarg; break;
        case OPT_BATCH:
            if (!parse_int(optarg, 1, 4096, &o.batch))
                return usage_error("--batch-size expects an integer from 1 to 4096, got '%s'", optarg);
            break;
        case OPT_THREADS:
            if (!parse_int(optarg, 0, 1024, &o.threads))
                return usage_error("--threads expects an integer from 0 to 1024, got '%s'", optarg);
            break;
        case OPT_PREDICT2: o.predict2 = true; break;
        case OPT_FORCE: o.force = true; break;
        case OPT_TF32: o.tf32 = true; break;
        case OPT_VERBOSE: verbose = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return usage_error("unknown option");
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.input)
        return usage_error("--input-clip-path is required");
    vc_nn_device dev;
    char err[256];
    if (vc_nn_device_parse(device, &dev, err, sizeof err))
        return usage_error("%s", err);
    if (dev.kind == VC_DEV_CUDA && !vc_t5_has_cuda()) {
        vc_error("--device %s: this build has no CUDA T5 encoder (built without nvcc); use --device cpu", device);
        return 1;
    }
    if (dev.kind == VC_DEV_AUTO && vc_t5_has_cuda())
        dev = vc_nn_device_resolve(dev);
    o.cuda = dev.kind == VC_DEV_CUDA;
    o.cuda_device = dev.index;
    if (!o.weights)
        o.weights = vc_models_default_dir();
    if (verbose)
        vc_log_set_level(VC_LOG_DEBUG);
    return run(&o);
}
