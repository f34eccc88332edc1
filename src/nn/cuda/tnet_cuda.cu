/* TransNetV2 on a CUDA GPU: our bf16x3 tensor-core convolutions
 * (tnet_kernels.cuh) for the conv stack, cuBLAS (fp32) for the head's
 * matrix products; or, in the bf16 precision mode, one bf16 pass per
 * convolution and a TF32 fc1. Layer order as in docs/peers.md §1.3. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cuda/cuda_check.cuh"
#include "nn/cuda/tnet_cuda.h"
#include "tnet_kernels.cuh"

using tnet::bf16;
using tnet::T;

/* Largest per-frame sizes (elements) over the three stacks. */
enum {
    FR_S = 1296 * 128,  /* spatial-conv output, 8F channels */
    FR_X1 = 1296 * 64,  /* DDCNN 0 output (the shortcut), 4F channels */
    FR_P0 = 13 * 24 * 64,
    FR_P1 = 6 * 12 * 128,
    FR_P2 = 3 * 6 * 256,
    FEAT = 4864,
};

struct vc_tnet_cuda {
    int dev, sms, maxw, fc_tf32, cfg_spatial, cfg_temporal, cfg_conv0;
    int wgmma;                        /* the kernels were built for sm_90a and this is such a GPU */
    int sub;                          /* windows of a batch's first part (VC_TNET_CUDA_SUB, SUB by default) */
    int prec;                         /* VC_TNET_CUDA_EXACT (bf16x3) or _BF16 (hi planes only) */
    int prof, nprof;                  /* VC_TNET_CUDA_PROFILE: per-stage times to stderr */
    cudaEvent_t pev[24];
    const char *pname[24];
    size_t plS, plX1, plP[3];         /* hi -> lo plane offsets of the activation buffers (see pl()) */
    const char *dump_dir;
    cudaStream_t st, up;              /* the network; frame uploads */
    cudaEvent_t uploaded;             /* the latest upload on up */
    cudaEvent_t ev[4];                /* around the network on each part of a batch, for vc_tnet_cuda_net_ms */
    float net_ms;
    cublasHandle_t blas;
    /* weights */
    float *w0;                        /* first spatial conv, fp32 [27][128], /255 folded in */
    uint2 *w0f;                       /* the same as bf16 hi, lo planes in mma B-fragment order [2][2][16][32] */
    bf16 *ws[3][2], *wt[3][2];         /* packed [N][taps][cin], hi plane then lo plane */
    bf16 *wsg[2][3][2];               /* ws as the wgmma kernel's B stages, [planes - 1]: hi only, or hi and lo */
    float *beta[3][2];
    float *proj_w, *proj_b, *sfc_w, *sfc_b, *hfc_w, *hfc_b, *fc1_w, *fc1_b, *cls_w, cls_b[2];
    /* activations, sized for maxw windows */
    uint8_t *frames;
    bf16 *S, *x1, *P[3];
    float *simin, *proj, *sim, *band, *hist, *feat, *hfc, *out, *hout;
};



