#ifndef VC_SPLIT_STAGE_WRITE_H
#define VC_SPLIT_STAGE_WRITE_H
#include "pipeline/stage.h"
/* Write clips, their metadata and previews; when a video's last clip is
 * written, its chunk and processed records (or its error record). */
extern const vc_stage vc_stage_write;
#endif
