/* T5 encoder harness for the GPU machine (built by build.sh, no meson).
 *
 *   t5_gpu FOLDER CKPT IDS.bin OUT.f32 DEVICE BATCH REPS
 *
 * IDS.bin: int32 n, then n lengths, then the ids. DEVICE: cpu, cuda (fp32) or
 * tf32. Encodes all captions in batches of BATCH, REPS times (the last run's
 * output is written), and prints one JSON line: open_s, encode_s (best of
 * REPS), captions, tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/t5.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: t5_gpu FOLDER CKPT IDS.bin OUT.f32 cpu|cuda|tf32 BATCH REPS\n");
        return 2;
    }
    char err[1024];
    FILE *f = fopen(argv[3], "rb");
    int32_t n = 0;
    if (!f || fread(&n, 4, 1, f) != 1 || n <= 0) {
        fprintf(stderr, "t5_gpu: cannot read %s\n", argv[3]);
        return 1;
    }
    int *lens = calloc((size_t)n, sizeof *lens);
    int32_t **ids = calloc((size_t)n, sizeof *ids);
    float **out = calloc((size_t)n, sizeof *out);
    if (fread(lens, 4, (size_t)n, f) != (size_t)n)
        return 1;
    long tokens = 0;
    for (int i = 0; i < n; i++) {
        ids[i] = malloc((size_t)lens[i] * 4);
        if (fread(ids[i], 4, (size_t)lens[i], f) != (size_t)lens[i])
            return 1;
        tokens += lens[i];
    }
    fclose(f);
    vc_t5_opts o = { .checkpoint = strcmp(argv[2], "-") ? argv[2] : NULL };
    o.cuda = strcmp(argv[5], "cpu") != 0;
    o.tf32 = !strcmp(argv[5], "tf32");
    int batch = atoi(argv[6]), reps = atoi(argv[7]);
    double t0 = now_s();
    vc_t5 *m = vc_t5_open(argv[1], &o, err, sizeof err);
    if (!m) {
        fprintf(stderr, "t5_gpu: %s\n", err);
        return 1;
    }
    double open_s = now_s() - t0;
    int d = vc_t5_config_of(m)->d_model;
    for (int i = 0; i < n; i++)
        out[i] = malloc((size_t)lens[i] * d * sizeof(float));
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = now_s();
        for (int i = 0; i < n; i += batch) {
            int nb = n - i < batch ? n - i : batch;
            if (vc_t5_encode(m, nb, (const int32_t *const *)ids + i, lens + i, out + i, err, sizeof err)) {
                fprintf(stderr, "t5_gpu: %s\n", err);
                return 1;
            }
        }
        double e = now_s() - t;
        if (e < best)
            best = e;
    }
    f = fopen(argv[4], "wb");
    for (int i = 0; f && i < n; i++)
        fwrite(out[i], sizeof(float), (size_t)lens[i] * d, f);
    if (f)
        fclose(f);
    printf("{\"open_s\": %.4f, \"encode_s\": %.4f, \"captions\": %d, \"tokens\": %ld, \"device\": \"%s\"}\n", open_s,
           best, n, tokens, argv[5]);
    vc_t5_close(m);
    return 0;
}
