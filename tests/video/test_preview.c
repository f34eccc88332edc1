/* Previews: the frames FFmpeg's fps filter would pick, encoded as a valid
 * animated WebP of the right size, decoded back with WebPAnimDecoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <cmocka.h>

#include <libavutil/log.h>
#include <webp/demux.h>

#include "util/common.h"
#include "video/preview.h"
#include "vtest.h"

typedef struct decoded_webp {
    int width, height, frames, loop_count;
    int timestamps[64];      /* end time of each frame, ms */
    double gray[64];         /* mean of R, G, B */
    uint8_t *rgba[64];       /* the canvas after each frame */
} decoded_webp;

static void decoded_webp_free(decoded_webp *d)
{
    for (int i = 0; i < d->frames; i++)
        free(d->rgba[i]);
}

/* Mean absolute difference of the RGB channels of two canvases. */
static double mean_abs_diff(const uint8_t *a, const uint8_t *b, int w, int h)
{
    double sum = 0;
    for (size_t i = 0; i < (size_t)w * (size_t)h * 4; i++)
        if (i % 4 != 3)
            sum += abs((int)a[i] - (int)b[i]);
    return sum / (3.0 * w * h);
}

static void decode_webp(const uint8_t *data, size_t len, decoded_webp *out)
{
    memset(out, 0, sizeof(*out));
    WebPData wd = { data, len };
    WebPAnimDecoderOptions opts;
    assert_true(WebPAnimDecoderOptionsInit(&opts));
    opts.color_mode = MODE_RGBA;
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &opts);
    assert_non_null(dec);
    WebPAnimInfo info;
    assert_true(WebPAnimDecoderGetInfo(dec, &info));
    out->width = (int)info.canvas_width;
    out->height = (int)info.canvas_height;
    out->loop_count = (int)info.loop_count;
    while (WebPAnimDecoderHasMoreFrames(dec)) {
        uint8_t *rgba;
        int ts;
        assert_true(WebPAnimDecoderGetNext(dec, &rgba, &ts));
        assert_true(out->frames < 64);
        double sum = 0;
        size_t n = (size_t)out->width * (size_t)out->height;
        for (size_t i = 0; i < n; i++)
            sum += rgba[4 * i] + rgba[4 * i + 1] + rgba[4 * i + 2];
        out->gray[out->frames] = sum / (3.0 * (double)n);
        out->rgba[out->frames] = malloc(n * 4);
        memcpy(out->rgba[out->frames], rgba, n * 4);
        out->timestamps[out->frames++] = ts;
    }
    assert_int_equal(out->frames, (int)info.frame_count);
    WebPAnimDecoderDelete(dec);
}

/* Feed n frames of fmt whose flat luma is luma_of(i); return the webp. */
static uint8_t *make_preview(int w, int h, int fmt, AVRational fps, int n, double target_fps,
                             int (*luma_of)(int), size_t *len, int *rc)
{
    char err[256];
    vc_preview *p = vc_preview_new(w, h, fmt, fps, 240, target_fps, err, sizeof(err));
    if (!p)
        fail_msg("new: %s", err);
    for (int i = 0; i < n; i++) {
        AVFrame *f = vt_make_flat_frame(fmt, w, h, luma_of ? luma_of(i) : 128);
        if (vc_preview_add(p, f, i) < 0)
            fail_msg("add %d: %s", i, vc_preview_error(p));
        av_frame_free(&f);
    }
    uint8_t *webp = NULL;
    *rc = vc_preview_finish(p, &webp, len);
    vc_preview_free(p);
    return webp;
}

/* Distinct frames: WebPAnimEncoder merges identical consecutive frames. */
static int luma_ramp(int i)
{
    return 16 + i % 200;
}

static int luma_step3(int i)
{
    return 16 + 3 * i;
}

/* 10 fps source, 60 frames -> 6 frames: 4, 14, 24, 34, 44, 54 (FFmpeg picks
 * the last frame that rounds to each second). */
