/* TransNetV2 device kernels (included once, by tnet_cuda.cu).
 *
 * Precision: by default ("exact") the conv stack runs on bf16 tensor cores
 * as "bf16x3": every activation and weight is kept as two bf16 planes,
 * hi = bf16(v) and lo = bf16(v - hi) (16 mantissa bits, fp32 range), and
 * each product is a_hi*b_hi + a_hi*b_lo + a_lo*b_hi with fp32 accumulation.
 * A single bf16, fp16 or TF32 pass (10 bits at best) puts the probabilities
 * ~3e-3 off the fp32 model with the reference's random weights
 * (bench/nn/gpu/README.md); bf16x3 stays within ~5e-5.
 * The "bf16" mode (PL = 1 below) uses the hi planes alone: one product, as
 * PyTorch's bf16 autocast does. A plane offset of 0 means "no lo plane": the
 * lo plane is then neither written nor read.
 *
 * Layout: channels-last ([frame][y][x][c]). The convolutions are implicit
 * GEMMs (mma.sync m16n8k16; wgmma for the spatial convs on
 * sm_90a): no im2col buffer, zero padding comes from cp.async's zero fill.
 * The head (frame similarity, histograms) is fp32. */
#include <cuda_bf16.h>
#include <stdint.h>

namespace tnet {

constexpr int T = 100;            /* frames per window */
constexpr int H0 = 27, W0 = 48;   /* input frame */
typedef __nv_bfloat16 bf16;

/* (hi, lo) of (v0, v1) as bf16x2 words. */
__device__ __forceinline__ void split_bf16x2(float v0, float v1, uint32_t &hi, uint32_t &lo)
{
    __nv_bfloat162 h = __floats2bfloat162_rn(v0, v1);
    const float2 hf = __bfloat1622float2(h);
    __nv_bfloat162 l = __floats2bfloat162_rn(v0 - hf.x, v1 - hf.y);
    hi = *reinterpret_cast<uint32_t *>(&h);
    lo = *reinterpret_cast<uint32_t *>(&l);
}
/* v -> (hi, lo) at p and p + plane, two values at a time (plane 0: hi only). */
__device__ __forceinline__ void store_split(bf16 *p, size_t plane, float v0, float v1)
{
    uint32_t hi, lo;
    split_bf16x2(v0, v1, hi, lo);
    *reinterpret_cast<uint32_t *>(p) = hi;
    if (plane) *reinterpret_cast<uint32_t *>(p + plane) = lo;
}
__device__ __forceinline__ float2 load_split(const bf16 *p, size_t plane)
{
    float2 h = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(p));
    if (!plane) return h;
    float2 l = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(p + plane));
    return make_float2(h.x + l.x, h.y + l.y);
}
__device__ __forceinline__ float load_split1(const bf16 *p, size_t plane)
{
    return __bfloat162float(p[0]) + (plane ? __bfloat162float(p[plane]) : 0.f);
}

/* ---- PTX helpers ------------------------------------------------------ */

__device__ __forceinline__ uint32_t smem_u32(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}
/* 16-byte async copy; src_bytes 0 writes zeros (implicit conv padding). */
__device__ __forceinline__ void cp_async16(void *dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src),
                 "r"(src_bytes)
                 : "memory");
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p))
                 : "memory");
}
/* D = A(16x16, row) * B(16x8, col) + D, bf16 in, fp32 accumulate. */
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], const uint32_t b[2])
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/* A B tile (BN weight rows of BK values from w + off, rows K apart; the lo
 * plane w_plane further on when PL == 2) into shared memory, 16 bytes a copy. */
template <int BN, int BK, int LDS, int NT, int PL>
__device__ __forceinline__ void load_b(bf16 *b, const bf16 *w, size_t w_plane, size_t off, int K, int tid)
{
    constexpr int CPR = BK / 8, B_PER = (BN * CPR + NT - 1) / NT;
#pragma unroll
    for (int i = 0; i < B_PER; i++) {
        int idx = tid + i * NT;
        if (idx < BN * CPR) {
            int r = idx / CPR, ch = idx % CPR;
            const bf16 *s = w + off + (size_t)r * K + ch * 8;
            cp_async16(b + r * LDS + ch * 8, s, 16);
            if constexpr (PL == 2) cp_async16(b + (BN + r) * LDS + ch * 8, s + w_plane, 16);
        }
    }
}

template <int MT, int NT8> __device__ __forceinline__ void zero_acc(float (&acc)[MT][NT8][4])
{
#pragma unroll
    for (int x = 0; x < MT; x++)
#pragma unroll
        for (int y = 0; y < NT8; y++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[x][y][e] = 0.f;
}

/* One k16 step of a warp's tile: B fragments two n-tiles at a time (so few
 * are live at once) against the A fragments af; with PL == 2 (bf16x3) the
 * hi/lo planes give three products per value, small terms first. Shared by
 * the im2col and the slab GEMM kernels. */
template <int PL, int MT, int NT8, int BN, int LDS>
__device__ __forceinline__ void mma_k16(float (&acc)[MT][NT8][4], const uint32_t (&af)[PL][MT][4],
                                        const bf16 *b, int kk, int lane)
{
#pragma unroll
    for (int nt = 0; nt < NT8; nt += 2) {
        uint32_t bh[4];
        const bf16 *bp = b + (nt * 8 + ((lane >> 4) << 3) + (lane & 7)) * LDS + kk + ((lane >> 3) & 1) * 8;
        ldsm_x4(bh, bp);
        if constexpr (PL == 2) {
            uint32_t bl[4];
            ldsm_x4(bl, bp + BN * LDS);
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int u = 0; u < 2; u++) {
                    mma16816(acc[mt][nt + u], af[1][mt], bh + 2 * u);
                    mma16816(acc[mt][nt + u], af[0][mt], bl + 2 * u);
                    mma16816(acc[mt][nt + u], af[0][mt], bh + 2 * u);
                }
        } else {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int u = 0; u < 2; u++) mma16816(acc[mt][nt + u], af[0][mt], bh + 2 * u);
        }
    }
}

/* ---- implicit GEMM ----------------------------------------------------
 * out[m][n] = epilogue(sum_k A(m,k) * Wt[n][k]), k = tap * ck + c. PL = 2:
 * A and Wt split in hi/lo planes, bf16x3 products; PL = 1: hi planes only,
 * one bf16 product. The Op supplies, per output row m, the source pixel
 * of each tap (or none: padding), and the epilogue. Block tile BM x BN, K
 * step BK, warp tile WM x WN, STAGES-deep cp.async pipeline. */
template <int BM, int BN, int BK, int WM, int WN, int STAGES, int PL>
struct Tile {
    static_assert(PL == 1 || PL == 2, "planes: 1 (bf16) or 2 (bf16x3)");
    static constexpr int NWM = BM / WM, NWN = BN / WN;
    static constexpr int THREADS = NWM * NWN * 32;
    static constexpr int LDS = BK + 8; /* row pad: the 8 rows an ldmatrix reads hit distinct banks */
    static constexpr int SMEM = STAGES * PL * (BM + BN) * LDS * 2;
};

