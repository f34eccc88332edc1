#include "caption/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"
#include "util/cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VC_RESIZE_X86 1
#include <immintrin.h>
#endif

#define QBITS 14
#define QONE (1 << QBITS)

/* One axis: output i reads inputs off[i] .. off[i] + kp - 1 with
 * coefficients c[i * kp ..] (zero-padded; for the horizontal axis the
 * window is moved left near the right edge so it stays inside the row). */
typedef struct axis {
    int n, kp;
    int *off;
    int16_t *c;
} axis;

struct vc_resize {
    int sw, sh, dw, dh;
    axis h, v;
    int32_t hbias;
    bool vcopy;        /* dh == sh: the vertical pass is the identity */
    uint8_t *row;      /* one vertically filtered row, sw bytes */
    int16_t *hc8;      /* horizontal coefficients in the AVX2 kernel's order */
    int *hoff8;
    int16_t *hc16;     /* the same in the AVX-512 kernel's order */
    uint8_t *hidx16;   /* its byte indices, 64 per 16 outputs */
    int *hbase16;      /* where each block of 16 outputs starts reading */
    uint8_t *hq16;     /* VNNI: per block and 4-tap group, high then low coefficient bytes */
    uint8_t *hidxq;    /* VNNI: byte indices of each output's first four taps */
    uint32_t *vq;      /* VNNI: per output row and 4-tap group, high then low bytes (NULL: not usable) */
    int simd;          /* highest path allowed: VC_RESIZE_C, _AVX2, _AVX512 */
};

