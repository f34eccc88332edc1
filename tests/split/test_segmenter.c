/* Shot rules and fixed-stride spans must reproduce Cosmos Curator exactly:
 * clip boundaries and UUIDs depend on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "split/preview_windows.h"
#include "caption/sampling.h"
#include "split/segmenter.h"
#include "split/stride.h"

static int segment(const vc_clip_rules *r, const vc_shot_event *ev, int nev, int64_t n, int64_t (*out)[2])
{
    return vc_segment_offline(r, ev, nev, n, out, 64);
}

/* cosmos-curate.md §2.2 worked example: 30 fps, one 150 s scene. */
static void test_cosmos_worked_example(void **state)
{
    (void)state;
    vc_clip_rules r = { .min_len = 60, .max_len = 1800, .crop = 15 };
    int64_t c[64][2];
    int n = segment(&r, NULL, 0, 4500, c);
    assert_int_equal(n, 3);
    int64_t want[3][2] = { { 15, 1785 }, { 1815, 3585 }, { 3615, 4485 } };
    assert_memory_equal(c, want, sizeof want);
}

static void test_transitions_are_excluded(void **state)
{
    (void)state;
    vc_clip_rules r = { .min_len = 10, .max_len = 100000, .crop = 0 };
    vc_shot_event ev[] = {
        { .kind = VC_SHOT_TRANSITION, .first = 100, .last = 120 },
        { .kind = VC_SHOT_CUT, .first = 300, .last = 300 },
    };
    int64_t c[64][2];
    int n = segment(&r, ev, 2, 400, c);
    assert_int_equal(n, 3);
    int64_t want[3][2] = { { 0, 100 }, { 121, 300 }, { 300, 400 } };
    assert_memory_equal(c, want, sizeof want);
}

static void test_min_length_and_crop(void **state)
{
    (void)state;
    /* 24 fps defaults: min max(ceil(2*24), 48) = 48, crop int(0.5*24) = 12. */
    vc_clip_rules r = { .min_len = 48, .max_len = 1440, .crop = 12 };
    vc_shot_event ev[] = {
        { .kind = VC_SHOT_CUT, .first = 70, .last = 70 },   /* scene of 70: 46 after crop -> dropped */
        { .kind = VC_SHOT_CUT, .first = 142, .last = 142 }, /* scene of 72: 48 -> kept */
    };
    int64_t c[64][2];
    int n = segment(&r, ev, 2, 300, c);
    assert_int_equal(n, 2);
    assert_int_equal(c[0][0], 82);
    assert_int_equal(c[0][1], 130);
    assert_int_equal(c[1][0], 154);
    assert_int_equal(c[1][1], 288);
}

static void test_truncate_keeps_first_piece(void **state)
{
    (void)state;
    vc_clip_rules r = { .min_len = 10, .max_len = 100, .crop = 5, .truncate = true };
    int64_t c[64][2];
    int n = segment(&r, NULL, 0, 350, c);
    assert_int_equal(n, 1);
    assert_int_equal(c[0][0], 5);
    assert_int_equal(c[0][1], 95);
}

static void test_stride_last_piece_dropped_when_short(void **state)
{
    (void)state;
    vc_clip_rules r = { .min_len = 20, .max_len = 100, .crop = 0 };
    int64_t c[64][2];
    int n = segment(&r, NULL, 0, 215, c); /* pieces 100, 100, 15 */
    assert_int_equal(n, 2);
}

/* Expected values from Python: Cosmos's _populate_clips_fixed_stride and uuid.uuid5. */
static void test_fixed_stride_matches_python(void **state)
{
    (void)state;
    vc_video_info info = { .fps = 30000.0 / 1001.0, .fps_num = 30000, .fps_den = 1001 };
    info.num_frames = (int64_t)(25.1 * info.fps);
    vc_stride_spans s;
    vc_stride_make(&s, "/data/in/v.mp4", &info, 0.033367, 10, 2.0, 0);
    assert_int_equal(s.len, 3);
    assert_true(s.items[2].start == 20.0);
    assert_true(s.items[2].end == 25.091733333333334);
    assert_string_equal(s.items[0].uuid, "dc7a7643-f08a-58c0-bdf6-87015b1cb167");
    assert_string_equal(s.items[1].uuid, "3374f7a1-211d-55e5-bfeb-0d8a47a74fb9");
    assert_string_equal(s.items[2].uuid, "11221e45-8417-50ee-ac09-45c4bae64361");
    vc_stride_free(&s);
    vc_stride_make(&s, "/data/in/v.mp4", &info, 0.033367, 10, 2.0, 2);
    assert_int_equal(s.len, 2);
    vc_stride_free(&s);
}

/* Cosmos's compute_windows. */
static void test_caption_windows(void **state)
{
    (void)state;
    int64_t w[8][2];
    assert_int_equal(vc_cap_windows(3, 256, 128, w), 0);
    assert_int_equal(vc_cap_windows(256, 256, 128, w), 1);
    assert_int_equal(w[0][1], 255);
    assert_int_equal(vc_cap_windows(300, 256, 128, w), 1);   /* remainder 44 extends */
    assert_int_equal(w[0][1], 299);
    assert_int_equal(vc_cap_windows(400, 256, 128, w), 2);   /* remainder 144 is its own */
    assert_int_equal(w[1][0], 256);
    assert_int_equal(w[1][1], 399);
    assert_int_equal(vc_cap_windows(512, 256, 128, w), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosmos_worked_example),
        cmocka_unit_test(test_transitions_are_excluded),
        cmocka_unit_test(test_min_length_and_crop),
        cmocka_unit_test(test_truncate_keeps_first_piece),
        cmocka_unit_test(test_stride_last_piece_dropped_when_short),
        cmocka_unit_test(test_fixed_stride_matches_python),
        cmocka_unit_test(test_caption_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
