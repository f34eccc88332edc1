#ifndef VC_SPLIT_STAGE_PROBE_H
#define VC_SPLIT_STAGE_PROBE_H
#include "pipeline/stage.h"
/* Probe each video's metadata; failures become the video's error. */
extern const vc_stage vc_stage_probe;
#endif
