/* What shard tells the user: every clip left out with its reason (log and
 * shard_summary.json), and the end-of-run summary. Cosmos drops such clips
 * with at most a warning; here nothing disappears silently. */
#ifndef VC_SHARD_REPORT_H
#define VC_SHARD_REPORT_H

#include "shard/clips.h"
#include "shard/pack.h"
#include "shard/plan.h"
#include "shard/shard.h"
#include "shard/t5src.h"

/* One warning per left-out clip (the first 50 of each reason; the rest at
 * debug level, i.e. with --verbose) and a count per reason. */
void vc_shard_log_left_out(const vc_shard_cliplist *clips);

/* {out_root}/shard_summary.json (deterministic: no timings). Returns 0/-1. */
int vc_shard_write_summary(const char *out_root, const vc_shard_opts *o,
                           const vc_shard_cliplist *clips, const vc_shard_plan *plan,
                           const vc_shard_t5 *t5, const vc_shard_pack_stats *stats);

#endif
