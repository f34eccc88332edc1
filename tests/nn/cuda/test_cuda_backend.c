/* The CUDA backend's host side where no GPU can be used (CI, this build
 * machine): it must link, count 0 devices without crashing (static cudart,
 * no libcuda) and refuse to start with a message. On a GPU machine the
 * parity test is bench/nn/gpu/run_gpu.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nn/cuda/tnet_cuda.h"

static void test_no_device(void **state)
{
    (void)state;
    if (vc_cuda_device_count() > 0) skip();
    vc_tnet_params p;
    memset(&p, 0, sizeof p);
    char err[256] = "";
    assert_null(vc_tnet_cuda_new(&p, 0, 4, err, sizeof err));
    assert_true(strlen(err) > 0);
    assert_int_equal(vc_cuda_device_count(), 0); /* asking twice is fine too */
    vc_tnet_cuda_free(NULL);
}

static void test_bad_device(void **state)
{
    (void)state;
    vc_tnet_params p;
    memset(&p, 0, sizeof p);
    char err[256] = "";
    assert_null(vc_tnet_cuda_new(&p, 1000, 1, err, sizeof err));
    assert_true(strlen(err) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_device),
        cmocka_unit_test(test_bad_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
