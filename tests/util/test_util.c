/* Python formatting and uuid5 must match CPython exactly: clip UUIDs hash these strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/common.h"
#include "util/pyfmt.h"
#include "util/uuid5.h"

static void check_repr(double x, const char *want)
{
    char buf[VC_PY_FLOAT_REPR_MAX];
    assert_string_equal(vc_py_float_repr(x, buf), want);
}

static void test_float_repr(void **state)
{
    (void)state;
    check_repr(0.0, "0.0");
    check_repr(10.0, "10.0");
    check_repr(2.5, "2.5");
    check_repr(0.1, "0.1");
    check_repr(1.0 / 3.0, "0.3333333333333333");
    check_repr(30000.0 / 1001.0, "29.97002997002997");
    check_repr(1e16, "1e+16");
    check_repr(1234567890123456.0, "1234567890123456.0");
    check_repr(0.0001, "0.0001");
    check_repr(0.00001, "1e-05");
    check_repr(1.5e-7, "1.5e-07");
    check_repr(-12.75, "-12.75");
    check_repr(123.456, "123.456");
    check_repr(1e22, "1e+22");
}

static void test_round_half_even(void **state)
{
    (void)state;
    assert_true(vc_py_round(0.5) == 0.0);
    assert_true(vc_py_round(1.5) == 2.0);
    assert_true(vc_py_round(2.5) == 2.0);
    assert_true(vc_py_round(-2.5) == -2.0);
    assert_true(vc_py_round(2.6) == 3.0);
}

static void test_uuid5(void **state)
{
    (void)state;
    char out[VC_UUID_STR_LEN];
    /* python3 -c "import uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, 'x'))" */
    vc_uuid5_url("/data/raw/a.mp4_0.0_10.0", out);
    assert_string_equal(out, "2b37ac76-1d8d-5fca-89af-e70c0ec8437b");
    vc_uuid5_url("x", out);
    assert_string_equal(out, "4cd605e7-afa2-5360-b5b9-c5e9fb5c76f4");
    vc_uuid5_url("/tmp/v/a b.mp4", out);
    assert_string_equal(out, "f215666a-518e-5822-9a35-4979dbdae7b6");
}

static void test_strlist_sort(void **state)
{
    (void)state;
    vc_strlist l = { 0 };
    vc_strlist_push(&l, "b/a.mp4");
    vc_strlist_push(&l, "a.mp4");
    vc_strlist_push(&l, "B.mp4");
    vc_strlist_sort(&l);
    assert_string_equal(l.items[0], "B.mp4");
    assert_string_equal(l.items[1], "a.mp4");
    assert_string_equal(l.items[2], "b/a.mp4");
    vc_strlist_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_repr),
        cmocka_unit_test(test_round_half_even),
        cmocka_unit_test(test_uuid5),
        cmocka_unit_test(test_strlist_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
