#include "caption/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption/prompts.h"
#include "util/common.h"
#include "util/log.h"

void vc_caption_config_default(vc_caption_config *c)
{
    *c = (vc_caption_config){
        .enabled = true,
        .algo = VC_CAP_ALGO_QWEN,
        .algo_name = "qwen",
        .server = VC_SRV_VLLM,
        .frames = VC_FRAMES_AUTO,
        .window_size = 256,
        .remainder_threshold = 128,
        .sampling_fps = 2.0,
        .prompt_variant = "default",
        .max_output_tokens = 8192,
        .temperature = 0.1,
        .top_p = 0.001,
        .top_k = 0,
        .repetition_penalty = 1.05,
        .presence_penalty = 0.0,
        .frequency_penalty = 0.0,
        .min_p = 0.0,
        .min_tokens = 16,
        .jpeg_quality = 90,
        .max_concurrent = 32,
        .timeout_s = 300,
        .max_retries = 3,
        .retry_delay_s = 1.0,
        .enhance_variant = "qwen_lm",
        .enhance_prompt_variant = "default",
        .enhance_max_tokens = 2048,
    };
}

const char *vc_cap_model(const vc_caption_config *c)
{
    if (c->model)
        return c->model;
    switch (c->algo) {
    case VC_CAP_ALGO_QWEN: return "Qwen/Qwen2.5-VL-7B-Instruct";
    case VC_CAP_ALGO_COSMOS_R1: return "nvidia/Cosmos-Reason1-7B";
    case VC_CAP_ALGO_OPENAI: break;
    }
    return "";
}

const char *vc_cap_enhance_model(const vc_caption_config *c)
{
    if (c->enhance_model)
        return c->enhance_model;
    if (!strcmp(c->enhance_variant, "qwen_lm"))
        return "Qwen/Qwen2.5-14B-Instruct";
    if (!strcmp(c->enhance_variant, "gpt_oss_20b"))
        return "openai/gpt-oss-20b";
    return "";
}

bool vc_cap_send_video(const vc_caption_config *c)
{
    if (c->frames != VC_FRAMES_AUTO)
        return c->frames == VC_FRAMES_VIDEO;
    return c->server == VC_SRV_VLLM;
}

char *vc_cap_chat_url(const char *endpoint)
{
    size_t n = strlen(endpoint);
    while (n > 0 && endpoint[n - 1] == '/')
        n--;
    char *base = vc_xcalloc(n + 1, 1);
    memcpy(base, endpoint, n);
    char *url;
    static const char full[] = "/chat/completions";
    if (n >= sizeof full - 1 && !strcmp(base + n - (sizeof full - 1), full))
        url = vc_xstrdup(base);
    else if (n >= 3 && !strcmp(base + n - 3, "/v1"))
        url = vc_asprintf("%s/chat/completions", base);
    else
        url = vc_asprintf("%s/v1/chat/completions", base);
    free(base);
    return url;
}

static char *read_key_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *s = buf;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t m = strlen(s);
    while (m > 0 && (s[m - 1] == ' ' || s[m - 1] == '\t' || s[m - 1] == '\r' || s[m - 1] == '\n'))
        s[--m] = 0;
    char *k = vc_xstrdup(s);
    memset(buf, 0, sizeof buf);
    return k;
}

static bool http_url(const char *u)
{
    return !strncmp(u, "http://", 7) || !strncmp(u, "https://", 8);
}

int vc_caption_config_resolve(vc_caption_config *c)
{
    if (!c->enabled)
        return 0;
    if (!c->endpoint) {
        vc_error("captioning is on by default (as in Cosmos Curator) and needs a VLM server: pass\n"
                 "  --captioning-endpoint URL (an OpenAI-compatible server such as vLLM, SGLang or\n"
                 "  llama-server, e.g. http://localhost:8000/v1), or --no-generate-captions");
        return -1;
    }
    if (!http_url(c->endpoint) || (c->enhance_endpoint && !http_url(c->enhance_endpoint))) {
        vc_error("--captioning-endpoint / --enhance-captions-endpoint: expected an http:// or https:// URL");
        return -1;
    }
    if (c->algo == VC_CAP_ALGO_OPENAI && !c->model) {
        vc_error("--captioning-algorithm openai needs --captioning-model NAME (the model the server serves)");
        return -1;
    }
    if (!c->prompt_text && !vc_cap_prompt(c->prompt_variant)) {
        vc_error("--captioning-prompt-variant %s: expected default, av or av-surveillance", c->prompt_variant);
        return -1;
    }
    if (c->enhance) {
        if (!c->enhance_prompt_text && !vc_cap_enhance_prompt(c->enhance_prompt_variant)) {
            vc_error("--enhance-captions-prompt-variant %s: expected default or av-surveillance "
                     "(Cosmos Curator has no %s enhance prompt)", c->enhance_prompt_variant, c->enhance_prompt_variant);
            return -1;
        }
        if (!*vc_cap_enhance_model(c)) {
            vc_error("--enhance-captions-lm-variant %s needs --enhance-captions-openai-model NAME", c->enhance_variant);
            return -1;
        }
    }
    c->url = vc_cap_chat_url(c->endpoint);
    c->enhance_url = vc_cap_chat_url(c->enhance_endpoint ? c->enhance_endpoint : c->endpoint);
    if (c->api_key_file) {
        c->api_key = read_key_file(c->api_key_file);
        if (!c->api_key) {
            vc_error("--captioning-api-key-file %s: %s", c->api_key_file, strerror(errno));
            return -1;
        }
    } else {
        const char *env = c->api_key_env ? getenv(c->api_key_env) : NULL;
        if (c->api_key_env && !env) {
            vc_error("--captioning-api-key-env %s: that environment variable is not set", c->api_key_env);
            return -1;
        }
        if (!env)
            env = getenv("VCURATE_CAPTIONING_API_KEY");
        if (!env)
            env = getenv("OPENAI_API_KEY");
        if (env && *env)
            c->api_key = vc_xstrdup(env);
    }
    return 0;
}

void vc_caption_config_free(vc_caption_config *c)
{
    free(c->url);
    free(c->enhance_url);
    if (c->api_key) {
        memset(c->api_key, 0, strlen(c->api_key));
        free(c->api_key);
    }
    c->url = c->enhance_url = c->api_key = NULL;
}
