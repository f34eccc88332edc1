/* Storage access: local files, and S3 objects for paths "s3://bucket/key"
 * (storage/s3.h), behind the same functions. Every output file goes through
 * vc_fs_write_atomic (or a vc_fs_writer) so a crash never leaves a
 * half-written file under its final name; on S3 a PUT or a completed
 * multipart upload is atomic by itself. */
#ifndef VC_STORAGE_FS_H
#define VC_STORAGE_FS_H

#include <stddef.h>
#include <stdbool.h>

#include "util/common.h"

/* mkdir -p. Returns 0, or -errno. */
int vc_fs_mkdirs(const char *dir);

/* Write data to path: parent dirs created, data written to a temporary name
 * in the same directory, fsync'd, then renamed over path. Returns 0 or -errno;
 * on failure nothing is left under path or the temporary name. */
int vc_fs_write_atomic(const char *path, const void *data, size_t len);

/* Same, but skips (returns 1) when path already exists, as Cosmos Curator's
 * writers do ("already exists, skipping"). */
int vc_fs_write_atomic_noclobber(const char *path, const void *data, size_t len);

/* Read a whole file (NUL-terminated for convenience). NULL and errno on failure. */
char *vc_fs_read_all(const char *path, size_t *len);

bool vc_fs_exists(const char *path);
bool vc_fs_is_dir(const char *path);

/* Every regular file under dir, recursively, full paths, in Python sorted()
 * order of the path string, appended to out. Symlinks to files are listed;
 * symlinked directories are not descended (as Python's rglob); our temporary
 * files are skipped. Returns 0, or -errno when dir itself cannot be read
 * (-ENOENT when it does not exist; out is then unchanged). */
int vc_fs_list_recursive(const char *dir, vc_strlist *out);

/* path relative to root ("root/a/b.mp4" -> "a/b.mp4"); NULL if not under root. */
char *vc_fs_relpath(const char *root, const char *path);

/* Join with exactly one '/' between parts. */
char *vc_fs_join(const char *a, const char *b);

/* Remove leftover temporary files from interrupted atomic writes under dir.
 * Call it before any writer starts: it also removes in-flight temp files. */
void vc_fs_clean_temp(const char *dir);

/* True for a file name vc_fs_write_atomic uses as its temporary name
 * (".<base>.tmp-<pid>-<tid>-<n>"); listings skip these. */
bool vc_fs_is_temp_name(const char *name);

/* str(pathlib.PurePosixPath(path)): repeated '/' and "." parts dropped,
 * no trailing '/' (Cosmos Curator hashes and records paths in this form). */
char *vc_fs_pypath(const char *path);

/* ---- sizes, streaming reads and writes (local or s3://) ---- */

#include <stdint.h>

/* Size of a regular file or object: 0, or -errno. */
int vc_fs_size(const char *path, int64_t *size);

/* Reason for a failure rc (-errno) on path: the S3 message of this thread
 * for s3:// paths (auth, missing bucket, ...), else strerror. */
const char *vc_fs_strerror(const char *path, int rc);

/* Random-access reads; on S3 ranged GETs with a read-ahead buffer, so a
 * large object is never copied whole first. */
typedef struct vc_fs_file vc_fs_file;
vc_fs_file *vc_fs_open_read(const char *path, int *rc);
int64_t vc_fs_file_size(const vc_fs_file *f);
int64_t vc_fs_pread(vc_fs_file *f, void *buf, size_t len, int64_t off);  /* bytes, or -errno */
void vc_fs_close(vc_fs_file *f);

/* Sequential writes that appear under path only on commit (temporary file
 * and rename; on S3 a multipart upload with parts in flight). */
typedef struct vc_fs_writer vc_fs_writer;
vc_fs_writer *vc_fs_writer_open(const char *path, int *rc);
int vc_fs_writer_write(vc_fs_writer *w, const void *data, size_t len);
int vc_fs_writer_commit(vc_fs_writer *w);   /* frees w; 0 or -errno */
void vc_fs_writer_abort(vc_fs_writer *w);   /* frees w; NULL is a no-op */

/* Copy src to dst unless dst exists (-EEXIST); server-side on S3. */
int vc_fs_copy_noclobber(const char *src, const char *dst);

#endif
