/* The dataset indexes Cosmos Curator writes after packing
 * (read_write/summary_writers.py::write_shard_summary):
 *   {bin}/wdinfo.json  json.dumps(indent=4) of {"data_keys": ["video",
 *                      "t5_xxl", "metas"], "chunk_size": max_tars_per_part,
 *                      "data_list": sorted tar paths under video/,
 *                      "root": str(Path(out, version, bin)),
 *                      "total_key_count": samples in the bin}
 *   wdinfo_list.csv    csv.writer rows [str(Path(root, "wdinfo.json"))],
 *                      "\r\n" line ends, one row per bin in bin order.
 * Bins whose every tar was dropped get neither (Cosmos crashes there). */
#ifndef VC_SHARD_WDINFO_H
#define VC_SHARD_WDINFO_H

#include "shard/plan.h"

/* out_root = {output_dataset_path}/{version} as the user spelled it.
 * Returns 0 or -1 (errors logged). */
int vc_shard_write_wdinfo(const vc_shard_plan *plan, const char *out_root, int max_tars_per_part);

/* One CSV field as Python's csv.writer (excel dialect) writes it. */
char *vc_shard_csv_field(const char *s);

#endif
