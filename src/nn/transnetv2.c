/* TransNetV2: checkpoint -> folded parameters -> a backend. */
#include "nn/transnetv2.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu/tnet_cpu.h"
#include "nn/weights.h"
#ifdef VC_NN_HAVE_CUDA_LIB
#include "nn/cuda/tnet_cuda.h"
#endif

#define BN_EPS 1e-3
#define CUDA_BATCH 16           /* windows per GPU forward call */

struct vc_tnet {
    vc_tnet_params params;      /* folded; arrays owned here */
    vc_nn_device dev;
    int threads;
    vc_tnet_cpu *cpu;           /* the CPU backend, or on CUDA the one for short windows */
#ifdef VC_NN_HAVE_CUDA_LIB
    vc_tnet_cuda *cuda;
#endif
    pthread_mutex_t mu;         /* one forward at a time: backends keep workspaces */
    float **owned;              /* every array read or made at load (params' included) */
    size_t nowned;
};

/* ------------------------------------------------------- loading */

typedef struct {
    const vc_weights *w;
    char *err;
    size_t errlen;
    int failed;
    float **owned;              /* every array allocated, for cleanup */
    size_t nowned, capowned;
} loader;

static float *track(loader *ld, float *p)
{
    if (!p || ld->failed) {
        free(p);
        return NULL;
    }
    if (ld->nowned == ld->capowned) {
        size_t cap = ld->capowned ? 2 * ld->capowned : 128;
        float **n = realloc(ld->owned, cap * sizeof *n);
        if (!n) {
            free(p);
            return NULL;
        }
        ld->owned = n;
        ld->capowned = cap;
    }
    ld->owned[ld->nowned++] = p;
    return p;
}

/* Reads tensor `name` of the given shape as float32; NULL (and ld->failed,
 * err naming the tensor and file) if it is missing or shaped otherwise. */
static float *read_tensor(loader *ld, const char *name, int ndim, const int64_t *shape)
{
    if (ld->failed)
        return NULL;
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    float *p = track(ld, malloc(n * sizeof *p));
    if (!p) {
        snprintf(ld->err, ld->errlen, "out of memory reading %s", name);
        ld->failed = 1;
        return NULL;
    }
    if (vc_weights_read_f32(ld->w, name, ndim, shape, p, ld->err, ld->errlen) != 0) {
        ld->failed = 1;
        return NULL;
    }
    return p;
}

static float *read_named(loader *ld, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static float *read_named(loader *ld, int ndim, const int64_t *shape, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return read_tensor(ld, name, ndim, shape);
}

/* One DDCNN: four (2+1)D branches, BatchNorm folded into the temporal
 * weights (scale = gamma / sqrt(var + eps) per output channel) and a bias
 * (beta - mean * scale). */
static void load_ddcnn(loader *ld, vc_tnet_ddcnn *d, int stack, int block, int cin, int f)
{
    d->cin = cin;
    d->f = f;
    d->relu = block == 0;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "SDDCNN.%d.DDCNN.%d", stack, block);
    int64_t bn_shape[1] = {4 * f};
    const float *gamma = read_named(ld, 1, bn_shape, "%s.bn.weight", prefix);
    const float *beta = read_named(ld, 1, bn_shape, "%s.bn.bias", prefix);
    const float *mean = read_named(ld, 1, bn_shape, "%s.bn.running_mean", prefix);
    const float *var = read_named(ld, 1, bn_shape, "%s.bn.running_var", prefix);
    for (int k = 0; k < VC_TNET_DILATIONS; k++) {
        int dil = 1 << k;
        int64_t sp[5] = {2 * f, cin, 1, 3, 3}, tp[5] = {f, 2 * f, 3, 1, 1};
        d->spatial[k] = read_named(ld, 5, sp, "%s.Conv3D_%d.layers.0.weight", prefix, dil);
        d->temporal[k] = read_named(ld, 5, tp, "%s.Conv3D_%d.layers.1.weight", prefix, dil);
    }
    d->bias = track(ld, malloc((size_t)4 * f * sizeof(float)));
    if (ld->failed)
        return;
    if (!d->bias) {
        snprintf(ld->err, ld->errlen, "out of memory");
        ld->failed = 1;
        return;
    }
    for (int ch = 0; ch < 4 * f; ch++) {
        double scale = gamma[ch] / sqrt((double)var[ch] + BN_EPS);
        d->bias[ch] = (float)(beta[ch] - mean[ch] * scale);
        float *w = d->temporal[ch / f] + (size_t)(ch % f) * 2 * f * 3;
        for (int i = 0; i < 2 * f * 3; i++)
            w[i] = (float)(w[i] * scale);
    }
}