template <int BM, int BN, int BK, int WM, int WN, int STAGES, int PL, class Op>
__global__ void __launch_bounds__(Tile<BM, BN, BK, WM, WN, STAGES, PL>::THREADS)
igemm(const Op op)
{
    using TL = Tile<BM, BN, BK, WM, WN, STAGES, PL>;
    constexpr int LDS = TL::LDS, NT = TL::THREADS;
    constexpr int MT = WM / 16, NT8 = WN / 8;
    constexpr int CPR = BK / 8; /* 16-byte chunks per tile row */
    constexpr int A_PER = (BM * CPR + NT - 1) / NT;
    static_assert(NT8 % 2 == 0, "B fragments are loaded two n-tiles at a time");

    /* stage s: A hi[, A lo] ([BM][LDS] each), then B hi[, B lo] ([BN][LDS]) */
    extern __shared__ uint4 smem_raw[];
    bf16 *sA = reinterpret_cast<bf16 *>(smem_raw);
    bf16 *sB = sA + STAGES * PL * BM * LDS;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / TL::NWN, wn = warp % TL::NWN;
    const int n0 = blockIdx.y * BN;
    const int K = Op::TAPS * op.ck;
    const int ck_steps = op.ck / BK;
    const int kiters = Op::TAPS * ck_steps;
    /* Persistent: block x does M tiles x, x + gridDim.x, ...; the pipeline runs
     * on across tiles, so a tile's loads overlap the previous tile's math. */
    const int ntiles = (op.m + BM - 1) / BM;
    const int mytiles = ntiles > (int)blockIdx.x ? (ntiles - blockIdx.x + gridDim.x - 1) / gridDim.x : 0;
    const int total = mytiles * kiters;

    /* Each thread copies the same tile rows at every K step of a tile: resolve them once a tile. */
    typename Op::Row rows[A_PER];
    int rows_tile = -1;

    auto load = [&](int stage, int it) {
        const int tl = it / kiters, kit = it - tl * kiters;
        if (tl != rows_tile) {
            const int m0 = (blockIdx.x + tl * gridDim.x) * BM;
#pragma unroll
            for (int i = 0; i < A_PER; i++) {
                int idx = tid + i * NT;
                rows[i] = op.row(idx < BM * CPR ? m0 + idx / CPR : -1);
            }
            rows_tile = tl;
        }
        const int tap = kit / ck_steps, c0 = (kit - tap * ck_steps) * BK;
        bf16 *a = sA + stage * PL * BM * LDS, *b = sB + stage * PL * BN * LDS;
#pragma unroll
        for (int i = 0; i < A_PER; i++) {
            int idx = tid + i * NT;
            if (idx < BM * CPR) {
                int r = idx / CPR, ch = idx % CPR;
                const bf16 *src = op.a_src(rows[i], tap);
                const bf16 *s = src ? src + c0 + ch * 8 : op.wt;
                cp_async16(a + r * LDS + ch * 8, s, src ? 16 : 0);
                if constexpr (PL == 2)
                    cp_async16(a + (BM + r) * LDS + ch * 8, s + (src ? op.in_plane : 0), src ? 16 : 0);
            }
        }
        load_b<BN, BK, LDS, NT, PL>(b, op.wt, op.w_plane, (size_t)n0 * K + tap * op.ck + c0, K, tid);
    };

    float acc[MT][NT8][4];
    zero_acc(acc);

#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < total) load(s, s);
        cp_commit();
    }
    for (int it = 0; it < total; it++) {
        cp_wait<STAGES - 2>();
        __syncthreads(); /* stage it landed for all; stage it-1 is free */
        {
            int nk = it + STAGES - 1;
            if (nk < total) load(nk % STAGES, nk);
            cp_commit();
        }
        const bf16 *a = sA + (it % STAGES) * PL * BM * LDS + (wm * WM) * LDS;
        const bf16 *b = sB + (it % STAGES) * PL * BN * LDS + (wn * WN) * LDS;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            uint32_t af[PL][MT][4];
#pragma unroll
            for (int pl = 0; pl < PL; pl++)
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
                    ldsm_x4(af[pl][mt], a + (pl * BM + mt * 16 + (lane & 15)) * LDS + kk + (lane >> 4) * 8);
            mma_k16<PL, MT, NT8, BN, LDS>(acc, af, b, kk, lane);
        }
        if ((it + 1) % kiters == 0) {
            /* tile done. Accumulator layout of m16n8: rows g, g+8, columns 2t, 2t+1. */
            const int m0 = (blockIdx.x + (it / kiters) * gridDim.x) * BM;
            const int g = lane >> 2, t4 = lane & 3;
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int nt = 0; nt < NT8; nt++) {
#pragma unroll
                    for (int h = 0; h < 2; h++) {
                        int m = m0 + wm * WM + mt * 16 + g + h * 8;
                        int n = n0 + wn * WN + nt * 8 + t4 * 2;
                        op.store(m, n, acc[mt][nt][2 * h], acc[mt][nt][2 * h + 1]);
                    }
#pragma unroll
                    for (int e = 0; e < 4; e++) acc[mt][nt][e] = 0.f;
                }
        }
    }
    cp_wait<0>();
}

/* (1,3,3) spatial conv, padding 1, all four branches at once (N = 8F).
 * Rows cover the first hc image rows of each frame (DDCNN 1 skips the odd
 * last row that the stack's 2x2 pooling drops). */
struct SpatialOp {
    static constexpr int TAPS = 9;
    const bf16 *in;    /* [pix][ck] */
    const bf16 *wt;    /* [N][9][ck] */
    bf16 *out;         /* [pix][ldo] */
    size_t in_plane, w_plane, out_plane;
    int ck, ldo, h, w, hc, m;
    struct Row {
        int pix, y, x;
    };
    __device__ Row row(int mm) const
    {
        if (mm < 0 || mm >= m) return {-1, 0, 0};
        int hw = hc * w, f = mm / hw, r = mm - f * hw, y = r / w, x = r - y * w;
        return {f * h * w + y * w + x, y, x};
    }
    __device__ const bf16 *a_src(const Row &r, int tap) const
    {
        int dy = tap / 3 - 1, dx = tap % 3 - 1, y = r.y + dy, x = r.x + dx;
        if (r.pix < 0 || y < 0 || y >= h || x < 0 || x >= w) return nullptr;
        return in + (size_t)(r.pix + dy * w + dx) * ck;
    }
    __device__ void store(int mm, int n, float v0, float v1) const
    {
        Row r = row(mm);
        if (r.pix >= 0) store_split(out + (size_t)r.pix * ldo + n, out_plane, v0, v1);
    }
};

/* (3,1,1) temporal conv of branch blockIdx.y (dilation 2^branch, padding
 * inside the 100-frame window) over that branch's 2F spatial channels, with
 * folded BN and ReLU. POOL (DDCNN 1): out = avgpool2x2(relu(x2) + shortcut);
 * rows are then ordered so each 2x2 quad is 4 consecutive rows, which sit in
 * lanes 4 apart of one warp: the quad sum is two shuffles. */
