#include "shard/pack.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset/pyjson.h"
#include "shard/parallel.h"
#include "shard/pickle.h"
#include "shard/pyload.h"
#include "shard/tarwriter.h"
#include "storage/fs.h"
#include "util/log.h"

enum { FAM_VIDEO, FAM_METAS, FAM_T5, NFAM };
static const char *const family_dir[NFAM] = { "video", "metas", "t5_xxl" };
static const char *const family_ext[NFAM] = { "mp4", "json", "pickle" };

typedef struct pack_ctx {
    const vc_shard_cliplist *clips;
    const vc_shard_plan *plan;
    const char *out_root;
    char *caption_key;
    vc_shard_t5 *t5;
    vc_buf empty_t5;               /* pickle.dumps([]) */
    vc_shard_progress_fn progress;
    void *progress_opaque;
    long exit_after;               /* test hook: die after this many tars (0: off) */
    atomic_llong files_written, files_kept, tars_failed, video_bytes, caption_missing;
    atomic_llong t5_clips, t5_captions;
    atomic_llong tars_done, bytes_done;
    pthread_mutex_t lock;          /* serializes progress callbacks */
} pack_ctx;

char *vc_shard_metas_member(const char *metas_path, const char *caption_key, bool *invalidated,
                            vc_strlist *captions, char **err)
{
    size_t len = 0;
    char *text = vc_fs_read_all(metas_path, &len);
    if (!text) {
        *err = vc_asprintf("cannot read %s: %s", metas_path, strerror(errno));
        return NULL;
    }
    char *jerr = NULL;
    json_t *m = vc_shard_json_loads(text, len, &jerr);
    free(text);
    if (!json_is_object(m)) {
        *err = vc_asprintf("%s: %s", metas_path, jerr ? jerr : "not a JSON object");
        free(jerr);
        json_decref(m);
        return NULL;
    }
    /* T5StageForShard: a window without the caption field sets valid False
     * (in place, so the key keeps its position). */
    *invalidated = false;
    size_t i;
    json_t *win;
    json_array_foreach(json_object_get(m, "windows"), i, win) {
        if (!json_object_get(win, caption_key))
            *invalidated = true;
    }
    if (captions)
        vc_shard_t5_captions(m, caption_key, captions);
    if (*invalidated)
        json_object_set_new(m, "valid", json_false());
    char *out = vc_pyjson_dumps(m, VC_PYJSON_COMPACT);
    json_decref(m);
    return out;
}

static char *family_path(const pack_ctx *ctx, const vc_shard_tar_plan *tp, int fam)
{
    return vc_asprintf("%s/%s/%s/%s", ctx->out_root, ctx->plan->bins[tp->bin].rel,
                       family_dir[fam], tp->rel);
}

static bool present_with_size(const char *path, int64_t size)
{
    int64_t have = -1;
    return vc_fs_size(path, &have) == 0 && have == size;
}

static char *member_name(const vc_shard_clip *c, int fam)
{
    return vc_asprintf("%s.%s", c->uuid, family_ext[fam]);
}

/* The metas members of one tar, built in memory (they are small), the
 * captions of the clips whose t5 member is computed here, and every
 * member's size. */
typedef struct small_members {
    char **metas;
    vc_strlist *captions;
    int64_t *metas_len, *t5_len, *video_len;
} small_members;

static void small_members_free(small_members *s, size_t n)
{
    for (size_t i = 0; s->metas && i < n; i++) {
        free(s->metas[i]);
        vc_strlist_free(&s->captions[i]);
    }
    free(s->metas);
    free(s->captions);
    free(s->metas_len);
    free(s->t5_len);
    free(s->video_len);
}

static int build_small_members(pack_ctx *ctx, const vc_shard_tar_plan *tp, small_members *s,
                               char **err)
{
    size_t n = tp->nclips;
    s->metas = vc_xcalloc(n, sizeof(*s->metas));
    s->captions = vc_xcalloc(n, sizeof(*s->captions));
    s->metas_len = vc_xcalloc(n, sizeof(int64_t));
    s->t5_len = vc_xcalloc(n, sizeof(int64_t));
    s->video_len = vc_xcalloc(n, sizeof(int64_t));
    for (size_t i = 0; i < n; i++) {
        const vc_shard_clip *c = &ctx->clips->items[tp->clips[i]];
        bool invalidated = false;
        s->metas[i] = vc_shard_metas_member(c->metas_path, ctx->caption_key, &invalidated,
                                            vc_shard_t5_computed(c) ? &s->captions[i] : NULL, err);
        if (!s->metas[i])
            return -1;
        if (invalidated)
            atomic_fetch_add(&ctx->caption_missing, 1);
        s->metas_len[i] = (int64_t)strlen(s->metas[i]);
        s->t5_len[i] = c->t5_bytes;
        s->video_len[i] = c->file_bytes;
    }
    return 0;
}

