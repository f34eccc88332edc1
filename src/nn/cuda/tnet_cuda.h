/* TransNetV2 on a CUDA GPU (our kernels + cuBLAS), from the folded weights.
 * Built only when nvcc is found; otherwise cuda_none.c answers that CUDA is
 * not built in. */
#ifndef VC_NN_CUDA_TNET_CUDA_H
#define VC_NN_CUDA_TNET_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "nn/tnet_params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vc_tnet_cuda vc_tnet_cuda;

int vc_cuda_device_count(void);
/* Copies the weights to `device`; max_windows windows run per batch on the
 * GPU (device memory is sized for it, ~60 MB a window); larger calls run in
 * batches of that size. Past a batch's first 32 windows, the frame upload
 * overlaps the network. Starts in the exact precision. */
vc_tnet_cuda *vc_tnet_cuda_new(const vc_tnet_params *p, int device, int max_windows,
                               char *err, size_t errlen);
/* Same contract as vc_tnet_forward (sigmoid probabilities, many may be NULL). */
int vc_tnet_cuda_forward(vc_tnet_cuda *c, const uint8_t *frames, int nwin, float *single, float *many,
                         char *err, size_t errlen);
/* Arithmetic of the convolutions, for the following forward calls:
 * VC_TNET_CUDA_EXACT (the default): bf16x3 (two bf16 planes a value, three
 * tensor-core products), fp32 head; ~1e-4 off the fp32 model.
 * VC_TNET_CUDA_BF16: one bf16 product (hi planes only, wgmma on H100/H200)
 * and a TF32 fc1, as PyTorch's bf16 autocast; 2.8x faster on an H200, 5e-2
 * off on the reference's random weights (autocast: 7.7e-2). 0, or -1 for
 * another value (precision unchanged). Not during a forward call on the
 * same object. */
enum { VC_TNET_CUDA_EXACT = 0, VC_TNET_CUDA_BF16 = 1 };
int vc_tnet_cuda_set_precision(vc_tnet_cuda *c, int precision);
/* GPU time (ms) of the network in the last forward call, copies excluded. */
float vc_tnet_cuda_net_ms(const vc_tnet_cuda *c);
void vc_tnet_cuda_free(vc_tnet_cuda *c);

#ifdef __cplusplus
}
#endif

#endif