static void test_picks_fps_filter_frames(void **state)
{
    (void)state;
    size_t len;
    int rc;
    uint8_t *webp = make_preview(320, 180, AV_PIX_FMT_YUV420P, (AVRational){ 10, 1 }, 60, 1.0,
                                 luma_step3, &len, &rc);
    assert_int_equal(rc, 0);
    decoded_webp d;
    decode_webp(webp, len, &d);
    decoded_webp_free(&d);
    free(webp);
    assert_int_equal(d.width, 427);   /* scale=-1:240 of 320x180: round(426.67) */
    assert_int_equal(d.height, 240);
    assert_int_equal(d.loop_count, 0);
    assert_int_equal(d.frames, 6);
    for (int k = 0; k < 6; k++) {
        int i = 4 + 10 * k;
        double want = (luma_step3(i) - 16) * 255.0 / 219.0;   /* limited -> full range gray */
        if (fabs(d.gray[k] - want) > 1.5)
            fail_msg("frame %d: gray %.2f, want %.2f (source frame %d)", k, d.gray[k], want, i);
        assert_int_equal(d.timestamps[k], 1000 * (k + 1));
    }
}

/* Frame counts match `ffmpeg -vf fps=1` (checked with the CLI). */
static void test_frame_counts(void **state)
{
    (void)state;
    const struct { AVRational fps; int n, want; } cases[] = {
        { { 30, 1 }, 256, 9 }, { { 30, 1 }, 240, 8 }, { { 30, 1 }, 15, 1 }, { { 30, 1 }, 45, 2 },
        { { 24, 1 }, 100, 4 }, { { 30000, 1001 }, 256, 9 }, { { 60, 1 }, 256, 4 },
    };
    for (size_t c = 0; c < VC_ARRAY_LEN(cases); c++) {
        size_t len;
        int rc;
        uint8_t *webp = make_preview(64, 48, AV_PIX_FMT_YUV420P, cases[c].fps, cases[c].n, 1.0,
                                     luma_ramp, &len, &rc);
        assert_int_equal(rc, 0);
        decoded_webp d;
        decode_webp(webp, len, &d);
        decoded_webp_free(&d);
        free(webp);
        if (d.frames != cases[c].want)
            fail_msg("%d/%d fps, %d frames: %d preview frames, want %d", cases[c].fps.num,
                     cases[c].fps.den, cases[c].n, d.frames, cases[c].want);
        assert_int_equal(d.width, 320);
    }
}

static void test_too_short_window(void **state)
{
    (void)state;
    size_t len;
    int rc;
    uint8_t *webp = make_preview(64, 48, AV_PIX_FMT_YUV420P, (AVRational){ 30, 1 }, 14, 1.0,
                                 NULL, &len, &rc);
    assert_true(rc < 0);
    assert_null(webp);
}

/* 200 for the first frames (the first preview frame), then different */
static int luma_200(int i)
{
    return i < 20 ? 200 : 100;
}

/* Full-range and 10-bit sources look the same as limited 8-bit ones. */
static void test_pixel_formats(void **state)
{
    (void)state;
    const int fmts[] = { AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV420P10LE,
                         AV_PIX_FMT_YUV422P, AV_PIX_FMT_RGB24 };
    for (size_t i = 0; i < VC_ARRAY_LEN(fmts); i++) {
        size_t len;
        int rc;
        uint8_t *webp = make_preview(97, 61, fmts[i], (AVRational){ 25, 1 }, 50, 1.0, luma_200,
                                     &len, &rc);
        assert_int_equal(rc, 0);
        decoded_webp d;
        decode_webp(webp, len, &d);
        decoded_webp_free(&d);
        free(webp);
        assert_int_equal(d.frames, 2);
        assert_int_equal(d.width, 382);   /* round(240 * 97 / 61) */
        double want = (200 - 16) * 255.0 / 219.0;
        if (fabs(d.gray[0] - want) > 2.0)
            fail_msg("format %zu: gray %.2f, want %.2f", i, d.gray[0], want);
    }
}

static void test_target_fps_two(void **state)
{
    (void)state;
    size_t len;
    int rc;
    /* 2 fps from 30 fps: 4 s -> 8 frames, every 500 ms */
    uint8_t *webp = make_preview(64, 48, AV_PIX_FMT_YUV420P, (AVRational){ 30, 1 }, 120, 2.0,
                                 luma_ramp, &len, &rc);
    assert_int_equal(rc, 0);
    decoded_webp d;
    decode_webp(webp, len, &d);
    decoded_webp_free(&d);
    free(webp);
    assert_int_equal(d.frames, 8);
    assert_int_equal(d.timestamps[0], 500);
    assert_int_equal(d.timestamps[7], 4000);
}