template <bool POOL>
struct TemporalOp {
    static constexpr int TAPS = 3;
    const bf16 *in;        /* S: [pix][8F] */
    const bf16 *wt;        /* [4F][3][2F] */
    bf16 *out;             /* [pix][4F], or POOL: [pooled pix][4F] */
    size_t in_plane, w_plane, out_plane;
    const float *beta;     /* [4F]: folded BN shift */
    const bf16 *shortcut;  /* POOL: x1 [pix][4F] */
    size_t sc_plane;
    int ck;                /* 2F */
    int h, w, m;           /* frame size; rows */
    struct Row {
        int pix, t, opix;
    };
    __device__ Row row(int mm) const
    {
        if (mm < 0 || mm >= m) return {-1, 0, -1};
        if (!POOL) {
            int f = mm / (h * w);
            return {mm, f % T, mm};
        }
        int pw = w / 2, pp = (h / 2) * pw, q = mm & 3, j = mm >> 2, f = j / pp, r = j - f * pp;
        int py = r / pw, px = r - py * pw;
        return {f * h * w + (2 * py + (q >> 1)) * w + 2 * px + (q & 1), f % T, j};
    }
    __device__ const bf16 *a_src(const Row &r, int tap) const
    {
        int d = 1 << blockIdx.y, dt = (tap - 1) * d, t2 = r.t + dt;
        if (r.pix < 0 || t2 < 0 || t2 >= T) return nullptr;
        return in + (size_t)(r.pix + dt * h * w) * (4 * ck) + blockIdx.y * ck;
    }
    __device__ void store(int mm, int n, float v0, float v1) const
    {
        const int ldo = 2 * ck; /* 4F */
        Row r = row(mm);
        v0 = fmaxf(v0 + beta[n], 0.f);
        v1 = fmaxf(v1 + beta[n + 1], 0.f);
        if (!POOL) {
            if (r.pix >= 0) store_split(out + (size_t)r.pix * ldo + n, out_plane, v0, v1);
            return;
        }
        if (r.pix >= 0) {
            float2 s = load_split(shortcut + (size_t)r.pix * ldo + n, sc_plane);
            v0 += s.x;
            v1 += s.y;
        } else {
            v0 = v1 = 0.f;
        }
        v0 += __shfl_xor_sync(0xffffffffu, v0, 4);
        v1 += __shfl_xor_sync(0xffffffffu, v1, 4);
        v0 += __shfl_xor_sync(0xffffffffu, v0, 8);
        v1 += __shfl_xor_sync(0xffffffffu, v1, 8);
        if (r.pix >= 0 && (threadIdx.x & 12) == 0)
            store_split(out + (size_t)r.opix * ldo + n, out_plane, 0.25f * v0, 0.25f * v1);
    }
};

/* ---- slab implicit GEMM -----------------------------------------------
 * The igemm above copies each A row once per tap: a 3x3 conv reads every
 * input pixel 9 times (x the N tiles) from L2, and its loads, not the tensor
 * cores, bound it. Here a block tile of BM output rows copies, per K chunk
 * of BK channels, the "slab" of input rows the tile needs (output rows plus
 * the halo) into shared memory once. Each tap's A operand is then the slab
 * at a row offset: ldmatrix takes one row address per lane, so the shift,
 * the halo columns and any gaps between image rows cost nothing. The
 * weights (B) stream per (chunk, tap) through a STAGES-deep cp.async ring;
 * the slab is double-buffered per chunk (loaded in the same commit group as
 * the chunk's first tap of B). The Op gives tiles, slab rows, per output
 * row its slab row, per tap the row offset, and the epilogue. */
template <int BM, int BN, int BK, int WM, int WN, int STAGES, int PL, int SLAB>
struct SlabTile {
    static_assert(PL == 1 || PL == 2, "planes: 1 (bf16) or 2 (bf16x3)");
    static constexpr int NWM = BM / WM, NWN = BN / WN;
    static constexpr int THREADS = NWM * NWN * 32;
    static constexpr int LDS = BK + 8; /* row pad: 8 consecutive slab rows hit distinct banks */
    static constexpr int SMEM = (2 * PL * SLAB + STAGES * PL * BN) * LDS * 2;
};

template <int BM, int BN, int BK, int WM, int WN, int STAGES, int PL, int SLAB, class Op>
__global__ void __launch_bounds__(SlabTile<BM, BN, BK, WM, WN, STAGES, PL, SLAB>::THREADS)
sgemm(const Op op)
{
    using TL = SlabTile<BM, BN, BK, WM, WN, STAGES, PL, SLAB>;
    constexpr int LDS = TL::LDS, NT = TL::THREADS;
    constexpr int MT = WM / 16, NT8 = WN / 8;
    constexpr int CPR = BK / 8; /* 16-byte chunks per row */
    constexpr int TAPS = Op::TAPS;
    static_assert(NT8 % 2 == 0, "B fragments are loaded two n-tiles at a time");
    static_assert(NT % CPR == 0, "slab rows are copied CPR threads a row");
    static_assert(STAGES >= 2 && STAGES - 1 <= TAPS, "the next slab may only overwrite a finished chunk's buffer");

    /* slab buffer s: A hi[, A lo] ([SLAB][LDS] each); B stage s: hi[, lo] ([BN][LDS]) */
    extern __shared__ uint4 smem_raw[];
    bf16 *sA = reinterpret_cast<bf16 *>(smem_raw);
    bf16 *sB = sA + 2 * PL * SLAB * LDS;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / TL::NWN, wn = warp % TL::NWN;
    const int by = blockIdx.y, n0 = by * BN;
    const int K = TAPS * op.ck;
    const int nchunks = op.ck / BK;
    const int kiters = TAPS * nchunks; /* so it / TAPS counts chunks over the whole loop */
    const int mytiles = op.ntiles > (int)blockIdx.x ? (op.ntiles - blockIdx.x + gridDim.x - 1) / gridDim.x : 0;
    const int total = mytiles * kiters;

    typename Op::Tile ltile = op.tile(0, by); /* the tile being loaded (loads run ahead of the math) */
    int ltl = -1;
    auto load = [&](int it) {
        const int tl = it / kiters, kit = it - tl * kiters, chunk = kit / TAPS, tap = kit - chunk * TAPS;
        const int c0 = chunk * BK;
        if (tap == 0) {
            if (tl != ltl) {
                ltile = op.tile(blockIdx.x + tl * gridDim.x, by);
                ltl = tl;
            }
            bf16 *a = sA + ((it / TAPS) & 1) * PL * SLAB * LDS;
            const int nrows = op.slab_rows(ltile), ch = tid % CPR;
            for (int r = tid / CPR; r < nrows; r += NT / CPR) {
                const bf16 *src = op.slab_src(ltile, r, by);
                const bf16 *s = src ? src + c0 + ch * 8 : op.wt;
                cp_async16(a + r * LDS + ch * 8, s, src ? 16 : 0);
                if constexpr (PL == 2)
                    cp_async16(a + (SLAB + r) * LDS + ch * 8, s + (src ? op.in_plane : 0), src ? 16 : 0);
            }
        }
        bf16 *b = sB + (it % STAGES) * PL * BN * LDS;
        load_b<BN, BK, LDS, NT, PL>(b, op.wt, op.w_plane, (size_t)n0 * K + tap * op.ck + c0, K, tid);
    };

    float acc[MT][NT8][4];
    zero_acc(acc);

    typename Op::Tile ctile = op.tile(0, by); /* the tile being computed */
    int arow[MT];                             /* this lane's ldmatrix row of each m-tile, tap offset 0 */
#pragma unroll
    for (int mt = 0; mt < MT; mt++) arow[mt] = 0;

#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < total) load(s);
        cp_commit();
    }
    for (int it = 0; it < total; it++) {
        cp_wait<STAGES - 2>();
        __syncthreads(); /* iteration it landed for all; B stage it-1 and a finished chunk's slab are free */
        {
            int nk = it + STAGES - 1;
            if (nk < total) load(nk);
            cp_commit();
        }
        const int kit = it % kiters, tap = kit % TAPS;
        if (kit == 0) {
            ctile = op.tile(blockIdx.x + (it / kiters) * gridDim.x, by);
#pragma unroll
            for (int mt = 0; mt < MT; mt++) arow[mt] = op.a_row(ctile, wm * WM + mt * 16 + (lane & 15));
        }
        const int toff = op.tap_off(ctile, tap, by);
        const bf16 *a = sA + ((it / TAPS) & 1) * PL * SLAB * LDS + ((lane >> 4) << 3);
        const bf16 *b = sB + (it % STAGES) * PL * BN * LDS + (wn * WN) * LDS;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            uint32_t af[PL][MT][4];
#pragma unroll
            for (int pl = 0; pl < PL; pl++)
#pragma unroll
                for (int mt = 0; mt < MT; mt++) ldsm_x4(af[pl][mt], a + (pl * SLAB + arow[mt] + toff) * LDS + kk);
            mma_k16<PL, MT, NT8, BN, LDS>(acc, af, b, kk, lane);
        }
        if (kit == kiters - 1) {
            /* tile done. Accumulator layout of m16n8: rows g, g+8, columns 2t, 2t+1. */
            const int g = lane >> 2, t4 = lane & 3;
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const typename Op::ORow orow = op.out_row(ctile, wm * WM + mt * 16 + g + h * 8);
#pragma unroll
                    for (int nt = 0; nt < NT8; nt++) {
                        op.store(orow, n0 + wn * WN + nt * 8 + t4 * 2, acc[mt][nt][2 * h], acc[mt][nt][2 * h + 1]);
#pragma unroll
                        for (int e = 0; e < 2; e++) acc[mt][nt][2 * h + e] = 0.f;
                    }
                }
        }
    }
    cp_wait<0>();
}