static float read_scalar_bias(loader *ld, const char *name)
{
    int64_t one[1] = {1};
    const float *b = read_tensor(ld, name, 1, one);
    return b ? b[0] : 0.0f;
}

static void load_params(loader *ld, vc_tnet_params *p)
{
    static const int cins[VC_TNET_STACKS] = {3, 64, 128};
    for (int s = 0; s < VC_TNET_STACKS; s++) {
        int f = 16 << s;
        load_ddcnn(ld, &p->ddcnn[s][0], s, 0, cins[s], f);
        load_ddcnn(ld, &p->ddcnn[s][1], s, 1, 4 * f, f);
    }
    int64_t proj[2] = {128, 448}, v128[1] = {128}, fc[2] = {128, 101};
    int64_t fc1[2] = {1024, 4864}, v1024[1] = {1024}, cls[2] = {1, 1024};
    p->sim_proj_w = read_tensor(ld, "frame_sim_layer.projection.weight", 2, proj);
    p->sim_proj_b = read_tensor(ld, "frame_sim_layer.projection.bias", 1, v128);
    p->sim_fc_w = read_tensor(ld, "frame_sim_layer.fc.weight", 2, fc);
    p->sim_fc_b = read_tensor(ld, "frame_sim_layer.fc.bias", 1, v128);
    p->hist_fc_w = read_tensor(ld, "color_hist_layer.fc.weight", 2, fc);
    p->hist_fc_b = read_tensor(ld, "color_hist_layer.fc.bias", 1, v128);
    p->fc1_w = read_tensor(ld, "fc1.weight", 2, fc1);
    p->fc1_b = read_tensor(ld, "fc1.bias", 1, v1024);
    p->cls1_w = read_tensor(ld, "cls_layer1.weight", 2, cls);
    p->cls1_b = read_scalar_bias(ld, "cls_layer1.bias");
    p->cls2_w = read_tensor(ld, "cls_layer2.weight", 2, cls);
    p->cls2_b = read_scalar_bias(ld, "cls_layer2.bias");
}

/* ------------------------------------------------------- backends */

static int start_backend(vc_tnet *m, char *err, size_t errlen)
{
    char name[32];
    if (m->dev.kind == VC_DEV_CPU) {
        m->cpu = vc_tnet_cpu_new(&m->params, m->threads, err, errlen);
        return m->cpu ? 0 : -1;
    }
#ifdef VC_NN_HAVE_CUDA_LIB
    int count = vc_cuda_device_count();
    if (m->dev.index >= count) {
        snprintf(err, errlen, "device %s: %d CUDA device%s usable", vc_nn_device_name(m->dev, name, sizeof name),
                 count, count == 1 ? "" : "s");
        return -1;
    }
    m->cuda = vc_tnet_cuda_new(&m->params, m->dev.index, CUDA_BATCH, err, errlen);
    return m->cuda ? 0 : -1;
#else
    snprintf(err, errlen, "device %s: vcurate was built without CUDA",
             vc_nn_device_name(m->dev, name, sizeof name));
    return -1;
#endif
}

