/* TransNetV2 on the CPU runtime (OpenBLAS + our thread pool), from the
 * folded weights. */
#ifndef VC_NN_CPU_TNET_CPU_H
#define VC_NN_CPU_TNET_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "nn/tnet_params.h"

typedef struct vc_tnet_cpu vc_tnet_cpu;

/* Repacks the weights for the CPU kernels (p is not kept) and starts
 * `threads` threads (0 = all cores). NULL + err on failure. */
vc_tnet_cpu *vc_tnet_cpu_new(const vc_tnet_params *p, int threads, char *err, size_t errlen);
/* One window of nframes frames (1..VC_TNET_WINDOW; the network is defined
 * for any length, and Cosmos Curator feeds it short tail windows):
 * sigmoid of both heads per frame into single[nframes] and, if not NULL,
 * many[nframes]. One call at a time per model. 0, or -1 + err. */
int vc_tnet_cpu_forward(vc_tnet_cpu *c, const uint8_t *frames, int nframes, float *single,
                        float *many, char *err, size_t errlen);
void vc_tnet_cpu_free(vc_tnet_cpu *c);

#endif
