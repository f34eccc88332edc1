#include "split/stage_caption.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "caption/client.h"
#include "caption/framer.h"
#include "caption/request.h"
#include "caption/sampling.h"
#include "dataset/records.h"
#include "pipeline/cancel.h"
#include "storage/fs.h"
#include "util/common.h"
#include "util/log.h"

enum { PH_CAPTION, PH_STAGE2, PH_ENHANCE };

struct vc_caption_stage {
    vc_split_run *run;
    const vc_caption_config *cc;
    vc_cap_client *client;
    pthread_mutex_t lock;
    pthread_cond_t cond;           /* inflight dropped, done queue grew, a clip passed on */
    int inflight;                  /* windows submitted and not finished */
    int max_inflight;
    vc_split_item **done;          /* clips ready for write, FIFO */
    int ndone, capdone, done_head;
    vc_stage_ctx *sctx;
    pthread_t emitter;
    bool stop;
    atomic_llong windows, ok, truncated, failed, reused;
    double t0;
};

typedef struct clip_job {
    vc_caption_stage *st;
    vc_split_item *it;
    int remaining;
} clip_job;

typedef struct win_job {
    clip_job *cj;
    int i;
    int phase;
} win_job;

/* ---- passing clips on ---- */

static void passed_on(vc_caption_stage *st, vc_split_video *sv)
{
    pthread_mutex_lock(&sv->lock);
    sv->cap_passed++;
    pthread_mutex_unlock(&sv->lock);
    pthread_mutex_lock(&st->lock);
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

/* Emit a clip to write; the video stays alive until it is counted. */
static void pass_on(vc_caption_stage *st, vc_stage_ctx *ctx, vc_split_item *it)
{
    vc_split_video *sv = it->video;
    vc_split_video_ref(sv);
    vc_stage_emit(ctx, it);
    passed_on(st, sv);
    vc_split_video_unref(sv);
}

static void push_done(vc_caption_stage *st, vc_split_item *it)
{
    pthread_mutex_lock(&st->lock);
    if (st->ndone == st->capdone) {
        int nc = st->capdone ? st->capdone * 2 : 16;
        vc_split_item **d = vc_xcalloc((size_t)nc, sizeof(*d));
        for (int i = 0; i < st->ndone; i++)
            d[i] = st->done[(st->done_head + i) % st->capdone];
        free(st->done);
        st->done = d;
        st->done_head = 0;
        st->capdone = nc;
    }
    st->done[(st->done_head + st->ndone) % st->capdone] = it;
    st->ndone++;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

/* Emits finished clips to write, so the client thread never blocks on a
 * full write queue. */
static void *emitter_main(void *arg)
{
    vc_caption_stage *st = arg;
    for (;;) {
        pthread_mutex_lock(&st->lock);
        while (st->ndone == 0 && !st->stop)
            pthread_cond_wait(&st->cond, &st->lock);
        if (st->ndone == 0 && st->stop) {
            pthread_mutex_unlock(&st->lock);
            break;
        }
        vc_split_item *it = st->done[st->done_head];
        st->done_head = (st->done_head + 1) % st->capdone;
        st->ndone--;
        vc_stage_ctx *ctx = st->sctx;
        pthread_mutex_unlock(&st->lock);
        pass_on(st, ctx, it);
    }
    return NULL;
}

/* ---- windows ---- */

static void window_done(win_job *wj)
{
    clip_job *cj = wj->cj;
    vc_caption_stage *st = cj->st;
    vc_cap_window_result *r = &cj->it->cap[wj->i];
    atomic_fetch_add(&st->windows, 1);
    if (r->status == VC_CAP_SUCCESS)
        atomic_fetch_add(&st->ok, 1);
    else if (r->status == VC_CAP_TRUNCATED)
        atomic_fetch_add(&st->truncated, 1);
    else
        atomic_fetch_add(&st->failed, 1);
    /* The window's frames are no longer needed. */
    vc_cap_window_frames *w = &cj->it->cap_frames->w[wj->i];
    for (int k = 0; w->b64 && k < w->nframes; k++) {
        free(w->b64[k]);
        w->b64[k] = NULL;
    }
    free(wj);
    pthread_mutex_lock(&st->lock);
    st->inflight--;
    bool last = --cj->remaining == 0;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
    if (last) {
        vc_split_item *it = cj->it;
        free(cj);
        push_done(st, it);
    }
}

static void on_reply(void *opaque, vc_cap_reply *rep);

static void submit(win_job *wj, vc_cap_body *body, const char *url)
{
    vc_cap_client_submit(wj->cj->st->client, url, body, on_reply, wj);
}

static void set_error(vc_cap_window_result *r, const char *what, const char *why)
{
    free(r->caption);
    free(r->enhanced);
    r->caption = r->enhanced = NULL;
    r->status = VC_CAP_ERROR;
    free(r->error);
    r->error = vc_asprintf("%s: %s", what, why ? why : "failed");
}

static void on_reply(void *opaque, vc_cap_reply *rep)
{
    win_job *wj = opaque;
    clip_job *cj = wj->cj;
    vc_caption_stage *st = cj->st;
    const vc_caption_config *cc = st->cc;
    vc_cap_window_result *r = &cj->it->cap[wj->i];
    const vc_cap_window_frames *w = &cj->it->cap_frames->w[wj->i];
    static const char *const what[] = { "caption", "stage-2 caption", "enhance" };
    if (rep->cancelled || rep->status == VC_CAP_ERROR) {
        set_error(r, what[wj->phase], rep->error);
        if (!rep->cancelled)
            vc_warn("%s: clip %s window %lld_%lld: %s", cj->it->video->v.path, cj->it->clip.uuid,
                    (long long)r->start, (long long)r->end, r->error);
        vc_cap_reply_free(rep);
        window_done(wj);
        return;
    }
    if (wj->phase == PH_ENHANCE) {
        r->enhanced = rep->text;
        rep->text = NULL;
        vc_cap_reply_free(rep);
        window_done(wj);
        return;
    }
    free(r->caption);
    r->caption = vc_cap_postprocess(cc, rep->text);
    r->status = (int)rep->status;
    r->prompt_tokens += rep->prompt_tokens;
    r->output_tokens += rep->output_tokens;
    vc_cap_reply_free(rep);
    if (wj->phase == PH_CAPTION && cc->stage2) {
        char *text = vc_cap_stage2_text(cc, r->caption);
        vc_cap_body *body = vc_cap_vlm_body(cc, w, text);
        free(text);
        wj->phase = PH_STAGE2;
        submit(wj, body, cc->url);
        return;
    }
    if (cc->enhance) {
        vc_cap_body *body = vc_cap_enhance_body(cc, r->caption);
        wj->phase = PH_ENHANCE;
        submit(wj, body, cc->enhance_url);
        return;
    }
    window_done(wj);
}

/* ---- the stage ---- */

static void results_for(vc_split_item *it, const vc_cap_clip_frames *f)
{
    it->ncap = f->nwindows;
    it->cap = vc_xcalloc((size_t)(f->nwindows > 0 ? f->nwindows : 1), sizeof(*it->cap));
    for (int i = 0; i < f->nwindows; i++) {
        it->cap[i].start = f->w[i].start;
        it->cap[i].end = f->w[i].end;
    }
}

void vc_caption_fail_all(vc_split_item *it, const char *why, int64_t window_size, int64_t remainder)
{
    if (it->cap_frames) {
        vc_cap_clip_frames_free(it->cap_frames);
        free(it->cap_frames);
        it->cap_frames = NULL;
    }
    vc_cap_results_free(it->cap, it->ncap);
    int max = vc_cap_windows_max(it->clip.num_frames, window_size);
    int64_t(*win)[2] = vc_xcalloc((size_t)max, sizeof(*win));
    it->ncap = vc_cap_windows(it->clip.num_frames, window_size, remainder, win);
    it->cap = vc_xcalloc((size_t)(it->ncap > 0 ? it->ncap : 1), sizeof(*it->cap));
    for (int i = 0; i < it->ncap; i++) {
        it->cap[i].start = win[i][0];
        it->cap[i].end = win[i][1];
        set_error(&it->cap[i], "frames", why);
    }
    free(win);
}

/* Waits on st->cond (st->lock held) for at most 200 ms, so loops that wait
 * for progress also notice a cancel that signals nobody. */
static void wait_a_moment(vc_caption_stage *st)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&st->cond, &st->lock, &ts);
}