/* (1,3,3) spatial conv as a slab GEMM. A tile is rb = BM / w whole output
 * image rows (the global row index g = f*hc + y runs over frames). The slab
 * holds "extended" input rows e = f*(hc+2) + y+1, y = -1..hc (y = -1 and
 * y >= h are zeros), each with a zero pixel either side: (w+2) slab rows per
 * image row. Output (g, x) then reads slab row (e(g) - ebase)*(w+2) + x+1
 * plus dy*(w+2) + dx for tap (dy, dx), frame boundaries included. */
struct SpatialSlabOp {
    static constexpr int TAPS = 9;
    const bf16 *in;    /* [pix][ck] */
    const bf16 *wt;    /* [N][9][ck] */
    bf16 *out;         /* [pix][ldo] */
    size_t in_plane, w_plane, out_plane;
    int ck, ldo, h, w, hc, nf, rb, ntiles;
    struct Tile {
        int g0, ebase, nrows;
    };
    typedef int ORow; /* output pixel, or -1 */
    __host__ __device__ int ext(int g) const { return g + 2 * (g / hc) + 1; }
    __host__ __device__ Tile tile(int t, int) const
    {
        int g0 = t * rb, gl = g0 + rb < nf * hc ? g0 + rb - 1 : nf * hc - 1;
        int eb = ext(g0) - 1;
        return {g0, eb, (ext(gl) + 2 - eb) * (w + 2)};
    }
    __host__ __device__ int slab_rows(const Tile &t) const { return t.nrows; }
    __host__ __device__ const bf16 *slab_src(const Tile &t, int j, int) const
    {
        int w2 = w + 2, e = t.ebase + j / w2, x = j % w2 - 1, f = e / (hc + 2), y = e % (hc + 2) - 1;
        if (x < 0 || x >= w || y < 0 || y >= h || f >= nf) return nullptr;
        return in + ((size_t)(f * h + y) * w + x) * ck;
    }
    __host__ __device__ int a_row(const Tile &t, int ml) const
    {
        int g = t.g0 + ml / w, x = ml % w; /* rows past the end (last tile) stay inside the slab buffer */
        return (ext(g) - t.ebase) * (w + 2) + x + 1;
    }
    __host__ __device__ int tap_off(const Tile &, int tap, int) const { return (tap / 3 - 1) * (w + 2) + tap % 3 - 1; }
    __host__ __device__ ORow out_row(const Tile &t, int ml) const
    {
        int g = t.g0 + ml / w;
        if (g >= nf * hc) return -1;
        return ((g / hc) * h + g % hc) * w + ml % w;
    }
    __device__ void store(ORow pix, int n, float v0, float v1) const
    {
        if (pix >= 0) store_split(out + (size_t)pix * ldo + n, out_plane, v0, v1);
    }
    /* slab rows a tile may reach (the buffer size), rb rows crossing up to rb/hc + 1 frame ends */
    static int slab_max(int rb, int w, int hc) { return (rb + 2 + 2 * ((rb - 1) / hc + 1)) * (w + 2); }
};

/* (3,1,1) temporal conv of branch `by` (dilation d = 2^by) as a slab GEMM.
 * A tile is TT frames (inside one 100-frame window) x PP = 8 pixels; its
 * rows are ml = frame * PP + pixel. The slab holds frames t0-d .. t0+TT+d-1
 * of those pixels (zeros outside the window), so tap k reads slab row
 * ml + k*d*PP. POOL (DDCNN 1): pixels go in 2x2-quad order, so each quad is
 * 4 consecutive rows and the epilogue is TemporalOp's. TT and PP are
 * constants and a tile's two quads are located once a tile: the kernel was
 * bound by this index arithmetic, not by its loads (ncu, RESULTS-gpu.md). */
