/* Everything `vcurate split` and `vcurate detect` are told on the command
 * line. Flag names and defaults follow Cosmos Curator (cosmos-curate.md §1). */
#ifndef VC_SPLIT_CONFIG_H
#define VC_SPLIT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "caption/config.h"
#include "detect/detector.h"
#include "video/clipwriter.h"

typedef enum {
    VC_SPLIT_TRANSNETV2,
    VC_SPLIT_FIXED_STRIDE,
    VC_SPLIT_CONTENT,
    VC_SPLIT_ADAPTIVE,
} vc_split_algo;

typedef struct vc_split_config {
    /* input / output */
    const char *input_video_path;
    const char *input_video_list_json_path;
    const char *output_clip_path;
    int64_t limit;               /* videos per run, 0 = all */
    int64_t limit_clips;         /* clips per video, 0 = all */
    bool upload_clips;           /* --no-upload-clips clears it */
    bool dry_run;
    bool generate_previews;
    bool verbose;
    const char *model_weights_path;

    /* splitting */
    vc_split_algo algo;
    double fixed_stride_split_duration;   /* s (Cosmos: int 10) */
    double fixed_stride_min_clip_length_s;
    double threshold;            /* transnetv2: 0.4; content/adaptive use detect params */
    const char *transnetv2_weights;  /* --transnetv2-weights FILE, else under model_weights_path */
    int tnet_compat;             /* vc_tnet_compat: Cosmos Curator (0) or reference TransNetV2 (1) */
    const char *device;          /* --device auto|cpu|cuda[:N] for the models */
    const char *nn_precision;    /* --nn-precision exact|bf16 (CUDA convolutions) */
    struct vc_tnet *tnet_model;  /* loaded at start-up by vc_split_load_models */
    double min_length_s;         /* 2.0 */
    int64_t min_length_frames;   /* 48 */
    double max_length_s;         /* 60.0 */
    bool max_length_truncate;    /* --transnetv2-max-length-mode truncate */
    double crop_s;               /* 0.5 */
    /* content / adaptive detectors (PySceneDetect defaults) */
    double content_threshold;    /* 27 */
    double adaptive_threshold;   /* 3.0 */
    double min_content_val;      /* 15 */
    int window_width;            /* 2 */
    int min_scene_len;           /* 15 frames */
    bool gradual;                /* find dissolves and fades */

    /* transcoding */
    vc_encoder_kind encoder;
    bool use_input_bit_rate;
    int encoder_threads;         /* --transcode-encoder-threads, 0 = auto */
    const char *x264_preset;
    int clip_re_chunk_size;      /* 32 -> chunks of 256 s */

    /* captioning (on by default, as in Cosmos Curator) */
    vc_caption_config caption;

    /* --generate-cosmos-predict-dataset predict2: per caption window an mp4,
     * its caption and the caption's T5 embedding (dataset/predict2.h) */
    bool predict2;
    int t5_batch;                /* captions per T5 forward pass (16, as Cosmos) */
    bool t5_tf32;                /* --t5-tf32: GPU TF32 matrix products */
    struct vc_t5_text *t5_model; /* loaded at start-up by vc_split_load_models */

    /* engine */
    int threads;                 /* CPU budget, 0 = all cores */
    int video_workers;           /* videos decoded at once */
    int encoders_per_video;      /* clips encoded at once per video */
    int decode_threads;          /* decoder threads per video, 0 = auto */
    bool progress;               /* live progress line (stderr is a terminal) */
} vc_split_config;

void vc_split_config_default(vc_split_config *c);
const char *vc_split_algo_name(vc_split_algo a);

/* Shot-rule lengths in frames for a video at fps, as Cosmos Curator computes
 * them: min = max(ceil(min_s*fps), min_frames), max = ceil(max_s*fps),
 * crop = int(crop_s*fps). */
typedef struct vc_clip_rules {
    int64_t min_len, max_len, crop;
    bool truncate;
} vc_clip_rules;
void vc_clip_rules_for(const vc_split_config *c, double fps, vc_clip_rules *r);

/* Detector parameters for the shot-based algorithm chosen. */
void vc_split_detect_params(const vc_split_config *c, vc_detect_params *p);

/* Loads the models the configuration needs (TransNetV2, T5 for predict2), once, before any
 * video is read; 0, or -1 after printing what is missing and how to get it. */
int vc_split_load_models(vc_split_config *c);
void vc_split_free_models(vc_split_config *c);

#endif
