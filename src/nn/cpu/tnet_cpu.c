/* TransNetV2 forward pass on the CPU, one window at a time.
 *
 * Activations are channels-last clips [T][H][W][C]. Each DDCNN is
 *  1. one 3x3 convolution for all four dilation branches (they read the
 *     same input): 8F output channels, branch k in columns [2Fk, 2F(k+1));
 *  2. per branch, the dilated temporal convolution as three GEMMs over
 *     time-shifted row ranges of (1), accumulated onto the folded BatchNorm
 *     shift, into columns [Fk, F(k+1)) of the 4F-channel output (the
 *     concatenation is free);
 *  3. an epilogue on the frames just finished while they are in cache:
 *     ReLU, or for a stack's last DDCNN the ReLU + shortcut + 2x2 average
 *     pool + the spatial mean FrameSimilarity needs.
 * The last stack pools straight into the fc1 input rows, whose layout
 * [hist 128 | sim 128 | conv (h*6+w)*256+c] is PyTorch's flatten order. */
#include "nn/cpu/tnet_cpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu/cpu_conv.h"
#include "nn/cpu/cpu_ops.h"
#include "nn/cpu/cpu_pool.h"

#define SIM_DIM 128
#define LOOKUP 101
#define FC1_IN 4864
#define FC1_OUT 1024
#define HIST_BINS 512
#define SIM_IN 448          /* 64 + 128 + 256 channel means */
#define CONV_FEAT_OFF 256   /* fc1 input columns: hist, sim, conv */

static const int dilations[VC_TNET_DILATIONS] = {1, 2, 4, 8};

typedef struct {
    int cin, f;             /* input channels, filters per branch */
    int h, w;               /* frame size at this DDCNN */
    int wino;               /* spatial conv by Winograd (else im2col) */
    float *spatial;         /* 4 branches' 3x3 weights, 8F outputs, packed */
    float *temporal[VC_TNET_DILATIONS];  /* [3][F][2F], BN scale folded */
    float *bias;            /* [4F] BN shift */
    int relu;
} ddcnn;

struct vc_tnet_cpu {
    vc_cpu_pool *pool;
    ddcnn layer[VC_TNET_STACKS][2];
    float *sim_proj_w, *sim_proj_b, *sim_fc_w, *sim_fc_b, *hist_fc_w, *hist_fc_b;
    float *fc1_w, *fc1_b, *cls1_w, *cls2_w;
    float cls1_b, cls2_b;
    /* workspace for one window of up to VC_TNET_WINDOW frames */
    float *x0;              /* [T][27][48][3] input / 255 */
    float *y;               /* spatial conv out, 8F channels */
    float *x1;              /* first DDCNN's output: the stack's shortcut */
    float *stack_out[VC_TNET_STACKS - 1];
    float *means;           /* [T][448] */
    float *hist;            /* [T][512] */
    float *sim_proj;        /* [T][128] */
    float *sims;            /* [T][T] */
    float *lookup;          /* [T][101] */
    float *feat;            /* [T][4864] fc1 input */
    float *hidden;          /* [T][1024] */
    float **scratch;        /* per thread: conv scratch */
    float **zbuf;           /* per thread: a stack's last DDCNN output for a few frames */
};

/* ------------------------------------------------------------ setup */

static float *copy_floats(const float *src, size_t n)
{
    float *d = vc_cpu_alloc_floats(n);
    if (d)
        memcpy(d, src, n * sizeof *d);
    return d;
}

/* Frames per spatial-conv task: enough 4x4 tiles (or pixels) for a GEMM
 * that is not too thin, but still several tasks per thread. */
static int spatial_chunk(const ddcnn *l, int t_len, int threads)
{
    int per_frame = l->wino ? ((l->h + 1) / 2) * ((l->w + 1) / 2) : l->h * l->w;
    int nf = 320 / per_frame;
    int cap = (t_len + 4 * threads - 1) / (4 * threads);
    if (nf > cap)
        nf = cap;
    return nf < 1 ? 1 : nf;
}

static int temporal_chunk(const ddcnn *l, int t_len, int threads)
{
    int nf = 4096 / (l->h * l->w);
    int cap = (t_len + 4 * threads - 1) / (4 * threads);
    if (nf > cap)
        nf = cap;
    return nf < 1 ? 1 : nf;
}

