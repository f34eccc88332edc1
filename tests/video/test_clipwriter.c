/* Clip writer: encode synthetic frames with each encoder, mux with and
 * without audio, and check the mp4 with libavformat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include <libavutil/log.h>
#include <libavutil/pixdesc.h>

#include "util/common.h"
#include "video/clipwriter.h"
#include "vtest.h"

static vc_clip_writer_cfg base_cfg(vc_encoder_kind enc, int w, int h, int fmt)
{
    vc_clip_writer_cfg cfg = {
        .encoder = enc, .width = w, .height = h, .pix_fmt = fmt,
        .frame_rate = { 30, 1 }, .time_base = { 1, 30 },
        .bit_rate = 2000000, .threads = 1,
    };
    return cfg;
}

/* Encode n frames (pts i * pts_step) and return the mp4. */
static uint8_t *encode_clip(const vc_clip_writer_cfg *cfg, int n, int64_t pts_step, size_t *len,
                            int64_t *frames)
{
    char err[512] = "";
    vc_clip_writer *w = vc_clip_writer_open(cfg, err, sizeof(err));
    if (!w)
        fail_msg("open: %s", err);
    for (int i = 0; i < n; i++) {
        AVFrame *f = vt_make_frame(cfg->pix_fmt, cfg->width, cfg->height, i, 128);
        int ret = vc_clip_writer_video(w, f, i * pts_step);
        av_frame_free(&f);
        if (ret < 0)
            fail_msg("frame %d: %s", i, vc_clip_writer_error(w));
    }
    uint8_t *mp4 = NULL;
    if (vc_clip_writer_finish(w, &mp4, len, frames, err, sizeof(err)) < 0)
        fail_msg("finish: %s", err);
    vc_clip_writer_free(w);
    return mp4;
}

static void check_clip(const uint8_t *mp4, size_t len, int w, int h, int frames, double fps)
{
    vt_mp4_info info;
    assert_int_equal(vt_inspect_mp4(mp4, len, &info), 0);
    assert_int_equal(info.nb_streams, 1);
    assert_int_equal(info.video_codec, AV_CODEC_ID_H264);
    assert_int_equal(info.width, w);
    assert_int_equal(info.height, h);
    assert_int_equal(info.video_packets, frames);
    assert_int_equal(info.decoded_frames, frames);
    assert_true(info.first_is_key);
    assert_true(info.moov_first);
    assert_true(fabs(info.fps - fps) < 1e-3);
    assert_true(fabs(info.video_duration - frames / fps) < 1e-3);
}

static bool encoder_ok(vc_encoder_kind k)
{
    char err[512];
    if (vc_encoder_available(k, err, sizeof(err)))
        return true;
    print_message("skipping %s: %s\n", vc_encoder_name(k), err);
    return false;
}

static void test_parse_names(void **state)
{
    (void)state;
    vc_encoder_kind k;
    const char *names[] = { "libopenh264", "libx264", "h264_nvenc" };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(vc_encoder_parse(names[i], &k), 0);
        assert_string_equal(vc_encoder_name(k), names[i]);
    }
    assert_int_equal(vc_encoder_parse("libvpx-vp9", &k), -1);
    assert_int_equal(vc_encoder_parse(NULL, &k), -1);
}

static void encode_and_check(vc_encoder_kind enc)
{
    vc_clip_writer_cfg cfg = base_cfg(enc, 320, 240, AV_PIX_FMT_YUV420P);
    size_t len;
    int64_t frames;
    uint8_t *mp4 = encode_clip(&cfg, 45, 1, &len, &frames);
    assert_int_equal(frames, 45);
    check_clip(mp4, len, 320, 240, 45, 30.0);
    free(mp4);
}

static void test_openh264_basic(void **state)
{
    (void)state;
    encode_and_check(VC_ENC_OPENH264);
}

static void test_x264_basic(void **state)
{
    (void)state;
    if (!encoder_ok(VC_ENC_LIBX264))
        skip();
    encode_and_check(VC_ENC_LIBX264);
}

static void test_nvenc_basic_or_reason(void **state)
{
    (void)state;
    char err[512] = "";
    if (!vc_encoder_available(VC_ENC_NVENC, err, sizeof(err))) {
        /* no GPU here: the reason must say what is missing */
        assert_non_null(strstr(err, "h264_nvenc"));
        skip();
    }
    encode_and_check(VC_ENC_NVENC);
}

/* Every input format comes out as yuv420p with the same brightness:
 * full-range and 10-bit inputs are mapped back to limited 8-bit. */
