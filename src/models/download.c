/* `vcurate models download`: which files each model needs, fetched in
 * rounds (probe which checkpoint format the hub has; config, tokenizer and
 * checkpoint; shards of a sharded checkpoint), then T5's encoder-only file. */
#include "models/models.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "models/hub.h"
#include "models/internal.h"
#include "models/local.h"
#include "storage/fs.h"
#include "util/common.h"
#include "util/log.h"

enum { K_PROBE, K_FIXED, K_CKPT, K_SHARD };

typedef struct dl_model {
    const vc_model_def *m;
    char *repo_dir;
    bool want_reduced;   /* write the encoder-only file */
    bool reduced_ok;     /* it is there already, as recorded */
    bool need_ckpt;
    char *ckpt;          /* checkpoint chosen */
    char **shards;
    size_t nshards;
    char commit[96];
    char *error;
    int files_fetched, files_ok;
} dl_model;

typedef struct {
    vc_hub_file *v;
    int *owner, *kind;
    size_t len;
} batch;

static void batch_add(batch *b, int owner, int kind, const dl_model *d, const char *file)
{
    b->v = vc_xrealloc(b->v, (b->len + 1) * sizeof *b->v);
    b->owner = vc_xrealloc(b->owner, (b->len + 1) * sizeof *b->owner);
    b->kind = vc_xrealloc(b->kind, (b->len + 1) * sizeof *b->kind);
    vc_hub_file *f = &b->v[b->len];
    memset(f, 0, sizeof *f);
    f->label = d->m->id;
    f->repo = d->m->repo;
    f->revision = d->m->revision;
    f->file = vc_xstrdup(file);
    f->repo_dir = d->repo_dir;
    f->probe = kind == K_PROBE;
    b->owner[b->len] = owner;
    b->kind[b->len] = kind;
    b->len++;
}

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->len; i++) {
        free((char *)b->v[i].file);
        vc_hub_file_clear(&b->v[i]);
    }
    free(b->v);
    free(b->owner);
    free(b->kind);
    memset(b, 0, sizeof *b);
}

static void set_model_error(dl_model *d, const char *msg)
{
    if (!d->error)
        d->error = vc_xstrdup(msg);
}

/* Free bytes where dir is (or would be created). */
static int64_t free_bytes(const char *dir)
{
    char *p = vc_xstrdup(dir);
    struct statvfs s;
    for (;;) {
        if (statvfs(p, &s) == 0) {
            free(p);
            return (int64_t)s.f_bavail * (int64_t)s.f_frsize;
        }
        char *sl = strrchr(p, '/');
        if (!sl || sl == p) {
            free(p);
            return -1;
        }
        *sl = 0;
    }
}

/* The encoder-only file is there and as recorded (and, with recheck, its hash matches). */
static bool reduced_valid(const dl_model *d, bool recheck, bool (*cancelled)(void))
{
    const char *rf = d->m->reduced_file;
    vc_file_record r;
    char *path = vc_fs_join(d->repo_dir, rf);
    int64_t size, mtime;
    bool ok = vc_models_stat(path, &size, &mtime) == 0 && vc_models_record_read(d->repo_dir, rf, &r) == 0 &&
              r.size == size && (recheck || vc_models_record_matches_stat(&r, size, mtime));
    if (ok && (recheck || !vc_models_record_matches_stat(&r, size, mtime)))
        ok = vc_hash_file_check(path, r.etag, size, NULL, 0, cancelled) == 1;
    free(path);
    return ok;
}

static void remove_full_checkpoint(dl_model *d)
{
    int64_t freed = 0;
    for (size_t i = 0; i <= d->nshards; i++) {
        const char *f = i < d->nshards ? d->shards[i] : d->ckpt;
        char *p = vc_fs_join(d->repo_dir, f);
        int64_t sz = 0;
        if (vc_models_stat(p, &sz, NULL) == 0 && unlink(p) == 0)
            freed += sz;
        free(p);
        vc_models_record_remove(d->repo_dir, f);
        vc_models_remove_partials(d->repo_dir, f, NULL);
    }
    char s[32];
    vc_models_fmt_size(freed, s, sizeof s);
    vc_info("%s: removed the full checkpoint %s (%s; --keep-full keeps it)", d->m->id, d->ckpt, s);
}

static int run_batch(const vc_hub_opts *ho, batch *b, dl_model *ds)
{
    if (!b->len)
        return 0;
    int rc = vc_hub_run(ho, b->v, b->len);
    for (size_t i = 0; i < b->len; i++) {
        vc_hub_file *f = &b->v[i];
        dl_model *d = &ds[b->owner[i]];
        if (b->kind[i] == K_PROBE)
            continue;
        if (f->result == VC_HUB_OK) {
            d->files_ok++;
            d->files_fetched += f->fetched;
            if (f->commit[0] && !d->commit[0])
                snprintf(d->commit, sizeof d->commit, "%s", f->commit);
        } else if (f->result != VC_HUB_CANCELLED) {
            set_model_error(d, f->error ? f->error : "failed");
        }
    }
    return rc;
}