template <bool POOL, int TT, int PP>
struct TemporalSlabOp {
    static_assert(PP == 8, "a tile's pixels: two 2x2 quads");
    static constexpr int TAPS = 3;
    const bf16 *in;        /* S: [pix][8F] */
    const bf16 *wt;        /* [4F][3][2F] */
    bf16 *out;             /* [pix][4F], or POOL: [pooled pix][4F] */
    size_t in_plane, w_plane, out_plane;
    const float *beta;     /* [4F]: folded BN shift */
    const bf16 *shortcut;  /* POOL: x1 [pix][4F] */
    size_t sc_plane;
    int ck;                /* 2F */
    int h, w, npg, ntiles; /* npg: pixel groups a frame */
    struct Tile {
        int f0, t0, p0, d, q0, q1; /* POOL: q0, q1: top-left pixel of the tile's two quads */
    };
    struct ORow {
        int pix, opix;
    };
    /* top-left pixel of the j-th 2x2 quad of a frame */
    __host__ __device__ int quad(int j) const { return 2 * (j / (w / 2)) * w + 2 * (j % (w / 2)); }
    /* pixel of the tile's i-th row in a frame (quad order if POOL) */
    __host__ __device__ int pix(const Tile &t, int i) const
    {
        return POOL ? (i & 4 ? t.q1 : t.q0) + ((i >> 1) & 1) * w + (i & 1) : t.p0 + i;
    }
    __host__ __device__ Tile tile(int t, int by) const
    {
        int fg = t / npg, pg = t - fg * npg, p0 = pg * PP;
        return {fg * TT, fg * TT % T, p0, 1 << by, POOL ? quad(p0 / 4) : 0, POOL ? quad(p0 / 4 + 1) : 0};
    }
    __host__ __device__ int slab_rows(const Tile &t) const { return (TT + 2 * t.d) * PP; }
    __host__ __device__ const bf16 *slab_src(const Tile &t, int j, int by) const
    {
        int ft = j / PP, t2 = t.t0 - t.d + ft;
        if (t2 < 0 || t2 >= T) return nullptr;
        return in + ((size_t)(t.f0 - t.d + ft) * h * w + pix(t, j % PP)) * (4 * ck) + by * ck;
    }
    __host__ __device__ int a_row(const Tile &, int ml) const { return ml; }
    __host__ __device__ int tap_off(const Tile &t, int tap, int) const { return tap * t.d * PP; }
    __host__ __device__ ORow out_row(const Tile &t, int ml) const
    {
        int ft = ml / PP, i = ml % PP, f = t.f0 + ft;
        return {f * h * w + pix(t, i), POOL ? f * (h / 2) * (w / 2) + (t.p0 + i) / 4 : 0};
    }
    __device__ void store(const ORow &r, int n, float v0, float v1) const
    {
        const int ldo = 2 * ck; /* 4F */
        const float2 b = __ldg(reinterpret_cast<const float2 *>(beta + n)); /* read-only: loaded once, not per store */
        v0 = fmaxf(v0 + b.x, 0.f);
        v1 = fmaxf(v1 + b.y, 0.f);
        if (!POOL) {
            store_split(out + (size_t)r.pix * ldo + n, out_plane, v0, v1);
            return;
        }
        float2 s = load_split(shortcut + (size_t)r.pix * ldo + n, sc_plane);
        v0 += s.x;
        v1 += s.y;
        v0 += __shfl_xor_sync(0xffffffffu, v0, 4);
        v1 += __shfl_xor_sync(0xffffffffu, v1, 4);
        v0 += __shfl_xor_sync(0xffffffffu, v0, 8);
        v1 += __shfl_xor_sync(0xffffffffu, v1, 8);
        if ((threadIdx.x & 12) == 0)
            store_split(out + (size_t)r.opix * ldo + n, out_plane, 0.25f * v0, 0.25f * v1);
    }
};

/* ---- spatial conv on wgmma (sm_90a, the bf16 mode) -------------------
 * mma.sync feeds the tensor cores from registers: every warp copies its A
 * and B fragments out of shared memory with ldmatrix, and the slab kernel
 * above reached 240-280 TFLOP/s. wgmma (Hopper) reads both operands from
 * shared memory itself, a 64-row warpgroup tile at a time, asynchronously.
 * Its operands are described by address and strides (K-major, no swizzle:
 * "core matrices" of 8 rows x 16 bytes, the 8 rows contiguous), so a tap's
 * A operand must be 64 rows at one stride. The GEMM rows are therefore the
 * positions of an "extended" grid: per frame h + 1 rows of P = w + 1
 * pixels whose last row and column are zeros, so tap (dy, dx) of position
 * m reads position m + dy*P + dx, across row and frame ends too (one zero
 * row or column serves both neighbours). The outputs at the zero positions
 * (and at rows >= hc) are computed and dropped: 10-26% more MMAs for one
 * slab row offset per tap. The slab of a BM-row tile is its rows plus
 * P + 1 either side, laid out [k group of 8 channels][row][8 channels].
 * The five convs: 12.6 ms at 64 windows on an H200, against 18.0 ms for
 * the mma.sync slab kernel (bench/nn/gpu/RESULTS-gpu.md).
 * The exact mode (PL = 2) runs the same kernel on hi and lo planes: a
 * K chunk is then 32 channels, and the slab's and each B stage's 8 k groups
 * are the chunk's 4 hi groups then its 4 lo groups (the same shared memory
 * as 64 channels of one plane); each k16 step is three wgmmas into the
 * same accumulators, A_lo*B_hi + A_hi*B_lo + A_hi*B_hi. */
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define TNET_WGMMA 1
#endif
constexpr int WG_BM = 256, WG_BN = 128, WG_THREADS = 512; /* 4 warpgroups of 64 x 128 */
constexpr int WG_BK = 64; /* channels of a K chunk over all planes: WG_BK / PL channels a chunk */
/* Loads run WG_DIST iterations ahead; one iteration's wgmmas stay in flight, so a load may only reuse the B
 * stage of iteration it - 2: WG_DIST + 2 stages (two in flight and 7 stages: 2% slower in the bf16 mode, the
 * same in the exact mode). */
constexpr int WG_DIST = 4, WG_ST = WG_DIST + 2;
constexpr int WG_SLAB = 361;            /* >= BM + 2(P + 1) for w <= 48; odd: a row's 8 k groups hit distinct banks */
constexpr int WG_LDB = WG_BN + 1;       /* B rows a k group, odd for the same reason */

/* smem matrix descriptor: K-major, no swizzle; lbo: bytes between the two
 * 8-channel halves of a k16 step, sbo: bytes between 8-row groups. */
__device__ __forceinline__ uint64_t wg_desc(const void *p, uint32_t lbo, uint32_t sbo)
{
    return (uint64_t)((smem_u32(p) & 0x3ffffu) >> 4) | (uint64_t)(lbo >> 4) << 16 | (uint64_t)(sbo >> 4) << 32;
}
#define TNET_ACC8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
                     "+f"(d[i + 6]), "+f"(d[i + 7])
/* d (64 x 128, fp32, the m16n8 fragment layout per warp and 8 columns) = A * B^T + (acc ? d : 0) */
__device__ __forceinline__ void wgmma_64x128(float (&d)[64], uint64_t a, uint64_t b, int acc)
{
#ifdef TNET_WGMMA
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
                 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
                 "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
                 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
                 "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : TNET_ACC8(0), TNET_ACC8(8), TNET_ACC8(16), TNET_ACC8(24), TNET_ACC8(32), TNET_ACC8(40),
                   TNET_ACC8(48), TNET_ACC8(56)
                 : "l"(a), "l"(b), "r"(acc));
#endif
}
/* The accumulators are written behind the compiler's back until wgmma.wait:
 * this keeps their reads and writes on the right side of it. */
__device__ __forceinline__ void wg_fence_acc(float (&d)[64])
{
#pragma unroll
    for (int i = 0; i < 64; i++) asm volatile("" : "+f"(d[i])::"memory");
}
template <int N> __device__ __forceinline__ void wgmma_wait()
{
#ifdef TNET_WGMMA
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}

/* The weights of a B stage as it lies in shared memory, [k group][WG_LDB][8]
 * (row WG_BN zero; PL = 2: hi groups, then lo groups), for each (N tile,
 * chunk, tap) in this order: a stage is one contiguous copy. */
constexpr int WG_BSTAGE = 8 * WG_LDB * 8;
constexpr int WG_SMEM = (2 * 8 * WG_SLAB + WG_ST * WG_BSTAGE / 8) * 16;
struct WgSpatialOp {
    const bf16 *in;    /* [pix][ck] */
    const bf16 *wt;    /* [N / WG_BN][ck / (WG_BK / PL)][9] stages of WG_BSTAGE */
    bf16 *out;         /* [pix][ldo] */
    size_t in_plane, out_plane; /* lo planes (PL = 2) */
    int ck, ldo, h, w, hc, nf, ntiles;
};

/* 1 when this kernel image has the wgmma code (built for sm_90a). */
__global__ void wg_probe(int *ok)
{
#ifdef TNET_WGMMA
    *ok = 1;
#else
    *ok = 0;
#endif
}

