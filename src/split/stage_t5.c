#include "split/stage_t5.h"

#include <stdlib.h>
#include <string.h>

#include "caption/client.h"
#include "dataset/predict2.h"
#include "nn/t5_text.h"
#include "storage/fs.h"
#include "util/common.h"
#include "util/log.h"

struct vc_t5_stage {
    vc_split_run *run;
    vc_split_item **pending;   /* clips with windows to embed, in arrival order */
    int npending, cap;
    int next_clip, next_win;   /* first window not embedded yet */
    int pending_windows;       /* not embedded yet */
    long long embedded, reused, batches;
    double seconds;
};

static bool wants_t5(const vc_cap_window_result *r)
{
    return (r->status == VC_CAP_SUCCESS || r->status == VC_CAP_TRUNCATED) && r->caption && !r->t5 && !r->p2_done;
}

/* A rerun: windows whose video, caption and embedding are all written. */
static void mark_done(const vc_split_config *cfg, vc_split_item *it)
{
    for (int i = 0; i < it->ncap; i++) {
        vc_cap_window_result *r = &it->cap[i];
        if (!wants_t5(r))
            continue;
        bool all = true;
        for (int k = VC_P2_VIDEO; all && k <= VC_P2_T5; k++) {
            char *p = vc_p2_path(cfg->output_clip_path, (vc_p2_kind)k, it->clip.uuid, r->start, r->end);
            all = vc_fs_exists(p);
            free(p);
        }
        r->p2_done = all;
    }
}

static int count_wanted(const vc_split_item *it)
{
    int n = 0;
    for (int i = 0; i < it->ncap; i++)
        n += wants_t5(&it->cap[i]);
    return n;
}

/* One forward pass over the next (up to) batch windows of the pending clips. */
static void run_batch(vc_t5_stage *st, int limit)
{
    const vc_split_config *cfg = st->run->cfg;
    int bs = VC_MAX(1, cfg->t5_batch);
    const char **caps = vc_xcalloc((size_t)bs, sizeof(*caps));
    vc_cap_window_result **slot = vc_xcalloc((size_t)bs, sizeof(*slot));
    vc_split_item **owner = vc_xcalloc((size_t)bs, sizeof(*owner));
    vc_t5_embedding *emb = vc_xcalloc((size_t)bs, sizeof(*emb));
    int n = 0;
    while (n < bs && n < limit && st->next_clip < st->npending) {
        vc_split_item *it = st->pending[st->next_clip];
        if (st->next_win >= it->ncap) {
            st->next_clip++;
            st->next_win = 0;
            continue;
        }
        vc_cap_window_result *r = &it->cap[st->next_win++];
        if (!wants_t5(r))
            continue;
        caps[n] = r->caption;
        slot[n] = r;
        owner[n] = it;
        n++;
    }
    if (n > 0) {
        char err[512] = "";
        double t0 = vc_now();
        if (vc_t5_text_embed(cfg->t5_model, n, caps, emb, err, sizeof err) < 0) {
            for (int k = 0; k < n; k++) {
                slot[k]->p2_done = true;   /* nothing to write for it */
                vc_split_video_fail(owner[k]->video, "t5", "T5 embedding of clip %s window %lld_%lld failed: %s",
                                    owner[k]->clip.uuid, (long long)slot[k]->start, (long long)slot[k]->end, err);
            }
        } else {
            for (int k = 0; k < n; k++) {
                slot[k]->t5 = emb[k].data;
                slot[k]->t5_rows = emb[k].rows;
                slot[k]->t5_cols = emb[k].cols;
            }
            st->embedded += n;
        }
        st->seconds += vc_now() - t0;
        st->batches++;
        st->pending_windows -= n;
    }
    free(caps);
    free(slot);
    free(owner);
    free(emb);
}

/* Passes on the clips all of whose windows are embedded. */
static void emit_ready(vc_t5_stage *st, vc_stage_ctx *ctx)
{
    /* clips before next_clip are complete; so is next_clip once its
     * remaining windows want nothing */
    while (st->next_clip < st->npending) {
        vc_split_item *it = st->pending[st->next_clip];
        bool rest = false;
        for (int i = st->next_win; i < it->ncap && !rest; i++)
            rest = wants_t5(&it->cap[i]);
        if (rest)
            break;
        st->next_clip++;
        st->next_win = 0;
    }
    int done = st->next_clip;
    if (done == 0)
        return;   /* (pending may be NULL) */
    for (int i = 0; i < done; i++)
        vc_stage_emit(ctx, st->pending[i]);
    memmove(st->pending, st->pending + done, (size_t)(st->npending - done) * sizeof(*st->pending));
    st->npending -= done;
    st->next_clip = 0;
}

static int t5_process(vc_stage_ctx *ctx, void *p)
{
    vc_split_item *it = p;
    vc_split_run *run = vc_stage_shared(ctx);
    vc_t5_stage *st = run->t5;
    int bs = VC_MAX(1, run->cfg->t5_batch);
    if (it->kind == VC_ITEM_CLIP && it->cap) {
        int before = count_wanted(it);
        mark_done(run->cfg, it);
        int n = count_wanted(it);
        st->reused += before - n;
        if (n == 0) {
            vc_stage_emit(ctx, it);
            return 0;
        }
        if (st->npending == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 16;
            st->pending = vc_xrealloc(st->pending, (size_t)st->cap * sizeof(*st->pending));
        }
        st->pending[st->npending++] = it;
        st->pending_windows += n;
        while (st->pending_windows >= bs)
            run_batch(st, bs);
        emit_ready(st, ctx);
        return 0;
    }
    if (it->kind == VC_ITEM_CLIP) {
        vc_stage_emit(ctx, it);
        return 0;
    }
    /* The end of a video: its clips must reach write before this stage may
     * finish (and a partial batch is all there is to wait for). */
    while (st->pending_windows > 0)
        run_batch(st, st->pending_windows);
    emit_ready(st, ctx);
    vc_stage_emit(ctx, it);
    return 0;
}

static void t5_drop(void *p)
{
    vc_split_item_free(p);
}

const vc_stage vc_stage_t5 = { "t5", t5_process, t5_drop };

vc_t5_stage *vc_t5_stage_new(vc_split_run *run)
{
    vc_t5_stage *st = vc_xcalloc(1, sizeof(*st));
    st->run = run;
    return st;
}

void vc_t5_stage_free(vc_t5_stage *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->npending; i++)
        vc_split_item_free(st->pending[i]);
    free(st->pending);
    vc_info("T5: %lld captions embedded in %lld batches, %.1f s (%.1f captions/s); %lld windows already written",
            st->embedded, st->batches, st->seconds, st->seconds > 0 ? (double)st->embedded / st->seconds : 0.0,
            st->reused);
    free(st);
}
