#include "shard/tarwriter.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "storage/fs.h"
#include "util/common.h"

#define TAR_BLOCK 512
#define TAR_RECORD 10240          /* Python tarfile's RECORDSIZE */
#define COPY_CHUNK (1 << 20)

struct vc_tar {
    struct archive *a;
    int fd;
    char *path, *tmp;
    int64_t written;      /* bytes in the file so far */
    int64_t swallow;      /* bytes libarchive will send that we already wrote */
    int write_errno;
    vc_fs_writer *out;    /* s3:// tars: streamed as a multipart upload */
};

static atomic_int copy_range_enabled = 1;
static atomic_ulong temp_counter;

void vc_tar_set_copy_range(int enabled) { atomic_store(&copy_range_enabled, enabled); }

static int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

int64_t vc_tar_expected_size(const int64_t *member_sizes, size_t n)
{
    int64_t total = 2 * TAR_BLOCK; /* end-of-archive blocks */
    for (size_t i = 0; i < n; i++)
        total += TAR_BLOCK + round_up(member_sizes[i], TAR_BLOCK);
    return round_up(total, TAR_RECORD);
}

/* Same pattern as storage/fs.c's temporaries (".<base>.tmp-<pid>-<tid>-<n>"),
 * so vc_fs_clean_temp and vc_fs_is_temp_name recognise leftovers. */
static char *temp_path_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    return vc_asprintf("%.*s.%s.tmp-%ld-%ld-%lu", dir_len, path, base, (long)getpid(),
                       (long)syscall(SYS_gettid), atomic_fetch_add(&temp_counter, 1));
}

static int write_fully(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* libarchive's output callback. Bytes we already copied file-to-file come
 * back from libarchive as the entry's "unwritten" zero fill: drop those. */
static la_ssize_t on_write(struct archive *a, void *opaque, const void *buf, size_t len)
{
    vc_tar *t = opaque;
    size_t skip = (size_t)VC_MIN((int64_t)len, t->swallow);
    t->swallow -= (int64_t)skip;
    int rc = t->out ? vc_fs_writer_write(t->out, (const char *)buf + skip, len - skip)
                    : write_fully(t->fd, (const char *)buf + skip, len - skip);
    if (rc < 0) {
        t->write_errno = -rc;
        archive_set_error(a, -rc, "%s", strerror(-rc));
        return -1;
    }
    t->written += (int64_t)(len - skip);
    return (la_ssize_t)len;
}

static char *archive_err(vc_tar *t, const char *what)
{
    const char *msg = archive_error_string(t->a);
    return vc_asprintf("%s: %s: %s", t->tmp, what, msg ? msg : "unknown libarchive error");
}

vc_tar *vc_tar_open(const char *path, char **err)
{
    vc_tar *t = vc_xcalloc(1, sizeof(*t));
    t->path = vc_xstrdup(path);
    if (!strncmp(path, "s3://", 5)) {
        /* an object appears only when its upload completes: no temporary */
        int rc = 0;
        t->fd = -1;
        t->tmp = vc_xstrdup(path);
        t->out = vc_fs_writer_open(path, &rc);
    } else {
        t->tmp = temp_path_for(path);
        t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    }
    if (t->fd < 0 && !t->out) {
        *err = vc_asprintf("cannot create %s: %s", t->tmp, strerror(errno));
        free(t->tmp);
        free(t->path);
        free(t);
        return NULL;
    }
    t->a = archive_write_new();
    /* Unblocked: every write goes straight to on_write; vc_tar_commit pads
     * the end to Python's record size itself. */
    if (archive_write_set_format_ustar(t->a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(t->a, 0) != ARCHIVE_OK ||
        archive_write_open(t->a, t, NULL, on_write, NULL) != ARCHIVE_OK) {
        *err = archive_err(t, "cannot start tar");
        vc_tar_abort(t);
        return NULL;
    }
    return t;
}

static int write_member_header(vc_tar *t, const char *name, int64_t size, char **err)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0444);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, "bigdata");
    archive_entry_set_gname(e, "bigdata");
    archive_entry_set_mtime(e, VC_TAR_MTIME, 0);
    int rc = archive_write_header(t->a, e);
    archive_entry_free(e);
    if (rc != ARCHIVE_OK) {
        *err = archive_err(t, name);
        return -1;
    }
    return 0;
}

static int finish_member(vc_tar *t, const char *name, char **err)
{
    if (archive_write_finish_entry(t->a) != ARCHIVE_OK) {
        *err = archive_err(t, name);
        return -1;
    }
    return 0;
}