/* The four lanes t = lane & 3 of a row each hold one word (2 channels, 2t and 2t + 1) of 4 groups of 8
 * channels, u[j]; returns group t whole, 16 bytes, for one store instead of four (two xor exchanges). */
__device__ __forceinline__ uint4 quad_gather(const uint32_t (&u)[4], int t)
{
    /* lanes t, t ^ 1: a = group t & 1, b = group 2 + (t & 1), each channels 4 (t >> 1) .. + 3 */
    const uint32_t r0 = __shfl_xor_sync(0xffffffffu, t & 1 ? u[0] : u[1], 1);
    const uint32_t r1 = __shfl_xor_sync(0xffffffffu, t & 1 ? u[2] : u[3], 1);
    const uint2 a = t & 1 ? make_uint2(r0, u[1]) : make_uint2(u[0], r0);
    const uint2 b = t & 1 ? make_uint2(r1, u[3]) : make_uint2(u[2], r1);
    /* lanes t, t ^ 2: the other half of group t */
    const uint2 s = t & 2 ? a : b;
    const uint2 r = make_uint2(__shfl_xor_sync(0xffffffffu, s.x, 2), __shfl_xor_sync(0xffffffffu, s.y, 2));
    return t & 2 ? make_uint4(r.x, r.y, b.x, b.y) : make_uint4(a.x, a.y, r.x, r.y);
}

/* Persistent like sgemm: block x does tiles x, x + gridDim.x, ... of N tile
 * blockIdx.y. Iteration it is (tile, chunk of WG_BK / PL channels, tap); its B (and,
 * at tap 0, the chunk's slab) is loaded WG_DIST iterations ahead. Each
 * iteration issues its wgmmas right after the barrier, then the loads, and
 * leaves them in flight into the next iteration: the tensor cores keep
 * working through the barrier. */
template <int PL> __global__ void __launch_bounds__(WG_THREADS, 1) wg_spatial(const WgSpatialOp op)
{
    static_assert(PL == 1 || PL == 2, "planes: 1 (bf16) or 2 (bf16x3)");
#ifdef TNET_WGMMA
    constexpr int BK = WG_BK / PL, G = 8 / PL; /* channels a chunk, k groups a plane */
    extern __shared__ uint4 smem_raw[];
    uint4 *sA = smem_raw;                 /* slab buffer s, k group g, row j: sA[(s * 8 + g) * WG_SLAB + j] */
    uint4 *sB = sA + 2 * 8 * WG_SLAB;     /* B stage s, k group g, row n: sB[(s * 8 + g) * WG_LDB + n] */
    const int tid = threadIdx.x, wg = tid >> 7, lane = tid & 31;
    const int P = op.w + 1, fr = (op.h + 1) * P, nchunks = op.ck / BK, kiters = 9 * nchunks, n0 = blockIdx.y * WG_BN;
    const int mytiles = op.ntiles > (int)blockIdx.x ? (op.ntiles - blockIdx.x + gridDim.x - 1) / gridDim.x : 0;
    const int total = mytiles * kiters;
    /* The warps are the bottleneck here, not the tensor cores (ncu: no warp ever waits for a wgmma), so the
     * loads avoid divisions: a thread's slab rows are 64 positions apart, one step of (sy rows, sx pixels),
     * and each B stage is one contiguous copy. */
    const int sy = WG_THREADS / 8 / P, sx = WG_THREADS / 8 - sy * P;
    const uint4 *wt = reinterpret_cast<const uint4 *>(op.wt) + (size_t)blockIdx.y * nchunks * 9 * (WG_BSTAGE / 8);

    int lt = 0, lkit = 0, lchunk = 0; /* the next iteration to load: tile, iteration in it, chunks so far */
    auto load = [&]() {
        const int chunk = lkit / 9, tap = lkit - chunk * 9;
        if (tap == 0) {
            uint4 *a = sA + (lchunk++ & 1) * 8 * WG_SLAB;
            const int g = tid & 7, m = (blockIdx.x + lt * gridDim.x) * WG_BM - (P + 1) + (tid >> 3); /* >= -fr */
            int f = (m + fr) / fr - 1, x = m - f * fr, y = x / P;
            x -= y * P;
            const bf16 *in = op.in + chunk * BK + g % G * 8 + g / G * op.in_plane;
            for (int j = tid >> 3; j < WG_BM + 2 * (P + 1); j += WG_THREADS / 8) {
                const bool ok = f >= 0 && f < op.nf && y < op.h && x < op.w;
                cp_async16(a + g * WG_SLAB + j, ok ? in + ((size_t)(f * op.h + y) * op.w + x) * op.ck : op.in, ok ? 16 : 0);
                x += sx;
                y += sy;
                if (x >= P) {
                    x -= P;
                    y++;
                }
                if (y > op.h) {
                    y -= op.h + 1;
                    f++;
                }
            }
        }
        uint4 *b = sB + (lkit + lt * kiters) % WG_ST * 8 * WG_LDB;
        const uint4 *src = wt + (size_t)lkit * (WG_BSTAGE / 8);
        for (int idx = tid; idx < WG_BSTAGE / 8; idx += WG_THREADS) cp_async16(b + idx, src + idx, 16);
        if (++lkit == kiters) lkit = 0, lt++;
    };

    float acc[64];
#pragma unroll
    for (int i = 0; i < 64; i++) acc[i] = 0.f;
#pragma unroll
    for (int s = 0; s < WG_DIST; s++) {
        if (s < total) load();
        cp_commit();
    }
    for (int tl = 0, it = 0; tl < mytiles; tl++) {
        for (int kit = 0; kit < kiters; kit++, it++) {
            cp_wait<WG_DIST - 1>();
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); /* cp.async's writes, for wgmma's reads */
            __syncthreads(); /* iteration it landed for all; every warpgroup's wgmmas of it - 2 are done */
            const int tap = kit % 9;
            const uint4 *a = sA + ((it / 9) & 1) * 8 * WG_SLAB + wg * 64 + P + 1 + (tap / 3 - 1) * P + tap % 3 - 1;
            const uint4 *b = sB + (it % WG_ST) * 8 * WG_LDB;
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
            for (int kk = 0; kk < BK / 16; kk++) { /* a tile's first product overwrites the accumulators */
                const uint64_t ah = wg_desc(a + 2 * kk * WG_SLAB, WG_SLAB * 16, 128);
                const uint64_t bh = wg_desc(b + 2 * kk * WG_LDB, WG_LDB * 16, 128);
                if constexpr (PL == 2) { /* small terms first */
                    wgmma_64x128(acc, wg_desc(a + (G + 2 * kk) * WG_SLAB, WG_SLAB * 16, 128), bh, kit | kk);
                    wgmma_64x128(acc, ah, wg_desc(b + (G + 2 * kk) * WG_LDB, WG_LDB * 16, 128), 1);
                }
                wgmma_64x128(acc, ah, bh, PL == 2 || (kit | kk));
            }
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            if (it + WG_DIST < total) load(); /* it + WG_DIST: B stage of it - 2, slab of the chunk before last */
            cp_commit();
            wgmma_wait<1>();
        }
        /* tile done: this thread holds rows g and g + 8 of its warp's 16, columns 8i + 2t, 8i + 2t + 1 (i < 16);
         * the four lanes of a row swap them for 16-byte stores (the 4-byte stores held up the warps) */
        wgmma_wait<0>();
        wg_fence_acc(acc);
        const int m = (blockIdx.x + tl * gridDim.x) * WG_BM + wg * 64 + ((tid >> 5) & 3) * 16 + (lane >> 2);
        int f = m / fr, x = m - f * fr, y = x / P;
        x -= y * P;
#pragma unroll
        for (int hh = 0; hh < 2; hh++) {
            if (hh && (x += 8) >= P) { /* row m + 8 */
                x -= P;
                if (++y > op.h) {
                    y = 0;
                    f++;
                }
            }
            const bool ok = f < op.nf && y < op.hc && x < op.w;
            const size_t o = ((size_t)(f * op.h + y) * op.w + x) * op.ldo + n0 + 8 * (lane & 3);
#pragma unroll
            for (int q = 0; q < 4; q++) { /* column groups 4q .. 4q + 3: 16 bytes a lane, a plane */
                uint32_t hi[4], lo[4];
#pragma unroll
                for (int j = 0; j < 4; j++)
                    split_bf16x2(acc[16 * q + 4 * j + 2 * hh], acc[16 * q + 4 * j + 2 * hh + 1], hi[j], lo[j]);
                const uint4 vh = quad_gather(hi, lane & 3);
                if (ok) *reinterpret_cast<uint4 *>(op.out + o + 32 * q) = vh;
                if constexpr (PL == 2) {
                    const uint4 vl = quad_gather(lo, lane & 3);
                    if (ok) *reinterpret_cast<uint4 *>(op.out + op.out_plane + o + 32 * q) = vl;
                }
            }
        }
    }
    cp_wait<0>();
