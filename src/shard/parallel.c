#include "shard/parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <unistd.h>

#include "util/common.h"

typedef struct loop {
    atomic_size_t next;
    size_t n;
    void (*fn)(size_t, void *);
    void *opaque;
} loop;

static void *worker(void *arg)
{
    loop *l = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&l->next, 1);
        if (i >= l->n)
            return NULL;
        l->fn(i, l->opaque);
    }
}

int vc_shard_default_threads(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return (int)VC_MAX(2, VC_MIN(cpus, 8));
}

void vc_shard_parallel_for(size_t n, int threads, void (*fn)(size_t i, void *opaque),
                           void *opaque)
{
    loop l = { .n = n, .fn = fn, .opaque = opaque };
    atomic_init(&l.next, 0);
    if (threads <= 0)
        threads = vc_shard_default_threads();
    size_t nt = VC_MIN((size_t)threads, n);
    if (nt <= 1) {
        worker(&l);
        return;
    }
    pthread_t *tids = vc_xcalloc(nt, sizeof(*tids));
    size_t started = 0;
    for (; started < nt; started++)
        if (pthread_create(&tids[started], NULL, worker, &l) != 0)
            break;
    if (started == 0)
        worker(&l); /* no threads available: do it here */
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
}
