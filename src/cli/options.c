#include "cli/options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect/tnet_detector.h"
#include "models/models.h"
#include "nn/device.h"
#include "nn/transnetv2.h"
#include "storage/fs.h"
#include "storage/s3.h"
#include "util/common.h"
#include "util/log.h"

enum {
    O_INPUT = 1000, O_LIST, O_OUTPUT, O_LIMIT, O_LIMIT_CLIPS, O_ALGO, O_STRIDE, O_STRIDE_MIN,
    O_THRESH, O_MIN_S, O_MIN_FRAMES, O_MAX_S, O_MAX_MODE, O_CROP, O_CONTENT_T, O_ADAPTIVE_T,
    O_MIN_CONTENT, O_WINDOW, O_MIN_SCENE, O_NO_GRADUAL, O_ENCODER, O_INPUT_BR, O_ENC_THREADS,
    O_PRESET, O_CHUNK, O_NO_UPLOAD, O_DRY, O_PREVIEWS, O_VERBOSE, O_THREADS, O_VIDEO_WORKERS,
    O_ENCODERS, O_DEC_THREADS, O_WEIGHTS, O_PROGRESS, O_NO_PROGRESS, O_NO_CAPTIONS, O_NO_EMBED,
    O_DEVICE, O_NN_PREC, O_TNET_WEIGHTS, O_TNET_COMPAT, O_PREDICTIONS, O_HELP, O_NOT_YET,
    O_IN_PROFILE, O_OUT_PROFILE, O_P2, O_T5_BATCH, O_T5_TF32,
    O_CAPTIONS, O_CAP_ALGO, O_CAP_ENDPOINT, O_CAP_MODEL, O_CAP_KEY_ENV, O_CAP_KEY_FILE, O_CAP_KEY_REFUSED,
    O_CAP_SERVER, O_CAP_FRAMES, O_CAP_WINDOW, O_CAP_REMAINDER, O_CAP_FPS, O_CAP_VARIANT, O_CAP_TEXT,
    O_CAP_MAX_TOKENS, O_CAP_TEMP, O_CAP_TOP_P, O_CAP_TOP_K, O_CAP_REP, O_CAP_PRES, O_CAP_FREQ, O_CAP_MIN_P,
    O_CAP_MIN_TOKENS, O_CAP_JPEG_Q, O_CAP_CONCURRENT, O_CAP_TIMEOUT, O_CAP_RETRIES, O_CAP_RETRY_DELAY,
    O_STAGE2, O_STAGE2_TEXT, O_ENHANCE, O_ENH_VARIANT, O_ENH_PROMPT_VARIANT, O_ENH_TEXT, O_ENH_MAX_TOKENS,
    O_ENH_ENDPOINT, O_ENH_MODEL,
};

static const char *in_profile, *out_profile;   /* --input/--output-s3-profile-name */

