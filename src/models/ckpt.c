/* Reading checkpoints through the nn weights reader (src/nn/weights.h):
 * tensor name/shape checks, and T5's encoder-only file. Built without the
 * reader (VC_MODELS_HAVE_NNIO undefined), both say so instead. */
#include "models/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "models/safetensors.h"
#include "storage/fs.h"
#include "util/common.h"

#ifdef VC_MODELS_HAVE_NNIO
#include <jansson.h>

#include "nn/weights.h"

static void fmt_shape(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

int vc_models_check_tensors(const vc_model_def *m, const char *repo_dir, const char *ckpt_path, char *msg,
                            size_t msglen)
{
    vc_model_tensors exp = { 0 };
    char err[512];
    if (m->expected(repo_dir, &exp, err, sizeof err)) {
        snprintf(msg, msglen, "%s", err);
        return -1;
    }
    vc_weights *w = vc_weights_open(ckpt_path, err, sizeof err);
    if (!w) {
        snprintf(msg, msglen, "%s", err);
        vc_model_tensors_free(&exp);
        return -1;
    }
    size_t missing = 0, wrong = 0, o = 0;
    msg[0] = 0;
    for (size_t i = 0; i < exp.len; i++) {
        const vc_model_tensor *e = &exp.items[i];
        char why[512];
        const vc_weight_info *t = vc_weights_get(w, e->name, why, sizeof why);
        bool bad = false;
        char line[600];
        if (!t) {
            missing++;
            bad = true;
            /* "not in the checkpoint", or why its shard cannot be opened */
            snprintf(line, sizeof line, "%s", why);
        } else {
            bool same = t->ndim == e->ndim;
            for (int d = 0; same && d < e->ndim; d++)
                same = t->shape[d] == e->shape[d];
            if (!same) {
                wrong++;
                bad = true;
                char a[128], b[128];
                fmt_shape(e->ndim, e->shape, a, sizeof a);
                fmt_shape(t->ndim, t->shape, b, sizeof b);
                snprintf(line, sizeof line, "tensor %s has shape %s, expected %s", e->name, b, a);
            }
        }
        /* The first few problems in full, then a count. */
        if (bad && missing + wrong <= 4 && o < msglen)
            o += (size_t)snprintf(msg + o, msglen - o, "%s%s", o ? "; " : "", line);
    }
    if (missing + wrong > 4 && o < msglen)
        snprintf(msg + o, msglen - o, "; ... %zu missing and %zu misshapen of %zu expected", missing, wrong,
                 exp.len);
    vc_weights_close(w);
    size_t n = exp.len;
    vc_model_tensors_free(&exp);
    if (missing + wrong)
        return 1;
    snprintf(msg, msglen, "%zu tensors with the expected names and shapes", n);
    return 0;
}

/* The tensor names of a sharded index (weight_map keys). */
static int index_names(const char *path, char ***names, size_t *n, char *err, size_t errlen)
{
    *names = NULL;
    *n = 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map)) {
        snprintf(err, errlen, "%s: not a sharded checkpoint index", path);
        json_decref(root);
        return -1;
    }
    char **v = vc_xcalloc(json_object_size(map) + 1, sizeof *v);
    const char *key;
    json_t *val;
    size_t k = 0;
    json_object_foreach(map, key, val)
        v[k++] = vc_xstrdup(key);
    json_decref(root);
    *names = v;
    *n = k;
    return 0;
}

static const char *st_dtype(vc_dtype t)
{
    switch (t) {
    case VC_DT_F32: return "F32";
    case VC_DT_F16: return "F16";
    case VC_DT_BF16: return "BF16";
    case VC_DT_F64: return "F64";
    case VC_DT_I64: return "I64";
    case VC_DT_I32: return "I32";
    case VC_DT_I8: return "I8";
    case VC_DT_U8: return "U8";
    case VC_DT_BOOL: return "BOOL";
    }
    return NULL;
}

