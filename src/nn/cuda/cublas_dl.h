/* cuBLAS is dlopen()ed on first use (cublas_dl.c): NULL when it loaded,
 * else why it could not be. */
#ifndef VC_NN_CUDA_CUBLAS_DL_H
#define VC_NN_CUDA_CUBLAS_DL_H

#ifdef __cplusplus
extern "C" {
#endif

const char *vc_cublas_dl_error(void);

#ifdef __cplusplus
}
#endif

#endif
