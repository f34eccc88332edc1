/* Unit tests of src/models: registry, records, hashing, the safetensors
 * writer, and the start-up check. (Downloads: test_models_e2e.py.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "models/internal.h"
#include "models/local.h"
#include "models/models.h"
#include "models/safetensors.h"
#include "storage/fs.h"
#include "support/tmpdir.h"
#include "util/common.h"

static void write_file(const char *path, const char *text)
{
    char *dir = vc_xstrdup(path);
    *strrchr(dir, '/') = 0;
    assert_int_equal(vc_fs_mkdirs(dir), 0);
    free(dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_registry(void **state)
{
    (void)state;
    assert_true(vc_models_count() >= 4);
    const vc_model_def *t = vc_models_find("transnetv2");
    assert_non_null(t);
    assert_string_equal(t->repo, "Sn4kehead/TransNetV2");
    assert_string_equal(t->checkpoints[0], "transnetv2-pytorch-weights.pth");
    assert_ptr_equal(vc_models_find("t5"), vc_models_find("t5_xxl"));
    assert_ptr_equal(vc_models_find("clip"), vc_models_find("clip_vit"));
    assert_ptr_equal(vc_models_find("aesthetic"), vc_models_find("aesthetic_scorer"));
    assert_null(vc_models_find("nope"));
    for (size_t i = 0; i < vc_models_count(); i++) {
        const vc_model_def *m = vc_models_at(i);
        assert_int_equal(strlen(m->revision), 40);
        assert_non_null(m->license);
    }

    vc_model_tensors ex = { 0 };
    char err[256];
    assert_int_equal(t->expected("/nonexistent", &ex, err, sizeof err), 0);
    assert_int_equal(ex.len, 90); /* peers.md 1.4 */
    size_t scalars = 0;
    for (size_t i = 0; i < ex.len; i++)
        scalars += ex.items[i].ndim == 0;
    assert_int_equal(scalars, 6);
    assert_string_equal(ex.items[0].name, "SDDCNN.0.DDCNN.0.Conv3D_1.layers.0.weight");
    assert_int_equal(ex.items[0].ndim, 5);
    assert_int_equal(ex.items[0].shape[0], 32);
    assert_int_equal(ex.items[0].shape[1], 3);
    vc_model_tensors_free(&ex);

    /* T5: sizes from config.json, t5-11b's without it. */
    const vc_model_def *t5 = vc_models_find("t5_xxl");
    assert_int_equal(t5->expected("/nonexistent", &ex, err, sizeof err), 0);
    assert_int_equal(ex.len, 1 + 24 * 8 + 1 + 1);
    assert_string_equal(ex.items[0].name, "shared.weight");
    assert_int_equal(ex.items[0].shape[0], 32128);
    assert_int_equal(ex.items[0].shape[1], 1024);
    vc_model_tensors_free(&ex);
    char *d = vc_test_tmpdir("models-unit");
    char *cfg = vc_fs_join(d, "config.json");
    write_file(cfg, "{\"d_model\": 8, \"d_kv\": 4, \"num_heads\": 2, \"d_ff\": 16, \"num_layers\": 2,"
                    " \"vocab_size\": 40, \"feed_forward_proj\": \"gated-gelu\"}");
    assert_int_equal(t5->expected(d, &ex, err, sizeof err), 0);
    assert_int_equal(ex.len, 1 + 2 * 9 + 1 + 1);
    bool found_wi0 = false;
    for (size_t i = 0; i < ex.len; i++)
        if (!strcmp(ex.items[i].name, "encoder.block.1.layer.1.DenseReluDense.wi_0.weight")) {
            found_wi0 = true;
            assert_int_equal(ex.items[i].shape[0], 16);
            assert_int_equal(ex.items[i].shape[1], 8);
        }
    assert_true(found_wi0);
    vc_model_tensors_free(&ex);
    write_file(cfg, "{\"d_model\": \"big\"}");
    assert_int_equal(t5->expected(d, &ex, err, sizeof err), -1);
    assert_non_null(strstr(err, "d_model"));
    vc_model_tensors_free(&ex);
    free(cfg);
    assert_int_equal(vc_test_rm_rf(d), 0);
    free(d);

    assert_true(vc_models_t5_keep_tensor("shared.weight"));
    assert_true(vc_models_t5_keep_tensor("encoder.block.0.layer.0.SelfAttention.q.weight"));
    assert_false(vc_models_t5_keep_tensor("decoder.block.0.layer.0.SelfAttention.q.weight"));
    assert_false(vc_models_t5_keep_tensor("lm_head.weight"));

    const vc_model_def *clip = vc_models_find("clip_vit");
    assert_int_equal(clip->expected("/nonexistent", &ex, err, sizeof err), 0);
    assert_int_equal(ex.len, 5 + 24 * 16 + 3);
    vc_model_tensors_free(&ex);
    const vc_model_def *aes = vc_models_find("aesthetic_scorer");
    assert_int_equal(aes->expected("/nonexistent", &ex, err, sizeof err), 0);
    assert_int_equal(ex.len, 10);
    assert_string_equal(ex.items[0].name, "layers.0.weight");
    assert_int_equal(ex.items[0].shape[0], 1024);
    assert_int_equal(ex.items[0].shape[1], 768);
    vc_model_tensors_free(&ex);
}

