#include "nn/cpu/cpu_ops.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

float *vc_cpu_alloc_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes ? bytes : 64);
}

int vc_tensor_alloc(vc_tensor *t, int ndim, const int64_t *shape)
{
    memset(t, 0, sizeof *t);
    if (ndim < 0 || ndim > VC_TENSOR_MAX_DIMS)
        return -1;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->data = vc_cpu_alloc_floats((size_t)vc_tensor_numel(t));
    return t->data ? 0 : -1;
}

int64_t vc_tensor_numel(const vc_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

void vc_tensor_free(vc_tensor *t)
{
    free(t->data);
    memset(t, 0, sizeof *t);
}

void vc_cpu_gemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, int b_trans,
                 float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, b_trans ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a,
                lda, b, ldb, beta, c, ldc);
}

typedef struct {
    const float *x, *w, *bias;
    float *y;
    int m, k, n, ldx, ldy, cols_per_task;
    vc_act act;
} linear_job;

static void linear_task(void *ctx, int task, int worker)
{
    (void)worker;
    const linear_job *j = ctx;
    int n0 = task * j->cols_per_task;
    int n1 = n0 + j->cols_per_task < j->n ? n0 + j->cols_per_task : j->n;
    float *y = j->y + n0;
    if (j->bias) {
        vc_cpu_fill_rows(y, j->m, n1 - n0, j->ldy, j->bias + n0);
        vc_cpu_gemm(j->m, n1 - n0, j->k, j->x, j->ldx, j->w + (size_t)n0 * j->k, j->k, 1, 1.0f, y, j->ldy);
    } else {
        vc_cpu_gemm(j->m, n1 - n0, j->k, j->x, j->ldx, j->w + (size_t)n0 * j->k, j->k, 1, 0.0f, y, j->ldy);
    }
    if (j->act != VC_ACT_NONE)
        vc_cpu_bias_act(y, j->m, n1 - n0, j->ldy, NULL, j->act);
}

void vc_cpu_linear(vc_cpu_pool *pool, const float *x, int m, int k, int ldx, const float *w,
                   const float *bias, int n, vc_act act, float *y, int ldy)
{
    int threads = pool ? vc_cpu_pool_threads(pool) : 1;
    /* Column blocks (whole rows of w), a multiple of 16 wide, one or two per thread. */
    int per = (n + 2 * threads - 1) / (2 * threads);
    per = (per + 15) & ~15;
    if (per < 64 || (size_t)m * n * k < (size_t)1 << 20)
        per = n;
    linear_job j = {x, w, bias, y, m, k, n, ldx, ldy, per, act};
    int ntasks = (n + per - 1) / per;
    if (pool)
        vc_cpu_pool_run(pool, ntasks, linear_task, &j);
    else
        for (int t = 0; t < ntasks; t++)
            linear_task(&j, t, 0);
}

void vc_cpu_bias_act(float *y, int m, int n, int ldy, const float *bias, vc_act act)
{
    for (int i = 0; i < m; i++) {
        float *r = y + (size_t)i * ldy;
        if (bias)
            for (int j = 0; j < n; j++)
                r[j] += bias[j];
        if (act == VC_ACT_RELU)
            for (int j = 0; j < n; j++)
                r[j] = r[j] > 0.0f ? r[j] : 0.0f;
    }
}

void vc_cpu_fill_rows(float *y, int m, int n, int ldy, const float *row)
{
    for (int i = 0; i < m; i++)
        memcpy(y + (size_t)i * ldy, row, (size_t)n * sizeof *y);
}

void vc_cpu_l2_normalize_rows(float *x, int m, int n, int ldx)
{
    for (int i = 0; i < m; i++) {
        float *r = x + (size_t)i * ldx;
        double ss = 0.0;
        for (int j = 0; j < n; j++)
            ss += (double)r[j] * r[j];
        float norm = (float)sqrt(ss);
        if (norm < 1e-12f)
            norm = 1e-12f;
        for (int j = 0; j < n; j++)
            r[j] /= norm;
    }
}

void vc_cpu_sigmoid(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + expf(-x[i]));
}

float vc_cpu_dot(const float *a, const float *b, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}
