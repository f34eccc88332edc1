/* json.loads as Python reads Cosmos Curator's metadata: like jansson, plus
 * the bare NaN / Infinity / -Infinity tokens Python's json.dump writes for
 * non-finite floats (kept through vc_pyjson_real, so a json.dumps of the
 * result prints them back the same way). */
#ifndef VC_SHARD_PYLOAD_H
#define VC_SHARD_PYLOAD_H

#include <stddef.h>
#include <jansson.h>

/* NULL on error, with a message "line L column C: ..." in *err (malloc'd). */
json_t *vc_shard_json_loads(const char *text, size_t len, char **err);

#endif
