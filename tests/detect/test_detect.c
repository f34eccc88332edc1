/* Shot detector unit tests on synthetic YUV frames: hard cuts land on the
 * right frame, a one-frame flash is not two cuts, fades and dissolves come
 * out as transitions, events are ordered and final within the latency, and
 * every frame reported doomed early really ends inside a transition. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include "detect/detector.h"

enum { W = 320, H = 180, MAXEV = 64, MAXF = 1000 };

/* One frame of the script: shot a blended into shot b by alpha (b < 0:
 * black). Shots differ in texture and colour. */
typedef struct step { int a, b; double alpha; } step;

static void shot_pixel(int k, int x, int y, int *Y, int *U, int *V)
{
    if (k < 0) {
        *Y = 16, *U = 128, *V = 128;
        return;
    }
    *Y = 40 + (int)((unsigned)(x * (3 + 2 * k) + y * (5 + k) + ((x / (8 + k)) ^ (y / 6)) * 17) % 170u);
    *U = 128 + ((k * 53) % 90) - 45;
    *V = 128 + ((k * 31 + 20) % 90) - 45;
}

static AVFrame *make_frame(step s)
{
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = W;
    f->height = H;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int ya, ua, va, yb, ub, vb;
            shot_pixel(s.a, x, y, &ya, &ua, &va);
            shot_pixel(s.b, x, y, &yb, &ub, &vb);
            double al = s.alpha;
            f->data[0][y * f->linesize[0] + x] = (uint8_t)(ya + (yb - ya) * al + 0.5);
            if (!(x & 1) && !(y & 1)) {
                f->data[1][(y / 2) * f->linesize[1] + x / 2] = (uint8_t)(ua + (ub - ua) * al + 0.5);
                f->data[2][(y / 2) * f->linesize[2] + x / 2] = (uint8_t)(va + (vb - va) * al + 0.5);
            }
        }
    return f;
}

typedef struct run_result {
    vc_shot_event ev[MAXEV];
    int nev;
    bool doomed[MAXF];       /* frame was reported doomed before its event came out */
    int ndoomed;
} run_result;

/* Pushes the script through a detector, checking the streaming contract on
 * the way: events in order, never about frames older than final_before
 * promised, at most `latency` frames late. */
static void run(vc_detect_algo algo, bool gradual, const step *script, int n, run_result *r)
{
    memset(r, 0, sizeof *r);
    vc_detect_params p;
    vc_detect_params_default(&p, algo);
    p.gradual = gradual;
    char err[256];
    vc_detector *d = vc_detector_new(&p, 24.0, W, H, AV_PIX_FMT_YUV420P, err, sizeof err);
    assert_non_null(d);
    int lat = vc_detector_latency(d);
    int64_t promised = INT64_MIN, last_first = -1;
    for (int t = 0; t <= n; t++) {
        if (t < n) {
            AVFrame *f = make_frame(script[t]);
            assert_int_equal(vc_detector_push(d, f), 0);
            av_frame_free(&f);
        } else {
            assert_int_equal(vc_detector_finish(d), 0);
        }
        vc_shot_event ev;
        while (vc_detector_next_event(d, &ev)) {
            assert_true(r->nev < MAXEV);
            assert_true(ev.first > last_first);
            assert_true(ev.first <= ev.last);
            assert_true(ev.first >= promised);
            if (t < n)
                assert_true(ev.first >= t - lat);
            last_first = ev.first;
            r->ev[r->nev++] = ev;
            if (getenv("VC_TEST_VERBOSE"))
                print_message("event %d %lld-%lld %.1f\n", ev.kind, (long long)ev.first, (long long)ev.last, ev.score);
        }
        int64_t fb = vc_detector_final_before(d);
        assert_true(fb >= promised || fb == INT64_MAX);
        promised = fb == INT64_MAX ? promised : fb;
        if (t < n)
            for (int f = 0; f <= t; f++)
                if (vc_detector_frame_doomed(d, f) && !r->doomed[f]) {
                    r->doomed[f] = true;
                    r->ndoomed++;
                }
    }
    assert_int_equal(vc_detector_final_before(d), INT64_MAX);
    vc_detector_free(d);
}

static bool in_transition(const run_result *r, int64_t f)
{
    for (int i = 0; i < r->nev; i++)
        if (r->ev[i].kind == VC_SHOT_TRANSITION && f >= r->ev[i].first && f <= r->ev[i].last)
            return true;
    return false;
}

static void assert_doomed_in_transitions(const run_result *r)
{
    for (int f = 0; f < MAXF; f++)
        if (r->doomed[f] && !in_transition(r, f))
            fail_msg("frame %d was reported doomed but is in no transition", f);
}

/* The blended frames first..last: every event lies within them give or
 * take SLACK frames (a window may take in a few still frames next to a
 * blend, within its ramp tolerance; clip crop trims more than that), and
 * transitions cover all but SLACK/2 frames at either end. */
enum { SLACK = 8 };
static void assert_transitions_cover(const run_result *r, int first, int last)
{
    for (int i = 0; i < r->nev; i++)
        if (r->ev[i].first < first - SLACK || r->ev[i].last > last + SLACK)
            fail_msg("event %lld-%lld outside the blend %d-%d", (long long)r->ev[i].first,
                     (long long)r->ev[i].last, first, last);
    for (int f = first + SLACK / 2; f <= last - SLACK / 2; f++)
        if (!in_transition(r, f))
            fail_msg("blend frame %d is in no transition", f);
}

