/* --input-video-list-json-path reader. */
#include "dataset/videolist.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/pyjson.h"

static int fail(char **err, char *msg)
{
    if (err)
        *err = msg;
    else
        free(msg);
    return -1;
}

/* "<input_path without trailing '/'>/" */
static char *dir_prefix(const char *input_path)
{
    size_t n = strlen(input_path);
    while (n > 0 && input_path[n - 1] == '/')
        n--;
    return vc_asprintf("%.*s/", (int)n, input_path);
}

static int check_entries(const char *json_path, const json_t *arr, const char *prefix,
                         vc_strlist *rel, char **err)
{
    size_t plen = strlen(prefix);
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item) {
        if (!json_is_string(item))
            return fail(err, vc_asprintf("%s: entry %zu is not a string (expected a video path)",
                                         json_path, i));
        const char *p = json_string_value(item);
        if (strncmp(p, prefix, plen) != 0)
            return fail(err, vc_asprintf("%s: entry %zu: input video %s is not in %s",
                                         json_path, i, p, prefix));
        if (p[plen] == '\0')
            return fail(err, vc_asprintf("%s: entry %zu: %s names the input directory, not a video",
                                         json_path, i, p));
        vc_strlist_push(rel, p + plen);
    }
    return 0;
}

int vc_videolist_read(const char *json_path, const char *input_path, vc_strlist *out, char **err)
{
    json_error_t jerr;
    json_t *arr = vc_json_load_path(json_path, JSON_DECODE_ANY, &jerr);
    if (!arr)
        return fail(err, vc_asprintf("cannot read input video list %s: %s (line %d, column %d)",
                                     json_path, jerr.text, jerr.line, jerr.column));
    if (!json_is_array(arr)) {
        json_decref(arr);
        return fail(err, vc_asprintf("input video list %s: expected a JSON array of video paths",
                                     json_path));
    }
    char *prefix = dir_prefix(input_path);
    vc_strlist rel = {0};
    int rc = check_entries(json_path, arr, prefix, &rel, err);
    if (rc == 0) {
        for (size_t i = 0; i < rel.len; i++)
            vc_strlist_push_owned(out, rel.items[i]);
        free(rel.items);
    } else {
        vc_strlist_free(&rel);
    }
    free(prefix);
    json_decref(arr);
    return rc;
}