/* Keys' cubic convolution, a = -0.5 (PIL's bicubic_filter). */
static double cubic(double x)
{
    const double a = -0.5;
    x = fabs(x);
    if (x < 1)
        return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

/* PIL's precompute_coeffs: normalised double weights of output i over
 * inputs xmin[i] .. xmin[i] + cnt[i] - 1, ksize (returned) apart. */
static int weights(int in, int out, double **w_out, int **xmin_out, int **cnt_out)
{
    double scale = (double)in / out, fs = scale < 1 ? 1 : scale, support = 2 * fs;
    int ksize = (int)ceil(support) * 2 + 1;
    double *w = vc_xcalloc((size_t)out * (size_t)ksize, sizeof(*w));
    int *xmin = vc_xcalloc((size_t)out, sizeof(int)), *cnt = vc_xcalloc((size_t)out, sizeof(int));
    for (int i = 0; i < out; i++) {
        double center = (i + 0.5) * scale, ss = 1.0 / fs, ww = 0;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > in)
            hi = in;
        int n = hi - lo;
        if (n > ksize)
            n = ksize;
        double *k = w + (size_t)i * (size_t)ksize;
        for (int x = 0; x < n; x++) {
            k[x] = cubic((x + lo - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < n && ww != 0; x++)
            k[x] /= ww;
        xmin[i] = lo;
        cnt[i] = n;
    }
    *w_out = w;
    *xmin_out = xmin;
    *cnt_out = cnt;
    return ksize;
}

/* Fixed-point axis with gain folded in; pad: the tap count is rounded up to
 * a multiple of pad when the input is at least that long. -1 when a
 * coefficient does not fit int16. */
static int make_axis(axis *a, int in, int out, double gain, int pad)
{
    double *w;
    int *xmin, *cnt;
    int ksize = weights(in, out, &w, &xmin, &cnt);
    int kmax = 1;
    for (int i = 0; i < out; i++)
        kmax = cnt[i] > kmax ? cnt[i] : kmax;
    int kp = (kmax + pad - 1) / pad * pad;
    if (kp > in)
        kp = kmax;
    a->n = out;
    a->kp = kp;
    a->off = vc_xcalloc((size_t)out, sizeof(int));
    a->c = vc_xcalloc((size_t)out * (size_t)kp, sizeof(int16_t));
    int rc = 0;
    int32_t target = (int32_t)lround(gain * QONE);
    for (int i = 0; i < out; i++) {
        int off = xmin[i];
        if (off + kp > in)
            off = in - kp;
        a->off[i] = off;
        const double *k = w + (size_t)i * (size_t)ksize;
        int16_t *c = a->c + (size_t)i * (size_t)kp;
        int32_t sum = 0;
        int big = 0;
        for (int x = 0; x < cnt[i]; x++) {
            double v = k[x] * gain * QONE;
            long q = lround(v);
            if (q > 32767 || q < -32768) {
                rc = -1;
                q = 0;
            }
            c[xmin[i] - off + x] = (int16_t)q;
            sum += (int32_t)q;
            if (fabs(k[x]) > fabs(k[big]))
                big = x;
        }
        /* exact sum, so that flat areas stay flat */
        int32_t fixed = c[xmin[i] - off + big] + (target - sum);
        if (cnt[i] > 0 && fixed <= 32767 && fixed >= -32768)
            c[xmin[i] - off + big] = (int16_t)fixed;
    }
    free(w);
    free(xmin);
    free(cnt);
    return rc;
}

static uint8_t clip8(int32_t v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void vpass_c(const vc_resize *r, const uint8_t *const *rows, const int16_t *c, int x0, uint8_t *out)
{
    int kp = r->v.kp;
    for (int x = x0; x < r->sw; x++) {
        int32_t acc = QONE / 2;
        for (int k = 0; k < kp; k++)
            acc += (int32_t)c[k] * rows[k][x];
        out[x] = clip8(acc >> QBITS);
    }
}

static void hpass_c(const vc_resize *r, const uint8_t *in, int x0, uint8_t *out)
{
    int kp = r->h.kp;
    for (int x = x0; x < r->dw; x++) {
        const uint8_t *p = in + r->h.off[x];
        const int16_t *c = r->h.c + (size_t)x * (size_t)kp;
        int32_t acc = r->hbias;
        for (int k = 0; k < kp; k++)
            acc += (int32_t)c[k] * p[k];
        out[x] = clip8(acc >> QBITS);
    }
}

#ifdef VC_RESIZE_X86
/* Vertical: pairs of rows interleaved as int16 and multiplied by a pair of
 * coefficients with vpmaddwd, 32 pixels per step; the scalar tail computes
 * the same integers. */
__attribute__((target("avx2"), always_inline)) static inline void vpass_avx2_k(const vc_resize *r,
                                                                             const uint8_t *const *rows,
                                                                             const int16_t *c, uint8_t *out, int kp,
                                                                             const uint8_t *pf, ptrdiff_t pfs)
{
    int x = 0;
    const __m256i half = _mm256_set1_epi32(QONE / 2);
    for (; x + 32 <= r->sw; x += 32) {
        /* the next output row's new input rows, fetched a row ahead (reading
         * 8 rows at once, the hardware prefetcher alone leaves a cold
         * frame's reads waiting on memory) */
        if (pf) {
            _mm_prefetch((const char *)(pf + x), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + pfs + x), _MM_HINT_T0);
        }
        __m256i a0 = half, a1 = half, a2 = half, a3 = half;
        for (int k = 0; k < kp; k += 2) {
            const uint8_t *p = rows[k] + x, *q = rows[k + 1] + x;
            __m256i cc = _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)c[k + 1] << 16 | (uint16_t)c[k]));
            __m256i p0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
            __m256i q0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)q));
            __m256i p1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p + 16)));
            __m256i q1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(q + 16)));
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(p0, q0), cc));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(p0, q0), cc));
            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_unpacklo_epi16(p1, q1), cc));
            a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_unpackhi_epi16(p1, q1), cc));
        }
        /* unpacklo/hi work per 128-bit lane, packs undoes it */
        __m256i s0 = _mm256_packs_epi32(_mm256_srai_epi32(a0, QBITS), _mm256_srai_epi32(a1, QBITS));
        __m256i s1 = _mm256_packs_epi32(_mm256_srai_epi32(a2, QBITS), _mm256_srai_epi32(a3, QBITS));
        __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(s0, s1), 0xD8);
        _mm256_storeu_si256((__m256i *)(out + x), b);
    }
    vpass_c(r, rows, c, x, out);
}

/* constant tap counts let the compiler unroll the tap loop */
__attribute__((target("avx2"))) static void vpass_avx2(const vc_resize *r, const uint8_t *const *rows,
                                                       const int16_t *c, uint8_t *out, const uint8_t *pf,
                                                       ptrdiff_t pfs)
{
    switch (r->v.kp) {
    case 4: vpass_avx2_k(r, rows, c, out, 4, pf, pfs); break;
    case 6: vpass_avx2_k(r, rows, c, out, 6, pf, pfs); break;
    case 8: vpass_avx2_k(r, rows, c, out, 8, pf, pfs); break;
    default: vpass_avx2_k(r, rows, c, out, r->v.kp, pf, pfs); break;
    }
}