static int setup_layer(ddcnn *l, const vc_tnet_ddcnn *p, int h, int w)
{
    int f = p->f, cin = p->cin, c2 = 2 * f;
    l->cin = cin;
    l->f = f;
    l->h = h;
    l->w = w;
    l->relu = p->relu;
    l->wino = cin >= 16;
    /* The four branches' weights side by side: [8F][cin][3][3]. */
    size_t per = (size_t)c2 * cin * 9;
    float *all = vc_cpu_alloc_floats(4 * per);
    if (!all)
        return -1;
    for (int k = 0; k < VC_TNET_DILATIONS; k++)
        memcpy(all + k * per, p->spatial[k], per * sizeof(float));
    l->spatial = vc_cpu_alloc_floats(l->wino ? vc_cpu_wino_packed_size(4 * c2, cin) : 4 * per);
    if (l->spatial) {
        if (l->wino)
            vc_cpu_conv3x3_pack_wino(all, 4 * c2, cin, l->spatial);
        else
            vc_cpu_conv3x3_pack_im2col(all, 4 * c2, cin, l->spatial);
    }
    free(all);
    if (!l->spatial)
        return -1;
    for (int k = 0; k < VC_TNET_DILATIONS; k++) {
        /* [F][2F][3] -> one [F][2F] matrix per tap */
        l->temporal[k] = vc_cpu_alloc_floats((size_t)3 * f * c2);
        if (!l->temporal[k])
            return -1;
        for (int j = 0; j < 3; j++)
            for (int o = 0; o < f; o++)
                for (int i = 0; i < c2; i++)
                    l->temporal[k][((size_t)j * f + o) * c2 + i] = p->temporal[k][((size_t)o * c2 + i) * 3 + j];
    }
    l->bias = copy_floats(p->bias, (size_t)4 * f);
    return l->bias ? 0 : -1;
}

static void free_layer(ddcnn *l)
{
    free(l->spatial);
    for (int k = 0; k < VC_TNET_DILATIONS; k++)
        free(l->temporal[k]);
    free(l->bias);
}

static int alloc_workspace(vc_tnet_cpu *c)
{
    const size_t T = VC_TNET_WINDOW;
    size_t y = 0, x = 0, scratch = 0, zbuf = 0;
    int threads = vc_cpu_pool_threads(c->pool);
    for (int s = 0; s < VC_TNET_STACKS; s++)
        for (int j = 0; j < 2; j++) {
            const ddcnn *l = &c->layer[s][j];
            size_t px = (size_t)l->h * l->w;
            if (px * 8 * l->f > y)
                y = px * 8 * l->f;
            if (px * 4 * l->f > x)
                x = px * 4 * l->f;
            int nf = spatial_chunk(l, VC_TNET_WINDOW, threads);
            size_t sc = vc_cpu_conv3x3_scratch(nf, l->h, l->w, l->cin, 8 * l->f);
            if (sc > scratch)
                scratch = sc;
            size_t zb = (size_t)temporal_chunk(l, VC_TNET_WINDOW, threads) * px * 4 * l->f;
            if (zb > zbuf)
                zbuf = zb;
        }
    c->x0 = vc_cpu_alloc_floats(T * VC_TNET_FRAME_BYTES);
    c->y = vc_cpu_alloc_floats(T * y);
    c->x1 = vc_cpu_alloc_floats(T * x);
    c->stack_out[0] = vc_cpu_alloc_floats(T * 13 * 24 * 64);
    c->stack_out[1] = vc_cpu_alloc_floats(T * 6 * 12 * 128);
    c->means = vc_cpu_alloc_floats(T * SIM_IN);
    c->hist = vc_cpu_alloc_floats(T * HIST_BINS);
    c->sim_proj = vc_cpu_alloc_floats(T * SIM_DIM);
    c->sims = vc_cpu_alloc_floats(T * T);
    c->lookup = vc_cpu_alloc_floats(T * LOOKUP);
    c->feat = vc_cpu_alloc_floats(T * FC1_IN);
    c->hidden = vc_cpu_alloc_floats(T * FC1_OUT);
    c->scratch = calloc((size_t)threads, sizeof *c->scratch);
    c->zbuf = calloc((size_t)threads, sizeof *c->zbuf);
    if (!c->x0 || !c->y || !c->x1 || !c->zbuf || !c->stack_out[0] || !c->stack_out[1] || !c->means ||
        !c->hist || !c->sim_proj || !c->sims || !c->lookup || !c->feat || !c->hidden || !c->scratch)
        return -1;
    for (int i = 0; i < threads; i++)
        if (!(c->scratch[i] = vc_cpu_alloc_floats(scratch)) || !(c->zbuf[i] = vc_cpu_alloc_floats(zbuf)))
            return -1;
    return 0;
}

