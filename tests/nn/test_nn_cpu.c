/* CPU runtime kernels against their direct definitions, and device parsing. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/cpu/cpu_conv.h"
#include "nn/cpu/cpu_ops.h"
#include "nn/cpu/cpu_pool.h"
#include "nn/device.h"

static uint32_t rng = 12345;

static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

static float *rand_floats(size_t n)
{
    float *p = vc_cpu_alloc_floats(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

static void assert_close(const float *a, const float *b, size_t n, float tol)
{
    for (size_t i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > tol * (1.0f + fabsf(b[i])))
            fail_msg("element %zu: %.7g vs %.7g", i, a[i], b[i]);
}

/* Direct 3x3 convolution, zero padding 1, HWC in/out, PyTorch weights. */
static void conv_direct(const float *x, int h, int w, int cin, const float *wt, int cout, float *y)
{
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
            for (int o = 0; o < cout; o++) {
                double s = 0.0;
                for (int c = 0; c < cin; c++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int sy = i + ky - 1, sx = j + kx - 1;
                            if (sy >= 0 && sy < h && sx >= 0 && sx < w)
                                s += (double)x[((size_t)sy * w + sx) * cin + c] *
                                     wt[(((size_t)o * cin + c) * 3 + ky) * 3 + kx];
                        }
                y[((size_t)i * w + j) * cout + o] = (float)s;
            }
}

static void check_conv(int nf, int h, int w, int cin, int cout)
{
    float *x = rand_floats((size_t)nf * h * w * cin), *wt = rand_floats((size_t)cout * cin * 9);
    size_t frame = (size_t)h * w * cout;
    float *want = vc_cpu_alloc_floats(nf * frame), *got = vc_cpu_alloc_floats(nf * frame);
    float *packed = vc_cpu_alloc_floats(vc_cpu_wino_packed_size(cout, cin) + (size_t)cout * cin * 9);
    float *scratch = vc_cpu_alloc_floats(vc_cpu_conv3x3_scratch(nf, h, w, cin, cout));
    for (int f = 0; f < nf; f++)
        conv_direct(x + (size_t)f * h * w * cin, h, w, cin, wt, cout, want + f * frame);

    vc_cpu_conv3x3_pack_im2col(wt, cout, cin, packed);
    vc_cpu_conv3x3_im2col(x, nf, h, w, cin, packed, cout, got, cout, scratch);
    assert_close(got, want, nf * frame, 1e-5f);

    memset(got, 0, nf * frame * sizeof *got);
    vc_cpu_conv3x3_pack_wino(wt, cout, cin, packed);
    vc_cpu_conv3x3_wino(x, nf, h, w, cin, packed, cout, got, cout, scratch);
    assert_close(got, want, nf * frame, 1e-5f);
    free(x), free(wt), free(want), free(got), free(packed), free(scratch);
}

static void test_conv3x3(void **state)
{
    (void)state;
    check_conv(1, 27, 48, 3, 8);
    check_conv(2, 13, 24, 16, 12);
    check_conv(3, 6, 12, 20, 8);
    check_conv(2, 5, 7, 4, 3);
    check_conv(1, 1, 1, 5, 2);
}

static void test_temporal_conv(void **state)
{
    (void)state;
    enum { T = 11, ROWS = 5, CIN = 6, COUT = 4, LD_IN = 10, LD_OUT = 7, D = 2 };
    float *in = rand_floats((size_t)T * ROWS * LD_IN), *wt = rand_floats(3 * COUT * CIN);
    float want[T * ROWS * LD_OUT], got[T * ROWS * LD_OUT];
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        want[i] = got[i] = (float)i;    /* accumulates onto what is there */
    for (int t = 0; t < T; t++)
        for (int p = 0; p < ROWS; p++)
            for (int f = 0; f < COUT; f++) {
                double s = 0.0;
                for (int j = 0; j < 3; j++) {
                    int u = t + (j - 1) * D;
                    if (u < 0 || u >= T)
                        continue;
                    for (int c = 0; c < CIN; c++)
                        s += (double)in[((size_t)u * ROWS + p) * LD_IN + 1 + c] * wt[(j * COUT + f) * CIN + c];
                }
                want[(t * ROWS + p) * LD_OUT + 2 + f] += (float)s;
            }
    /* in two ranges, as two tasks would */
    vc_cpu_temporal_conv3(in + 1, LD_IN, CIN, T, ROWS, D, wt, COUT, got + 2, LD_OUT, 0, 4);
    vc_cpu_temporal_conv3(in + 1, LD_IN, CIN, T, ROWS, D, wt, COUT, got + 4 * ROWS * LD_OUT + 2, LD_OUT, 4, T);
    assert_close(got, want, sizeof want / sizeof *want, 1e-5f);
    free(in), free(wt);
}

