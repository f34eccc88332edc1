/* cuBLAS, opened on first use.
 *
 * Linking libcublas/libcublasLt (about 700 MB of shared objects) costs every
 * vcurate process ~210 MB of resident memory at start-up for their
 * relocations, GPU or not, which is more than a whole CPU split needs. The
 * CUDA code calls only the seven functions below; these definitions stand
 * in for them and forward to the real library, dlopen()ed the first time a
 * GPU path runs (found through the binary's rpath, LD_LIBRARY_PATH or the
 * system's library path). If it cannot be loaded, every call returns
 * CUBLAS_STATUS_NOT_INITIALIZED and vc_cublas_dl_error() says why. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include <cublas_v2.h>

#include "nn/cuda/cublas_dl.h"

static struct {
    cublasStatus_t (*create)(cublasHandle_t *);
    cublasStatus_t (*destroy)(cublasHandle_t);
    cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t);
    cublasStatus_t (*set_math_mode)(cublasHandle_t, cublasMath_t);
    cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                            const float *, const float *, int, const float *, int, const float *,
                            float *, int);
    cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                              const void *, const void *, cudaDataType, int, const void *, cudaDataType,
                              int, const void *, void *, cudaDataType, int, cublasComputeType_t,
                              cublasGemmAlgo_t);
    cublasStatus_t (*sgemm_strided)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                    const float *, const float *, int, long long, const float *, int,
                                    long long, const float *, float *, int, long long, int);
    int ok;
    char err[256];
} lib;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p && lib.err[0] == 0)
        snprintf(lib.err, sizeof lib.err, "cuBLAS has no %s", name);
    return p;
}

static void load(void)
{
    static const char *const names[] = { "libcublas.so.13", "libcublas.so.12", "libcublas.so" };
    void *h = NULL;
    for (size_t i = 0; !h && i < sizeof names / sizeof names[0]; i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(lib.err, sizeof lib.err, "cannot load cuBLAS (libcublas.so.13): %s", dlerror());
        return;
    }
    /* POSIX: function pointers travel through void * from dlsym. */
    *(void **)&lib.create = sym(h, "cublasCreate_v2");
    *(void **)&lib.destroy = sym(h, "cublasDestroy_v2");
    *(void **)&lib.set_stream = sym(h, "cublasSetStream_v2");
    *(void **)&lib.set_math_mode = sym(h, "cublasSetMathMode");
    *(void **)&lib.sgemm = sym(h, "cublasSgemm_v2");
    *(void **)&lib.gemm_ex = sym(h, "cublasGemmEx");
    *(void **)&lib.sgemm_strided = sym(h, "cublasSgemmStridedBatched");
    lib.ok = lib.err[0] == 0;
}

static int ready(void)
{
    pthread_once(&once, load);
    return lib.ok;
}

const char *vc_cublas_dl_error(void)
{
    return ready() ? NULL : lib.err;
}

cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t *handle)
{
    return ready() ? lib.create(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasDestroy_v2(cublasHandle_t handle)
{
    return ready() ? lib.destroy(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream)
{
    return ready() ? lib.set_stream(handle, stream) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    return ready() ? lib.set_math_mode(handle, mode) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb,
                                           int m, int n, int k, const float *alpha, const float *A, int lda,
                                           const float *B, int ldb, const float *beta, float *C, int ldc)
{
    return ready() ? lib.sgemm(handle, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
                   : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasGemmEx(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb,
                                         int m, int n, int k, const void *alpha, const void *A,
                                         cudaDataType at, int lda, const void *B, cudaDataType bt, int ldb,
                                         const void *beta, void *C, cudaDataType ct, int ldc,
                                         cublasComputeType_t compute, cublasGemmAlgo_t algo)
{
    return ready() ? lib.gemm_ex(handle, ta, tb, m, n, k, alpha, A, at, lda, B, bt, ldb, beta, C, ct, ldc,
                                 compute, algo)
                   : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t CUBLASWINAPI cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t ta,
                                                      cublasOperation_t tb, int m, int n, int k,
                                                      const float *alpha, const float *A, int lda,
                                                      long long sa, const float *B, int ldb, long long sb,
                                                      const float *beta, float *C, int ldc, long long sc,
                                                      int count)
{
    return ready() ? lib.sgemm_strided(handle, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc,
                                       sc, count)
                   : CUBLAS_STATUS_NOT_INITIALIZED;
}