/* Horizontal: outputs in blocks of 8, two per 256-bit register (x and
 * x + 4), 8 taps per vpmaddwd per output, three vphaddd give the 8 sums in
 * order (coefficients pre-arranged in hc8). */
__attribute__((target("avx2"), always_inline)) static inline void hpass_avx2_k(const vc_resize *r,
                                                                             const uint8_t *in, uint8_t *out,
                                                                             int kp)
{
    int g8 = kp / 8, x = 0;
    const __m256i bias = _mm256_set1_epi32(r->hbias);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const int16_t *cc = r->hc8;
    const int *off = r->hoff8;
    for (; x + 16 <= r->dw; x += 16) {
        __m256i res[2];
        for (int h = 0; h < 2; h++) {
            __m256i acc[4];
            for (int j = 0; j < 4; j++) {
                const uint8_t *pa = in + off[j], *pb = in + off[j + 4];
                __m256i s = _mm256_setzero_si256();
                for (int g = 0; g < g8; g++) {
                    __m128i v = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(pa + 8 * g)),
                                                   _mm_loadl_epi64((const __m128i *)(pb + 8 * g)));
                    s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_cvtepu8_epi16(v),
                                                              _mm256_loadu_si256((const __m256i *)cc)));
                    cc += 16;
                }
                acc[j] = s;
            }
            __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(acc[0], acc[1]), _mm256_hadd_epi32(acc[2], acc[3]));
            res[h] = _mm256_srai_epi32(_mm256_add_epi32(t, bias), QBITS);
            off += 8;
        }
        __m256i p = _mm256_packs_epi32(res[0], res[1]);
        p = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(p, p), perm);
        _mm_storeu_si128((__m128i *)(out + x), _mm256_castsi256_si128(p));
    }
    hpass_c(r, in, x, out);
}

__attribute__((target("avx2"))) static void hpass_avx2(const vc_resize *r, const uint8_t *in, uint8_t *out)
{
    if (r->h.kp == 8)
        hpass_avx2_k(r, in, out, 8);
    else
        hpass_avx2_k(r, in, out, r->h.kp);
}

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi")))

/* Vertical, 64 pixels per step: as the AVX2 pass, twice as wide (one cache
 * line per row and step, so one prefetch per new row). */
T512 __attribute__((always_inline)) static inline void vpass_avx512_k(const vc_resize *r, const uint8_t *const *rows,
                                                                     const int16_t *c, uint8_t *out, int kp,
                                                                     const uint8_t *pf, ptrdiff_t pfs)
{
    int x = 0;
    const __m512i half = _mm512_set1_epi32(QONE / 2);
    const __m512i order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    for (; x + 64 <= r->sw; x += 64) {
        if (pf) {
            _mm_prefetch((const char *)(pf + x), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + pfs + x), _MM_HINT_T0);
        }
        __m512i a0 = half, a1 = half, a2 = half, a3 = half;
        for (int k = 0; k < kp; k += 2) {
            const uint8_t *p = rows[k] + x, *q = rows[k + 1] + x;
            __m512i cc = _mm512_set1_epi32((int32_t)((uint32_t)(uint16_t)c[k + 1] << 16 | (uint16_t)c[k]));
            __m512i p0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)p));
            __m512i q0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)q));
            __m512i p1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(p + 32)));
            __m512i q1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(q + 32)));
            a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(_mm512_unpacklo_epi16(p0, q0), cc));
            a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(_mm512_unpackhi_epi16(p0, q0), cc));
            a2 = _mm512_add_epi32(a2, _mm512_madd_epi16(_mm512_unpacklo_epi16(p1, q1), cc));
            a3 = _mm512_add_epi32(a3, _mm512_madd_epi16(_mm512_unpackhi_epi16(p1, q1), cc));
        }
        __m512i s0 = _mm512_packs_epi32(_mm512_srai_epi32(a0, QBITS), _mm512_srai_epi32(a1, QBITS));
        __m512i s1 = _mm512_packs_epi32(_mm512_srai_epi32(a2, QBITS), _mm512_srai_epi32(a3, QBITS));
        /* per 128-bit lane l: pixels 8l..8l+7 then 32+8l..; put them in order */
        __m512i b = _mm512_permutexvar_epi64(order, _mm512_packus_epi16(s0, s1));
        _mm512_storeu_si512((void *)(out + x), b);
    }
    vpass_c(r, rows, c, x, out);
}

