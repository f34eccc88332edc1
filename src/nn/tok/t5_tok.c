#include "nn/tok/t5_tok.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/tok/spm.h"

struct vc_t5_tok {
    vc_spm *spm;
    int eos;
};

/* str.isspace() for one code point (CPython's _PyUnicode_IsWhitespace). */
static bool py_isspace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* Decodes the code point at s[0..n) (n >= 1); returns its byte length, or 0
 * when the bytes are not a valid sequence. */
static size_t utf8_at(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t c;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b >= 0xc2 && b < 0xe0) {
        len = 2;
        c = b & 0x1f;
    } else if (b >= 0xe0 && b < 0xf0) {
        len = 3;
        c = b & 0x0f;
    } else if (b >= 0xf0 && b < 0xf5) {
        len = 4;
        c = b & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

const char *vc_py_strip(const char *s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = *len, start = 0, end = n;
    while (start < end) {
        uint32_t c;
        size_t k = utf8_at(p + start, end - start, &c);
        if (!k || !py_isspace(c))
            break;
        start += k;
    }
    while (end > start) {
        /* the last code point: back over continuation bytes (at most 3) */
        size_t b = end - 1;
        while (b > start && end - b < 4 && (p[b] & 0xc0) == 0x80)
            b--;
        uint32_t c;
        size_t k = utf8_at(p + b, end - b, &c);
        if (k != end - b || !py_isspace(c))
            break;
        end = b;
    }
    *len = end - start;
    return s + start;
}

vc_t5_tok *vc_t5_tok_load(const char *spiece_path, char *err, size_t errlen)
{
    vc_spm *spm = vc_spm_load(spiece_path, err, errlen);
    if (!spm)
        return NULL;
    vc_t5_tok *t = calloc(1, sizeof *t);
    if (!t) {
        vc_spm_free(spm);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->spm = spm;
    /* T5Tokenizer's eos_token is the piece "</s>" (id 1 in T5's spiece.model). */
    int unk = vc_spm_unk_id(spm);
    t->eos = vc_spm_piece_to_id(spm, "</s>");
    if (t->eos == unk || t->eos < 0)
        t->eos = vc_spm_eos_id(spm);
    if (t->eos < 0) {
        snprintf(err, errlen, "%s: the model has no </s> piece", spiece_path);
        vc_t5_tok_free(t);
        return NULL;
    }
    return t;
}

void vc_t5_tok_free(vc_t5_tok *t)
{
    if (!t)
        return;
    vc_spm_free(t->spm);
    free(t);
}

int vc_t5_tok_eos_id(const vc_t5_tok *t)
{
    return t->eos;
}

int vc_t5_tok_vocab_size(const vc_t5_tok *t)
{
    return vc_spm_vocab_size(t->spm);
}

int vc_t5_tok_encode(const vc_t5_tok *t, const char *caption, int max_len, int32_t *ids, char *err,
                     size_t errlen)
{
    if (max_len < 1) {
        snprintf(err, errlen, "max_len must be >= 1");
        return -1;
    }
    size_t len = strlen(caption);
    const char *text = vc_py_strip(caption, &len);
    int32_t *pieces = NULL;
    size_t n = 0;
    if (vc_spm_encode(t->spm, text, len, &pieces, &n, err, errlen))
        return -1;
    /* truncation=True with max_length counts the appended </s> */
    size_t keep = n < (size_t)max_len - 1 ? n : (size_t)max_len - 1;
    if (keep)
        memcpy(ids, pieces, keep * sizeof *ids);
    ids[keep] = t->eos;
    free(pieces);
    return (int)keep + 1;
}