static void start_clip(vc_caption_stage *st, vc_split_item *it)
{
    const vc_caption_config *cc = st->cc;
    int nw = it->cap_frames->nwindows;
    results_for(it, it->cap_frames);
    clip_job *cj = vc_xcalloc(1, sizeof(*cj));
    cj->st = st;
    cj->it = it;
    cj->remaining = nw;
    pthread_mutex_lock(&st->lock);
    while (st->inflight >= st->max_inflight && !vc_cancelled()) {
        wait_a_moment(st);
    }
    st->inflight += nw;
    pthread_mutex_unlock(&st->lock);
    const char *prompt = vc_cap_caption_prompt(cc);
    for (int i = 0; i < nw; i++) {
        win_job *wj = vc_xcalloc(1, sizeof(*wj));
        wj->cj = cj;
        wj->i = i;
        wj->phase = PH_CAPTION;
        submit(wj, vc_cap_vlm_body(cc, &it->cap_frames->w[i], prompt), cc->url);
    }
}

static void wait_video(vc_caption_stage *st, vc_split_video *sv)
{
    pthread_mutex_lock(&st->lock);
    for (;;) {
        pthread_mutex_lock(&sv->lock);
        bool all = sv->cap_passed >= sv->clips_emitted;
        pthread_mutex_unlock(&sv->lock);
        if (all || vc_cancelled())
            break;
        wait_a_moment(st);
    }
    pthread_mutex_unlock(&st->lock);
}