static const struct option long_opts[] = {
    { "input-video-path", required_argument, 0, O_INPUT },
    { "input-video-list-json-path", required_argument, 0, O_LIST },
    { "output-clip-path", required_argument, 0, O_OUTPUT },
    { "limit", required_argument, 0, O_LIMIT },
    { "limit-clips", required_argument, 0, O_LIMIT_CLIPS },
    { "splitting-algorithm", required_argument, 0, O_ALGO },
    { "fixed-stride-split-duration", required_argument, 0, O_STRIDE },
    { "fixed-stride-min-clip-length-s", required_argument, 0, O_STRIDE_MIN },
    { "transnetv2-threshold", required_argument, 0, O_THRESH },
    { "transnetv2-min-length-s", required_argument, 0, O_MIN_S },
    { "transnetv2-min-length-frames", required_argument, 0, O_MIN_FRAMES },
    { "transnetv2-max-length-s", required_argument, 0, O_MAX_S },
    { "transnetv2-max-length-mode", required_argument, 0, O_MAX_MODE },
    { "transnetv2-crop-s", required_argument, 0, O_CROP },
    { "content-threshold", required_argument, 0, O_CONTENT_T },
    { "adaptive-threshold", required_argument, 0, O_ADAPTIVE_T },
    { "min-content-val", required_argument, 0, O_MIN_CONTENT },
    { "adaptive-window-width", required_argument, 0, O_WINDOW },
    { "min-scene-len", required_argument, 0, O_MIN_SCENE },
    { "no-gradual-transitions", no_argument, 0, O_NO_GRADUAL },
    { "transcode-encoder", required_argument, 0, O_ENCODER },
    { "transcode-use-input-video-bit-rate", no_argument, 0, O_INPUT_BR },
    { "transcode-encoder-threads", required_argument, 0, O_ENC_THREADS },
    { "transcode-x264-preset", required_argument, 0, O_PRESET },
    { "clip-re-chunk-size", required_argument, 0, O_CHUNK },
    { "no-upload-clips", no_argument, 0, O_NO_UPLOAD },
    { "dry-run", no_argument, 0, O_DRY },
    { "generate-previews", no_argument, 0, O_PREVIEWS },
    { "verbose", no_argument, 0, O_VERBOSE },
    { "threads", required_argument, 0, O_THREADS },
    { "num-video-workers", required_argument, 0, O_VIDEO_WORKERS },
    { "num-encoders-per-video", required_argument, 0, O_ENCODERS },
    { "decode-threads", required_argument, 0, O_DEC_THREADS },
    { "model-weights-path", required_argument, 0, O_WEIGHTS },
    { "progress", no_argument, 0, O_PROGRESS },
    { "no-progress", no_argument, 0, O_NO_PROGRESS },
    { "no-generate-captions", no_argument, 0, O_NO_CAPTIONS },
    { "no-generate-embeddings", no_argument, 0, O_NO_EMBED },
    { "device", required_argument, 0, O_DEVICE },
    { "nn-precision", required_argument, 0, O_NN_PREC },
    { "transnetv2-weights", required_argument, 0, O_TNET_WEIGHTS },
    { "transnetv2-compat", required_argument, 0, O_TNET_COMPAT },
    { "predictions", required_argument, 0, O_PREDICTIONS },
    { "help", no_argument, 0, O_HELP },
    { "generate-captions", no_argument, 0, O_CAPTIONS },
    { "captioning-algorithm", required_argument, 0, O_CAP_ALGO },
    { "captioning-endpoint", required_argument, 0, O_CAP_ENDPOINT },
    { "captioning-model", required_argument, 0, O_CAP_MODEL },
    { "openai-model-name", required_argument, 0, O_CAP_MODEL },
    { "captioning-api-key-env", required_argument, 0, O_CAP_KEY_ENV },
    { "captioning-api-key-file", required_argument, 0, O_CAP_KEY_FILE },
    { "captioning-api-key", required_argument, 0, O_CAP_KEY_REFUSED },
    { "captioning-server", required_argument, 0, O_CAP_SERVER },
    { "captioning-frames", required_argument, 0, O_CAP_FRAMES },
    { "captioning-window-size", required_argument, 0, O_CAP_WINDOW },
    { "captioning-remainder-threshold", required_argument, 0, O_CAP_REMAINDER },
    { "captioning-sampling-fps", required_argument, 0, O_CAP_FPS },
    { "captioning-prompt-variant", required_argument, 0, O_CAP_VARIANT },
    { "captioning-prompt-text", required_argument, 0, O_CAP_TEXT },
    { "captioning-max-output-tokens", required_argument, 0, O_CAP_MAX_TOKENS },
    { "vllm-sampling-temperature", required_argument, 0, O_CAP_TEMP },
    { "vllm-sampling-top-p", required_argument, 0, O_CAP_TOP_P },
    { "vllm-sampling-top-k", required_argument, 0, O_CAP_TOP_K },
    { "vllm-sampling-repetition-penalty", required_argument, 0, O_CAP_REP },
    { "vllm-sampling-presence-penalty", required_argument, 0, O_CAP_PRES },
    { "vllm-sampling-frequency-penalty", required_argument, 0, O_CAP_FREQ },
    { "vllm-sampling-min-p", required_argument, 0, O_CAP_MIN_P },
    { "vllm-sampling-min-tokens", required_argument, 0, O_CAP_MIN_TOKENS },
    { "captioning-jpeg-quality", required_argument, 0, O_CAP_JPEG_Q },
    { "captioning-max-concurrent-requests", required_argument, 0, O_CAP_CONCURRENT },
    { "captioning-request-timeout-s", required_argument, 0, O_CAP_TIMEOUT },
    { "captioning-max-retries", required_argument, 0, O_CAP_RETRIES },
    { "openai-caption-retries", required_argument, 0, O_CAP_RETRIES },
    { "captioning-retry-delay-s", required_argument, 0, O_CAP_RETRY_DELAY },
    { "openai-retry-delay-seconds", required_argument, 0, O_CAP_RETRY_DELAY },
    { "qwen-stage2-caption", no_argument, 0, O_STAGE2 },
    { "qwen-stage2-prompt-text", required_argument, 0, O_STAGE2_TEXT },
    { "enhance-captions", no_argument, 0, O_ENHANCE },
    { "enhance-captions-lm-variant", required_argument, 0, O_ENH_VARIANT },
    { "enhance-captions-prompt-variant", required_argument, 0, O_ENH_PROMPT_VARIANT },
    { "enhance-captions-prompt-text", required_argument, 0, O_ENH_TEXT },
    { "enhance-captions-max-output-tokens", required_argument, 0, O_ENH_MAX_TOKENS },
    { "enhance-captions-endpoint", required_argument, 0, O_ENH_ENDPOINT },
    { "enhance-captions-openai-model", required_argument, 0, O_ENH_MODEL },
    /* Cosmos Curator flags whose features are not built yet: refused, never ignored. */
    { "generate-cosmos-predict-dataset", required_argument, 0, O_P2 },
    { "t5-batch-size", required_argument, 0, O_T5_BATCH },
    { "t5-tf32", no_argument, 0, O_T5_TF32 },
    { "embedding-algorithm", required_argument, 0, O_NOT_YET },
    { "motion-filter", required_argument, 0, O_NOT_YET },
    { "aesthetic-threshold", required_argument, 0, O_NOT_YET },
    { "upload-clip-info-in-chunks", no_argument, 0, O_NOT_YET },
    { "upload-clip-info-in-lance", no_argument, 0, O_NOT_YET },
    { "upload-cds-parquet", no_argument, 0, O_NOT_YET },
    { "input-s3-profile-name", required_argument, 0, O_IN_PROFILE },
    { "output-s3-profile-name", required_argument, 0, O_OUT_PROFILE },
    { "multi-cam", no_argument, 0, O_NOT_YET },
    { "transcode-max-output-frames", required_argument, 0, O_NOT_YET },
    { 0, 0, 0, 0 },
};

