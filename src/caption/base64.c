#include "caption/base64.h"

#include "util/common.h"
#include "util/cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VC_B64_X86 1
#include <immintrin.h>
#endif

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Bytes d[i..len) into o; returns the end of the output. */
static char *encode_tail(const uint8_t *d, size_t i, size_t len, char *o)
{
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *o++ = ALPHABET[v >> 18];
        *o++ = ALPHABET[(v >> 12) & 63];
        *o++ = ALPHABET[(v >> 6) & 63];
        *o++ = ALPHABET[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < len ? (uint32_t)d[i + 1] << 8 : 0);
        *o++ = ALPHABET[v >> 18];
        *o++ = ALPHABET[(v >> 12) & 63];
        *o++ = i + 1 < len ? ALPHABET[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    return o;
}

#ifdef VC_B64_X86
/* 24 input bytes -> 32 characters: each 3-byte group is spread over a
 * 32-bit lane, its four 6-bit fields moved to byte positions with two
 * multiplies, and each index turned into ASCII by adding an offset looked
 * up (pshufb) by its range. Reads 28 bytes per step. */
__attribute__((target("avx2"))) static size_t encode_avx2(const uint8_t *d, size_t len, char *o)
{
    const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
                                            1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    const __m256i offsets = _mm256_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                             '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0,
                                             'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                             '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
    size_t i = 0;
    for (; i + 28 <= len; i += 24, o += 32) {
        __m256i v = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(d + i + 12)),
                                     _mm_loadu_si128((const __m128i *)(d + i)));
        v = _mm256_shuffle_epi8(v, spread);
        __m256i a = _mm256_mulhi_epu16(_mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00)),
                                       _mm256_set1_epi32(0x04000040));
        __m256i b = _mm256_mullo_epi16(_mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0)),
                                       _mm256_set1_epi32(0x01000010));
        __m256i idx = _mm256_or_si256(a, b);
        /* 0..25 -> 13, 26..51 -> 0, 52..61 -> 1..10, 62 -> 11, 63 -> 12 */
        __m256i r = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
        r = _mm256_or_si256(r, _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx), _mm256_set1_epi8(13)));
        _mm256_storeu_si256((__m256i *)o, _mm256_add_epi8(idx, _mm256_shuffle_epi8(offsets, r)));
    }
    return i;
}
#endif

static char *encode(const uint8_t *d, size_t len, size_t *out_len, int simd)
{
    size_t n = 4 * ((len + 2) / 3);
    char *s = vc_xmalloc(n + 1), *o = s;
    size_t i = 0;
#ifdef VC_B64_X86
    if (simd && (vc_cpu_flags() & VC_CPU_AVX2)) {
        i = encode_avx2(d, len, o);
        o += i / 3 * 4;
    }
#else
    (void)simd;
#endif
    encode_tail(d, i, len, o);
    if (out_len)
        *out_len = n;
    return s;
}

char *vc_b64_encode(const uint8_t *d, size_t len, size_t *out_len)
{
    return encode(d, len, out_len, 1);
}

char *vc_b64_encode_c(const uint8_t *d, size_t len, size_t *out_len)
{
    return encode(d, len, out_len, 0);
}
