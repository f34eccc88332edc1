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
/* Windows run together per forward call, for the backend's efficiency. */
int vc_tnet_batch_hint(const vc_tnet *m);
/* frames: nwin * VC_TNET_WINDOW * VC_TNET_FRAME_BYTES bytes;
 * single, many: nwin * VC_TNET_WINDOW floats each (many may be NULL). */
int vc_tnet_forward(vc_tnet *m, const uint8_t *frames, int nwin, float *single, float *many,
                    char *err, size_t errlen);
vc_nn_device vc_tnet_device(const vc_tnet *m);
const vc_tnet_params *vc_tnet_params_of(const vc_tnet *m);
void vc_tnet_free(vc_tnet *m);

#endif
