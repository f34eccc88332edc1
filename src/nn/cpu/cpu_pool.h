/* A fixed team of worker threads that runs "for task in 0..n" loops.
 *
 * The CPU runtime parallelises itself (over frames, rows of a GEMM, ...)
 * and calls OpenBLAS single-threaded inside each task: small per-frame GEMMs
 * run faster side by side than one at a time on OpenBLAS's own threads, and
 * the thread count the caller asked for is then exactly what runs. */
#ifndef VC_NN_CPU_POOL_H
#define VC_NN_CPU_POOL_H

typedef struct vc_cpu_pool vc_cpu_pool;

/* Work of one task; `worker` in [0, nthreads) names the thread running it,
 * so tasks can use per-thread scratch memory. */
typedef void (*vc_cpu_task_fn)(void *ctx, int task, int worker);

/* nthreads >= 1 (the caller's thread counts as one); 0 = all cores. NULL on failure. */
vc_cpu_pool *vc_cpu_pool_new(int nthreads);
void vc_cpu_pool_free(vc_cpu_pool *p);
int vc_cpu_pool_threads(const vc_cpu_pool *p);
/* Runs fn for every task in [0, ntasks) and returns when all are done.
 * Not reentrant: one loop at a time per pool. */
void vc_cpu_pool_run(vc_cpu_pool *p, int ntasks, vc_cpu_task_fn fn, void *ctx);

/* Cores this process may run on. */
int vc_cpu_count(void);
/* Makes OpenBLAS single-threaded (process-wide): the pool supplies the parallelism. */
void vc_cpu_blas_single_thread(void);

#endif
