/* Local filesystem helpers: atomic writes leave no temp files and never
 * clobber in noclobber mode; listings are recursive and sorted like Python. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fs.h"
#include "support/tmpdir.h"

static void write_file(const char *dir, const char *rel, const char *text)
{
    char *p = vc_fs_join(dir, rel);
    assert_int_equal(vc_fs_write_atomic(p, text, strlen(text)), 0);
    free(p);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

static void test_write_atomic(void **state)
{
    (void)state;
    char *root = vc_test_tmpdir("fs-test");
    char *path = vc_fs_join(root, "a/b/c/file.json");
    assert_int_equal(vc_fs_write_atomic(path, "hello", 5), 0);
    size_t len = 0;
    char *got = vc_fs_read_all(path, &len);
    assert_non_null(got);
    assert_int_equal(len, 5);
    assert_string_equal(got, "hello");
    free(got);
    /* Overwrite replaces the content. */
    assert_int_equal(vc_fs_write_atomic(path, "bye", 3), 0);
    got = vc_fs_read_all(path, &len);
    assert_string_equal(got, "bye");
    free(got);
    /* Only the file itself is left: no temporary names. */
    char *dir = vc_fs_join(root, "a/b/c");
    assert_int_equal(count_entries(dir), 1);
    free(dir);
    free(path);
    assert_int_equal(vc_test_rm_rf(root), 0);
    free(root);
}

static void test_write_noclobber(void **state)
{
    (void)state;
    char *root = vc_test_tmpdir("fs-test");
    char *path = vc_fs_join(root, "x/rec.json");
    assert_int_equal(vc_fs_write_atomic_noclobber(path, "first", 5), 0);
    assert_int_equal(vc_fs_write_atomic_noclobber(path, "second", 6), 1);
    char *got = vc_fs_read_all(path, NULL);
    assert_string_equal(got, "first");
    free(got);
    char *dir = vc_fs_join(root, "x");
    assert_int_equal(count_entries(dir), 1);
    free(dir);
    free(path);
    assert_int_equal(vc_test_rm_rf(root), 0);
    free(root);
}

static void test_write_error_names_no_leftover(void **state)
{
    (void)state;
    char *root = vc_test_tmpdir("fs-test");
    /* A regular file where a directory is needed. */
    write_file(root, "blocker", "x");
    char *path = vc_fs_join(root, "blocker/sub/file");
    int rc = vc_fs_write_atomic(path, "y", 1);
    assert_true(rc < 0);
    assert_false(vc_fs_exists(path));
    assert_int_equal(count_entries(root), 1);
    free(path);
    assert_int_equal(vc_test_rm_rf(root), 0);
    free(root);
}

typedef struct {
    const char *root;
    int id;
    int rc;
} mk_arg;

static void *mk_thread(void *p)
{
    mk_arg *a = p;
    for (int i = 0; i < 50 && a->rc == 0; i++) {
        char *path = vc_asprintf("%s/d%d/e/f/t%d_%d.txt", a->root, i % 5, a->id, i);
        a->rc = vc_fs_write_atomic(path, "z", 1);
        free(path);
    }
    return NULL;
}

