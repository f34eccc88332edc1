/* vc_pyjson must print exactly what CPython's json.dumps prints: checked
 * against /usr/bin/python3 on fixed tricky trees and on random ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/pyjson.h"
#include "storage/fs.h"
#include "support/tmpdir.h"

#define PYTHON "/usr/bin/python3"

static void check_dump(const json_t *v, int indent, const char *want)
{
    char *got = vc_pyjson_dumps(v, indent);
    assert_string_equal(got, want);
    free(got);
}

/* Python's compact and indent=4 output for tree (round-tripped through a
 * file that jansson writes with full float precision). */
static void python_dumps(const json_t *tree, char **compact, char **indented)
{
    char *dir = vc_test_tmpdir("pyjson");
    char *in = vc_asprintf("%s/in.json", dir);
    char *o1 = vc_asprintf("%s/o1.json", dir);
    char *o2 = vc_asprintf("%s/o2.json", dir);
    assert_int_equal(json_dump_file(tree, in, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)), 0);
    char *cmd = vc_asprintf(
        PYTHON " -c 'import json,sys; o=json.load(open(sys.argv[1])); "
        "open(sys.argv[2],\"w\").write(json.dumps(o)); "
        "open(sys.argv[3],\"w\").write(json.dumps(o, indent=4))' %s %s %s",
        in, o1, o2);
    assert_int_equal(system(cmd), 0);
    *compact = vc_fs_read_all(o1, NULL);
    *indented = vc_fs_read_all(o2, NULL);
    assert_non_null(*compact);
    assert_non_null(*indented);
    assert_int_equal(vc_test_rm_rf(dir), 0);
    free(dir);
    free(cmd);
    free(in);
    free(o1);
    free(o2);
}

static void check_against_python(const json_t *tree)
{
    if (access(PYTHON, X_OK) != 0)
        skip();
    char *want_c, *want_i;
    python_dumps(tree, &want_c, &want_i);
    check_dump(tree, VC_PYJSON_COMPACT, want_c);
    check_dump(tree, 4, want_i);
    free(want_c);
    free(want_i);
}

static json_t *tricky_tree(void)
{
    json_t *floats = json_array();
    const double fs[] = {0.1, 10.0, 30000.0 / 1001.0, 1e16, 1e-05, 1.5e-07, -0.0, 0.0,
                         123456789.123, 5e-324, 1.7976931348623157e308, 0.5, 100.0, 1e22,
                         1234567890123456.0, 2.5e-5, 1.0 / 3.0};
    for (size_t i = 0; i < VC_ARRAY_LEN(fs); i++)
        json_array_append_new(floats, json_real(fs[i]));
    json_t *t = json_object();
    json_object_set_new(t, "z_first", json_integer(1));
    json_object_set_new(t, "a", json_pack("[i, f, {s:[]}, {}]", 1, 2.5, "b"));
    json_object_set_new(t, "nested", json_pack("{s:{s:[[], [{}], [[1]]]}}", "d", "e"));
    json_object_set_new(t, "s", json_string("tab\t nl\n cr\r quote\" bs\\ slash/ ctrl\x01\x1f bs\b ff\f "
                                            "del\x7f \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xe2\x80\xa8 "
                                            "\xef\xbf\xbf"));
    json_object_set_new(t, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", json_string("unicode key"));
    json_object_set_new(t, "", json_string("empty key"));
    json_object_set_new(t, "t", json_true());
    json_object_set_new(t, "f", json_false());
    json_object_set_new(t, "n", json_null());
    json_object_set_new(t, "big", json_integer(1234567890123456789LL));
    json_object_set_new(t, "neg", json_integer(-5));
    json_object_set_new(t, "floats", floats);
    json_object_set_new(t, "empty_list", json_array());
    json_object_set_new(t, "empty_dict", json_object());
    return t;
}

static void test_tricky_vs_python(void **state)
{
    (void)state;
    json_t *t = tricky_tree();
    check_against_python(t);
    json_decref(t);
}

static void test_scalars_top_level(void **state)
{
    (void)state;
    json_t *v = json_string("caf\xc3\xa9");
    check_dump(v, 4, "\"caf\\u00e9\"");
    json_decref(v);
    v = json_real(29.97002997002997);
    check_dump(v, VC_PYJSON_COMPACT, "29.97002997002997");
    json_decref(v);
    v = json_integer(0);
    check_dump(v, 4, "0");
    json_decref(v);
    check_dump(NULL, 4, "null");
}

/* Expected strings printed by CPython 3.11. */
static void test_nonfinite_and_escapes(void **state)
{
    (void)state;
    json_t *v = vc_pyjson_real(NAN);
    check_dump(v, VC_PYJSON_COMPACT, "NaN");
    json_decref(v);
    json_t *a = json_array();
    json_array_append_new(a, vc_pyjson_real(INFINITY));
    json_array_append_new(a, vc_pyjson_real(-INFINITY));
    check_dump(a, VC_PYJSON_COMPACT, "[Infinity, -Infinity]");
    json_decref(a);
    a = json_array();
    json_array_append_new(a, vc_pyjson_real(INFINITY));
    check_dump(a, 4, "[\n    Infinity\n]");
    json_decref(a);
    /* A finite value through vc_pyjson_real is a plain real. */
    v = vc_pyjson_real(10.0);
    assert_true(json_is_real(v));
    check_dump(v, 4, "10.0");
    json_decref(v);
    /* Invalid UTF-8 (a surrogateescape'd file name) as Python prints it. */
    v = vc_pyjson_str("a\xff" "b\xe2\x82");
    check_dump(v, 4, "\"a\\udcffb\\udce2\\udc82\"");
    json_decref(v);
}

static void test_indent_layouts(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:[], s:{}, s:[{}]}", "a", "b", "c");
    check_dump(o, 4, "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        {}\n    ]\n}");
    check_dump(o, 0, "{\n\"a\": [],\n\"b\": {},\n\"c\": [\n{}\n]\n}");
    check_dump(o, VC_PYJSON_COMPACT, "{\"a\": [], \"b\": {}, \"c\": [{}]}");
    json_decref(o);
}

