#include "util/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(size_t n)
{
    fprintf(stderr, "vcurate: out of memory (%zu bytes)\n", n);
    abort();
}

void *vc_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *vc_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *vc_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *vc_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = vc_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

char *vc_vasprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *s = vc_xmalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *vc_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vc_vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void vc_buf_append(vc_buf *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        b->data = vc_xrealloc(b->data, cap);
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
}

void vc_buf_free(vc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void vc_strlist_push_owned(vc_strlist *l, char *s)
{
    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = vc_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->len++] = s;
}

void vc_strlist_push(vc_strlist *l, const char *s)
{
    vc_strlist_push_owned(l, vc_xstrdup(s));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void vc_strlist_sort(vc_strlist *l)
{
    if (l->len > 1)
        qsort(l->items, l->len, sizeof(*l->items), cmp_str);
}

void vc_strlist_free(vc_strlist *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = l->cap = 0;
}

double vc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
