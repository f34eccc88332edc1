#include "pipeline/engine.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "pipeline/queue.h"
#include "util/common.h"
#include "util/log.h"

typedef struct stage_slot stage_slot;

struct vc_stage_ctx {
    stage_slot *slot;
    int worker;
    pthread_t thread;
};

struct stage_slot {
    vc_pipeline *pipe;
    const vc_stage *stage;
    void *shared;
    int workers;
    vc_queue *in;
    vc_queue *out;              /* NULL for the last stage */
    const vc_stage *next;       /* owner of the out queue's items */
    atomic_int running;         /* workers still alive */
    vc_stage_ctx *ctx;
};

struct vc_pipeline {
    stage_slot *slots;
    int nslots;
    atomic_int error;
    atomic_bool cancelled;
    bool started;
};

vc_pipeline *vc_pipeline_new(void)
{
    return vc_xcalloc(1, sizeof(vc_pipeline));
}

void vc_pipeline_add(vc_pipeline *p, const vc_stage *stage, void *shared, int workers, size_t queue_capacity)
{
    p->slots = vc_xrealloc(p->slots, (size_t)(p->nslots + 1) * sizeof(*p->slots));
    stage_slot *s = &p->slots[p->nslots++];
    *s = (stage_slot){ .stage = stage, .shared = shared, .workers = workers > 0 ? workers : 1 };
    s->in = vc_queue_new(queue_capacity);
}

int vc_stage_emit(vc_stage_ctx *ctx, void *item)
{
    stage_slot *s = ctx->slot;
    if (!s->out) {
        /* Last stage: nothing downstream consumes it. */
        if (s->stage->drop)
            s->stage->drop(item);
        return 0;
    }
    if (!vc_queue_push(s->out, item)) {
        if (s->next->drop)
            s->next->drop(item);
        return -1;
    }
    return 0;
}

void *vc_stage_shared(vc_stage_ctx *ctx) { return ctx->slot->shared; }
int vc_stage_worker(vc_stage_ctx *ctx) { return ctx->worker; }

static void *worker_main(void *arg)
{
    vc_stage_ctx *ctx = arg;
    stage_slot *s = ctx->slot;
    void *item;
    while ((item = vc_queue_pop(s->in)) != NULL) {
        int rc = s->stage->process(ctx, item);
        if (rc < 0) {
            int expected = 0;
            atomic_compare_exchange_strong(&s->pipe->error, &expected, rc);
            vc_error("stage %s failed; stopping the run", s->stage->name);
            vc_pipeline_cancel(s->pipe);
            break;
        }
    }
    /* The last worker out tells the next stage that no more input will come. */
    if (atomic_fetch_sub(&s->running, 1) == 1 && s->out)
        vc_queue_close(s->out);
    return NULL;
}

int vc_pipeline_start(vc_pipeline *p)
{
    for (int i = 0; i < p->nslots; i++) {
        stage_slot *s = &p->slots[i];
        s->pipe = p;
        s->out = i + 1 < p->nslots ? p->slots[i + 1].in : NULL;
        s->next = i + 1 < p->nslots ? p->slots[i + 1].stage : NULL;
    }
    for (int i = 0; i < p->nslots; i++) {
        stage_slot *s = &p->slots[i];
        s->ctx = vc_xcalloc((size_t)s->workers, sizeof(*s->ctx));
        atomic_store(&s->running, s->workers);
        for (int w = 0; w < s->workers; w++) {
            s->ctx[w] = (vc_stage_ctx){ .slot = s, .worker = w };
            if (pthread_create(&s->ctx[w].thread, NULL, worker_main, &s->ctx[w]) != 0) {
                vc_error("cannot start a thread for stage %s", s->stage->name);
                abort();
            }
        }
    }
    p->started = true;
    return 0;
}

bool vc_pipeline_feed(vc_pipeline *p, void *item)
{
    if (atomic_load(&p->cancelled) || !vc_queue_push(p->slots[0].in, item)) {
        if (p->slots[0].stage->drop)
            p->slots[0].stage->drop(item);
        return false;
    }
    return true;
}

void vc_pipeline_cancel(vc_pipeline *p)
{
    atomic_store(&p->cancelled, true);
    for (int i = 0; i < p->nslots; i++)
        vc_queue_abort(p->slots[i].in);
}

int vc_pipeline_finish(vc_pipeline *p)
{
    if (p->nslots == 0)
        return 0;
    vc_queue_close(p->slots[0].in);
    for (int i = 0; i < p->nslots; i++) {
        stage_slot *s = &p->slots[i];
        for (int w = 0; w < s->workers; w++)
            pthread_join(s->ctx[w].thread, NULL);
    }
    /* After a cancel, free what never got processed. */
    for (int i = 0; i < p->nslots; i++) {
        void *item;
        while ((item = vc_queue_try_pop(p->slots[i].in)) != NULL)
            if (p->slots[i].stage->drop)
                p->slots[i].stage->drop(item);
    }
    int err = atomic_load(&p->error);
    if (err)
        return err;
    return atomic_load(&p->cancelled) ? -2 : 0;
}

size_t vc_pipeline_queued(vc_pipeline *p, int stage)
{
    if (stage < 0 || stage >= p->nslots)
        return 0;
    return vc_queue_len(p->slots[stage].in);
}

void vc_pipeline_free(vc_pipeline *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nslots; i++) {
        vc_queue_free(p->slots[i].in);
        free(p->slots[i].ctx);
    }
    free(p->slots);
    free(p);
}
