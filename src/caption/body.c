#include "caption/body.h"

#include <stdlib.h>
#include <string.h>

#include "util/common.h"

typedef struct piece {
    const char *borrowed;   /* NULL: the body's own text at off */
    size_t off, len;
} piece;

struct vc_cap_body {
    char *text;
    size_t text_len, text_cap;
    piece *piece;
    int n, cap;
    size_t len;
};

vc_cap_body *vc_cap_body_new(void)
{
    return vc_xcalloc(1, sizeof(vc_cap_body));
}

void vc_cap_body_free(vc_cap_body *b)
{
    if (!b)
        return;
    free(b->text);
    free(b->piece);
    free(b);
}

static piece *push_piece(vc_cap_body *b)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->piece = vc_xrealloc(b->piece, (size_t)b->cap * sizeof(*b->piece));
    }
    piece *p = &b->piece[b->n++];
    memset(p, 0, sizeof(*p));
    return p;
}

void vc_cap_body_add(vc_cap_body *b, const char *s, size_t n)
{
    if (b->text_len + n > b->text_cap) {
        size_t nc = b->text_cap ? b->text_cap : 1024;
        while (nc < b->text_len + n)
            nc *= 2;
        b->text = vc_xrealloc(b->text, nc);
        b->text_cap = nc;
    }
    memcpy(b->text + b->text_len, s, n);
    piece *last = b->n ? &b->piece[b->n - 1] : NULL;
    if (last && !last->borrowed) {
        last->len += n;   /* the text pieces are back to back */
    } else {
        piece *p = push_piece(b);
        p->off = b->text_len;
        p->len = n;
    }
    b->text_len += n;
    b->len += n;
}

void vc_cap_body_borrow(vc_cap_body *b, const char *s, size_t n)
{
    piece *p = push_piece(b);
    p->borrowed = s;
    p->len = n;
    b->len += n;
}

size_t vc_cap_body_len(const vc_cap_body *b)
{
    return b->len;
}

size_t vc_cap_body_read(const vc_cap_body *b, size_t at, char *dst, size_t n)
{
    size_t done = 0, start = 0;
    for (int i = 0; i < b->n && done < n; i++) {
        const piece *p = &b->piece[i];
        if (at < start + p->len) {
            size_t from = at - start, k = p->len - from;
            if (k > n - done)
                k = n - done;
            memcpy(dst + done, (p->borrowed ? p->borrowed : b->text + p->off) + from, k);
            done += k;
            at += k;
        }
        start += p->len;
    }
    return done;
}

char *vc_cap_body_join(const vc_cap_body *b)
{
    char *s = vc_xmalloc(b->len + 1);
    size_t n = vc_cap_body_read(b, 0, s, b->len);
    s[n] = 0;
    return s;
}