static void test_concurrent_mkdirs(void **state)
{
    (void)state;
    char *root = vc_test_tmpdir("fs-test");
    pthread_t th[8];
    mk_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (mk_arg){root, i, 0};
        pthread_create(&th[i], NULL, mk_thread, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    vc_strlist l = {0};
    assert_int_equal(vc_fs_list_recursive(root, &l), 0);
    assert_int_equal(l.len, 8 * 50);
    vc_strlist_free(&l);
    assert_int_equal(vc_test_rm_rf(root), 0);
    free(root);
}

static void test_list_recursive_sorted(void **state)
{
    (void)state;
    char *root = vc_test_tmpdir("fs-test");
    write_file(root, "b.mp4", "1");
    write_file(root, "a/z.mp4", "1");
    write_file(root, "a/B.mp4", "1");
    write_file(root, "a b/c.mp4", "1");
    write_file(root, "a-b/c.mp4", "1");
    write_file(root, ".hidden.mp4", "1");
    write_file(root, "\xc3\xa9t\xc3\xa9.mp4", "1");
    /* A leftover temp file of ours is not listed; an empty dir adds nothing. */
    write_file(root, "a/.z.mp4.tmp-12-34-5", "1");
    char *empty = vc_fs_join(root, "emptydir");
    assert_int_equal(vc_fs_mkdirs(empty), 0);
    free(empty);
    /* Symlink to a file is listed; symlink to a dir is not descended. */
    char *target = vc_fs_join(root, "b.mp4");
    char *link1 = vc_fs_join(root, "link.mp4");
    assert_int_equal(symlink(target, link1), 0);
    char *adir = vc_fs_join(root, "a");
    char *link2 = vc_fs_join(root, "linkdir");
    assert_int_equal(symlink(adir, link2), 0);

    vc_strlist l = {0};
    assert_int_equal(vc_fs_list_recursive(root, &l), 0);
    /* Python: sorted(str(p.relative_to(root)) for p in root.rglob('*') if p.is_file()) */
    const char *want[] = {".hidden.mp4", "a b/c.mp4", "a-b/c.mp4", "a/B.mp4", "a/z.mp4",
                          "b.mp4", "link.mp4", "\xc3\xa9t\xc3\xa9.mp4"};
    assert_int_equal(l.len, VC_ARRAY_LEN(want));
    for (size_t i = 0; i < l.len; i++) {
        char *rel = vc_fs_relpath(root, l.items[i]);
        assert_non_null(rel);
        assert_string_equal(rel, want[i]);
        free(rel);
    }
    vc_strlist_free(&l);
    free(target);
    free(link1);
    free(adir);
    free(link2);
    assert_int_equal(vc_test_rm_rf(root), 0);
    free(root);
}

static void test_list_missing_dir(void **state)
{
    (void)state;
    vc_strlist l = {0};
    assert_int_equal(vc_fs_list_recursive("/nonexistent/vc_fs_test", &l), -ENOENT);
    assert_int_equal(l.len, 0);
}

static void test_clean_temp(void **state)
{
    (void)state;
    char *root = vc_test_tmpdir("fs-test");
    write_file(root, "keep.json", "1");
    write_file(root, "d/.keep.json.tmp-1-2-3", "1");
    write_file(root, "d/.tmp-1-2-3", "1"); /* not our pattern (no base name) */
    vc_fs_clean_temp(root);
    char *gone = vc_fs_join(root, "d/.keep.json.tmp-1-2-3");
    char *kept = vc_fs_join(root, "d/.tmp-1-2-3");
    assert_false(vc_fs_exists(gone));
    assert_true(vc_fs_exists(kept));
    free(gone);
    free(kept);
    assert_int_equal(vc_test_rm_rf(root), 0);
    free(root);
}

static void test_temp_name_pattern(void **state)
{
    (void)state;
    assert_true(vc_fs_is_temp_name(".a.mp4.tmp-1-2-3"));
    assert_true(vc_fs_is_temp_name(".x.tmp-100-200-0"));
    assert_false(vc_fs_is_temp_name("a.mp4.tmp-1-2-3"));
    assert_false(vc_fs_is_temp_name(".a.mp4.tmp-1-2"));
    assert_false(vc_fs_is_temp_name(".a.mp4.tmp-1-2-3x"));
    assert_false(vc_fs_is_temp_name(".hidden.mp4"));
}

static void test_relpath_join(void **state)
{
    (void)state;
    char *s;
    assert_string_equal(s = vc_fs_relpath("/in", "/in/a/b.mp4"), "a/b.mp4");
    free(s);
    assert_string_equal(s = vc_fs_relpath("/in/", "/in/a.mp4"), "a.mp4");
    free(s);
    assert_null(vc_fs_relpath("/in", "/input/a.mp4"));
    assert_null(vc_fs_relpath("/in", "/in"));
    assert_null(vc_fs_relpath("/in", "/in/"));
    assert_string_equal(s = vc_fs_relpath("/", "/a.mp4"), "a.mp4");
    free(s);
    assert_string_equal(s = vc_fs_join("/out/", "/clips"), "/out/clips");
    free(s);
    assert_string_equal(s = vc_fs_join("out", "x/y"), "out/x/y");
    free(s);
    assert_string_equal(s = vc_fs_join("/", "x"), "/x");
    free(s);
    assert_string_equal(s = vc_fs_join("", "x"), "x");
    free(s);
}

static void test_pypath(void **state)
{
    (void)state;
    /* Expected values from str(pathlib.PurePosixPath(p)). */
    const char *cases[][2] = {
        {"/in/a.mp4", "/in/a.mp4"}, {"/in//a.mp4", "/in/a.mp4"}, {"/in/./a.mp4", "/in/a.mp4"},
        {"in/", "in"}, {"./a", "a"}, {".", "."}, {"", "."}, {"/", "/"}, {"//x/y", "//x/y"},
        {"///x", "/x"}, {"/a/../b", "/a/../b"}, {"a/.b/./c/", "a/.b/c"},
    };
    for (size_t i = 0; i < VC_ARRAY_LEN(cases); i++) {
        char *s = vc_fs_pypath(cases[i][0]);
        assert_string_equal(s, cases[i][1]);
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_atomic),
        cmocka_unit_test(test_write_noclobber),
        cmocka_unit_test(test_write_error_names_no_leftover),
        cmocka_unit_test(test_concurrent_mkdirs),
        cmocka_unit_test(test_list_recursive_sorted),
        cmocka_unit_test(test_list_missing_dir),
        cmocka_unit_test(test_clean_temp),
        cmocka_unit_test(test_temp_name_pattern),
        cmocka_unit_test(test_relpath_join),
        cmocka_unit_test(test_pypath),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