/* Random trees: random doubles (any bit pattern that is finite), random
 * code points (all planes, control chars), random nesting. */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void append_utf8(vc_buf *b, unsigned cp)
{
    unsigned char s[4];
    size_t n;
    if (cp < 0x80) {
        s[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        s[0] = (unsigned char)(0xC0 | (cp >> 6));
        s[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        s[0] = (unsigned char)(0xE0 | (cp >> 12));
        s[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        s[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        s[0] = (unsigned char)(0xF0 | (cp >> 18));
        s[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        s[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        s[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    vc_buf_append(b, s, n);
}

static json_t *random_string(void)
{
    vc_buf b = {0};
    int len = (int)(next_rand() % 12);
    for (int i = 0; i < len; i++) {
        unsigned cp;
        switch (next_rand() % 4) {
        case 0: cp = (unsigned)(next_rand() % 0x80); break;
        case 1: cp = (unsigned)(next_rand() % 0x800); break;
        case 2: cp = (unsigned)(next_rand() % 0x10000); break;
        default: cp = 0x10000 + (unsigned)(next_rand() % 0x100000); break;
        }
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
            cp = 'x';
        append_utf8(&b, cp);
    }
    json_t *s = json_stringn(b.data ? (const char *)b.data : "", b.len);
    vc_buf_free(&b);
    assert_non_null(s);
    return s;
}

static json_t *random_value(int depth)
{
    switch (next_rand() % (depth > 3 ? 6 : 8)) {
    case 0: return json_integer((json_int_t)(next_rand() >> (next_rand() % 64)) * (next_rand() % 2 ? 1 : -1));
    case 1: {
        uint64_t bits = next_rand();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d))
            d = (double)(bits % 100000) / 7.0;
        return json_real(d);
    }
    case 2: return json_real((double)(next_rand() % 100000) / (double)(1 + next_rand() % 1000));
    case 3: return random_string();
    case 4: return json_boolean(next_rand() % 2);
    case 5: return json_null();
    case 6: {
        json_t *a = json_array();
        int n = (int)(next_rand() % 5);
        for (int i = 0; i < n; i++)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        int n = (int)(next_rand() % 5);
        for (int i = 0; i < n; i++) {
            json_t *k = random_string();
            json_object_set_new(o, json_string_value(k), random_value(depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

static void test_random_vs_python(void **state)
{
    (void)state;
    json_t *all = json_array();
    for (int i = 0; i < 400; i++)
        json_array_append_new(all, random_value(0));
    check_against_python(all);
    json_decref(all);
}

static void test_write_file(void **state)
{
    (void)state;
    char *dir = vc_test_tmpdir("pyjson-w");
    char *path = vc_asprintf("%s/sub/x.json", dir);
    json_t *o = json_pack("{s:i}", "k", 1);
    assert_int_equal(vc_pyjson_write_file(path, o, 4, true), 0);
    assert_int_equal(vc_pyjson_write_file(path, o, VC_PYJSON_COMPACT, true), 1);
    char *got = vc_fs_read_all(path, NULL);
    assert_string_equal(got, "{\n    \"k\": 1\n}");
    free(got);
    assert_int_equal(vc_pyjson_write_file(path, o, VC_PYJSON_COMPACT, false), 0);
    got = vc_fs_read_all(path, NULL);
    assert_string_equal(got, "{\"k\": 1}");
    free(got);
    json_decref(o);
    assert_int_equal(vc_test_rm_rf(dir), 0);
    free(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tricky_vs_python),
        cmocka_unit_test(test_scalars_top_level),
        cmocka_unit_test(test_nonfinite_and_escapes),
        cmocka_unit_test(test_indent_layouts),
        cmocka_unit_test(test_random_vs_python),
        cmocka_unit_test(test_write_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
