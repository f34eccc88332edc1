/* Antialiased bicubic resize of one 8-bit plane, as PIL's Image.resize with
 * BICUBIC (and torchvision's resize(..., BICUBIC, antialias=True), which
 * follows PIL): Keys' cubic with a = -0.5, its support widened by the scale
 * factor when shrinking, windows cut at the image edges and renormalised.
 * Separable, vertical pass first, 8-bit result between the passes (PIL
 * also rounds to 8 bits between its passes, in the other order), Q14
 * fixed-point coefficients precomputed per size pair. An affine map
 * out = gain * v + offset (e.g. video -> full range) is folded into the
 * second pass, so it costs nothing.
 *
 * Written by hand because libswscale's bicubic shrink costs ~1 ms per
 * 1080p -> 1008x560 frame here (its AVX2 horizontal filter is bound by
 * gather instructions), which is most of the captioning frame preparation
 * (docs/design.md, "Captioning"). On x86-64 the two passes use AVX-512
 * (BW + VBMI, with VNNI four taps per instruction) or AVX2 when the CPU has
 * them (checked at run time); the portable C path computes the same
 * integers. */
#ifndef VC_CAPTION_RESIZE_H
#define VC_CAPTION_RESIZE_H

#include <stddef.h>
#include <stdint.h>

typedef struct vc_resize vc_resize;

/* A plan for sw x sh -> dw x dh with out = clamp(round(gain * r + offset)).
 * NULL on a bad size. A plan holds a scratch row: one thread at a time. */
vc_resize *vc_resize_new(int sw, int sh, int dw, int dh, double gain, double offset);
void vc_resize_free(vc_resize *r);
void vc_resize_run(vc_resize *r, const uint8_t *src, ptrdiff_t sstride, uint8_t *dst, ptrdiff_t dstride);
/* Code paths, each computing the same integers. */
enum { VC_RESIZE_C, VC_RESIZE_AVX2, VC_RESIZE_AVX512, VC_RESIZE_VNNI };
/* The highest path run() may take (default VC_RESIZE_VNNI; tests compare
 * each with the C path). */
void vc_resize_set_simd(vc_resize *r, int level);
/* The highest path run() takes on this machine. */
int vc_resize_simd(const vc_resize *r);

/* The same filter in double precision, no fixed point, no 8-bit
 * intermediate (tests' reference). */
void vc_resize_reference(int sw, int sh, int dw, int dh, double gain, double offset, const uint8_t *src,
                         ptrdiff_t sstride, double *dst);

#endif
