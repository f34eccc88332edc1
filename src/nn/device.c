#include "nn/device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VC_NN_HAVE_CUDA_LIB
#include "nn/cuda/tnet_cuda.h"
#endif

int vc_nn_device_parse(const char *s, vc_nn_device *d, char *err, size_t errlen)
{
    *d = (vc_nn_device){VC_DEV_AUTO, 0};
    if (s && strcmp(s, "auto") == 0)
        return 0;
    if (s && strcmp(s, "cpu") == 0) {
        d->kind = VC_DEV_CPU;
        return 0;
    }
    if (s && strcmp(s, "cuda") == 0) {
        d->kind = VC_DEV_CUDA;
        return 0;
    }
    if (s && strncmp(s, "cuda:", 5) == 0 && s[5] >= '0' && s[5] <= '9') {
        char *end;
        errno = 0;
        long n = strtol(s + 5, &end, 10);
        if (*end == '\0' && errno == 0 && n <= 1024) {
            d->kind = VC_DEV_CUDA;
            d->index = (int)n;
            return 0;
        }
    }
    snprintf(err, errlen, "invalid device '%s': expected auto, cpu, cuda or cuda:N", s ? s : "");
    return -1;
}

int vc_nn_cuda_device_count(void)
{
#ifdef VC_NN_HAVE_CUDA_LIB
    int n = vc_cuda_device_count();
    return n > 0 ? n : 0;
#else
    return 0;
#endif
}

vc_nn_device vc_nn_device_resolve(vc_nn_device d)
{
    if (d.kind != VC_DEV_AUTO)
        return d;
    if (vc_nn_cuda_device_count() > 0)
        return (vc_nn_device){VC_DEV_CUDA, 0};
    return (vc_nn_device){VC_DEV_CPU, 0};
}

const char *vc_nn_device_name(vc_nn_device d, char *buf, size_t len)
{
    switch (d.kind) {
    case VC_DEV_AUTO:
        snprintf(buf, len, "auto");
        break;
    case VC_DEV_CPU:
        snprintf(buf, len, "cpu");
        break;
    case VC_DEV_CUDA:
        snprintf(buf, len, "cuda:%d", d.index);
        break;
    }
    return buf;
}
