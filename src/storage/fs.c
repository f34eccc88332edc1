/* Local filesystem access: atomic writes, recursive listing, path helpers. */
#include "storage/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "storage/s3.h"
#include "util/log.h"

#define TEMP_MARK ".tmp-"

static atomic_ulong temp_counter;

int vc_fs_mkdirs(const char *dir)
{
    if (vc_s3_is_url(dir))
        return 0; /* buckets have no folders */
    if (!dir || !*dir)
        return 0;
    char *p = vc_xstrdup(dir);
    int rc = 0;
    /* Create each prefix in turn; EEXIST means another thread (or an earlier
     * run) made it, which is fine as long as it is a directory. */
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            rc = -errno;
        } else if (!vc_fs_is_dir(p)) {
            rc = -ENOTDIR;
        }
        *s = saved;
        if (rc || saved == '\0')
            break;
    }
    free(p);
    return rc;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return vc_xstrdup(".");
    if (slash == path)
        return vc_xstrdup("/");
    size_t n = (size_t)(slash - path);
    char *d = vc_xmalloc(n + 1);
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

/* ".<basename>.tmp-<pid>-<tid>-<counter>" next to path: unique per process,
 * thread and call, and hidden so listings skip it. */
static char *temp_name_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    unsigned long n = atomic_fetch_add(&temp_counter, 1);
    return vc_asprintf("%.*s.%s" TEMP_MARK "%ld-%ld-%lu", dir_len, path, base,
                       (long)getpid(), (long)syscall(SYS_gettid), n);
}

