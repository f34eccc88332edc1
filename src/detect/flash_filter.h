/* PySceneDetect's FlashFilter in MERGE mode (scenedetect/detector.py), the
 * min_scene_len rule of ContentDetector. */
#ifndef VC_DETECT_FLASH_FILTER_H
#define VC_DETECT_FLASH_FILTER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct vc_flash_filter {
    int length;            /* min_scene_len in frames; <= 0 disables */
    int64_t last_above;    /* last frame above threshold (-1: none seen yet) */
    bool merge_enabled;    /* merging starts only after the first cut */
    bool merge_triggered;
    int64_t merge_start;
} vc_flash_filter;

void vc_flash_filter_init(vc_flash_filter *f, int length);
/* Feeds frame t (every frame, in order). Returns the frame of the emitted cut,
 * or -1. A cut is emitted at most `length` frames after the frame it names. */
int64_t vc_flash_filter_push(vc_flash_filter *f, int64_t t, bool above);

#endif