int vc_tar_add_bytes(vc_tar *t, const char *name, const void *data, size_t len, char **err)
{
    if (write_member_header(t, name, (int64_t)len, err) < 0)
        return -1;
    if (len > 0 && archive_write_data(t->a, data, len) != (la_ssize_t)len) {
        *err = archive_err(t, name);
        return -1;
    }
    return finish_member(t, name, err);
}

/* copy_file_range as far as the kernel allows; returns bytes copied (maybe
 * fewer than asked when the call is unsupported here) or -errno on a real
 * I/O error. */
static int64_t copy_direct(vc_tar *t, int src_fd, int64_t size)
{
    if (!atomic_load(&copy_range_enabled) || t->out)
        return 0;
    loff_t src_off = 0;
    int64_t done = 0;
    while (done < size) {
        ssize_t n = copy_file_range(src_fd, &src_off, t->fd, NULL, (size_t)(size - done), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP ||
                errno == EBADF || errno == EPERM)
                break; /* not possible here: finish through the buffer */
            return -errno;
        }
        if (n == 0)
            break; /* source shorter than expected: the buffered path reports it */
        done += n;
    }
    return done;
}

static int copy_buffered(vc_tar *t, const char *name, int src_fd, int64_t offset, int64_t size,
                         char **err)
{
    char *buf = vc_xmalloc(COPY_CHUNK);
    int rc = 0;
    while (offset < size) {
        size_t want = (size_t)VC_MIN((int64_t)COPY_CHUNK, size - offset);
        ssize_t n = pread(src_fd, buf, want, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = n < 0 ? vc_asprintf("%s: read error: %s", name, strerror(errno))
                         : vc_asprintf("%s: file is shorter than its %lld bytes", name,
                                       (long long)size);
            rc = -1;
            break;
        }
        if (archive_write_data(t->a, buf, (size_t)n) != n) {
            *err = archive_err(t, name);
            rc = -1;
            break;
        }
        offset += n;
    }
    free(buf);
    return rc;
}

int vc_tar_add_file(vc_tar *t, const char *name, int src_fd, int64_t size, char **err)
{
    if (write_member_header(t, name, size, err) < 0)
        return -1;
    int64_t direct = copy_direct(t, src_fd, size);
    if (direct < 0) {
        *err = vc_asprintf("%s: copy error: %s", name, strerror((int)-direct));
        return -1;
    }
    t->written += direct;
    if (direct < size && copy_buffered(t, name, src_fd, direct, size, err) < 0)
        return -1;
    /* libarchive zero-fills the bytes it did not see; they are on disk already. */
    t->swallow = direct;
    return finish_member(t, name, err);
}

void vc_tar_abort(vc_tar *t)
{
    if (!t)
        return;
    if (t->a)
        archive_write_free(t->a); /* may flush: harmless, the file is dropped */
    if (t->fd >= 0)
        close(t->fd);
    if (t->out)
        vc_fs_writer_abort(t->out);
    else
        unlink(t->tmp);
    free(t->tmp);
    free(t->path);
    free(t);
}

int vc_tar_commit(vc_tar *t, char **err)
{
    if (archive_write_close(t->a) != ARCHIVE_OK) {
        *err = archive_err(t, "cannot finish tar");
        vc_tar_abort(t);
        return -1;
    }
    archive_write_free(t->a);
    t->a = NULL;
    static const char zeros[TAR_RECORD];
    int64_t pad = round_up(t->written, TAR_RECORD) - t->written;
    if (t->out) {
        vc_fs_writer_write(t->out, zeros, (size_t)pad); /* an error is kept for commit */
        int rc = vc_fs_writer_commit(t->out);
        t->out = NULL; /* commit freed it, on success and on failure */
        if (rc) {
            *err = vc_asprintf("cannot write %s: %s", t->path, vc_fs_strerror(t->path, rc));
            vc_tar_abort(t);
            return -1;
        }
        free(t->tmp);
        free(t->path);
        free(t);
        return 0;
    }
    int rc = write_fully(t->fd, zeros, (size_t)pad);
    if (rc == 0 && fsync(t->fd) != 0)
        rc = -errno;
    if (rc == 0 && close(t->fd) != 0)
        rc = -errno;
    else if (rc != 0)
        close(t->fd);
    t->fd = -1;
    if (rc == 0 && rename(t->tmp, t->path) != 0)
        rc = -errno;
    if (rc != 0) {
        *err = vc_asprintf("cannot write %s: %s", t->path, strerror(-rc));
        vc_tar_abort(t);
        return -1;
    }
    free(t->tmp);
    free(t->path);
    free(t);
    return 0;
}