#endif
}

/* First spatial conv (3 input channels, K = 27: too thin for the tensor
 * cores) straight from the uint8 frames, fp32 FMA. 64 pixels x 128
 * outputs per block, staged in shared memory for coalesced stores. */
__global__ void __launch_bounds__(256) conv0(const uint8_t *__restrict__ fr, const float *__restrict__ w0,
                                             bf16 *__restrict__ out, size_t plane, int npix)
{
    __shared__ __align__(16) float sw[27 * 128]; /* [tap*3+c][n], already /255 */
    __shared__ float so[64 * 129];     /* row pad: a warp's stores hit distinct banks */
    for (int i = threadIdx.x; i < 27 * 128; i += 256) sw[i] = w0[i];
    const int px = threadIdx.x & 63, grp = threadIdx.x >> 6;
    const int pix = blockIdx.x * 64 + px;
    float in[27];
    if (pix < npix) {
        int f = pix / (H0 * W0), r = pix - f * H0 * W0, y = r / W0, x = r - y * W0;
        const uint8_t *base = fr + (size_t)f * H0 * W0 * 3;
#pragma unroll
        for (int tap = 0; tap < 9; tap++) {
            int yy = y + tap / 3 - 1, xx = x + tap % 3 - 1;
            bool ok = yy >= 0 && yy < H0 && xx >= 0 && xx < W0;
#pragma unroll
            for (int c = 0; c < 3; c++) in[tap * 3 + c] = ok ? (float)base[(yy * W0 + xx) * 3 + c] : 0.f;
        }
    } else {
#pragma unroll
        for (int k = 0; k < 27; k++) in[k] = 0.f;
    }
    __syncthreads();
    /* 4 outputs per weight load (one 16-byte broadcast read for 4 FMAs) */
    const float4 *sw4 = reinterpret_cast<const float4 *>(sw);
#pragma unroll 2
    for (int o = 0; o < 32; o += 4) {
        const int n = grp * 32 + o;
        float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
        for (int k = 0; k < 27; k++) {
            float4 wv = sw4[(k * 128 + n) / 4];
            acc.x = fmaf(in[k], wv.x, acc.x);
            acc.y = fmaf(in[k], wv.y, acc.y);
            acc.z = fmaf(in[k], wv.z, acc.z);
            acc.w = fmaf(in[k], wv.w, acc.w);
        }
        so[px * 129 + n] = acc.x;
        so[px * 129 + n + 1] = acc.y;
        so[px * 129 + n + 2] = acc.z;
        so[px * 129 + n + 3] = acc.w;
    }
    __syncthreads();
    const int base_pix = blockIdx.x * 64;
    for (int i = threadIdx.x; i < 64 * 64; i += 256) {
        int p = i / 64, c = 2 * (i % 64);
        if (base_pix + p < npix)
            store_split(out + (size_t)(base_pix + p) * 128 + c, plane, so[p * 129 + c], so[p * 129 + c + 1]);
    }
}

/* conv0 on the tensor cores (PyTorch's autocast runs it in bf16 too).
 * K = 27 (tap*3 + c) padded to 32: two m16n8k16 steps. The A fragments
 * come straight from the uint8 frames (0..255 is exact in bf16; the /255 is
 * folded into the weights). The weights are split hi + lo (bf16 weights
 * alone put the bf16 mode's probabilities 5.7e-2 off instead of 4.7e-2 on
 * the H200), so with exact A the products are as good as the fp32 conv0's
 * (the exact mode uses it too); the B fragments are pre-packed in fragment
 * order (wf[plane][ks][ntile][lane], see tnet_cuda.cu). The conv is bound
 * by its output bytes, so the second product costs nothing. A warp computes
 * 16 pixels x 128 channels one n-tile at a time (4 accumulators), stages
 * them in shared memory and writes the 16 x 256-byte rows as 16-byte
 * stores; with a lo plane (exact mode) it then does the same again for the
 * lo parts (recomputing the products is cheaper than holding them). */
constexpr int C0_WARPS = 6; /* 16 KB of weights + 6 x 4.3 KB of staging: under the 48 KB of static smem */
template <int PL>
__global__ void __launch_bounds__(C0_WARPS * 32) conv0_tc(const uint8_t *__restrict__ fr,
                                                          const uint2 *__restrict__ wf, bf16 *__restrict__ out,
                                                          size_t plane, int npix)
{
    constexpr int LDO = 136; /* staging row pitch (bf16): the 8 rows of a store hit distinct banks */
    __shared__ uint2 sw[2 * 2 * 16 * 32];
    __shared__ __align__(16) bf16 so[C0_WARPS][16 * LDO];
    for (int i = threadIdx.x; i < 2 * 2 * 16 * 32; i += C0_WARPS * 32) sw[i] = wf[i];
    __syncthreads();
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t4 = lane & 3;
    bf16 *stg = so[warp];
    const int ntiles = (npix + 15) / 16;
    for (int tile = blockIdx.x * C0_WARPS + warp; tile < ntiles; tile += gridDim.x * C0_WARPS) {
        /* v[h][j]: pixel row g + 8h, k = (j >> 1) * 8 + 2 * t4 + (j & 1), k = 0..31 over j = 0..7 */
        float v[2][8];
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int pix = tile * 16 + g + 8 * h;
            const bool pv = pix < npix;
            const int f = pix / (H0 * W0), r = pix - f * H0 * W0, y = r / W0, x = r - y * W0;
            const uint8_t *base = fr + (size_t)f * H0 * W0 * 3;
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const int k = (j >> 1) * 8 + 2 * t4 + (j & 1), tap = k / 3, ch = k - 3 * tap;
                const int yy = y + tap / 3 - 1, xx = x + tap % 3 - 1;
                const bool ok = pv && k < 27 && yy >= 0 && yy < H0 && xx >= 0 && xx < W0;
                v[h][j] = ok ? (float)__ldg(base + (yy * W0 + xx) * 3 + ch) : 0.f;
            }
        }
        uint32_t a[2][4];
