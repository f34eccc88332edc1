/* s3tool: the storage layer (storage/fs.h) from the command line, for the S3
 * tests and benchmarks. Paths are local or s3://bucket/key.
 *   s3tool cp SRC DST     stream SRC to DST (SRC "-" = stdin); multipart on S3
 *   s3tool ls DIR         every file/object under DIR, sorted as split lists them
 *   s3tool cat PATH       the bytes of PATH
 *   s3tool size PATH      its size
 * Exit 0, or 1 with the storage layer's message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/fs.h"
#include "storage/s3.h"
#include "util/common.h"

#define CHUNK (4u << 20)

static int fail(const char *path, int rc)
{
    fprintf(stderr, "s3tool: %s: %s\n", path, vc_fs_strerror(path, rc));
    return 1;
}

/* A file to s3://: read straight into the writer's part buffers (no copy
 * through an intermediate buffer). */
static int cp_to_s3(vc_fs_file *in, const char *src, const char *dst)
{
    vc_s3_writer *w = vc_s3_writer_open(dst);
    int64_t off = 0;
    double t0 = vc_now();
    for (;;) {
        size_t room;
        void *p = vc_s3_writer_space(w, &room);
        int64_t n = vc_fs_pread(in, p, room, off);
        if (n < 0) {
            vc_s3_writer_abort(w);
            vc_fs_close(in);
            return fail(src, (int)n);
        }
        if (n == 0)
            break;
        int rc = vc_s3_writer_commit(w, (size_t)n);
        if (rc) {
            vc_s3_writer_abort(w);
            vc_fs_close(in);
            return fail(dst, rc);
        }
        off += n;
    }
    vc_fs_close(in);
    int rc = vc_s3_writer_finish(w);
    if (rc)
        return fail(dst, rc);
    double el = vc_now() - t0;
    fprintf(stderr, "s3tool: %lld bytes in %.2f s (%.1f MB/s)\n", (long long)off, el,
            el > 0 ? (double)off / el / 1e6 : 0.0);
    return 0;
}

static int cp(const char *src, const char *dst)
{
    int rc = 0;
    vc_fs_file *in = NULL;
    if (strcmp(src, "-") != 0 && !(in = vc_fs_open_read(src, &rc)))
        return fail(src, rc);
    if (in && vc_s3_is_url(dst) && !getenv("S3TOOL_COPY"))
        return cp_to_s3(in, src, dst);
    vc_fs_writer *w = vc_fs_writer_open(dst, &rc);
    if (!w) {
        vc_fs_close(in);
        return fail(dst, rc);
    }
    char *buf = vc_xmalloc(CHUNK);
    int64_t off = 0;
    double t0 = vc_now();
    for (;;) {
        int64_t n;
        if (in) {
            n = vc_fs_pread(in, buf, CHUNK, off);
        } else {
            n = 0;
            while (n < (int64_t)CHUNK) {
                ssize_t r = read(0, buf + n, CHUNK - (size_t)n);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    if (r < 0)
                        n = -errno;
                    break;
                }
                n += r;
            }
        }
        if (n < 0) {
            vc_fs_writer_abort(w);
            vc_fs_close(in);
            free(buf);
            return fail(src, (int)n);
        }
        if (n == 0)
            break;
        if ((rc = vc_fs_writer_write(w, buf, (size_t)n)) != 0)
            break;
        off += n;
    }
    free(buf);
    vc_fs_close(in);
    rc = vc_fs_writer_commit(w);
    if (rc)
        return fail(dst, rc);
    double el = vc_now() - t0;
    fprintf(stderr, "s3tool: %lld bytes in %.2f s (%.1f MB/s)\n", (long long)off, el,
            el > 0 ? (double)off / el / 1e6 : 0.0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "cp"))
        return cp(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "ls")) {
        vc_strlist l = { 0 };
        int rc = vc_fs_list_recursive(argv[2], &l);
        for (size_t i = 0; i < l.len; i++)
            puts(l.items[i]);
        vc_strlist_free(&l);
        return rc && rc != -ENOENT ? fail(argv[2], rc) : 0;
    }
    if (argc == 3 && !strcmp(argv[1], "cat")) {
        size_t len = 0;
        char *d = vc_fs_read_all(argv[2], &len);
        if (!d)
            return fail(argv[2], -errno);
        fwrite(d, 1, len, stdout);
        free(d);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "size")) {
        int64_t size = 0;
        int rc = vc_fs_size(argv[2], &size);
        if (rc)
            return fail(argv[2], rc);
        printf("%lld\n", (long long)size);
        return 0;
    }
    fprintf(stderr, "usage: s3tool cp SRC DST | ls DIR | cat PATH | size PATH\n");
    return 2;
}
