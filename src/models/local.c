/* What is on disk: list, verify, the start-up check, checkpoint lookup. */
#include "models/local.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/fs.h"
#include "util/common.h"

static bool file_exists(const char *repo_dir, const char *file)
{
    char *p = vc_fs_join(repo_dir, file);
    bool e = vc_models_stat(p, NULL, NULL) == 0;
    free(p);
    return e;
}

static bool partial_exists(const char *repo_dir, const char *file)
{
    char *p = vc_models_find_partial(repo_dir, file, NULL);
    free(p);
    return p != NULL;
}

static void add_file(vc_local_model *lm, const char *file, bool ckpt)
{
    lm->files = vc_xrealloc(lm->files, (lm->nfiles + 1) * sizeof *lm->files);
    vc_local_file *f = &lm->files[lm->nfiles++];
    memset(f, 0, sizeof *f);
    f->name = vc_xstrdup(file);
    f->checkpoint = ckpt;
    char *path = vc_fs_join(lm->repo_dir, file);
    f->exists = vc_models_stat(path, &f->size, &f->mtime_ns) == 0;
    free(path);
    f->has_record = vc_models_record_read(lm->repo_dir, file, &f->rec) == 0;
    char *pp = vc_models_find_partial(lm->repo_dir, file, &f->partial_size);
    f->has_partial = pp != NULL;
    free(pp);
    if (!f->exists)
        f->state = f->has_partial ? VC_LF_PARTIAL : VC_LF_MISSING;
    else if (!f->has_record)
        f->state = VC_LF_UNRECORDED;
    else if (f->rec.size >= 0 && f->rec.size != f->size)
        f->state = VC_LF_SIZE_CHANGED;
    else if (!vc_models_record_matches_stat(&f->rec, f->size, f->mtime_ns))
        f->state = VC_LF_TOUCHED;
    else
        f->state = VC_LF_OK;
}

static bool keep_all(const char *name)
{
    (void)name;
    return true;
}

bool (*vc_local_shard_filter(const vc_model_def *m, bool reduced))(const char *)
{
    return m->reduced_file && reduced ? vc_models_t5_keep_tensor : keep_all;
}

void vc_local_scan(vc_local_model *lm, const char *model_dir, const vc_model_def *m)
{
    memset(lm, 0, sizeof *lm);
    lm->m = m;
    lm->repo_dir = vc_models_repo_dir(model_dir, m);
    for (const char *const *f = m->files; *f; f++)
        add_file(lm, *f, false);
    if (m->reduced_file && file_exists(lm->repo_dir, m->reduced_file)) {
        lm->reduced = true;
        lm->ckpt = vc_xstrdup(m->reduced_file);
        add_file(lm, m->reduced_file, true);
        return;
    }
    /* The first alternative present, else the first with a partial. */
    for (int pass = 0; pass < 2 && !lm->ckpt; pass++)
        for (const char *const *c = m->checkpoints; *c && !lm->ckpt; c++)
            if (pass == 0 ? file_exists(lm->repo_dir, *c) : partial_exists(lm->repo_dir, *c))
                lm->ckpt = vc_xstrdup(*c);
    if (!lm->ckpt) {
        lm->ckpt_missing = true;
        return;
    }
    add_file(lm, lm->ckpt, true);
    if (vc_models_is_index(lm->ckpt) && lm->files[lm->nfiles - 1].exists) {
        char *ip = vc_fs_join(lm->repo_dir, lm->ckpt);
        char **shards;
        size_t n;
        char err[512];
        if (vc_models_index_shards(ip, keep_all, &shards, &n, err, sizeof err) == 0) {
            /* Shards a partial encoder-only download skipped are not needed
             * by the encoder; count only those that hold what it reads. */
            char **need;
            size_t nn;
            vc_models_index_shards(ip, vc_local_shard_filter(m, m->reduced_file != NULL), &need, &nn, err,
                                   sizeof err);
            for (size_t i = 0; i < n; i++) {
                bool needed = false;
                for (size_t k = 0; k < nn && !needed; k++)
                    needed = !strcmp(need[k], shards[i]);
                if (needed || file_exists(lm->repo_dir, shards[i]))
                    add_file(lm, shards[i], true);
            }
            vc_models_free_strv(need, nn);
            vc_models_free_strv(shards, n);
        } else {
            lm->index_error = vc_xstrdup(err);
        }
    }
}

void vc_local_free(vc_local_model *lm)
{
    for (size_t i = 0; i < lm->nfiles; i++)
        free(lm->files[i].name);
    free(lm->files);
    free(lm->repo_dir);
    free(lm->ckpt);
    free(lm->index_error);
    memset(lm, 0, sizeof *lm);
}

