/* Local side of model downloads: records, partial files, hashing. */
#include "models/internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "storage/fs.h"
#include "util/common.h"

char *vc_models_dl_dir(const char *repo_dir)
{
    return vc_fs_join(repo_dir, ".cache/huggingface/download");
}

char *vc_models_record_path(const char *repo_dir, const char *file)
{
    return vc_asprintf("%s/.cache/huggingface/download/%s.metadata", repo_dir, file);
}

static void etag_for_name(const char *etag, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = etag ? etag : ""; *p && o + 1 < len && o < 80; p++)
        if (isalnum((unsigned char)*p) || *p == '-' || *p == '_')
            out[o++] = *p;
    if (!o)
        o = (size_t)snprintf(out, len, "noetag");
    out[o] = 0;
}

char *vc_models_partial_path(const char *repo_dir, const char *file, const char *etag)
{
    char e[96];
    etag_for_name(etag, e, sizeof e);
    return vc_asprintf("%s/.cache/huggingface/download/%s.%s.incomplete", repo_dir, file, e);
}

/* Calls fn for each "{base}.{etag}.incomplete" next to where file's partial goes. */
static void each_partial(const char *repo_dir, const char *file,
                         void (*fn)(const char *path, const char *etag, void *opaque), void *opaque)
{
    char *probe = vc_models_partial_path(repo_dir, file, "x");
    char *slash = strrchr(probe, '/');
    *slash = 0;
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    size_t blen = strlen(base);
    DIR *d = opendir(probe);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t n = strlen(e->d_name);
            const char *suf = ".incomplete";
            size_t sl = strlen(suf);
            if (n <= blen + 1 + sl || strncmp(e->d_name, base, blen) || e->d_name[blen] != '.' ||
                strcmp(e->d_name + n - sl, suf))
                continue;
            char etag[128];
            size_t el = n - sl - blen - 1;
            if (el >= sizeof etag || memchr(e->d_name + blen + 1, '.', el))
                continue;
            memcpy(etag, e->d_name + blen + 1, el);
            etag[el] = 0;
            char *path = vc_asprintf("%s/%s", probe, e->d_name);
            fn(path, etag, opaque);
            free(path);
        }
        closedir(d);
    }
    free(probe);
}

struct find_ctx {
    char *best;
    int64_t size;
};

static void find_cb(const char *path, const char *etag, void *opaque)
{
    (void)etag;
    struct find_ctx *c = opaque;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (!c->best || st.st_size > c->size)) {
        free(c->best);
        c->best = vc_xstrdup(path);
        c->size = st.st_size;
    }
}

char *vc_models_find_partial(const char *repo_dir, const char *file, int64_t *size)
{
    struct find_ctx c = { NULL, 0 };
    each_partial(repo_dir, file, find_cb, &c);
    if (size)
        *size = c.size;
    return c.best;
}

static void remove_cb(const char *path, const char *etag, void *opaque)
{
    const char *keep = opaque;
    char k[96];
    etag_for_name(keep, k, sizeof k);
    if (!keep || strcmp(etag, k))
        unlink(path);
}

void vc_models_remove_partials(const char *repo_dir, const char *file, const char *keep_etag)
{
    each_partial(repo_dir, file, remove_cb, (void *)keep_etag);
}

int vc_models_stat(const char *path, int64_t *size, int64_t *mtime_ns)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    if (size)
        *size = st.st_size;
    if (mtime_ns)
        *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return 0;
}

bool vc_models_record_matches_stat(const vc_file_record *r, int64_t size, int64_t mtime_ns)
{
    return r->size == size && r->mtime_ns >= 0 && r->mtime_ns == mtime_ns;
}

static void copy_field(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src);
}

