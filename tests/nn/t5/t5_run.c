/* Drives the T5 encoder and tokenizer for the parity tests and the benchmark.
 *
 *   t5_run strip IN.json OUT.json              Python str.strip() of each string
 *   t5_run tok SPIECE IN.json OUT.json [MAX]   T5 ids of each caption (MAX 512)
 *   t5_run enc FOLDER CKPT|- IN.json OUT.f32 NAMES.txt [THREADS [BATCH]]
 *        IN: a JSON list of id lists; OUT: their last_hidden_state rows, float32,
 *        concatenated; NAMES: the tensors the encoder asked the checkpoint for.
 *        Timings (open, encode) go to stderr as "t5_run: open_s=... encode_s=...".
 *   t5_run reduce FOLDER CKPT_FILE             encoder.safetensors as
 *        `vcurate models download --encoder-only` writes it */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/internal.h"
#include "models/models.h"
#include "nn/t5.h"
#include "nn/tok/t5_tok.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static json_t *load_list(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!json_is_array(j)) {
        fprintf(stderr, "t5_run: %s: %s\n", path, j ? "not a list" : je.text);
        exit(1);
    }
    return j;
}

static int cmd_strip(char **a)
{
    json_t *in = load_list(a[0]), *out = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(in, i, s) {
        size_t len = json_string_length(s);
        const char *p = vc_py_strip(json_string_value(s), &len);
        json_array_append_new(out, json_stringn(p, len));
    }
    int rc = json_dump_file(out, a[1], JSON_ENSURE_ASCII);
    json_decref(in);
    json_decref(out);
    return rc ? 1 : 0;
}

static int cmd_tok(char **a, int argc)
{
    char err[512];
    vc_t5_tok *t = vc_t5_tok_load(a[0], err, sizeof err);
    if (!t) {
        fprintf(stderr, "t5_run: %s\n", err);
        return 1;
    }
    int max = argc > 3 ? atoi(a[3]) : VC_T5_MAX_TOKENS;
    json_t *in = load_list(a[1]), *out = json_array();
    int32_t *ids = malloc((size_t)max * sizeof *ids);
    size_t i;
    json_t *s;
    int rc = 0;
    json_array_foreach(in, i, s) {
        int n = vc_t5_tok_encode(t, json_string_value(s), max, ids, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "t5_run: caption %zu: %s\n", i, err);
            rc = 1;
            break;
        }
        json_t *row = json_array();
        for (int k = 0; k < n; k++)
            json_array_append_new(row, json_integer(ids[k]));
        json_array_append_new(out, row);
    }
    if (!rc && json_dump_file(out, a[2], 0))
        rc = 1;
    free(ids);
    json_decref(in);
    json_decref(out);
    vc_t5_tok_free(t);
    return rc;
}

static int cmd_enc(char **a, int argc)
{
    char err[1024];
    vc_t5_opts o = { .checkpoint = strcmp(a[1], "-") ? a[1] : NULL, .threads = argc > 5 ? atoi(a[5]) : 0 };
    int batch = argc > 6 ? atoi(a[6]) : 16;
    if (batch < 1)
        batch = 1;
    double t0 = now_s();
    vc_t5 *m = vc_t5_open(a[0], &o, err, sizeof err);
    if (!m) {
        fprintf(stderr, "t5_run: %s\n", err);
        return 1;
    }
    double t1 = now_s();
    int d = vc_t5_config_of(m)->d_model;
    json_t *in = load_list(a[2]);
    size_t n = json_array_size(in);
    int32_t **ids = calloc(n ? n : 1, sizeof *ids);
    int *lens = calloc(n ? n : 1, sizeof *lens);
    float **outs = calloc(n ? n : 1, sizeof *outs);
    size_t tokens = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(in, i);
        lens[i] = (int)json_array_size(row);
        ids[i] = malloc((size_t)(lens[i] ? lens[i] : 1) * sizeof **ids);
        outs[i] = malloc((size_t)(lens[i] ? lens[i] : 1) * d * sizeof **outs);
        for (int k = 0; k < lens[i]; k++)
            ids[i][k] = (int32_t)json_integer_value(json_array_get(row, (size_t)k));
        tokens += (size_t)lens[i];
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i += (size_t)batch) {
        int nb = (int)(n - i < (size_t)batch ? n - i : (size_t)batch);
        if (vc_t5_encode(m, nb, (const int32_t *const *)ids + i, lens + i, outs + i, err, sizeof err)) {
            fprintf(stderr, "t5_run: %s\n", err);
            rc = 1;
        }
    }
    double t2 = now_s();
    fprintf(stderr, "t5_run: open_s=%.3f encode_s=%.3f captions=%zu tokens=%zu checkpoint=%s\n", t1 - t0,
            t2 - t1, n, tokens, vc_t5_checkpoint_path(m));
    FILE *f = rc ? NULL : fopen(a[3], "wb");
    for (size_t i = 0; f && i < n; i++)
        fwrite(outs[i], sizeof(float), (size_t)lens[i] * d, f);
    if (f && fclose(f))
        rc = 1;
    const char *const *names;
    size_t nn = vc_t5_tensors_read(m, &names);
    FILE *nf = fopen(a[4], "w");
    for (size_t i = 0; nf && i < nn; i++)
        fprintf(nf, "%s\n", names[i]);
    if (nf)
        fclose(nf);
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
        free(outs[i]);
    }
    free(ids);
    free(lens);
    free(outs);
    json_decref(in);
    vc_t5_close(m);
    return rc;
}

static int cmd_reduce(char **a)
{
    char err[1024];
    const vc_model_def *m = vc_models_find("t5_xxl");
    if (!m || vc_models_write_reduced(m, a[0], a[1], NULL, err, sizeof err)) {
        fprintf(stderr, "t5_run: %s\n", m ? err : "no t5_xxl model");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "strip"))
        return cmd_strip(argv + 2);
    if (argc >= 5 && !strcmp(argv[1], "tok"))
        return cmd_tok(argv + 2, argc - 2);
    if (argc >= 7 && !strcmp(argv[1], "enc"))
        return cmd_enc(argv + 2, argc - 2);
    if (argc >= 4 && !strcmp(argv[1], "reduce"))
        return cmd_reduce(argv + 2);
    fprintf(stderr, "usage: t5_run strip|tok|enc|reduce ... (see the source)\n");
    return 2;
}
