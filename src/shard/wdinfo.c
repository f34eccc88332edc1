#include "shard/wdinfo.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/pyjson.h"
#include "storage/fs.h"
#include "util/log.h"

char *vc_shard_csv_field(const char *s)
{
    /* QUOTE_MINIMAL: quote when the field holds the delimiter, the quote
     * character or a line-terminator character; a lone empty field too. */
    if (*s && !strpbrk(s, ",\"\r\n"))
        return vc_xstrdup(s);
    vc_buf b = { 0 };
    vc_buf_append(&b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            vc_buf_append(&b, "\"", 1);
        vc_buf_append(&b, p, 1);
    }
    vc_buf_append(&b, "\"", 2); /* closing quote + NUL */
    return (char *)b.data;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static json_t *wdinfo_json(const vc_shard_plan *plan, size_t bin, const char *root,
                           int max_tars_per_part)
{
    size_t n = 0;
    const char **rels = vc_xcalloc(plan->ntars ? plan->ntars : 1, sizeof(*rels));
    for (size_t t = 0; t < plan->ntars; t++)
        if (plan->tars[t].bin == bin)
            rels[n++] = plan->tars[t].rel;
    qsort(rels, n, sizeof(*rels), cmp_str);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_string(rels[i]));
    free(rels);
    json_t *keys = json_array();
    json_array_append_new(keys, json_string("video"));
    json_array_append_new(keys, json_string("t5_xxl"));
    json_array_append_new(keys, json_string("metas"));
    json_t *o = json_object();
    json_object_set_new(o, "data_keys", keys);
    json_object_set_new(o, "chunk_size", json_integer(max_tars_per_part));
    json_object_set_new(o, "data_list", list);
    json_object_set_new(o, "root", vc_pyjson_str(root));
    json_object_set_new(o, "total_key_count", json_integer((json_int_t)plan->bins[bin].nclips));
    return o;
}

int vc_shard_write_wdinfo(const vc_shard_plan *plan, const char *out_root, int max_tars_per_part)
{
    vc_buf csv = { 0 };
    int rc = 0;
    for (size_t b = 0; b < plan->nbins; b++) {
        if (plan->bins[b].nclips == 0)
            continue;
        char *bin_dir = vc_asprintf("%s/%s", out_root, plan->bins[b].rel);
        char *root = vc_fs_pypath(bin_dir);
        char *dest_raw = vc_asprintf("%s/wdinfo.json", root);
        char *dest = vc_fs_pypath(dest_raw);
        char *file = vc_asprintf("%s/wdinfo.json", bin_dir);
        json_t *o = wdinfo_json(plan, b, root, max_tars_per_part);
        int w = vc_pyjson_write_file(file, o, 4, false);
        if (w < 0) {
            vc_error("cannot write %s: %s", file, strerror(-w));
            rc = -1;
        }
        json_decref(o);
        char *field = vc_shard_csv_field(dest);
        vc_buf_append(&csv, field, strlen(field));
        vc_buf_append(&csv, "\r\n", 2);
        free(field);
        free(file);
        free(dest);
        free(dest_raw);
        free(root);
        free(bin_dir);
    }
    char *csv_path = vc_asprintf("%s/wdinfo_list.csv", out_root);
    int w = vc_fs_write_atomic(csv_path, csv.data ? (const void *)csv.data : "", csv.len);
    if (w < 0) {
        vc_error("cannot write %s: %s", csv_path, strerror(-w));
        rc = -1;
    }
    free(csv_path);
    vc_buf_free(&csv);
    return rc;
}