#pragma unroll
        for (int ks = 0; ks < 2; ks++)
#pragma unroll
            for (int q = 0; q < 4; q++) { /* q: (row g | g+8) + 2 * (k | k + 8) */
                const int h = q & 1, j = (ks * 2 + (q >> 1)) * 2;
                __nv_bfloat162 p = __floats2bfloat162_rn(v[h][j], v[h][j + 1]);
                a[ks][q] = *reinterpret_cast<uint32_t *>(&p);
            }
#pragma unroll 1
        for (int lo = 0; lo < PL; lo++) {
#pragma unroll 4
            for (int nt = 0; nt < 16; nt++) {
                float c[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
                for (int q = 3; q >= 0; q--) /* lo plane (q = 2, 3) first: small terms first */
                    mma16816(c, a[q & 1], reinterpret_cast<const uint32_t *>(&sw[(q * 16 + nt) * 32 + lane]));
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    uint32_t vh, vl;
                    split_bf16x2(c[2 * h], c[2 * h + 1], vh, vl);
                    *reinterpret_cast<uint32_t *>(stg + (g + 8 * h) * LDO + nt * 8 + 2 * t4) = lo ? vl : vh;
                }
            }
            __syncwarp();
#pragma unroll
            for (int i = 0; i < 8; i++) {
                const int idx = lane + 32 * i, r = idx >> 4, ch = idx & 15, pix = tile * 16 + r;
                if (pix < npix)
                    *reinterpret_cast<uint4 *>(out + lo * plane + (size_t)pix * 128 + ch * 8) =
                        *reinterpret_cast<const uint4 *>(stg + r * LDO + ch * 8);
            }
            __syncwarp();
        }
    }
}

/* ---- head (fp32) ------------------------------------------------------ */

__device__ __forceinline__ float block_sum(float v, float *red)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int nw = (blockDim.x + 31) / 32;
    __syncthreads(); /* red may be reused across calls */
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    float s = 0.f;
    for (int i = 0; i < nw; i++) s += red[i];
    return s;
}

/* FrameSimilarity input: spatial means of the three pooled stack outputs,
 * [frame][64 | 128 | 256] = 448. One block per frame. */
__global__ void stack_means(const bf16 *p0, const bf16 *p1, const bf16 *p2, size_t pl0, size_t pl1, size_t pl2,
                            float *out)
{
    const int f = blockIdx.x, c = threadIdx.x; /* 448 threads */
    const bf16 *p;
    size_t pl;
    int ch, np, cc;
    if (c < 64) {
        p = p0; pl = pl0; ch = 64; np = 13 * 24; cc = c;
    } else if (c < 192) {
        p = p1; pl = pl1; ch = 128; np = 6 * 12; cc = c - 64;
    } else {
        p = p2; pl = pl2; ch = 256; np = 3 * 6; cc = c - 192;
    }
    const bf16 *q = p + (size_t)f * np * ch + cc;
    float s = 0.f;
    for (int i = 0; i < np; i++) s += load_split1(q + (size_t)i * ch, pl);
    out[(size_t)f * 448 + c] = s / np;
}

/* x = normalize(x + b) along a row of `dim` (<= blockDim.x * 4). */
__global__ void bias_l2norm(float *x, const float *b, int dim)
{
    __shared__ float red[32];
    float *row = x + (size_t)blockIdx.x * dim;
    float v[4], ss = 0.f;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int j = threadIdx.x + i * blockDim.x;
        v[i] = j < dim ? row[j] + (b ? b[j] : 0.f) : 0.f;
        ss += v[i] * v[i];
    }
    float n = fmaxf(sqrtf(block_sum(ss, red)), 1e-12f); /* F.normalize's eps */
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int j = threadIdx.x + i * blockDim.x;
        if (j < dim) row[j] = v[i] / n;
    }
}

/* 512-bin RGB histogram (3 bits per channel) of each frame, L2-normalised. */
__global__ void color_hist(const uint8_t *fr, float *out)
{
    __shared__ int hist[512];
    __shared__ float red[32];
    for (int i = threadIdx.x; i < 512; i += blockDim.x) hist[i] = 0;
    __syncthreads();
    const uint8_t *p = fr + (size_t)blockIdx.x * H0 * W0 * 3;
    for (int i = threadIdx.x; i < H0 * W0; i += blockDim.x) {
        int r = p[3 * i] >> 5, g = p[3 * i + 1] >> 5, b = p[3 * i + 2] >> 5;
        atomicAdd(&hist[(r << 6) + (g << 3) + b], 1);
    }
    __syncthreads();
    float ss = 0.f;
    for (int i = threadIdx.x; i < 512; i += blockDim.x) ss += (float)hist[i] * (float)hist[i];
    float n = fmaxf(sqrtf(block_sum(ss, red)), 1e-12f);
    for (int i = threadIdx.x; i < 512; i += blockDim.x) out[(size_t)blockIdx.x * 512 + i] = hist[i] / n;
}

/* sim: per window [T][T] similarity matrix; band[frame][k] = sim[t][t+k-50]
 * (0 outside the window), k < 101. */
__global__ void sim_band(const float *sim, float *band)
{
    const int f = blockIdx.x, t = f % T, wdw = f / T, k = threadIdx.x;
    if (k >= 101) return;
    int j = t + k - 50;
    band[(size_t)f * 101 + k] = (j >= 0 && j < T) ? sim[(size_t)wdw * T * T + t * T + j] : 0.f;
}

/* feat[frame] = [relu(hist_fc + b) | relu(sim_fc + b) | conv features]; the
 * fc products are already in columns 0..255. conv features: pooled stack 2
 * ([3][6][256], channels last = the reference's flatten order). */
__global__ void finish_feat(float *feat, const float *hb, const float *sb, const bf16 *p2, size_t pl2)
{
    float *row = feat + (size_t)blockIdx.x * 4864;
    const bf16 *q = p2 + (size_t)blockIdx.x * 4608;
    for (int i = threadIdx.x; i < 4864; i += blockDim.x) {
        if (i < 128) row[i] = fmaxf(row[i] + hb[i], 0.f);
        else if (i < 256) row[i] = fmaxf(row[i] + sb[i - 128], 0.f);
        else row[i] = load_split1(q + i - 256, pl2);
    }
}

/* Both heads on relu(fc1 + b): sigmoid(w . h + b) per frame. */
__global__ void heads(const float *hfc, const float *b1, const float *cw, float cb0, float cb1, float *out)
{
    __shared__ float red[32];
    const float *row = hfc + (size_t)blockIdx.x * 1024;
    float s0 = 0.f, s1 = 0.f;
    for (int i = threadIdx.x; i < 1024; i += blockDim.x) {
        float v = fmaxf(row[i] + b1[i], 0.f);
        s0 = fmaf(v, cw[i], s0);
        s1 = fmaf(v, cw[1024 + i], s1);
    }
    s0 = block_sum(s0, red);
    s1 = block_sum(s1, red);
    if (threadIdx.x == 0) {
        out[2 * blockIdx.x] = 1.f / (1.f + expf(-(s0 + cb0)));
        out[2 * blockIdx.x + 1] = 1.f / (1.f + expf(-(s1 + cb1)));
    }
}

} // namespace tnet
