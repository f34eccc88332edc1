/* Python json.dumps, reproduced for jansson trees (see pyjson.h). */
#include "dataset/pyjson.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "storage/fs.h"
#include "util/pyfmt.h"

/* 0xFF never occurs in UTF-8, so no real string starts with this marker. */
#define NONFINITE_MARK "\xff\xfe"
#define NONFINITE_MARK_LEN 2

static void put(vc_buf *out, const char *s)
{
    vc_buf_append(out, s, strlen(s));
}

/* "\\uXXXX" with lower-case hex, as Python writes it; cp <= 0xFFFF. */
static void put_escape_u(vc_buf *out, unsigned cp)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[6] = {'\\', 'u', hex[(cp >> 12) & 0xF], hex[(cp >> 8) & 0xF],
                   hex[(cp >> 4) & 0xF], hex[cp & 0xF]};
    vc_buf_append(out, tmp, sizeof tmp);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if s[0] does not
 * start one; *cp receives the code point. Strict, as Python's decoder:
 * no overlongs, no encoded surrogates, nothing above U+10FFFF. */
static size_t utf8_decode(const unsigned char *s, size_t avail, unsigned *cp)
{
    unsigned c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        *cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        *cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned b = s[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
            return 0;
        *cp = (*cp << 6) | (b & 0x3F);
    }
    return n;
}

static void put_codepoint(vc_buf *out, unsigned cp)
{
    switch (cp) {
    case '"': put(out, "\\\""); return;
    case '\\': put(out, "\\\\"); return;
    case '\n': put(out, "\\n"); return;
    case '\r': put(out, "\\r"); return;
    case '\t': put(out, "\\t"); return;
    case '\b': put(out, "\\b"); return;
    case '\f': put(out, "\\f"); return;
    default: break;
    }
    if (cp >= 0x20 && cp < 0x7F) {
        char c = (char)cp;
        vc_buf_append(out, &c, 1);
    } else if (cp < 0x10000) {
        put_escape_u(out, cp);
    } else {
        cp -= 0x10000;
        put_escape_u(out, 0xD800 | (cp >> 10));
        put_escape_u(out, 0xDC00 | (cp & 0x3FF));
    }
}

/* ensure_ascii=True string literal; invalid bytes as surrogateescape does. */
static void put_string(vc_buf *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    vc_buf_append(out, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            put_escape_u(out, 0xDC00 | s[i]);
            i++;
            continue;
        }
        put_codepoint(out, cp);
        i += n;
    }
    vc_buf_append(out, "\"", 1);
}

static void put_float(vc_buf *out, double x)
{
    if (isnan(x)) {
        put(out, "NaN");
    } else if (isinf(x)) {
        put(out, x < 0 ? "-Infinity" : "Infinity");
    } else {
        char buf[VC_PY_FLOAT_REPR_MAX];
        put(out, vc_py_float_repr(x, buf));
    }
}

static void put_newline_indent(vc_buf *out, int indent, int level)
{
    vc_buf_append(out, "\n", 1);
    for (int i = 0; i < indent * level; i++)
        vc_buf_append(out, " ", 1);
}

static void dump(vc_buf *out, const json_t *v, int indent, int level);

/* Separator before item i of a container and the opening/closing layout,
 * as Python's encoder: ", " on one line, or ",\n<indent>" with indent. */
static void put_item_sep(vc_buf *out, size_t i, int indent, int level)
{
    if (i > 0)
        put(out, indent < 0 ? ", " : ",");
    if (indent >= 0)
        put_newline_indent(out, indent, level);
}

static void dump_array(vc_buf *out, const json_t *v, int indent, int level)
{
    size_t n = json_array_size(v);
    if (n == 0) {
        put(out, "[]");
        return;
    }
    put(out, "[");
    for (size_t i = 0; i < n; i++) {
        put_item_sep(out, i, indent, level + 1);
        dump(out, json_array_get(v, i), indent, level + 1);
    }
    if (indent >= 0)
        put_newline_indent(out, indent, level);
    put(out, "]");
}

static void dump_object(vc_buf *out, const json_t *v, int indent, int level)
{
    if (json_object_size(v) == 0) {
        put(out, "{}");
        return;
    }
    put(out, "{");
    size_t i = 0;
    /* jansson iterates objects in insertion order, like a Python dict. */
    for (void *it = json_object_iter((json_t *)v); it;
         it = json_object_iter_next((json_t *)v, it), i++) {
        put_item_sep(out, i, indent, level + 1);
        put_string(out, json_object_iter_key(it), json_object_iter_key_len(it));
        put(out, ": ");
        dump(out, json_object_iter_value(it), indent, level + 1);
    }
    if (indent >= 0)
        put_newline_indent(out, indent, level);
    put(out, "}");
}

static bool is_nonfinite_marker(const char *s, size_t len)
{
    return len > NONFINITE_MARK_LEN && memcmp(s, NONFINITE_MARK, NONFINITE_MARK_LEN) == 0;
}

static void dump(vc_buf *out, const json_t *v, int indent, int level)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        dump_object(out, v, indent, level);
        break;
    case JSON_ARRAY:
        dump_array(out, v, indent, level);
        break;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (is_nonfinite_marker(s, len))
            vc_buf_append(out, s + NONFINITE_MARK_LEN, len - NONFINITE_MARK_LEN);
        else
            put_string(out, s, len);
        break;
    }
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(out, num);
        break;
    case JSON_REAL:
        put_float(out, json_real_value(v));
        break;
    case JSON_TRUE:
        put(out, "true");
        break;
    case JSON_FALSE:
        put(out, "false");
        break;
    case JSON_NULL:
        put(out, "null");
        break;
    }
}

void vc_pyjson_dump_buf(vc_buf *out, const json_t *v, int indent)
{
    if (!v)
        put(out, "null");
    else
        dump(out, v, indent < 0 ? VC_PYJSON_COMPACT : indent, 0);
}

char *vc_pyjson_dumps(const json_t *v, int indent)
{
    vc_buf b = {0};
    vc_pyjson_dump_buf(&b, v, indent);
    vc_buf_append(&b, "", 1);
    return (char *)b.data;
}

json_t *vc_pyjson_real(double x)
{
    if (isfinite(x))
        return json_real(x);
    vc_buf b = {0};
    vc_buf_append(&b, NONFINITE_MARK, NONFINITE_MARK_LEN);
    put_float(&b, x);
    json_t *s = json_stringn_nocheck((const char *)b.data, b.len);
    vc_buf_free(&b);
    return s;
}

json_t *vc_pyjson_str(const char *s)
{
    return json_stringn_nocheck(s, strlen(s));
}

int vc_pyjson_write_file(const char *path, const json_t *v, int indent, bool noclobber)
{
    vc_buf b = {0};
    vc_pyjson_dump_buf(&b, v, indent);
    int rc = noclobber ? vc_fs_write_atomic_noclobber(path, b.data, b.len)
                       : vc_fs_write_atomic(path, b.data, b.len);
    vc_buf_free(&b);
    return rc;
}

json_t *vc_json_load_path(const char *path, size_t flags, json_error_t *err)
{
    size_t len = 0;
    char *text = vc_fs_read_all(path, &len);
    if (!text) {
        int e = errno;
        memset(err, 0, sizeof *err);
        snprintf(err->text, sizeof err->text, "%s", vc_fs_strerror(path, -e));
        return NULL;
    }
    json_t *j = json_loadb(text, len, flags, err);
    free(text);
    return j;
}