bool vc_local_anything(const vc_local_model *lm)
{
    for (size_t i = 0; i < lm->nfiles; i++)
        if (lm->files[i].exists || lm->files[i].has_partial)
            return true;
    return false;
}

char *vc_local_fix(const vc_model_def *m, bool recheck, bool encoder_only, const char *dir_arg)
{
    return vc_asprintf("vcurate models download --models %s%s%s%s", m->id, encoder_only ? " --encoder-only" : "",
                       recheck ? " --recheck" : "", dir_arg ? dir_arg : "");
}

/* ---- checkpoint lookup for loaders ---- */

static char *dir_arg_for(const char *model_dir)
{
    if (!strcmp(model_dir, vc_models_default_dir()))
        return vc_xstrdup("");
    char *q = vc_models_shell_quote(model_dir);
    char *s = vc_asprintf(" --model-weights-path %s", q);
    free(q);
    return s;
}

char *vc_models_checkpoint_path(const char *model_dir, const char *id, char *err, size_t errlen)
{
    const vc_model_def *m = vc_models_find(id);
    if (!m) {
        snprintf(err, errlen, "unknown model '%s' (known: %s)", id, vc_models_ids());
        return NULL;
    }
    vc_local_model lm;
    vc_local_scan(&lm, model_dir, m);
    char *res = NULL;
    for (size_t i = 0; lm.ckpt && i < lm.nfiles; i++)
        if (lm.files[i].exists && !strcmp(lm.files[i].name, lm.ckpt))
            res = vc_fs_join(lm.repo_dir, lm.ckpt);
    if (!res) {
        char *da = dir_arg_for(model_dir);
        char *fix = vc_local_fix(m, false, false, da);
        snprintf(err, errlen, "no %s weights under %s (looked for %s%s); run: %s", m->id, lm.repo_dir,
                 m->reduced_file ? m->reduced_file : m->checkpoints[0], m->reduced_file ? " or the full checkpoint" : "",
                 fix);
        free(fix);
        free(da);
    }
    vc_local_free(&lm);
    return res;
}

/* ---- start-up check ---- */

static void appendf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t len, const char *fmt, ...)
{
    size_t o = strlen(buf);
    if (o + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + o, len - o, fmt, ap);
    va_end(ap);
}

/* First problem of a scanned model, or NULL. Caller frees. */
static char *first_problem(const vc_local_model *lm, bool *recheck)
{
    *recheck = false;
    const vc_model_def *m = lm->m;
    if (lm->ckpt_missing && !m->checkpoints[1])
        return vc_asprintf("%s/%s not found", lm->repo_dir, m->checkpoints[0]);
    if (lm->ckpt_missing)
        return vc_asprintf("no checkpoint (%s, %s%s) in %s", m->checkpoints[0], m->checkpoints[1],
                           m->checkpoints[2] ? ", ..." : "", lm->repo_dir);
    if (lm->index_error)
        return vc_xstrdup(lm->index_error);
    for (size_t i = 0; i < lm->nfiles; i++) {
        const vc_local_file *f = &lm->files[i];
        char a[32], b[32];
        switch (f->state) {
        case VC_LF_MISSING:
            return vc_asprintf("%s/%s not found", lm->repo_dir, f->name);
        case VC_LF_PARTIAL:
            vc_models_fmt_size(f->partial_size, a, sizeof a);
            return vc_asprintf("%s/%s is only partly downloaded (%s so far)", lm->repo_dir, f->name, a);
        case VC_LF_SIZE_CHANGED:
            vc_models_fmt_size(f->size, a, sizeof a);
            vc_models_fmt_size(f->rec.size, b, sizeof b);
            return vc_asprintf("%s/%s has %s but %s were downloaded (truncated or replaced)", lm->repo_dir,
                               f->name, a, b);
        default:
            break;
        }
    }
    return NULL;
}

