/* Resume selection (which videos a run processes) and the video-list JSON
 * reader, on fabricated input and output trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/records.h"
#include "dataset/resume.h"
#include "dataset/videolist.h"
#include "storage/fs.h"
#include "support/tmpdir.h"

typedef struct {
    char *root, *in, *out;
} fixture;

static void put(const char *dir, const char *rel, const char *text)
{
    char *p = vc_fs_join(dir, rel);
    assert_int_equal(vc_fs_write_atomic(p, text, strlen(text)), 0);
    free(p);
}

static void write_processed(fixture *f, const char *rel, int64_t chunks)
{
    char *path = vc_fs_join(f->in, rel);
    vc_video v = {.path = path, .relpath = (char *)rel, .info_ok = true};
    assert_int_equal(vc_write_processed_video(f->out, &v, chunks * 3, chunks), 0);
    free(path);
}

static void write_chunk(fixture *f, const char *rel, int64_t i)
{
    char *p = vc_out_clip_chunk_path(f->out, rel, i);
    assert_int_equal(vc_fs_write_atomic(p, "{}", 2), 0);
    free(p);
}

/* in/: a.mp4 b.mp4 c/d.mp4 e.mp4 f.mp4. Processed: a (2 of 2 chunks),
 * c/d (no clip: 0 chunks, our fix), zzz (not in the input any more);
 * not processed: b (1 of 2 chunks), e (corrupt record), f (nothing). */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->root = vc_test_tmpdir("resume");
    f->in = vc_fs_join(f->root, "in");
    f->out = vc_fs_join(f->root, "out");
    const char *videos[] = {"f.mp4", "a.mp4", "c/d.mp4", "e.mp4", "b.mp4"};
    for (size_t i = 0; i < VC_ARRAY_LEN(videos); i++)
        put(f->in, videos[i], "video");
    write_processed(f, "a.mp4", 2);
    write_chunk(f, "a.mp4", 0);
    write_chunk(f, "a.mp4", 1);
    write_processed(f, "b.mp4", 2);
    write_chunk(f, "b.mp4", 0);
    write_processed(f, "c/d.mp4", 0);
    write_processed(f, "zzz.mp4", 1);
    write_chunk(f, "zzz.mp4", 0);
    put(f->out, "processed_videos/e.mp4.json", "{\"num_clip_chunks\": ");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = vc_test_rm_rf(f->root);
    free(f->root);
    free(f->in);
    free(f->out);
    free(f);
    return rc;
}

static void assert_list(const vc_strlist *l, const char *const *want, size_t n)
{
    assert_int_equal(l->len, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->items[i], want[i]);
}

static void test_find_processed(void **state)
{
    fixture *f = *state;
    vc_strlist p = {0};
    vc_resume_find_processed(f->out, &p);
    const char *want[] = {"a.mp4", "c/d.mp4", "zzz.mp4"};
    assert_list(&p, want, 3);
    vc_strlist_free(&p);
}

static void select_videos(fixture *f, const char *list_json, int64_t limit, vc_resume_result *r)
{
    vc_resume_input in = {.input_path = f->in, .output_path = f->out,
                          .list_json_path = list_json, .limit = limit};
    char *err = NULL;
    assert_int_equal(vc_resume_select(&in, r, &err), 0);
    assert_null(err);
}

static void test_select_no_limit(void **state)
{
    vc_resume_result r;
    select_videos(*state, NULL, 0, &r);
    const char *all[] = {"a.mp4", "b.mp4", "c/d.mp4", "e.mp4", "f.mp4"};
    const char *todo[] = {"b.mp4", "e.mp4", "f.mp4"};
    assert_list(&r.all_videos, all, 5);
    assert_list(&r.to_process, todo, 3);
    assert_int_equal(r.num_processed, 3);
    vc_resume_result_free(&r);
}

static void test_select_limit_truncates_listing(void **state)
{
    vc_resume_result r;
    /* |P| = 3, limit 1: the listing is the first 4 entries. */
    select_videos(*state, NULL, 1, &r);
    const char *all[] = {"a.mp4", "b.mp4", "c/d.mp4", "e.mp4"};
    const char *todo[] = {"b.mp4"};
    assert_list(&r.all_videos, all, 4);
    assert_list(&r.to_process, todo, 1);
    vc_resume_result_free(&r);
    select_videos(*state, NULL, 2, &r);
    const char *todo2[] = {"b.mp4", "e.mp4"};
    assert_int_equal(r.all_videos.len, 5);
    assert_list(&r.to_process, todo2, 2);
    vc_resume_result_free(&r);
}