int vc_models_record_read(const char *repo_dir, const char *file, vc_file_record *r)
{
    memset(r, 0, sizeof *r);
    r->size = -1;
    r->mtime_ns = -1;
    char *path = vc_models_record_path(repo_dir, file);
    size_t len;
    char *data = vc_fs_read_all(path, &len);
    free(path);
    if (!data)
        return -1;
    /* Lines 1-3 are huggingface_hub's; ours follow as "vcurate-KEY VALUE". */
    int line = 0;
    for (char *l = data, *next; l; l = next, line++) {
        next = strchr(l, '\n');
        if (next)
            *next++ = 0;
        else if (!*l)
            break;
        if (line == 0)
            copy_field(r->commit, sizeof r->commit, l);
        else if (line == 1)
            vc_etag_normalise(l, r->etag, sizeof r->etag);
        else if (line == 2)
            r->timestamp = strtod(l, NULL);
        else if (!strncmp(l, "vcurate-size ", 13))
            r->size = strtoll(l + 13, NULL, 10);
        else if (!strncmp(l, "vcurate-mtime-ns ", 17))
            r->mtime_ns = strtoll(l + 17, NULL, 10);
        else if (!strncmp(l, "vcurate-revision ", 17))
            copy_field(r->revision, sizeof r->revision, l + 17);
        else if (!strncmp(l, "vcurate-derived-from ", 21))
            copy_field(r->derived_from, sizeof r->derived_from, l + 21);
    }
    free(data);
    if (line < 3) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int vc_models_record_write(const char *repo_dir, const char *file, const vc_file_record *r)
{
    char *fpath = vc_fs_join(repo_dir, file);
    int64_t size = -1, mtime = -1;
    vc_models_stat(fpath, &size, &mtime);
    free(fpath);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char *text = vc_asprintf("%s\n%s\n%.6f\nvcurate-size %lld\nvcurate-mtime-ns %lld\n"
                             "vcurate-revision %s\n%s%s%s",
                             r->commit, r->etag, (double)now.tv_sec + now.tv_nsec / 1e9, (long long)size,
                             (long long)mtime, r->revision, r->derived_from[0] ? "vcurate-derived-from " : "",
                             r->derived_from, r->derived_from[0] ? "\n" : "");
    char *path = vc_models_record_path(repo_dir, file);
    char *dir = vc_xstrdup(path);
    *strrchr(dir, '/') = 0;
    int rc = vc_fs_mkdirs(dir);
    if (!rc)
        rc = vc_fs_write_atomic(path, text, strlen(text));
    free(dir);
    free(path);
    free(text);
    return rc;
}

void vc_models_record_remove(const char *repo_dir, const char *file)
{
    char *path = vc_models_record_path(repo_dir, file);
    unlink(path);
    free(path);
}

/* ---- etags and hashing ---- */

void vc_etag_normalise(const char *in, char *out, size_t outlen)
{
    while (isspace((unsigned char)*in))
        in++;
    if (!strncmp(in, "W/", 2))
        in += 2;
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < outlen; p++) {
        if (*p == '"' || isspace((unsigned char)*p))
            continue;
        out[o++] = (char)tolower((unsigned char)*p);
    }
    out[o] = 0;
}

static bool all_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

vc_etag_kind vc_etag_kind_of(const char *etag)
{
    if (!etag)
        return VC_ETAG_NONE;
    if (all_hex(etag, 64))
        return VC_ETAG_SHA256;
    if (all_hex(etag, 40))
        return VC_ETAG_GITSHA1;
    return VC_ETAG_NONE;
}

struct vc_hasher {
    EVP_MD_CTX *ctx;
};

vc_hasher *vc_hasher_new(vc_etag_kind kind, int64_t size)
{
    if (kind == VC_ETAG_NONE || (kind == VC_ETAG_GITSHA1 && size < 0))
        return NULL;
    vc_hasher *h = vc_xcalloc(1, sizeof *h);
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || !EVP_DigestInit_ex(h->ctx, kind == VC_ETAG_SHA256 ? EVP_sha256() : EVP_sha1(), NULL)) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
    }
    if (kind == VC_ETAG_GITSHA1) {
        char hdr[48];
        int n = snprintf(hdr, sizeof hdr, "blob %lld", (long long)size);
        EVP_DigestUpdate(h->ctx, hdr, (size_t)n + 1); /* with its NUL */
    }
    return h;
}

