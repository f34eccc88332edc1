/* OpenCV-exact 8-bit BGR -> HSV (H 0..179, S and V 0..255) and PySceneDetect's
 * content score between two HSV images. */
#ifndef VC_DETECT_HSV_H
#define VC_DETECT_HSV_H

#include <stddef.h>
#include <stdint.h>

typedef struct vc_hsv_tables {
    int sdiv[256];   /* round((255 << 12) / v) */
    int hdiv[256];   /* round((180 << 12) / (6 * diff)) */
} vc_hsv_tables;

void vc_hsv_tables_init(vc_hsv_tables *t);

/* n pixels of packed B,G,R -> three planes h, s, v. */
void vc_bgr_to_hsv(const vc_hsv_tables *t, const uint8_t *bgr, size_t n,
                   uint8_t *h, uint8_t *s, uint8_t *v);

/* Mean absolute difference of each plane (ContentDetector's delta_hue,
 * delta_sat, delta_lum); out[3] = their mean (content_val, weights 1,1,1,0). */
void vc_hsv_delta(const uint8_t *const cur[3], const uint8_t *const prev[3], size_t n,
                  double out[4]);

#endif