static const char *not_yet_reason(const char *flag)
{
    if (!strcmp(flag, "embedding-algorithm"))
        return "clip embeddings are not built yet; embeddings are off in this version";
    if (!strcmp(flag, "motion-filter") || !strcmp(flag, "aesthetic-threshold"))
        return "the motion and aesthetic filters are not built yet";
    return "this feature is not built yet";
}

static const char split_help[] =
"Usage: vcurate split --input-video-path PATH --output-clip-path DIR [options]\n"
"\n"
"Cut raw videos into single-shot H.264 clips with Cosmos Curator's output layout\n"
"(clips/, metas/v0/, processed_videos/, processed_clip_chunks/, video_errors/,\n"
"summary.json, previews/). Each video is decoded once; a rerun resumes.\n"
"\n"
"Input / output:\n"
"  --input-video-path PATH         folder (searched recursively, every file) or one video file\n"
"  --input-video-list-json-path F  JSON array of video paths, each under --input-video-path\n"
"  --output-clip-path DIR          output root (created)\n"
"                                  (every path may be s3://bucket/prefix: see README \"S3\")\n"
"  --input-s3-profile-name P       ~/.aws/credentials profile for the input (default: $AWS_PROFILE or default)\n"
"  --output-s3-profile-name P      profile for the output\n"
"  --limit N                       process at most N not-yet-processed videos (0 = all)\n"
"  --limit-clips N                 at most N clips per video (0 = all)\n"
"  --no-upload-clips               do not write clips/*.mp4 (metadata still written)\n"
"  --dry-run                       decode and detect only; write just the processed records\n"
"  --generate-previews             animated WebP per caption window: previews/{uuid}/{s}_{e}.webp\n"
"  --model-weights-path DIR        model folder in Hugging Face layout (default $VCURATE_MODEL_DIR\n"
"                                  or ~/.cache/vcurate/models)\n"
"  --generate-cosmos-predict-dataset predict2  also write the Cosmos Predict 2 Video2World\n"
"                                  post-training set: cosmos_predict2_video2world_dataset/\n"
"                                  {videos,metas,t5_xxl}/{uuid}_{start}_{end}.{mp4,txt,pickle} per\n"
"                                  caption window (needs captions and the T5 encoder google-t5/t5-11b\n"
"                                  under --model-weights-path: vcurate models download --models t5_xxl\n"
"                                  --encoder-only); Predict 2 needs > 93 frames per window\n"
"  --t5-batch-size N               captions per T5 forward pass (16)\n"
"  --t5-tf32                       GPU: TF32 tensor cores for T5's matrix products (faster, ~1e-3)\n"
"\n"
"Splitting:\n"
"  --splitting-algorithm A         transnetv2 (default; needs weights) | fixed-stride | content | adaptive\n"
"  --fixed-stride-split-duration S clip length and stride, seconds (10)\n"
"  --fixed-stride-min-clip-length-s S  drop a trailing span shorter than this (2.0)\n"
"  --transnetv2-threshold P        TransNetV2 transition probability threshold (0.4)\n"
"  --transnetv2-weights FILE       TransNetV2 weights (.pth or .safetensors); default\n"
"                                  DIR/Sn4kehead/TransNetV2/transnetv2-pytorch-weights.pth under\n"
"                                  --model-weights-path\n"
"  --transnetv2-compat M           cosmos (default: Cosmos Curator's windows and scene rule, so\n"
"                                  clips and UUIDs match) | reference (TransNetV2's own)\n"
"  --device D                      where models run: auto (default: first GPU, else CPU) | cpu | cuda[:N]\n"
"  --nn-precision P                GPU convolutions: exact (default; within 1e-4 of fp32) | bf16\n"
"                                  (1.8x faster, errors like PyTorch's bf16 autocast)\n"
"  Shot rules, applied to every shot-based detector (transnetv2, content, adaptive):\n"
"  --transnetv2-min-length-s S     minimum clip length, seconds (2.0)\n"
"  --transnetv2-min-length-frames N  minimum clip length, frames (48); the larger wins\n"
"  --transnetv2-max-length-s S     maximum clip length, seconds (60.0)\n"
"  --transnetv2-max-length-mode M  stride (cut long shots into pieces) | truncate (keep the first)\n"
"  --transnetv2-crop-s S           trim this much from both ends of every clip (0.5)\n"
"  content / adaptive detectors (PySceneDetect's algorithms, plus dissolve and fade detection):\n"
"  --content-threshold T           ContentDetector threshold (27)\n"
"  --adaptive-threshold T          AdaptiveDetector ratio threshold (3.0)\n"
"  --min-content-val V             AdaptiveDetector minimum content value (15)\n"
"  --adaptive-window-width N       AdaptiveDetector window (2)\n"
"  --min-scene-len N               detector's minimum frames between cuts (15)\n"
"  --no-gradual-transitions        detect hard cuts only\n"
"\n"
"Transcoding:\n"
"  --transcode-encoder E           libopenh264 (default) | libx264 | h264_nvenc\n"
"  --transcode-use-input-video-bit-rate  source bitrate instead of 4 Mb/s\n"
"  --transcode-encoder-threads N   threads per clip encoder (0 = share the cores)\n"
"  --transcode-x264-preset P       libx264 preset (veryfast)\n"
"  --clip-re-chunk-size N          chunk records close at N*8 s of clips (32)\n"
"\n"
"Engine:\n"
"  --threads N                     CPU cores to use (0 = all)\n"
"  --num-video-workers N           videos decoded at once (default: cores/4, at least 1)\n"
"  --num-encoders-per-video N      clips of one video encoded at once (2)\n"
"  --decode-threads N              decoder threads per video (0 = auto)\n"
"  --progress / --no-progress      force the live progress line on or off (default: on a terminal)\n"
"  --verbose                       debug logging\n"
"  --no-generate-embeddings        accepted for Cosmos compatibility (embeddings are not built yet)\n"
"\n"
"Captioning (on by default, as in Cosmos Curator; needs an OpenAI-compatible VLM server):\n"
"  --no-generate-captions          no captions (then no endpoint is needed)\n"
"  --captioning-endpoint URL       server base URL, .../v1 or .../v1/chat/completions\n"
"  --captioning-algorithm A        qwen (default, Qwen2.5-VL) | cosmos_r1 (Cosmos-Reason1: system\n"
"                                  prompt, <answer> extraction) | openai (any other model)\n"
"  --captioning-model NAME         model name sent (default: Qwen/Qwen2.5-VL-7B-Instruct,\n"
"                                  nvidia/Cosmos-Reason1-7B; required for openai)\n"
"  --captioning-server S           vllm (default) | sglang | llama-server | nim | openai: the sampling\n"
"                                  fields sent and how frames are sent\n"
"  --captioning-frames F           video (one data:video/jpeg URL, vLLM) | images (image_url parts);\n"
"                                  default: video for vllm, images otherwise\n"
"  --captioning-api-key-env VAR    API key from $VAR (default $VCURATE_CAPTIONING_API_KEY, then\n"
"                                  $OPENAI_API_KEY); --captioning-api-key-file F reads it from F\n"
"  --captioning-window-size N      frames per caption window (256)\n"
"  --captioning-remainder-threshold N  leftover frames that get their own window (128)\n"
"  --captioning-sampling-fps F     frames sampled per second of window (2.0)\n"
"  --captioning-prompt-variant V   default | av | av-surveillance; --captioning-prompt-text T overrides\n"
"  --captioning-max-output-tokens N  max_tokens (8192; < 0 unlimited)\n"
"  --vllm-sampling-{temperature,top-p,top-k,repetition-penalty,presence-penalty,frequency-penalty,\n"
"    min-p,min-tokens} X           sampling (0.1, 0.001, 0, 1.05, 0, 0, 0, 16)\n"
"  --captioning-max-concurrent-requests N  requests in flight (32)\n"
"  --captioning-request-timeout-s S  per attempt (300); --captioning-max-retries N (3);\n"
"  --captioning-retry-delay-s S    first backoff, doubled each retry, Retry-After honoured (1.0)\n"
"  --captioning-jpeg-quality Q     JPEG quality of the frames sent (90)\n"
"  --qwen-stage2-caption           refine pass: the refine prompt + the first caption, same frames;\n"
"                                  --qwen-stage2-prompt-text T replaces the refine prompt\n"
"  --enhance-captions              rewrite each caption with a text LLM (chat endpoint)\n"
"  --enhance-captions-lm-variant V qwen_lm (default) | gpt_oss_20b | openai: the metas key prefix\n"
"  --enhance-captions-prompt-variant V  default | av-surveillance; --enhance-captions-prompt-text T\n"
"  --enhance-captions-max-output-tokens N  (2048)\n"
"  --enhance-captions-endpoint URL (default: the captioning endpoint)\n"
"  --enhance-captions-openai-model NAME  (default Qwen/Qwen2.5-14B-Instruct for qwen_lm)\n"
"\n"
"Exit status: 0 all videos done, 1 some videos failed (see video_errors/),\n"
"2 usage error (nothing written), 3 cannot read input / write output, 130 interrupted.\n";

