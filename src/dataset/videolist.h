/* --input-video-list-json-path: a JSON array of full video paths, each under
 * --input-video-path (as Cosmos Curator's _read_video_list_json). */
#ifndef VC_DATASET_VIDEOLIST_H
#define VC_DATASET_VIDEOLIST_H

#include "util/common.h"

/* Append the relpath of every listed video to out, in list order. Each entry
 * must be a string starting with input_path (trailing '/' stripped) + "/".
 * Returns 0, or -1 with *err set (names the file, and the bad entry with its
 * index; free it); out is then unchanged. */
int vc_videolist_read(const char *json_path, const char *input_path, vc_strlist *out, char **err);

#endif
