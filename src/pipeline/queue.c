#include "pipeline/queue.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/common.h"

struct vc_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void **ring;
    size_t cap, head, len;
    bool closed, aborted;
};

vc_queue *vc_queue_new(size_t capacity)
{
    vc_queue *q = vc_xcalloc(1, sizeof(*q));
    q->cap = capacity ? capacity : 1;
    q->ring = vc_xcalloc(q->cap, sizeof(void *));
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return q;
}

void vc_queue_free(vc_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->ring);
    free(q);
}

bool vc_queue_push(vc_queue *q, void *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->len == q->cap && !q->aborted)
        pthread_cond_wait(&q->not_full, &q->lock);
    bool ok = !q->aborted;
    if (ok) {
        q->ring[(q->head + q->len) % q->cap] = item;
        q->len++;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static void *take_locked(vc_queue *q)
{
    void *item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    pthread_cond_signal(&q->not_full);
    return item;
}

void *vc_queue_pop(vc_queue *q)
{
    void *item = NULL;
    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->closed && !q->aborted)
        pthread_cond_wait(&q->not_empty, &q->lock);
    if (q->len > 0 && !q->aborted)
        item = take_locked(q);
    pthread_mutex_unlock(&q->lock);
    return item;
}

void *vc_queue_try_pop(vc_queue *q)
{
    void *item = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->len > 0)
        item = take_locked(q);
    pthread_mutex_unlock(&q->lock);
    return item;
}

void vc_queue_close(vc_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

void vc_queue_abort(vc_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->aborted = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

size_t vc_queue_len(vc_queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}