static int write_video_tar(pack_ctx *ctx, const vc_shard_tar_plan *tp, const char *path,
                           char **err)
{
    vc_tar *t = vc_tar_open(path, err);
    if (!t)
        return -1;
    for (size_t i = 0; i < tp->nclips; i++) {
        const vc_shard_clip *c = &ctx->clips->items[tp->clips[i]];
        if (!strncmp(c->mp4_path, "s3://", 5)) {
            /* a clip in a bucket: one GET (clips are small, at most a
             * minute of video) */
            size_t len = 0;
            char *data = vc_fs_read_all(c->mp4_path, &len);
            char *name = data ? member_name(c, FAM_VIDEO) : NULL;
            int rc = -1;
            if (!data)
                *err = vc_asprintf("cannot read clip %s: %s", c->mp4_path,
                                   vc_fs_strerror(c->mp4_path, -errno));
            else if ((int64_t)len != c->file_bytes)
                *err = vc_asprintf("clip %s changed size (%zu bytes, %lld listed)", c->mp4_path,
                                   len, (long long)c->file_bytes);
            else
                rc = vc_tar_add_bytes(t, name, data, len, err);
            free(name);
            free(data);
            if (rc < 0) {
                vc_tar_abort(t);
                return -1;
            }
            continue;
        }
        int fd = open(c->mp4_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            *err = vc_asprintf("cannot open clip %s: %s", c->mp4_path, strerror(errno));
            vc_tar_abort(t);
            return -1;
        }
        char *name = member_name(c, FAM_VIDEO);
        int rc = vc_tar_add_file(t, name, fd, c->file_bytes, err);
        free(name);
        close(fd);
        if (rc < 0) {
            vc_tar_abort(t);
            return -1;
        }
    }
    return vc_tar_commit(t, err);
}

static int write_metas_tar(pack_ctx *ctx, const vc_shard_tar_plan *tp, const small_members *s,
                           const char *path, char **err)
{
    vc_tar *t = vc_tar_open(path, err);
    if (!t)
        return -1;
    for (size_t i = 0; i < tp->nclips; i++) {
        const vc_shard_clip *c = &ctx->clips->items[tp->clips[i]];
        char *name = member_name(c, FAM_METAS);
        int rc = vc_tar_add_bytes(t, name, s->metas[i], (size_t)s->metas_len[i], err);
        free(name);
        if (rc < 0) {
            vc_tar_abort(t);
            return -1;
        }
    }
    return vc_tar_commit(t, err);
}

/* The embeddings of a tar's computed clips, made in batches of
 * VC_SHARD_T5_BATCH captions across clips, in sample order, so memory holds
 * one batch plus the clip being written. */
typedef struct t5_job {
    pack_ctx *ctx;
    const vc_shard_tar_plan *tp;
    const small_members *s;
    vc_t5_embedding **emb;     /* per clip of the tar, per caption */
    size_t next_clip, next_win; /* first caption not embedded yet */
} t5_job;

static bool t5_clip_done(const t5_job *j, size_t i)
{
    return j->next_clip > i || (j->next_clip == i && j->next_win >= j->s->captions[i].len);
}

static int t5_fill_batch(t5_job *j, char **err)
{
    const char *caps[VC_SHARD_T5_BATCH];
    vc_t5_embedding *dst[VC_SHARD_T5_BATCH];
    int nb = 0;
    while (nb < VC_SHARD_T5_BATCH && j->next_clip < j->tp->nclips) {
        size_t k = j->next_clip;
        const vc_shard_clip *c = &j->ctx->clips->items[j->tp->clips[k]];
        const vc_strlist *cl = &j->s->captions[k];
        if (!vc_shard_t5_computed(c) || j->next_win >= cl->len) {
            j->next_clip++;
            j->next_win = 0;
            continue;
        }
        if (!j->emb[k])
            j->emb[k] = vc_xcalloc(cl->len, sizeof(vc_t5_embedding));
        caps[nb] = cl->items[j->next_win];
        dst[nb] = &j->emb[k][j->next_win];
        nb++;
        j->next_win++;
    }
    vc_t5_embedding out[VC_SHARD_T5_BATCH];
    if (nb && vc_shard_t5_embed(j->ctx->t5, nb, caps, out, err) < 0)
        return -1;
    for (int b = 0; b < nb; b++)
        *dst[b] = out[b];
    atomic_fetch_add(&j->ctx->t5_captions, nb);
    return 0;
}

