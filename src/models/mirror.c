/* s3:// model folders. The loaders memory-map local files, so the files a
 * model needs (its fixed files, then the first checkpoint alternative the
 * folder holds, with the shards an index names) are mirrored into a local
 * cache folder, fetched again only when their size changed. The cache folder
 * then stands for the s3:// one. */
#include "models/models.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/internal.h"
#include "models/local.h"
#include "storage/fs.h"
#include "storage/s3.h"
#include "util/common.h"

static bool s3_has(const char *repo_url, const char *file)
{
    char *u = vc_fs_join(repo_url, file);
    bool yes = vc_s3_head(u, NULL) == 0;
    free(u);
    return yes;
}

static int fetch(const char *repo_url, const char *repo_local, const char *file, char *err, size_t errlen)
{
    int rc = vc_s3_mirror(repo_url, &file, 1, repo_local);
    if (rc < 0)
        snprintf(err, errlen, "cannot fetch %s/%s: %s", repo_url, file,
                 vc_s3_last_error()[0] ? vc_s3_last_error() : strerror(-rc));
    return rc;
}

/* The checkpoint: the reduced file, else the first alternative there; an
 * index brings the shards holding the tensors the model reads. */
static int fetch_checkpoint(const vc_model_def *m, const char *repo_url, const char *repo_local, char *err,
                            size_t errlen)
{
    if (m->reduced_file && s3_has(repo_url, m->reduced_file))
        return fetch(repo_url, repo_local, m->reduced_file, err, errlen);
    for (const char *const *c = m->checkpoints; *c; c++) {
        if (!s3_has(repo_url, *c))
            continue;
        if (fetch(repo_url, repo_local, *c, err, errlen) < 0)
            return -1;
        if (!vc_models_is_index(*c))
            return 0;
        char *ip = vc_fs_join(repo_local, *c);
        char **shards = NULL;
        size_t n = 0;
        int rc = vc_models_index_shards(ip, vc_local_shard_filter(m, m->reduced_file != NULL), &shards, &n, err,
                                        errlen);
        free(ip);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = fetch(repo_url, repo_local, shards[i], err, errlen);
        if (shards)
            vc_models_free_strv(shards, n);
        return rc < 0 ? -1 : 0;
    }
    snprintf(err, errlen, "no %s weights under %s (looked for %s%s%s)", m->id, repo_url,
             m->reduced_file ? m->reduced_file : "", m->reduced_file ? ", " : "", m->checkpoints[0]);
    return -1;
}

static int mirror_repo(const vc_model_def *m, const char *repo_url, const char *repo_local, char *err,
                       size_t errlen)
{
    for (const char *const *f = m->files; *f; f++)
        if (fetch(repo_url, repo_local, *f, err, errlen) < 0)
            return -1;
    return fetch_checkpoint(m, repo_url, repo_local, err, errlen);
}

static bool has_config(const vc_model_def *m)
{
    for (const char *const *f = m->files; *f; f++)
        if (!strcmp(*f, "config.json"))
            return true;
    return false;
}

char *vc_models_localize(const char *dir, const char *id, char *err, size_t errlen)
{
    if (!vc_s3_is_url(dir))
        return vc_xstrdup(dir);
    const vc_model_def *m = vc_models_find(id);
    if (!m) {
        snprintf(err, errlen, "unknown model '%s'", id);
        return NULL;
    }
    char *local = vc_s3_cache_dir(dir);
    int rc;
    if (has_config(m) && s3_has(dir, "config.json")) {
        rc = mirror_repo(m, dir, local, err, errlen);   /* a Hugging Face folder given directly */
    } else {
        char *repo_url = vc_models_repo_dir(dir, m), *repo_local = vc_models_repo_dir(local, m);
        rc = mirror_repo(m, repo_url, repo_local, err, errlen);
        free(repo_url);
        free(repo_local);
    }
    if (rc < 0) {
        free(local);
        return NULL;
    }
    return local;
}
