/* Unit tests of src/shard: pickles, tars, bins, plan, CSV, NaN-tolerant JSON,
 * metas members, and vc_cmd_shard run in-process on a tiny tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/shard_cmd.h"
#include "dataset/pyjson.h"
#include "shard/bins.h"
#include "shard/pack.h"
#include "shard/pickle.h"
#include "shard/plan.h"
#include "shard/pyload.h"
#include "shard/tarwriter.h"
#include "shard/wdinfo.h"
#include "storage/fs.h"
#include "support/tmpdir.h"
#include "util/common.h"

static void write_file(const char *path, const void *data, size_t len)
{
    assert_int_equal(vc_fs_write_atomic(path, data, len), 0);
}

/* ---- pickle ---- */

static void test_pickle_empty_list(void **state)
{
    (void)state;
    vc_buf b = { 0 };
    vc_pickle_f16_array_list(&b, NULL, 0);
    /* pickle.dumps([]) under Python 3.8+ (protocol 4) */
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "\x80\x04]\x94.", 5);
    vc_buf_free(&b);
}

static void test_pickle_one_array_exact(void **state)
{
    (void)state;
    /* pickle.dumps([np.arange(6, dtype=np.float16).reshape(2, 3)], protocol=4), numpy 1.24 */
    static const uint8_t want[] = {
        0x80, 0x04, 0x95, 0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5d, 0x94, 0x8c, 0x15, 0x6e,
        0x75, 0x6d, 0x70, 0x79, 0x2e, 0x63, 0x6f, 0x72, 0x65, 0x2e, 0x6d, 0x75, 0x6c, 0x74, 0x69, 0x61,
        0x72, 0x72, 0x61, 0x79, 0x94, 0x8c, 0x0c, 0x5f, 0x72, 0x65, 0x63, 0x6f, 0x6e, 0x73, 0x74, 0x72,
        0x75, 0x63, 0x74, 0x94, 0x93, 0x94, 0x8c, 0x05, 0x6e, 0x75, 0x6d, 0x70, 0x79, 0x94, 0x8c, 0x07,
        0x6e, 0x64, 0x61, 0x72, 0x72, 0x61, 0x79, 0x94, 0x93, 0x94, 0x4b, 0x00, 0x85, 0x94, 0x43, 0x01,
        0x62, 0x94, 0x87, 0x94, 0x52, 0x94, 0x28, 0x4b, 0x01, 0x4b, 0x02, 0x4b, 0x03, 0x86, 0x94, 0x68,
        0x04, 0x8c, 0x05, 0x64, 0x74, 0x79, 0x70, 0x65, 0x94, 0x93, 0x94, 0x8c, 0x02, 0x66, 0x32, 0x94,
        0x89, 0x88, 0x87, 0x94, 0x52, 0x94, 0x28, 0x4b, 0x03, 0x8c, 0x01, 0x3c, 0x94, 0x4e, 0x4e, 0x4e,
        0x4a, 0xff, 0xff, 0xff, 0xff, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x4b, 0x00, 0x74, 0x94, 0x62, 0x89,
        0x43, 0x0c, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x40, 0x00, 0x42, 0x00, 0x44, 0x00, 0x45, 0x94, 0x74,
        0x94, 0x62, 0x61, 0x2e,
    };
    const uint16_t data[6] = { 0x0000, 0x3c00, 0x4000, 0x4200, 0x4400, 0x4500 };
    vc_pickle_f16_array a = { data, 2, 3 };
    vc_buf b = { 0 };
    vc_pickle_f16_array_list(&b, &a, 1);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, b.len);
    vc_buf_free(&b);
}