int vc_models_download(const vc_model_def *const *models, size_t n, const vc_models_download_opts *o)
{
    char tsrc[512] = "", terr[512] = "";
    int bad = 0;
    char *token = vc_hub_token(tsrc, sizeof tsrc, &bad, terr, sizeof terr);
    if (bad) {
        vc_error("%s", terr);
        return 1;
    }
    char *endpoint = vc_hub_endpoint(o->endpoint);
    vc_hub_opts ho = {
        .endpoint = endpoint, .token = token, .token_source = token ? tsrc : NULL, .jobs = o->jobs,
        .retries = o->retries, .retry_wait_s = o->retry_wait_s, .stall_timeout_s = o->stall_timeout_s,
        .recheck = o->recheck, .progress = o->progress, .verbose = o->verbose, .cancelled = o->cancelled,
    };
    vc_info("fetching %zu model%s from %s into %s%s", n, n == 1 ? "" : "s", endpoint, o->model_dir,
            token ? " (with a token)" : "");

    dl_model *ds = vc_xcalloc(n ? n : 1, sizeof *ds);
    int cancelled = 0;
    batch b = { 0 };
    for (size_t i = 0; i < n; i++) {
        dl_model *d = &ds[i];
        d->m = models[i];
        d->repo_dir = vc_models_repo_dir(o->model_dir, d->m);
        if (d->m->reduced_file) {
            char *rp = vc_fs_join(d->repo_dir, d->m->reduced_file);
            bool have = vc_fs_exists(rp);
            free(rp);
            /* An encoder-only folder stays one: a plain download repairs it. */
            d->want_reduced = o->encoder_only || have;
            d->reduced_ok = have && reduced_valid(d, o->recheck, o->cancelled);
            if (have && !d->reduced_ok)
                vc_warn("%s: %s is not as it was written: rebuilding it from the checkpoint", d->m->id,
                        d->m->reduced_file);
        } else if (o->encoder_only) {
            vc_info("%s: --encoder-only applies to t5_xxl only; fetching the whole model", d->m->id);
        }
        d->need_ckpt = !d->reduced_ok;
        if (!d->need_ckpt)
            continue;
        /* A checkpoint already here (or partly) decides the format; else ask the hub. */
        vc_local_model lm;
        vc_local_scan(&lm, o->model_dir, d->m);
        if (lm.ckpt && !lm.reduced)
            d->ckpt = vc_xstrdup(lm.ckpt);
        for (const char *const *c = d->m->checkpoints; lm.reduced && *c && !d->ckpt; c++) {
            char *p = vc_fs_join(d->repo_dir, *c), *pp = vc_models_find_partial(d->repo_dir, *c, NULL);
            if (vc_fs_exists(p) || pp)
                d->ckpt = vc_xstrdup(*c);
            free(p);
            free(pp);
        }
        vc_local_free(&lm);
        if (!d->ckpt && !d->m->checkpoints[1])
            d->ckpt = vc_xstrdup(d->m->checkpoints[0]);
        if (!d->ckpt)
            for (const char *const *c = d->m->checkpoints; *c; c++)
                batch_add(&b, (int)i, K_PROBE, d, *c);
    }

    /* Round 0: which checkpoint format does the hub have? */
    if (b.len) {
        int rc = vc_hub_run(&ho, b.v, b.len);
        if (rc == 130)
            cancelled = 1;
        for (size_t i = 0; i < n && !cancelled; i++) {
            dl_model *d = &ds[i];
            if (!d->need_ckpt || d->ckpt)
                continue;
            const vc_hub_file *err = NULL;
            int64_t size = -1;
            for (size_t k = 0; k < b.len && !d->ckpt; k++) {
                if (b.owner[k] != (int)i)
                    continue;
                if (b.v[k].result == VC_HUB_OK) {
                    d->ckpt = vc_xstrdup(b.v[k].file);
                    size = b.v[k].size;
                } else if (b.v[k].result == VC_HUB_FAILED && !err) {
                    err = &b.v[k];
                }
            }
            if (err && !d->ckpt) {
                set_model_error(d, err->error);
            } else if (!d->ckpt) {
                char *msg = vc_asprintf("%s: %s/%s (revision %s) has none of the checkpoint files vcurate reads "
                                        "(%s%s%s%s)", d->m->id, endpoint, d->m->repo, d->m->revision,
                                        d->m->checkpoints[0], d->m->checkpoints[1] ? ", " : "",
                                        d->m->checkpoints[1] ? d->m->checkpoints[1] : "",
                                        d->m->checkpoints[1] && d->m->checkpoints[2] ? ", ..." : "");
                set_model_error(d, msg);
                free(msg);
            } else if (size > 0) {
                int64_t fb = free_bytes(d->repo_dir);
                if (fb >= 0 && fb < size) {
                    char a[32], c[32];
                    vc_models_fmt_size(size, a, sizeof a);
                    vc_models_fmt_size(fb, c, sizeof c);
                    char *msg = vc_asprintf("%s: %s needs %s but only %s are free in %s", d->m->id, d->ckpt, a, c,
                                            d->repo_dir);
                    set_model_error(d, msg);
                    free(msg);
                }
            }
        }
        batch_free(&b);
    }

    /* Round 1: config, tokenizer and the checkpoint (or its index). */
    for (size_t i = 0; i < n && !cancelled; i++) {
        dl_model *d = &ds[i];
        if (d->error)
            continue;
        for (const char *const *f = d->m->files; *f; f++)
            batch_add(&b, (int)i, K_FIXED, d, *f);
        if (d->need_ckpt)
            batch_add(&b, (int)i, K_CKPT, d, d->ckpt);
    }
    if (!cancelled && run_batch(&ho, &b, ds) == 130)
        cancelled = 1;
    batch_free(&b);

    /* Round 2: the shards of sharded checkpoints (with --encoder-only, only
     * those holding encoder tensors). */
    for (size_t i = 0; i < n && !cancelled; i++) {
        dl_model *d = &ds[i];
        if (d->error || !d->need_ckpt || !vc_models_is_index(d->ckpt))
            continue;
        char *ip = vc_fs_join(d->repo_dir, d->ckpt);
        char err[512];
        if (vc_models_index_shards(ip, vc_local_shard_filter(d->m, d->want_reduced), &d->shards, &d->nshards, err,
                                   sizeof err)) {
            set_model_error(d, err);
        } else {
            for (size_t k = 0; k < d->nshards; k++)
                batch_add(&b, (int)i, K_SHARD, d, d->shards[k]);
        }
        free(ip);
    }
    if (!cancelled && run_batch(&ho, &b, ds) == 130)
        cancelled = 1;
    batch_free(&b);

    /* The encoder-only file. */
    for (size_t i = 0; i < n && !cancelled; i++) {
        dl_model *d = &ds[i];
        if (d->error || !d->want_reduced || d->reduced_ok)
            continue;
        if (o->cancelled && o->cancelled()) {
            cancelled = 1;
            break;
        }
        vc_info("%s: writing %s (encoder.* and shared.weight of %s)", d->m->id, d->m->reduced_file, d->ckpt);
        char err[1024];
        double t0 = vc_now();
        if (vc_models_write_reduced(d->m, d->repo_dir, d->ckpt, d->commit[0] ? d->commit : NULL, err, sizeof err)) {
            char *msg = vc_asprintf("%s: cannot write %s: %s", d->m->id, d->m->reduced_file, err);
            set_model_error(d, msg);
            free(msg);
            continue;
        }
        char *rp = vc_fs_join(d->repo_dir, d->m->reduced_file);
        int64_t sz = 0;
        vc_models_stat(rp, &sz, NULL);
        free(rp);
        char s[32];
        vc_models_fmt_size(sz, s, sizeof s);
        vc_info("%s: %s written (%s, %.1f s)", d->m->id, d->m->reduced_file, s, vc_now() - t0);
        d->reduced_ok = true;
        if (!o->keep_full)
            remove_full_checkpoint(d);
    }

    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        dl_model *d = &ds[i];
        if (d->error) {
            vc_error("%s", d->error);
            failed++;
        } else if (!cancelled) {
            vc_info("%s: ready in %s (%s @ %.12s%s)", d->m->id, d->repo_dir, d->m->repo, d->m->revision,
                    d->reduced_ok ? ", encoder-only" : "");
        }
        free(d->repo_dir);
        free(d->ckpt);
        vc_models_free_strv(d->shards, d->nshards);
        free(d->error);
    }
    free(ds);
    free(endpoint);
    vc_hub_token_free(token);
    if (cancelled) {
        vc_warn("interrupted: finished files are in place and partial ones kept; run the same command to resume");
        return 130;
    }
    if (failed) {
        vc_error("%d model%s failed; after fixing the cause, run the same command again: finished files are "
                 "kept and partial ones resume", failed, failed == 1 ? "" : "s");
        return 1;
    }
    return 0;
}