/* Shots of 40 frames each, hard cuts at 40, 80, 120. */
static int hard_cuts(step *s)
{
    int n = 0;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 40; i++)
            s[n++] = (step){ k, k, 0 };
    return n;
}

static void test_content_hard_cuts(void **st)
{
    (void)st;
    step s[200];
    int n = hard_cuts(s);
    run_result r;
    run(VC_DETECT_CONTENT, true, s, n, &r);
    assert_int_equal(r.nev, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.ev[i].kind, VC_SHOT_CUT);
        assert_int_equal(r.ev[i].first, 40 * (i + 1));
        assert_true(r.ev[i].score >= 27.0);
    }
    assert_int_equal(r.ndoomed, 0);
}

static void test_adaptive_hard_cuts(void **st)
{
    (void)st;
    step s[200];
    int n = hard_cuts(s);
    run_result r;
    run(VC_DETECT_ADAPTIVE, false, s, n, &r);
    assert_int_equal(r.nev, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.ev[i].kind, VC_SHOT_CUT);
        assert_int_equal(r.ev[i].first, 40 * (i + 1));
    }
}

/* A one-frame flash inside a shot: PySceneDetect's flash filter (MERGE
 * mode, min_scene_len 15) keeps at most one cut within 15 frames. */
static void test_flash_is_not_two_cuts(void **st)
{
    (void)st;
    step s[100];
    int n = 0;
    for (int i = 0; i < 60; i++)
        s[n++] = (step){ 0, 0, 0 };
    s[30] = (step){ 5, 5, 0 };
    run_result r;
    run(VC_DETECT_CONTENT, false, s, n, &r);
    for (int i = 1; i < r.nev; i++)
        assert_true(r.ev[i].first - r.ev[i - 1].first >= 15);
    assert_true(r.nev <= 1);
}

/* Shot 0, 20-frame fade to black, 10 black frames, 20-frame fade in to
 * shot 1, shot 1: one transition covering the fades, no cut inside a shot,
 * and the fade frames are known to be doomed before the event settles. */
static void test_fade_out_in(void **st)
{
    (void)st;
    step s[300];
    int n = 0;
    for (int i = 0; i < 60; i++)
        s[n++] = (step){ 0, 0, 0 };
    for (int i = 1; i <= 20; i++)
        s[n++] = (step){ 0, -1, i / 21.0 };
    for (int i = 0; i < 10; i++)
        s[n++] = (step){ -1, -1, 0 };
    for (int i = 1; i <= 20; i++)
        s[n++] = (step){ -1, 1, i / 21.0 };
    for (int i = 0; i < 60; i++)
        s[n++] = (step){ 1, 1, 0 };
    run_result r;
    run(VC_DETECT_CONTENT, true, s, n, &r);
    assert_transitions_cover(&r, 60, 109);
    assert_true(r.ndoomed >= 30);
    assert_doomed_in_transitions(&r);
}

/* A 24-frame dissolve between two textured shots. */
static void test_dissolve(void **st)
{
    (void)st;
    step s[300];
    int n = 0;
    for (int i = 0; i < 50; i++)
        s[n++] = (step){ 2, 2, 0 };
    for (int i = 1; i <= 24; i++)
        s[n++] = (step){ 2, 3, i / 25.0 };
    for (int i = 0; i < 50; i++)
        s[n++] = (step){ 3, 3, 0 };
    run_result r;
    run(VC_DETECT_CONTENT, true, s, n, &r);
    assert_transitions_cover(&r, 50, 73);
    assert_true(r.ndoomed > 0);
    assert_doomed_in_transitions(&r);
}

/* Without gradual detection nothing is ever doomed. */
static void test_no_gradual_no_doom(void **st)
{
    (void)st;
    step s[200];
    int n = 0;
    for (int i = 0; i < 50; i++)
        s[n++] = (step){ 0, 0, 0 };
    for (int i = 1; i <= 20; i++)
        s[n++] = (step){ 0, -1, i / 21.0 };
    for (int i = 0; i < 30; i++)
        s[n++] = (step){ -1, -1, 0 };
    run_result r;
    run(VC_DETECT_CONTENT, false, s, n, &r);
    assert_int_equal(r.ndoomed, 0);
    for (int i = 0; i < r.nev; i++)
        assert_int_equal(r.ev[i].kind, VC_SHOT_CUT);
}

static void test_bad_params(void **st)
{
    (void)st;
    vc_detect_params p;
    vc_detect_params_default(&p, VC_DETECT_CONTENT);
    p.gradual_min_len = 10;
    p.gradual_max_len = 5;
    char err[256] = "";
    assert_null(vc_detector_new(&p, 24.0, W, H, AV_PIX_FMT_YUV420P, err, sizeof err));
    assert_non_null(strstr(err, "gradual"));
    vc_detect_algo a;
    assert_int_equal(vc_detect_algo_parse("adaptive", &a), 0);
    assert_int_equal(a, VC_DETECT_ADAPTIVE);
    assert_int_equal(vc_detect_algo_parse("nope", &a), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_hard_cuts),
        cmocka_unit_test(test_adaptive_hard_cuts),
        cmocka_unit_test(test_flash_is_not_two_cuts),
        cmocka_unit_test(test_fade_out_in),
        cmocka_unit_test(test_dissolve),
        cmocka_unit_test(test_no_gradual_no_doom),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