static void t5_clip_free(t5_job *j, size_t i)
{
    for (size_t w = 0; j->emb[i] && w < j->s->captions[i].len; w++)
        vc_t5_embedding_free(&j->emb[i][w]);
    free(j->emb[i]);
    j->emb[i] = NULL;
}

/* The member of clip i of the tar into *out: the empty list, vcurate
 * embed's file, or the pickle of its embeddings computed now. Its size must
 * be what the plan counted. */
static int t5_member(t5_job *j, size_t i, vc_buf *out, char **err)
{
    pack_ctx *ctx = j->ctx;
    const vc_shard_clip *c = &ctx->clips->items[j->tp->clips[i]];
    if (c->t5_src == VC_SHARD_T5_FILE) {
        char *path = vc_shard_t5_file(ctx->t5, c);
        size_t len = 0;
        char *data = vc_fs_read_all(path, &len);
        int rc = 0;
        if (!data) {
            *err = vc_asprintf("cannot read %s: %s", path, vc_fs_strerror(path, -errno));
            rc = -1;
        } else if ((int64_t)len != c->t5_bytes) {
            *err = vc_asprintf("%s changed during the run (%zu bytes, %lld at start-up); rerun",
                               path, len, (long long)c->t5_bytes);
            rc = -1;
        } else {
            vc_buf_append(out, data, len);
        }
        free(data);
        free(path);
        return rc;
    }
    if (!vc_shard_t5_computed(c)) {
        vc_buf_append(out, ctx->empty_t5.data, ctx->empty_t5.len);
        return 0;
    }
    while (!t5_clip_done(j, i))
        if (t5_fill_batch(j, err) < 0)
            return -1;
    size_t n = j->s->captions[i].len;
    vc_pickle_f16_array *arr = vc_xcalloc(n ? n : 1, sizeof *arr);
    for (size_t w = 0; w < n; w++)
        arr[w] = (vc_pickle_f16_array){ j->emb[i][w].data, j->emb[i][w].rows, j->emb[i][w].cols };
    vc_pickle_f16_array_list(out, arr, n);
    free(arr);
    t5_clip_free(j, i);
    atomic_fetch_add(&ctx->t5_clips, 1);
    if ((int64_t)out->len != c->t5_bytes) {
        *err = vc_asprintf("clip %s: its captions in %s changed during the run; rerun", c->listed,
                           c->metas_path);
        return -1;
    }
    return 0;
}

static int write_t5_tar(pack_ctx *ctx, const vc_shard_tar_plan *tp, const small_members *s,
                        const char *path, char **err)
{
    vc_tar *t = vc_tar_open(path, err);
    if (!t)
        return -1;
    t5_job j = { .ctx = ctx, .tp = tp, .s = s,
                 .emb = vc_xcalloc(tp->nclips, sizeof(vc_t5_embedding *)) };
    int rc = 0;
    for (size_t i = 0; i < tp->nclips && rc == 0; i++) {
        const vc_shard_clip *c = &ctx->clips->items[tp->clips[i]];
        vc_buf member = { 0 };
        rc = t5_member(&j, i, &member, err);
        if (rc == 0) {
            char *name = member_name(c, FAM_T5);
            rc = vc_tar_add_bytes(t, name, member.data ? (const char *)member.data : "",
                                  member.len, err);
            free(name);
        }
        vc_buf_free(&member);
    }
    for (size_t i = 0; i < tp->nclips; i++)
        t5_clip_free(&j, i);
    free(j.emb);
    if (rc < 0) {
        vc_tar_abort(t);
        return -1;
    }
    return vc_tar_commit(t, err);
}

