#include "caption/body.h"

#include <stdlib.h>
#include <string.h>

#include "util/common.h"

typedef struct piece {
    const char *borrowed;   /* NULL: the body's own text at off */
    size_t off, len;
} piece;

struct vc_cap_body {
    vc_buf text;                /* the owned pieces, back to back */
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
    vc_buf_free(&b->text);
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
    size_t off = b->text.len;
    vc_buf_append(&b->text, s, n);
    piece *last = b->n ? &b->piece[b->n - 1] : NULL;
    if (last && !last->borrowed) {
        last->len += n;   /* it ends where this text starts */
    } else {
        piece *p = push_piece(b);
        p->off = off;
        p->len = n;
    }
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
            memcpy(dst + done, (p->borrowed ? p->borrowed : (const char *)b->text.data + p->off) + from, k);
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
