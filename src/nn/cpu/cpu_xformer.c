#include "nn/cpu/cpu_xformer.h"

#include <math.h>
#include <stdlib.h>

#include "nn/cpu/cpu_ops.h"

/* ---- RMS norm ---- */

typedef struct {
    const float *x, *w;
    float *y;
    int m, n, ldx, ldy, rows_per_task;
    float eps;
} rms_job;

static void rms_task(void *ctx, int task, int worker)
{
    (void)worker;
    const rms_job *j = ctx;
    int r0 = task * j->rows_per_task;
    int r1 = r0 + j->rows_per_task < j->m ? r0 + j->rows_per_task : j->m;
    for (int i = r0; i < r1; i++) {
        const float *x = j->x + (size_t)i * j->ldx;
        float *y = j->y + (size_t)i * j->ldy;
        double ss = 0.0;
        for (int c = 0; c < j->n; c++)
            ss += (double)x[c] * x[c];
        float var = (float)(ss / j->n);
        float r = 1.0f / sqrtf(var + j->eps);
        for (int c = 0; c < j->n; c++)
            y[c] = j->w[c] * (x[c] * r);
    }
}

void vc_cpu_rms_norm(vc_cpu_pool *pool, const float *x, int m, int n, int ldx, const float *w,
                     float eps, float *y, int ldy)
{
    int threads = pool ? vc_cpu_pool_threads(pool) : 1;
    int per = (m + 4 * threads - 1) / (4 * threads);
    if (per < 16)
        per = 16;
    rms_job j = { x, w, y, m, n, ldx, ldy, per, eps };
    int ntasks = (m + per - 1) / per;
    if (pool)
        vc_cpu_pool_run(pool, ntasks, rms_task, &j);
    else
        for (int t = 0; t < ntasks; t++)
            rms_task(&j, t, 0);
}

/* ---- linear with accumulation ---- */

typedef struct {
    const float *x, *w;
    float *y;
    int m, k, n, ldx, ldy, cols_per_task;
    float beta;
} lin_job;

static void lin_task(void *ctx, int task, int worker)
{
    (void)worker;
    const lin_job *j = ctx;
    int n0 = task * j->cols_per_task;
    int n1 = n0 + j->cols_per_task < j->n ? n0 + j->cols_per_task : j->n;
    vc_cpu_gemm(j->m, n1 - n0, j->k, j->x, j->ldx, j->w + (size_t)n0 * j->k, j->k, 1, j->beta, j->y + n0,
                j->ldy);
}

void vc_cpu_linear_acc(vc_cpu_pool *pool, const float *x, int m, int k, int ldx, const float *w, int n,
                       float beta, float *y, int ldy)
{
    if (m <= 0 || n <= 0)
        return;
    int threads = pool ? vc_cpu_pool_threads(pool) : 1;
    /* Column blocks (rows of w), a multiple of 16 wide; a few per thread so
     * uneven progress balances, none narrower than 64 columns. */
    int per = (n + 2 * threads - 1) / (2 * threads);
    per = (per + 15) & ~15;
    if (per < 64 || threads == 1)
        per = n;
    lin_job j = { x, w, y, m, k, n, ldx, ldy, per, beta };
    int ntasks = (n + per - 1) / per;
    if (pool)
        vc_cpu_pool_run(pool, ntasks, lin_task, &j);
    else
        for (int t = 0; t < ntasks; t++)
            lin_task(&j, t, 0);
}

/* ---- activations ---- */

static inline float act1(float x, vc_xact act)
{
    switch (act) {
    case VC_XACT_RELU:
        return x > 0.0f ? x : 0.0f;
    case VC_XACT_GELU:
        return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case VC_XACT_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    }
    return x;
}

typedef struct {
    float *a;
    const float *b;
    int lda, ldb, m, n, rows_per_task;
    vc_xact act;
} act_job;

static void act_task(void *ctx, int task, int worker)
{
    (void)worker;
    const act_job *j = ctx;
    int r0 = task * j->rows_per_task;
    int r1 = r0 + j->rows_per_task < j->m ? r0 + j->rows_per_task : j->m;
    for (int i = r0; i < r1; i++) {
        float *a = j->a + (size_t)i * j->lda;
        if (j->b) {
            const float *b = j->b + (size_t)i * j->ldb;
            for (int c = 0; c < j->n; c++)
                a[c] = act1(a[c], j->act) * b[c];
        } else {
            for (int c = 0; c < j->n; c++)
                a[c] = act1(a[c], j->act);
        }
    }
}