static void test_pixel_formats(void **state)
{
    (void)state;
    const int fmts[] = { AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV420P10LE,
                         AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUV444P, AV_PIX_FMT_NV12, AV_PIX_FMT_RGB24 };
    const vc_encoder_kind encs[] = { VC_ENC_OPENH264, VC_ENC_LIBX264 };
    for (size_t e = 0; e < 2; e++) {
        if (encs[e] == VC_ENC_LIBX264 && !encoder_ok(VC_ENC_LIBX264))
            continue;
        for (size_t i = 0; i < VC_ARRAY_LEN(fmts); i++) {
            char err[512];
            vc_clip_writer_cfg cfg = base_cfg(encs[e], 96, 64, fmts[i]);
            vc_clip_writer *w = vc_clip_writer_open(&cfg, err, sizeof(err));
            assert_non_null(w);
            for (int k = 0; k < 5; k++) {
                AVFrame *f = vt_make_flat_frame(fmts[i], 96, 64, 200);
                assert_int_equal(vc_clip_writer_video(w, f, k), 0);
                av_frame_free(&f);
            }
            uint8_t *mp4;
            size_t len;
            int64_t n;
            assert_int_equal(vc_clip_writer_finish(w, &mp4, &len, &n, err, sizeof(err)), 0);
            vc_clip_writer_free(w);
            vt_mp4_info info;
            assert_int_equal(vt_inspect_mp4(mp4, len, &info), 0);
            free(mp4);
            if (info.decoded_frames != 5 || fabs(info.mean_luma - 200) > 3)
                fail_msg("%s/%s: %lld frames, luma %.1f (want 200)", vc_encoder_name(encs[e]),
                         av_get_pix_fmt_name(fmts[i]), (long long)info.decoded_frames, info.mean_luma);
        }
    }
}


/* H.264 4:2:0 cannot code odd sizes: the last column/row is dropped. */
static void test_odd_sizes(void **state)
{
    (void)state;
    const vc_encoder_kind encs[] = { VC_ENC_OPENH264, VC_ENC_LIBX264 };
    const int fmts[] = { AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV422P10LE };
    for (size_t e = 0; e < 2; e++) {
        if (encs[e] == VC_ENC_LIBX264 && !encoder_ok(VC_ENC_LIBX264))
            continue;
        for (size_t i = 0; i < 2; i++) {
            vc_clip_writer_cfg cfg = base_cfg(encs[e], 161, 97, fmts[i]);
            size_t len;
            int64_t frames;
            uint8_t *mp4 = encode_clip(&cfg, 7, 1, &len, &frames);
            check_clip(mp4, len, 160, 96, 7, 30.0);
            free(mp4);
        }
    }
}

/* NTSC rate with a 90 kHz time base (MPEG-TS sources). */
static void test_ntsc_timebase(void **state)
{
    (void)state;
    vc_clip_writer_cfg cfg = base_cfg(VC_ENC_OPENH264, 128, 72, AV_PIX_FMT_YUV420P);
    cfg.frame_rate = (AVRational){ 30000, 1001 };
    cfg.time_base = (AVRational){ 1, 90000 };
    size_t len;
    int64_t frames;
    uint8_t *mp4 = encode_clip(&cfg, 30, 3003, &len, &frames);
    check_clip(mp4, len, 128, 72, 30, 30000.0 / 1001);
    free(mp4);
}

static void with_audio(vc_encoder_kind enc, const char *ff_codec, const char *ext, int want_codec)
{
    char *apath = vt_write_temp("", 0, ext);
    if (vt_system("ffmpeg -v error -y -f lavfi -i sine=frequency=440:duration=2 -c:a %s %s",
                  ff_codec, apath) != 0)
        fail_msg("ffmpeg could not make %s audio", ff_codec);
    vt_audio a;
    assert_int_equal(vt_load_audio(apath, &a), 0);
    unlink(apath);
    free(apath);
    assert_true(a.n > 10);

    vc_clip_writer_cfg cfg = base_cfg(enc, 160, 96, AV_PIX_FMT_YUV420P);
    cfg.audio = a.par;
    cfg.audio_time_base = a.time_base;
    char err[512];
    vc_clip_writer *w = vc_clip_writer_open(&cfg, err, sizeof(err));
    if (!w)
        fail_msg("open: %s", err);
    /* feed in presentation order, as the splitter does */
    int ai = 0;
    for (int i = 0; i < 60; i++) {
        double t = i / 30.0;
        while (ai < a.n && a.pkts[ai]->pts * av_q2d(a.time_base) <= t)
            assert_int_equal(vc_clip_writer_audio(w, a.pkts[ai++]), 0);
        AVFrame *f = vt_make_frame(AV_PIX_FMT_YUV420P, 160, 96, i, 100);
        assert_int_equal(vc_clip_writer_video(w, f, i), 0);
        av_frame_free(&f);
    }
    while (ai < a.n)
        assert_int_equal(vc_clip_writer_audio(w, a.pkts[ai++]), 0);
    uint8_t *mp4;
    size_t len;
    int64_t n;
    if (vc_clip_writer_finish(w, &mp4, &len, &n, err, sizeof(err)) < 0)
        fail_msg("finish: %s", err);
    vc_clip_writer_free(w);

    vt_mp4_info info;
    assert_int_equal(vt_inspect_mp4(mp4, len, &info), 0);
    assert_int_equal(info.nb_streams, 2);
    assert_int_equal(info.audio_codec, want_codec);
    assert_int_equal(info.decoded_frames, 60);
    assert_int_equal(info.audio_packets, a.n);
    assert_true(info.moov_first);
    free(mp4);
    vt_audio_free(&a);
}

