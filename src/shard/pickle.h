/* Python pickles for the t5_xxl tar members, byte-identical to what
 * `pickle.dumps(obj, protocol=4)` writes under CPython 3.8+ with numpy 1.x
 * (Cosmos Curator's shard writes pickle.dumps(list_of_arrays) and Python's
 * default protocol there is 4). Arrays are reduced the way numpy does it for
 * protocol < 5: numpy.core.multiarray._reconstruct + a BUILD state; numpy 2
 * still loads that module path through its numpy.core alias. */
#ifndef VC_SHARD_PICKLE_H
#define VC_SHARD_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/common.h"

/* A C-contiguous 2-D float16 array: rows x cols IEEE half values (raw bits,
 * host order; written little-endian as numpy's '<f2'). */
typedef struct vc_pickle_f16_array {
    const uint16_t *data;
    int64_t rows, cols;
} vc_pickle_f16_array;

/* Append pickle.dumps([a0, a1, ...], protocol=4) to out. n == 0 gives
 * pickle.dumps([]) = b'\x80\x04]\x94.'. */
void vc_pickle_f16_array_list(vc_buf *out, const vc_pickle_f16_array *arrays, size_t n);

/* The length vc_pickle_f16_array_list would append, from the shapes alone
 * (data is not read and may be NULL): what a t5_xxl member will weigh
 * before its embeddings are computed. */
size_t vc_pickle_f16_array_list_size(const vc_pickle_f16_array *arrays, size_t n);

#endif