vc_tnet *vc_tnet_load(const char *weights_path, vc_nn_device dev, int threads, char *err,
                      size_t errlen)
{
    vc_weights *w = vc_weights_open(weights_path, err, errlen);
    if (!w)
        return NULL;
    vc_tnet *m = calloc(1, sizeof *m);
    loader ld = {.w = w, .err = err, .errlen = errlen};
    if (!m) {
        snprintf(err, errlen, "out of memory");
        vc_weights_close(w);
        return NULL;
    }
    load_params(&ld, &m->params);
    vc_weights_close(w);
    /* The params' arrays are exactly ld.owned: keep the list to free them. */
    m->dev = vc_nn_device_resolve(dev);
    m->threads = threads;
    pthread_mutex_init(&m->mu, NULL);
    if (ld.failed || start_backend(m, err, errlen) != 0) {
        for (size_t i = 0; i < ld.nowned; i++)
            free(ld.owned[i]);
        free(ld.owned);
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    m->owned = ld.owned;
    m->nowned = ld.nowned;
    return m;
}

int vc_tnet_batch_hint(const vc_tnet *m)
{
#ifdef VC_NN_HAVE_CUDA_LIB
    if (m->cuda)
        return CUDA_BATCH;
#endif
    (void)m;
    return 1;
}

int vc_tnet_precision_parse(const char *s, vc_tnet_precision *p, char *err, size_t errlen)
{
    if (s && !strcmp(s, "exact")) {
        *p = VC_TNET_PREC_EXACT;
        return 0;
    }
    if (s && !strcmp(s, "bf16")) {
        *p = VC_TNET_PREC_BF16;
        return 0;
    }
    snprintf(err, errlen, "precision '%s': exact or bf16", s ? s : "");
    return -1;
}

int vc_tnet_set_precision(vc_tnet *m, vc_tnet_precision p, char *err, size_t errlen)
{
    if (p != VC_TNET_PREC_EXACT && p != VC_TNET_PREC_BF16) {
        snprintf(err, errlen, "TransNetV2: precision %d (exact or bf16)", (int)p);
        return -1;
    }
#ifdef VC_NN_HAVE_CUDA_LIB
    if (m->cuda) {
        pthread_mutex_lock(&m->mu);
        int rc = vc_tnet_cuda_set_precision(m->cuda, p == VC_TNET_PREC_BF16 ? VC_TNET_CUDA_BF16
                                                                            : VC_TNET_CUDA_EXACT);
        pthread_mutex_unlock(&m->mu);
        if (rc)
            snprintf(err, errlen, "TransNetV2: the CUDA backend refused precision %d", (int)p);
        return rc;
    }
#endif
    (void)m; /* the CPU backend is fp32 */
    return 0;
}

vc_nn_device vc_tnet_device(const vc_tnet *m)
{
    return m->dev;
}

const vc_tnet_params *vc_tnet_params_of(const vc_tnet *m)
{
    return &m->params;
}

static int forward_cpu(vc_tnet *m, const uint8_t *frames, int nwin, int nframes, float *single,
                       float *many, char *err, size_t errlen)
{
    if (!m->cpu && !(m->cpu = vc_tnet_cpu_new(&m->params, m->threads, err, errlen)))
        return -1;
    for (int i = 0; i < nwin; i++) {
        size_t off = (size_t)i * nframes;
        if (vc_tnet_cpu_forward(m->cpu, frames + off * VC_TNET_FRAME_BYTES, nframes, single + off,
                                many ? many + off : NULL, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int vc_tnet_forward(vc_tnet *m, const uint8_t *frames, int nwin, float *single, float *many,
                    char *err, size_t errlen)
{
    if (nwin < 0) {
        snprintf(err, errlen, "TransNetV2: %d windows", nwin);
        return -1;
    }
    pthread_mutex_lock(&m->mu);
    int rc;
#ifdef VC_NN_HAVE_CUDA_LIB
    if (m->cuda) {
        rc = 0;
        for (int i = 0; i < nwin && rc == 0; i += CUDA_BATCH) {
            int n = nwin - i < CUDA_BATCH ? nwin - i : CUDA_BATCH;
            size_t off = (size_t)i * VC_TNET_WINDOW;
            rc = vc_tnet_cuda_forward(m->cuda, frames + off * VC_TNET_FRAME_BYTES, n, single + off,
                                      many ? many + off : NULL, err, errlen);
        }
        pthread_mutex_unlock(&m->mu);
        return rc;
    }
#endif
    rc = forward_cpu(m, frames, nwin, VC_TNET_WINDOW, single, many, err, errlen);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int vc_tnet_forward_window(vc_tnet *m, const uint8_t *frames, int nframes, float *single,
                           float *many, char *err, size_t errlen)
{
    if (nframes < 1 || nframes > VC_TNET_WINDOW) {
        snprintf(err, errlen, "TransNetV2 window of %d frames (1..%d)", nframes, VC_TNET_WINDOW);
        return -1;
    }
    if (nframes == VC_TNET_WINDOW)
        return vc_tnet_forward(m, frames, 1, single, many, err, errlen);
    /* Short windows are rare (a video's tail): the CPU backend runs them
     * whatever the device, so GPU backends need only full windows. */
    pthread_mutex_lock(&m->mu);
    int rc = forward_cpu(m, frames, 1, nframes, single, many, err, errlen);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

void vc_tnet_free(vc_tnet *m)
{
    if (!m)
        return;
    vc_tnet_cpu_free(m->cpu);
#ifdef VC_NN_HAVE_CUDA_LIB
    if (m->cuda)
        vc_tnet_cuda_free(m->cuda);
#endif
    for (size_t i = 0; i < m->nowned; i++)
        free(m->owned[i]);
    free(m->owned);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