T512 static void vpass_avx512(const vc_resize *r, const uint8_t *const *rows, const int16_t *c, uint8_t *out,
                              const uint8_t *pf, ptrdiff_t pfs)
{
    switch (r->v.kp) {
    case 4: vpass_avx512_k(r, rows, c, out, 4, pf, pfs); break;
    case 6: vpass_avx512_k(r, rows, c, out, 6, pf, pfs); break;
    case 8: vpass_avx512_k(r, rows, c, out, 8, pf, pfs); break;
    default: vpass_avx512_k(r, rows, c, out, r->v.kp, pf, pfs); break;
    }
}

/* Horizontal, 16 outputs per step: their inputs span at most 64 bytes
 * (checked when planning), so one load holds them all and vpermb gathers
 * each tap pair of each output into an int16 pair for vpmaddwd; no
 * per-output loads and no horizontal adds as in the AVX2 pass. */
T512 __attribute__((always_inline)) static inline void hpass_avx512_k(const vc_resize *r, const uint8_t *in,
                                                                     uint8_t *out, int kp)
{
    const __m512i bias = _mm512_set1_epi32(r->hbias), zero = _mm512_setzero_si512(), two = _mm512_set1_epi8(2);
    const __mmask64 even = 0x5555555555555555ull;
    const int16_t *cc = r->hc16;
    for (int x = 0, b = 0; x < r->dw; x += 16, b++) {
        int base = r->hbase16[b], avail = r->sw - base;
        __m512i src = avail >= 64 ? _mm512_loadu_si512((const void *)(in + base))
                                  : _mm512_maskz_loadu_epi8((__mmask64)((1ull << avail) - 1), in + base);
        __m512i idx = _mm512_loadu_si512((const void *)(r->hidx16 + 64 * (size_t)b)), acc = bias;
        for (int k = 0; k < kp; k += 2) {
            __m512i v = _mm512_maskz_permutexvar_epi8(even, idx, src);
            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(v, _mm512_loadu_si512((const void *)cc)));
            idx = _mm512_add_epi8(idx, two);
            cc += 32;
        }
        __m128i o = _mm512_cvtusepi32_epi8(_mm512_max_epi32(_mm512_srai_epi32(acc, QBITS), zero));
        if (r->dw - x >= 16)
            _mm_storeu_si128((__m128i *)(out + x), o);
        else
            _mm_mask_storeu_epi8(out + x, (__mmask16)((1u << (r->dw - x)) - 1), o);
    }
}

T512 static void hpass_avx512(const vc_resize *r, const uint8_t *in, uint8_t *out)
{
    if (r->h.kp == 8)
        hpass_avx512_k(r, in, out, 8);
    else
        hpass_avx512_k(r, in, out, r->h.kp);
}

/* Coefficients and byte indices for hpass_avx512, when every block of 16
 * outputs reads at most 64 bytes (shrinking by up to ~3.5x at 8 taps). */
static void plan_avx512(vc_resize *r)
{
    int nb = (r->dw + 15) / 16, kp = r->h.kp;
    if (kp % 2 || kp > 64)
        return;
    int *base = vc_xcalloc((size_t)nb, sizeof(int));
    for (int b = 0; b < nb; b++) {
        int lo = r->h.off[16 * b], hi = lo;
        for (int x = 16 * b; x < 16 * b + 16 && x < r->dw; x++) {
            lo = r->h.off[x] < lo ? r->h.off[x] : lo;
            hi = r->h.off[x] > hi ? r->h.off[x] : hi;
        }
        if (hi + kp - lo > 64) {
            free(base);
            return;
        }
        base[b] = lo;
    }
    r->hbase16 = base;
    r->hidx16 = vc_xcalloc((size_t)nb * 64, 1);
    r->hc16 = vc_xcalloc((size_t)nb * 16 * (size_t)kp, sizeof(int16_t));
    int16_t *cc = r->hc16;
    for (int b = 0; b < nb; b++) {
        for (int j = 0; j < 16; j++) {
            int x = 16 * b + j, o = x < r->dw ? r->h.off[x] - base[b] : 0;
            r->hidx16[64 * b + 4 * j] = (uint8_t)o;
            r->hidx16[64 * b + 4 * j + 2] = (uint8_t)(o + 1);
        }
        for (int k = 0; k < kp; k += 2)
            for (int j = 0; j < 16; j++, cc += 2) {
                int x = 16 * b + j;
                cc[0] = x < r->dw ? r->h.c[(size_t)x * (size_t)kp + (size_t)k] : 0;
                cc[1] = x < r->dw ? r->h.c[(size_t)x * (size_t)kp + (size_t)k + 1] : 0;
            }
    }
}

