/* Transformer kernels of the CPU runtime (T5 encoder): RMS layer norm,
 * linear layers that accumulate into the residual stream, multi-head
 * self-attention with an additive relative-position bias over packed
 * sequences, and the feed-forward activations.
 *
 * Sequences of a batch are packed row after row into one [T][d] matrix
 * (T = the sum of their lengths, no padding), so every projection is one
 * GEMM over the whole batch and attention runs per (sequence, head): a
 * padded batch with a key mask gives the same values, since masked keys get
 * exactly zero weight after the softmax. Matrices are row-major with
 * explicit leading dimensions; weights keep PyTorch's Linear layout
 * [out][in]. */
#ifndef VC_NN_CPU_XFORMER_H
#define VC_NN_CPU_XFORMER_H

#include <stddef.h>

#include "nn/cpu/cpu_pool.h"

/* y = x * rsqrt(mean(x^2) + eps) * w per row (T5LayerNorm: no mean
 * subtraction, no bias), the variance accumulated in double. */
void vc_cpu_rms_norm(vc_cpu_pool *pool, const float *x, int m, int n, int ldx, const float *w,
                     float eps, float *y, int ldy);

/* y[M][N] = x[M][K] * w[N][K]^T + beta * y (beta 0 or 1: overwrite or add
 * into y, e.g. the residual), output columns split across the pool. */
void vc_cpu_linear_acc(vc_cpu_pool *pool, const float *x, int m, int k, int ldx, const float *w, int n,
                       float beta, float *y, int ldy);

typedef enum {
    VC_XACT_RELU,
    VC_XACT_GELU,       /* exact, erf-based (torch.nn.GELU) */
    VC_XACT_GELU_TANH,  /* tanh approximation (HF "gelu_new") */
} vc_xact;

/* x = act(x) over an M x N block. */
void vc_cpu_act(vc_cpu_pool *pool, float *x, int m, int n, int ldx, vc_xact act);
/* a = act(a) * b over an M x N block (gated feed-forward). */
void vc_cpu_act_mul(vc_cpu_pool *pool, float *a, int lda, const float *b, int ldb, int m, int n,
                    vc_xact act);

/* Self-attention over packed sequences: sequence s holds rows
 * [offsets[s], offsets[s+1]) of q, k, v (each with leading dimension ldqkv,
 * head h in columns [h*dk, (h+1)*dk)). For every sequence and head:
 *   o_h[i] = sum_j softmax_j(scale * q_h[i].k_h[j] + bias[h][j - i + max_len - 1]) v_h[j]
 * bias may be NULL; otherwise it is [heads][2*max_len - 1] and every
 * sequence is at most max_len long. Each worker needs max_len^2 floats of
 * scratch, allocated here. Returns 0, or -1 when out of memory. */
int vc_cpu_attention(vc_cpu_pool *pool, const float *q, const float *k, const float *v, int ldqkv,
                     float *o, int ldo, int nseq, const int *offsets, int heads, int dk, float scale,
                     const float *bias, int max_len);

#endif
