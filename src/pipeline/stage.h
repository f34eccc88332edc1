/* The one interface every pipeline stage implements.
 *
 * A stage is a named function that takes one item from its input queue and
 * passes zero or more items on with vc_stage_emit(). The engine runs each
 * stage on its own pool of worker threads, connected by bounded queues, so
 * all stages work concurrently and a slow stage holds back (rather than
 * buffers) the ones before it. Per-item failures are data, carried in the
 * item; a stage returns an error only for failures that must stop the run. */
#ifndef VC_PIPELINE_STAGE_H
#define VC_PIPELINE_STAGE_H

typedef struct vc_stage_ctx vc_stage_ctx;

typedef struct vc_stage {
    const char *name;
    int (*process)(vc_stage_ctx *ctx, void *item);
    void (*drop)(void *item);   /* free an input item left unprocessed by a cancel */
} vc_stage;

/* Pass an item to the next stage (blocks while its queue is full). Returns 0,
 * or -1 when the pipeline was cancelled: the item is then dropped for you. */
int vc_stage_emit(vc_stage_ctx *ctx, void *item);
/* The pointer given with the stage to vc_pipeline_add. */
void *vc_stage_shared(vc_stage_ctx *ctx);
/* 0 .. workers-1 */
int vc_stage_worker(vc_stage_ctx *ctx);

#endif