static void test_default_dir(void **state)
{
    (void)state;
    setenv("VCURATE_MODEL_DIR", "/somewhere/models", 1);
    assert_string_equal(vc_models_default_dir(), "/somewhere/models");
    unsetenv("VCURATE_MODEL_DIR");
    setenv("HOME", "/home/u", 1);
    assert_string_equal(vc_models_default_dir(), "/home/u/.cache/vcurate/models");
}

static void test_etags_and_hashes(void **state)
{
    (void)state;
    char e[160];
    vc_etag_normalise(" W/\"ABCdef\" ", e, sizeof e);
    assert_string_equal(e, "abcdef");
    assert_int_equal(vc_etag_kind_of("ce013625030ba8dba906f756967f9e9ca394464a"), VC_ETAG_GITSHA1);
    assert_int_equal(vc_etag_kind_of("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"),
                     VC_ETAG_SHA256);
    assert_int_equal(vc_etag_kind_of("123-abc"), VC_ETAG_NONE);

    char *d = vc_test_tmpdir("models-unit");
    char *p = vc_fs_join(d, "hello.txt");
    write_file(p, "hello\n");
    char got[160];
    /* `git hash-object` and sha256sum of "hello\n" */
    assert_int_equal(vc_hash_file_check(p, "ce013625030ba8dba906f756967f9e9ca394464a", 6, got, sizeof got, NULL), 1);
    assert_int_equal(
        vc_hash_file_check(p, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", 6, got, sizeof got,
                           NULL),
        1);
    assert_int_equal(
        vc_hash_file_check(p, "0000b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", 6, got, sizeof got,
                           NULL),
        0);
    assert_string_equal(got, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    assert_int_equal(vc_hash_file_check(p, "weak-etag", 6, got, sizeof got, NULL), -1);
    free(p);
    assert_int_equal(vc_test_rm_rf(d), 0);
    free(d);
}

static void test_records_and_partials(void **state)
{
    (void)state;
    char *d = vc_test_tmpdir("models-unit");
    char *f = vc_fs_join(d, "sub/w.bin");
    write_file(f, "0123456789");
    vc_file_record r;
    memset(&r, 0, sizeof r);
    strcpy(r.commit, "c0ffee");
    strcpy(r.etag, "abc");
    strcpy(r.revision, "main");
    assert_int_equal(vc_models_record_write(d, "sub/w.bin", &r), 0);
    char *rp = vc_models_record_path(d, "sub/w.bin");
    char *want = vc_asprintf("%s/.cache/huggingface/download/sub/w.bin.metadata", d);
    assert_string_equal(rp, want);
    /* huggingface_hub's three lines first */
    char *text = vc_fs_read_all(rp, NULL);
    assert_non_null(text);
    assert_int_equal(strncmp(text, "c0ffee\nabc\n", 11), 0);
    free(text);
    vc_file_record back;
    assert_int_equal(vc_models_record_read(d, "sub/w.bin", &back), 0);
    assert_string_equal(back.commit, "c0ffee");
    assert_string_equal(back.etag, "abc");
    assert_string_equal(back.revision, "main");
    assert_int_equal(back.size, 10);
    int64_t size, mtime;
    assert_int_equal(vc_models_stat(f, &size, &mtime), 0);
    assert_true(vc_models_record_matches_stat(&back, size, mtime));
    assert_false(vc_models_record_matches_stat(&back, size, mtime + 1));

    /* partials: one per etag; the largest is found; others removed */
    char *p1 = vc_models_partial_path(d, "sub/w.bin", "\"etag1\"");
    char *p2 = vc_models_partial_path(d, "sub/w.bin", "etag2");
    assert_non_null(strstr(p1, "/.cache/huggingface/download/sub/w.bin.etag1.incomplete"));
    write_file(p1, "abc");
    write_file(p2, "abcdef");
    int64_t ps;
    char *found = vc_models_find_partial(d, "sub/w.bin", &ps);
    assert_string_equal(found, p2);
    assert_int_equal(ps, 6);
    free(found);
    vc_models_remove_partials(d, "sub/w.bin", "etag2");
    assert_false(vc_fs_exists(p1));
    assert_true(vc_fs_exists(p2));
    vc_models_remove_partials(d, "sub/w.bin", NULL);
    assert_false(vc_fs_exists(p2));
    assert_null(vc_models_find_partial(d, "sub/w.bin", NULL));
    free(p1);
    free(p2);
    free(rp);
    free(want);
    free(f);
    assert_int_equal(vc_test_rm_rf(d), 0);
    free(d);
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void test_safetensors_writer(void **state)
{
    (void)state;
    char *d = vc_test_tmpdir("models-unit");
    char *path = vc_fs_join(d, "out.safetensors");
    /* b: 2x3 float32 contiguous; a: 3x2 float16 given transposed (strides);
     * s: int64 scalar; e: empty. */
    float bdata[6] = { 1, 2, 3, 4, 5, 6 };
    uint16_t adata_t[6] = { 10, 11, 12, 13, 14, 15 }; /* stored as 2x3, read as its 3x2 transpose */
    int64_t sdata = 42;
    int64_t bshape[2] = { 2, 3 }, ashape[2] = { 3, 2 }, astr[2] = { 1, 3 }, eshape[1] = { 0 };
    vc_st_tensor ts[] = {
        { .name = "b", .dtype = "F32", .ndim = 2, .shape = bshape, .data = bdata },
        { .name = "a", .dtype = "F16", .ndim = 2, .shape = ashape, .strides = astr, .data = adata_t },
        { .name = "s", .dtype = "I64", .ndim = 0, .data = &sdata },
        { .name = "e", .dtype = "F32", .ndim = 1, .shape = eshape, .data = bdata },
    };
    const char *meta[] = { "format", "pt", NULL };
    char sha[65], err[256];
    assert_int_equal(vc_safetensors_write(path, ts, 4, meta, sha, NULL, err, sizeof err), 0);
    size_t len;
    unsigned char *buf = (unsigned char *)vc_fs_read_all(path, &len);
    assert_non_null(buf);
    uint64_t hl = rd64(buf);
    assert_int_equal((8 + hl) % 8, 0);
    assert_true(8 + hl <= len);
    json_t *h = json_loadb((const char *)buf + 8, hl, 0, NULL);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(json_object_get(h, "__metadata__"), "format")), "pt");
    /* layout: 8-byte elements first, then 4, then 2; by name within a size */
    const char *order[] = { "s", "b", "e", "a" };
    uint64_t expect_off = 0;
    for (int i = 0; i < 4; i++) {
        json_t *t = json_object_get(h, order[i]);
        assert_non_null(t);
        json_t *off = json_object_get(t, "data_offsets");
        assert_int_equal(json_integer_value(json_array_get(off, 0)), expect_off);
        expect_off = (uint64_t)json_integer_value(json_array_get(off, 1));
    }
    assert_int_equal(8 + hl + expect_off, len);
    const unsigned char *data = buf + 8 + hl;
    int64_t s;
    memcpy(&s, data, 8);
    assert_int_equal(s, 42);
    assert_memory_equal(data + 8, bdata, 24);
    /* a = transpose of the 2x3 storage, row-major: 10 13 11 14 12 15 */
    uint16_t a[6], want[6] = { 10, 13, 11, 14, 12, 15 };
    memcpy(a, data + 32, 12);
    assert_memory_equal(a, want, 12);
    json_t *sh = json_object_get(json_object_get(h, "s"), "shape");
    assert_true(json_is_array(sh) && json_array_size(sh) == 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(h, "a"), "dtype")), "F16");
    json_decref(h);
    /* sha256 of the whole file */
    assert_int_equal(vc_hash_file_check(path, sha, (int64_t)len, NULL, 0, NULL), 1);
    free(buf);

    /* bad input: nothing left behind */
    vc_st_tensor bad[] = { { .name = "x", .dtype = "F8", .ndim = 1, .shape = bshape, .data = bdata } };
    char *p2 = vc_fs_join(d, "bad.safetensors");
    assert_int_equal(vc_safetensors_write(p2, bad, 1, NULL, NULL, NULL, err, sizeof err), -1);
    assert_false(vc_fs_exists(p2));
    vc_st_tensor dup[] = { ts[0], ts[0] };
    assert_int_equal(vc_safetensors_write(p2, dup, 2, NULL, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "twice"));
    free(p2);
    free(path);
    assert_int_equal(vc_test_rm_rf(d), 0);
    free(d);
}

