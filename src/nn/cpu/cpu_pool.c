#include "nn/cpu/cpu_pool.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct vc_cpu_pool {
    int nthreads;
    pthread_t *threads;             /* nthreads - 1 helpers; the caller is worker 0 */
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    unsigned long generation;       /* bumped once per vc_cpu_pool_run */
    int busy;                       /* helpers still in the current loop */
    int quit;
    /* the current loop */
    vc_cpu_task_fn fn;
    void *ctx;
    int ntasks;
    atomic_int next;
};

int vc_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void vc_cpu_blas_single_thread(void)
{
    openblas_set_num_threads(1);
}

/* Takes tasks until none is left; dynamic so uneven tasks balance out. */
static void drain(vc_cpu_pool *p, int worker)
{
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= p->ntasks)
            return;
        p->fn(p->ctx, t, worker);
    }
}

typedef struct {
    vc_cpu_pool *pool;
    int worker;
} helper_arg;

static void *helper_main(void *arg)
{
    helper_arg a = *(helper_arg *)arg;
    free(arg);
    vc_cpu_pool *p = a.pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        drain(p, a.worker);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

vc_cpu_pool *vc_cpu_pool_new(int nthreads)
{
    if (nthreads <= 0)
        nthreads = vc_cpu_count();
    vc_cpu_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->nthreads = 1;
    for (int i = 1; i < nthreads; i++) {
        helper_arg *a = malloc(sizeof *a);
        if (!a)
            break;
        *a = (helper_arg){p, i};
        if (pthread_create(&p->threads[i - 1], NULL, helper_main, a) != 0) {
            free(a);
            break;                  /* run with the threads we got */
        }
        p->nthreads++;
    }
    return p;
}

void vc_cpu_pool_free(vc_cpu_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads - 1; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int vc_cpu_pool_threads(const vc_cpu_pool *p)
{
    return p->nthreads;
}

void vc_cpu_pool_run(vc_cpu_pool *p, int ntasks, vc_cpu_task_fn fn, void *ctx)
{
    if (ntasks <= 0)
        return;
    if (p->nthreads == 1 || ntasks == 1) {
        for (int t = 0; t < ntasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    p->busy = p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);

    drain(p, 0);

    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
