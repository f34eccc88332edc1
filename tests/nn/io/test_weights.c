/* Checkpoint reading against what PyTorch wrote.
 *
 * gen_checkpoints.py (run with the python given as argv[1]) writes state
 * dicts with torch.save, safetensors and sharded indexes by hand, broken
 * files, and manifest.json saying what each holds. Every value read here
 * must equal Python's bit for bit, every broken file must fail naming the
 * cause, and truncated or corrupted copies, opened from exact-size buffers so
 * ASan sees any overread, must give an error or correct data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/weights.h"
#include "support/tmpdir.h"
#include "util/common.h"

#define SKIP_EXIT 77
/* Corrupted headers may claim big tensors (stride 0 lets them fit a small
 * file); reading those is not the point, so they are skipped. */
#define MAX_FUZZ_NUMEL (1 << 20)

extern char **environ;

static char *tmpdir;
static json_t *manifest;
static char err[1024];

static char *in_tmp(const char *rel)
{
    return vc_asprintf("%s/%s", tmpdir, rel);
}

static bool contains(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

/* ---- comparing with the manifest ---- */

static void expect_values(const vc_weights *w, const char *name, const vc_weight_info *t, json_t *values)
{
    size_t n = (size_t)vc_weight_numel(t);
    assert_int_equal(n, json_array_size(values));
    float *got = vc_xmalloc(n * sizeof(float));
    if (vc_weights_read_f32(w, name, t->ndim, t->shape, got, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    for (size_t i = 0; i < n; i++) {
        float want = (float)json_number_value(json_array_get(values, i));
        if (memcmp(&got[i], &want, sizeof(float)) != 0)
            fail_msg("%s: tensor %s[%zu] = %.9g, Python saved %.9g", t->file, name, i, got[i], want);
    }
    free(got);
}

static void expect_dims(const char *name, int ndim, const int64_t *dims, json_t *want)
{
    if ((size_t)ndim != json_array_size(want))
        fail_msg("tensor %s: %d dims, want %zu", name, ndim, json_array_size(want));
    for (int k = 0; k < ndim; k++)
        assert_int_equal(dims[k], json_integer_value(json_array_get(want, (size_t)k)));
}

static void expect_tensor(const vc_weights *w, const char *name, json_t *want)
{
    const vc_weight_info *t = vc_weights_get(w, name, err, sizeof(err));
    if (!t)
        fail_msg("%s", err);
    assert_ptr_equal(t, vc_weights_find(w, name));
    assert_string_equal(t->name, name);
    assert_string_equal(vc_dtype_name(t->dtype), json_string_value(json_object_get(want, "dtype")));
    expect_dims(name, t->ndim, t->shape, json_object_get(want, "shape"));
    if (json_object_get(want, "stride"))
        expect_dims(name, t->ndim, t->stride, json_object_get(want, "stride"));
    expect_values(w, name, t, json_object_get(want, "values"));
}

/* vc_weights_at walks the tensors in file order (unreadable index entries
 * give NULL). */
static void expect_order(const vc_weights *w, json_t *tensors)
{
    void *it = json_object_iter(tensors);
    for (size_t i = 0; i < vc_weights_count(w); i++) {
        const vc_weight_info *t = vc_weights_at(w, i);
        if (!t)
            continue;
        assert_non_null(it);
        assert_string_equal(t->name, json_object_iter_key(it));
        it = json_object_iter_next(tensors, it);
    }
    assert_null(it);
    assert_null(vc_weights_at(w, vc_weights_count(w)));
}

static void expect_views(const vc_weights *w, json_t *views)
{
    size_t i;
    json_t *v;
    json_array_foreach(views, i, v) {
        const vc_weight_info *a = vc_weights_find(w, json_string_value(json_array_get(v, 0)));
        const vc_weight_info *b = vc_weights_find(w, json_string_value(json_array_get(v, 1)));
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal((const char *)a->data - (const char *)b->data,
                         json_integer_value(json_array_get(v, 2)));
    }
}

static void expect_unreadable(const vc_weights *w, json_t *unreadable)
{
    const char *name;
    json_t *why;
    json_object_foreach(unreadable, name, why) {
        float dummy[64];
        int64_t shape[1] = {1};
        assert_null(vc_weights_find(w, name));
        assert_int_equal(vc_weights_read_f32(w, name, 1, shape, dummy, err, sizeof(err)), -1);
        if (!contains(err, json_string_value(why)))
            fail_msg("tensor %s: error \"%s\" lacks \"%s\"", name, err, json_string_value(why));
    }
}

static void expect_checkpoint(json_t *ck)
{
    char *path = in_tmp(json_string_value(json_object_get(ck, "path")));
    json_t *tensors = json_object_get(ck, "tensors"), *unreadable = json_object_get(ck, "unreadable");
    vc_weights *w = vc_weights_open(path, err, sizeof(err));
    if (!w)
        fail_msg("%s", err);
    assert_int_equal(vc_weights_count(w), json_object_size(tensors) + json_object_size(unreadable));
    const char *name;
    json_t *want;
    json_object_foreach(tensors, name, want)
        expect_tensor(w, name, want);
    expect_order(w, tensors);
    expect_views(w, json_object_get(ck, "views"));
    expect_unreadable(w, unreadable);
    vc_weights_close(w);
    free(path);
}

static void test_checkpoints_match_python(void **state)
{
    (void)state;
    size_t i;
    json_t *ck;
    json_array_foreach(json_object_get(manifest, "checkpoints"), i, ck) {
        print_message("  %s\n", json_string_value(json_object_get(ck, "path")));
        expect_checkpoint(ck);
    }
}

static void test_broken_files_name_the_cause(void **state)
{
    (void)state;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(manifest, "errors"), i, e) {
        char *path = in_tmp(json_string_value(json_object_get(e, "path")));
        vc_weights *w = vc_weights_open(path, err, sizeof(err));
        if (w)
            fail_msg("%s opened, but should fail", path);
        if (strncmp(err, path, strlen(path)) != 0 || !contains(err, json_string_value(json_object_get(e, "contains"))))
            fail_msg("%s: error \"%s\" lacks \"%s\"", path, err,
                     json_string_value(json_object_get(e, "contains")));
        free(path);
    }
    /* a directory, a missing file */
    assert_null(vc_weights_open(tmpdir, err, sizeof(err)));
    assert_true(contains(err, "not a regular file"));
    char *missing = in_tmp("no-such-file.pth");
    assert_null(vc_weights_open(missing, err, sizeof(err)));
    assert_true(contains(err, "No such file"));
    free(missing);
}

static void test_pickled_code_is_never_run(void **state)
{
    (void)state;
    char *pwned = in_tmp("pwned");   /* evil.pth's payload would create it */
    assert_int_not_equal(access(pwned, F_OK), 0);
    free(pwned);
}

static void test_read_f32_checks_shape(void **state)
{
    (void)state;
    char *path = in_tmp("plain.pth");
    vc_weights *w = vc_weights_open(path, err, sizeof(err));
    assert_non_null(w);
    float buf[16];
    int64_t wrong[2] = {3, 2};
    assert_int_equal(vc_weights_read_f32(w, "f32", 2, wrong, buf, err, sizeof(err)), -1);
    char *want = vc_asprintf("%s: tensor f32: shape [2, 3] where [3, 2] was expected", path);
    assert_string_equal(err, want);
    free(want);
    assert_int_equal(vc_weights_read_f32(w, "f32", 1, wrong, buf, err, sizeof(err)), -1);
    assert_int_equal(vc_weights_read_f32(w, "nope", 1, wrong, buf, err, sizeof(err)), -1);
    want = vc_asprintf("%s: tensor nope: not in the checkpoint", path);
    assert_string_equal(err, want);
    free(want);
    assert_int_equal(vc_weights_read_f32(w, "scalar", 0, NULL, buf, err, sizeof(err)), 0);
    assert_true(buf[0] == 3.5f);
    vc_weights_close(w);
    vc_weights_close(NULL);
    free(path);
}

static void test_dtype_names(void **state)
{
    (void)state;
    assert_string_equal(vc_dtype_name(VC_DT_BF16), "bfloat16");
    assert_int_equal(vc_dtype_size(VC_DT_BF16), 2);
    assert_int_equal(vc_dtype_size(VC_DT_F64), 8);
    assert_int_equal(vc_dtype_size(VC_DT_BOOL), 1);
}

/* ---- damaged copies ---- */

static uint8_t *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    rewind(f);
    uint8_t *data = vc_xmalloc(*size);
    assert_int_equal(fread(data, 1, *size, f), *size);
    fclose(f);
    return data;
}

static json_t *manifest_entry(const char *rel)
{
    size_t i;
    json_t *ck;
    json_array_foreach(json_object_get(manifest, "checkpoints"), i, ck) {
        if (!strcmp(json_string_value(json_object_get(ck, "path")), rel))
            return ck;
    }
    fail_msg("%s is not in the manifest", rel);
    return NULL;
}

/* A damaged file that still opens must give each tensor correctly or fail. */
static void expect_correct_or_error(const vc_weights *w, json_t *tensors)
{
    const char *name;
    json_t *want;
    json_object_foreach(tensors, name, want) {
        const vc_weight_info *t = vc_weights_find(w, name);
        json_t *values = json_object_get(want, "values");
        if (!t || vc_weight_numel(t) != (int64_t)json_array_size(values))
            continue;
        float *got = vc_xmalloc(json_array_size(values) * sizeof(float) + 1);
        if (vc_weights_read_f32(w, name, t->ndim, t->shape, got, err, sizeof(err)) == 0) {
            for (size_t i = 0; i < json_array_size(values); i++)
                assert_true(got[i] == (float)json_number_value(json_array_get(values, i)));
        }
        free(got);
    }
}

/* Reads every tensor of a possibly corrupted checkpoint: must not crash. */
static void read_everything(const vc_weights *w)
{
    for (size_t i = 0; i < vc_weights_count(w); i++) {
        const vc_weight_info *t = vc_weights_at(w, i);
        int64_t n = t ? vc_weight_numel(t) : 0;
        if (!t || n > MAX_FUZZ_NUMEL)
            continue;
        float *dst = vc_xmalloc((size_t)n * sizeof(float) + 1);
        assert_int_equal(vc_weights_read_f32(w, t->name, t->ndim, t->shape, dst, err, sizeof(err)), 0);
        free(dst);
    }
}

static void test_truncated_copies(void **state)
{
    (void)state;
    size_t i;
    json_t *rel;
    json_array_foreach(json_object_get(manifest, "fuzz"), i, rel) {
        char *path = in_tmp(json_string_value(rel));
        json_t *tensors = json_object_get(manifest_entry(json_string_value(rel)), "tensors");
        size_t size, opened = 0;
        uint8_t *whole = read_whole(path, &size);
        for (size_t len = 0; len < size; len++) {
            uint8_t *copy = vc_xmalloc(len);   /* exact size: ASan flags any overread */
            memcpy(copy, whole, len);
            vc_weights *w = vc_weights_open_buffer(copy, len, path, err, sizeof(err));
            if (w) {
                opened++;
                expect_correct_or_error(w, tensors);
            } else {
                assert_true(!strncmp(err, path, strlen(path)));
            }
            vc_weights_close(w);
            free(copy);
        }
        print_message("  %s: %zu truncations, %zu opened\n", json_string_value(rel), size, opened);
        free(whole);
        free(path);
    }
}

static void test_corrupted_copies(void **state)
{
    (void)state;
    static const uint8_t patterns[] = {0xff, 0x00, 0x80};
    size_t i;
    json_t *rel;
    json_array_foreach(json_object_get(manifest, "fuzz"), i, rel) {
        char *path = in_tmp(json_string_value(rel));
        size_t size, opened = 0;
        uint8_t *whole = read_whole(path, &size);
        uint8_t *copy = vc_xmalloc(size);
        for (size_t at = 0; at < size; at++) {
            for (size_t p = 0; p < VC_ARRAY_LEN(patterns); p++) {
                memcpy(copy, whole, size);
                copy[at] = p == 0 ? (uint8_t)~whole[at] : patterns[p];
                vc_weights *w = vc_weights_open_buffer(copy, size, path, err, sizeof(err));
                if (w) {
                    opened++;
                    read_everything(w);
                }
                vc_weights_close(w);
            }
        }
        print_message("  %s: %zu corruptions, %zu opened\n", json_string_value(rel),
                      size * VC_ARRAY_LEN(patterns), opened);
        free(copy);
        free(whole);
        free(path);
    }
}

/* ---- setup ---- */

static int run_generator(const char *python, const char *script)
{
    if (access(python, X_OK) != 0) {
        fprintf(stderr, "skipping: %s not found\n", python);
        return SKIP_EXIT;
    }
    char *argv[] = {(char *)python, (char *)script, tmpdir, NULL};
    pid_t pid;
    int status;
    if (posix_spawn(&pid, python, NULL, NULL, argv, environ) != 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void remove_tmpdir(void)
{
    vc_test_rm_rf(tmpdir);
    free(tmpdir);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PYTHON gen_checkpoints.py\n", argv[0]);
        return 1;
    }
    tmpdir = vc_test_tmpdir("nnio");
    int rc = run_generator(argv[1], argv[2]);
    if (rc != 0) {
        remove_tmpdir();
        if (rc != SKIP_EXIT)
            fprintf(stderr, "gen_checkpoints.py failed (%d)\n", rc);
        return rc == SKIP_EXIT ? SKIP_EXIT : 1;
    }
    char *path = in_tmp("manifest.json");
    manifest = json_load_file(path, 0, NULL);
    free(path);
    if (!manifest) {
        fprintf(stderr, "no manifest.json\n");
        remove_tmpdir();
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoints_match_python),
        cmocka_unit_test(test_broken_files_name_the_cause),
        cmocka_unit_test(test_pickled_code_is_never_run),
        cmocka_unit_test(test_read_f32_checks_shape),
        cmocka_unit_test(test_dtype_names),
        cmocka_unit_test(test_truncated_copies),
        cmocka_unit_test(test_corrupted_copies),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(manifest);
    remove_tmpdir();
    return rc;
}
