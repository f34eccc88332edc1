/* The CPU runtime's building blocks: float32 tensors, GEMM-based linear
 * layers, elementwise ops and row reductions.
 *
 * Matrices are row-major with an explicit leading dimension (ld, in floats),
 * so a kernel can read or write a column slice of a wider matrix (one
 * branch's channels of a concatenation, one time-shifted view) without
 * copying. Weights keep PyTorch's Linear layout [out][in]: OpenBLAS reads
 * them transposed while packing, so no transpose is ever materialised.
 * Transformer pieces (layer norm, softmax, GELU) will join here. */
#ifndef VC_NN_CPU_OPS_H
#define VC_NN_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "nn/cpu/cpu_pool.h"

#define VC_TENSOR_MAX_DIMS 4

/* An owned float32 buffer with a shape; data is 64-byte aligned. */
typedef struct vc_tensor {
    float *data;
    int ndim;
    int64_t shape[VC_TENSOR_MAX_DIMS];
} vc_tensor;

/* 0, or -1 when out of memory. Contents are uninitialised. */
int vc_tensor_alloc(vc_tensor *t, int ndim, const int64_t *shape);
int64_t vc_tensor_numel(const vc_tensor *t);
void vc_tensor_free(vc_tensor *t);
/* 64-byte aligned allocation for scratch buffers; free() releases it. */
float *vc_cpu_alloc_floats(size_t n);

typedef enum { VC_ACT_NONE, VC_ACT_RELU } vc_act;

/* C[M][N] = A[M][K] * B + beta * C, B being [K][N] or, with b_trans,
 * [N][K] (a Linear weight). Single-threaded: callers parallelise. */
void vc_cpu_gemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, int b_trans,
                 float beta, float *c, int ldc);

/* y[M][N] = act(x[M][K] * w[N][K]^T + bias) (bias may be NULL), the
 * output columns split across the pool's threads. */
void vc_cpu_linear(vc_cpu_pool *pool, const float *x, int m, int k, int ldx, const float *w,
                   const float *bias, int n, vc_act act, float *y, int ldy);

/* y[i][j] = act(y[i][j] + bias[j]) over an M x N block (bias may be NULL). */
void vc_cpu_bias_act(float *y, int m, int n, int ldy, const float *bias, vc_act act);
/* Sets every row of an M x N block to `row`. */
void vc_cpu_fill_rows(float *y, int m, int n, int ldy, const float *row);
/* x / max(||x||_2, 1e-12) per row, as torch.nn.functional.normalize. */
void vc_cpu_l2_normalize_rows(float *x, int m, int n, int ldx);
/* 1 / (1 + exp(-x)), elementwise. */
void vc_cpu_sigmoid(const float *x, float *y, size_t n);
/* dot product of n floats. */
float vc_cpu_dot(const float *a, const float *b, int n);

#endif