static void test_avgpool(void **state)
{
    (void)state;
    enum { H = 5, W = 7, C = 3 };
    float *x = rand_floats(H * W * C), y[2 * 3 * C];
    vc_cpu_avgpool2x2(x, H, W, C, y);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int c = 0; c < C; c++) {
                float s = x[((2 * i) * W + 2 * j) * C + c] + x[((2 * i) * W + 2 * j + 1) * C + c] +
                          x[((2 * i + 1) * W + 2 * j) * C + c] + x[((2 * i + 1) * W + 2 * j + 1) * C + c];
                assert_float_equal(y[(i * 3 + j) * C + c], s / 4, 1e-6);
            }
    free(x);
}

static void test_linear(void **state)
{
    (void)state;
    enum { M = 37, K = 300, N = 200 };
    float *x = rand_floats(M * K), *w = rand_floats(N * K), *b = rand_floats(N);
    float *got = vc_cpu_alloc_floats(M * N), want[M * N];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = b[j];
            for (int k = 0; k < K; k++)
                s += (double)x[i * K + k] * w[j * K + k];
            want[i * N + j] = s > 0 ? (float)s : 0.0f;
        }
    vc_cpu_pool *pool = vc_cpu_pool_new(3);
    assert_non_null(pool);
    vc_cpu_linear(pool, x, M, K, K, w, b, N, VC_ACT_RELU, got, N);
    assert_close(got, want, M * N, 1e-5f);
    vc_cpu_pool_free(pool);
    free(x), free(w), free(b), free(got);
}

static void count_task(void *ctx, int task, int worker)
{
    (void)worker;
    __atomic_fetch_add(&((int *)ctx)[task], 1, __ATOMIC_RELAXED);
}

static void test_pool_runs_each_task_once(void **state)
{
    (void)state;
    vc_cpu_pool *pool = vc_cpu_pool_new(4);
    assert_int_equal(vc_cpu_pool_threads(pool), 4);
    for (int round = 0; round < 50; round++) {
        int hits[97] = {0};
        vc_cpu_pool_run(pool, 97, count_task, hits);
        for (int i = 0; i < 97; i++)
            assert_int_equal(hits[i], 1);
    }
    vc_cpu_pool_free(pool);
}

static void test_l2_normalize(void **state)
{
    (void)state;
    float x[2][3] = {{3, 4, 0}, {0, 0, 0}};
    vc_cpu_l2_normalize_rows(&x[0][0], 2, 3, 3);
    assert_float_equal(x[0][0], 0.6f, 1e-7);
    assert_float_equal(x[0][1], 0.8f, 1e-7);
    assert_float_equal(x[1][2], 0.0f, 0.0);
}

static void test_device(void **state)
{
    (void)state;
    vc_nn_device d;
    char err[128], name[32];
    assert_int_equal(vc_nn_device_parse("cuda:3", &d, err, sizeof err), 0);
    assert_int_equal(d.kind, VC_DEV_CUDA);
    assert_string_equal(vc_nn_device_name(d, name, sizeof name), "cuda:3");
    assert_int_equal(vc_nn_device_parse("cuda", &d, err, sizeof err), 0);
    assert_string_equal(vc_nn_device_name(d, name, sizeof name), "cuda:0");
    assert_int_equal(vc_nn_device_parse("cpu", &d, err, sizeof err), 0);
    assert_int_equal(d.kind, VC_DEV_CPU);
    assert_int_equal(vc_nn_device_parse("auto", &d, err, sizeof err), 0);
    vc_nn_device r = vc_nn_device_resolve(d);
    assert_int_equal(r.kind, vc_nn_cuda_device_count() > 0 ? VC_DEV_CUDA : VC_DEV_CPU);
    const char *bad[] = {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "", "CPU"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(vc_nn_device_parse(bad[i], &d, err, sizeof err), -1);
        assert_non_null(strstr(err, "auto, cpu, cuda or cuda:N"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv3x3),
        cmocka_unit_test(test_temporal_conv),
        cmocka_unit_test(test_avgpool),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_pool_runs_each_task_once),
        cmocka_unit_test(test_l2_normalize),
        cmocka_unit_test(test_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
