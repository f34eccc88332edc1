/* GPU harness for the CUDA TransNetV2 backend (src/nn/cuda), for the GPU
 * machine: parity runs and throughput, driven by tnet_gpu_bench.py.
 *
 *   tnet_gpu [-p exact|bf16] COMMAND ...          -p: the backend's precision
 *                                                 (vc_tnet_cuda_set_precision), exact by default
 *   tnet_gpu info
 *   tnet_gpu predict PARAMS FRAMES N OUT [MAXW]   whole video as predict_frames
 *                                                 does it; OUT: float32 [N][2]
 *   tnet_gpu dump PARAMS FRAMES DIR               one window (frames 0..99), every
 *                                                 stage written to DIR (VC_TNET_CUDA_DUMP)
 *   tnet_gpu bench PARAMS NWIN ITERS              random frames, NWIN windows a call
 *
 * PARAMS is the folded-weights dump tnet_gpu_bench.py writes: "VCTNETP1"
 * then float32 arrays in vc_tnet_params order (per DDCNN: 4 spatial, 4
 * temporal, bias; then sim_proj w/b, sim_fc w/b, hist_fc w/b, fc1 w/b,
 * cls1 w/b, cls2 w/b). FRAMES is raw 48x27 rgb24. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/cuda/tnet_cuda.h"

static float *blob;
static int precision = VC_TNET_CUDA_EXACT;

static int load_params(const char *path, vc_tnet_params *p)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char magic[8];
    blob = malloc(sz);
    if (!blob || sz < 8 || fread(magic, 1, 8, f) != 8 || memcmp(magic, "VCTNETP1", 8) ||
        fread(blob, 1, sz - 8, f) != (size_t)(sz - 8)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    float *q = blob;
    static const int cin[3][2] = {{3, 64}, {64, 128}, {128, 256}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            vc_tnet_ddcnn *d = &p->ddcnn[i][j];
            d->cin = cin[i][j];
            d->f = 16 << i;
            d->relu = j == 0;
            for (int b = 0; b < 4; b++, q += 2 * d->f * d->cin * 9) d->spatial[b] = q;
            for (int b = 0; b < 4; b++, q += d->f * 2 * d->f * 3) d->temporal[b] = q;
            d->bias = q;
            q += 4 * d->f;
        }
    p->sim_proj_w = q, q += 128 * 448;
    p->sim_proj_b = q, q += 128;
    p->sim_fc_w = q, q += 128 * 101;
    p->sim_fc_b = q, q += 128;
    p->hist_fc_w = q, q += 128 * 101;
    p->hist_fc_b = q, q += 128;
    p->fc1_w = q, q += 1024 * 4864;
    p->fc1_b = q, q += 1024;
    p->cls1_w = q, q += 1024;
    p->cls1_b = *q++;
    p->cls2_w = q, q += 1024;
    p->cls2_b = *q++;
    if ((char *)q - (char *)blob != sz - 8) {
        fprintf(stderr, "%s: %ld bytes of floats, expected %ld\n", path, sz - 8, (long)((char *)q - (char *)blob));
        return -1;
    }
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len ? *len : 1);
    if (b && fread(b, 1, *len, f) != *len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static vc_tnet_cuda *open_net(const char *params, int maxw)
{
    static vc_tnet_params p;
    char err[512];
    if (load_params(params, &p)) {
        fprintf(stderr, "cannot read params %s\n", params);
        return NULL;
    }
    vc_tnet_cuda *c = vc_tnet_cuda_new(&p, 0, maxw, err, sizeof err);
    if (!c) fprintf(stderr, "vc_tnet_cuda_new: %s\n", err);
    if (c && vc_tnet_cuda_set_precision(c, precision)) {
        fprintf(stderr, "vc_tnet_cuda_set_precision(%d) failed\n", precision);
        vc_tnet_cuda_free(c);
        return NULL;
    }
    return c;
}

/* predict_frames (inference/transnetv2.py): 25 copies of frame 0 before,
 * 25..74 copies of the last after, windows of 100 every 50, keep [25,75). */