static void test_index_shards(void **state)
{
    (void)state;
    char *d = vc_test_tmpdir("models-unit");
    char *ip = vc_fs_join(d, "model.safetensors.index.json");
    write_file(ip, "{\"metadata\": {}, \"weight_map\": {\"shared.weight\": \"m-1.safetensors\","
                   " \"encoder.block.0.x\": \"m-1.safetensors\", \"decoder.block.0.x\": \"m-2.safetensors\","
                   " \"encoder.final_layer_norm.weight\": \"m-3.safetensors\", \"lm_head.weight\": \"m-2.safetensors\"}}");
    char **v;
    size_t n;
    char err[256];
    assert_int_equal(vc_models_index_shards(ip, NULL, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "m-1.safetensors");
    assert_string_equal(v[2], "m-3.safetensors");
    vc_models_free_strv(v, n);
    assert_int_equal(vc_models_index_shards(ip, vc_models_t5_keep_tensor, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "m-1.safetensors");
    assert_string_equal(v[1], "m-3.safetensors");
    vc_models_free_strv(v, n);
    write_file(ip, "{\"weight_map\": {\"a\": \"../../etc/passwd\"}}");
    assert_int_equal(vc_models_index_shards(ip, NULL, &v, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid file name"));
    assert_true(vc_models_is_index("pytorch_model.bin.index.json"));
    assert_false(vc_models_is_index("pytorch_model.bin"));
    free(ip);
    assert_int_equal(vc_test_rm_rf(d), 0);
    free(d);
}

static void test_shell_quote(void **state)
{
    (void)state;
    char *q = vc_models_shell_quote("/data/models");
    assert_string_equal(q, "/data/models");
    free(q);
    q = vc_models_shell_quote("/my models/it's");
    assert_string_equal(q, "'/my models/it'\\''s'");
    free(q);
}

/* Writes the 90 TransNetV2 tensors (zeros) as safetensors under the .pth
 * name; the checkpoint reader recognises files by content. */
static void write_fake_transnet(const char *repo_dir, int64_t fc1_cols)
{
    const vc_model_def *m = vc_models_find("transnetv2");
    vc_model_tensors ex = { 0 };
    char err[256];
    assert_int_equal(m->expected(repo_dir, &ex, err, sizeof err), 0);
    vc_st_tensor *ts = vc_xcalloc(ex.len, sizeof *ts);
    static float zeros[1024 * 4864];
    for (size_t i = 0; i < ex.len; i++) {
        if (!strcmp(ex.items[i].name, "fc1.weight"))
            ex.items[i].shape[1] = fc1_cols;
        ts[i] = (vc_st_tensor){ .name = ex.items[i].name, .dtype = "F32", .ndim = ex.items[i].ndim,
                                .shape = ex.items[i].shape, .data = zeros };
    }
    char *p = vc_fs_join(repo_dir, "transnetv2-pytorch-weights.pth");
    assert_int_equal(vc_fs_mkdirs(repo_dir), 0);
    assert_int_equal(vc_safetensors_write(p, ts, ex.len, NULL, NULL, NULL, err, sizeof err), 0);
    free(p);
    free(ts);
    vc_model_tensors_free(&ex);
}

static void test_check(void **state)
{
    (void)state;
    char *d = vc_test_tmpdir("models-unit");
    const char *ids[] = { "transnetv2", NULL };
    char err[2048];
    assert_int_equal(vc_models_check(d, ids, err, sizeof err), -1);
    assert_non_null(strstr(err, "transnetv2-pytorch-weights.pth"));
    assert_non_null(strstr(err, "run: vcurate models download --models transnetv2 --model-weights-path "));
    assert_non_null(strstr(err, d));
    char *path = vc_models_checkpoint_path(d, "transnetv2", err, sizeof err);
    assert_null(path);
    assert_non_null(strstr(err, "vcurate models download --models transnetv2"));

    const char *unknown[] = { "nope", NULL };
    assert_int_equal(vc_models_check(d, unknown, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown model 'nope'"));

    char *repo = vc_fs_join(d, "Sn4kehead/TransNetV2");
    /* A partial download only: says it resumes. */
    char *pp = vc_models_partial_path(repo, "transnetv2-pytorch-weights.pth", "abc");
    write_file(pp, "xx");
    assert_int_equal(vc_models_check(d, ids, err, sizeof err), -1);
    assert_non_null(strstr(err, "only partly downloaded"));
    unlink(pp);
    free(pp);

    write_fake_transnet(repo, 4864);
    int rc = vc_models_check(d, ids, err, sizeof err);
    assert_int_equal(rc, 0);
    path = vc_models_checkpoint_path(d, "transnetv2", err, sizeof err);
    assert_non_null(path);
    assert_non_null(strstr(path, "/Sn4kehead/TransNetV2/transnetv2-pytorch-weights.pth"));
    free(path);

    /* Recorded at a different size: truncated or replaced. */
    vc_file_record r;
    memset(&r, 0, sizeof r);
    strcpy(r.etag, "x");
    assert_int_equal(vc_models_record_write(repo, "transnetv2-pytorch-weights.pth", &r), 0);
    assert_int_equal(vc_models_check(d, ids, err, sizeof err), 0);
    char *rp = vc_models_record_path(repo, "transnetv2-pytorch-weights.pth");
    char *text = vc_fs_read_all(rp, NULL);
    char *pos = strstr(text, "vcurate-size ");
    assert_non_null(pos);
    char *fixed = vc_asprintf("%.*svcurate-size 7\n", (int)(pos - text), text);
    write_file(rp, fixed);
    assert_int_equal(vc_models_check(d, ids, err, sizeof err), -1);
    assert_non_null(strstr(err, "were downloaded"));
    free(fixed);
    free(text);
    unlink(rp);
    free(rp);

#ifdef VC_MODELS_HAVE_NNIO
    /* Wrong shape: named, with the fix. */
    write_fake_transnet(repo, 4000);
    assert_int_equal(vc_models_check(d, ids, err, sizeof err), -1);
    assert_non_null(strstr(err, "fc1.weight has shape [1024,4000], expected [1024,4864]"));
    assert_non_null(strstr(err, "run: vcurate models download --models transnetv2"));
    /* Not a checkpoint at all. */
    char *p = vc_fs_join(repo, "transnetv2-pytorch-weights.pth");
    write_file(p, "<html>login required</html>");
    assert_int_equal(vc_models_check(d, ids, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
    free(p);
#endif
    free(repo);
    assert_int_equal(vc_test_rm_rf(d), 0);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_default_dir),
        cmocka_unit_test(test_etags_and_hashes),
        cmocka_unit_test(test_records_and_partials),
        cmocka_unit_test(test_safetensors_writer),
        cmocka_unit_test(test_index_shards),
        cmocka_unit_test(test_shell_quote),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
