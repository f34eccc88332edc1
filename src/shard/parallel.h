/* A minimal parallel for-loop: `threads` workers take indices 0..n-1 in
 * order from a shared counter. Enough for shard's two embarrassingly
 * parallel phases (reading metadata, packing tars). */
#ifndef VC_SHARD_PARALLEL_H
#define VC_SHARD_PARALLEL_H

#include <stddef.h>

void vc_shard_parallel_for(size_t n, int threads, void (*fn)(size_t i, void *opaque),
                           void *opaque);

/* Worker count for threads <= 0: online CPUs, clamped to [2, 8]. */
int vc_shard_default_threads(void);

#endif
