/* A request body built and sent in pieces, never joined into one buffer:
 * the JSON is text the body owns, the frames' base64 (2.2 MB per 1080p
 * window) is borrowed from the window, which must outlive the request and
 * its retries. Joining cost a 2.2 MB allocation per request, which with
 * split's fixed mmap threshold is a fresh mapping and ~550 page faults
 * every time (~10% of caption frame preparation, bench/caption). */
#ifndef VC_CAPTION_BODY_H
#define VC_CAPTION_BODY_H

#include <stddef.h>

typedef struct vc_cap_body vc_cap_body;

vc_cap_body *vc_cap_body_new(void);
void vc_cap_body_free(vc_cap_body *b);
/* Appends a copy of s[0..n). */
void vc_cap_body_add(vc_cap_body *b, const char *s, size_t n);
/* Appends s[0..n) by reference. */
void vc_cap_body_borrow(vc_cap_body *b, const char *s, size_t n);
size_t vc_cap_body_len(const vc_cap_body *b);
/* Copies up to n bytes from offset at into dst; returns how many. */
size_t vc_cap_body_read(const vc_cap_body *b, size_t at, char *dst, size_t n);
/* All of it as one NUL-terminated string (tests, logs). */
char *vc_cap_body_join(const vc_cap_body *b);

#endif