int vc_models_write_reduced(const vc_model_def *m, const char *repo_dir, const char *ckpt_file,
                            const char *commit, char *err, size_t errlen)
{
    char *src = vc_fs_join(repo_dir, ckpt_file);
    char *dst = vc_fs_join(repo_dir, m->reduced_file);
    vc_weights *w = vc_weights_open(src, err, errlen);
    int rc = -1;
    vc_st_tensor *ts = NULL;
    size_t n = 0, total = 0;
    char **names = NULL;
    if (!w)
        goto out;
    /* Names first: for a sharded index they come from its weight_map, so
     * shards without encoder tensors (not downloaded with --encoder-only)
     * are never opened. */
    if (vc_models_is_index(ckpt_file)) {
        if (index_names(src, &names, &total, err, errlen))
            goto out;
    } else {
        total = vc_weights_count(w);
        names = vc_xcalloc(total ? total : 1, sizeof *names);
        for (size_t i = 0; i < total; i++) {
            const vc_weight_info *t = vc_weights_at(w, i);
            names[i] = vc_xstrdup(t ? t->name : "");
        }
    }
    ts = vc_xcalloc(total ? total : 1, sizeof *ts);
    bool have_shared = false;
    for (size_t i = 0; i < total; i++) {
        if (!vc_models_t5_keep_tensor(names[i]))
            continue;
        const vc_weight_info *t = vc_weights_get(w, names[i], err, errlen);
        if (!t)
            goto out;
        const char *dt = st_dtype(t->dtype);
        if (!dt) {
            snprintf(err, errlen, "%s: tensor %s has a dtype safetensors cannot hold", src, t->name);
            goto out;
        }
        have_shared |= !strcmp(t->name, "shared.weight");
        ts[n++] = (vc_st_tensor){ .name = t->name, .dtype = dt, .ndim = t->ndim, .shape = t->shape,
                                  .strides = t->stride, .data = t->data };
    }
    if (!have_shared || n < 2) {
        snprintf(err, errlen, "%s has no %s: not a T5 checkpoint", src, have_shared ? "encoder.* tensors" : "shared.weight");
        goto out;
    }
    uint64_t need = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t e = vc_st_dtype_size(ts[i].dtype);
        for (int d = 0; d < ts[i].ndim; d++)
            e *= (uint64_t)ts[i].shape[d];
        need += e;
    }
    struct statvfs sv;
    if (statvfs(repo_dir, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < need + (1u << 20)) {
        char a[32], b[32];
        vc_models_fmt_size((int64_t)need, a, sizeof a);
        vc_models_fmt_size((int64_t)((uint64_t)sv.f_bavail * sv.f_frsize), b, sizeof b);
        snprintf(err, errlen, "the encoder tensors need %s but only %s are free in %s", a, b, repo_dir);
        goto out;
    }
    char sha[65];
    const char *meta[] = { "format", "pt", "source_file", ckpt_file, "source_revision", commit ? commit : "",
                            "written_by", "vcurate models download --encoder-only", NULL };
    if (vc_safetensors_write(dst, ts, n, meta, sha, NULL, err, errlen))
        goto out;
    vc_file_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.commit, sizeof r.commit, "%s", commit ? commit : m->revision);
    snprintf(r.etag, sizeof r.etag, "%s", sha);
    snprintf(r.revision, sizeof r.revision, "%s", m->revision);
    snprintf(r.derived_from, sizeof r.derived_from, "%s", ckpt_file);
    int wr = vc_models_record_write(repo_dir, m->reduced_file, &r);
    if (wr) {
        snprintf(err, errlen, "cannot write the record of %s: %s", dst, strerror(-wr));
        goto out;
    }
    rc = 0;
out:
    vc_models_free_strv(names, total);
    free(ts);
    if (w)
        vc_weights_close(w);
    free(src);
    free(dst);
    return rc;
}

#else /* !VC_MODELS_HAVE_NNIO */

int vc_models_check_tensors(const vc_model_def *m, const char *repo_dir, const char *ckpt_path, char *msg,
                            size_t msglen)
{
    (void)m;
    (void)repo_dir;
    (void)ckpt_path;
    snprintf(msg, msglen, "tensor check not available: vcurate was built without the checkpoint reader");
    return -3;
}

int vc_models_write_reduced(const vc_model_def *m, const char *repo_dir, const char *ckpt_file,
                            const char *commit, char *err, size_t errlen)
{
    (void)m;
    (void)repo_dir;
    (void)ckpt_file;
    (void)commit;
    snprintf(err, errlen, "--encoder-only is not available: vcurate was built without the checkpoint reader");
    return -1;
}

#endif