extern "C" int vc_cuda_device_count(void)
{
    int n = 0;
    /* No driver (or no GPU) is an error here, not a crash: report none. */
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

/* ---- weights ----------------------------------------------------------- */

template <class X> static int upload(X **dst, const X *src, size_t n, char *err, size_t errlen)
{
    CU(cudaMalloc((void **)dst, n * sizeof(X)));
    CU(cudaMemcpy(*dst, src, n * sizeof(X), cudaMemcpyHostToDevice));
    return 0;
}

static float bf16_round(float x, uint16_t *bits)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    *bits = (uint16_t)(u >> 16);
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

/* n weights -> bf16 hi plane then lo plane (w - hi). */
static int upload_split(bf16 **dst, const float *w, size_t n, char *err, size_t errlen)
{
    uint16_t *h = (uint16_t *)malloc(2 * n * sizeof(uint16_t));
    if (!h) {
        vc_cuda_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) bf16_round(w[i] - bf16_round(w[i], &h[i]), &h[n + i]);
    int r = upload(dst, (bf16 *)h, 2 * n, err, errlen);
    free(h);
    return r;
}

static const int CIN[3][2] = {{3, 64}, {64, 128}, {128, 256}};

/* A spatial conv's packed weights ([N][9][cin]) as wg_spatial<PL>'s B stages:
 * per (N tile, chunk, tap) the stage's shared-memory image, k groups 0..7 =
 * the chunk's 8 hi groups (PL 1), or its 4 hi groups then 4 lo groups (PL 2). */
static int upload_wg(bf16 **dst, const float *pk, int N, int cin, int PL, char *err, size_t errlen)
{
    using namespace tnet;
    const int BK = WG_BK / PL, G = 8 / PL, K = 9 * cin, nst = N / WG_BN * (cin / BK) * 9;
    uint16_t *h = (uint16_t *)calloc((size_t)nst * WG_BSTAGE, sizeof(uint16_t)); /* pad rows stay 0 */
    if (!h) {
        vc_cuda_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (int nt = 0, st = 0; nt < N / WG_BN; nt++)
        for (int ch = 0; ch < cin / BK; ch++)
            for (int tap = 0; tap < 9; tap++, st++)
                for (int g = 0; g < 8; g++)
                    for (int n = 0; n < WG_BN; n++)
                        for (int e = 0; e < 8; e++) {
                            const float v = pk[(size_t)(nt * WG_BN + n) * K + tap * cin + ch * BK + g % G * 8 + e];
                            uint16_t *o = &h[(size_t)st * WG_BSTAGE + (g * WG_LDB + n) * 8 + e];
                            const float hi = bf16_round(v, o);
                            if (g >= G) bf16_round(v - hi, o); /* lo plane */
                        }
    int r = upload(dst, (bf16 *)h, (size_t)nst * WG_BSTAGE, err, errlen);
    free(h);
    return r;
}

/* Uploads one DDCNN: spatial as [n = branch*2F + o][tap][c], temporal as
 * [n = branch*F + f][tap][c < 2F], both row-major [N][K] GEMM operands. */
static int load_ddcnn(vc_tnet_cuda *c, int i, int j, const vc_tnet_ddcnn *d, float *pk, char *err, size_t errlen)
{
    const int F = 16 << i, cin = CIN[i][j], K = 9 * cin, K2 = 6 * F;
    if (d->cin != cin || d->f != F) {
        vc_cuda_seterr(err, errlen, "TransNetV2 params: SDDCNN.%d.DDCNN.%d has cin %d, F %d (want %d, %d)", i, j, d->cin,
               d->f, cin, F);
        return -1;
    }
    for (int b = 0; b < 4; b++)
        for (int o = 0; o < 2 * F; o++)
            for (int tap = 0; tap < 9; tap++)
                for (int ch = 0; ch < cin; ch++)
                    pk[(size_t)(b * 2 * F + o) * K + tap * cin + ch] = d->spatial[b][((size_t)o * cin + ch) * 9 + tap];
    if (i == 0 && j == 0) {
        float w0[27 * 128]; /* conv0 reads raw uint8: fp32 [tap*3+c][n], /255 */
        for (int n = 0; n < 128; n++)
            for (int k = 0; k < 27; k++) w0[k * 128 + n] = pk[(size_t)n * K + k] / 255.f;
        if (upload(&c->w0, w0, 27 * 128, err, errlen)) return -1;
        /* bf16 mode: B fragments of m16n8k16, K padded to 32: lane (g, t) of n-tile nt holds
         * n = nt*8 + g, k = ks*16 + r*8 + 2t (low half) and k + 1 (high half) in register r;
         * plane 0: hi = bf16(w), plane 1: lo = bf16(w - hi) */
        uint2 w0f[2 * 2 * 16 * 32];
        for (int q = 0; q < 4; q++) /* q = plane * 2 + ks */
            for (int nt = 0; nt < 16; nt++)
                for (int lane = 0; lane < 32; lane++) {
                    const int plane = q >> 1, ks = q & 1, n = nt * 8 + (lane >> 2);
                    uint32_t reg[2];
                    for (int r = 0; r < 2; r++) {
                        uint16_t b[2] = {0, 0};
                        for (int e = 0; e < 2; e++) {
                            const int k = ks * 16 + r * 8 + 2 * (lane & 3) + e;
                            if (k >= 27) continue;
                            const float hi = bf16_round(w0[k * 128 + n], &b[e]);
                            if (plane) bf16_round(w0[k * 128 + n] - hi, &b[e]);
                        }
                        reg[r] = (uint32_t)b[0] | (uint32_t)b[1] << 16;
                    }
                    w0f[(q * 16 + nt) * 32 + lane] = make_uint2(reg[0], reg[1]);
                }
        if (upload(&c->w0f, w0f, 2 * 2 * 16 * 32, err, errlen)) return -1;
    } else if (upload_split(&c->ws[i][j], pk, (size_t)8 * F * K, err, errlen) ||
               upload_wg(&c->wsg[0][i][j], pk, 8 * F, cin, 1, err, errlen) ||
               upload_wg(&c->wsg[1][i][j], pk, 8 * F, cin, 2, err, errlen)) {
        return -1;
    }
    for (int b = 0; b < 4; b++)
        for (int f = 0; f < F; f++)
            for (int tap = 0; tap < 3; tap++)
                for (int ch = 0; ch < 2 * F; ch++)
                    pk[(size_t)(b * F + f) * K2 + tap * 2 * F + ch] = d->temporal[b][((size_t)f * 2 * F + ch) * 3 + tap];
    if (upload_split(&c->wt[i][j], pk, (size_t)4 * F * K2, err, errlen)) return -1;
    return upload(&c->beta[i][j], d->bias, 4 * F, err, errlen);
}

static int load_weights(vc_tnet_cuda *c, const vc_tnet_params *p, char *err, size_t errlen)
{
    float *pk = (float *)malloc((size_t)512 * 9 * 256 * sizeof(float)); /* largest packed conv */
    if (!pk) {
        vc_cuda_seterr(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < 3 && !rc; i++)
        for (int j = 0; j < 2 && !rc; j++) rc = load_ddcnn(c, i, j, &p->ddcnn[i][j], pk, err, errlen);
    if (!rc) {
        memcpy(pk, p->cls1_w, 1024 * sizeof(float));
        memcpy(pk + 1024, p->cls2_w, 1024 * sizeof(float));
        rc = upload(&c->proj_w, p->sim_proj_w, 128 * 448, err, errlen) ||
             upload(&c->proj_b, p->sim_proj_b, 128, err, errlen) ||
             upload(&c->sfc_w, p->sim_fc_w, 128 * 101, err, errlen) ||
             upload(&c->sfc_b, p->sim_fc_b, 128, err, errlen) ||
             upload(&c->hfc_w, p->hist_fc_w, 128 * 101, err, errlen) ||
             upload(&c->hfc_b, p->hist_fc_b, 128, err, errlen) ||
             upload(&c->fc1_w, p->fc1_w, (size_t)1024 * FEAT, err, errlen) ||
             upload(&c->fc1_b, p->fc1_b, 1024, err, errlen) || upload(&c->cls_w, pk, 2048, err, errlen);
        c->cls_b[0] = p->cls1_b;
        c->cls_b[1] = p->cls2_b;
    }
    free(pk);
    return rc ? -1 : 0;
}

/* ---- launches ------------------------------------------------------------ */

/* A persistent grid: as many blocks as fit on the GPU at once, split over
 * the N tiles; each loops over M tiles. */
template <class K, class Op>
static cudaError_t launch_persistent(K k, const Op &op, int threads, int smem, int *per_sm, int tiles, int ny,
                                     vc_tnet_cuda *c)
{
    int &ps = per_sm[c->dev & 63]; /* per kernel and device: shared-memory opt-in, blocks per SM */
    if (!ps) {
        cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&ps, k, threads, smem);
        if (e != cudaSuccess) return e;
        if (ps < 1) ps = 1;
    }
    int nx = ps * c->sms / ny;
    nx = nx < 1 ? 1 : nx > tiles ? tiles : nx;
    k<<<dim3(nx, ny), threads, smem, c->st>>>(op);
    return cudaGetLastError();
}

template <int BM, int BN, int BK, int WM, int WN, int ST, int PL, class Op>
static cudaError_t launch(const Op &op, int m, int n, vc_tnet_cuda *c)
{
    using TL = tnet::Tile<BM, BN, BK, WM, WN, ST, PL>;
    static int per_sm[64];
    return launch_persistent(tnet::igemm<BM, BN, BK, WM, WN, ST, PL, Op>, op, TL::THREADS, TL::SMEM, per_sm,
                             (m + BM - 1) / BM, n / BN, c);
}

/* The lo-plane offset kernels get: 0 (none) in the bf16 mode. */
static size_t pl(const vc_tnet_cuda *c, size_t plane)
{
    return c->prec == VC_TNET_CUDA_BF16 ? 0 : plane;
}

/* The slab GEMM's launch: the same persistent grid over op.ntiles tiles. */
template <int BM, int BN, int BK, int WM, int WN, int ST, int PL, int SLAB, class Op>
static cudaError_t launch_slab(const Op &op, int n, vc_tnet_cuda *c)
{
    using TL = tnet::SlabTile<BM, BN, BK, WM, WN, ST, PL, SLAB>;
    static int per_sm[64];
    return launch_persistent(tnet::sgemm<BM, BN, BK, WM, WN, ST, PL, SLAB, Op>, op, TL::THREADS, TL::SMEM, per_sm,
                             op.ntiles, n / BN, c);
}

/* Spatial conv as a slab GEMM: tiles of BM / w whole image rows. */
template <int BM, int BN, int BK, int WM, int WN, int ST, int PL, int SLAB>
static cudaError_t spatial_slab(vc_tnet_cuda *c, int i, int j, const bf16 *in, size_t in_plane, int nf, int h, int w,
                                int hc)
{
    const int F = 16 << i, cin = CIN[i][j], rb = BM / w;
    if (BM % w || cin % BK || (8 * F) % BN || tnet::SpatialSlabOp::slab_max(rb, w, hc) > SLAB)
        return cudaErrorInvalidConfiguration;
    const int ntiles = (nf * hc + rb - 1) / rb;
    tnet::SpatialSlabOp op{in,   c->ws[i][j], c->S, pl(c, in_plane), (size_t)8 * F * 9 * cin, pl(c, c->plS),
                           cin,  8 * F,       h,    w,                hc,                       nf,
                           rb,   ntiles};
    return launch_slab<BM, BN, BK, WM, WN, ST, PL, SLAB>(op, 8 * F, c);
}

/* Spatial conv on wgmma (sm_90a): tiles of WG_BM extended-grid rows (tnet_kernels.cuh); PL planes. */
template <int PL>
static cudaError_t spatial_wg(vc_tnet_cuda *c, int i, int j, const bf16 *in, size_t in_plane, int nf, int h, int w,
                              int hc)
{
    const int F = 16 << i, cin = CIN[i][j];
    if (cin % (tnet::WG_BK / PL) || (8 * F) % tnet::WG_BN || tnet::WG_BM + 2 * (w + 2) > tnet::WG_SLAB)
        return cudaErrorInvalidConfiguration;
    const int ntiles = (nf * (h + 1) * (w + 1) + tnet::WG_BM - 1) / tnet::WG_BM;
    const tnet::WgSpatialOp op{in, c->wsg[PL - 1][i][j], c->S, pl(c, in_plane), pl(c, c->plS), cin, 8 * F, h, w, hc,
                               nf, ntiles};
    static int per_sm[64];
    return launch_persistent(tnet::wg_spatial<PL>, op, tnet::WG_THREADS, tnet::WG_SMEM, per_sm, ntiles,
                             8 * F / tnet::WG_BN, c);
}

static cudaError_t spatial(vc_tnet_cuda *c, int i, int j, const bf16 *in, size_t in_plane, int nf, int h, int w,
                           int hc)
{
    /* VC_TNET_CUDA_SPATIAL picks another variant, for tuning; 8: the igemm kernel (one A copy a tap) */
    if (c->cfg_spatial == 8) {
        const int F = 16 << i, cin = CIN[i][j];
        tnet::SpatialOp op{in, c->ws[i][j], c->S, pl(c, in_plane), (size_t)8 * F * 9 * cin, pl(c, c->plS), cin,
                           8 * F, h, w, hc, nf * hc * w};
        if (c->prec == VC_TNET_CUDA_BF16) return launch<256, 128, 64, 64, 64, 3, 1>(op, op.m, 8 * F, c);
        return launch<256, 128, 64, 64, 64, 2, 2>(op, op.m, 8 * F, c);
    }
    /* wgmma where built for sm_90a (tnet_kernels.cuh), in both modes */
    const bool bf = c->prec == VC_TNET_CUDA_BF16;
    if (c->wgmma && c->cfg_spatial == 0)
        return bf ? spatial_wg<1>(c, i, j, in, in_plane, nf, h, w, hc)
                  : spatial_wg<2>(c, i, j, in, in_plane, nf, h, w, hc);
    /* else (and as variant 4) the mma.sync slab. bf16: 192 rows (4 / 8 / 16 image rows) x 128, 8 warps of 48x64,
     * K step 64, 3 stages, the fastest of the mma.sync variants timed on an H200 (bench/nn/gpu/RESULTS-gpu.md:
     * 105.6k frames/s against 91.7k for K step 32 with 4 stages, 94.8k / 89.5k for 384x128 / 384x64); exact:
     * K step 32 (two planes fill the shared memory) */
    if (bf) switch (c->cfg_spatial) {
        case 1: return spatial_slab<192, 128, 32, 48, 64, 4, 1, 400>(c, i, j, in, in_plane, nf, h, w, hc);
        /* 384 rows: half the weight traffic per output */
        case 2: return spatial_slab<384, 128, 32, 48, 64, 4, 1, 644>(c, i, j, in, in_plane, nf, h, w, hc);
        case 3: return spatial_slab<384, 64, 32, 48, 64, 4, 1, 644>(c, i, j, in, in_plane, nf, h, w, hc);
        default: return spatial_slab<192, 128, 64, 48, 64, 3, 1, 400>(c, i, j, in, in_plane, nf, h, w, hc);
        }
    switch (c->cfg_spatial) {
    case 1: return spatial_slab<384, 64, 32, 48, 64, 2, 2, 644>(c, i, j, in, in_plane, nf, h, w, hc);
    default: return spatial_slab<192, 128, 32, 48, 64, 3, 2, 400>(c, i, j, in, in_plane, nf, h, w, hc);
    }
}

/* Temporal conv as a slab GEMM: tiles of TT frames x PP pixels, one branch a grid row. */
template <int F, bool POOL, int TT, int PP, int ST, int PL>
static cudaError_t temporal_slab(vc_tnet_cuda *c, int i, int j, bf16 *out, size_t out_plane, int nf, int h, int w)
{
    constexpr int BM = TT * PP, SLAB = (TT + 2 * 8) * PP; /* the largest dilation is 8 */
    const int npix = POOL ? (h / 2) * (w / 2) * 4 : h * w;
    if (T % TT || npix % PP || nf % TT) return cudaErrorInvalidConfiguration;
    tnet::TemporalSlabOp<POOL, TT, PP> op{c->S,          c->wt[i][j], out,       pl(c, c->plS), (size_t)4 * F * 6 * F,
                                          pl(c, out_plane), c->beta[i][j], c->x1, pl(c, c->plX1), 2 * F,
                                          h,              w,           npix / PP, (nf / TT) * (npix / PP)};
    return launch_slab<BM, F, 32, 32, F, ST, PL, SLAB>(op, 4 * F, c);
}

template <int F, bool POOL>
static cudaError_t temporal(vc_tnet_cuda *c, int i, int j, bf16 *out, size_t out_plane, int nf, int h, int w)
{
    /* exact: the slab's two planes (133 KB of shared memory at F = 64) leave one 5-warp block an SM; it
     * was slower than the igemm except for the F <= 32 convs without pooling (RESULTS-gpu.md) */
    const bool use_igemm = c->cfg_temporal == 8 ||
                       (c->prec != VC_TNET_CUDA_BF16 && c->cfg_temporal == 0 && (POOL || F > 32));
    if (use_igemm) { /* the igemm kernel (one A copy a tap) */
        int m = POOL ? nf * (h / 2) * (w / 2) * 4 : nf * h * w;
        tnet::TemporalOp<POOL> op{c->S,          c->wt[i][j], out,   pl(c, c->plS), (size_t)4 * F * 6 * F,
                                  pl(c, out_plane), c->beta[i][j], c->x1, pl(c, c->plX1), 2 * F,
                                  h,              w,           m};
        if (c->prec == VC_TNET_CUDA_BF16) return launch<128, F, 32, 32, F, 2, 1>(op, m, 4 * F, c);
        return launch<128, F, 32, 32, F, 2, 2>(op, m, 4 * F, c);
    }
    /* VC_TNET_CUDA_TEMPORAL, for tuning (exact: 1 puts every temporal conv on the slab kernel). 20 frames
     * x 8 pixels: the slab is 1.1x (d = 1) to 1.8x (d = 8) the tile's rows, against 3x for the igemm */
    if (c->prec == VC_TNET_CUDA_BF16) switch (c->cfg_temporal) {
        case 1: return temporal_slab<F, POOL, 20, 8, 3, 1>(c, i, j, out, out_plane, nf, h, w);
        default: return temporal_slab<F, POOL, 20, 8, 4, 1>(c, i, j, out, out_plane, nf, h, w);
        }
    return temporal_slab<F, POOL, 20, 8, 4, 2>(c, i, j, out, out_plane, nf, h, w);
}

/* Row-major C[m][n] (ldc) = A[m][k] (lda) * B[n][k]^T: cuBLAS sees the
 * column-major transposes. */
static int gemm_rm(vc_tnet_cuda *c, const float *A, int lda, const float *B, float *C, int ldc, int m, int n, int k,
                   bool tf32, char *err, size_t errlen)
{
    const float one = 1.f, zero = 0.f;
    CB(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &one, B, CUDA_R_32F, k, A, CUDA_R_32F, lda, &zero, C,
                    CUDA_R_32F, ldc, tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return 0;
}

/* [T][T] cosine similarities of each window's rows of X ([frames][dim]),
 * then the 101-wide band around the diagonal. */
static int sim_band(vc_tnet_cuda *c, const float *X, int dim, int nw, char *err, size_t errlen)
{
    const float one = 1.f, zero = 0.f;
    CB(cublasSgemmStridedBatched(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, T, T, dim, &one, X, dim, (long long)T * dim, X,
                                 dim, (long long)T * dim, &zero, c->sim, T, (long long)T * T, nw));
    tnet::sim_band<<<nw * T, 128, 0, c->st>>>(c->sim, c->band);
    CU(cudaGetLastError());
    return 0;
}

/* Debugging aid (VC_TNET_CUDA_DUMP=dir): window 0 of a stage as float32, for
 * bench/nn/gpu to diff against the PyTorch model. bf: a bf16 tensor, with
 * its lo plane at p + plane (plane 0: none), else float32. */
static int dump(vc_tnet_cuda *c, const char *name, const void *p, bool bf, size_t plane, size_t n, char *err,
                size_t errlen)
{
    if (!c->dump_dir) return 0;
    CU(cudaStreamSynchronize(c->st));
    float *h = (float *)malloc(n * sizeof(float));
    uint16_t *raw = (uint16_t *)calloc(2 * n, sizeof(uint16_t));
    int rc = !h || !raw;
    if (!rc && bf) {
        rc = cudaMemcpy(raw, p, n * 2, cudaMemcpyDeviceToHost) != cudaSuccess ||
             (plane && cudaMemcpy(raw + n, (const bf16 *)p + plane, n * 2, cudaMemcpyDeviceToHost) != cudaSuccess);
        for (size_t i = 0; i < n && !rc; i++) {
            uint32_t a = (uint32_t)raw[i] << 16, b = (uint32_t)raw[n + i] << 16;
            float fa, fb;
            memcpy(&fa, &a, 4);
            memcpy(&fb, &b, 4);
            h[i] = fa + fb;
        }
    } else if (!rc) {
        rc = cudaMemcpy(h, p, n * 4, cudaMemcpyDeviceToHost) != cudaSuccess;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.f32", c->dump_dir, name);
    FILE *f = rc ? NULL : fopen(path, "wb");
    if (!f || fwrite(h, sizeof(float), n, f) != n) rc = -1;
    if (f && fclose(f)) rc = -1;
    free(h);
    free(raw);
    if (rc) vc_cuda_seterr(err, errlen, "dump %s failed", path);
    return rc ? -1 : 0;
}

#define CK(expr)                                                                                       \
    do {                                                                                               \
        cudaError_t e_ = (expr);                                                                       \
        if (e_ != cudaSuccess) {                                                                       \
            vc_cuda_seterr(err, errlen, "CUDA: %s: %s", #expr, cudaGetErrorString(e_));                         \
            return -1;                                                                                 \
        }                                                                                              \
    } while (0)
#define DUMP(name, p, plane, n) \
    if (dump(c, name, p, (plane) != 0, pl(c, plane), n, err, errlen)) return -1
/* VC_TNET_CUDA_PROFILE: an event after each stage */
#define MARK(name)                                                        \
    if (c->prof && c->nprof < 24) {                                        \
        if (!c->pev[c->nprof]) CK(cudaEventCreate(&c->pev[c->nprof]));      \
        c->pname[c->nprof] = name;                                         \
        CK(cudaEventRecord(c->pev[c->nprof++], c->st));                    \
    }

/* The whole network on nw windows of frames fr (on the device). */
static int run_net(vc_tnet_cuda *c, const uint8_t *fr, int nw, char *err, size_t errlen)
{
    const int nf = nw * T;
    static const int HS[3] = {27, 13, 6}, WS[3] = {48, 24, 12};
    static const char *NAMES[3][4] = {{"s0_S0", "s0_x1", "s0_S1", "s0_P"},
                                      {"s1_S0", "s1_x1", "s1_S1", "s1_P"},
                                      {"s2_S0", "s2_x1", "s2_S1", "s2_P"}};
    c->nprof = 0;
    MARK("start");
    if (c->cfg_conv0 != 1) { /* VC_TNET_CUDA_CONV0=1: the fp32 conv0 */
        const int tiles = (nf * 1296 + 15) / 16, blocks = (tiles + 4 * tnet::C0_WARPS - 1) / (4 * tnet::C0_WARPS);
        auto k = c->prec == VC_TNET_CUDA_BF16 ? tnet::conv0_tc<1> : tnet::conv0_tc<2>;
        k<<<blocks, tnet::C0_WARPS * 32, 0, c->st>>>(fr, c->w0f, c->S, pl(c, c->plS), nf * 1296); /* 4 tiles a warp */
    } else {
        tnet::conv0<<<(nf * 1296 + 63) / 64, 256, 0, c->st>>>(fr, c->w0, c->S, pl(c, c->plS), nf * 1296);
    }
    CK(cudaGetLastError());
    for (int i = 0; i < 3; i++) {
        const int h = HS[i], w = WS[i], F = 16 << i;
        if (i) CK(spatial(c, i, 0, c->P[i - 1], c->plP[i - 1], nf, h, w, h));
        MARK(NAMES[i][0]);
        DUMP(NAMES[i][0], c->S, c->plS, (size_t)T * h * w * 8 * F);
        if (i == 0) CK((temporal<16, false>(c, 0, 0, c->x1, c->plX1, nf, h, w)));
        if (i == 1) CK((temporal<32, false>(c, 1, 0, c->x1, c->plX1, nf, h, w)));
        if (i == 2) CK((temporal<64, false>(c, 2, 0, c->x1, c->plX1, nf, h, w)));
        MARK(NAMES[i][1]);
        DUMP(NAMES[i][1], c->x1, c->plX1, (size_t)T * h * w * 4 * F);
        CK(spatial(c, i, 1, c->x1, c->plX1, nf, h, w, h & ~1));
        MARK(NAMES[i][2]);
        DUMP(NAMES[i][2], c->S, c->plS, (size_t)T * h * w * 8 * F);
        if (i == 0) CK((temporal<16, true>(c, 0, 1, c->P[0], c->plP[0], nf, h, w)));
        if (i == 1) CK((temporal<32, true>(c, 1, 1, c->P[1], c->plP[1], nf, h, w)));
        if (i == 2) CK((temporal<64, true>(c, 2, 1, c->P[2], c->plP[2], nf, h, w)));
        MARK(NAMES[i][3]);
        DUMP(NAMES[i][3], c->P[i], c->plP[i], (size_t)T * (h / 2) * (w / 2) * 4 * F);
    }
    /* FrameSimilarity */
    tnet::stack_means<<<nf, 448, 0, c->st>>>(c->P[0], c->P[1], c->P[2], pl(c, c->plP[0]), pl(c, c->plP[1]),
                                             pl(c, c->plP[2]), c->simin);
    CK(cudaGetLastError());
    if (gemm_rm(c, c->simin, 448, c->proj_w, c->proj, 128, nf, 128, 448, false, err, errlen)) return -1;
    tnet::bias_l2norm<<<nf, 128, 0, c->st>>>(c->proj, c->proj_b, 128);
    CK(cudaGetLastError());
    if (sim_band(c, c->proj, 128, nw, err, errlen)) return -1;
    if (gemm_rm(c, c->band, 101, c->sfc_w, c->feat + 128, FEAT, nf, 128, 101, false, err, errlen)) return -1;
    /* ColorHistograms */
    tnet::color_hist<<<nf, 256, 0, c->st>>>(fr, c->hist);
    CK(cudaGetLastError());
    if (sim_band(c, c->hist, 512, nw, err, errlen)) return -1;
    if (gemm_rm(c, c->band, 101, c->hfc_w, c->feat, FEAT, nf, 128, 101, false, err, errlen)) return -1;
    tnet::finish_feat<<<nf, 256, 0, c->st>>>(c->feat, c->hfc_b, c->sfc_b, c->P[2], pl(c, c->plP[2]));
    CK(cudaGetLastError());
    MARK("sim+hist");
    DUMP("simin", c->simin, 0, (size_t)T * 448);
    DUMP("feat", c->feat, 0, (size_t)T * FEAT);
    /* fc1: fp32 (TF32 alone is ~1e-3 off with the reference's weights); TF32 in the bf16 mode */
    if (gemm_rm(c, c->feat, FEAT, c->fc1_w, c->hfc, 1024, nf, 1024, FEAT, c->fc_tf32 || c->prec == VC_TNET_CUDA_BF16,
                err, errlen))
        return -1;
    tnet::heads<<<nf, 256, 0, c->st>>>(c->hfc, c->fc1_b, c->cls_w, c->cls_b[0], c->cls_b[1], c->out);
    CK(cudaGetLastError());
    MARK("fc1+heads");
    DUMP("hfc", c->hfc, 0, (size_t)T * 1024);
    return 0;
}

/* ---- API ----------------------------------------------------------------- */

/* A batch of up to maxw windows runs in two parts, its first SUB windows and
 * the rest: the upload of the rest (stream up) overlaps the network on the
 * first part (stream st), so only SUB windows' upload is waited for. The
 * network on 32 windows is about as fast as on 128 (RESULTS-gpu.md). */
enum { SUB = 32 };


extern "C" vc_tnet_cuda *vc_tnet_cuda_new(const vc_tnet_params *p, int device, int max_windows, char *err,
                                          size_t errlen)
{
    int n = vc_cuda_device_count();
    if (n <= 0) {
        vc_cuda_seterr(err, errlen, "no CUDA device available (driver missing or no GPU)");
        return NULL;
    }
    if (device < 0 || device >= n) {
        vc_cuda_seterr(err, errlen, "CUDA device %d does not exist (%d found)", device, n);
        return NULL;
    }
    if (max_windows < 1) max_windows = 1;
    vc_tnet_cuda *c = (vc_tnet_cuda *)calloc(1, sizeof *c);
    if (!c) {
        vc_cuda_seterr(err, errlen, "out of memory");
        return NULL;
    }
    c->dev = device;
    c->maxw = max_windows;
    const char *fc = getenv("VC_TNET_CUDA_FC"); /* "tf32": faster, less exact fc1 */
    c->fc_tf32 = fc && !strcmp(fc, "tf32");
    c->dump_dir = getenv("VC_TNET_CUDA_DUMP");
    c->cfg_spatial = getenv("VC_TNET_CUDA_SPATIAL") ? atoi(getenv("VC_TNET_CUDA_SPATIAL")) : 0;
    c->cfg_temporal = getenv("VC_TNET_CUDA_TEMPORAL") ? atoi(getenv("VC_TNET_CUDA_TEMPORAL")) : 0;
    c->cfg_conv0 = getenv("VC_TNET_CUDA_CONV0") ? atoi(getenv("VC_TNET_CUDA_CONV0")) : 0;
    c->prof = getenv("VC_TNET_CUDA_PROFILE") != NULL;
    c->sub = getenv("VC_TNET_CUDA_SUB") ? atoi(getenv("VC_TNET_CUDA_SUB")) : SUB;
    if (c->sub < 1) c->sub = SUB;
    if (c->dump_dir && !*c->dump_dir) c->dump_dir = NULL;
    const size_t nf = (size_t)max_windows * T;
    c->plS = nf * FR_S;
    c->plX1 = nf * FR_X1;
    c->plP[0] = nf * FR_P0;
    c->plP[1] = nf * FR_P1;
    c->plP[2] = nf * FR_P2;
    int ok = 0;
    do {
        if (cudaSetDevice(device) != cudaSuccess ||
            cudaDeviceGetAttribute(&c->sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
            cudaStreamCreateWithFlags(&c->st, cudaStreamNonBlocking) ||
            cudaStreamCreateWithFlags(&c->up, cudaStreamNonBlocking) ||
            cudaEventCreateWithFlags(&c->uploaded, cudaEventDisableTiming) || cudaEventCreate(&c->ev[0]) ||
            cudaEventCreate(&c->ev[1]) || cudaEventCreate(&c->ev[2]) || cudaEventCreate(&c->ev[3]))
            break;
        if (cublasCreate(&c->blas) != CUBLAS_STATUS_SUCCESS) c->blas = NULL;
        if (!c->blas || cublasSetStream(c->blas, c->st) != CUBLAS_STATUS_SUCCESS) {
            vc_cuda_seterr(err, errlen, "cuBLAS initialisation failed");
            vc_tnet_cuda_free(c);
            return NULL;
        }
        if (load_weights(c, p, err, errlen)) {
            vc_tnet_cuda_free(c);
            return NULL;
        }
        /* bf16 tensors: hi plane then lo plane, 4 bytes an element */
        if (cudaMalloc((void **)&c->frames, nf * VC_TNET_FRAME_BYTES) || cudaMalloc((void **)&c->S, nf * FR_S * 4) ||
            cudaMalloc((void **)&c->x1, nf * FR_X1 * 4) || cudaMalloc((void **)&c->P[0], nf * FR_P0 * 4) ||
            cudaMalloc((void **)&c->P[1], nf * FR_P1 * 4) || cudaMalloc((void **)&c->P[2], nf * FR_P2 * 4) ||
            cudaMalloc((void **)&c->simin, nf * 448 * 4) || cudaMalloc((void **)&c->proj, nf * 128 * 4) ||
            cudaMalloc((void **)&c->sim, nf * T * 4) || cudaMalloc((void **)&c->band, nf * 101 * 4) ||
            cudaMalloc((void **)&c->hist, nf * 512 * 4) || cudaMalloc((void **)&c->feat, nf * FEAT * 4) ||
            cudaMalloc((void **)&c->hfc, nf * 1024 * 4) || cudaMalloc((void **)&c->out, nf * 2 * 4) ||
            cudaMallocHost((void **)&c->hout, nf * 2 * 4))
            break;
        int probe = 0;
        tnet::wg_probe<<<1, 1, 0, c->st>>>((int *)c->out);
        if (cudaGetLastError() || cudaMemcpyAsync(&probe, c->out, sizeof probe, cudaMemcpyDeviceToHost, c->st) ||
            cudaStreamSynchronize(c->st))
            break;
        c->wgmma = probe;
        ok = 1;
    } while (0);
    if (!ok) {
        cudaError_t e = cudaGetLastError();
        vc_cuda_seterr(err, errlen, "CUDA setup on device %d failed (%d windows): %s", device, max_windows,
               cudaGetErrorString(e));
        vc_tnet_cuda_free(c);
        return NULL;
    }
    return c;
}

static int print_profile(vc_tnet_cuda *c, char *err, size_t errlen)
{
    float ms;
    CU(cudaStreamSynchronize(c->st));
    for (int i = 1; i < c->nprof; i++) {
        CU(cudaEventElapsedTime(&ms, c->pev[i - 1], c->pev[i]));
        fprintf(stderr, "%s%s %.3f ms%s", i == 1 ? "profile: " : "", c->pname[i], ms, i + 1 < c->nprof ? ", " : "\n");
    }
    return 0;
}

extern "C" int vc_tnet_cuda_forward(vc_tnet_cuda *c, const uint8_t *frames, int nwin, float *single, float *many,
                                    char *err, size_t errlen)
{
    CU(cudaSetDevice(c->dev));
    c->net_ms = 0;
    for (int w0 = 0; w0 < nwin; w0 += c->maxw) {
        const int nw = nwin - w0 < c->maxw ? nwin - w0 : c->maxw, nf = nw * T;
        int ns = 0;
        for (int s0 = 0, sw; s0 < nw; s0 += sw, ns++) {
            sw = s0 ? nw - s0 : nw < c->sub ? nw : c->sub;
            const size_t off = (size_t)s0 * T * VC_TNET_FRAME_BYTES;
            /* pageable source: the copy returns once staged, while st computes the first part */
            CU(cudaMemcpyAsync(c->frames + off, frames + (size_t)w0 * T * VC_TNET_FRAME_BYTES + off,
                               (size_t)sw * T * VC_TNET_FRAME_BYTES, cudaMemcpyHostToDevice, c->up));
            CU(cudaEventRecord(c->uploaded, c->up));
            CU(cudaStreamWaitEvent(c->st, c->uploaded, 0));
            if (c->dump_dir) {
                /* poison: anything a kernel forgets to write shows up as NaN */
                CU(cudaMemsetAsync(c->S, 0xff, c->plS * 4, c->st));
                CU(cudaMemsetAsync(c->x1, 0xff, c->plX1 * 4, c->st));
                for (int i = 0; i < 3; i++) CU(cudaMemsetAsync(c->P[i], 0xff, c->plP[i] * 4, c->st));
            }
            CU(cudaEventRecord(c->ev[2 * ns], c->st));
            if (run_net(c, c->frames + off, sw, err, errlen)) return -1;
            CU(cudaEventRecord(c->ev[2 * ns + 1], c->st));
            CU(cudaMemcpyAsync(c->hout + (size_t)s0 * T * 2, c->out, (size_t)sw * T * 2 * 4, cudaMemcpyDeviceToHost,
                               c->st));
            if (c->prof && print_profile(c, err, errlen)) return -1;
        }
        CU(cudaStreamSynchronize(c->st));
        for (int i = 0; i < ns; i++) {
            float ms = 0;
            CU(cudaEventElapsedTime(&ms, c->ev[2 * i], c->ev[2 * i + 1]));
            c->net_ms += ms;
        }
        for (int i = 0; i < nf; i++) {
            single[(size_t)w0 * T + i] = c->hout[2 * i];
            if (many) many[(size_t)w0 * T + i] = c->hout[2 * i + 1];
        }
    }
    return 0;
}

extern "C" int vc_tnet_cuda_set_precision(vc_tnet_cuda *c, int precision)
{
    if (!c || (precision != VC_TNET_CUDA_EXACT && precision != VC_TNET_CUDA_BF16)) return -1;
    c->prec = precision; /* every kernel reads or writes lo planes by pl(): nothing stale survives a switch */
    return 0;
}

extern "C" float vc_tnet_cuda_net_ms(const vc_tnet_cuda *c)
{
    return c ? c->net_ms : 0.f;
}

extern "C" void vc_tnet_cuda_free(vc_tnet_cuda *c)
{
    if (!c) return;
    cudaSetDevice(c->dev);
    if (c->st) cudaStreamSynchronize(c->st);
    void *bufs[] = {c->w0,     c->w0f,    c->proj_w, c->proj_b, c->sfc_w, c->sfc_b, c->hfc_w, c->hfc_b, c->fc1_w,
                    c->fc1_b,  c->cls_w,  c->frames, c->S,     c->x1,    c->P[0],  c->P[1],  c->P[2],
                    c->simin,  c->proj,   c->sim,    c->band,  c->hist,  c->feat,  c->hfc,   c->out};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) cudaFree(bufs[i]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            cudaFree(c->ws[i][j]);
            cudaFree(c->wsg[0][i][j]);
            cudaFree(c->wsg[1][i][j]);
            cudaFree(c->wt[i][j]);
            cudaFree(c->beta[i][j]);
        }
    cudaFreeHost(c->hout);
    if (c->blas) cublasDestroy(c->blas);
    for (int i = 0; i < 4; i++)
        if (c->ev[i]) cudaEventDestroy(c->ev[i]);
    if (c->uploaded) cudaEventDestroy(c->uploaded);
    if (c->up) cudaStreamDestroy(c->up);
    for (int i = 0; i < 24; i++)
        if (c->pev[i]) cudaEventDestroy(c->pev[i]);
    if (c->st) cudaStreamDestroy(c->st);
    free(c);
}
