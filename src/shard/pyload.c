#include "shard/pyload.h"

#include <math.h>
#include <string.h>

#include "dataset/pyjson.h"
#include "util/common.h"

/* Placeholder strings for non-finite numbers; the NUL byte keeps them from
 * colliding with any real string (parsed with JSON_ALLOW_NUL). */
static const char *const MARK_NAN = "\\u0000vc:NaN";
static const char *const MARK_INF = "\\u0000vc:Infinity";
static const char *const MARK_NINF = "\\u0000vc:-Infinity";

static bool token_at(const char *s, size_t i, size_t len, const char *tok)
{
    size_t n = strlen(tok);
    return i + n <= len && memcmp(s + i, tok, n) == 0;
}

/* Rewrite bare NaN/Infinity/-Infinity (outside strings) as marker strings.
 * Returns NULL when there are none. */
static char *quote_nonfinite(const char *s, size_t len, size_t *out_len)
{
    vc_buf b = { 0 };
    bool in_str = false, found = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\' && i + 1 < len) {
                vc_buf_append(&b, s + i, 2);
                i++;
                continue;
            }
            in_str = c != '"';
        } else if (c == '"') {
            in_str = true;
        } else {
            const char *tok = NULL, *mark = NULL;
            if (token_at(s, i, len, "NaN"))
                tok = "NaN", mark = MARK_NAN;
            else if (token_at(s, i, len, "Infinity"))
                tok = "Infinity", mark = MARK_INF;
            else if (token_at(s, i, len, "-Infinity"))
                tok = "-Infinity", mark = MARK_NINF;
            if (tok) {
                vc_buf_append(&b, "\"", 1);
                vc_buf_append(&b, mark, strlen(mark));
                vc_buf_append(&b, "\"", 1);
                i += strlen(tok) - 1;
                found = true;
                continue;
            }
        }
        vc_buf_append(&b, &c, 1);
    }
    if (!found) {
        vc_buf_free(&b);
        return NULL;
    }
    *out_len = b.len;
    return (char *)b.data;
}

static json_t *nonfinite_of(json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) < 2 || json_string_value(v)[0] != '\0')
        return NULL;
    const char *s = json_string_value(v) + 1;
    if (strcmp(s, "vc:NaN") == 0)
        return vc_pyjson_real(NAN);
    if (strcmp(s, "vc:Infinity") == 0)
        return vc_pyjson_real(INFINITY);
    if (strcmp(s, "vc:-Infinity") == 0)
        return vc_pyjson_real(-INFINITY);
    return NULL;
}

static void restore_nonfinite(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach(v, k, child) {
            json_t *r = nonfinite_of(child);
            if (r)
                json_object_set_new(v, k, r);
            else
                restore_nonfinite(child);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *child = json_array_get(v, i);
            json_t *r = nonfinite_of(child);
            if (r)
                json_array_set_new(v, i, r);
            else
                restore_nonfinite(child);
        }
    }
}

json_t *vc_shard_json_loads(const char *text, size_t len, char **err)
{
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_ALLOW_NUL, &je);
    if (v)
        return v;
    size_t qlen = 0;
    char *quoted = quote_nonfinite(text, len, &qlen);
    if (quoted) {
        json_error_t je2;
        v = json_loadb(quoted, qlen, JSON_ALLOW_NUL, &je2);
        free(quoted);
        if (v) {
            restore_nonfinite(v);
            return v;
        }
    }
    *err = vc_asprintf("line %d column %d: %s", je.line, je.column, je.text);
    return NULL;
}
