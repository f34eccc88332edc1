#include "video/srcio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "storage/fs.h"
#include "storage/s3.h"
#include "util/common.h"

#define AVIO_BUF (256 * 1024)

typedef struct src_io {
    vc_fs_file *f;
    int64_t pos;
} src_io;

static int src_read(void *opaque, uint8_t *buf, int size)
{
    src_io *s = opaque;
    int64_t n = vc_fs_pread(s->f, buf, (size_t)size, s->pos);
    if (n < 0)
        return AVERROR(EIO);
    if (n == 0)
        return AVERROR_EOF;
    s->pos += n;
    return (int)n;
}

static int64_t src_seek(void *opaque, int64_t offset, int whence)
{
    src_io *s = opaque;
    int64_t size = vc_fs_file_size(s->f);
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE)
        return size;
    int64_t to = whence == SEEK_SET ? offset : whence == SEEK_CUR ? s->pos + offset
               : whence == SEEK_END ? size + offset : -1;
    if (to < 0)
        return AVERROR(EINVAL);
    s->pos = to;
    return to;
}

int vc_src_open(AVFormatContext **fmt, const char *path, char *err, size_t errlen)
{
    if (!vc_s3_is_url(path))
        return avformat_open_input(fmt, path, NULL, NULL);
    int rc = 0;
    vc_fs_file *f = vc_fs_open_read(path, &rc);
    if (!f) {
        if (err)
            snprintf(err, errlen, "%s", vc_fs_strerror(path, rc));
        return AVERROR(-rc);
    }
    src_io *s = vc_xcalloc(1, sizeof *s);
    s->f = f;
    unsigned char *buf = av_malloc(AVIO_BUF);
    AVIOContext *pb = avio_alloc_context(buf, AVIO_BUF, 0, s, src_read, NULL, src_seek);
    AVFormatContext *ctx = avformat_alloc_context();
    ctx->pb = pb;
    ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
    rc = avformat_open_input(&ctx, path, NULL, NULL);
    if (rc < 0) {
        /* ctx is freed by avformat_open_input; custom I/O is ours */
        av_freep(&pb->buffer);
        avio_context_free(&pb);
        vc_fs_close(f);
        free(s);
        return rc;
    }
    *fmt = ctx;
    return 0;
}

void vc_src_close(AVFormatContext **fmt)
{
    if (!*fmt)
        return;
    AVIOContext *pb = ((*fmt)->flags & AVFMT_FLAG_CUSTOM_IO) ? (*fmt)->pb : NULL;
    src_io *s = pb && pb->read_packet == src_read ? pb->opaque : NULL;
    avformat_close_input(fmt);
    if (s) {
        av_freep(&pb->buffer);
        avio_context_free(&pb);
        vc_fs_close(s->f);
        free(s);
    }
}
