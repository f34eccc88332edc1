/* Cross-check with other readers: ffprobe -count_frames and PyAV must see
 * exactly the frames, rate and duration the clip writer wrote. */
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

#include "util/common.h"
#include "video/clipwriter.h"
#include "vtest.h"

enum { W = 640, H = 360, FRAMES = 75 };

static char *run_capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    vc_buf b = { 0 };
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        vc_buf_append(&b, chunk, n);
    vc_buf_append(&b, "", 1);
    if (pclose(p) != 0) {
        vc_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

static char *write_clip(vc_encoder_kind enc, bool audio)
{
    vt_audio a = { 0 };
    if (audio) {
        char *apath = vt_write_temp("", 0, ".m4a");
        assert_int_equal(vt_system("ffmpeg -v error -y -f lavfi -i sine=duration=3 -c:a aac %s", apath), 0);
        assert_int_equal(vt_load_audio(apath, &a), 0);
        unlink(apath);
        free(apath);
    }
    vc_clip_writer_cfg cfg = {
        .encoder = enc, .width = W, .height = H, .pix_fmt = AV_PIX_FMT_YUV420P,
        .frame_rate = { 25, 1 }, .time_base = { 1, 12800 }, .bit_rate = 4000000,
        .audio = audio ? a.par : NULL, .audio_time_base = a.time_base,
    };
    char err[512];
    vc_clip_writer *w = vc_clip_writer_open(&cfg, err, sizeof(err));
    if (!w)
        fail_msg("open: %s", err);
    for (int i = 0; i < FRAMES; i++) {
        AVFrame *f = vt_make_frame(AV_PIX_FMT_YUV420P, W, H, i, 120);
        assert_int_equal(vc_clip_writer_video(w, f, i * 512), 0);
        av_frame_free(&f);
    }
    for (int i = 0; i < a.n; i++)
        assert_int_equal(vc_clip_writer_audio(w, a.pkts[i]), 0);
    uint8_t *mp4;
    size_t len;
    int64_t n;
    if (vc_clip_writer_finish(w, &mp4, &len, &n, err, sizeof(err)) < 0)
        fail_msg("finish: %s", err);
    assert_int_equal(n, FRAMES);
    vc_clip_writer_free(w);
    vt_audio_free(&a);
    char *path = vt_write_temp(mp4, len, ".mp4");
    free(mp4);
    return path;
}

static void check_with_ffprobe(const char *path, int streams)
{
    char *cmd = vc_asprintf("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                            "stream=codec_name,width,height,avg_frame_rate,r_frame_rate,nb_read_frames,"
                            "nb_frames,duration,pix_fmt -of default=nw=1 %s", path);
    char *out = run_capture(cmd);
    free(cmd);
    assert_non_null(out);
    const char *want[] = { "codec_name=h264", "width=640", "height=360", "pix_fmt=yuv420p",
                           "r_frame_rate=25/1", "avg_frame_rate=25/1", "duration=3.000000",
                           "nb_frames=75", "nb_read_frames=75" };
    for (size_t i = 0; i < VC_ARRAY_LEN(want); i++)
        if (!strstr(out, want[i]))
            fail_msg("ffprobe output lacks %s:\n%s", want[i], out);
    free(out);
    cmd = vc_asprintf("ffprobe -v error -show_entries format=nb_streams -of default=nw=1:nk=1 %s", path);
    out = run_capture(cmd);
    free(cmd);
    assert_non_null(out);
    assert_int_equal(atoi(out), streams);
    free(out);
}

static void check_with_pyav(const char *path)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        return;
    char *cmd = vc_asprintf("/usr/bin/python3 -c \"import av,sys; c=av.open(sys.argv[1]); "
                            "s=c.streams.video[0]; n=sum(1 for _ in c.decode(video=0)); "
                            "print(n, s.average_rate, float(s.duration*s.time_base))\" %s 2>/dev/null", path);
    char *out = run_capture(cmd);
    free(cmd);
    if (!out) {
        print_message("PyAV not available: skipped\n");
        return;
    }
    if (strncmp(out, "75 25 3.0", 9) != 0)
        fail_msg("PyAV says: %s", out);
    free(out);
}

static void check_encoder(vc_encoder_kind enc, bool audio)
{
    char err[512];
    if (!vc_encoder_available(enc, err, sizeof(err))) {
        print_message("skipping %s: %s\n", vc_encoder_name(enc), err);
        skip();
    }
    char *path = write_clip(enc, audio);
    check_with_ffprobe(path, audio ? 2 : 1);
    check_with_pyav(path);
    unlink(path);
    free(path);
}

static void test_openh264_audio(void **state)
{
    (void)state;
    check_encoder(VC_ENC_OPENH264, true);
}

static void test_x264(void **state)
{
    (void)state;
    check_encoder(VC_ENC_LIBX264, false);
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openh264_audio),
        cmocka_unit_test(test_x264),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
