/* Small helpers every module uses: checked allocation and string building. */
#ifndef VC_UTIL_COMMON_H
#define VC_UTIL_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define VC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define VC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VC_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Allocation failure is not recoverable in a batch tool: these abort with a message. */
void *vc_xmalloc(size_t n);
void *vc_xcalloc(size_t n, size_t size);
void *vc_xrealloc(void *p, size_t n);
char *vc_xstrdup(const char *s);
char *vc_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *vc_vasprintf(const char *fmt, va_list ap);

/* Growable byte buffer. */
typedef struct vc_buf {
    uint8_t *data;
    size_t len, cap;
} vc_buf;

void vc_buf_append(vc_buf *b, const void *data, size_t len);
void vc_buf_free(vc_buf *b);

/* Growable list of owned strings. */
typedef struct vc_strlist {
    char **items;
    size_t len, cap;
} vc_strlist;

void vc_strlist_push(vc_strlist *l, const char *s);     /* copies s */
void vc_strlist_push_owned(vc_strlist *l, char *s);     /* takes s */
void vc_strlist_sort(vc_strlist *l);                    /* strcmp order, like Python's sorted() on str */
void vc_strlist_free(vc_strlist *l);

/* Monotonic clock in seconds. */
double vc_now(void);

#endif