static void run_act(vc_cpu_pool *pool, act_job *j)
{
    int threads = pool ? vc_cpu_pool_threads(pool) : 1;
    int per = (j->m + 2 * threads - 1) / (2 * threads);
    if (per < 1)
        per = 1;
    j->rows_per_task = per;
    int ntasks = (j->m + per - 1) / per;
    if (pool)
        vc_cpu_pool_run(pool, ntasks, act_task, j);
    else
        for (int t = 0; t < ntasks; t++)
            act_task(j, t, 0);
}

void vc_cpu_act(vc_cpu_pool *pool, float *x, int m, int n, int ldx, vc_xact act)
{
    act_job j = { x, NULL, ldx, 0, m, n, 0, act };
    run_act(pool, &j);
}

void vc_cpu_act_mul(vc_cpu_pool *pool, float *a, int lda, const float *b, int ldb, int m, int n,
                    vc_xact act)
{
    act_job j = { a, b, lda, ldb, m, n, 0, act };
    run_act(pool, &j);
}

/* ---- attention ---- */

typedef struct {
    const float *q, *k, *v, *bias;
    float *o;
    float **scratch;       /* per worker, max_len^2 floats */
    const int *offsets;
    int ldqkv, ldo, heads, dk, max_len;
    float scale;
} attn_job;

static void attn_task(void *ctx, int task, int worker)
{
    const attn_job *j = ctx;
    int s = task / j->heads, h = task % j->heads;
    int r0 = j->offsets[s], len = j->offsets[s + 1] - r0;
    if (len <= 0)
        return;
    size_t col = (size_t)h * j->dk;
    const float *q = j->q + (size_t)r0 * j->ldqkv + col;
    const float *k = j->k + (size_t)r0 * j->ldqkv + col;
    const float *v = j->v + (size_t)r0 * j->ldqkv + col;
    float *sc = j->scratch[worker];
    /* scores[i][j] = q_i . k_j */
    vc_cpu_gemm(len, len, j->dk, q, j->ldqkv, k, j->ldqkv, 1, 0.0f, sc, len);
    const float *bias = j->bias ? j->bias + (size_t)h * (2 * j->max_len - 1) : NULL;
    for (int i = 0; i < len; i++) {
        float *row = sc + (size_t)i * len;
        /* key j sits at relative position j - i */
        const float *b = bias ? bias + (j->max_len - 1 - i) : NULL;
        float mx = -INFINITY;
        for (int c = 0; c < len; c++) {
            float x = row[c] * j->scale + (b ? b[c] : 0.0f);
            row[c] = x;
            mx = x > mx ? x : mx;
        }
        float sum = 0.0f;
        for (int c = 0; c < len; c++) {
            float e = expf(row[c] - mx);
            row[c] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (int c = 0; c < len; c++)
            row[c] *= inv;
    }
    vc_cpu_gemm(len, j->dk, len, sc, len, v, j->ldqkv, 0, 0.0f, j->o + (size_t)r0 * j->ldo + col, j->ldo);
}

int vc_cpu_attention(vc_cpu_pool *pool, const float *q, const float *k, const float *v, int ldqkv,
                     float *o, int ldo, int nseq, const int *offsets, int heads, int dk, float scale,
                     const float *bias, int max_len)
{
    int threads = pool ? vc_cpu_pool_threads(pool) : 1;
    int longest = 0;
    for (int s = 0; s < nseq; s++)
        if (offsets[s + 1] - offsets[s] > longest)
            longest = offsets[s + 1] - offsets[s];
    if (bias && longest > max_len)
        return -1;
    float **scratch = calloc((size_t)threads, sizeof *scratch);
    if (!scratch)
        return -1;
    int rc = 0;
    for (int t = 0; t < threads; t++)
        if (!(scratch[t] = vc_cpu_alloc_floats((size_t)(longest ? longest : 1) * (longest ? longest : 1))))
            rc = -1;
    if (!rc) {
        attn_job j = { q, k, v, bias, o, scratch, offsets, ldqkv, ldo, heads, dk, max_len, scale };
        if (pool)
            vc_cpu_pool_run(pool, nseq * heads, attn_task, &j);
        else
            for (int t = 0; t < nseq * heads; t++)
                attn_task(&j, t, 0);
    }
    for (int t = 0; t < threads; t++)
        free(scratch[t]);
    free(scratch);
    return rc;
}