static const char detect_help[] =
"Usage: vcurate detect VIDEO [options]\n"
"\n"
"Print the shots of one video as JSON: the transitions found (hard cuts, and\n"
"dissolves/fades as frame ranges), the scenes between them, and the clips that\n"
"split would cut after its length and crop rules.\n"
"\n"
"Options: --splitting-algorithm content|adaptive|transnetv2 (default content), the\n"
"detector, model and shot-rule options of `vcurate split` (see vcurate split --help:\n"
"--transnetv2-threshold, --transnetv2-weights, --transnetv2-compat, --model-weights-path,\n"
"--device, ...), and\n"
"  --predictions FILE   transnetv2: write per-frame probabilities, one frame a line:\n"
"                       \"single_frame many_hot\" (as TransNetV2's own tool writes them)\n"
"  --decode-threads N   decoder threads (0 = auto)\n"
"  --threads N          CPU threads for the model (0 = all cores)\n"
"\n"
"Exit status: 0 success, 1 the video cannot be read or decoded, 2 usage error,\n"
"130 interrupted (nothing printed or written).\n";

static int bad(const char *flag, const char *val, const char *why)
{
    fprintf(stderr, "vcurate: --%s %s: %s\n", flag, val, why);
    return VC_OPTS_USAGE;
}

static int num(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return bad(flag, s, "not a number");
    if (v < lo || v > hi) {
        char why[96];
        snprintf(why, sizeof why, "must be between %g and %g", lo, hi);
        return bad(flag, s, why);
    }
    *out = v;
    return 0;
}

static int integer(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return bad(flag, s, "not an integer");
    if (v < lo || v > hi) {
        char why[96];
        snprintf(why, sizeof why, "must be between %lld and %lld", (long long)lo, (long long)hi);
        return bad(flag, s, why);
    }
    *out = v;
    return 0;
}

const char *vc_detect_predictions_path;