static void feed_preview(const AVFrame *frame, int64_t index, void *opaque)
{
    vc_preview *p = opaque;
    if (vc_preview_add(p, frame, index) < 0)
        fail_msg("add %lld: %s", (long long)index, vc_preview_error(p));
}

/* Same source, same frames, same pixels (within lossy-coding noise) as
 * Cosmos's ffmpeg command. */
static void test_matches_ffmpeg_cli(void **state)
{
    (void)state;
    char *src = vt_write_temp("", 0, ".mp4");
    char *ref = vt_write_temp("", 0, ".webp");
    if (vt_system("ffmpeg -v error -y -f lavfi -i testsrc2=size=320x176:rate=30 -frames:v 100 "
                  "-c:v libx264 -preset ultrafast -qp 10 -pix_fmt yuv420p %s", src) != 0 ||
        vt_system("ffmpeg -v error -y -i %s -vf fps=1,scale=-1:240 -c:v libwebp -lossless 0 "
                  "-compression_level 6 -q:v 50 -loop 0 %s", src, ref) != 0)
        fail_msg("ffmpeg CLI failed");

    int w, h, fmt;
    AVRational fps;
    assert_int_equal(vt_decode_video(src, NULL, NULL, &w, &h, &fmt, &fps), 0);
    char err[256];
    vc_preview *p = vc_preview_new(w, h, fmt, fps, 240, 1.0, err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(vt_decode_video(src, feed_preview, p, &w, &h, &fmt, &fps), 100);
    uint8_t *ours;
    size_t ours_len;
    assert_int_equal(vc_preview_finish(p, &ours, &ours_len), 0);
    vc_preview_free(p);

    FILE *f = fopen(ref, "rb");
    assert_non_null(f);
    uint8_t *theirs = malloc(1 << 22);
    size_t theirs_len = fread(theirs, 1, 1 << 22, f);
    fclose(f);

    decoded_webp a, b;
    decode_webp(ours, ours_len, &a);
    decode_webp(theirs, theirs_len, &b);
    assert_int_equal(a.frames, b.frames);
    assert_int_equal(a.frames, 3);   /* round(100 / 30) */
    assert_int_equal(a.width, b.width);
    assert_int_equal(a.height, b.height);
    /* testsrc2 moves ~2 px per frame: picking a neighbouring frame gives a
     * difference of 3+ while libwebp's lossy noise stays below 1 */
    for (int i = 0; i < a.frames; i++) {
        double d = mean_abs_diff(a.rgba[i], b.rgba[i], a.width, a.height);
        if (d > 1.5)
            fail_msg("frame %d differs from ffmpeg's by %.2f on average", i, d);
        print_message("frame %d: mean abs diff to ffmpeg %.3f\n", i, d);
    }
    decoded_webp_free(&a);
    decoded_webp_free(&b);
    free(ours);
    free(theirs);
    unlink(src);
    unlink(ref);
    free(src);
    free(ref);
}

static void test_errors(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(vc_preview_new(0, 48, AV_PIX_FMT_YUV420P, (AVRational){ 30, 1 }, 240, 1.0, err, sizeof(err)));
    assert_non_null(strstr(err, "size"));
    assert_null(vc_preview_new(64, 48, AV_PIX_FMT_YUV420P, (AVRational){ 0, 1 }, 240, 1.0, err, sizeof(err)));
    assert_non_null(strstr(err, "rate"));
    vc_preview *p = vc_preview_new(64, 48, AV_PIX_FMT_YUV420P, (AVRational){ 30, 1 }, 240, 1.0,
                                   err, sizeof(err));
    assert_non_null(p);
    AVFrame *f = vt_make_flat_frame(AV_PIX_FMT_YUV420P, 64, 48, 100);
    assert_int_equal(vc_preview_add(p, f, 0), 0);
    assert_true(vc_preview_add(p, f, 2) < 0);   /* index 1 skipped */
    assert_non_null(strstr(vc_preview_error(p), "index"));
    uint8_t *webp;
    size_t len;
    assert_true(vc_preview_finish(p, &webp, &len) < 0);
    av_frame_free(&f);
    vc_preview_free(p);
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_picks_fps_filter_frames),
        cmocka_unit_test(test_frame_counts),
        cmocka_unit_test(test_too_short_window),
        cmocka_unit_test(test_pixel_formats),
        cmocka_unit_test(test_target_fps_two),
        cmocka_unit_test(test_matches_ffmpeg_cli),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