vc_tnet_cpu *vc_tnet_cpu_new(const vc_tnet_params *p, int threads, char *err, size_t errlen)
{
    vc_tnet_cpu *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    vc_cpu_blas_single_thread();
    c->pool = vc_cpu_pool_new(threads);
    int ok = c->pool != NULL;
    int h = VC_TNET_H, w = VC_TNET_W;
    for (int s = 0; s < VC_TNET_STACKS && ok; s++) {
        for (int j = 0; j < 2 && ok; j++)
            ok = setup_layer(&c->layer[s][j], &p->ddcnn[s][j], h, w) == 0;
        h /= 2;
        w /= 2;
    }
    if (ok) {
        c->sim_proj_w = copy_floats(p->sim_proj_w, (size_t)SIM_DIM * SIM_IN);
        c->sim_proj_b = copy_floats(p->sim_proj_b, SIM_DIM);
        c->sim_fc_w = copy_floats(p->sim_fc_w, (size_t)128 * LOOKUP);
        c->sim_fc_b = copy_floats(p->sim_fc_b, 128);
        c->hist_fc_w = copy_floats(p->hist_fc_w, (size_t)128 * LOOKUP);
        c->hist_fc_b = copy_floats(p->hist_fc_b, 128);
        c->fc1_w = copy_floats(p->fc1_w, (size_t)FC1_OUT * FC1_IN);
        c->fc1_b = copy_floats(p->fc1_b, FC1_OUT);
        c->cls1_w = copy_floats(p->cls1_w, FC1_OUT);
        c->cls2_w = copy_floats(p->cls2_w, FC1_OUT);
        c->cls1_b = p->cls1_b;
        c->cls2_b = p->cls2_b;
        ok = c->sim_proj_w && c->sim_proj_b && c->sim_fc_w && c->sim_fc_b && c->hist_fc_w &&
             c->hist_fc_b && c->fc1_w && c->fc1_b && c->cls1_w && c->cls2_w;
    }
    if (!ok || alloc_workspace(c) != 0) {
        snprintf(err, errlen, "out of memory setting up TransNetV2 on the CPU");
        vc_tnet_cpu_free(c);
        return NULL;
    }
    return c;
}

void vc_tnet_cpu_free(vc_tnet_cpu *c)
{
    if (!c)
        return;
    for (int i = 0; c->pool && i < vc_cpu_pool_threads(c->pool); i++) {
        if (c->scratch)
            free(c->scratch[i]);
        if (c->zbuf)
            free(c->zbuf[i]);
    }
    free(c->scratch);
    free(c->zbuf);
    vc_cpu_pool_free(c->pool);
    for (int s = 0; s < VC_TNET_STACKS; s++)
        for (int j = 0; j < 2; j++)
            free_layer(&c->layer[s][j]);
    float *bufs[] = {c->sim_proj_w, c->sim_proj_b, c->sim_fc_w, c->sim_fc_b, c->hist_fc_w,
                     c->hist_fc_b, c->fc1_w, c->fc1_b, c->cls1_w, c->cls2_w, c->x0, c->y, c->x1,
                     c->stack_out[0], c->stack_out[1], c->means, c->hist, c->sim_proj,
                     c->sims, c->lookup, c->feat, c->hidden};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(c);
}

/* ---------------------------------------------------------- DDCNN */

/* What one DDCNN pass reads and writes. */
typedef struct {
    vc_tnet_cpu *c;
    const ddcnn *l;
    int t_len, chunk;
    const float *in;        /* [T][h][w][cin] */
    float *out;             /* [T][h][w][4F], ReLU'd; NULL for a stack's last DDCNN, whose
                             * output only lives in zbuf until the epilogue pools it */
    /* stack epilogue (last DDCNN only) */
    const float *shortcut;  /* first DDCNN's output */
    float *pooled;          /* frame t at pooled + t * pooled_ld */
    size_t pooled_ld;
    int mean_off;           /* column of these channels in means[T][448] */
} ddcnn_job;