static int caption_process(vc_stage_ctx *sctx, void *p)
{
    vc_split_item *it = p;
    vc_split_run *run = vc_stage_shared(sctx);
    vc_caption_stage *st = run->cap;
    pthread_mutex_lock(&st->lock);
    if (!st->sctx)
        st->sctx = sctx;
    pthread_mutex_unlock(&st->lock);
    if (it->kind == VC_ITEM_CLIP && it->cap_frames && it->cap_frames->nwindows > 0 && !vc_cancelled()) {
        start_clip(st, it);
        return 0;
    }
    vc_split_video *sv = it->video;
    if (it->kind == VC_ITEM_VIDEO_END) {
        /* Every clip of the video must reach write before the stage can end. */
        wait_video(st, sv);
        vc_stage_emit(sctx, it);
        return 0;
    }
    if (it->kind == VC_ITEM_CLIP) {
        if (it->cap_reused)
            atomic_fetch_add(&st->reused, it->ncap);
        pass_on(st, sctx, it);
        return 0;
    }
    vc_stage_emit(sctx, it);
    return 0;
}

const vc_stage vc_stage_caption = { "caption", caption_process, vc_split_item_drop };

vc_caption_stage *vc_caption_stage_new(vc_split_run *run)
{
    const vc_caption_config *cc = &run->cfg->caption;
    vc_caption_stage *st = vc_xcalloc(1, sizeof(*st));
    st->run = run;
    st->cc = cc;
    st->max_inflight = cc->max_concurrent * 2;
    st->t0 = vc_now();
    vc_cap_client_cfg ccfg = {
        .url = cc->url,
        .api_key = cc->api_key,
        .max_concurrent = cc->max_concurrent,
        .timeout_s = cc->timeout_s,
        .connect_timeout_s = cc->timeout_s < 10 ? cc->timeout_s : 10,
        .max_retries = cc->max_retries,
        .backoff_s = cc->retry_delay_s,
        .backoff_max_s = 60,
    };
    st->client = vc_cap_client_new(&ccfg);
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    if (pthread_create(&st->emitter, NULL, emitter_main, st) != 0) {
        vc_error("cannot start the caption emitter thread");
        abort();
    }
    return st;
}