#define TVNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi,avx512vnni")))

/* With VNNI, four taps per instruction: vpdpbusd sums four u8 x s8
 * products into each int32. A Q14 coefficient c is split exactly into
 * 128 * hi + lo (hi = c >> 7 in s8, lo = c & 127), so
 * sum(c * p) = 128 * sum(hi * p) + sum(lo * p): the same integers as the
 * C path, with half the multiplies and shuffles of the vpmaddwd passes.
 * Usable when every coefficient is within +-2^14. */
static int split_coef(int16_t c, int8_t *hi, uint8_t *lo)
{
    if (c < -16384 || c > 16383)
        return -1;
    *hi = (int8_t)(c >> 7);
    *lo = (uint8_t)(c & 127);
    return 0;
}

#define VNNI_JOIN(h, l) _mm512_srai_epi32(_mm512_add_epi32(_mm512_slli_epi32(h, 7), l), QBITS)

/* Vertical, 64 pixels per step: four rows interleaved bytewise into
 * (a, b, c, d) dwords per 128-bit lane, so packing restores pixel order.
 * Named accumulators: arrays of them are kept on the stack at -O2. */
TVNNI __attribute__((always_inline)) static inline void vpass_vnni_k(const vc_resize *r, const uint8_t *const *rows,
                                                                    const int16_t *c, const uint32_t *q, uint8_t *out,
                                                                    int kp, const uint8_t *pf, ptrdiff_t pfs)
{
    int x = 0;
    const __m512i half = _mm512_set1_epi32(QONE / 2);
    for (; x + 64 <= r->sw; x += 64) {
        if (pf) {
            _mm_prefetch((const char *)(pf + x), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + pfs + x), _MM_HINT_T0);
        }
        __m512i h0 = _mm512_setzero_si512(), h1 = h0, h2 = h0, h3 = h0, l0 = half, l1 = half, l2 = half, l3 = half;
        for (int k = 0; k < kp; k += 4) {
            __m512i ra = _mm512_loadu_si512((const void *)(rows[k] + x));
            __m512i rb = _mm512_loadu_si512((const void *)(rows[k + 1] + x));
            __m512i rc = _mm512_loadu_si512((const void *)(rows[k + 2] + x));
            __m512i rd = _mm512_loadu_si512((const void *)(rows[k + 3] + x));
            __m512i ab0 = _mm512_unpacklo_epi8(ra, rb), ab1 = _mm512_unpackhi_epi8(ra, rb);
            __m512i cd0 = _mm512_unpacklo_epi8(rc, rd), cd1 = _mm512_unpackhi_epi8(rc, rd);
            __m512i v0 = _mm512_unpacklo_epi16(ab0, cd0), v1 = _mm512_unpackhi_epi16(ab0, cd0);
            __m512i v2 = _mm512_unpacklo_epi16(ab1, cd1), v3 = _mm512_unpackhi_epi16(ab1, cd1);
            __m512i ch = _mm512_set1_epi32((int32_t)q[k / 2]), cl = _mm512_set1_epi32((int32_t)q[k / 2 + 1]);
            h0 = _mm512_dpbusd_epi32(h0, v0, ch);
            h1 = _mm512_dpbusd_epi32(h1, v1, ch);
            h2 = _mm512_dpbusd_epi32(h2, v2, ch);
            h3 = _mm512_dpbusd_epi32(h3, v3, ch);
            l0 = _mm512_dpbusd_epi32(l0, v0, cl);
            l1 = _mm512_dpbusd_epi32(l1, v1, cl);
            l2 = _mm512_dpbusd_epi32(l2, v2, cl);
            l3 = _mm512_dpbusd_epi32(l3, v3, cl);
        }
        __m512i b = _mm512_packus_epi16(_mm512_packs_epi32(VNNI_JOIN(h0, l0), VNNI_JOIN(h1, l1)),
                                        _mm512_packs_epi32(VNNI_JOIN(h2, l2), VNNI_JOIN(h3, l3)));
        _mm512_storeu_si512((void *)(out + x), b);
    }
    vpass_c(r, rows, c, x, out);
}

