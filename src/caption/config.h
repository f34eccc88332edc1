/* Captioning settings (`vcurate split --captioning-*`, cosmos-curate.md §1.5). */
#ifndef VC_CAPTION_CONFIG_H
#define VC_CAPTION_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { VC_CAP_ALGO_QWEN, VC_CAP_ALGO_COSMOS_R1, VC_CAP_ALGO_OPENAI } vc_cap_algo;
typedef enum { VC_SRV_VLLM, VC_SRV_SGLANG, VC_SRV_LLAMA, VC_SRV_NIM, VC_SRV_OPENAI } vc_cap_server;
typedef enum { VC_FRAMES_AUTO, VC_FRAMES_VIDEO, VC_FRAMES_IMAGES } vc_cap_frames_mode;

typedef struct vc_caption_config {
    bool enabled;                  /* Cosmos default: on; --no-generate-captions */
    vc_cap_algo algo;
    const char *algo_name;         /* "qwen", "cosmos_r1", "openai": the metas key prefix */
    const char *endpoint;          /* as given */
    char *url;                     /* resolved .../chat/completions */
    const char *model;             /* NULL: the algorithm's default */
    const char *api_key_env;       /* NULL: VCURATE_CAPTIONING_API_KEY, then OPENAI_API_KEY */
    const char *api_key_file;
    char *api_key;                 /* loaded at start-up, never printed */
    vc_cap_server server;
    vc_cap_frames_mode frames;

    int64_t window_size;           /* 256 */
    int64_t remainder_threshold;   /* 128 */
    double sampling_fps;           /* 2.0 */
    const char *prompt_variant;    /* default | av | av-surveillance */
    const char *prompt_text;
    int64_t max_output_tokens;     /* 8192; < 0 unlimited */
    double temperature, top_p, repetition_penalty, presence_penalty, frequency_penalty, min_p;
    int64_t top_k, min_tokens;
    int jpeg_quality;              /* 90 */

    int max_concurrent;            /* requests in flight (32) */
    double timeout_s;              /* per attempt (300) */
    int max_retries;               /* 3 */
    double retry_delay_s;          /* first backoff (1.0) */

    bool stage2;
    const char *stage2_prompt_text;

    bool enhance;
    const char *enhance_variant;        /* qwen_lm | gpt_oss_20b | openai: the metas key prefix */
    const char *enhance_prompt_variant; /* default | av-surveillance */
    const char *enhance_prompt_text;
    int64_t enhance_max_tokens;         /* 2048 */
    const char *enhance_endpoint;       /* NULL: the captioning endpoint */
    char *enhance_url;
    const char *enhance_model;          /* NULL: the variant's default */
} vc_caption_config;

void vc_caption_config_default(vc_caption_config *c);
/* Resolves URLs, models and the API key; prints what is wrong and returns -1. */
int vc_caption_config_resolve(vc_caption_config *c);
void vc_caption_config_free(vc_caption_config *c);

const char *vc_cap_model(const vc_caption_config *c);
const char *vc_cap_enhance_model(const vc_caption_config *c);
bool vc_cap_send_video(const vc_caption_config *c);
/* The chat-completions URL for an endpoint (base URL, .../v1 or the full path). */
char *vc_cap_chat_url(const char *endpoint);

#endif