static int predict(const char *params, const char *frames, int n, const char *out, int maxw)
{
    size_t len;
    uint8_t *fr = read_file(frames, &len);
    if (!fr || len < (size_t)n * VC_TNET_FRAME_BYTES || n < 1) {
        fprintf(stderr, "cannot read %d frames from %s\n", n, frames);
        return 1;
    }
    const int pad_end = 25 + 50 - (n % 50 ? n % 50 : 50), total = n + 25 + pad_end, nwin = (total - 100) / 50 + 1;
    uint8_t *win = malloc((size_t)nwin * 100 * VC_TNET_FRAME_BYTES);
    float *single = malloc(sizeof(float) * nwin * 100), *many = malloc(sizeof(float) * nwin * 100);
    for (int w = 0; w < nwin; w++)
        for (int k = 0; k < 100; k++) {
            int src = w * 50 + k - 25;
            src = src < 0 ? 0 : src >= n ? n - 1 : src;
            memcpy(win + ((size_t)w * 100 + k) * VC_TNET_FRAME_BYTES, fr + (size_t)src * VC_TNET_FRAME_BYTES,
                   VC_TNET_FRAME_BYTES);
        }
    vc_tnet_cuda *c = open_net(params, maxw);
    if (!c) return 1;
    char err[512];
    double t0 = now();
    if (vc_tnet_cuda_forward(c, win, nwin, single, many, err, sizeof err)) {
        fprintf(stderr, "forward: %s\n", err);
        return 1;
    }
    double dt = now() - t0;
    float *res = malloc(sizeof(float) * 2 * n);
    for (int i = 0; i < n; i++) {
        int w = i / 50, k = 25 + i % 50;
        res[2 * i] = single[w * 100 + k];
        res[2 * i + 1] = many[w * 100 + k];
    }
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(res, sizeof(float), 2 * (size_t)n, f) != 2 * (size_t)n || fclose(f)) {
        fprintf(stderr, "cannot write %s\n", out);
        return 1;
    }
    printf("predict: %d frames, %d windows, %.3f s (first call, incl. warm-up)\n", n, nwin, dt);
    vc_tnet_cuda_free(c);
    free(res), free(win), free(single), free(many), free(fr);
    return 0;
}

static int dump(const char *params, const char *frames, const char *dir)
{
    size_t len;
    uint8_t *fr = read_file(frames, &len);
    if (!fr || len < 100 * VC_TNET_FRAME_BYTES) return 1;
    setenv("VC_TNET_CUDA_DUMP", dir, 1);
    vc_tnet_cuda *c = open_net(params, 1);
    if (!c) return 1;
    float single[100], many[100], out[200];
    char err[512];
    if (vc_tnet_cuda_forward(c, fr, 1, single, many, err, sizeof err)) {
        fprintf(stderr, "forward: %s\n", err);
        return 1;
    }
    for (int i = 0; i < 100; i++) out[2 * i] = single[i], out[2 * i + 1] = many[i];
    char path[4096];
    snprintf(path, sizeof path, "%s/out.f32", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(out, sizeof(float), 200, f) != 200 || fclose(f)) return 1;
    vc_tnet_cuda_free(c);
    free(fr);
    return 0;
}

/* Throughput: video frames/s = 50 new frames per window. "call" includes
 * the host<->device copies, "net" is the GPU time of the network alone. */
static int bench(const char *params, int nwin, int iters)
{
    vc_tnet_cuda *c = open_net(params, nwin);
    if (!c) return 1;
    size_t nb = (size_t)nwin * 100 * VC_TNET_FRAME_BYTES;
    uint8_t *fr = malloc(nb);
    float *single = malloc(sizeof(float) * nwin * 100), *many = malloc(sizeof(float) * nwin * 100);
    uint32_t s = 12345;
    for (size_t i = 0; i < nb; i++) s = s * 1664525u + 1013904223u, fr[i] = s >> 24;
    char err[512];
    for (int i = 0; i < 2; i++)
        if (vc_tnet_cuda_forward(c, fr, nwin, single, many, err, sizeof err)) {
            fprintf(stderr, "forward: %s\n", err);
            return 1;
        }
    double net = 0, t0 = now();
    for (int i = 0; i < iters; i++) {
        vc_tnet_cuda_forward(c, fr, nwin, single, many, err, sizeof err);
        net += vc_tnet_cuda_net_ms(c) / 1e3;
    }
    double dt = now() - t0;
    printf("{\"precision\": \"%s\", \"nwin\": %d, \"iters\": %d, \"call_fps\": %.1f, \"net_fps\": %.1f, "
           "\"call_ms\": %.3f, \"net_ms\": %.3f}\n",
           precision == VC_TNET_CUDA_BF16 ? "bf16" : "exact", nwin, iters, iters * nwin * 50.0 / dt,
           iters * nwin * 50.0 / net, dt * 1e3 / iters, net * 1e3 / iters);
    vc_tnet_cuda_free(c);
    free(fr), free(single), free(many);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "-p")) {
        if (!strcmp(argv[2], "bf16")) {
            precision = VC_TNET_CUDA_BF16;
        } else if (strcmp(argv[2], "exact")) {
            fprintf(stderr, "-p %s: exact or bf16\n", argv[2]);
            return 2;
        }
        argc -= 2;
        argv += 2;
    }
    if (argc >= 2 && !strcmp(argv[1], "info")) {
        printf("cuda devices: %d\n", vc_cuda_device_count());
        return 0;
    }
    if (argc >= 6 && !strcmp(argv[1], "predict"))
        return predict(argv[2], argv[3], atoi(argv[4]), argv[5], argc > 6 ? atoi(argv[6]) : 32);
    if (argc == 5 && !strcmp(argv[1], "dump")) return dump(argv[2], argv[3], argv[4]);
    if (argc == 5 && !strcmp(argv[1], "bench")) return bench(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: tnet_gpu [-p exact|bf16] info | predict PARAMS FRAMES N OUT [MAXW] |"
                    " dump PARAMS FRAMES DIR | bench PARAMS NWIN ITERS\n");
    return 2;
}