static int parse_algo(const char *s, vc_split_config *cfg)
{
    if (!strcmp(s, "transnetv2"))
        cfg->algo = VC_SPLIT_TRANSNETV2;
    else if (!strcmp(s, "fixed-stride"))
        cfg->algo = VC_SPLIT_FIXED_STRIDE;
    else if (!strcmp(s, "content"))
        cfg->algo = VC_SPLIT_CONTENT;
    else if (!strcmp(s, "adaptive"))
        cfg->algo = VC_SPLIT_ADAPTIVE;
    else
        return bad("splitting-algorithm", s, "expected transnetv2, fixed-stride, content or adaptive");
    return 0;
}

/* One option; returns 0 or a VC_OPTS_* code. */
static int apply(int c, const char *name, const char *arg, vc_split_config *cfg, bool detect)
{
    double d;
    int64_t i;
    int rc = 0;
    switch (c) {
    case O_INPUT: cfg->input_video_path = arg; break;
    case O_LIST: cfg->input_video_list_json_path = arg; break;
    case O_OUTPUT: cfg->output_clip_path = arg; break;
    case O_LIMIT: if (!(rc = integer(name, arg, 0, INT64_MAX, &i))) cfg->limit = i; break;
    case O_LIMIT_CLIPS: if (!(rc = integer(name, arg, 0, INT64_MAX, &i))) cfg->limit_clips = i; break;
    case O_ALGO: rc = parse_algo(arg, cfg); break;
    case O_STRIDE: if (!(rc = num(name, arg, 0.01, 1e7, &d))) cfg->fixed_stride_split_duration = d; break;
    case O_STRIDE_MIN: if (!(rc = num(name, arg, 0, 1e7, &d))) cfg->fixed_stride_min_clip_length_s = d; break;
    case O_THRESH: if (!(rc = num(name, arg, 0, 1, &d))) cfg->threshold = d; break;
    case O_MIN_S: if (!(rc = num(name, arg, 0, 1e7, &d))) cfg->min_length_s = d; break;
    case O_MIN_FRAMES: if (!(rc = integer(name, arg, 0, INT32_MAX, &i))) cfg->min_length_frames = i; break;
    case O_MAX_S: if (!(rc = num(name, arg, 0, 1e9, &d))) cfg->max_length_s = d; break;
    case O_MAX_MODE:
        if (!strcmp(arg, "stride") || !strcmp(arg, "truncate"))
            cfg->max_length_truncate = !strcmp(arg, "truncate");
        else
            rc = bad(name, arg, "expected stride or truncate");
        break;
    case O_CROP: if (!(rc = num(name, arg, 0, 1e6, &d))) cfg->crop_s = d; break;
    case O_CONTENT_T: if (!(rc = num(name, arg, 0, 255, &d))) cfg->content_threshold = d; break;
    case O_ADAPTIVE_T: if (!(rc = num(name, arg, 0, 255, &d))) cfg->adaptive_threshold = d; break;
    case O_MIN_CONTENT: if (!(rc = num(name, arg, 0, 255, &d))) cfg->min_content_val = d; break;
    case O_WINDOW: if (!(rc = integer(name, arg, 1, 64, &i))) cfg->window_width = (int)i; break;
    case O_MIN_SCENE: if (!(rc = integer(name, arg, 0, 100000, &i))) cfg->min_scene_len = (int)i; break;
    case O_NO_GRADUAL: cfg->gradual = false; break;
    case O_ENCODER:
        if (vc_encoder_parse(arg, &cfg->encoder) < 0)
            rc = bad(name, arg, "expected libopenh264, libx264 or h264_nvenc");
        break;
    case O_INPUT_BR: cfg->use_input_bit_rate = true; break;
    case O_ENC_THREADS: if (!(rc = integer(name, arg, 0, 256, &i))) cfg->encoder_threads = (int)i; break;
    case O_PRESET: cfg->x264_preset = arg; break;
    case O_CHUNK: if (!(rc = integer(name, arg, 1, 1 << 20, &i))) cfg->clip_re_chunk_size = (int)i; break;
    case O_NO_UPLOAD: cfg->upload_clips = false; break;
    case O_DRY: cfg->dry_run = true; break;
    case O_PREVIEWS: cfg->generate_previews = true; break;
    case O_VERBOSE: cfg->verbose = true; break;
    case O_THREADS: if (!(rc = integer(name, arg, 0, 1024, &i))) cfg->threads = (int)i; break;
    case O_VIDEO_WORKERS: if (!(rc = integer(name, arg, 1, 1024, &i))) cfg->video_workers = (int)i; break;
    case O_ENCODERS: if (!(rc = integer(name, arg, 1, 64, &i))) cfg->encoders_per_video = (int)i; break;
    case O_DEC_THREADS: if (!(rc = integer(name, arg, 0, 256, &i))) cfg->decode_threads = (int)i; break;
    case O_WEIGHTS: cfg->model_weights_path = arg; break;
    case O_TNET_WEIGHTS: cfg->transnetv2_weights = arg; break;
    case O_TNET_COMPAT: {
        vc_tnet_compat m;
        if (vc_tnet_compat_parse(arg, &m) < 0)
            rc = bad(name, arg, "expected cosmos or reference");
        else
            cfg->tnet_compat = (int)m;
        break;
    }
    case O_DEVICE: {
        vc_nn_device dv;
        char why[160];
        if (vc_nn_device_parse(arg, &dv, why, sizeof why) < 0)
            rc = bad(name, arg, why);
        else
            cfg->device = arg;
        break;
    }
    case O_NN_PREC: {
        vc_tnet_precision pr;
        char why[160];
        if (vc_tnet_precision_parse(arg, &pr, why, sizeof why) < 0)
            rc = bad(name, arg, why);
        else
            cfg->nn_precision = arg;
        break;
    }
    case O_PREDICTIONS:
        if (!detect)
            rc = bad(name, arg, "only `vcurate detect` writes predictions");
        else
            vc_detect_predictions_path = arg;
        break;
    case O_PROGRESS: cfg->progress = true; break;
    case O_NO_PROGRESS: cfg->progress = false; break;
    case O_NO_EMBED: break;   /* already off */
    case O_NO_CAPTIONS: cfg->caption.enabled = false; break;
    case O_CAPTIONS: cfg->caption.enabled = true; break;
    case O_CAP_ALGO:
        if (!strcmp(arg, "qwen"))
            cfg->caption.algo = VC_CAP_ALGO_QWEN;
        else if (!strcmp(arg, "cosmos_r1"))
            cfg->caption.algo = VC_CAP_ALGO_COSMOS_R1;
        else if (!strcmp(arg, "openai"))
            cfg->caption.algo = VC_CAP_ALGO_OPENAI;
        else
            return bad(name, arg, "expected qwen, cosmos_r1 or openai (other Cosmos Curator VLMs: serve "
                                  "them and use openai with --captioning-model)");
        cfg->caption.algo_name = arg;
        break;
    case O_CAP_ENDPOINT: cfg->caption.endpoint = arg; break;
    case O_CAP_MODEL: cfg->caption.model = arg; break;
    case O_CAP_KEY_ENV: cfg->caption.api_key_env = arg; break;
    case O_CAP_KEY_FILE: cfg->caption.api_key_file = arg; break;
    case O_CAP_KEY_REFUSED:
        fprintf(stderr, "vcurate: --%s: an API key on the command line would show in ps and shell history;\n"
                "  put it in an environment variable (--captioning-api-key-env VAR, default\n"
                "  VCURATE_CAPTIONING_API_KEY or OPENAI_API_KEY) or a file (--captioning-api-key-file F)\n", name);
        return VC_OPTS_USAGE;
    case O_CAP_SERVER:
        if (!strcmp(arg, "vllm")) cfg->caption.server = VC_SRV_VLLM;
        else if (!strcmp(arg, "sglang")) cfg->caption.server = VC_SRV_SGLANG;
        else if (!strcmp(arg, "llama-server") || !strcmp(arg, "llama.cpp")) cfg->caption.server = VC_SRV_LLAMA;
        else if (!strcmp(arg, "nim")) cfg->caption.server = VC_SRV_NIM;
        else if (!strcmp(arg, "openai")) cfg->caption.server = VC_SRV_OPENAI;
        else rc = bad(name, arg, "expected vllm, sglang, llama-server, nim or openai");
        break;
    case O_CAP_FRAMES:
        if (!strcmp(arg, "video")) cfg->caption.frames = VC_FRAMES_VIDEO;
        else if (!strcmp(arg, "images")) cfg->caption.frames = VC_FRAMES_IMAGES;
        else rc = bad(name, arg, "expected video or images");
        break;
    case O_CAP_WINDOW: if (!(rc = integer(name, arg, 4, 1 << 20, &i))) cfg->caption.window_size = i; break;
    case O_CAP_REMAINDER: if (!(rc = integer(name, arg, 0, 1 << 20, &i))) cfg->caption.remainder_threshold = i; break;
    case O_CAP_FPS: if (!(rc = num(name, arg, 0.01, 1000, &d))) cfg->caption.sampling_fps = d; break;
    case O_CAP_VARIANT: cfg->caption.prompt_variant = arg; break;
    case O_CAP_TEXT: cfg->caption.prompt_text = arg; break;
    case O_CAP_MAX_TOKENS: if (!(rc = integer(name, arg, INT32_MIN, INT32_MAX, &i))) cfg->caption.max_output_tokens = i < 0 ? -1 : i; break;
    case O_CAP_TEMP: if (!(rc = num(name, arg, 0, 100, &d))) cfg->caption.temperature = d; break;
    case O_CAP_TOP_P: if (!(rc = num(name, arg, 0, 1, &d))) cfg->caption.top_p = d; break;
    case O_CAP_TOP_K: if (!(rc = integer(name, arg, -1, 1 << 20, &i))) cfg->caption.top_k = i; break;
    case O_CAP_REP: if (!(rc = num(name, arg, 0, 100, &d))) cfg->caption.repetition_penalty = d; break;
    case O_CAP_PRES: if (!(rc = num(name, arg, -2, 2, &d))) cfg->caption.presence_penalty = d; break;
    case O_CAP_FREQ: if (!(rc = num(name, arg, -2, 2, &d))) cfg->caption.frequency_penalty = d; break;
    case O_CAP_MIN_P: if (!(rc = num(name, arg, 0, 1, &d))) cfg->caption.min_p = d; break;
    case O_CAP_MIN_TOKENS: if (!(rc = integer(name, arg, 0, INT32_MAX, &i))) cfg->caption.min_tokens = i; break;
    case O_CAP_JPEG_Q: if (!(rc = integer(name, arg, 1, 100, &i))) cfg->caption.jpeg_quality = (int)i; break;
    case O_CAP_CONCURRENT: if (!(rc = integer(name, arg, 1, 4096, &i))) cfg->caption.max_concurrent = (int)i; break;
    case O_CAP_TIMEOUT: if (!(rc = num(name, arg, 0.1, 86400, &d))) cfg->caption.timeout_s = d; break;
    case O_CAP_RETRIES: if (!(rc = integer(name, arg, 0, 100, &i))) cfg->caption.max_retries = (int)i; break;
    case O_CAP_RETRY_DELAY: if (!(rc = num(name, arg, 0, 3600, &d))) cfg->caption.retry_delay_s = d; break;
    case O_STAGE2: cfg->caption.stage2 = true; break;
    case O_STAGE2_TEXT: cfg->caption.stage2_prompt_text = arg; break;
    case O_ENHANCE: cfg->caption.enhance = true; break;
    case O_ENH_VARIANT:
        if (strcmp(arg, "qwen_lm") && strcmp(arg, "gpt_oss_20b") && strcmp(arg, "openai"))
            rc = bad(name, arg, "expected qwen_lm, gpt_oss_20b or openai");
        else
            cfg->caption.enhance_variant = arg;
        break;
    case O_ENH_PROMPT_VARIANT: cfg->caption.enhance_prompt_variant = arg; break;
    case O_ENH_TEXT: cfg->caption.enhance_prompt_text = arg; break;
    case O_ENH_MAX_TOKENS: if (!(rc = integer(name, arg, INT32_MIN, INT32_MAX, &i))) cfg->caption.enhance_max_tokens = i < 0 ? -1 : i; break;
    case O_ENH_ENDPOINT: cfg->caption.enhance_endpoint = arg; break;
    case O_ENH_MODEL: cfg->caption.enhance_model = arg; break;
    case O_P2:
        if (!strcmp(arg, "predict2"))
            cfg->predict2 = true;
        else if (!strcmp(arg, "disable"))
            cfg->predict2 = false;
        else
            rc = bad(name, arg, "expected predict2 (or disable)");
        break;
    case O_T5_BATCH: if (!(rc = integer(name, arg, 1, 4096, &i))) cfg->t5_batch = (int)i; break;
    case O_T5_TF32: cfg->t5_tf32 = true; break;
    case O_HELP:
        fputs(detect ? detect_help : split_help, stdout);
        return VC_OPTS_EXIT_OK;
    case O_IN_PROFILE: in_profile = arg; break;
    case O_OUT_PROFILE: out_profile = arg; break;
    case O_NOT_YET:
        fprintf(stderr, "vcurate: --%s: %s\n", name, not_yet_reason(name));
        return VC_OPTS_USAGE;
    default:
        fprintf(stderr, "Try 'vcurate %s --help'.\n", detect ? "detect" : "split");
        return VC_OPTS_USAGE;
    }
    return rc;
}

