/* Tar files as WebDataset's TarWriter writes them (webdataset 1.0.2, used by
 * Cosmos Curator's shard): ustar members, mode 0444, uid/gid 0, uname/gname
 * "bigdata", the archive padded to Python tarfile's 10240-byte record. Unlike
 * TarWriter (mtime = time.time()) the mtime is fixed, so two runs over the
 * same input give byte-identical shards.
 *
 * Written through libarchive's ustar writer; its numeric fields are
 * "000444 \0"-style where Python writes "0000444\0" -- both are standard
 * ustar and read identically (tarfile, GNU tar, webdataset).
 *
 * A tar is built under a hidden temporary name next to its final path and
 * renamed into place by vc_tar_commit (after fsync), so a killed run never
 * leaves a partial tar under a final name. */
#ifndef VC_SHARD_TARWRITER_H
#define VC_SHARD_TARWRITER_H

#include <stddef.h>
#include <stdint.h>

/* 2024-01-01T00:00:00Z: a fixed, plausible member mtime (GNU tar warns
 * about "implausibly old" 1970 timestamps). */
#define VC_TAR_MTIME 1704067200

typedef struct vc_tar vc_tar;

/* Start a tar that will become `path`. NULL with *err set on failure. */
vc_tar *vc_tar_open(const char *path, char **err);

/* Add a member from memory. Returns 0, or -1 with *err set. */
int vc_tar_add_bytes(vc_tar *t, const char *name, const void *data, size_t len, char **err);

/* Add a member streamed from the open file src_fd (from offset 0, `size`
 * bytes; fails if the file is shorter). The bytes go file-to-file through
 * copy_file_range when the kernel can, so clip data never passes through
 * user space; otherwise through a bounded buffer. Returns 0 or -1. */
int vc_tar_add_file(vc_tar *t, const char *name, int src_fd, int64_t size, char **err);

/* Finish the archive, fsync, rename it over its final path; frees t.
 * On failure the temporary file is removed. Returns 0 or -1. */
int vc_tar_commit(vc_tar *t, char **err);

/* Drop an unfinished tar and its temporary file; frees t. NULL is a no-op. */
void vc_tar_abort(vc_tar *t);

/* Size of the tar that members of these sizes produce. */
int64_t vc_tar_expected_size(const int64_t *member_sizes, size_t n);

/* Test hook: false disables copy_file_range (exercises the buffered path). */
void vc_tar_set_copy_range(int enabled);

#endif