static void test_audio_aac(void **state)
{
    (void)state;
    with_audio(VC_ENC_OPENH264, "aac", ".m4a", AV_CODEC_ID_AAC);
}

static void test_audio_opus_x264(void **state)
{
    (void)state;
    if (!encoder_ok(VC_ENC_LIBX264))
        skip();
    with_audio(VC_ENC_LIBX264, "libopus", ".ogg", AV_CODEC_ID_OPUS);
}

static void test_audio_not_copyable(void **state)
{
    (void)state;
    AVCodecParameters *par = avcodec_parameters_alloc();
    par->codec_type = AVMEDIA_TYPE_AUDIO;
    par->codec_id = AV_CODEC_ID_PCM_S16LE;
    assert_false(vc_clip_audio_copyable(par));
    vc_clip_writer_cfg cfg = base_cfg(VC_ENC_OPENH264, 64, 64, AV_PIX_FMT_YUV420P);
    cfg.audio = par;
    cfg.audio_time_base = (AVRational){ 1, 44100 };
    char err[512] = "";
    assert_null(vc_clip_writer_open(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "pcm_s16le"));
    par->codec_id = AV_CODEC_ID_AAC;
    assert_true(vc_clip_audio_copyable(par));
    avcodec_parameters_free(&par);
}

static void test_bad_config(void **state)
{
    (void)state;
    char err[512] = "";
    vc_clip_writer_cfg cfg = base_cfg(VC_ENC_OPENH264, 0, 64, AV_PIX_FMT_YUV420P);
    assert_null(vc_clip_writer_open(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "size"));
    cfg = base_cfg(VC_ENC_OPENH264, 64, 64, AV_PIX_FMT_YUV420P);
    cfg.frame_rate = (AVRational){ 0, 1 };
    assert_null(vc_clip_writer_open(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "frame rate"));
    cfg = base_cfg(VC_ENC_LIBX264, 64, 64, AV_PIX_FMT_YUV420P);
    cfg.x264_preset = "warp-speed";
    assert_null(vc_clip_writer_open(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "libx264"));
}

static void test_errors_in_use(void **state)
{
    (void)state;
    char err[512] = "";
    vc_clip_writer_cfg cfg = base_cfg(VC_ENC_OPENH264, 64, 64, AV_PIX_FMT_YUV420P);
    uint8_t *mp4;
    size_t len;
    int64_t n;

    /* no frames at all */
    vc_clip_writer *w = vc_clip_writer_open(&cfg, err, sizeof(err));
    assert_non_null(w);
    assert_true(vc_clip_writer_finish(w, &mp4, &len, &n, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "no video frames"));
    assert_null(mp4);
    vc_clip_writer_free(w);

    /* pts going backwards, then a wrong frame size: the first cause sticks */
    w = vc_clip_writer_open(&cfg, err, sizeof(err));
    AVFrame *f = vt_make_frame(AV_PIX_FMT_YUV420P, 64, 64, 0, 100);
    AVFrame *big = vt_make_frame(AV_PIX_FMT_YUV420P, 128, 64, 0, 100);
    assert_int_equal(vc_clip_writer_video(w, f, 5), 0);
    assert_true(vc_clip_writer_video(w, f, 5) < 0);
    assert_non_null(strstr(vc_clip_writer_error(w), "pts"));
    assert_true(vc_clip_writer_video(w, big, 6) < 0);
    assert_true(vc_clip_writer_finish(w, &mp4, &len, &n, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "pts"));
    vc_clip_writer_free(w);

    /* audio packet without an audio track */
    w = vc_clip_writer_open(&cfg, err, sizeof(err));
    AVPacket *pkt = av_packet_alloc();
    assert_true(vc_clip_writer_audio(w, pkt) < 0);
    assert_non_null(strstr(vc_clip_writer_error(w), "no audio track"));
    av_packet_free(&pkt);
    vc_clip_writer_free(w);

    /* a frame size change */
    w = vc_clip_writer_open(&cfg, err, sizeof(err));
    assert_true(vc_clip_writer_video(w, big, 0) < 0);
    assert_non_null(strstr(vc_clip_writer_error(w), "128x64"));
    vc_clip_writer_free(w);
    av_frame_free(&f);
    av_frame_free(&big);
}

