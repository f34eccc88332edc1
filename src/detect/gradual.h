/* Dissolve and fade detection on tiny BGR images (see gradual.c). */
#ifndef VC_DETECT_GRADUAL_H
#define VC_DETECT_GRADUAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vc_gradual_params {
    int min_len, max_len;
    int join_gap;     /* ranges closer than this many frames join */
    double min_diff, max_path_ratio, max_residual, max_alpha_dev;
} vc_gradual_params;

typedef struct vc_gradual vc_gradual;

/* n = bytes per tiny image (w*h*3). */
vc_gradual *vc_gradual_new(const vc_gradual_params *p, size_t n);
/* Frame t (0,1,2,... in order). Returns mean |diff| to frame t-1 (0 for t=0). */
double vc_gradual_push(vc_gradual *g, int64_t t, const uint8_t *tiny);
void vc_gradual_finish(vc_gradual *g);
/* Next finished transition range, in increasing order. */
bool vc_gradual_pop(vc_gradual *g, int64_t *first, int64_t *last, double *score);
/* No range touching frames < this will be popped later (INT64_MAX after finish). */
int64_t vc_gradual_final_before(const vc_gradual *g);
/* The range being grown, if any: its frames are certain to be reported
 * (ranges only grow until popped). */
bool vc_gradual_open_range(const vc_gradual *g, int64_t *first, int64_t *last);
/* Max frames between a push and final_before passing it. */
int vc_gradual_latency(const vc_gradual *g);
void vc_gradual_free(vc_gradual *g);

#endif
