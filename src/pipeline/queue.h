/* Bounded blocking FIFO between pipeline stages: producers block when it is
 * full, which is what keeps memory bounded whatever the input size. */
#ifndef VC_PIPELINE_QUEUE_H
#define VC_PIPELINE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct vc_queue vc_queue;

vc_queue *vc_queue_new(size_t capacity);
void vc_queue_free(vc_queue *q);

/* Blocks while full. Returns false (item not taken) once the queue is aborted. */
bool vc_queue_push(vc_queue *q, void *item);
/* Blocks while empty. NULL once closed and drained, or aborted. */
void *vc_queue_pop(vc_queue *q);
/* Non-blocking pop for draining after an abort. */
void *vc_queue_try_pop(vc_queue *q);

void vc_queue_close(vc_queue *q);   /* no more items will come */
void vc_queue_abort(vc_queue *q);   /* wake everybody; push fails, pop returns NULL */
size_t vc_queue_len(vc_queue *q);

#endif
