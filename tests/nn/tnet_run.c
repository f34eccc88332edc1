/* tnet_run: runs TransNetV2 windows from a raw frame file and writes the raw
 * window outputs, for the parity test and the CPU benchmark.
 *
 *   tnet_run [--device D] [--threads N] [--repeat R] WEIGHTS FRAMES OUT LENGTHS
 *
 * FRAMES holds the windows' 48x27 rgb24 frames one window after the other;
 * LENGTHS is the comma-separated frame count of each window (100, or less
 * for a short window). OUT gets, per window, float32 sigmoid(single)[T] then
 * sigmoid(many)[T]. Full windows in a row go through vc_tnet_forward together
 * (batch hint), short ones through vc_tnet_forward_window. With --repeat, the
 * windows run R times more and their time (load and first run excluded) is
 * printed as "forward_seconds S cpu_seconds C frames F". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/transnetv2.h"

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse_lengths(const char *s, int **out)
{
    int n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    int *v = calloc((size_t)n, sizeof *v);
    if (!v)
        return -1;
    for (int i = 0; i < n; i++) {
        char *end;
        v[i] = (int)strtol(s, &end, 10);
        if (end == s || v[i] < 1 || v[i] > VC_TNET_WINDOW || (*end && *end != ',')) {
            free(v);
            return -1;
        }
        s = end + (*end == ',');
    }
    *out = v;
    return n;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* Runs every window once; full windows in runs of up to `batch`. */
static int run_all(vc_tnet *m, const uint8_t *frames, const int *lens, int nwin, int batch,
                   float *single, float *many, char *err, size_t errlen)
{
    size_t f = 0;
    for (int i = 0; i < nwin;) {
        int n = 0;
        while (i + n < nwin && n < batch && lens[i + n] == VC_TNET_WINDOW)
            n++;
        int rc;
        if (n > 0) {
            rc = vc_tnet_forward(m, frames + f * VC_TNET_FRAME_BYTES, n, single + f, many + f, err,
                                 errlen);
            f += (size_t)n * VC_TNET_WINDOW;
            i += n;
        } else {
            rc = vc_tnet_forward_window(m, frames + f * VC_TNET_FRAME_BYTES, lens[i], single + f,
                                        many + f, err, errlen);
            f += (size_t)lens[i];
            i++;
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *device = "cpu";
    int threads = 0, repeat = 0, a = 1;
    for (; a + 1 < argc && strncmp(argv[a], "--", 2) == 0; a += 2) {
        if (strcmp(argv[a], "--device") == 0)
            device = argv[a + 1];
        else if (strcmp(argv[a], "--threads") == 0)
            threads = atoi(argv[a + 1]);
        else if (strcmp(argv[a], "--repeat") == 0)
            repeat = atoi(argv[a + 1]);
        else
            break;
    }
    if (argc - a != 4) {
        fprintf(stderr, "usage: tnet_run [--device D] [--threads N] [--repeat R] WEIGHTS FRAMES OUT LENGTHS\n");
        return 2;
    }
    char err[512];
    vc_nn_device dev;
    int *lens = NULL;
    int nwin = parse_lengths(argv[a + 3], &lens);
    if (vc_nn_device_parse(device, &dev, err, sizeof err) != 0 || nwin < 0) {
        fprintf(stderr, "tnet_run: %s\n", nwin < 0 ? "bad LENGTHS" : err);
        return 2;
    }
    size_t total = 0, len = 0;
    for (int i = 0; i < nwin; i++)
        total += (size_t)lens[i];
    uint8_t *frames = read_file(argv[a + 1], &len);
    vc_tnet *m = NULL;
    if (!frames || len != total * VC_TNET_FRAME_BYTES)
        fprintf(stderr, "tnet_run: %s: expected %zu frames of 48x27 rgb24\n", argv[a + 1], total);
    else if (!(m = vc_tnet_load(argv[a], dev, threads, err, sizeof err)))
        fprintf(stderr, "tnet_run: %s\n", err);
    if (!m) {
        free(frames);
        free(lens);
        return 1;
    }
    float *single = malloc(total * sizeof *single), *many = malloc(total * sizeof *many);
    int rc = single && many ? 0 : -1;
    if (rc == 0)
        rc = run_all(m, frames, lens, nwin, vc_tnet_batch_hint(m), single, many, err, sizeof err);
    if (rc == 0 && repeat > 0) {
        double t0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
        for (int r = 0; r < repeat && rc == 0; r++)
            rc = run_all(m, frames, lens, nwin, vc_tnet_batch_hint(m), single, many, err, sizeof err);
        printf("forward_seconds %.6f cpu_seconds %.6f frames %zu\n", seconds(CLOCK_MONOTONIC) - t0,
               seconds(CLOCK_PROCESS_CPUTIME_ID) - c0, total * (size_t)repeat);
    }
    if (rc != 0)
        fprintf(stderr, "tnet_run: %s\n", err);
    FILE *out = rc == 0 ? fopen(argv[a + 2], "wb") : NULL;
    if (rc == 0 && !out) {
        fprintf(stderr, "tnet_run: cannot write %s\n", argv[a + 2]);
        rc = -1;
    }
    size_t f = 0;
    for (int i = 0; out && i < nwin; f += (size_t)lens[i], i++)
        if (fwrite(single + f, sizeof(float), (size_t)lens[i], out) != (size_t)lens[i] ||
            fwrite(many + f, sizeof(float), (size_t)lens[i], out) != (size_t)lens[i])
            rc = -1;
    if (out && fclose(out) != 0)
        rc = -1;
    free(single);
    free(many);
    free(frames);
    free(lens);
    vc_tnet_free(m);
    return rc == 0 ? 0 : 1;
}
