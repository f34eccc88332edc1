/* In-memory AVIOContext: each handle has its own cursor over one shared buffer,
 * like two file descriptors on one file. */
#include "video/memio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/mem.h>

#include "util/common.h"

#define VC_MEMIO_BUFSIZE (64 * 1024)

/* libavformat 61 made the write callback's buffer const. */
#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define VC_AVIO_WBUF const uint8_t
#else
#define VC_AVIO_WBUF uint8_t
#endif

typedef struct memio_handle {
    vc_memfile *mf;
    int64_t pos;
} memio_handle;

static int memfile_reserve(vc_memfile *mf, size_t need)
{
    if (need <= mf->cap)
        return 0;
    size_t cap = mf->cap ? mf->cap : 1 << 20;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(mf->data, cap);
    if (!p)
        return AVERROR(ENOMEM);
    mf->data = p;
    mf->cap = cap;
    return 0;
}

static int memio_write(void *opaque, VC_AVIO_WBUF *buf, int size)
{
    memio_handle *h = opaque;
    vc_memfile *mf = h->mf;
    size_t end = (size_t)h->pos + (size_t)size;
    int ret = memfile_reserve(mf, end);
    if (ret < 0)
        return ret;
    if ((size_t)h->pos > mf->len)   /* seeked past the end: zero the gap */
        memset(mf->data + mf->len, 0, (size_t)h->pos - mf->len);
    memcpy(mf->data + h->pos, buf, (size_t)size);
    h->pos = (int64_t)end;
    if (end > mf->len)
        mf->len = end;
    return size;
}

static int memio_read(void *opaque, uint8_t *buf, int size)
{
    memio_handle *h = opaque;
    vc_memfile *mf = h->mf;
    if (h->pos >= (int64_t)mf->len)
        return AVERROR_EOF;
    size_t n = VC_MIN((size_t)size, mf->len - (size_t)h->pos);
    memcpy(buf, mf->data + h->pos, n);
    h->pos += (int64_t)n;
    return (int)n;
}

static int64_t memio_seek(void *opaque, int64_t offset, int whence)
{
    memio_handle *h = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)h->mf->len;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = h->pos; break;
    case SEEK_END: base = (int64_t)h->mf->len; break;
    default: return AVERROR(EINVAL);
    }
    if (base + offset < 0)
        return AVERROR(EINVAL);
    h->pos = base + offset;
    return h->pos;
}

static AVIOContext *memio_open(vc_memfile *mf, int writable)
{
    memio_handle *h = av_mallocz(sizeof(*h));
    uint8_t *buf = av_malloc(VC_MEMIO_BUFSIZE);
    AVIOContext *pb = NULL;
    if (h && buf)
        pb = avio_alloc_context(buf, VC_MEMIO_BUFSIZE, writable, h,
                                memio_read, writable ? memio_write : NULL, memio_seek);
    if (!pb) {
        av_free(h);
        av_free(buf);
        return NULL;
    }
    h->mf = mf;
    return pb;
}

static void memio_close(AVIOContext *pb)
{
    if (!pb)
        return;
    avio_flush(pb);
    av_freep(&pb->opaque);
    av_freep(&pb->buffer);
    avio_context_free(&pb);
}

/* The muxer only ever re-opens its own output, so any URL maps to the buffer. */
static int memio_io_open(AVFormatContext *s, AVIOContext **pb, const char *url,
                         int flags, AVDictionary **options)
{
    (void)url;
    (void)options;
    *pb = memio_open(s->opaque, (flags & AVIO_FLAG_WRITE) != 0);
    return *pb ? 0 : AVERROR(ENOMEM);
}

static int memio_io_close2(AVFormatContext *s, AVIOContext *pb)
{
    (void)s;
    memio_close(pb);
    return 0;
}

int vc_memio_attach(AVFormatContext *oc, vc_memfile *mf)
{
    oc->pb = memio_open(mf, 1);
    if (!oc->pb)
        return AVERROR(ENOMEM);
    oc->flags |= AVFMT_FLAG_CUSTOM_IO;
    oc->opaque = mf;
    oc->io_open = memio_io_open;
    oc->io_close2 = memio_io_close2;
    return 0;
}

void vc_memio_detach(AVFormatContext *oc)
{
    memio_close(oc->pb);
    oc->pb = NULL;
}

AVIOContext *vc_memio_reader(vc_memfile *mf)
{
    return memio_open(mf, 0);
}

void vc_memio_close_reader(AVIOContext *pb)
{
    memio_close(pb);
}

uint8_t *vc_memfile_take(vc_memfile *mf, size_t *len)
{
    uint8_t *p = mf->data;
    *len = mf->len;
    if (!p)   /* callers always get a freeable pointer */
        p = malloc(1);
    memset(mf, 0, sizeof(*mf));
    return p;
}

void vc_memfile_free(vc_memfile *mf)
{
    free(mf->data);
    memset(mf, 0, sizeof(*mf));
}
