/* Serialize jansson trees byte-for-byte as Python's json.dumps does, since
 * Cosmos Curator's outputs (and tools diffing them) are Python-written:
 * ensure_ascii escapes, float repr, key insertion order, indent layout. */
#ifndef VC_DATASET_PYJSON_H
#define VC_DATASET_PYJSON_H

#include <stdbool.h>
#include <jansson.h>

#include "util/common.h"

/* json.dumps(obj): one line, separators ", " and ": ". */
#define VC_PYJSON_COMPACT (-1)

/* Append json.dumps(v) (indent = VC_PYJSON_COMPACT) or
 * json.dumps(v, indent=indent) (indent >= 0) to out. No trailing newline. */
void vc_pyjson_dump_buf(vc_buf *out, const json_t *v, int indent);

/* Same, as a new NUL-terminated string. */
char *vc_pyjson_dumps(const json_t *v, int indent);

/* A float value that keeps NaN and +-Infinity (jansson's json_real refuses
 * them): finite x gives json_real(x); others a private marker string that
 * vc_pyjson_dump_buf prints as NaN / Infinity / -Infinity, as Python does. */
json_t *vc_pyjson_real(double x);

/* A string from raw bytes (e.g. a file name) without UTF-8 validation:
 * bytes that are not valid UTF-8 are printed as \udcXX, the way Python's
 * surrogateescape file names serialize. Never returns NULL for non-NULL s. */
json_t *vc_pyjson_str(const char *s);

/* Write json.dumps(v, indent) to path atomically. noclobber: skip (return 1)
 * when path exists, as Cosmos's write_json does. Returns 0, 1 or -errno. */
int vc_pyjson_write_file(const char *path, const json_t *v, int indent, bool noclobber);

/* json_load_file for a local path or an s3:// object (storage/fs.h). */
json_t *vc_json_load_path(const char *path, size_t flags, json_error_t *err);

#endif
