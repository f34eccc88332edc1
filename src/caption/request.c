#include "caption/request.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "caption/body.h"
#include "caption/prompts.h"
#include "util/common.h"

/* ---- JSON text into a body ---- */

typedef vc_cap_body sb;

static void sb_add(sb *b, const char *s, size_t n)
{
    vc_cap_body_add(b, s, n);
}

static void sb_str(sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_fmt(sb *b, const char *fmt, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    sb_str(b, buf);
}

/* A JSON string literal (UTF-8 passes through). */
static void sb_json(sb *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': sb_add(b, "\\\"", 2); break;
        case '\\': sb_add(b, "\\\\", 2); break;
        case '\n': sb_add(b, "\\n", 2); break;
        case '\r': sb_add(b, "\\r", 2); break;
        case '\t': sb_add(b, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                sb_str(b, esc);
            } else {
                sb_add(b, (const char *)p, 1);
            }
        }
    }
    sb_add(b, "\"", 1);
}

/* ---- prompts ---- */

const char *vc_cap_caption_prompt(const vc_caption_config *c)
{
    return c->prompt_text ? c->prompt_text : vc_cap_prompt(c->prompt_variant);
}

/* Cosmos-Reason1's own refine prompt (vllm_cosmos_reason1_vl.py): a
 * triple-quoted block .strip()ped, so its inner lines keep 4 spaces. */
static const char R1_REFINE[] =
    "Improve and refine following video description.\n"
    "    Focus on highlighting the key visual and sensory elements.\n"
    "    Ensure the description is clear, precise, and paints a compelling\n"
    "    picture of the scene.\n";

char *vc_cap_stage2_text(const vc_caption_config *c, const char *caption)
{
    const char *p = c->stage2_prompt_text;
    if (!p)
        p = c->algo == VC_CAP_ALGO_COSMOS_R1 ? R1_REFINE : vc_cap_stage2_prompt();
    return vc_asprintf("%s%s", p, caption);
}

/* ---- sampling fields each server type accepts ---- */

static void add_sampling(sb *b, const vc_caption_config *c, int64_t max_tokens, bool with_min_tokens)
{
    sb_fmt(b, ",\"temperature\":%.17g", c->temperature);
    sb_fmt(b, ",\"top_p\":%.17g", c->top_p);
    switch (c->server) {
    case VC_SRV_VLLM:
    case VC_SRV_SGLANG:
        sb_fmt(b, ",\"top_k\":%.0f", (double)c->top_k);
        sb_fmt(b, ",\"repetition_penalty\":%.17g", c->repetition_penalty);
        sb_fmt(b, ",\"min_p\":%.17g", c->min_p);
        if (with_min_tokens)
            sb_fmt(b, ",\"min_tokens\":%.0f", (double)c->min_tokens);
        break;
    case VC_SRV_LLAMA:
        sb_fmt(b, ",\"top_k\":%.0f", (double)c->top_k);
        sb_fmt(b, ",\"repeat_penalty\":%.17g", c->repetition_penalty);
        sb_fmt(b, ",\"min_p\":%.17g", c->min_p);
        break;
    case VC_SRV_NIM:
    case VC_SRV_OPENAI:
        break;
    }
    sb_fmt(b, ",\"presence_penalty\":%.17g", c->presence_penalty);
    sb_fmt(b, ",\"frequency_penalty\":%.17g", c->frequency_penalty);
    if (max_tokens >= 0)
        sb_fmt(b, ",\"max_tokens\":%.0f", (double)max_tokens);
}

/* {"model": MODEL, "messages": [   -- the opening every request shares */
static sb *begin_chat(const char *model)
{
    sb *b = vc_cap_body_new();
    sb_str(b, "{\"model\":");
    sb_json(b, model);
    sb_str(b, ",\"messages\":[");
    return b;
}

/* A system message and the comma after it. */
static void system_message(sb *b, const char *text)
{
    sb_str(b, "{\"role\":\"system\",\"content\":");
    sb_json(b, text);
    sb_str(b, "},");
}

/* Closes the messages, adds the sampling fields and closes the body. */
static sb *end_chat(sb *b, const vc_caption_config *c, int64_t max_tokens, bool vlm)
{
    sb_str(b, "]");
    add_sampling(b, c, max_tokens, vlm);
    sb_str(b, "}");
    return b;
}

vc_cap_body *vc_cap_vlm_body(const vc_caption_config *c, const vc_cap_window_frames *w, const char *text)
{
    sb *b = begin_chat(vc_cap_model(c));
    if (c->algo == VC_CAP_ALGO_COSMOS_R1)
        system_message(b, vc_cap_cosmos_r1_system());
    sb_str(b, "{\"role\":\"user\",\"content\":[");
    if (vc_cap_send_video(c)) {
        /* vLLM's VideoMediaIO: "video/jpeg" data is comma-separated base64 JPEG frames. */
        sb_str(b, "{\"type\":\"video_url\",\"video_url\":{\"url\":\"data:video/jpeg;base64,");
        for (int k = 0; k < w->nframes; k++) {
            if (k)
                sb_add(b, ",", 1);
            vc_cap_body_borrow(b, w->b64[k], w->b64_len[k]);
        }
        sb_str(b, "\"}},");
    } else {
        for (int k = 0; k < w->nframes; k++) {
            sb_str(b, "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/jpeg;base64,");
            vc_cap_body_borrow(b, w->b64[k], w->b64_len[k]);
            sb_str(b, "\"}},");
        }
    }
    sb_str(b, "{\"type\":\"text\",\"text\":");
    sb_json(b, text);
    sb_str(b, "}]}");
    return end_chat(b, c, c->max_output_tokens, true);
}

vc_cap_body *vc_cap_enhance_body(const vc_caption_config *c, const char *caption)
{
    const char *sys = c->enhance_prompt_text ? c->enhance_prompt_text : vc_cap_enhance_prompt(c->enhance_prompt_variant);
    sb *b = begin_chat(vc_cap_enhance_model(c));
    system_message(b, sys);
    sb_str(b, "{\"role\":\"user\",\"content\":");
    sb_json(b, caption);
    sb_str(b, "}");
    return end_chat(b, c, c->enhance_max_tokens, false);
}

/* re.search(r"<answer>\s*(.*?)\s*</answer>", text, DOTALL | IGNORECASE)
 * .group(1).strip(), else the text unchanged. */
static const char *find_ci(const char *h, const char *n)
{
    size_t k = strlen(n);
    for (; *h; h++)
        if (!strncasecmp(h, n, k))
            return h;
    return NULL;
}

static bool py_space(unsigned char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

char *vc_cap_postprocess(const vc_caption_config *c, const char *text)
{
    if (c->algo != VC_CAP_ALGO_COSMOS_R1)
        return vc_xstrdup(text);
    const char *a = find_ci(text, "<answer>");
    const char *e = a ? find_ci(a + 8, "</answer>") : NULL;
    if (!e)
        return vc_xstrdup(text);
    const char *s = a + 8;
    while (s < e && py_space((unsigned char)*s))
        s++;
    while (e > s && py_space((unsigned char)e[-1]))
        e--;
    size_t n = (size_t)(e - s);
    char *o = vc_xcalloc(n + 1, 1);
    memcpy(o, s, n);
    return o;
}
