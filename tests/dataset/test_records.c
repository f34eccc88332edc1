/* Per-clip metadata, processed-video / clip-chunk / error records and the
 * re-chunking rule. Expected texts were printed by CPython's json.dumps
 * (indent=4) from dicts built in Cosmos Curator's key order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/clipmeta.h"
#include "dataset/pyjson.h"
#include "dataset/records.h"
#include "storage/fs.h"
#include "support/tmpdir.h"

#define CLIP_UUID "7d3f6a52-1f0e-5b8e-9a43-0c1d2e3f4a5b"
#define CLIP_UUID2 "11111111-2222-5333-8444-555555555555"

static const char CLIPMETA_A[] =
    "{\n"
    "    \"span_uuid\": \"7d3f6a52-1f0e-5b8e-9a43-0c1d2e3f4a5b\",\n"
    "    \"source_video\": \"/data/in/cam1/a.mp4\",\n"
    "    \"duration_span\": [\n"
    "        0.5,\n"
    "        9.9\n"
    "    ],\n"
    "    \"width_source\": 1920,\n"
    "    \"height_source\": 1080,\n"
    "    \"framerate_source\": 29.97002997002997,\n"
    "    \"clip_location\": \"/out/clips/7d3f6a52-1f0e-5b8e-9a43-0c1d2e3f4a5b.mp4\",\n"
    "    \"width\": 1280,\n"
    "    \"height\": 720,\n"
    "    \"framerate\": 29.97002997002997,\n"
    "    \"num_frames\": 281,\n"
    "    \"video_codec\": \"h264\",\n"
    "    \"num_bytes\": 4712345,\n"
    "    \"windows\": [],\n"
    "    \"filtered_windows\": [],\n"
    "    \"valid\": false,\n"
    "    \"has_caption\": false,\n"
    "    \"total_prompt_tokens\": 0,\n"
    "    \"total_output_tokens\": 0\n"
    "}";

static const char CLIPMETA_B[] =
    "{\n"
    "    \"span_uuid\": \"7d3f6a52-1f0e-5b8e-9a43-0c1d2e3f4a5b\",\n"
    "    \"source_video\": \"/data/in/cam1/a.mp4\",\n"
    "    \"duration_span\": [\n"
    "        0.5,\n"
    "        9.9\n"
    "    ],\n"
    "    \"width_source\": 1920,\n"
    "    \"height_source\": 1080,\n"
    "    \"framerate_source\": 29.97002997002997,\n"
    "    \"clip_location\": \"/out/clips/7d3f6a52-1f0e-5b8e-9a43-0c1d2e3f4a5b.mp4\",\n"
    "    \"width\": 1280,\n"
    "    \"height\": 720,\n"
    "    \"framerate\": 29.97002997002997,\n"
    "    \"num_frames\": 281,\n"
    "    \"video_codec\": \"h264\",\n"
    "    \"num_bytes\": 4712345,\n"
    "    \"motion_score\": {\n"
    "        \"global_mean\": 0.0021,\n"
    "        \"per_patch_min_256\": 4e-05\n"
    "    },\n"
    "    \"aesthetic_score\": 4.81,\n"
    "    \"post_production_text\": false,\n"
    "    \"errors\": [\n"
    "        \"transcode\",\n"
    "        \"motion_decode\"\n"
    "    ],\n"
    "    \"windows\": [\n"
    "        {\n"
    "            \"start_frame\": 0,\n"
    "            \"end_frame\": 280,\n"
    "            \"qwen_caption\": \"A caf\\u00e9.\",\n"
    "            \"qwen_prompt_tokens\": 5001,\n"
    "            \"qwen_output_tokens\": 495\n"
    "        }\n"
    "    ],\n"
    "    \"filtered_windows\": [],\n"
    "    \"valid\": true,\n"
    "    \"has_caption\": true,\n"
    "    \"total_prompt_tokens\": 5001,\n"
    "    \"total_output_tokens\": 495\n"
    "}";

static const char CLIPMETA_C[] =
    "{\n"
    "    \"span_uuid\": \"7d3f6a52-1f0e-5b8e-9a43-0c1d2e3f4a5b\",\n"
    "    \"source_video\": \"/data/in/cam1/a.mp4\",\n"
    "    \"duration_span\": [\n"
    "        0.5,\n"
    "        9.9\n"
    "    ],\n"
    "    \"width_source\": 1920,\n"
    "    \"height_source\": 1080,\n"
    "    \"framerate_source\": 29.97002997002997,\n"
    "    \"clip_location\": \"/out/filtered_clips/7d3f6a52-1f0e-5b8e-9a43-0c1d2e3f4a5b.mp4\",\n"
    "    \"errors\": [\n"
    "        \"transcode\"\n"
    "    ],\n"
    "    \"windows\": [],\n"
    "    \"filtered_windows\": [],\n"
    "    \"valid\": false,\n"
    "    \"has_caption\": false,\n"
    "    \"total_prompt_tokens\": 0,\n"
    "    \"total_output_tokens\": 0\n"
    "}";

static const char PROCESSED_VIDEO[] =
    "{\n"
    "    \"video\": \"/data/in/cam1/a.mp4\",\n"
    "    \"height\": 1080,\n"
    "    \"width\": 1920,\n"
    "    \"framerate\": 29.97002997002997,\n"
    "    \"num_frames\": 1800,\n"
    "    \"duration\": 60.06,\n"
    "    \"video_codec\": \"h264\",\n"
    "    \"pixel_format\": \"yuv420p\",\n"
    "    \"audio_format\": \"aac\",\n"
    "    \"num_total_clips\": 3,\n"
    "    \"num_clip_chunks\": 2,\n"
    "    \"video_uuid\": \"e9fc93ea-7b71-59d8-a326-de2da4110a20\"\n"
    "}";

static const char CLIP_CHUNK[] =
    "{\n"
    "    \"video\": \"/data/in/cam1/a.mp4\",\n"
    "    \"clip_chunk_index\": 1,\n"
    "    \"num_clips_filtered_by_motion\": 1,\n"
    "    \"num_clips_filtered_by_aesthetic\": 0,\n"
    "    \"num_clips_filtered_by_qwen_classifier\": 0,\n"
    "    \"num_clips_filtered_by_qwen_semantic\": 0,\n"
    "    \"num_clips_filtered_by_artificial_text\": 0,\n"
    "    \"num_clips_passed\": 1,\n"
    "    \"num_clips_transcoded\": 2,\n"
    "    \"num_clips_with_embeddings\": 0,\n"
    "    \"num_clips_with_caption\": 0,\n"
    "    \"num_clips_with_webp\": 0,\n"
    "    \"total_clip_duration\": 12.4,\n"
    "    \"max_clip_duration\": 9.4,\n"
    "    \"total_prompt_tokens\": 0,\n"
    "    \"total_output_tokens\": 0,\n"
    "    \"clips\": [\n"
    "        \"7d3f6a52-1f0e-5b8e-9a43-0c1d2e3f4a5b\"\n"
    "    ],\n"
    "    \"filtered_clips\": [\n"
    "        \"11111111-2222-5333-8444-555555555555\"\n"
    "    ],\n"
    "    \"all_windows\": {\n"
    "        \"7d3f6a52-1f0e-5b8e-9a43-0c1d2e3f4a5b\": {}\n"
    "    },\n"
    "    \"all_windows_enhanced_caption\": {\n"
    "        \"7d3f6a52-1f0e-5b8e-9a43-0c1d2e3f4a5b\": {}\n"
    "    }\n"
    "}";

static const char VIDEO_ERRORS[] =
    "{\n"
    "    \"video\": \"/data/in/cam1/a.mp4\",\n"
    "    \"clip_chunk_index\": 0,\n"
    "    \"errors\": {\n"
    "        \"download\": \"cannot read \\\"a.mp4\\\": No such file\"\n"
    "    }\n"
    "}";

static uint8_t dummy_mp4[16];

static vc_video make_video(void)
{
    vc_video v = {0};
    v.path = "/data/in/cam1/a.mp4";
    v.relpath = "cam1/a.mp4";
    vc_uuid5_url(v.path, v.uuid);
    v.info_ok = true;
    v.info.width = 1920;
    v.info.height = 1080;
    v.info.fps_num = 30000;
    v.info.fps_den = 1001;
    v.info.fps = 30000.0 / 1001.0;
    v.info.duration = 60.06;
    v.info.num_frames = 1800;
    strcpy(v.info.video_codec, "h264");
    strcpy(v.info.pixel_format, "yuv420p");
    strcpy(v.info.audio_format, "aac");
    return v;
}

static vc_clip make_clip(const char *uuid, double start, double end, bool with_mp4)
{
    vc_clip c = {0};
    strcpy(c.uuid, uuid);
    c.span_start = start;
    c.span_end = end;
    if (with_mp4) {
        c.mp4 = dummy_mp4;
        c.mp4_len = 4712345; /* only the length is recorded */
    }
    c.width = 1280;
    c.height = 720;
    c.framerate = 30000.0 / 1001.0;
    c.num_frames = 281;
    c.video_codec = "h264";
    return c;
}

