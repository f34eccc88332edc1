/* The T5 stage of `split --generate-cosmos-predict-dataset predict2`,
 * between caption and write: the caption of every captioned window is
 * embedded with the T5 encoder (float16 [L,1024], as Cosmos Curator's
 * T5 stage computes it) in batches of --t5-batch-size captions taken across
 * clips, on this stage's own thread, so decoding, encoding, captioning and
 * writing go on while it runs. Windows whose three predict2 files exist
 * already (a rerun) are not embedded again. */
#ifndef VC_SPLIT_STAGE_T5_H
#define VC_SPLIT_STAGE_T5_H

#include "pipeline/stage.h"
#include "split/run.h"

typedef struct vc_t5_stage vc_t5_stage;

extern const vc_stage vc_stage_t5;

vc_t5_stage *vc_t5_stage_new(vc_split_run *run);
/* After the pipeline finished: frees clips a cancel left behind, prints the totals. */
void vc_t5_stage_free(vc_t5_stage *st);

#endif
