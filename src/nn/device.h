/* Where a model runs: --device auto|cpu|cuda[:N]. */
#ifndef VC_NN_DEVICE_H
#define VC_NN_DEVICE_H

#include <stddef.h>

typedef enum { VC_DEV_AUTO, VC_DEV_CPU, VC_DEV_CUDA } vc_dev_kind;

typedef struct vc_nn_device {
    vc_dev_kind kind;
    int index;          /* CUDA device ordinal (cuda:N), 0 by default */
} vc_nn_device;

/* 0, or -1 with a message naming the accepted forms. */
int vc_nn_device_parse(const char *s, vc_nn_device *d, char *err, size_t errlen);
/* CUDA devices usable now (0 when built without CUDA or no driver/GPU). */
int vc_nn_cuda_device_count(void);
/* Resolves AUTO to CUDA:0 when a GPU is usable, else CPU. */
vc_nn_device vc_nn_device_resolve(vc_nn_device d);
const char *vc_nn_device_name(vc_nn_device d, char *buf, size_t len);   /* "cpu", "cuda:0" */

#endif