int vc_models_check(const char *model_dir, const char *const *model_ids, char *err, size_t errlen)
{
    if (errlen)
        err[0] = 0;
    int bad = 0;
    char *da = dir_arg_for(model_dir);
    for (const char *const *id = model_ids; id && *id; id++) {
        const vc_model_def *m = vc_models_find(*id);
        if (!m) {
            appendf(err, errlen, "%sunknown model '%s' (known: %s)", bad++ ? "\n" : "", *id, vc_models_ids());
            continue;
        }
        vc_local_model lm;
        vc_local_scan(&lm, model_dir, m);
        bool recheck;
        char *p = first_problem(&lm, &recheck);
        char msg[1024];
        if (!p && lm.ckpt) {
            char *ck = vc_fs_join(lm.repo_dir, lm.ckpt);
            int rc = vc_models_check_tensors(m, lm.repo_dir, ck, msg, sizeof msg);
            if (rc == 1)
                p = vc_asprintf("%s does not hold the tensors %s reads: %s", ck, m->id, msg);
            else if (rc == -1)
                p = vc_asprintf("cannot read %s: %s", ck, msg);
            free(ck);
        }
        if (p) {
            char *fix = vc_local_fix(m, recheck, lm.reduced, da);
            appendf(err, errlen, "%smodel %s (%s, %s): %s; run: %s", bad++ ? "\n" : "", m->id, m->title, m->repo, p,
                    fix);
            free(fix);
            free(p);
        }
        vc_local_free(&lm);
    }
    free(da);
    return bad ? -1 : 0;
}

/* ---- list ---- */

static const char *state_word(vc_local_file_state s)
{
    switch (s) {
    case VC_LF_MISSING: return "missing";
    case VC_LF_PARTIAL: return "partial";
    case VC_LF_UNRECORDED: return "present (not downloaded by vcurate: unverified)";
    case VC_LF_SIZE_CHANGED: return "CHANGED SIZE since download";
    case VC_LF_TOUCHED: return "present (modified since download: run verify)";
    case VC_LF_OK: return "ok";
    }
    return "?";
}

void vc_models_list(FILE *out, const char *model_dir, const vc_model_def *const *models, size_t n)
{
    fprintf(out, "model folder: %s\n", model_dir);
    for (size_t i = 0; i < n; i++) {
        const vc_model_def *m = models[i];
        vc_local_model lm;
        vc_local_scan(&lm, model_dir, m);
        bool recheck;
        char *p = first_problem(&lm, &recheck);
        const char *status = !vc_local_anything(&lm) ? "not downloaded"
                             : p                     ? "incomplete"
                             : lm.reduced            ? "ready (encoder-only)"
                                                     : "ready";
        char approx[32];
        vc_models_fmt_size(m->approx_bytes, approx, sizeof approx);
        fprintf(out, "\n%-17s %s\n", m->id, status);
        fprintf(out, "  %-9s %s\n", "what", m->title);
        fprintf(out, "  %-9s %s\n", "used by", m->used_by);
        fprintf(out, "  %-9s %s @ %s\n", "repo", m->repo, m->revision);
        fprintf(out, "  %-9s %s\n", "license", m->license);
        fprintf(out, "  %-9s %s\n", "folder", lm.repo_dir);
        fprintf(out, "  files:\n");
        for (size_t k = 0; k < lm.nfiles; k++) {
            const vc_local_file *f = &lm.files[k];
            char sz[32] = "";
            if (f->exists)
                vc_models_fmt_size(f->size, sz, sizeof sz);
            else if (f->has_partial)
                vc_models_fmt_size(f->partial_size, sz, sizeof sz);
            fprintf(out, "    %-34s %-10s %s%s\n", f->name, sz, state_word(f->state),
                    f->state == VC_LF_PARTIAL ? " (download resumes it)" : "");
        }
        if (lm.ckpt_missing && !m->checkpoints[1]) {
            fprintf(out, "    %-34s %-10s missing (about %s)\n", m->checkpoints[0], "", approx);
        } else if (lm.ckpt_missing) {
            fprintf(out, "    %-34s %-10s missing (the first the hub has of:", "checkpoint", "");
            for (const char *const *c = m->checkpoints; *c; c++)
                fprintf(out, " %s", *c);
            fprintf(out, "; about %s)\n", approx);
        }
        if (m->reduced_file && !lm.reduced)
            fprintf(out, "    (--encoder-only keeps just %s: encoder.* and shared.weight)\n", m->reduced_file);
        free(p);
        vc_local_free(&lm);
    }
}

/* ---- verify ---- */

