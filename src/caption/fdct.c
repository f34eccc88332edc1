#include "caption/fdct.h"

#include "util/cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VC_FDCT_X86 1
#include <immintrin.h>
#endif

/* jfdctint.c's constants: FIX(x) = round(x * 2^13). */
enum {
    CONST_BITS = 13,
    PASS1_BITS = 2,
    F0298 = 2446, F0390 = 3196, F0541 = 4433, F0765 = 6270, F0899 = 7373, F1175 = 9633,
    F1501 = 12299, F1847 = 15137, F1961 = 16069, F2053 = 16819, F2562 = 20995, F3072 = 25172,
};

/* libjpeg-turbo's compute_reciprocal() for divisor q * 8 (the accurate
 * DCT leaves its output scaled by 8): x / d as (x + corr) * recip >> r,
 * with recip rounded so the quotient rounds to nearest. */
void vc_fdct_div_init(vc_fdct_div *d, const uint16_t quantval[64])
{
    for (int i = 0; i < 64; i++) {
        uint32_t div = (uint32_t)quantval[i] << 3;
        int b = 31 - __builtin_clz(div);
        int r = 16 + b;
        uint32_t fq = (1u << r) / div, fr = (1u << r) % div, c = div / 2;
        if (fr == 0) {            /* a power of two: one bit less */
            fq >>= 1;
            r--;
        } else if (fr <= div / 2) {
            c++;
        } else {
            fq++;
        }
        d->recip[i] = (uint16_t)fq;
        d->corr[i] = (uint16_t)c;
        d->scale[i] = (uint16_t)(1u << (32 - r));
        d->shift[i] = (uint8_t)r;
    }
}

static int32_t descale(int32_t x, int n)
{
    return (x + (1 << (n - 1))) >> n;
}

/* One 8-point DCT of p[0], p[s], ..., p[7s]: pass 1 (rows) keeps 2 more
 * bits, pass 2 (columns) removes them. */
static void dct8_c(int32_t *p, int s, int pass)
{
    int32_t t0 = p[0] + p[7 * s], t7 = p[0] - p[7 * s], t1 = p[s] + p[6 * s], t6 = p[s] - p[6 * s];
    int32_t t2 = p[2 * s] + p[5 * s], t5 = p[2 * s] - p[5 * s], t3 = p[3 * s] + p[4 * s], t4 = p[3 * s] - p[4 * s];
    int32_t t10 = t0 + t3, t13 = t0 - t3, t11 = t1 + t2, t12 = t1 - t2;
    int n = pass == 1 ? CONST_BITS - PASS1_BITS : CONST_BITS + PASS1_BITS;
    if (pass == 1) {
        p[0] = (t10 + t11) * (1 << PASS1_BITS);
        p[4 * s] = (t10 - t11) * (1 << PASS1_BITS);
    } else {
        p[0] = descale(t10 + t11, PASS1_BITS);
        p[4 * s] = descale(t10 - t11, PASS1_BITS);
    }
    int32_t z1 = (t12 + t13) * F0541;
    p[2 * s] = descale(z1 + t13 * F0765, n);
    p[6 * s] = descale(z1 - t12 * F1847, n);
    int32_t o1 = t4 + t7, o2 = t5 + t6, o3 = t4 + t6, o4 = t5 + t7, z5 = (o3 + o4) * F1175;
    o1 *= -F0899;
    o2 *= -F2562;
    o3 = o3 * -F1961 + z5;
    o4 = o4 * -F0390 + z5;
    p[7 * s] = descale(t4 * F0298 + o1 + o3, n);
    p[5 * s] = descale(t5 * F2053 + o2 + o4, n);
    p[3 * s] = descale(t6 * F3072 + o2 + o3, n);
    p[s] = descale(t7 * F1501 + o1 + o4, n);
}

