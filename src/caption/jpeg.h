/* Baseline JPEG of a full-range 4:2:0 Y'CbCr frame (JFIF), through
 * libjpeg-turbo's raw-data interface: the same bytes as TurboJPEG's
 * tjCompressFromYUVPlanes with its accurate DCT (tests check), and cheaper
 * on frames that are not in cache (1.17 -> ~0.93 ms for a 1008x560 caption
 * proxy, bench/caption).
 *
 * Why not tjCompressFromYUVPlanes: libjpeg reads each 16-row strip of the
 * frame eight rows at a time, 32 row streams across Y, Cb and Cr, more than
 * the hardware prefetcher follows, so a frame written a while ago (a
 * caption proxy) stalls on memory in the sample loads. We copy each strip
 * into a small buffer first (sequential reads, edge-padded to whole blocks)
 * and hand libjpeg that, which stays in L1/L2. (Reading the planes in
 * place with software prefetch, or with strides off powers of two, was
 * slower still.)
 *
 * The DCT and quantisation are ours (caption/fdct.h, two blocks per AVX2
 * pass, bit-exact): libjpeg's coefficient step is swapped for one that
 * transforms each MCU's blocks and hands them to libjpeg's Huffman coder.
 * 0.93 -> 0.82 ms per 1008x560 frame. One encoder per thread. */
#ifndef VC_CAPTION_JPEG_H
#define VC_CAPTION_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "caption/fdct.h"

typedef struct vc_jpeg vc_jpeg;

vc_jpeg *vc_jpeg_new(void);
void vc_jpeg_free(vc_jpeg *j);

/* planes/strides: Y (w x h), Cb and Cr ((w+1)/2 x (h+1)/2). On success
 * *out points into the encoder (valid until the next call) and 0 is
 * returned; -1 with vc_jpeg_error() set otherwise. */
int vc_jpeg_encode420(vc_jpeg *j, const uint8_t *const planes[3], const int strides[3], int w, int h, int quality,
                      const uint8_t **out, size_t *len);
const char *vc_jpeg_error(const vc_jpeg *j);
/* Which DCT the encoder runs (default vc_fdct2_best(); NULL: libjpeg's
 * own), for tests and benchmarks: all give the same bytes. */
void vc_jpeg_use_dct(vc_jpeg *j, vc_fdct2_fn f);

#endif