int vc_models_verify(FILE *out, const vc_model_def *const *models, size_t n, const vc_models_verify_opts *o)
{
    int problems = 0;
    for (size_t i = 0; i < n; i++) {
        const vc_model_def *m = models[i];
        vc_local_model lm;
        vc_local_scan(&lm, o->model_dir, m);
        fprintf(out, "%s (%s @ %.12s) in %s\n", m->id, m->repo, m->revision, lm.repo_dir);
        if (!vc_local_anything(&lm)) {
            fprintf(out, "  %-8s nothing downloaded\n", o->skip_absent ? "--" : "MISSING");
            if (!o->skip_absent) {
                char *fix = vc_local_fix(m, false, false, o->fix_dir_arg);
                fprintf(out, "  fix: %s\n", fix);
                free(fix);
                problems++;
            }
            fflush(out);
            vc_local_free(&lm);
            continue;
        }
        int bad = 0;
        bool recheck = false, ckpt_ok = !lm.ckpt_missing;
        if (lm.ckpt_missing && !m->checkpoints[1]) {
            fprintf(out, "  %-8s %s: not found\n", "MISSING", m->checkpoints[0]);
            bad++;
        } else if (lm.ckpt_missing) {
            fprintf(out, "  %-8s checkpoint: none of", "MISSING");
            for (const char *const *c = m->checkpoints; *c; c++)
                fprintf(out, " %s", *c);
            fprintf(out, "\n");
            bad++;
        }
        if (lm.index_error) {
            fprintf(out, "  %-8s %s\n", "BAD", lm.index_error);
            bad++;
            ckpt_ok = false;
        }
        for (size_t k = 0; k < lm.nfiles; k++) {
            const vc_local_file *f = &lm.files[k];
            char sz[32], rs[32];
            vc_models_fmt_size(f->exists ? f->size : f->partial_size, sz, sizeof sz);
            vc_models_fmt_size(f->rec.size, rs, sizeof rs);
            bool file_bad = true;
            switch (f->state) {
            case VC_LF_MISSING:
                fprintf(out, "  %-8s %s: not found\n", "MISSING", f->name);
                break;
            case VC_LF_PARTIAL:
                fprintf(out, "  %-8s %s: download incomplete (%s so far)\n", "PARTIAL", f->name, sz);
                break;
            case VC_LF_SIZE_CHANGED:
                fprintf(out, "  %-8s %s: %s, but %s were downloaded (truncated or replaced)\n", "BAD", f->name, sz,
                        rs);
                break;
            default:
                file_bad = false;
                break;
            }
            if (file_bad) {
                bad++;
                if (f->checkpoint)
                    ckpt_ok = false;
                continue;
            }
            /* Present with the recorded size (or no record). */
            if (!f->has_record) {
                fprintf(out, "  %-8s %s: %s, no download record: size and hash not checked (`download` "
                             "checks it against the hub)\n", "note", f->name, sz);
                continue;
            }
            vc_etag_kind kind = vc_etag_kind_of(f->rec.etag);
            if (!o->hash || kind == VC_ETAG_NONE) {
                fprintf(out, "  %-8s %s: %s, size as downloaded%s\n", "ok", f->name, sz,
                        !o->hash ? "" : " (the server gave no hash to check)");
                continue;
            }
            char *path = vc_fs_join(lm.repo_dir, f->name);
            char got[160];
            int r = vc_hash_file_check(path, f->rec.etag, f->size, got, sizeof got, o->cancelled);
            free(path);
            const char *algo = kind == VC_ETAG_SHA256 ? "sha256" : "git-sha1";
            if (r == -2) {
                vc_local_free(&lm);
                return 130;
            }
            if (r == 1) {
                fprintf(out, "  %-8s %s: %s, %s matches%s\n", "ok", f->name, sz, algo,
                        f->rec.derived_from[0] ? " (written by --encoder-only)" : " the hub's");
            } else {
                bad++;
                if (f->checkpoint)
                    ckpt_ok = false;
                if (r == 0) {
                    fprintf(out, "  %-8s %s: %s is %s, expected %s (%s)\n", "BAD", f->name, algo, got, f->rec.etag,
                            f->state == VC_LF_OK ? "corrupted on disk" : "modified since it was downloaded");
                    if (f->state == VC_LF_OK)
                        recheck = true; /* same size and mtime: only a hash check finds it */
                } else {
                    fprintf(out, "  %-8s %s: cannot read: %s\n", "BAD", f->name, strerror(errno));
                }
            }
        }
        if (o->tensors && ckpt_ok && lm.ckpt) {
            char *ck = vc_fs_join(lm.repo_dir, lm.ckpt);
            char msg[2048];
            int r = vc_models_check_tensors(m, lm.repo_dir, ck, msg, sizeof msg);
            if (r == 0) {
                fprintf(out, "  %-8s tensors: %s\n", "ok", msg);
            } else if (r == -3) {
                fprintf(out, "  %-8s tensors: %s\n", "note", msg);
            } else {
                fprintf(out, "  %-8s tensors in %s: %s\n", "BAD", lm.ckpt, msg);
                bad++;
            }
            free(ck);
        }
        if (bad) {
            char *fix = vc_local_fix(m, recheck, lm.reduced, o->fix_dir_arg);
            fprintf(out, "  fix: %s\n", fix);
            free(fix);
            problems++;
        }
        fflush(out);
        vc_local_free(&lm);
    }
    return problems ? 1 : 0;
}