TVNNI static void vpass_vnni(const vc_resize *r, const uint8_t *const *rows, const int16_t *c, const uint32_t *q,
                             uint8_t *out, const uint8_t *pf, ptrdiff_t pfs)
{
    if (r->v.kp == 8)
        vpass_vnni_k(r, rows, c, q, out, 8, pf, pfs);
    else
        vpass_vnni_k(r, rows, c, q, out, r->v.kp, pf, pfs);
}

/* Horizontal, 16 outputs per step as hpass_avx512, but each vpermb
 * gathers four taps per output. */
TVNNI __attribute__((always_inline)) static inline void hpass_vnni_k(const vc_resize *r, const uint8_t *in,
                                                                    uint8_t *out, int kp)
{
    const __m512i bias = _mm512_set1_epi32(r->hbias), zero = _mm512_setzero_si512(), four = _mm512_set1_epi8(4);
    const uint8_t *cq = r->hq16;
    for (int x = 0, b = 0; x < r->dw; x += 16, b++) {
        int base = r->hbase16[b], avail = r->sw - base;
        __m512i src = avail >= 64 ? _mm512_loadu_si512((const void *)(in + base))
                                  : _mm512_maskz_loadu_epi8((__mmask64)((1ull << avail) - 1), in + base);
        __m512i idx = _mm512_loadu_si512((const void *)(r->hidxq + 64 * (size_t)b)), h = zero, l = bias;
        for (int k = 0; k < kp; k += 4) {
            __m512i v = _mm512_permutexvar_epi8(idx, src);
            h = _mm512_dpbusd_epi32(h, v, _mm512_loadu_si512((const void *)cq));
            l = _mm512_dpbusd_epi32(l, v, _mm512_loadu_si512((const void *)(cq + 64)));
            idx = _mm512_add_epi8(idx, four);
            cq += 128;
        }
        __m128i o = _mm512_cvtusepi32_epi8(_mm512_max_epi32(VNNI_JOIN(h, l), zero));
        if (r->dw - x >= 16)
            _mm_storeu_si128((__m128i *)(out + x), o);
        else
            _mm_mask_storeu_epi8(out + x, (__mmask16)((1u << (r->dw - x)) - 1), o);
    }
}

TVNNI static void hpass_vnni(const vc_resize *r, const uint8_t *in, uint8_t *out)
{
    if (r->h.kp == 8)
        hpass_vnni_k(r, in, out, 8);
    else
        hpass_vnni_k(r, in, out, r->h.kp);
}

/* Four coefficients of one output (4-tap group g) as high and low bytes;
 * -1 when one does not split. */
static int split4(const int16_t *c, uint32_t *hw, uint32_t *lw)
{
    *hw = *lw = 0;
    for (int t = 0; t < 4; t++) {
        int8_t hi;
        uint8_t lo;
        if (split_coef(c[t], &hi, &lo) < 0)
            return -1;
        *hw |= (uint32_t)(uint8_t)hi << (8 * t);
        *lw |= (uint32_t)lo << (8 * t);
    }
    return 0;
}

/* Split coefficients for the VNNI passes, where they fit (after
 * plan_avx512, whose blocks of 16 outputs the horizontal pass shares). */
static void plan_vnni(vc_resize *r)
{
    int kp = r->v.kp;
    if (kp % 4 == 0) {
        r->vq = vc_xcalloc((size_t)r->dh * (size_t)(kp / 2), sizeof(uint32_t));
        for (int y = 0; y < r->dh && r->vq; y++)
            for (int g = 0; g < kp / 4; g++) {
                uint32_t *at = r->vq + (size_t)y * (size_t)(kp / 2) + 2 * (size_t)g;
                if (split4(r->v.c + (size_t)y * (size_t)kp + 4 * (size_t)g, &at[0], &at[1]) < 0) {
                    free(r->vq);
                    r->vq = NULL;
                    break;
                }
            }
    }
    kp = r->h.kp;
    if (!r->hbase16 || kp % 4)
        return;
    int nb = (r->dw + 15) / 16;
    uint32_t *q = vc_xcalloc((size_t)nb * (size_t)(kp / 4) * 32, sizeof(uint32_t));
    for (int b = 0; b < nb; b++)
        for (int g = 0; g < kp / 4; g++)
            for (int j = 0; j < 16; j++) {
                int x = 16 * b + j;
                uint32_t *at = q + ((size_t)b * (size_t)(kp / 4) + (size_t)g) * 32 + (size_t)j;
                if (x < r->dw && split4(r->h.c + (size_t)x * (size_t)kp + 4 * (size_t)g, &at[0], &at[16]) < 0) {
                    free(q);
                    return;
                }
            }
    r->hq16 = (uint8_t *)q;
    r->hidxq = vc_xcalloc((size_t)nb * 64, 1);
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < 16; j++)
            for (int t = 0; t < 4; t++) {
                int x = 16 * b + j;
                r->hidxq[64 * b + 4 * j + t] = (uint8_t)((x < r->dw ? r->h.off[x] - r->hbase16[b] : 0) + t);
            }
}