void vc_hasher_update(vc_hasher *h, const void *data, size_t len)
{
    if (h && len)
        EVP_DigestUpdate(h->ctx, data, len);
}

void vc_hasher_final(vc_hasher *h, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[2 * n] = 0;
    vc_hasher_free(h);
}

void vc_hasher_free(vc_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

int vc_hash_file_into(vc_hasher *h, const char *path, int64_t len, bool (*cancelled)(void))
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    size_t bufsz = 1 << 20;
    unsigned char *buf = vc_xmalloc(bufsz);
    int64_t done = 0;
    int rc = 0;
    while (len < 0 || done < len) {
        size_t want = bufsz;
        if (len >= 0 && (int64_t)want > len - done)
            want = (size_t)(len - done);
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0) {
            if (len >= 0) {
                errno = EIO; /* shorter than asked */
                rc = -1;
            }
            break;
        }
        vc_hasher_update(h, buf, (size_t)n);
        done += n;
        if (cancelled && (done & ((1 << 26) - 1)) < n && cancelled()) {
            rc = -2;
            break;
        }
    }
    int e = errno;
    free(buf);
    close(fd);
    errno = e;
    return rc;
}

int vc_hash_file_check(const char *path, const char *etag, int64_t size, char *got, size_t gotlen,
                       bool (*cancelled)(void))
{
    vc_hasher *h = vc_hasher_new(vc_etag_kind_of(etag), size);
    if (!h)
        return -1;
    int rc = vc_hash_file_into(h, path, -1, cancelled);
    if (rc) {
        vc_hasher_free(h);
        return rc;
    }
    char hex[EVP_MAX_MD_SIZE * 2 + 1];
    vc_hasher_final(h, hex);
    if (got)
        snprintf(got, gotlen, "%s", hex);
    return strcmp(hex, etag) == 0;
}

/* ---- checkpoints ---- */

bool vc_models_is_index(const char *file)
{
    size_t n = strlen(file);
    return n > 11 && !strcmp(file + n - 11, ".index.json");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool safe_relpath(const char *p)
{
    if (!*p || *p == '/' || strstr(p, "\\"))
        return false;
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n + (e ? 1 : 0);
    }
    return true;
}

int vc_models_index_shards(const char *index_path, bool (*keep)(const char *name), char ***shards,
                           size_t *n, char *err, size_t errlen)
{
    *shards = NULL;
    *n = 0;
    json_error_t je;
    json_t *root = json_load_file(index_path, 0, &je);
    const json_t *map = root ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(map)) {
        snprintf(err, errlen, "%s: not a sharded checkpoint index (%s)", index_path,
                 root ? "no \"weight_map\" object" : je.text);
        json_decref(root);
        return -1;
    }
    char **v = NULL;
    size_t len = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)map, key, val) {
        const char *f = json_string_value(val);
        if (!f || !safe_relpath(f)) {
            snprintf(err, errlen, "%s: tensor %s maps to an invalid file name", index_path, key);
            vc_models_free_strv(v, len);
            json_decref(root);
            return -1;
        }
        if (keep && !keep(key))
            continue;
        v = vc_xrealloc(v, (len + 1) * sizeof *v);
        v[len++] = vc_xstrdup(f);
    }
    json_decref(root);
    if (len)
        qsort(v, len, sizeof *v, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < len; i++) {
        if (u && !strcmp(v[u - 1], v[i]))
            free(v[i]);
        else
            v[u++] = v[i];
    }
    *shards = v;
    *n = u;
    return 0;
}

void vc_models_free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

char *vc_models_shell_quote(const char *s)
{
    bool plain = *s != 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("/._-+:=@,%", *p)))
            plain = false;
    if (plain)
        return vc_xstrdup(s);
    vc_buf b = { 0 };
    vc_buf_append(&b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            vc_buf_append(&b, "'\\''", 4);
        else
            vc_buf_append(&b, p, 1);
    }
    vc_buf_append(&b, "'", 2); /* with the NUL */
    return (char *)b.data;
}
