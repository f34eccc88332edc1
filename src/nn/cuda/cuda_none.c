/* CUDA backend stand-in for builds without nvcc (or -Dcuda=disabled): no
 * devices, and every attempt to use one says why. */
#include <stdio.h>

#include "nn/cuda/tnet_cuda.h"

int vc_cuda_device_count(void)
{
    return 0;
}

vc_tnet_cuda *vc_tnet_cuda_new(const vc_tnet_params *p, int device, int max_windows, char *err, size_t errlen)
{
    (void)p;
    (void)device;
    (void)max_windows;
    if (err && errlen) snprintf(err, errlen, "built without CUDA");
    return NULL;
}

int vc_tnet_cuda_forward(vc_tnet_cuda *c, const uint8_t *frames, int nwin, float *single, float *many, char *err,
                         size_t errlen)
{
    (void)c;
    (void)frames;
    (void)nwin;
    (void)single;
    (void)many;
    if (err && errlen) snprintf(err, errlen, "built without CUDA");
    return -1;
}

int vc_tnet_cuda_set_precision(vc_tnet_cuda *c, int precision)
{
    (void)c;
    (void)precision;
    return -1;
}

float vc_tnet_cuda_net_ms(const vc_tnet_cuda *c)
{
    (void)c;
    return 0.f;
}

void vc_tnet_cuda_free(vc_tnet_cuda *c)
{
    (void)c;
}
