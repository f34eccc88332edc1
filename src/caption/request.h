/* Chat-completions request bodies for the captioning passes, and the reply
 * post-processing Cosmos Curator applies. */
#ifndef VC_CAPTION_REQUEST_H
#define VC_CAPTION_REQUEST_H

#include <stddef.h>

#include "caption/body.h"
#include "caption/config.h"
#include "caption/framer.h"

/* The VLM request for one window: [system (cosmos_r1)], user [frames, text].
 * The frames' base64 is borrowed from w (caption/body.h). */
vc_cap_body *vc_cap_vlm_body(const vc_caption_config *c, const vc_cap_window_frames *w, const char *text);
/* The enhance request: system = enhance prompt, user = the caption. */
vc_cap_body *vc_cap_enhance_body(const vc_caption_config *c, const char *caption);
/* The caption prompt, and the stage-2 prompt followed by the first caption. */
const char *vc_cap_caption_prompt(const vc_caption_config *c);
char *vc_cap_stage2_text(const vc_caption_config *c, const char *caption);
/* What is stored of a reply: cosmos_r1 keeps the <answer> part. New string. */
char *vc_cap_postprocess(const vc_caption_config *c, const char *text);

#endif
