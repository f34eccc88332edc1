/* base64 (standard alphabet, padded) of the JPEG frames sent to the VLM:
 * 2.2 MB per 1080p window, so on x86-64 with AVX2 24 bytes are encoded per
 * step (Muła's pshufb method), ~8x the table-driven loop. */
#ifndef VC_CAPTION_BASE64_H
#define VC_CAPTION_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Returns a NUL-terminated string of 4 * ceil(len / 3) characters. */
char *vc_b64_encode(const uint8_t *data, size_t len, size_t *out_len);
/* The portable loop alone (tests compare). */
char *vc_b64_encode_c(const uint8_t *data, size_t len, size_t *out_len);

#endif