static int pack_tar(pack_ctx *ctx, const vc_shard_tar_plan *tp, char **err)
{
    small_members s = { 0 };
    int rc = build_small_members(ctx, tp, &s, err);
    const int64_t *lens[NFAM] = { s.video_len, s.metas_len, s.t5_len };
    for (int fam = 0; fam < NFAM && rc == 0; fam++) {
        char *path = family_path(ctx, tp, fam);
        if (present_with_size(path, vc_tar_expected_size(lens[fam], tp->nclips))) {
            atomic_fetch_add(&ctx->files_kept, 1);
        } else {
            char *dir = vc_xstrdup(path);
            *strrchr(dir, '/') = '\0';
            int mk = vc_fs_mkdirs(dir);
            free(dir);
            if (mk < 0) {
                *err = vc_asprintf("cannot create the directory of %s: %s", path, strerror(-mk));
                rc = -1;
            } else {
                rc = fam == FAM_VIDEO   ? write_video_tar(ctx, tp, path, err)
                     : fam == FAM_METAS ? write_metas_tar(ctx, tp, &s, path, err)
                                        : write_t5_tar(ctx, tp, &s, path, err);
            }
            if (rc == 0)
                atomic_fetch_add(&ctx->files_written, 1);
        }
        free(path);
    }
    small_members_free(&s, tp->nclips);
    return rc;
}

static void pack_one(size_t i, void *opaque)
{
    pack_ctx *ctx = opaque;
    const vc_shard_tar_plan *tp = &ctx->plan->tars[i];
    char *err = NULL;
    if (pack_tar(ctx, tp, &err) < 0) {
        vc_error("tar %s/%s not written: %s", ctx->plan->bins[tp->bin].rel, tp->rel, err);
        free(err);
        atomic_fetch_add(&ctx->tars_failed, 1);
    } else {
        int64_t bytes = 0;
        for (size_t k = 0; k < tp->nclips; k++)
            bytes += ctx->clips->items[tp->clips[k]].file_bytes;
        atomic_fetch_add(&ctx->video_bytes, bytes);
        atomic_fetch_add(&ctx->bytes_done, bytes);
    }
    long done = (long)atomic_fetch_add(&ctx->tars_done, 1) + 1;
    if (ctx->exit_after > 0 && done >= ctx->exit_after)
        raise(SIGKILL); /* test hook: an abrupt kill in the middle of a run */
    if (ctx->progress) {
        pthread_mutex_lock(&ctx->lock);
        ctx->progress(atomic_load(&ctx->tars_done), atomic_load(&ctx->bytes_done),
                      ctx->progress_opaque);
        pthread_mutex_unlock(&ctx->lock);
    }
}

int vc_shard_pack(const vc_shard_cliplist *clips, const vc_shard_plan *plan,
                  const char *out_root, const char *caption_algo, vc_shard_t5 *t5, int threads,
                  vc_shard_progress_fn progress, void *progress_opaque,
                  vc_shard_pack_stats *stats)
{
    pack_ctx ctx = { .clips = clips, .plan = plan, .out_root = out_root,
                     .caption_key = vc_asprintf("%s_caption", caption_algo), .t5 = t5,
                     .progress = progress, .progress_opaque = progress_opaque };
    const char *exit_after = getenv("VC_SHARD_DEBUG_EXIT_AFTER_TARS");
    ctx.exit_after = exit_after ? strtol(exit_after, NULL, 10) : 0;
    /* Bench/debug knob: force the buffered copy (for comparison, or for a
     * filesystem whose copy_file_range misbehaves). */
    if (getenv("VC_SHARD_NO_COPY_RANGE"))
        vc_tar_set_copy_range(0);
    pthread_mutex_init(&ctx.lock, NULL);
    vc_pickle_f16_array_list(&ctx.empty_t5, NULL, 0);
    vc_shard_parallel_for(plan->ntars, threads, pack_one, &ctx);
    stats->files_written = atomic_load(&ctx.files_written);
    stats->files_kept = atomic_load(&ctx.files_kept);
    stats->tars_failed = atomic_load(&ctx.tars_failed);
    stats->video_bytes = atomic_load(&ctx.video_bytes);
    stats->clips_caption_missing = atomic_load(&ctx.caption_missing);
    stats->t5_clips_computed = atomic_load(&ctx.t5_clips);
    stats->t5_captions_computed = atomic_load(&ctx.t5_captions);
    pthread_mutex_destroy(&ctx.lock);
    vc_buf_free(&ctx.empty_t5);
    free(ctx.caption_key);
    return stats->tars_failed ? -1 : 0;
}
