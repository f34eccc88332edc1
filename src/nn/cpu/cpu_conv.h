/* Convolution and pooling kernels on channels-last frames.
 *
 * A frame is [H][W][C] (HWC) and a clip is frames one after the other
 * ([T][H][W][C]). Channels-last makes a convolution a GEMM whose rows are
 * pixels and whose columns are output channels, so several convolutions that
 * read the same input (TransNetV2's four dilation branches) are one GEMM
 * with their output channels side by side, and a time shift is just a row
 * offset of T*H*W-row matrices. Kernels here work on one frame or one range
 * of frames, single-threaded; callers spread frames over a vc_cpu_pool. */
#ifndef VC_NN_CPU_CONV_H
#define VC_NN_CPU_CONV_H

#include <stddef.h>

/* 3x3 convolution, stride 1, zero padding 1, no bias, on nf frames at once
 * (one GEMM for all of them: small frames make too thin a GEMM alone):
 * x is [nf][h][w][cin], y gets nf*h*w rows of cout at row stride ldy. */

/* By im2col: weights [cout][cin][3][3] (PyTorch) packed as [cout][3][3][cin],
 * the layout whose rows match im2col's columns. */
void vc_cpu_conv3x3_pack_im2col(const float *w, int cout, int cin, float *packed);
/* col[(y*w + x)][(ky*3 + kx)*c + ci] = x[y+ky-1][x+kx-1][ci] (0 outside), one frame. */
void vc_cpu_im2col3x3(const float *x, int h, int w, int c, float *col);
void vc_cpu_conv3x3_im2col(const float *x, int nf, int h, int w, int cin, const float *packed,
                           int cout, float *y, int ldy, float *scratch);

/* By Winograd F(2x2,3x3): 16 GEMMs of K = cin over 4x4 input tiles, 2.25x
 * fewer multiplications than im2col (worth it for cin >= ~16). */
size_t vc_cpu_wino_packed_size(int cout, int cin);
void vc_cpu_conv3x3_pack_wino(const float *w, int cout, int cin, float *packed);
void vc_cpu_conv3x3_wino(const float *x, int nf, int h, int w, int cin, const float *packed,
                         int cout, float *y, int ldy, float *scratch);

/* Scratch floats the two need for nf frames (the larger of both). */
size_t vc_cpu_conv3x3_scratch(int nf, int h, int w, int cin, int cout);

/* Temporal convolution (kernel 3, dilation d, zero padding d) over a clip of
 * t_len frames of `rows` pixels each, for output frames [t0, t1):
 *   out[t - t0][p][f] += sum_j sum_c in[t + (j-1)d][p][c] * wt[j][f][c]
 * in: the clip, a channel slice of width cin at row stride ldin; out: the
 * output frames from t0 on, an f slice at row stride ldout (so it can be a
 * buffer for just those frames); wt: [3][cout][cin]. Accumulates into out. */
void vc_cpu_temporal_conv3(const float *in, int ldin, int cin, int t_len, int rows, int d,
                           const float *wt, int cout, float *out, int ldout, int t0, int t1);

/* 2x2 average pooling, stride 2, floor: y[h/2][w/2][c]. */
void vc_cpu_avgpool2x2(const float *x, int h, int w, int c, float *y);

#endif