static void spatial_task(void *ctx, int task, int worker)
{
    const ddcnn_job *j = ctx;
    const ddcnn *l = j->l;
    int t0 = task * j->chunk, nf = j->t_len - t0 < j->chunk ? j->t_len - t0 : j->chunk;
    size_t px = (size_t)l->h * l->w;
    const float *x = j->in + t0 * px * l->cin;
    float *y = j->c->y + t0 * px * 8 * l->f;
    if (l->wino)
        vc_cpu_conv3x3_wino(x, nf, l->h, l->w, l->cin, l->spatial, 8 * l->f, y, 8 * l->f,
                            j->c->scratch[worker]);
    else
        vc_cpu_conv3x3_im2col(x, nf, l->h, l->w, l->cin, l->spatial, 8 * l->f, y, 8 * l->f,
                              j->c->scratch[worker]);
}

/* relu(z) + shortcut for frame t, pooled 2x2, and the pooled frame's
 * channel means. */
static void stack_epilogue(const ddcnn_job *j, int t, float *z)
{
    const ddcnn *l = j->l;
    int c4 = 4 * l->f, oh = l->h / 2, ow = l->w / 2;
    size_t px = (size_t)l->h * l->w;
    const float *sc = j->shortcut + t * px * c4;
    for (size_t i = 0; i < px * c4; i++)
        z[i] = (z[i] > 0.0f ? z[i] : 0.0f) + sc[i];
    float *pooled = j->pooled + t * j->pooled_ld;
    vc_cpu_avgpool2x2(z, l->h, l->w, c4, pooled);
    float *mean = j->c->means + (size_t)t * SIM_IN + j->mean_off;
    for (int ch = 0; ch < c4; ch++)
        mean[ch] = 0.0f;
    for (int p = 0; p < oh * ow; p++)
        for (int ch = 0; ch < c4; ch++)
            mean[ch] += pooled[(size_t)p * c4 + ch];
    for (int ch = 0; ch < c4; ch++)
        mean[ch] /= (float)(oh * ow);
}

static void temporal_task(void *ctx, int task, int worker)
{
    const ddcnn_job *j = ctx;
    const ddcnn *l = j->l;
    int t0 = task * j->chunk, t1 = t0 + j->chunk < j->t_len ? t0 + j->chunk : j->t_len;
    int f = l->f, rows = l->h * l->w;
    float *out = j->out ? j->out + (size_t)t0 * rows * 4 * f : j->c->zbuf[worker];
    vc_cpu_fill_rows(out, (t1 - t0) * rows, 4 * f, 4 * f, l->bias);
    for (int k = 0; k < VC_TNET_DILATIONS; k++)
        vc_cpu_temporal_conv3(j->c->y + 2 * f * k, 8 * f, 2 * f, j->t_len, rows, dilations[k],
                              l->temporal[k], f, out + f * k, 4 * f, t0, t1);
    if (l->relu)
        vc_cpu_bias_act(out, (t1 - t0) * rows, 4 * f, 4 * f, NULL, VC_ACT_RELU);
    if (j->shortcut)
        for (int t = t0; t < t1; t++)
            stack_epilogue(j, t, out + (size_t)(t - t0) * rows * 4 * f);
}

static void run_ddcnn(ddcnn_job *j)
{
    int threads = vc_cpu_pool_threads(j->c->pool);
    j->chunk = spatial_chunk(j->l, j->t_len, threads);
    vc_cpu_pool_run(j->c->pool, (j->t_len + j->chunk - 1) / j->chunk, spatial_task, j);
    j->chunk = temporal_chunk(j->l, j->t_len, threads);
    vc_cpu_pool_run(j->c->pool, (j->t_len + j->chunk - 1) / j->chunk, temporal_task, j);
}

static void run_stacks(vc_tnet_cpu *c, int t_len)
{
    const float *in = c->x0;
    int mean_off = 0;
    for (int s = 0; s < VC_TNET_STACKS; s++) {
        const ddcnn *l0 = &c->layer[s][0], *l1 = &c->layer[s][1];
        ddcnn_job j0 = {.c = c, .l = l0, .t_len = t_len, .in = in, .out = c->x1};
        run_ddcnn(&j0);
        int last = s == VC_TNET_STACKS - 1;
        ddcnn_job j1 = {.c = c, .l = l1, .t_len = t_len, .in = c->x1, .shortcut = c->x1,
                        .pooled = last ? c->feat + CONV_FEAT_OFF : c->stack_out[s],
                        .pooled_ld = last ? FC1_IN : (size_t)(l1->h / 2) * (l1->w / 2) * 4 * l1->f,
                        .mean_off = mean_off};
        run_ddcnn(&j1);
        mean_off += 4 * l1->f;
        if (!last)
            in = c->stack_out[s];
    }
}