static void test_select_json_list(void **state)
{
    fixture *f = *state;
    char *list = vc_fs_join(f->root, "list.json");
    char *text = vc_asprintf("[\"%s/f.mp4\", \"%s/a.mp4\", \"%s/b.mp4\"]", f->in, f->in, f->in);
    assert_int_equal(vc_fs_write_atomic(list, text, strlen(text)), 0);
    vc_resume_result r;
    /* The JSON list is never truncated; limit only caps the selection. */
    select_videos(f, list, 1, &r);
    const char *all[] = {"f.mp4", "a.mp4", "b.mp4"};
    const char *todo[] = {"f.mp4"};
    assert_list(&r.all_videos, all, 3);
    assert_list(&r.to_process, todo, 1);
    vc_resume_result_free(&r);
    free(text);
    free(list);
}

static void test_zero_clip_video_done_after_record(void **state)
{
    fixture *f = *state;
    vc_resume_result r;
    select_videos(f, NULL, 0, &r);
    assert_int_equal(r.to_process.len, 3);
    vc_resume_result_free(&r);
    /* f.mp4 yields no clip: our processed record alone marks it done. */
    write_processed(f, "f.mp4", 0);
    select_videos(f, NULL, 0, &r);
    const char *todo[] = {"b.mp4", "e.mp4"};
    assert_list(&r.to_process, todo, 2);
    vc_resume_result_free(&r);
}

static void test_filter_pure(void **state)
{
    (void)state;
    vc_strlist listed = {0}, processed = {0}, out = {0};
    const char *l[] = {"x", "p1", "y", "p2", "z"};
    for (size_t i = 0; i < 5; i++)
        vc_strlist_push(&listed, l[i]);
    vc_strlist_push(&processed, "p1");
    vc_strlist_push(&processed, "p2");
    vc_resume_filter(&listed, &processed, 0, &out);
    const char *want[] = {"x", "y", "z"};
    assert_list(&out, want, 3);
    vc_strlist_free(&out);
    vc_resume_filter(&listed, &processed, 2, &out);
    assert_list(&out, want, 2);
    vc_strlist_free(&out);
    vc_strlist_free(&listed);
    vc_strlist_free(&processed);
}

static void test_missing_input(void **state)
{
    fixture *f = *state;
    char *missing = vc_fs_join(f->root, "nope");
    vc_resume_input in = {.input_path = missing, .output_path = f->out};
    vc_resume_result r;
    char *err = NULL;
    assert_int_equal(vc_resume_select(&in, &r, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, missing));
    free(err);
    free(missing);
}

/* ---- video list JSON ---- */

static char *list_error(fixture *f, const char *text, const char *input_path)
{
    char *list = vc_fs_join(f->root, "bad.json");
    assert_int_equal(vc_fs_write_atomic(list, text, strlen(text)), 0);
    vc_strlist out = {0};
    char *err = NULL;
    assert_int_equal(vc_videolist_read(list, input_path, &out, &err), -1);
    assert_int_equal(out.len, 0);
    assert_non_null(err);
    assert_non_null(strstr(err, list)); /* names the file */
    free(list);
    return err;
}

static void test_videolist_errors(void **state)
{
    fixture *f = *state;
    char *err = list_error(f, "[\"/in/a.mp4\", \"/in2/b.mp4\"]", "/in");
    assert_non_null(strstr(err, "entry 1"));
    assert_non_null(strstr(err, "/in2/b.mp4"));
    free(err);
    err = list_error(f, "[\"/in/a.mp4\", 5]", "/in/");
    assert_non_null(strstr(err, "entry 1 is not a string"));
    free(err);
    err = list_error(f, "{\"a\": 1}", "/in");
    assert_non_null(strstr(err, "array"));
    free(err);
    err = list_error(f, "[\"/in/a.mp4\",", "/in");
    assert_non_null(strstr(err, "cannot read"));
    free(err);
    err = list_error(f, "[\"/in/\"]", "/in");
    assert_non_null(strstr(err, "entry 0"));
    free(err);
}

static void test_videolist_ok(void **state)
{
    fixture *f = *state;
    char *list = vc_fs_join(f->root, "ok.json");
    const char *text = "[\"/in/x/a.mp4\", \"/in/b.mp4\"]";
    assert_int_equal(vc_fs_write_atomic(list, text, strlen(text)), 0);
    vc_strlist out = {0};
    assert_int_equal(vc_videolist_read(list, "/in///", &out, NULL), 0);
    const char *want[] = {"x/a.mp4", "b.mp4"};
    assert_list(&out, want, 2);
    vc_strlist_free(&out);
    free(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_find_processed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select_no_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select_limit_truncates_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select_json_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_clip_video_done_after_record, setup, teardown),
        cmocka_unit_test(test_filter_pure),
        cmocka_unit_test_setup_teardown(test_missing_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_videolist_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_videolist_ok, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
