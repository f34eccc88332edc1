/* Model weights: which models vcurate can use, where their files live, and
 * getting them from Hugging Face (or a mirror) in the layout split and shard
 * read: {model_dir}/{repo}/{file}, e.g.
 *   {model_dir}/Sn4kehead/TransNetV2/transnetv2-pytorch-weights.pth
 * Each downloaded file gets a small record next to it, in the place and
 * format huggingface_hub uses for local_dir downloads
 *   {model_dir}/{repo}/.cache/huggingface/download/{file}.metadata
 * (commit, etag, timestamp, then vcurate's own lines: size, mtime, revision),
 * which is what `verify` checks sizes and hashes against. Partial downloads
 * sit beside it as {file}.{etag}.incomplete and are resumed with ranged GETs. */
#ifndef VC_MODELS_MODELS_H
#define VC_MODELS_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One tensor a model reads: its name and shape (ndim 0: a scalar). */
typedef struct vc_model_tensor {
    char *name;
    int ndim;
    int64_t shape[8];
} vc_model_tensor;

typedef struct vc_model_tensors {
    vc_model_tensor *items;
    size_t len, cap;
} vc_model_tensors;

void vc_model_tensors_free(vc_model_tensors *t);

typedef struct vc_model_def {
    const char *id;               /* "transnetv2", the --models name */
    const char *const *aliases;   /* other accepted names, NULL-terminated (may be NULL) */
    const char *title;
    const char *used_by;          /* which command/option needs it */
    const char *repo;             /* Hugging Face repo id */
    const char *revision;         /* pinned commit */
    const char *license;
    const char *const *files;     /* always needed (config, tokenizer), NULL-terminated */
    /* The weights: alternatives in order of preference, NULL-terminated; the
     * first the hub has is fetched (an *.index.json brings its shards). */
    const char *const *checkpoints;
    int64_t approx_bytes;         /* download size of the usual checkpoint, for messages */
    /* Models whose checkpoint can be reduced to the tensors they read
     * (T5: encoder.* and shared.weight): the reduced file's name, else NULL. */
    const char *reduced_file;
    /* Tensors the model reads, for verify. repo_dir lets it read config.json
     * (sizes are taken from there when present). Returns 0 or -1 with err. */
    int (*expected)(const char *repo_dir, vc_model_tensors *out, char *err, size_t errlen);
} vc_model_def;

size_t vc_models_count(void);
const vc_model_def *vc_models_at(size_t i);
/* By id or alias; NULL if unknown. */
const vc_model_def *vc_models_find(const char *name);
/* "transnetv2, t5_xxl, ..." (static). */
const char *vc_models_ids(void);

/* True for tensors --encoder-only keeps (encoder.* and shared.weight). */
bool vc_models_t5_keep_tensor(const char *name);

/* --model-weights-path default: $VCURATE_MODEL_DIR, else
 * ~/.cache/vcurate/models (static storage). */
const char *vc_models_default_dir(void);

/* {model_dir}/{repo} (caller frees). */
char *vc_models_repo_dir(const char *model_dir, const vc_model_def *m);

/* The checkpoint a loader should open for model `id` under model_dir: the
 * reduced encoder-only file when present, else the first checkpoint
 * alternative present (an *.index.json is returned as is; the weights
 * reader follows it). NULL with a message naming the fix command in err
 * when none is there. Caller frees. */
char *vc_models_checkpoint_path(const char *model_dir, const char *id, char *err, size_t errlen);

/* Start-up check for split/shard: each model in model_ids (NULL-terminated)
 * has its files under model_dir, complete (size as downloaded, no partial
 * left), and, when the checkpoint reader is built in, the tensors the model
 * reads with the right shapes. Hashes are not computed (that is `verify`).
 * Returns 0, or -1 with err saying what is wrong and the command that
 * fixes it ("run: vcurate models download --models transnetv2 ..."). */
int vc_models_check(const char *model_dir, const char *const *model_ids, char *err, size_t errlen);

/* A model folder as the loaders take it: dir itself when local; for an
 * s3:// dir (the models layout, or a Hugging Face folder given directly, one
 * holding config.json) the files model `id` reads are fetched into a local
 * cache folder, unless there with the same size, and that folder is returned.
 * Caller frees; NULL with err naming the object and the cause. */
char *vc_models_localize(const char *dir, const char *id, char *err, size_t errlen);

/* ---- list / verify / download (the `vcurate models` command) ---- */

/* Prints each model, its files, repo, revision, license and local state. */
void vc_models_list(FILE *out, const char *model_dir, const vc_model_def *const *models, size_t n);

typedef struct vc_models_verify_opts {
    const char *model_dir;
    bool hash;            /* compare sha256 / git-sha1 with the recorded etags */
    bool tensors;         /* open checkpoints, check tensor names and shapes */
    bool skip_absent;     /* a model with no file at all is not an error */
    const char *fix_dir_arg; /* " --model-weights-path DIR" for fix commands, or "" */
    bool (*cancelled)(void);
} vc_models_verify_opts;

/* Prints one line per checked item and, per problem, what is wrong and the
 * command that fixes it. Returns 0 when everything checked is good, 1 when
 * something is wrong or missing, 130 when cancelled. */
int vc_models_verify(FILE *out, const vc_model_def *const *models, size_t n,
                     const vc_models_verify_opts *o);

typedef struct vc_models_download_opts {
    const char *model_dir;
    const char *endpoint;   /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    bool encoder_only;      /* T5: write the reduced file, then drop the full checkpoint */
    bool keep_full;         /* with encoder_only: keep the full checkpoint too */
    bool recheck;           /* hash files already present even when their record matches */
    bool progress;          /* progress bar on stderr */
    bool verbose;
    int jobs;               /* files fetched at once (<= 0: 4) */
    int retries;            /* per file, after a failure that made no progress (< 0: 5) */
    double retry_wait_s;    /* first backoff (<= 0: 1 s), doubled each retry, capped at 30 s */
    double stall_timeout_s; /* abort a transfer stalled this long (<= 0: 60 s) */
    const char *fix_dir_arg;
    bool (*cancelled)(void);
} vc_models_download_opts;

/* Returns 0 on success, 1 when some file failed (each error is logged with
 * its cause), 130 when cancelled (partial files are kept for resume). */
int vc_models_download(const vc_model_def *const *models, size_t n, const vc_models_download_opts *o);

/* ---- helpers shared with tests ---- */

/* Human size: "30.5 MB", "45.2 GB" (decimal units, as the hub shows). */
void vc_models_fmt_size(int64_t bytes, char *buf, size_t len);
/* s quoted for a shell command shown to the user (caller frees). */
char *vc_models_shell_quote(const char *s);

#endif
