/* Resume selection, as Cosmos Curator's extract_single_cam_split_tasks:
 * P = fully processed videos under processed_videos/; the listing is the
 * JSON list, or the sorted input tree cut to |P| + limit entries (limit > 0);
 * drop the videos in P, keep the first limit. */
#include "dataset/resume.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/pyjson.h"
#include "dataset/records.h"
#include "dataset/videolist.h"
#include "storage/fs.h"
#include "util/log.h"

/* processed_video_json is "rel.json" relative to processed_videos/. */
static bool chunks_complete(const char *output_path, const char *video_json_path, const char *rel)
{
    json_error_t jerr;
    json_t *rec = vc_json_load_path(video_json_path, JSON_DECODE_ANY, &jerr);
    /* Python: int(data["num_clip_chunks"]); anything else = not processed. */
    json_t *n = json_is_object(rec) ? json_object_get(rec, "num_clip_chunks") : NULL;
    if (!json_is_integer(n)) {
        vc_error("Failed to read processed video json %s: %s", video_json_path,
                 rec ? "no integer num_clip_chunks" : jerr.text);
        json_decref(rec);
        return false;
    }
    json_int_t chunks = json_integer_value(n);
    json_decref(rec);
    for (json_int_t i = 0; i < chunks; i++) {
        char *p = vc_out_clip_chunk_path(output_path, rel, i);
        bool ok = vc_fs_exists(p);
        free(p);
        if (!ok) {
            vc_debug("Semi-processed video %s missing chunk-%lld", rel, (long long)i);
            return false;
        }
    }
    return true;
}

static char *strip_json_suffix(const char *s)
{
    size_t n = strlen(s);
    if (n >= 5 && strcmp(s + n - 5, ".json") == 0)
        n -= 5;
    char *r = vc_xmalloc(n + 1);
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

void vc_resume_find_processed(const char *output_path, vc_strlist *out)
{
    char *dir = vc_fs_join(output_path, "processed_videos");
    vc_strlist files = {0};
    vc_fs_list_recursive(dir, &files);
    for (size_t i = 0; i < files.len; i++) {
        char *rel_json = vc_fs_relpath(dir, files.items[i]);
        char *rel = strip_json_suffix(rel_json);
        if (chunks_complete(output_path, files.items[i], rel))
            vc_strlist_push_owned(out, rel);
        else
            free(rel);
        free(rel_json);
    }
    vc_strlist_sort(out);
    vc_info("Found %zu fully processed videos in %s", out->len, dir);
    vc_strlist_free(&files);
    free(dir);
}

static int cmp_str_key(const void *key, const void *item)
{
    return strcmp(key, *(char *const *)item);
}

static bool contains(const vc_strlist *sorted, const char *s)
{
    return sorted->len && bsearch(s, sorted->items, sorted->len, sizeof(char *), cmp_str_key);
}

void vc_resume_filter(const vc_strlist *listed, const vc_strlist *processed_sorted, int64_t limit,
                      vc_strlist *to_process)
{
    for (size_t i = 0; i < listed->len; i++) {
        if (limit > 0 && (int64_t)to_process->len >= limit)
            break;
        if (!contains(processed_sorted, listed->items[i]))
            vc_strlist_push(to_process, listed->items[i]);
    }
}

/* Sorted relpaths of every file under input_path, cut to max entries (> 0). */
static int list_input(const char *input_path, size_t max, vc_strlist *out, char **err)
{
    vc_strlist files = {0};
    int rc = vc_fs_list_recursive(input_path, &files);
    if (rc < 0) {
        vc_strlist_free(&files);
        char *msg = vc_asprintf("cannot list input video path %s: %s", input_path, strerror(-rc));
        if (err)
            *err = msg;
        else
            free(msg);
        return -1;
    }
    for (size_t i = 0; i < files.len && (max == 0 || i < max); i++) {
        char *rel = vc_fs_relpath(input_path, files.items[i]);
        if (rel)
            vc_strlist_push_owned(out, rel);
    }
    vc_strlist_free(&files);
    return 0;
}

int vc_resume_select(const vc_resume_input *in, vc_resume_result *out, char **err)
{
    memset(out, 0, sizeof *out);
    char *summary = vc_fs_join(in->output_path, "summary.json");
    if (vc_fs_exists(summary))
        vc_warn("Output path %s already concluded with a summary.json file", in->output_path);
    free(summary);

    vc_strlist processed = {0};
    vc_resume_find_processed(in->output_path, &processed);
    out->num_processed = processed.len;

    int rc;
    if (in->list_json_path) {
        rc = vc_videolist_read(in->list_json_path, in->input_path, &out->all_videos, err);
    } else {
        size_t max = in->limit > 0 ? processed.len + (size_t)in->limit : 0;
        rc = list_input(in->input_path, max, &out->all_videos, err);
    }
    if (rc == 0) {
        vc_info("Found %zu input videos in %s", out->all_videos.len, in->input_path);
        vc_resume_filter(&out->all_videos, &processed, in->limit, &out->to_process);
    } else {
        vc_resume_result_free(out);
    }
    vc_strlist_free(&processed);
    return rc;
}

void vc_resume_result_free(vc_resume_result *r)
{
    vc_strlist_free(&r->all_videos);
    vc_strlist_free(&r->to_process);
    r->num_processed = 0;
}