static void fdct1_c(const uint8_t *const rows[8], int x, const vc_fdct_div *d, int16_t *out)
{
    int32_t b[64];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            b[i * 8 + j] = rows[i][x + j] - 128;
    for (int i = 0; i < 8; i++)
        dct8_c(b + i * 8, 1, 1);
    for (int j = 0; j < 8; j++)
        dct8_c(b + j, 8, 2);
    for (int i = 0; i < 64; i++) {
        uint32_t a = (uint32_t)(b[i] < 0 ? -b[i] : b[i]);
        int32_t q = (int32_t)(((a + d->corr[i]) * d->recip[i]) >> d->shift[i]);
        out[i] = (int16_t)(b[i] < 0 ? -q : q);
    }
}

static void fdct2_c(const uint8_t *const ra[8], int xa, const uint8_t *const rb[8], int xb, const vc_fdct_div *d,
                int16_t *oa, int16_t *ob)
{
    fdct1_c(ra, xa, d, oa);
    fdct1_c(rb, xb, d, ob);
}

#ifdef VC_FDCT_X86
/* 16-bit lanes, block A in the low 128 bits and block B in the high: the
 * same arithmetic as dct8_c, the products as pmaddwd of interleaved pairs
 * (exact: libjpeg-turbo's ranges keep every 16-bit value in range). */
#define T_AVX2 __attribute__((target("avx2"), always_inline)) static inline

T_AVX2 void transpose8(__m256i v[8])
{
    __m256i a0 = _mm256_unpacklo_epi16(v[0], v[1]), a1 = _mm256_unpackhi_epi16(v[0], v[1]);
    __m256i a2 = _mm256_unpacklo_epi16(v[2], v[3]), a3 = _mm256_unpackhi_epi16(v[2], v[3]);
    __m256i a4 = _mm256_unpacklo_epi16(v[4], v[5]), a5 = _mm256_unpackhi_epi16(v[4], v[5]);
    __m256i a6 = _mm256_unpacklo_epi16(v[6], v[7]), a7 = _mm256_unpackhi_epi16(v[6], v[7]);
    __m256i b0 = _mm256_unpacklo_epi32(a0, a2), b1 = _mm256_unpackhi_epi32(a0, a2);
    __m256i b2 = _mm256_unpacklo_epi32(a1, a3), b3 = _mm256_unpackhi_epi32(a1, a3);
    __m256i b4 = _mm256_unpacklo_epi32(a4, a6), b5 = _mm256_unpackhi_epi32(a4, a6);
    __m256i b6 = _mm256_unpacklo_epi32(a5, a7), b7 = _mm256_unpackhi_epi32(a5, a7);
    v[0] = _mm256_unpacklo_epi64(b0, b4);
    v[1] = _mm256_unpackhi_epi64(b0, b4);
    v[2] = _mm256_unpacklo_epi64(b1, b5);
    v[3] = _mm256_unpackhi_epi64(b1, b5);
    v[4] = _mm256_unpacklo_epi64(b2, b6);
    v[5] = _mm256_unpackhi_epi64(b2, b6);
    v[6] = _mm256_unpacklo_epi64(b3, b7);
    v[7] = _mm256_unpackhi_epi64(b3, b7);
}

/* Two 16-bit constants as the (even, odd) lanes of pmaddwd's multiplier. */
T_AVX2 __m256i pair(int lo, int hi)
{
    return _mm256_set1_epi32((int32_t)(((uint32_t)(uint16_t)hi << 16) | (uint16_t)lo));
}

/* descale(a*ka + b*kb + extra, n) for the 16 lanes of a and b, extra
 * given as the two 32-bit halves already multiplied (NULL: none). */
T_AVX2 __m256i rot(__m256i lo, __m256i hi, __m256i k, const __m256i *xlo, const __m256i *xhi, __m256i rnd, int n)
{
    __m256i l = _mm256_madd_epi16(lo, k), h = _mm256_madd_epi16(hi, k);
    if (xlo) {
        l = _mm256_add_epi32(l, *xlo);
        h = _mm256_add_epi32(h, *xhi);
    }
    l = _mm256_srai_epi32(_mm256_add_epi32(l, rnd), n);
    h = _mm256_srai_epi32(_mm256_add_epi32(h, rnd), n);
    return _mm256_packs_epi32(l, h);
}

