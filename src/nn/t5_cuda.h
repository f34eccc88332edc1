/* The T5 encoder on a CUDA GPU (cuBLAS GEMMs + small kernels), same packed
 * batch layout and contract as the CPU path in t5.c. Built only where nvcc
 * is (bench/t5/gpu/build.sh for now); t5.c uses it when compiled with
 * VC_T5_HAVE_CUDA and vc_t5_opts.device >= 0. */
#ifndef VC_NN_T5_CUDA_H
#define VC_NN_T5_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* T5's relative position bucket (defined in t5.c, one rule for both). */
int vc_t5_rel_bucket(int rel, int num_buckets, int max_distance);

typedef struct vc_t5_cuda vc_t5_cuda;

typedef struct vc_t5_cuda_cfg {
    int64_t vocab_rows;
    int d_model, d_kv, heads, d_ff, layers, buckets, max_distance;
    float eps;
    int act;          /* 0 relu, 1 gelu (erf), 2 gelu_new */
    int gated;
    int precision;    /* 0 fp32 (no TF32), 1 TF32 tensor cores */
} vc_t5_cuda_cfg;

/* Host weights (float32, contiguous): embed [vocab_rows][d_model], rel_bias
 * [buckets][heads], per layer 9 pointers (ln0, q, k, v, o, ln1, wi, wi1 or
 * NULL, wo), final_ln. They are copied to the device. NULL + err on failure. */
vc_t5_cuda *vc_t5_cuda_new(const vc_t5_cuda_cfg *cfg, const float *embed, const float *rel_bias,
                           const float *const *layer_weights, const float *final_ln, int device, char *err,
                           size_t errlen);
/* out[i] gets lens[i] x d_model floats (host). 0 or -1 with err. */
int vc_t5_cuda_encode(vc_t5_cuda *c, int n, const int32_t *const *ids, const int *lens, float *const *out,
                      char *err, size_t errlen);
/* GPU milliseconds of the last encode (copies included). */
float vc_t5_cuda_last_ms(const vc_t5_cuda *c);
void vc_t5_cuda_free(vc_t5_cuda *c);

#ifdef __cplusplus
}
#endif

#endif