/* The caller's frame must come back untouched (openh264 reads it in place). */
static void test_frame_not_modified(void **state)
{
    (void)state;
    const vc_encoder_kind encs[] = { VC_ENC_OPENH264, VC_ENC_LIBX264 };
    for (size_t e = 0; e < 2; e++) {
        if (encs[e] == VC_ENC_LIBX264 && !encoder_ok(VC_ENC_LIBX264))
            continue;
        char err[512];
        vc_clip_writer_cfg cfg = base_cfg(encs[e], 64, 48, AV_PIX_FMT_YUV420P);
        vc_clip_writer *w = vc_clip_writer_open(&cfg, err, sizeof(err));
        AVFrame *f = vt_make_frame(AV_PIX_FMT_YUV420P, 64, 48, 3, 90);
        AVFrame *copy = av_frame_clone(f);
        assert_int_equal(av_frame_make_writable(copy), 0);
        assert_int_equal(vc_clip_writer_video(w, f, 0), 0);
        assert_int_equal(f->pts, copy->pts);
        for (int p = 0; p < 3; p++)
            for (int y = 0; y < (p ? 24 : 48); y++)
                assert_memory_equal(f->data[p] + y * f->linesize[p],
                                    copy->data[p] + y * copy->linesize[p], p ? 32 : 64);
        av_frame_free(&copy);
        av_frame_free(&f);
        vc_clip_writer_free(w);
    }
}

typedef struct thread_job {
    vc_encoder_kind enc;
    int index;
    int64_t frames;
    int ok;
} thread_job;

static void *encode_thread(void *arg)
{
    thread_job *job = arg;
    char err[512];
    vc_clip_writer_cfg cfg = base_cfg(job->enc, 128, 96, job->index % 2 ? AV_PIX_FMT_YUVJ420P
                                                                         : AV_PIX_FMT_YUV420P);
    vc_clip_writer *w = vc_clip_writer_open(&cfg, err, sizeof(err));
    if (!w)
        return NULL;
    int nframes = 20 + job->index;
    for (int i = 0; i < nframes; i++) {
        AVFrame *f = vt_make_frame(cfg.pix_fmt, 128, 96, i, 100);
        vc_clip_writer_video(w, f, i);
        av_frame_free(&f);
    }
    uint8_t *mp4 = NULL;
    size_t len;
    if (vc_clip_writer_finish(w, &mp4, &len, &job->frames, err, sizeof(err)) == 0) {
        vt_mp4_info info;
        job->ok = vt_inspect_mp4(mp4, len, &info) == 0 && info.decoded_frames == nframes;
    }
    free(mp4);
    vc_clip_writer_free(w);
    return NULL;
}

static void test_many_threads(void **state)
{
    (void)state;
    bool x264 = encoder_ok(VC_ENC_LIBX264);
    enum { N = 6 };
    pthread_t th[N];
    thread_job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (thread_job){ .enc = (i % 3 == 2 && x264) ? VC_ENC_LIBX264 : VC_ENC_OPENH264,
                                .index = i };
        assert_int_equal(pthread_create(&th[i], NULL, encode_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_true(jobs[i].ok);
        assert_int_equal(jobs[i].frames, 20 + i);
    }
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR);   /* no libx264 statistics in the test log */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_openh264_basic),
        cmocka_unit_test(test_x264_basic),
        cmocka_unit_test(test_nvenc_basic_or_reason),
        cmocka_unit_test(test_pixel_formats),
        cmocka_unit_test(test_odd_sizes),
        cmocka_unit_test(test_ntsc_timebase),
        cmocka_unit_test(test_audio_aac),
        cmocka_unit_test(test_audio_opus_x264),
        cmocka_unit_test(test_audio_not_copyable),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_errors_in_use),
        cmocka_unit_test(test_frame_not_modified),
        cmocka_unit_test(test_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
