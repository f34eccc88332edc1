/* Runs a linear chain of stages, each on its own worker threads. */
#ifndef VC_PIPELINE_ENGINE_H
#define VC_PIPELINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/stage.h"

typedef struct vc_pipeline vc_pipeline;

vc_pipeline *vc_pipeline_new(void);
/* Append a stage; queue_capacity bounds the items waiting in front of it. */
void vc_pipeline_add(vc_pipeline *p, const vc_stage *stage, void *shared, int workers, size_t queue_capacity);
int vc_pipeline_start(vc_pipeline *p);
/* Feed the first stage (blocks while its queue is full). false once cancelled. */
bool vc_pipeline_feed(vc_pipeline *p, void *item);
/* No more input: wait until every stage has drained. Returns the first fatal
 * stage error, -2 if cancelled, else 0. */
int vc_pipeline_finish(vc_pipeline *p);
/* Stop as soon as possible: wakes all waits; items in queues are dropped. */
void vc_pipeline_cancel(vc_pipeline *p);
void vc_pipeline_free(vc_pipeline *p);

/* Items waiting in front of stage i (for progress display). */
size_t vc_pipeline_queued(vc_pipeline *p, int stage);

#endif
