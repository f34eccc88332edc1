/* Error checks shared by the CUDA sources (tnet_cuda.cu, t5_cuda.cu): a
 * failed CUDA or cuBLAS call writes "what failed, why, where" into the
 * caller's err/errlen and returns -1 from the enclosing function. */
#ifndef VC_NN_CUDA_CHECK_CUH
#define VC_NN_CUDA_CHECK_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdarg.h>
#include <stdio.h>

static inline void vc_cuda_seterr(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

#define CU(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            vc_cuda_seterr(err, errlen, "CUDA: %s: %s (%s:%d)", #call, cudaGetErrorString(e_),      \
                           __FILE__, __LINE__);                                                    \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
#define CB(call)                                                                                   \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                         \
            vc_cuda_seterr(err, errlen, "cuBLAS: %s: status %d (%s:%d)", #call, (int)s_, __FILE__, \
                           __LINE__);                                                              \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

#endif