void vc_caption_stage_free(vc_caption_stage *st)
{
    if (!st)
        return;
    vc_cap_client_free(st->client);   /* cancels what is left; their clips are queued */
    pthread_mutex_lock(&st->lock);
    st->stop = true;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
    pthread_join(st->emitter, NULL);
    long long w = atomic_load(&st->windows);
    double dt = vc_now() - st->t0;
    vc_info("captioning: %lld windows (%lld success, %lld truncated, %lld errors), %lld reused from an "
            "earlier run, %.1f windows/s",
            w, (long long)atomic_load(&st->ok), (long long)atomic_load(&st->truncated),
            (long long)atomic_load(&st->failed), (long long)atomic_load(&st->reused), dt > 0 ? (double)w / dt : 0.0);
    free(st->done);
    pthread_cond_destroy(&st->cond);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* ---- reruns ---- */

bool vc_caption_reuse(const vc_split_config *cfg, vc_split_item *it)
{
    const vc_caption_config *cc = &cfg->caption;
    char *path = vc_out_clip_meta_path(cfg->output_clip_path, it->clip.uuid);
    size_t len = 0;
    char *text = vc_fs_exists(path) ? vc_fs_read_all(path, &len) : NULL;   /* local or s3:// */
    free(path);
    json_t *meta = text ? json_loadb(text, len, 0, NULL) : NULL;
    free(text);
    if (!meta)
        return false;
    json_t *wins = json_object_get(meta, "windows");
    int max = vc_cap_windows_max(it->clip.num_frames, cc->window_size);
    int64_t(*win)[2] = vc_xcalloc((size_t)max, sizeof(*win));
    int nw = vc_cap_windows(it->clip.num_frames, cc->window_size, cc->remainder_threshold, win);
    char *ckey = vc_asprintf("%s_caption", cc->algo_name);
    char *pkey = vc_asprintf("%s_prompt_tokens", cc->algo_name);
    char *okey = vc_asprintf("%s_output_tokens", cc->algo_name);
    char *ekey = vc_asprintf("%s_enhanced_caption", cc->enhance_variant);
    bool ok = nw > 0 && json_is_array(wins) && (int)json_array_size(wins) == nw;
    for (int i = 0; ok && i < nw; i++) {
        json_t *w = json_array_get(wins, (size_t)i);
        const char *status = json_string_value(json_object_get(w, "caption_status"));
        ok = json_integer_value(json_object_get(w, "start_frame")) == win[i][0] &&
             json_integer_value(json_object_get(w, "end_frame")) == win[i][1] &&
             json_is_string(json_object_get(w, ckey)) && !(status && !strcmp(status, "error")) &&
             (!cc->enhance || json_is_string(json_object_get(w, ekey)));
    }
    if (ok) {
        it->ncap = nw;
        it->cap = vc_xcalloc((size_t)nw, sizeof(*it->cap));
        for (int i = 0; i < nw; i++) {
            json_t *w = json_array_get(wins, (size_t)i);
            vc_cap_window_result *r = &it->cap[i];
            const char *status = json_string_value(json_object_get(w, "caption_status"));
            r->start = win[i][0];
            r->end = win[i][1];
            r->status = status && !strcmp(status, "truncated") ? VC_CAP_TRUNCATED : VC_CAP_SUCCESS;
            r->caption = vc_xstrdup(json_string_value(json_object_get(w, ckey)));
            if (cc->enhance)
                r->enhanced = vc_xstrdup(json_string_value(json_object_get(w, ekey)));
            r->prompt_tokens = json_integer_value(json_object_get(w, pkey));
            r->output_tokens = json_integer_value(json_object_get(w, okey));
        }
        it->cap_reused = true;
    }
    free(ckey);
    free(pkey);
    free(okey);
    free(ekey);
    free(win);
    json_decref(meta);
    return ok;
}
