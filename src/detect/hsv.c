/* Mirrors OpenCV's RGB2HSV_b (imgproc/src/color_hsv.simd.hpp): fixed-point
 * with a 12-bit shift and rounding tables built with cvRound (round half to
 * even, which lrint gives in the default rounding mode). Matching it exactly
 * keeps our content scores equal to PySceneDetect's on the same small frame. */
#include "detect/hsv.h"

#include <math.h>
#include <stdlib.h>

enum { HSV_SHIFT = 12 };

void vc_hsv_tables_init(vc_hsv_tables *t)
{
    t->sdiv[0] = t->hdiv[0] = 0;
    for (int i = 1; i < 256; i++) {
        t->sdiv[i] = (int)lrint((255 << HSV_SHIFT) / (1.0 * i));
        t->hdiv[i] = (int)lrint((180 << HSV_SHIFT) / (6.0 * i));
    }
}

void vc_bgr_to_hsv(const vc_hsv_tables *t, const uint8_t *bgr, size_t n,
                   uint8_t *h, uint8_t *s, uint8_t *v)
{
    const int round = 1 << (HSV_SHIFT - 1);
    for (size_t i = 0; i < n; i++, bgr += 3) {
        int b = bgr[0], g = bgr[1], r = bgr[2];
        int vmax = b > g ? b : g;
        vmax = vmax > r ? vmax : r;
        int vmin = b < g ? b : g;
        vmin = vmin < r ? vmin : r;
        int diff = vmax - vmin;
        int vr = vmax == r ? -1 : 0;
        int vg = vmax == g ? -1 : 0;
        int sat = (diff * t->sdiv[vmax] + round) >> HSV_SHIFT;
        int hue = (vr & (g - b)) + (~vr & ((vg & (b - r + 2 * diff)) + ((~vg) & (r - g + 4 * diff))));
        hue = (hue * t->hdiv[diff] + round) >> HSV_SHIFT;
        hue += hue < 0 ? 180 : 0;
        h[i] = (uint8_t)hue;
        s[i] = (uint8_t)sat;
        v[i] = (uint8_t)vmax;
    }
}

void vc_hsv_delta(const uint8_t *const cur[3], const uint8_t *const prev[3], size_t n,
                  double out[4])
{
    for (int c = 0; c < 3; c++) {
        const uint8_t *a = cur[c], *b = prev[c];
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += (uint64_t)abs((int)a[i] - (int)b[i]);
        out[c] = n ? (double)sum / (double)n : 0.0;
    }
    out[3] = (out[0] + out[1] + out[2]) / 3.0;
}
