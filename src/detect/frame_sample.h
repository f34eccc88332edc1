/* Downscales a decoded AVFrame to the small packed BGR24 image the detectors
 * work on (longest side ~256 px, as PySceneDetect's auto_downscale). */
#ifndef VC_DETECT_FRAME_SAMPLE_H
#define VC_DETECT_FRAME_SAMPLE_H

#include <stdint.h>

struct AVFrame;

typedef struct vc_sampler vc_sampler;

/* PySceneDetect's size: factor f = max(w,h)/256 when max(w,h) >= 256, else 1;
 * the result is (round(w/f), round(h/f)). */
void vc_small_size(int w, int h, int *sw, int *sh);

vc_sampler *vc_sampler_new(int dst_w, int dst_h);
/* Writes dst_w*dst_h*3 bytes (B,G,R) to bgr. 0 or a negative AVERROR. */
int vc_sampler_run(vc_sampler *s, const struct AVFrame *f, uint8_t *bgr);
void vc_sampler_free(vc_sampler *s);

#endif
