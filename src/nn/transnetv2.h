/* TransNetV2 shot-transition network (soCzech/TransNetV2, PyTorch port),
 * inference only, on the CPU (OpenBLAS) or a CUDA GPU.
 *
 * Input: windows of VC_TNET_WINDOW frames, each frame 27x48 RGB24 (as
 * `ffmpeg -f rawvideo -pix_fmt rgb24 -s 48x27` makes them), windows packed
 * one after the other. Output: per frame of every window, the sigmoid of
 * both heads (single-frame "cut" probability and many-hot). Windowing a
 * video and turning probabilities into scenes is the caller's job
 * (detect/tnet_detector.c). */
#ifndef VC_NN_TRANSNETV2_H
#define VC_NN_TRANSNETV2_H

#include <stddef.h>
#include <stdint.h>

#include "nn/device.h"
#include "nn/tnet_params.h"

typedef struct vc_tnet vc_tnet;

/* Loads transnetv2-pytorch-weights.pth (or a safetensors file with the same
 * names), checks every tensor's name and shape, folds BatchNorm, and sets up
 * the backend. threads: CPU threads (0 = all cores). NULL + err on failure. */
vc_tnet *vc_tnet_load(const char *weights_path, vc_nn_device dev, int threads,
                      char *err, size_t errlen);
/* Arithmetic of the CUDA backend (--nn-precision exact|bf16). EXACT, the
 * default: bf16x3 convolutions and an fp32 head, within 1e-3 of the fp32
 * model (1.1e-4 observed). BF16: one bf16 tensor-core pass per convolution
 * and a TF32 fc1, as PyTorch's bf16 autocast: 1.8x faster, 4e-2 off on the
 * reference's random weights (autocast 7.7e-2). The CPU backend (and short
 * windows on CUDA) always run fp32 and ignore it. */
typedef enum { VC_TNET_PREC_EXACT = 0, VC_TNET_PREC_BF16 = 1 } vc_tnet_precision;
/* "exact" or "bf16" -> *p: 0, or -1 with a message naming the accepted values. */
int vc_tnet_precision_parse(const char *s, vc_tnet_precision *p, char *err, size_t errlen);
/* For the following forward calls (any time after vc_tnet_load): 0, or -1
 * with a message for an unknown value. */
int vc_tnet_set_precision(vc_tnet *m, vc_tnet_precision p, char *err, size_t errlen);
/* Windows run together per forward call, for the backend's efficiency.
 * Calls on one model are serialised (it keeps one workspace). */
int vc_tnet_batch_hint(const vc_tnet *m);
/* frames: nwin * VC_TNET_WINDOW * VC_TNET_FRAME_BYTES bytes;
 * single, many: nwin * VC_TNET_WINDOW floats each (many may be NULL). */
int vc_tnet_forward(vc_tnet *m, const uint8_t *frames, int nwin, float *single, float *many,
                    char *err, size_t errlen);
/* One window of nframes frames, 1..VC_TNET_WINDOW: the network is defined
 * for any length, and Cosmos Curator's windowing feeds it short tail windows
 * (cosmos-curate.md §2.2). single, many: nframes floats (many may be NULL).
 * Full windows go to the device's backend, short ones run on the CPU. */
int vc_tnet_forward_window(vc_tnet *m, const uint8_t *frames, int nframes, float *single,
                           float *many, char *err, size_t errlen);
vc_nn_device vc_tnet_device(const vc_tnet *m);
const vc_tnet_params *vc_tnet_params_of(const vc_tnet *m);
void vc_tnet_free(vc_tnet *m);

#endif