T_AVX2 void dct8_avx2(__m256i v[8], int pass)
{
    const int n = pass == 1 ? CONST_BITS - PASS1_BITS : CONST_BITS + PASS1_BITS;
    const __m256i rnd = _mm256_set1_epi32(1 << (n - 1));
    __m256i t0 = _mm256_add_epi16(v[0], v[7]), t7 = _mm256_sub_epi16(v[0], v[7]);
    __m256i t1 = _mm256_add_epi16(v[1], v[6]), t6 = _mm256_sub_epi16(v[1], v[6]);
    __m256i t2 = _mm256_add_epi16(v[2], v[5]), t5 = _mm256_sub_epi16(v[2], v[5]);
    __m256i t3 = _mm256_add_epi16(v[3], v[4]), t4 = _mm256_sub_epi16(v[3], v[4]);
    __m256i t10 = _mm256_add_epi16(t0, t3), t13 = _mm256_sub_epi16(t0, t3);
    __m256i t11 = _mm256_add_epi16(t1, t2), t12 = _mm256_sub_epi16(t1, t2);
    if (pass == 1) {
        v[0] = _mm256_slli_epi16(_mm256_add_epi16(t10, t11), PASS1_BITS);
        v[4] = _mm256_slli_epi16(_mm256_sub_epi16(t10, t11), PASS1_BITS);
    } else {
        const __m256i two = _mm256_set1_epi16(1 << (PASS1_BITS - 1));
        v[0] = _mm256_srai_epi16(_mm256_add_epi16(_mm256_add_epi16(t10, t11), two), PASS1_BITS);
        v[4] = _mm256_srai_epi16(_mm256_add_epi16(_mm256_sub_epi16(t10, t11), two), PASS1_BITS);
    }
    /* even: z1 = (t12 + t13) c0541 folded into each product */
    __m256i e_lo = _mm256_unpacklo_epi16(t13, t12), e_hi = _mm256_unpackhi_epi16(t13, t12);
    v[2] = rot(e_lo, e_hi, pair(F0541 + F0765, F0541), NULL, NULL, rnd, n);
    v[6] = rot(e_lo, e_hi, pair(F0541, F0541 - F1847), NULL, NULL, rnd, n);
    /* odd: z5 folded into z3' = z3 (-c1961) + z5 and z4' = z4 (-c0390) + z5 */
    __m256i z3 = _mm256_add_epi16(t4, t6), z4 = _mm256_add_epi16(t5, t7);
    __m256i z_lo = _mm256_unpacklo_epi16(z3, z4), z_hi = _mm256_unpackhi_epi16(z3, z4);
    __m256i k3 = pair(F1175 - F1961, F1175), k4 = pair(F1175, F1175 - F0390);
    __m256i z3l = _mm256_madd_epi16(z_lo, k3), z3h = _mm256_madd_epi16(z_hi, k3);
    __m256i z4l = _mm256_madd_epi16(z_lo, k4), z4h = _mm256_madd_epi16(z_hi, k4);
    /* z1 = t4 + t7 and z2 = t5 + t6 folded into the pairs' products */
    __m256i a_lo = _mm256_unpacklo_epi16(t4, t7), a_hi = _mm256_unpackhi_epi16(t4, t7);
    __m256i b_lo = _mm256_unpacklo_epi16(t5, t6), b_hi = _mm256_unpackhi_epi16(t5, t6);
    v[7] = rot(a_lo, a_hi, pair(F0298 - F0899, -F0899), &z3l, &z3h, rnd, n);
    v[1] = rot(a_lo, a_hi, pair(-F0899, F1501 - F0899), &z4l, &z4h, rnd, n);
    v[5] = rot(b_lo, b_hi, pair(F2053 - F2562, -F2562), &z4l, &z4h, rnd, n);
    v[3] = rot(b_lo, b_hi, pair(-F2562, F3072 - F2562), &z3l, &z3h, rnd, n);
}

/* A table's row i (8 values) in both lanes. */
T_AVX2 __m256i row2(const uint16_t *t, int i)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(t + 8 * i)));
}

