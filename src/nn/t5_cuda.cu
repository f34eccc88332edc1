/* T5 encoder on CUDA: cuBLAS for every matrix product (fp32, or TF32 tensor
 * cores when asked), our kernels for the embedding gather, RMS norm, the
 * biased softmax and the activations. The batch is packed without padding,
 * as on the CPU (see t5.c); attention runs per caption as two strided
 * batched GEMMs over the heads. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cuda/cuda_check.cuh"
#include "nn/t5_cuda.h"

struct vc_t5_cuda {
    vc_t5_cuda_cfg cfg;
    int dev;
    cudaStream_t st;
    cublasHandle_t blas;
    cudaEvent_t ev[2];
    float last_ms;
    float *embed, *rel_bias, *final_ln;
    float **w;                 /* layers x 9 device pointers */
    /* activations, grown on demand */
    size_t cap_tokens, cap_scores, cap_ff, cap_bucket;
    float *x, *h, *q, *k, *v, *a, *ff, *ff1, *scores, *hout;
    int32_t *ids_d, *ids_h;
    int *bucket_d, *bucket_h;
};



/* ---- kernels ---- */

__global__ void k_gather(const float *__restrict__ embed, const int32_t *__restrict__ ids, float *__restrict__ x,
                         int d)
{
    int t = blockIdx.x;
    const float *src = embed + (size_t)ids[t] * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x)
        x[(size_t)t * d + c] = src[c];
}

/* One block per row; blockDim.x = 256. */
__global__ void k_rms(const float *__restrict__ x, const float *__restrict__ w, float *__restrict__ y, int d,
                      float eps)
{
    __shared__ float red[32];
    const float *r = x + (size_t)blockIdx.x * d;
    float s = 0.0f;
    for (int c = threadIdx.x; c < d; c += blockDim.x)
        s += r[c] * r[c];
    for (int o = 16; o > 0; o >>= 1)
        s += __shfl_xor_sync(0xffffffffu, s, o);
    if ((threadIdx.x & 31) == 0)
        red[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x < 32) {
        s = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : 0.0f;
        for (int o = 16; o > 0; o >>= 1)
            s += __shfl_xor_sync(0xffffffffu, s, o);
        if (threadIdx.x == 0)
            red[0] = s;
    }
    __syncthreads();
    float inv = rsqrtf(red[0] / d + eps);
    float *out = y + (size_t)blockIdx.x * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x)
        out[c] = w[c] * (r[c] * inv);
}

/* scores: [heads][L queries][L keys] (row i = query). One block per (query, head). */
__global__ void k_softmax_bias(float *__restrict__ s, const float *__restrict__ rel_bias,
                               const int *__restrict__ bucket, int L, int heads, int maxlen)
{
    __shared__ float red[32];
    int i = blockIdx.x, h = blockIdx.y;
    float *row = s + ((size_t)h * L + i) * L;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < L; j += blockDim.x) {
        float v = row[j] + rel_bias[(size_t)bucket[j - i + maxlen - 1] * heads + h];
        row[j] = v;
        mx = fmaxf(mx, v);
    }
    for (int o = 16; o > 0; o >>= 1)
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if ((threadIdx.x & 31) == 0)
        red[threadIdx.x >> 5] = mx;
    __syncthreads();
    if (threadIdx.x < 32) {
        mx = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : -INFINITY;
        for (int o = 16; o > 0; o >>= 1)
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        if (threadIdx.x == 0)
            red[0] = mx;
    }
    __syncthreads();
    mx = red[0];
    __syncthreads();
    float sum = 0.0f;
    for (int j = threadIdx.x; j < L; j += blockDim.x) {
        float e = __expf(row[j] - mx);
        row[j] = e;
        sum += e;
    }
    for (int o = 16; o > 0; o >>= 1)
        sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if ((threadIdx.x & 31) == 0)
        red[threadIdx.x >> 5] = sum;
    __syncthreads();
    if (threadIdx.x < 32) {
        sum = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : 0.0f;
        for (int o = 16; o > 0; o >>= 1)
            sum += __shfl_xor_sync(0xffffffffu, sum, o);
        if (threadIdx.x == 0)
            red[0] = sum;
    }
    __syncthreads();
    float inv = 1.0f / red[0];
    for (int j = threadIdx.x; j < L; j += blockDim.x)
        row[j] *= inv;
}