static void write_pickle_case(const char *dir, int idx, const int64_t *shape, size_t n)
{
    vc_pickle_f16_array *arrs = vc_xcalloc(n ? n : 1, sizeof(*arrs));
    uint16_t **datas = vc_xcalloc(n ? n : 1, sizeof(*datas));
    vc_buf shapes = { 0 };
    for (size_t i = 0; i < n; i++) {
        int64_t r = shape[2 * i], c = shape[2 * i + 1];
        uint16_t *d = datas[i] = vc_xmalloc((size_t)(r * c) * 2 + 2);
        for (int64_t k = 0; k < r * c; k++)
            d[k] = (uint16_t)(k * 7 + (int64_t)i);
        arrs[i] = (vc_pickle_f16_array){ d, r, c };
        char *s = vc_asprintf("%lld %lld ", (long long)r, (long long)c);
        vc_buf_append(&shapes, s, strlen(s));
        free(s);
    }
    vc_buf b = { 0 };
    vc_pickle_f16_array_list(&b, arrs, n);
    /* the size from the shapes alone (how shard sizes members it computes later) */
    assert_int_equal(vc_pickle_f16_array_list_size(arrs, n), b.len);
    for (size_t i = 0; i < n; i++)
        arrs[i].data = NULL;
    assert_int_equal(vc_pickle_f16_array_list_size(arrs, n), b.len);
    char *p = vc_asprintf("%s/case_%03d.pickle", dir, idx);
    write_file(p, b.data, b.len);
    free(p);
    p = vc_asprintf("%s/case_%03d.shapes", dir, idx);
    write_file(p, shapes.data ? (void *)shapes.data : "", shapes.len);
    free(p);
    for (size_t i = 0; i < n; i++)
        free(datas[i]);
    free(datas);
    free(arrs);
    vc_buf_free(&b);
    vc_buf_free(&shapes);
}

/* Byte-for-byte against Python's pickle + numpy, over frame edges (64 KiB
 * payloads bypass frames), APPEND vs APPENDS batches of 1000, T5 shapes. */