static int have_vnni(void)
{
    return (vc_cpu_flags() & VC_CPU_VNNI) != 0;
}

static int have_avx512(void)
{
    return (vc_cpu_flags() & VC_CPU_AVX512) != 0;
}

static int have_avx2(void)
{
    return (vc_cpu_flags() & VC_CPU_AVX2) != 0;
}
#endif

vc_resize *vc_resize_new(int sw, int sh, int dw, int dh, double gain, double offset)
{
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || !(gain > 0 && gain < 1.9))
        return NULL;
    vc_resize *r = vc_xcalloc(1, sizeof(*r));
    r->sw = sw;
    r->sh = sh;
    r->dw = dw;
    r->dh = dh;
    r->hbias = (int32_t)lround(offset * QONE) + QONE / 2;
    int vpad = 2;   /* taps a pair at a time; four with VNNI */
#ifdef VC_RESIZE_X86
    if (have_avx512() && have_vnni())
        vpad = 4;
#endif
    if (make_axis(&r->h, sw, dw, gain, 8) < 0 || make_axis(&r->v, sh, dh, 1.0, vpad) < 0) {
        vc_resize_free(r);
        return NULL;
    }
    r->vcopy = sh == dh;
    r->row = vc_xcalloc((size_t)sw + 32, 1);
#ifdef VC_RESIZE_X86
    if (have_avx2() && r->h.kp % 8 == 0 && sw >= r->h.kp) {
        int nb = (dw + 7) / 8, kp = r->h.kp;
        r->hc8 = vc_xcalloc((size_t)nb * 8 * (size_t)kp, sizeof(int16_t));
        r->hoff8 = vc_xcalloc((size_t)nb * 8, sizeof(int));
        int16_t *cc = r->hc8;
        for (int b = 0; b < nb; b++) {
            for (int j = 0; j < 8; j++)
                r->hoff8[b * 8 + j] = b * 8 + j < dw ? r->h.off[b * 8 + j] : 0;
            for (int j = 0; j < 4; j++)
                for (int g = 0; g < kp / 8; g++)
                    for (int h = 0; h < 2; h++) {
                        int x = b * 8 + j + 4 * h;
                        for (int t = 0; t < 8; t++)
                            *cc++ = x < dw ? r->h.c[(size_t)x * (size_t)kp + (size_t)(8 * g + t)] : 0;
                    }
        }
    }
    if (have_avx512())
        plan_avx512(r);
    if (have_avx512() && have_vnni())
        plan_vnni(r);
    r->simd = VC_RESIZE_VNNI;
#endif
    return r;
}

void vc_resize_set_simd(vc_resize *r, int level)
{
    r->simd = level;
}

#ifdef VC_RESIZE_X86
/* The paths run() takes for each pass, given the level allowed. */
static int vlevel(const vc_resize *r)
{
    if (r->v.kp % 2)
        return VC_RESIZE_C;
    if (r->simd >= VC_RESIZE_VNNI && r->vq)
        return VC_RESIZE_VNNI;
    if (r->simd >= VC_RESIZE_AVX512 && have_avx512())
        return VC_RESIZE_AVX512;
    return r->simd >= VC_RESIZE_AVX2 && have_avx2() ? VC_RESIZE_AVX2 : VC_RESIZE_C;
}

static int hlevel(const vc_resize *r)
{
    if (r->simd >= VC_RESIZE_VNNI && r->hq16)
        return VC_RESIZE_VNNI;
    if (r->simd >= VC_RESIZE_AVX512 && r->hc16)
        return VC_RESIZE_AVX512;
    return r->simd >= VC_RESIZE_AVX2 && r->hc8 ? VC_RESIZE_AVX2 : VC_RESIZE_C;
}
#endif

