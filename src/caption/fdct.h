/* JPEG's forward DCT and quantisation of 8x8 blocks, bit-exact with
 * libjpeg-turbo's accurate integer DCT (jfdctint.c, the LL&M algorithm,
 * 13-bit constants) and its reciprocal quantiser (jcdctmgr.c), so a JPEG
 * written with these coefficients has libjpeg-turbo's bytes (tests).
 *
 * Why by hand: libjpeg-turbo runs each block through three SIMD calls
 * (sample conversion, DCT, quantisation), each behind a wrapper that reads
 * a thread-local CPU flag, one or two blocks per call; at quality 90 that
 * glue and the one-block-wide AVX2 DCT were ~30% of a caption frame's JPEG
 * time. Here one AVX2 pass does all three for two blocks at once (one per
 * 128-bit lane), and jpeg.c calls it for a whole 16-row strip. libjpeg
 * still does everything else (headers, Huffman coding). */
#ifndef VC_CAPTION_FDCT_H
#define VC_CAPTION_FDCT_H

#include <stdint.h>

/* A quantisation table as libjpeg-turbo's divisors for the accurate DCT,
 * in natural (row-major) order. */
typedef struct vc_fdct_div {
    uint16_t recip[64], corr[64], scale[64];
    uint8_t shift[64];
} vc_fdct_div;

/* quantval: a JPEG quantisation table (1..255 each, natural order). */
void vc_fdct_div_init(vc_fdct_div *d, const uint16_t quantval[64]);

/* Two 8x8 blocks, A of rows ra[0..7] from column xa and B of rows
 * rb[0..7] from column xb, to quantised coefficients (natural order) in oa
 * and ob, both with the divisors d. */
typedef void (*vc_fdct2_fn)(const uint8_t *const ra[8], int xa, const uint8_t *const rb[8], int xb,
                            const vc_fdct_div *d, int16_t *oa, int16_t *ob);

enum { VC_FDCT_C, VC_FDCT_AVX2, VC_FDCT_AVX512VL };

/* One path (NULL where this CPU or compiler lacks it), or the fastest
 * SIMD one (NULL without one: then libjpeg's own DCT is faster than our C,
 * which is there to test the rest against). */
vc_fdct2_fn vc_fdct2_path(int path);
vc_fdct2_fn vc_fdct2_best(void);

#endif
