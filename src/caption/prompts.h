/* Cosmos Curator's prompt texts (cosmos_curate/models/prompts.py), byte for
 * byte: the triple-quoted strings keep their leading newline, indentation
 * and trailing "\n    ", and are sent unstripped. */
#ifndef VC_CAPTION_PROMPTS_H
#define VC_CAPTION_PROMPTS_H

/* "default", "av", "av-surveillance"; NULL for an unknown variant. */
const char *vc_cap_prompt(const char *variant);
/* Enhance-captions system prompts: "default", "av-surveillance" (no "av"). */
const char *vc_cap_enhance_prompt(const char *variant);
/* get_stage2_prompt(None): the default refine prompt, stripped plus "\n". */
const char *vc_cap_stage2_prompt(void);
/* Cosmos-Reason1's system prompt. */
const char *vc_cap_cosmos_r1_system(void);

#endif
