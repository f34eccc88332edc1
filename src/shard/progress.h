/* Shard's progress: a live "\r" line on a terminal (kept clear of log
 * lines through the log hook), a plain log line every few seconds otherwise. */
#ifndef VC_SHARD_PROGRESS_H
#define VC_SHARD_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct vc_shard_progress {
    bool tty, shown;
    int64_t total_tars, total_bytes, tars, bytes;
    double start, last;
    char line[160];
} vc_shard_progress;

void vc_shard_progress_start(vc_shard_progress *p, int64_t total_tars, int64_t total_bytes,
                             bool tty);
/* Matches vc_shard_progress_fn. */
void vc_shard_progress_update(int64_t tars, int64_t bytes, void *p);
void vc_shard_progress_end(vc_shard_progress *p);

#endif