int vc_resize_simd(const vc_resize *r)
{
#ifdef VC_RESIZE_X86
    int v = vlevel(r), h = hlevel(r);
    return v > h ? v : h;
#else
    (void)r;
    return VC_RESIZE_C;
#endif
}

void vc_resize_free(vc_resize *r)
{
    if (!r)
        return;
    free(r->h.off);
    free(r->h.c);
    free(r->v.off);
    free(r->v.c);
    free(r->row);
    free(r->hc8);
    free(r->hoff8);
    free(r->hc16);
    free(r->hidx16);
    free(r->hbase16);
    free(r->hq16);
    free(r->hidxq);
    free(r->vq);
    free(r);
}

void vc_resize_run(vc_resize *r, const uint8_t *src, ptrdiff_t sstride, uint8_t *dst, ptrdiff_t dstride)
{
    const uint8_t *rows[64];
    const uint8_t **rp = r->v.kp <= 64 ? rows : vc_xcalloc((size_t)r->v.kp, sizeof(*rp));
#ifdef VC_RESIZE_X86
    int vl = vlevel(r), hl = hlevel(r);
#endif
    for (int y = 0; y < r->dh; y++) {
        const uint8_t *row;
        if (r->vcopy) {
            row = src + (ptrdiff_t)y * sstride;
        } else {
            const int16_t *c = r->v.c + (size_t)y * (size_t)r->v.kp;
            for (int k = 0; k < r->v.kp; k++)
                rp[k] = src + (ptrdiff_t)(r->v.off[y] + k) * sstride;
#ifdef VC_RESIZE_X86
            if (vl > VC_RESIZE_C) {
                /* rows the next output row reads that this one does not */
                const uint8_t *pf = NULL;
                if (y + 1 < r->dh && r->v.off[y + 1] + r->v.kp > r->v.off[y] + r->v.kp) {
                    int first = r->v.off[y] + r->v.kp;
                    if (first + 1 < r->sh)
                        pf = src + (ptrdiff_t)first * sstride;
                }
                if (vl == VC_RESIZE_VNNI)
                    vpass_vnni(r, rp, c, r->vq + (size_t)y * (size_t)(r->v.kp / 2), r->row, pf, sstride);
                else if (vl == VC_RESIZE_AVX512)
                    vpass_avx512(r, rp, c, r->row, pf, sstride);
                else
                    vpass_avx2(r, rp, c, r->row, pf, sstride);
            }
            else
#endif
                vpass_c(r, rp, c, 0, r->row);
            row = r->row;
        }
        uint8_t *out = dst + (ptrdiff_t)y * dstride;
#ifdef VC_RESIZE_X86
        if (hl == VC_RESIZE_VNNI)
            hpass_vnni(r, row, out);
        else if (hl == VC_RESIZE_AVX512)
            hpass_avx512(r, row, out);
        else if (hl == VC_RESIZE_AVX2)
            hpass_avx2(r, row, out);
        else
#endif
            hpass_c(r, row, 0, out);
    }
    if (rp != rows)
        free(rp);
}

void vc_resize_reference(int sw, int sh, int dw, int dh, double gain, double offset, const uint8_t *src,
                         ptrdiff_t sstride, double *dst)
{
    double *wh, *wv;
    int *xh, *ch, *xv, *cv;
    int kh = weights(sw, dw, &wh, &xh, &ch), kv = weights(sh, dh, &wv, &xv, &cv);
    double *tmp = vc_xcalloc((size_t)dh * (size_t)sw, sizeof(*tmp));
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < sw; x++) {
            double s = 0;
            for (int k = 0; k < cv[y]; k++)
                s += wv[(size_t)y * (size_t)kv + (size_t)k] * src[(ptrdiff_t)(xv[y] + k) * sstride + x];
            tmp[(size_t)y * (size_t)sw + (size_t)x] = s;
        }
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            double s = 0;
            for (int k = 0; k < ch[x]; k++)
                s += wh[(size_t)x * (size_t)kh + (size_t)k] * tmp[(size_t)y * (size_t)sw + (size_t)(xh[x] + k)];
            s = gain * s + offset;
            dst[(size_t)y * (size_t)dw + (size_t)x] = s < 0 ? 0 : s > 255 ? 255 : s;
        }
    free(tmp);
    free(wh);
    free(wv);
    free(xh);
    free(xv);
    free(ch);
    free(cv);
}
