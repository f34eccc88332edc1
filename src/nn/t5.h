/* The T5 text encoder (google-t5/t5-11b for Cosmos Predict 2 caption
 * embeddings), on the CPU runtime in fp32.
 *
 * Sizes come from the folder's config.json (d_model, d_kv, num_heads, d_ff,
 * num_layers, vocab_size, relative_attention_num_buckets,
 * relative_attention_max_distance, layer_norm_epsilon, feed_forward_proj),
 * so any T5 / T5 v1.1 configuration works; t5-11b is 1024 wide, 24 layers,
 * 128 heads of 128, ReLU feed-forward of 65536.
 *
 * Weights: the Hugging Face folder as published or as `vcurate models
 * download --encoder-only` leaves it. Only `encoder.*` and `shared.weight`
 * are asked of the checkpoint reader, which maps the file and touches the
 * tensors it is asked for, so the decoder half of pytorch_model.bin is never
 * read. float32 tensors stored contiguously are used in place (the page
 * cache holds them, no copy); other dtypes are converted once at open.
 *
 * The forward pass is HF's T5EncoderModel in eval mode: embedding lookup, per
 * layer x += o(attn(rms(x))) with an unscaled dot product plus the layer-0
 * relative position bias (bidirectional buckets), x += wo(act(wi(rms(x)))),
 * then the final RMS norm. A batch is packed without padding; results equal
 * a right-padded batch with its attention mask at the real positions. */
#ifndef VC_NN_T5_H
#define VC_NN_T5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vc_t5_config {
    int vocab_size, d_model, d_kv, num_heads, d_ff, num_layers;
    int rel_buckets, rel_max_distance;
    float eps;
    bool gated;                 /* feed_forward_proj "gated-*" (T5 v1.1) */
    char act[16];               /* "relu", "gelu", "gelu_new" */
} vc_t5_config;

typedef struct vc_t5_opts {
    const char *checkpoint;     /* NULL: the first present in the folder of
                                   encoder.safetensors, pytorch_model.bin.reduced,
                                   model.safetensors.index.json, model.safetensors,
                                   pytorch_model.bin.index.json, pytorch_model.bin */
    int threads;                /* 0: all cores this process may use */
    bool cuda;                  /* run on the GPU (needs a build with VC_T5_HAVE_CUDA) */
    int cuda_device;            /* its ordinal */
    bool tf32;                  /* GPU: TF32 tensor cores for the GEMMs (else plain fp32) */
} vc_t5_opts;

typedef struct vc_t5 vc_t5;

/* Reads folder/config.json and the checkpoint's encoder tensors (checking
 * every name and shape). NULL with a message in err on failure. */
vc_t5 *vc_t5_open(const char *folder, const vc_t5_opts *opts, char *err, size_t errlen);
void vc_t5_close(vc_t5 *m);   /* NULL is fine */

/* Whether this build has the CUDA encoder (vc_t5_opts.cuda). */
bool vc_t5_has_cuda(void);

const vc_t5_config *vc_t5_config_of(const vc_t5 *m);
const char *vc_t5_checkpoint_path(const vc_t5 *m);
/* Names of the tensors asked of the checkpoint, in order (for tests). */
size_t vc_t5_tensors_read(const vc_t5 *m, const char *const **names);

/* Encodes n token sequences: ids[i] holds lens[i] ids (1..VC_T5_MAX_SEQ),
 * out[i] receives lens[i] x d_model floats (last_hidden_state of the real
 * tokens). Returns 0, or -1 with a message (bad id or length, out of memory). */
#define VC_T5_MAX_SEQ 4096
int vc_t5_encode(vc_t5 *m, int n, const int32_t *const *ids, const int *lens, float *const *out,
                 char *err, size_t errlen);

/* The padded form as transformers takes it: ids and mask are [n][pad_len]
 * with mask 1 on a prefix of each row (right padding); out is
 * [n][pad_len][d_model] with the padded rows zeroed (as Cosmos Curator
 * zeroes them). Returns 0 or -1 with a message. */
int vc_t5_encode_padded(vc_t5 *m, int n, int pad_len, const int32_t *ids, const int32_t *mask,
                        float *out, char *err, size_t errlen);

/* float32 -> IEEE half, round to nearest even (numpy's astype(float16)). */
uint16_t vc_f32_to_f16(float f);

#endif