static bool is_s3(const char *p) { return p && !strncmp(p, "s3://", 5); }

/* Output nested in input (or the reverse), compared as written for s3://. */
static bool nested_paths(const char *input, const char *output)
{
    char *in = is_s3(input) ? vc_fs_pypath(input) : realpath(input, NULL);
    char *out = is_s3(output) ? vc_fs_pypath(output) : realpath(output, NULL);
    bool nested = false;
    if (in && out) {
        size_t a = strlen(in), b = strlen(out);
        nested = (!strncmp(in, out, a) && (out[a] == '/' || out[a] == 0)) ||
                 (!strncmp(out, in, b) && (in[b] == '/' || in[b] == 0));
    }
    free(in);
    free(out);
    return nested;
}

/* Ties the S3 profiles to the paths they serve. */
static void set_profiles(const vc_split_config *cfg)
{
    if (in_profile) {
        vc_s3_set_profile(cfg->input_video_path, in_profile);
        if (cfg->input_video_list_json_path)
            vc_s3_set_profile(cfg->input_video_list_json_path, in_profile);
    }
    if (out_profile)
        vc_s3_set_profile(cfg->output_clip_path, out_profile);
}

/* s3:// model folders: the files the models need are downloaded once into a
 * local cache folder (the loaders memory-map local files), which then
 * stands for the folder. */
