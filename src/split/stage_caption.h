/* The caption stage, between cut and write: every caption window of a clip
 * goes to the VLM server as its own request (stage 2 and enhance passes
 * follow as further requests), many at once through the captioning client;
 * a clip moves on to write once all its windows have an outcome. The clip
 * frames were prepared by the encoder threads (caption/framer.h). */
#ifndef VC_SPLIT_STAGE_CAPTION_H
#define VC_SPLIT_STAGE_CAPTION_H

#include <stdbool.h>

#include "pipeline/stage.h"
#include "split/run.h"

typedef struct vc_caption_stage vc_caption_stage;

extern const vc_stage vc_stage_caption;

vc_caption_stage *vc_caption_stage_new(vc_split_run *run);
/* After the pipeline finished: cancels what is left, prints the totals. */
void vc_caption_stage_free(vc_caption_stage *st);

/* A rerun: fills it->cap from the clip's metas written by an earlier run
 * when every window there has its caption; true when it did. */
bool vc_caption_reuse(const vc_split_config *cfg, vc_split_item *it);
/* Every window of the clip ends in error (e.g. its frames could not be made). */
void vc_caption_fail_all(vc_split_item *it, const char *why, int64_t window_size, int64_t remainder);

#endif