/* Row i of both blocks, widened to 16 bits. */
T_AVX2 __m256i load2(const uint8_t *const ra[8], int xa, const uint8_t *const rb[8], int xb, int i)
{
    __m128i a = _mm_loadl_epi64((const __m128i *)(ra[i] + xa)), b = _mm_loadl_epi64((const __m128i *)(rb[i] + xb));
    return _mm256_cvtepu8_epi16(_mm_unpacklo_epi64(a, b));
}

/* Row i of both blocks' coefficients quantised and stored. */
T_AVX2 void quant2(__m256i v, const vc_fdct_div *d, int i, int16_t *oa, int16_t *ob)
{
    __m256i a = _mm256_abs_epi16(v);
    a = _mm256_mulhi_epu16(_mm256_add_epi16(a, row2(d->corr, i)), row2(d->recip, i));
    a = _mm256_sign_epi16(_mm256_mulhi_epu16(a, row2(d->scale, i)), v);
    _mm_storeu_si128((__m128i *)(oa + 8 * i), _mm256_castsi256_si128(a));
    _mm_storeu_si128((__m128i *)(ob + 8 * i), _mm256_extracti128_si256(a, 1));
}

/* Written out, not looped: the eight rows stay in registers. */
#define FDCT2_BODY                                                                                                 \
    __m256i v[8] = { load2(ra, xa, rb, xb, 0), load2(ra, xa, rb, xb, 1), load2(ra, xa, rb, xb, 2),                \
                     load2(ra, xa, rb, xb, 3), load2(ra, xa, rb, xb, 4), load2(ra, xa, rb, xb, 5),                \
                     load2(ra, xa, rb, xb, 6), load2(ra, xa, rb, xb, 7) };                                        \
    transpose8(v);                                                                                                 \
    dct8_avx2(v, 1);                                                                                               \
    /* the samples' -128 level shift, which only reaches each row's DC: 8 x -128 << PASS1_BITS */                 \
    v[0] = _mm256_sub_epi16(v[0], _mm256_set1_epi16(8 * 128 << PASS1_BITS));                                      \
    transpose8(v);                                                                                                 \
    dct8_avx2(v, 2);                                                                                               \
    quant2(v[0], d, 0, oa, ob);                                                                                    \
    quant2(v[1], d, 1, oa, ob);                                                                                    \
    quant2(v[2], d, 2, oa, ob);                                                                                    \
    quant2(v[3], d, 3, oa, ob);                                                                                    \
    quant2(v[4], d, 4, oa, ob);                                                                                    \
    quant2(v[5], d, 5, oa, ob);                                                                                    \
    quant2(v[6], d, 6, oa, ob);                                                                                    \
    quant2(v[7], d, 7, oa, ob);

__attribute__((target("avx2"))) static void fdct2_avx2(const uint8_t *const ra[8], int xa,
                                                        const uint8_t *const rb[8], int xb, const vc_fdct_div *d,
                                                        int16_t *oa, int16_t *ob)
{
    FDCT2_BODY
}

/* The same code with AVX-512VL's 32 vector registers: no spills. */
__attribute__((target("avx2,avx512f,avx512vl,avx512bw"))) static void
fdct2_avx512vl(const uint8_t *const ra[8], int xa, const uint8_t *const rb[8], int xb, const vc_fdct_div *d,
               int16_t *oa, int16_t *ob)
{
    FDCT2_BODY
}
#endif

vc_fdct2_fn vc_fdct2_path(int path)
{
    switch (path) {
    case VC_FDCT_C:
        return fdct2_c;
#ifdef VC_FDCT_X86
    case VC_FDCT_AVX2:
        return vc_cpu_flags() & VC_CPU_AVX2 ? fdct2_avx2 : NULL;
    case VC_FDCT_AVX512VL:
        return vc_cpu_flags() & VC_CPU_AVX512 ? fdct2_avx512vl : NULL;
#endif
    default:
        return NULL;
    }
}

vc_fdct2_fn vc_fdct2_best(void)
{
    for (int p = VC_FDCT_AVX512VL; p > VC_FDCT_C; p--)
        if (vc_fdct2_path(p))
            return vc_fdct2_path(p);
    return NULL;   /* libjpeg-turbo's own SIMD (e.g. NEON) beats our C */
}