__device__ __forceinline__ float act1(float x, int act)
{
    if (act == 0)
        return x > 0.0f ? x : 0.0f;
    if (act == 1)
        return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}

__global__ void k_act(float *__restrict__ a, const float *__restrict__ b, size_t n, int act)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        a[i] = b ? act1(a[i], act) * b[i] : act1(a[i], act);
}

/* ---- host ---- */

static int upload(float **dst, const float *src, size_t n, char *err, size_t errlen)
{
    CU(cudaMalloc((void **)dst, n * sizeof(float)));
    CU(cudaMemcpy(*dst, src, n * sizeof(float), cudaMemcpyHostToDevice));
    return 0;
}

static int grow(float **p, size_t *cap, size_t need, char *err, size_t errlen)
{
    (void)cap;
    if (*p)
        cudaFree(*p);
    *p = NULL;
    CU(cudaMalloc((void **)p, need * sizeof(float)));
    return 0;
}

extern "C" vc_t5_cuda *vc_t5_cuda_new(const vc_t5_cuda_cfg *cfg, const float *embed, const float *rel_bias,
                                      const float *const *lw, const float *final_ln, int device, char *err,
                                      size_t errlen)
{
    vc_t5_cuda *c = (vc_t5_cuda *)calloc(1, sizeof *c);
    if (!c) {
        vc_cuda_seterr(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->dev = device;
    int d = cfg->d_model, inner = cfg->heads * cfg->d_kv;
    int rc = -1;
    do {
        if (cudaSetDevice(device) != cudaSuccess) {
            vc_cuda_seterr(err, errlen, "CUDA device %d is not usable", device);
            break;
        }
        if (cudaStreamCreate(&c->st) != cudaSuccess || cublasCreate(&c->blas) != CUBLAS_STATUS_SUCCESS ||
            cudaEventCreate(&c->ev[0]) != cudaSuccess || cudaEventCreate(&c->ev[1]) != cudaSuccess) {
            vc_cuda_seterr(err, errlen, "cannot create the CUDA stream / cuBLAS handle on device %d", device);
            break;
        }
        cublasSetStream(c->blas, c->st);
        cublasSetMathMode(c->blas, cfg->precision == 1 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
        if (upload(&c->embed, embed, (size_t)cfg->vocab_rows * d, err, errlen) ||
            upload(&c->rel_bias, rel_bias, (size_t)cfg->buckets * cfg->heads, err, errlen) ||
            upload(&c->final_ln, final_ln, (size_t)d, err, errlen))
            break;
        c->w = (float **)calloc((size_t)cfg->layers * 9, sizeof *c->w);
        if (!c->w) {
            vc_cuda_seterr(err, errlen, "out of memory");
            break;
        }
        size_t sizes[9] = { (size_t)d, (size_t)inner * d, (size_t)inner * d, (size_t)inner * d,
                            (size_t)d * inner, (size_t)d, (size_t)cfg->d_ff * d, (size_t)cfg->d_ff * d,
                            (size_t)d * cfg->d_ff };
        int bad = 0;
        for (int l = 0; l < cfg->layers && !bad; l++)
            for (int k = 0; k < 9 && !bad; k++)
                if (lw[l * 9 + k])
                    bad = upload(&c->w[l * 9 + k], lw[l * 9 + k], sizes[k], err, errlen);
        if (bad)
            break;
        rc = 0;
    } while (0);
    if (rc) {
        vc_t5_cuda_free(c);
        return NULL;
    }
    return c;
}

extern "C" void vc_t5_cuda_free(vc_t5_cuda *c)
{
    if (!c)
        return;
    cudaSetDevice(c->dev);
    if (c->w)
        for (int i = 0; i < c->cfg.layers * 9; i++)
            cudaFree(c->w[i]);
    free(c->w);
    float *bufs[] = { c->embed, c->rel_bias, c->final_ln, c->x, c->h, c->q, c->k, c->v, c->a, c->ff, c->ff1,
                      c->scores };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        cudaFree(bufs[i]);
    cudaFree(c->ids_d);
    cudaFree(c->bucket_d);
    cudaFreeHost(c->hout);
    free(c->ids_h);
    free(c->bucket_h);
    if (c->blas)
        cublasDestroy(c->blas);
    if (c->ev[0])
        cudaEventDestroy(c->ev[0]);
    if (c->ev[1])
        cudaEventDestroy(c->ev[1]);
    if (c->st)
        cudaStreamDestroy(c->st);
    free(c);
}

extern "C" float vc_t5_cuda_last_ms(const vc_t5_cuda *c)
{
    return c->last_ms;
}

/* y[T][N] (+)= x[T][K] . W[N][K]^T, row-major, through column-major cuBLAS. */
static int linear(vc_t5_cuda *c, const float *x, int T, int K, const float *W, int N, float beta, float *y,
                  char *err, size_t errlen)
{
    const float one = 1.0f;
    CB(cublasSgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, N, T, K, &one, W, K, x, K, &beta, y, N));
    return 0;
}

#define FF_ROWS 2048

extern "C" int vc_t5_cuda_encode(vc_t5_cuda *c, int n, const int32_t *const *ids, const int *lens,
                                 float *const *out, char *err, size_t errlen)
{
    if (n <= 0)
        return 0;
    const vc_t5_cuda_cfg *g = &c->cfg;
    int d = g->d_model, inner = g->heads * g->d_kv, H = g->heads, dk = g->d_kv;
    CU(cudaSetDevice(c->dev));
    int T = 0, longest = 0;
    for (int s = 0; s < n; s++) {
        T += lens[s];
        if (lens[s] > longest)
            longest = lens[s];
    }
    int ffr = T < FF_ROWS ? T : FF_ROWS;
    size_t need_scores = (size_t)H * longest * longest;
    if ((size_t)T > c->cap_tokens) {
        size_t cap = (size_t)T;
        if (grow(&c->x, NULL, cap * d, err, errlen) || grow(&c->h, NULL, cap * d, err, errlen) ||
            grow(&c->q, NULL, cap * inner, err, errlen) || grow(&c->k, NULL, cap * inner, err, errlen) ||
            grow(&c->v, NULL, cap * inner, err, errlen) || grow(&c->a, NULL, cap * inner, err, errlen))
            return -1;
        cudaFreeHost(c->hout);
        c->hout = NULL;
        CU(cudaMallocHost((void **)&c->hout, cap * d * sizeof(float)));
        free(c->ids_h);
        c->ids_h = (int32_t *)malloc(cap * sizeof(int32_t));
        cudaFree(c->ids_d);
        c->ids_d = NULL;
        CU(cudaMalloc((void **)&c->ids_d, cap * sizeof(int32_t)));
        if (!c->ids_h) {
            vc_cuda_seterr(err, errlen, "out of memory");
            return -1;
        }
        c->cap_tokens = cap;
    }
    if ((size_t)ffr > c->cap_ff) {
        if (grow(&c->ff, NULL, (size_t)ffr * g->d_ff, err, errlen) ||
            (g->gated && grow(&c->ff1, NULL, (size_t)ffr * g->d_ff, err, errlen)))
            return -1;
        c->cap_ff = (size_t)ffr;
    }
    if (need_scores > c->cap_scores) {
        if (grow(&c->scores, NULL, need_scores, err, errlen))
            return -1;
        c->cap_scores = need_scores;
    }
    size_t nb = (size_t)(2 * longest - 1);
    if (nb > c->cap_bucket) {
        free(c->bucket_h);
        c->bucket_h = (int *)malloc(nb * sizeof(int));
        cudaFree(c->bucket_d);
        c->bucket_d = NULL;
        CU(cudaMalloc((void **)&c->bucket_d, nb * sizeof(int)));
        if (!c->bucket_h) {
            vc_cuda_seterr(err, errlen, "out of memory");
            return -1;
        }
        c->cap_bucket = nb;
    }
    for (int r = -(longest - 1); r <= longest - 1; r++)
        c->bucket_h[r + longest - 1] = vc_t5_rel_bucket(r, g->buckets, g->max_distance);
    for (int s = 0, t = 0; s < n; s++)
        for (int i = 0; i < lens[s]; i++, t++) {
            if (ids[s][i] < 0 || ids[s][i] >= g->vocab_rows) {
                vc_cuda_seterr(err, errlen, "sequence %d: token id %d outside the embedding", s, (int)ids[s][i]);
                return -1;
            }
            c->ids_h[t] = ids[s][i];
        }
    CU(cudaEventRecord(c->ev[0], c->st));
    CU(cudaMemcpyAsync(c->ids_d, c->ids_h, (size_t)T * sizeof(int32_t), cudaMemcpyHostToDevice, c->st));
    CU(cudaMemcpyAsync(c->bucket_d, c->bucket_h, nb * sizeof(int), cudaMemcpyHostToDevice, c->st));
    k_gather<<<T, 256, 0, c->st>>>(c->embed, c->ids_d, c->x, d);
    const float one = 1.0f, zero = 0.0f;
    for (int l = 0; l < g->layers; l++) {
        float *const *W = c->w + (size_t)l * 9;
        k_rms<<<T, 256, 0, c->st>>>(c->x, W[0], c->h, d, g->eps);
        if (linear(c, c->h, T, d, W[1], inner, 0.0f, c->q, err, errlen) ||
            linear(c, c->h, T, d, W[2], inner, 0.0f, c->k, err, errlen) ||
            linear(c, c->h, T, d, W[3], inner, 0.0f, c->v, err, errlen))
            return -1;
        for (int s = 0, r0 = 0; s < n; r0 += lens[s], s++) {
            int L = lens[s];
            const float *q = c->q + (size_t)r0 * inner, *k = c->k + (size_t)r0 * inner,
                        *v = c->v + (size_t)r0 * inner;
            /* scores[h] (row-major [query][key]) = (K_h Q_h^T) in column-major terms */
            CB(cublasSgemmStridedBatched(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, L, L, dk, &one, k, inner, dk, q,
                                         inner, dk, &zero, c->scores, L, (long long)L * L, H));
            k_softmax_bias<<<dim3(L, H), 128, 0, c->st>>>(c->scores, c->rel_bias, c->bucket_d, L, H, longest);
            /* o_h = P_h V_h: column-major C (dk x L) = V_h (dk x L) . P_h^T */
            CB(cublasSgemmStridedBatched(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, dk, L, L, &one, v, inner, dk,
                                         c->scores, L, (long long)L * L, &zero, c->a + (size_t)r0 * inner, inner,
                                         dk, H));
        }
        if (linear(c, c->a, T, inner, W[4], d, 1.0f, c->x, err, errlen))
            return -1;
        k_rms<<<T, 256, 0, c->st>>>(c->x, W[5], c->h, d, g->eps);
        for (int r0 = 0; r0 < T; r0 += ffr) {
            int rows = T - r0 < ffr ? T - r0 : ffr;
            size_t cnt = (size_t)rows * g->d_ff;
            if (linear(c, c->h + (size_t)r0 * d, rows, d, W[6], g->d_ff, 0.0f, c->ff, err, errlen))
                return -1;
            if (g->gated && linear(c, c->h + (size_t)r0 * d, rows, d, W[7], g->d_ff, 0.0f, c->ff1, err, errlen))
                return -1;
            k_act<<<1024, 256, 0, c->st>>>(c->ff, g->gated ? c->ff1 : NULL, cnt, g->act);
            if (linear(c, c->ff, rows, g->d_ff, W[8], d, 1.0f, c->x + (size_t)r0 * d, err, errlen))
                return -1;
        }
    }
    k_rms<<<T, 256, 0, c->st>>>(c->x, c->final_ln, c->h, d, g->eps);
    CU(cudaGetLastError());
    CU(cudaMemcpyAsync(c->hout, c->h, (size_t)T * d * sizeof(float), cudaMemcpyDeviceToHost, c->st));
    CU(cudaEventRecord(c->ev[1], c->st));
    CU(cudaStreamSynchronize(c->st));
    cudaEventElapsedTime(&c->last_ms, c->ev[0], c->ev[1]);
    for (int s = 0, r0 = 0; s < n; r0 += lens[s], s++)
        memcpy(out[s], c->hout + (size_t)r0 * d, (size_t)lens[s] * d * sizeof(float));
    return 0;
}