static int mirror_models(vc_split_config *cfg)
{
    static char *cached_dir, *cached_file;
    const char *ids[3];
    size_t n = 0;
    if (cfg->algo == VC_SPLIT_TRANSNETV2 && !cfg->transnetv2_weights)
        ids[n++] = "transnetv2";
    if (cfg->predict2)
        ids[n++] = "t5_xxl";
    ids[n] = NULL;
    if (is_s3(cfg->model_weights_path) && n) {
        char err[1024];
        char *local = NULL;
        for (size_t i = 0; i < n; i++) {
            free(local);   /* the same cache folder each time */
            if (!(local = vc_models_localize(cfg->model_weights_path, ids[i], err, sizeof err))) {
                fprintf(stderr, "vcurate: --model-weights-path %s: %s\n", cfg->model_weights_path, err);
                return VC_OPTS_USAGE;
            }
        }
        free(cached_dir);
        cached_dir = local;
        cfg->model_weights_path = cached_dir;
    }
    if (is_s3(cfg->transnetv2_weights) && cfg->algo == VC_SPLIT_TRANSNETV2) {
        const char *slash = strrchr(cfg->transnetv2_weights, '/');
        char *dir_url = vc_asprintf("%.*s", (int)(slash - cfg->transnetv2_weights), cfg->transnetv2_weights);
        char *dir = vc_s3_cache_dir(dir_url);
        const char *rel = slash + 1;
        int rc = vc_s3_mirror(dir_url, &rel, 1, dir);
        if (rc < 0)
            fprintf(stderr, "vcurate: --transnetv2-weights %s: cannot fetch it: %s\n",
                    cfg->transnetv2_weights, vc_s3_last_error());
        free(cached_file);
        cached_file = vc_fs_join(dir, rel);
        free(dir);
        free(dir_url);
        if (rc < 0)
            return VC_OPTS_USAGE;
        cfg->transnetv2_weights = cached_file;
    }
    return 0;
}