/* dir and what is in it; dir itself is freed */
static void rm_rf(char *dir)
{
    assert_int_equal(vc_test_rm_rf(dir), 0);
    free(dir);
}

static void assert_file_equals(const char *path, const char *want)
{
    char *got = vc_fs_read_all(path, NULL);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_clipmeta_captions_off(void **state)
{
    (void)state;
    vc_video v = make_video();
    vc_clip c = make_clip(CLIP_UUID, 0.5, 9.9, true);
    char *out = vc_test_tmpdir("records");
    char *loc = vc_out_clip_mp4_path("/out", c.uuid, false);
    json_t *meta = vc_clipmeta_json(&v, &c, loc);
    assert_int_equal(vc_write_clip_meta(out, c.uuid, meta), 0);
    char *path = vc_out_clip_meta_path(out, c.uuid);
    assert_file_equals(path, CLIPMETA_A);
    /* Never overwritten. */
    assert_int_equal(vc_write_clip_meta(out, c.uuid, meta), 1);
    free(path);
    json_decref(meta);
    free(loc);
    rm_rf(out);
}

static void test_clipmeta_all_fields(void **state)
{
    (void)state;
    vc_video v = make_video();
    vc_clip c = make_clip(CLIP_UUID, 0.5, 9.9, true);
    c.error = "ffmpeg failed";
    json_t *win = vc_clipmeta_window(0, 280);
    json_object_set_new(win, "qwen_caption", json_string("A caf\xc3\xa9."));
    json_object_set_new(win, "qwen_prompt_tokens", json_integer(5001));
    json_object_set_new(win, "qwen_output_tokens", json_integer(495));
    json_t *windows = json_array();
    json_array_append_new(windows, win);
    json_t *extra = json_object();
    json_object_set_new(extra, "post_production_text", json_false());
    const char *errs[] = {"motion_decode"};
    vc_clipmeta_opts o = {
        .has_motion_score = true, .motion_global_mean = 0.0021, .motion_per_patch_min_256 = 4e-05,
        .has_aesthetic_score = true, .aesthetic_score = 4.81, .extra = extra,
        .error_keys = errs, .n_error_keys = 1, .windows = windows,
        .has_caption = true, .total_prompt_tokens = 5001, .total_output_tokens = 495,
    };
    char *loc = vc_out_clip_mp4_path("/out", c.uuid, false);
    json_t *meta = vc_clipmeta_json_ex(&v, &c, loc, &o);
    char *got = vc_pyjson_dumps(meta, 4);
    assert_string_equal(got, CLIPMETA_B);
    free(got);
    json_decref(meta);
    json_decref(windows);
    json_decref(extra);
    free(loc);
}

static void test_clipmeta_no_bytes(void **state)
{
    (void)state;
    vc_video v = make_video();
    vc_clip c = make_clip(CLIP_UUID, 0.5, 9.9, false);
    c.error = "transcode failed";
    /* A window does not make a clip without bytes valid. */
    json_t *windows = json_array();
    json_array_append_new(windows, vc_clipmeta_window(0, 10));
    json_decref(windows);
    char *loc = vc_out_clip_mp4_path("/out", c.uuid, true);
    json_t *meta = vc_clipmeta_json(&v, &c, loc);
    char *got = vc_pyjson_dumps(meta, 4);
    assert_string_equal(got, CLIPMETA_C);
    free(got);
    json_decref(meta);
    free(loc);
}

static size_t chunk(const double *durations, size_t n, size_t *starts)
{
    vc_clip *clips = calloc(n ? n : 1, sizeof *clips);
    double t = 0;
    for (size_t i = 0; i < n; i++) {
        clips[i].span_start = t;
        clips[i].span_end = t + durations[i];
        t += durations[i] + 1.0;
    }
    size_t k = vc_chunk_clips(clips, n, 32, starts);
    free(clips);
    return k;
}

static void test_chunking_rule(void **state)
{
    (void)state;
    size_t starts[64];
    /* No clip: no chunk (hence no task and no record in Cosmos). */
    assert_int_equal(chunk(NULL, 0, starts), 0);
    assert_int_equal(starts[0], 0);
    /* int(duration) is summed: 25 clips of 10.99 s count 10 each -> 250 < 256. */
    double d1[26];
    for (int i = 0; i < 26; i++)
        d1[i] = 10.99;
    assert_int_equal(chunk(d1, 25, starts), 1);
    assert_int_equal(starts[1], 25);
    /* The 26th reaches 260 >= 256: chunk closes after it; nothing left. */
    assert_int_equal(chunk(d1, 26, starts), 1);
    /* Exactly 256 closes a chunk; 1 + int(255.9) = 256 closes the next;
     * the remainder is a last, partial chunk. */
    double d2[] = {200.0, 56.0, 1.0, 255.9, 0.5};
    assert_int_equal(chunk(d2, 5, starts), 3);
    assert_int_equal(starts[0], 0);
    assert_int_equal(starts[1], 2);
    assert_int_equal(starts[2], 4);
    assert_int_equal(starts[3], 5);
    /* 1 + int(254.99) = 255 < 256: one chunk. */
    double d4[] = {1.0, 254.99};
    assert_int_equal(chunk(d4, 2, starts), 1);
    /* A single long clip is a chunk on its own. */
    double d3[] = {300.0, 2.0, 2.0};
    assert_int_equal(chunk(d3, 3, starts), 2);
    assert_int_equal(starts[1], 1);
    assert_int_equal(starts[2], 3);
}

static void test_processed_video_record(void **state)
{
    (void)state;
    char *out = vc_test_tmpdir("records");
    vc_video v = make_video();
    assert_int_equal(vc_write_processed_video(out, &v, 3, 2), 0);
    char *path = vc_out_processed_video_path(out, v.relpath);
    assert_true(strstr(path, "/processed_videos/cam1/a.mp4.json") != NULL);
    assert_file_equals(path, PROCESSED_VIDEO);
    assert_int_equal(vc_write_processed_video(out, &v, 9, 9), 1);
    assert_file_equals(path, PROCESSED_VIDEO);
    free(path);
    /* No audio stream: Python None. */
    v.info.audio_format[0] = '\0';
    json_t *j = vc_processed_video_json(&v, 0, 0);
    assert_true(json_is_null(json_object_get(j, "audio_format")));
    assert_int_equal(json_integer_value(json_object_get(j, "num_clip_chunks")), 0);
    json_decref(j);
    rm_rf(out);
}

static void test_clip_chunk_record(void **state)
{
    (void)state;
    char *out = vc_test_tmpdir("records");
    vc_video v = make_video();
    vc_clip passed = make_clip(CLIP_UUID, 0.5, 9.9, true);
    vc_clip filtered = make_clip(CLIP_UUID2, 20.0, 23.0, true);
    vc_chunk_stats st = {0};
    st.num_clips_filtered_by_motion = 1;
    json_t *m1 = vc_clipmeta_json(&v, &passed, "/out/clips/x.mp4");
    json_t *m2 = vc_clipmeta_json(&v, &filtered, "/out/filtered_clips/y.mp4");
    vc_chunk_stats_add_clip(&st, &passed, false, m1, false, false);
    vc_chunk_stats_add_clip(&st, &filtered, true, m2, false, false);
    json_decref(m1);
    json_decref(m2);
    vc_chunk_record r = {.chunk_index = 1, .stats = &st, .clips = &passed, .n_clips = 1,
                         .filtered = &filtered, .n_filtered = 1};
    assert_int_equal(vc_write_clip_chunk(out, &v, &r), 0);
    char *path = vc_out_clip_chunk_path(out, v.relpath, 1);
    assert_true(strstr(path, "/processed_clip_chunks/cam1/a.mp4_1.json") != NULL);
    assert_file_equals(path, CLIP_CHUNK);
    free(path);
    rm_rf(out);
}

static void test_video_errors_record(void **state)
{
    (void)state;
    char *out = vc_test_tmpdir("records");
    vc_video v = make_video();
    json_t *errs = json_object();
    json_object_set_new(errs, "download", json_string("cannot read \"a.mp4\": No such file"));
    assert_int_equal(vc_write_video_errors(out, &v, 0, errs), 0);
    char *path = vc_out_video_error_path(out, v.relpath, 0);
    assert_true(strstr(path, "/video_errors/cam1/a.mp4_0.json") != NULL);
    assert_file_equals(path, VIDEO_ERRORS);
    free(path);
    json_decref(errs);
    rm_rf(out);
}

static void test_paths_and_uuid(void **state)
{
    (void)state;
    char *p = vc_out_clip_mp4_path("/out/", "u", false);
    assert_string_equal(p, "/out/clips/u.mp4");
    free(p);
    p = vc_out_clip_mp4_path("/out", "u", true);
    assert_string_equal(p, "/out/filtered_clips/u.mp4");
    free(p);
    p = vc_out_clip_meta_path("/out", "u");
    assert_string_equal(p, "/out/metas/v0/u.json");
    free(p);
    /* str(pathlib.Path(input, rel)) */
    p = vc_input_video_path("/data//in/", "cam1/./a.mp4");
    assert_string_equal(p, "/data/in/cam1/a.mp4");
    free(p);
    char u[VC_UUID_STR_LEN];
    /* str(uuid.uuid5(uuid.NAMESPACE_URL, "/data/in/cam1/a.mp4")) */
    vc_video_uuid("/data/in/cam1/a.mp4", u);
    assert_non_null(strstr(PROCESSED_VIDEO, u));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clipmeta_captions_off),
        cmocka_unit_test(test_clipmeta_all_fields),
        cmocka_unit_test(test_clipmeta_no_bytes),
        cmocka_unit_test(test_chunking_rule),
        cmocka_unit_test(test_processed_video_record),
        cmocka_unit_test(test_clip_chunk_record),
        cmocka_unit_test(test_video_errors_record),
        cmocka_unit_test(test_paths_and_uuid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