static int write_fully(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Write data under a fresh temporary name in path's directory, fsync'd.
 * Returns the temporary name, or NULL with *err set. */
static char *write_temp(const char *path, const void *data, size_t len, int *err)
{
    char *dir = dir_of(path);
    *err = vc_fs_mkdirs(dir);
    free(dir);
    if (*err)
        return NULL;
    char *tmp = temp_name_for(path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        *err = -errno;
        free(tmp);
        return NULL;
    }
    *err = write_fully(fd, data, len);
    if (!*err && fsync(fd) != 0)
        *err = -errno;
    if (close(fd) != 0 && !*err)
        *err = -errno;
    if (*err) {
        unlink(tmp);
        free(tmp);
        return NULL;
    }
    return tmp;
}

int vc_fs_write_atomic(const char *path, const void *data, size_t len)
{
    if (vc_s3_is_url(path))
        return vc_s3_put(path, data, len); /* a PUT is atomic */
    int err;
    char *tmp = write_temp(path, data, len, &err);
    if (!tmp)
        return err;
    if (rename(tmp, path) != 0) {
        err = -errno;
        unlink(tmp);
    }
    free(tmp);
    return err;
}

int vc_fs_write_atomic_noclobber(const char *path, const void *data, size_t len)
{
    if (vc_s3_is_url(path))
        return vc_s3_put_noclobber(path, data, len);
    if (vc_fs_exists(path))
        return 1;
    int err;
    char *tmp = write_temp(path, data, len, &err);
    if (!tmp)
        return err;
    /* link() fails with EEXIST instead of replacing, so two writers racing
     * for the same path cannot clobber each other. Filesystems without hard
     * links fall back to rename after the existence check above. */
    if (link(tmp, path) == 0) {
        err = 0;
    } else if (errno == EEXIST) {
        err = 1;
    } else if (rename(tmp, path) != 0) {
        err = -errno;
    }
    unlink(tmp);
    free(tmp);
    return err;
}

char *vc_fs_read_all(const char *path, size_t *len)
{
    if (vc_s3_is_url(path)) {
        char *data = NULL;
        int rc = vc_s3_get(path, &data, len);
        if (rc)
            errno = -rc;
        return rc ? NULL : data;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    vc_buf b = {0};
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            vc_buf_free(&b);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        vc_buf_append(&b, chunk, (size_t)r);
    }
    close(fd);
    vc_buf_append(&b, "", 1);
    if (len)
        *len = b.len - 1;
    return (char *)b.data;
}

bool vc_fs_exists(const char *path)
{
    if (vc_s3_is_url(path))
        return vc_s3_head(path, NULL) == 0;
    struct stat st;
    return stat(path, &st) == 0;
}

bool vc_fs_is_dir(const char *path)
{
    if (vc_s3_is_url(path))
        return vc_s3_is_prefix(path) == 1;
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ".<name>.tmp-<pid>-<tid>-<n>": the names temp_name_for makes. */
bool vc_fs_is_temp_name(const char *name)
{
    if (name[0] != '.')
        return false;
    /* The last ".tmp-", preceded by a non-empty base name. */
    const char *mark = NULL;
    for (const char *m = strstr(name, TEMP_MARK); m; m = strstr(m + 1, TEMP_MARK))
        mark = m;
    if (!mark || mark < name + 2)
        return false;
    const char *s = mark + strlen(TEMP_MARK);
    for (int field = 0; field < 3; field++) {
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
        if (field < 2 && *s++ != '-')
            return false;
    }
    return *s == '\0';
}

enum entry_kind { ENTRY_OTHER, ENTRY_FILE, ENTRY_DIR };

/* Like Python's rglob + is_file(): symlinks count as what they point to,
 * but symlinked directories are not descended (no cycles). */
static enum entry_kind classify(const char *path, unsigned char d_type)
{
    struct stat st;
    if (d_type == DT_REG)
        return ENTRY_FILE;
    if (d_type == DT_DIR)
        return ENTRY_DIR;
    if (d_type == DT_LNK)
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? ENTRY_FILE : ENTRY_OTHER;
    if (d_type != DT_UNKNOWN || lstat(path, &st) != 0)
        return ENTRY_OTHER;
    if (S_ISDIR(st.st_mode))
        return ENTRY_DIR;
    if (S_ISLNK(st.st_mode))
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? ENTRY_FILE : ENTRY_OTHER;
    return S_ISREG(st.st_mode) ? ENTRY_FILE : ENTRY_OTHER;
}

typedef void (*visit_fn)(const char *path, const char *name, void *opaque);

/* Calls visit for every file under dir. Unreadable subdirectories are
 * skipped with a warning, as Python's rglob skips them. */
static int walk(const char *dir, bool top, visit_fn visit, void *opaque)
{
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        if (top)
            return -e;
        vc_warn("cannot read directory %s: %s (skipped)", dir, strerror(e));
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *path = vc_fs_join(dir, de->d_name);
        enum entry_kind kind = classify(path, de->d_type);
        if (kind == ENTRY_DIR)
            walk(path, false, visit, opaque);
        else if (kind == ENTRY_FILE)
            visit(path, de->d_name, opaque);
        free(path);
    }
    closedir(d);
    return 0;
}

static void collect_file(const char *path, const char *name, void *opaque)
{
    if (!vc_fs_is_temp_name(name))
        vc_strlist_push(opaque, path);
}

int vc_fs_list_recursive(const char *dir, vc_strlist *out)
{
    if (vc_s3_is_url(dir))
        return vc_s3_list(dir, out);
    vc_strlist found = {0};
    int rc = walk(dir, true, collect_file, &found);
    vc_strlist_sort(&found);
    for (size_t i = 0; i < found.len; i++)
        vc_strlist_push_owned(out, found.items[i]);
    free(found.items);
    return rc;
}

static size_t strip_trailing_slashes(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    return n;
}

char *vc_fs_relpath(const char *root, const char *path)
{
    size_t n = strip_trailing_slashes(root);
    if (strncmp(path, root, n) != 0 || path[n] != '/' || path[n + 1] == '\0')
        return NULL;
    return vc_xstrdup(path + n + 1);
}

char *vc_fs_join(const char *a, const char *b)
{
    size_t n = strip_trailing_slashes(a);
    while (*b == '/')
        b++;
    if (n == 0 && a[0] != '/')
        return vc_xstrdup(b);
    return vc_asprintf("%.*s/%s", (int)n, a, b);
}

static void remove_temp(const char *path, const char *name, void *opaque)
{
    (void)opaque;
    if (vc_fs_is_temp_name(name) && unlink(path) == 0)
        vc_debug("removed leftover temporary file %s", path);
}

void vc_fs_clean_temp(const char *dir)
{
    if (vc_s3_is_url(dir))
        return; /* S3 writes leave no temporary objects */
    walk(dir, true, remove_temp, NULL);
}

char *vc_fs_pypath(const char *path)
{
    if (vc_s3_is_url(path)) {
        /* "s3://bucket/a//b/" -> "s3://bucket/a/b" */
        char *rest = vc_fs_pypath(path + 4);
        const char *r = rest;
        while (*r == '/')
            r++;
        char *out = vc_asprintf("s3://%s", strcmp(r, ".") ? r : "");
        free(rest);
        return out;
    }
    vc_buf out = {0};
    const char *s = path;
    /* POSIX pathlib keeps exactly two leading slashes; one or 3+ become one. */
    size_t lead = strspn(s, "/");
    if (lead == 2)
        vc_buf_append(&out, "//", 2);
    else if (lead > 0)
        vc_buf_append(&out, "/", 1);
    s += lead;
    bool first = true;
    while (*s) {
        size_t len = strcspn(s, "/");
        bool dot = len == 1 && s[0] == '.';
        if (len > 0 && !dot) {
            if (!first)
                vc_buf_append(&out, "/", 1);
            vc_buf_append(&out, s, len);
            first = false;
        }
        s += len;
        s += strspn(s, "/");
    }
    if (out.len == 0)
        vc_buf_append(&out, ".", 1);
    vc_buf_append(&out, "", 1);
    return (char *)out.data;
}

/* ---- sizes, streaming reads and writes (local files or s3://) ---- */

int vc_fs_size(const char *path, int64_t *size)
{
    if (vc_s3_is_url(path))
        return vc_s3_head(path, size);
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    *size = st.st_size;
    return 0;
}

const char *vc_fs_strerror(const char *path, int rc)
{
    if (vc_s3_is_url(path) && vc_s3_last_error()[0])
        return vc_s3_last_error();
    return strerror(-rc);
}

struct vc_fs_file {
    int fd;
    int64_t size;
    vc_s3_reader *s3;
};

vc_fs_file *vc_fs_open_read(const char *path, int *rc)
{
    vc_fs_file *f = vc_xcalloc(1, sizeof *f);
    f->fd = -1;
    if (vc_s3_is_url(path)) {
        f->s3 = vc_s3_reader_open(path, rc);
        if (!f->s3) {
            free(f);
            return NULL;
        }
        f->size = vc_s3_reader_size(f->s3);
        return f;
    }
    struct stat st;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0 || fstat(f->fd, &st) != 0) {
        *rc = -errno;
        if (f->fd >= 0)
            close(f->fd);
        free(f);
        return NULL;
    }
    f->size = st.st_size;
    *rc = 0;
    return f;
}