/* Checks that need the whole command line. */
static int validate(vc_split_config *cfg, bool detect)
{
    if (detect)
        return 0;
    if (!cfg->input_video_path) {
        fprintf(stderr, "vcurate: --input-video-path is required\n");
        return VC_OPTS_USAGE;
    }
    if (!cfg->output_clip_path) {
        fprintf(stderr, "vcurate: --output-clip-path is required\n");
        return VC_OPTS_USAGE;
    }
    set_profiles(cfg);
    const char *urls[] = { cfg->input_video_path, cfg->output_clip_path, cfg->input_video_list_json_path,
                           cfg->model_weights_path, cfg->transnetv2_weights };
    for (size_t i = 0; i < VC_ARRAY_LEN(urls); i++) {
        vc_s3_loc loc;
        char *why = NULL;
        if (!is_s3(urls[i]))
            continue;
        if (vc_s3_parse_url(urls[i], &loc, &why) < 0) {
            fprintf(stderr, "vcurate: %s\n", why);
            free(why);
            return VC_OPTS_USAGE;
        }
        vc_s3_loc_free(&loc);
    }
    /* an s3:// prefix with objects under it is a folder */
    if (!vc_fs_exists(cfg->input_video_path) && !(is_s3(cfg->input_video_path) && vc_fs_is_dir(cfg->input_video_path))) {
        if (is_s3(cfg->input_video_path) && !strstr(vc_s3_last_error(), "no objects"))
            fprintf(stderr, "vcurate: --input-video-path %s: %s\n", cfg->input_video_path, vc_s3_last_error());
        else
            fprintf(stderr, "vcurate: --input-video-path %s: no such file or folder\n", cfg->input_video_path);
        return VC_OPTS_USAGE;
    }
    if (cfg->input_video_list_json_path && !vc_fs_exists(cfg->input_video_list_json_path)) {
        fprintf(stderr, "vcurate: --input-video-list-json-path %s: %s\n", cfg->input_video_list_json_path,
                is_s3(cfg->input_video_list_json_path) ? vc_s3_last_error() : "no such file");
        return VC_OPTS_USAGE;
    }
    /* Output nested in input would feed our own clips back as inputs. */
    if (nested_paths(cfg->input_video_path, cfg->output_clip_path)) {
        fprintf(stderr, "vcurate: --output-clip-path must not be inside --input-video-path (or contain it)\n");
        return VC_OPTS_USAGE;
    }
    if (cfg->predict2 && cfg->dry_run) {
        fprintf(stderr, "vcurate: --generate-cosmos-predict-dataset predict2 writes window videos: not with --dry-run\n");
        return VC_OPTS_USAGE;
    }
    if (cfg->predict2 && !cfg->caption.enabled) {
        fprintf(stderr, "vcurate: --generate-cosmos-predict-dataset predict2 needs captions: drop "
                "--no-generate-captions and give --captioning-endpoint\n");
        return VC_OPTS_USAGE;
    }
    if (cfg->dry_run)
        cfg->caption.enabled = false;   /* nothing is encoded, nothing to caption */
    if (vc_caption_config_resolve(&cfg->caption) < 0)
        return VC_OPTS_USAGE;
    if (cfg->encoder == VC_ENC_NVENC) {
        char err[256];
        if (!vc_encoder_available(VC_ENC_NVENC, err, sizeof err)) {
            fprintf(stderr, "vcurate: --transcode-encoder h264_nvenc: %s\n", err);
            return VC_OPTS_USAGE;
        }
    }
    return 0;
}

int vc_parse_split_options(int argc, char **argv, bool detect, vc_split_config *cfg, const char **video)
{
    vc_split_config_default(cfg);
    if (detect)
        cfg->algo = VC_SPLIT_CONTENT;
    cfg->model_weights_path = vc_models_default_dir();
    cfg->progress = isatty(2);
    optind = 1;
    opterr = 1;
    int c, idx = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
        const char *name = (c >= O_INPUT && idx >= 0) ? long_opts[idx].name : "?";
        if (c == 'h')
            c = O_HELP;
        int rc = apply(c, name, optarg, cfg, detect);
        if (rc)
            return rc;
        idx = -1;
    }
    if (detect) {
        if (optind != argc - 1) {
            fprintf(stderr, "vcurate detect: expected exactly one VIDEO argument\nTry 'vcurate detect --help'.\n");
            return VC_OPTS_USAGE;
        }
        *video = argv[optind];
    } else if (optind < argc) {
        fprintf(stderr, "vcurate split: unexpected argument '%s'\nTry 'vcurate split --help'.\n", argv[optind]);
        return VC_OPTS_USAGE;
    }
    int rc = validate(cfg, detect);
    if (rc == 0)
        rc = mirror_models(cfg);
    if (rc)
        return rc;
    /* models load before anything is written, so a missing file is a
     * start-up error */
    return vc_split_load_models(cfg) < 0 ? VC_OPTS_USAGE : 0;
}