static void test_pickle_matches_python(void **state)
{
    (void)state;
    const char *tests_dir = getenv("VC_SHARD_TESTS_DIR");
    if (!tests_dir || access("/usr/bin/python3", X_OK) != 0)
        skip();
    char *dir = vc_test_tmpdir("shard-unit");
    int idx = 0;
    const int64_t t5[] = { 124, 1024, 7, 1024, 40, 1024, 1, 1024, 512, 1024 };
    write_pickle_case(dir, idx++, t5, 5);
    const int64_t edge[] = { 31, 1024, 32, 1024, 16, 1024, 33, 1024 };
    write_pickle_case(dir, idx++, edge, 4);
    const int64_t one_big[] = { 100, 1024 };
    write_pickle_case(dir, idx++, one_big, 1);
    int64_t *many = vc_xcalloc(2 * 2501, sizeof(int64_t));
    for (size_t i = 0; i < 2501; i++)
        many[2 * i] = 1, many[2 * i + 1] = 3;
    write_pickle_case(dir, idx++, many, 1001);
    write_pickle_case(dir, idx++, many, 2501);
    free(many);
    srand(7);
    for (int c = 0; c < 12; c++) {
        int64_t shp[24];
        size_t n = (size_t)(rand() % 12);
        for (size_t i = 0; i < n; i++)
            shp[2 * i] = 1 + rand() % 300, shp[2 * i + 1] = (rand() % 2) ? 1024 : 3;
        write_pickle_case(dir, idx++, shp, n);
    }
    char *cmd = vc_asprintf("/usr/bin/python3 '%s/check_pickle.py' '%s'", tests_dir, dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_int_equal(vc_test_rm_rf(dir), 0);
    free(dir);
}

/* ---- tar ---- */

static char *read_all(const char *path, size_t *len)
{
    char *d = vc_fs_read_all(path, len);
    assert_non_null(d);
    return d;
}

static void make_tar(const char *path, const char *src, bool copy_range)
{
    vc_tar_set_copy_range(copy_range);
    char *err = NULL;
    vc_tar *t = vc_tar_open(path, &err);
    assert_non_null(t);
    int fd = open(src, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    assert_int_equal(vc_tar_add_bytes(t, "k1.json", "{\"a\": 1}", 8, &err), 0);
    assert_int_equal(vc_tar_add_file(t, "k1.mp4", fd, st.st_size, &err), 0);
    assert_int_equal(vc_tar_add_bytes(t, "k2.json", "", 0, &err), 0);
    assert_int_equal(vc_tar_commit(t, &err), 0);
    close(fd);
    vc_tar_set_copy_range(1);
}

static void test_tar_layout(void **state)
{
    (void)state;
    char *dir = vc_test_tmpdir("shard-unit");
    char *src = vc_asprintf("%s/clip.bin", dir);
    size_t n = 3 * 1024 * 1024 + 123;
    char *data = vc_xmalloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 131 + (i >> 9));
    write_file(src, data, n);
    char *a = vc_asprintf("%s/a.tar", dir), *b = vc_asprintf("%s/b.tar", dir);
    make_tar(a, src, true);
    make_tar(b, src, false);
    size_t la, lb;
    char *da = read_all(a, &la), *db = read_all(b, &lb);
    const int64_t sizes[] = { 8, (int64_t)n, 0 };
    assert_int_equal(la, vc_tar_expected_size(sizes, 3));
    assert_int_equal(la % 10240, 0);
    /* copy_file_range and the buffered path give the same bytes */
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    /* ustar header of member 1, and its data right after */
    assert_string_equal(da, "k1.json");
    assert_memory_equal(da + 257, "ustar\0" "00", 8);
    assert_string_equal(da + 265, "bigdata");
    assert_string_equal(da + 297, "bigdata");
    assert_int_equal(strtol(da + 100, NULL, 8), 0444);
    assert_int_equal(strtol(da + 136, NULL, 8), VC_TAR_MTIME);
    assert_memory_equal(da + 512, "{\"a\": 1}", 8);
    assert_string_equal(da + 1024, "k1.mp4");
    assert_int_equal(strtol(da + 1024 + 124, NULL, 8), (long)n);
    assert_memory_equal(da + 1536, data, n);
    free(da);
    free(db);
    free(data);
    free(a);
    free(b);
    free(src);
    assert_int_equal(vc_test_rm_rf(dir), 0);
    free(dir);
}

static void test_tar_short_source_fails_cleanly(void **state)
{
    (void)state;
    char *dir = vc_test_tmpdir("shard-unit");
    char *src = vc_asprintf("%s/clip.bin", dir), *dst = vc_asprintf("%s/x.tar", dir);
    write_file(src, "0123456789", 10);
    for (int mode = 0; mode < 2; mode++) {
        vc_tar_set_copy_range(mode);
        char *err = NULL;
        vc_tar *t = vc_tar_open(dst, &err);
        int fd = open(src, O_RDONLY);
        assert_int_equal(vc_tar_add_file(t, "k.mp4", fd, 100, &err), -1);
        assert_non_null(strstr(err, "shorter"));
        free(err);
        vc_tar_abort(t);
        close(fd);
    }
    vc_tar_set_copy_range(1);
    assert_false(vc_fs_exists(dst));
    vc_strlist files = { 0 };
    assert_int_equal(vc_fs_list_recursive(dir, &files), 0);
    assert_int_equal(files.len, 1); /* only clip.bin: no temporaries left */
    vc_strlist_free(&files);
    free(src);
    free(dst);
    assert_int_equal(vc_test_rm_rf(dir), 0);
    free(dir);
}

/* ---- bins ---- */

static const char *bin_of(double w, double h, double frames, double fps, bool short_bin)
{
    static char buf[128];
    vc_shard_bin b;
    vc_shard_nobin why = vc_shard_find_bin(w, h, frames, fps, short_bin, &b);
    if (why != VC_SHARD_BIN_OK)
        return vc_shard_nobin_reason(why);
    char *p = vc_shard_bin_path(&b);
    snprintf(buf, sizeof(buf), "%s", p);
    free(p);
    return buf;
}

static void test_bins(void **state)
{
    (void)state;
    assert_string_equal(bin_of(1920, 1080, 240, 30, false), "resolution_1080/aspect_ratio_16_9/duration_5_10");
    assert_string_equal(bin_of(1280, 720, 150, 30, false), "resolution_720/aspect_ratio_16_9/duration_5_10");
    assert_string_equal(bin_of(1280, 720, 300, 30, false), "resolution_720/aspect_ratio_16_9/duration_5_10");
    assert_string_equal(bin_of(1280, 720, 301, 30, false), "resolution_720/aspect_ratio_16_9/duration_10_30");
    assert_string_equal(bin_of(1280, 720, 900, 30, false), "resolution_720/aspect_ratio_16_9/duration_10_30");
    assert_string_equal(bin_of(1280, 720, 901, 30, false), "resolution_720/aspect_ratio_16_9/duration_30_inf");
    assert_string_equal(bin_of(1280, 719, 240, 30, false), "resolution_lt_720/aspect_ratio_16_9/duration_5_10");
    assert_string_equal(bin_of(1079, 1920, 240, 30, false), "resolution_720/aspect_ratio_9_16/duration_5_10");
    /* aspect edges: upper bounds inclusive */
    assert_string_equal(bin_of(65, 100, 240, 30, false), "resolution_lt_720/aspect_ratio_9_16/duration_5_10");
    assert_string_equal(bin_of(88, 100, 240, 30, false), "resolution_lt_720/aspect_ratio_3_4/duration_5_10");
    assert_string_equal(bin_of(116, 100, 240, 30, false), "resolution_lt_720/aspect_ratio_1_1/duration_5_10");
    assert_string_equal(bin_of(155, 100, 240, 30, false), "resolution_lt_720/aspect_ratio_4_3/duration_5_10");
    assert_string_equal(bin_of(1000, 100, 240, 30, false), "resolution_lt_720/aspect_ratio_16_9/duration_5_10");
    assert_string_equal(bin_of(1001, 100, 240, 30, false), "bad_aspect_ratio");
    assert_string_equal(bin_of(0, 100, 240, 30, false), "bad_aspect_ratio");
    assert_string_equal(bin_of(100, 0, 240, 30, false), "bad_aspect_ratio");
    assert_string_equal(bin_of(1280, 720, 149, 30, false), "too_short");
    assert_string_equal(bin_of(1280, 720, 149, 30, true), "resolution_720/aspect_ratio_16_9/duration_0_5");
    assert_string_equal(bin_of(1280, 720, 0, 30, true), "resolution_720/aspect_ratio_16_9/duration_0_5");
    assert_string_equal(bin_of(1280, 720, 240, 0, false), "bad_framerate");
    assert_string_equal(bin_of(1280, 720, 240, -5, false), "bad_framerate");
    assert_string_equal(bin_of(1280, 720, 240, NAN, false), "bad_framerate");
    assert_string_equal(bin_of(1280, 720, NAN, 30, true), "bad_duration");
    assert_string_equal(bin_of(1280, 720, INFINITY, 30, false), "bad_duration");
    /* 29.97 fps, 150 frames = 5.005 s */
    assert_string_equal(bin_of(1280, 720, 150, 29.97002997002997, false), "resolution_720/aspect_ratio_16_9/duration_5_10");
}

/* ---- plan ---- */

static void add_clip(vc_shard_cliplist *l, const char *uuid, int64_t bytes, double w, double h,
                     double frames)
{
    l->items = vc_xrealloc(l->items, (l->len + 1) * sizeof(*l->items));
    vc_shard_clip *c = &l->items[l->len++];
    memset(c, 0, sizeof(*c));
    c->listed = vc_xstrdup(uuid);
    c->uuid = vc_xstrdup(uuid);
    c->metas_path = vc_asprintf("/m/%s.json", uuid);
    c->mp4_path = vc_asprintf("/c/%s.mp4", uuid);
    c->num_bytes = c->file_bytes = bytes;
    c->width = w, c->height = h, c->num_frames = frames, c->framerate = 30;
    c->bin = -1;
}

static void test_plan_grouping(void **state)
{
    (void)state;
    vc_shard_cliplist l = { 0 };
    /* bin A (720 16_9 5_10): 4,4,4 / 9 (alone: larger than target) / 3,3 */
    add_clip(&l, "a1", 4, 1280, 720, 240);
    add_clip(&l, "a2", 4, 1280, 720, 240);
    add_clip(&l, "b1", 1, 1920, 1080, 600); /* bin B first appears here */
    add_clip(&l, "a3", 2, 1280, 720, 240);
    add_clip(&l, "a4", 9, 1280, 720, 240);
    add_clip(&l, "a5", 3, 1280, 720, 240);
    add_clip(&l, "a6", 3, 1280, 720, 240);
    add_clip(&l, "a7", 5, 1280, 720, 240);
    add_clip(&l, "a7", 1, 1280, 720, 240); /* same span_uuid again */
    add_clip(&l, "s1", 1, 1280, 720, 30);  /* 1 s: too short */
    vc_shard_plan_opts o = { .target_tar_bytes = 10, .max_tars_per_part = 2,
                             .min_clips_per_tar = 2, .drop_small_shards = true };
    vc_shard_plan p;
    vc_shard_plan_build(&l, &o, &p);
    assert_int_equal(p.nbins, 2);
    assert_string_equal(p.bins[0].rel, "resolution_720/aspect_ratio_16_9/duration_5_10");
    assert_string_equal(p.bins[1].rel, "resolution_1080/aspect_ratio_16_9/duration_10_30");
    /* bin A: [a1 a2 a3]=10, [a4]=9, [a5 a6]=6, [a7]=5 -> dropped (1 < 2) */
    assert_int_equal(p.ntars, 3);
    assert_int_equal(p.tars[0].nclips, 3);
    assert_int_equal(p.tars[1].nclips, 1);
    assert_int_equal(p.tars[2].nclips, 2);
    assert_string_equal(p.tars[0].rel, "part_000000/000000.tar");
    assert_string_equal(p.tars[1].rel, "part_000000/000001.tar");
    assert_string_equal(p.tars[2].rel, "part_000001/000000.tar");
    /* bin B: one clip, its last tar has 1 < 2 clips: dropped too */
    assert_string_equal(l.items[7].left_out, VC_SHARD_LEFT_SMALL_SHARD);
    assert_string_equal(l.items[8].left_out, VC_SHARD_LEFT_DUPLICATE);
    assert_string_equal(l.items[9].left_out, "too_short");
    assert_string_equal(l.items[2].left_out, VC_SHARD_LEFT_SMALL_SHARD);
    assert_int_equal(p.bins[1].nclips, 0);
    assert_int_equal(p.bins[0].nclips, 6);
    vc_shard_plan_free(&p);
    vc_shard_cliplist_free(&l);
}

/* ---- CSV, JSON ---- */

static void test_csv_field(void **state)
{
    (void)state;
    char *s = vc_shard_csv_field("/a/b c/wdinfo.json");
    assert_string_equal(s, "/a/b c/wdinfo.json");
    free(s);
    s = vc_shard_csv_field("/a,b/\"q\"");
    assert_string_equal(s, "\"/a,b/\"\"q\"\"\"");
    free(s);
    s = vc_shard_csv_field("");
    assert_string_equal(s, "\"\"");
    free(s);
}

static void test_json_nonfinite_roundtrip(void **state)
{
    (void)state;
    const char *text = "{\"a\": NaN, \"b\": [Infinity, -Infinity, 1.5], \"c\": \"NaN \\\" x\", "
                       "\"d\": {\"e\": NaN}}";
    char *err = NULL;
    json_t *v = vc_shard_json_loads(text, strlen(text), &err);
    assert_non_null(v);
    char *out = vc_pyjson_dumps(v, VC_PYJSON_COMPACT);
    assert_string_equal(out, text);
    free(out);
    json_decref(v);
    v = vc_shard_json_loads("{\"a\": }", 7, &err);
    assert_null(v);
    assert_non_null(strstr(err, "line 1"));
    free(err);
}

static void test_metas_member(void **state)
{
    (void)state;
    char *dir = vc_test_tmpdir("shard-unit");
    char *p = vc_asprintf("%s/m.json", dir);
    const char *src = "{\n    \"span_uuid\": \"x\",\n    \"valid\": true,\n    \"windows\": [\n"
                      "        {\"start_frame\": 0, \"qwen_caption\": \"caf\\u00e9\"},\n"
                      "        {\"start_frame\": 5}\n    ],\n    \"z\": 1.0\n}";
    write_file(p, src, strlen(src));
    char *err = NULL;
    bool inval = false;
    vc_strlist caps = { 0 };
    char *m = vc_shard_metas_member(p, "qwen_caption", &inval, &caps, &err);
    assert_true(inval);
    assert_int_equal(caps.len, 1);
    assert_string_equal(caps.items[0], "caf\xc3\xa9");
    vc_strlist_free(&caps);
    assert_string_equal(m, "{\"span_uuid\": \"x\", \"valid\": false, \"windows\": [{\"start_frame\": 0, "
                           "\"qwen_caption\": \"caf\\u00e9\"}, {\"start_frame\": 5}], \"z\": 1.0}");
    free(m);
    free(p);
    assert_int_equal(vc_test_rm_rf(dir), 0);
    free(dir);
}

/* ---- vc_cmd_shard in-process ---- */

static void write_clip(const char *in, const char *uuid, int w, int h, int frames, int bytes)
{
    char *mp4 = vc_asprintf("%s/clips/%s.mp4", in, uuid);
    char *data = vc_xcalloc(1, (size_t)bytes);
    write_file(mp4, data, (size_t)bytes);
    char *meta = vc_asprintf("{\"span_uuid\": \"%s\", \"clip_location\": \"%s\", \"width\": %d, "
                             "\"height\": %d, \"framerate\": 30.0, \"num_frames\": %d, "
                             "\"num_bytes\": %d, \"windows\": [{\"start_frame\": 0, "
                             "\"end_frame\": 1, \"qwen_caption\": \"c\"}], \"valid\": true}",
                             uuid, mp4, w, h, frames, bytes);
    char *mp = vc_asprintf("%s/metas/v0/%s.json", in, uuid);
    write_file(mp, meta, strlen(meta));
    /* what `vcurate embed` leaves: the member and the record it matches */
    const char *rec = "{\n  \"format\": \"vcurate-t5-embeddings-1\",\n  \"d_model\": 4,\n"
                      "  \"captioning_algorithm\": \"qwen\",\n  \"annotation_version\": \"v0\",\n"
                      "  \"windows\": [{\"start_frame\": 0, \"end_frame\": 1, \"caption_sha256\": "
                      "\"2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6\"}]}";
    char *rp = vc_asprintf("%s/t5_xxl/v0/qwen/%s.json", in, uuid);
    write_file(rp, rec, strlen(rec));
    char *pp = vc_asprintf("%s/t5_xxl/v0/qwen/%s.pickle", in, uuid);
    char *pk = vc_asprintf("pickle of %s", uuid);
    write_file(pp, pk, strlen(pk));
    free(pk);
    free(pp);
    free(rp);
    free(mp);
    free(meta);
    free(data);
    free(mp4);
}

static int shard(const char *in, const char *out, const char *extra)
{
    char *args[8] = { "shard", "--input-clip-path", (char *)in, "--output-dataset-path",
                      (char *)out, (char *)extra, NULL };
    return vc_cmd_shard(extra ? 6 : 5, args);
}

static void test_cmd_in_process(void **state)
{
    (void)state;
    char *dir = vc_test_tmpdir("shard-unit");
    char *in = vc_asprintf("%s/in", dir), *out = vc_asprintf("%s/out", dir);
    write_clip(in, "c1", 1280, 720, 240, 1000);
    write_clip(in, "c2", 1280, 720, 240, 2000);
    write_clip(in, "c3", 640, 480, 60, 10);
    const char *summary = "{\"num_input_videos\": 1, \"v.mp4\": {\"clips\": [\"c2\", \"c1\", \"c3\"]}}";
    char *sp = vc_asprintf("%s/summary.json", in);
    write_file(sp, summary, strlen(summary));
    assert_int_equal(shard(in, out, NULL), 0);
    char *tar = vc_asprintf("%s/v0/resolution_720/aspect_ratio_16_9/duration_5_10/video/part_000000/000000.tar", out);
    size_t len;
    char *t = read_all(tar, &len);
    const int64_t sizes[] = { 1000, 2000 };
    assert_int_equal(len, vc_tar_expected_size(sizes, 2));
    assert_string_equal(t, "c1.mp4"); /* sorted order, not listing order */
    assert_string_equal(t + 512 + 1024, "c2.mp4");
    free(t);
    /* t5_xxl: embed's files, unchanged */
    char *t5tar = vc_asprintf("%s/v0/resolution_720/aspect_ratio_16_9/duration_5_10/t5_xxl/part_000000/000000.tar", out);
    t = read_all(t5tar, &len);
    const int64_t t5sizes[] = { 12, 12 };
    assert_int_equal(len, vc_tar_expected_size(t5sizes, 2));
    assert_string_equal(t, "c1.pickle");
    assert_memory_equal(t + 512, "pickle of c1", 12);
    free(t);
    free(t5tar);
    assert_int_equal(shard(in, out, NULL), 0);           /* rerun: resumes, nothing to do */
    assert_int_equal(shard(in, out, "--short-clip-bin"), 1); /* different plan: refused */
    assert_int_equal(shard(in, out, "--bogus"), 2);
    assert_int_equal(shard(in, NULL, NULL), 2);
    assert_int_equal(shard(in, out, "--t5-embeddings=bogus"), 2);
    assert_int_equal(shard(in, out, "--device=tpu"), 2);
    /* an edited caption: the record no longer matches; no weights -> refused
     * at start-up, nothing written; --t5-embeddings empty needs none */
    char *mp = vc_asprintf("%s/metas/v0/c2.json", in);
    size_t ml;
    char *meta = read_all(mp, &ml);
    char *q = strstr(meta, "\"c\"}");
    assert_non_null(q);
    q[1] = 'd';
    write_file(mp, meta, ml);
    char *out2 = vc_asprintf("%s/out2", dir);
    char *args[] = { "shard", "--input-clip-path", in, "--output-dataset-path", out2,
                     "--model-weights-path", "/nonexistent/weights", NULL };
    assert_int_equal(vc_cmd_shard(7, args), 1);
    char *state_file = vc_asprintf("%s/v0/.vcurate-shard-state.json", out2);
    assert_false(vc_fs_exists(state_file));   /* refused before writing anything */
    free(state_file);
    assert_int_equal(shard(in, out2, "--t5-embeddings=files"), 1);
    assert_int_equal(shard(in, out2, "--t5-embeddings=empty"), 0);
    free(out2);
    free(meta);
    free(mp);
    free(tar);
    free(sp);
    free(in);
    free(out);
    assert_int_equal(vc_test_rm_rf(dir), 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pickle_empty_list),
        cmocka_unit_test(test_pickle_one_array_exact),
        cmocka_unit_test(test_pickle_matches_python),
        cmocka_unit_test(test_tar_layout),
        cmocka_unit_test(test_tar_short_source_fails_cleanly),
        cmocka_unit_test(test_bins),
        cmocka_unit_test(test_plan_grouping),
        cmocka_unit_test(test_csv_field),
        cmocka_unit_test(test_json_nonfinite_roundtrip),
        cmocka_unit_test(test_metas_member),
        cmocka_unit_test(test_cmd_in_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