/* ------------------------------------------------- similarity features */

/* lookup[t][k] = sims[t][t + k - 50], 0 outside the window. */
static void similarity_lookup(const float *sims, int t_len, float *lookup)
{
    int half = (LOOKUP - 1) / 2;
    for (int t = 0; t < t_len; t++)
        for (int k = 0; k < LOOKUP; k++) {
            int u = t + k - half;
            lookup[(size_t)t * LOOKUP + k] = u >= 0 && u < t_len ? sims[(size_t)t * t_len + u] : 0.0f;
        }
}

/* relu(fc(lookup(x x^T))) of unit rows x[T][dim], into fc1 input columns. */
static void similarity_features(vc_tnet_cpu *c, const float *x, int dim, int t_len, const float *fc_w,
                                const float *fc_b, int col)
{
    vc_cpu_gemm(t_len, t_len, dim, x, dim, x, dim, 1, 0.0f, c->sims, t_len);
    similarity_lookup(c->sims, t_len, c->lookup);
    vc_cpu_linear(NULL, c->lookup, t_len, LOOKUP, LOOKUP, fc_w, fc_b, 128, VC_ACT_RELU,
                  c->feat + col, FC1_IN);
}

static void color_histograms(const uint8_t *frames, int t_len, float *hist)
{
    for (int t = 0; t < t_len; t++) {
        int counts[HIST_BINS] = {0};
        const uint8_t *px = frames + (size_t)t * VC_TNET_FRAME_BYTES;
        for (int i = 0; i < VC_TNET_H * VC_TNET_W; i++, px += 3)
            counts[((px[0] >> 5) << 6) + ((px[1] >> 5) << 3) + (px[2] >> 5)]++;
        for (int b = 0; b < HIST_BINS; b++)
            hist[(size_t)t * HIST_BINS + b] = (float)counts[b];
    }
    vc_cpu_l2_normalize_rows(hist, t_len, HIST_BINS, HIST_BINS);
}

/* ------------------------------------------------------------ forward */

static float head(const float *x, const float *w, float b)
{
    double s = 0.0;
    for (int i = 0; i < FC1_OUT; i++)
        s += (double)x[i] * w[i];
    return 1.0f / (1.0f + expf(-((float)s + b)));
}

int vc_tnet_cpu_forward(vc_tnet_cpu *c, const uint8_t *frames, int nframes, float *single,
                        float *many, char *err, size_t errlen)
{
    if (nframes < 1 || nframes > VC_TNET_WINDOW) {
        snprintf(err, errlen, "TransNetV2 window of %d frames (1..%d)", nframes, VC_TNET_WINDOW);
        return -1;
    }
    int t_len = nframes;
    for (size_t i = 0; i < (size_t)t_len * VC_TNET_FRAME_BYTES; i++)
        c->x0[i] = (float)frames[i] / 255.0f;

    run_stacks(c, t_len);

    vc_cpu_linear(NULL, c->means, t_len, SIM_IN, SIM_IN, c->sim_proj_w, c->sim_proj_b, SIM_DIM,
                  VC_ACT_NONE, c->sim_proj, SIM_DIM);
    vc_cpu_l2_normalize_rows(c->sim_proj, t_len, SIM_DIM, SIM_DIM);
    similarity_features(c, c->sim_proj, SIM_DIM, t_len, c->sim_fc_w, c->sim_fc_b, 128);

    color_histograms(frames, t_len, c->hist);
    similarity_features(c, c->hist, HIST_BINS, t_len, c->hist_fc_w, c->hist_fc_b, 0);

    vc_cpu_linear(c->pool, c->feat, t_len, FC1_IN, FC1_IN, c->fc1_w, c->fc1_b, FC1_OUT, VC_ACT_RELU,
                  c->hidden, FC1_OUT);
    for (int t = 0; t < t_len; t++) {
        const float *x = c->hidden + (size_t)t * FC1_OUT;
        single[t] = head(x, c->cls1_w, c->cls1_b);
        if (many)
            many[t] = head(x, c->cls2_w, c->cls2_b);
    }
    return 0;
}