int64_t vc_fs_file_size(const vc_fs_file *f) { return f->size; }

int64_t vc_fs_pread(vc_fs_file *f, void *buf, size_t len, int64_t off)
{
    if (f->s3)
        return vc_s3_reader_pread(f->s3, buf, len, off);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + (int64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (int64_t)done;
}

void vc_fs_close(vc_fs_file *f)
{
    if (!f)
        return;
    if (f->s3)
        vc_s3_reader_close(f->s3);
    if (f->fd >= 0)
        close(f->fd);
    free(f);
}

struct vc_fs_writer {
    vc_s3_writer *s3;
    int fd;
    char *path, *tmp;
    int err;
};

vc_fs_writer *vc_fs_writer_open(const char *path, int *rc)
{
    vc_fs_writer *w = vc_xcalloc(1, sizeof *w);
    w->fd = -1;
    *rc = 0;
    if (vc_s3_is_url(path)) {
        w->s3 = vc_s3_writer_open(path);
        return w;
    }
    char *dir = dir_of(path);
    *rc = vc_fs_mkdirs(dir);
    free(dir);
    if (*rc == 0) {
        w->path = vc_xstrdup(path);
        w->tmp = temp_name_for(path);
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (w->fd < 0)
            *rc = -errno;
    }
    if (*rc) {
        free(w->path);
        free(w->tmp);
        free(w);
        return NULL;
    }
    return w;
}

int vc_fs_writer_write(vc_fs_writer *w, const void *data, size_t len)
{
    if (w->err)
        return w->err;
    w->err = w->s3 ? vc_s3_writer_write(w->s3, data, len) : write_fully(w->fd, data, len);
    return w->err;
}

int vc_fs_writer_commit(vc_fs_writer *w)
{
    int rc = w->err;
    if (w->s3) {
        if (rc)
            vc_s3_writer_abort(w->s3);
        else
            rc = vc_s3_writer_finish(w->s3);
    } else {
        if (rc == 0 && fsync(w->fd) != 0)
            rc = -errno;
        if (close(w->fd) != 0 && rc == 0)
            rc = -errno;
        if (rc == 0 && rename(w->tmp, w->path) != 0)
            rc = -errno;
        if (rc)
            unlink(w->tmp);
        free(w->tmp);
        free(w->path);
    }
    free(w);
    return rc;
}

void vc_fs_writer_abort(vc_fs_writer *w)
{
    if (!w)
        return;
    if (w->s3) {
        vc_s3_writer_abort(w->s3);
    } else {
        close(w->fd);
        unlink(w->tmp);
        free(w->tmp);
        free(w->path);
    }
    free(w);
}

int vc_fs_copy_noclobber(const char *src, const char *dst)
{
    if (vc_s3_is_url(src) && vc_s3_is_url(dst)) {
        if (vc_s3_head(dst, NULL) == 0)
            return -EEXIST;
        return vc_s3_copy(src, dst);
    }
    size_t len = 0;
    char *data = vc_fs_read_all(src, &len);
    if (!data)
        return -errno;
    int rc = vc_fs_write_atomic_noclobber(dst, data, len);
    free(data);
    return rc == 1 ? -EEXIST : rc;
}
