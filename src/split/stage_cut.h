#ifndef VC_SPLIT_STAGE_CUT_H
#define VC_SPLIT_STAGE_CUT_H
#include "pipeline/stage.h"
/* Decode once, detect shots, and encode every clip while decoding. */
extern const vc_stage vc_stage_cut;
#endif
