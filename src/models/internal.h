/* Pieces shared inside src/models: file records, hashing, paths. */
#ifndef VC_MODELS_INTERNAL_H
#define VC_MODELS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "models/models.h"

/* ---- the per-file record (huggingface_hub's local_dir metadata + ours) ---- */

typedef struct vc_file_record {
    char commit[96];     /* X-Repo-Commit (or the revision asked for) */
    char etag[160];      /* normalised: no W/, no quotes */
    double timestamp;    /* when written (huggingface_hub compares it with mtime) */
    int64_t size;        /* -1: unknown */
    int64_t mtime_ns;    /* the file's mtime when the record was written; -1: unknown */
    char revision[96];   /* revision asked for */
    char derived_from[256]; /* reduced files: the checkpoint they were made from */
} vc_file_record;

/* {repo_dir}/.cache/huggingface/download (caller frees). */
char *vc_models_dl_dir(const char *repo_dir);
/* {repo_dir}/.cache/huggingface/download/{file}.metadata */
char *vc_models_record_path(const char *repo_dir, const char *file);
/* {repo_dir}/.cache/huggingface/download/{file}.{etag}.incomplete (etag
 * reduced to [0-9A-Za-z_-], "noetag" when empty). */
char *vc_models_partial_path(const char *repo_dir, const char *file, const char *etag);
/* Largest partial of `file` under any etag: its path (caller frees) and
 * size, or NULL. */
char *vc_models_find_partial(const char *repo_dir, const char *file, int64_t *size);
/* Removes partials of `file` whose etag differs from keep_etag (NULL: all). */
void vc_models_remove_partials(const char *repo_dir, const char *file, const char *keep_etag);

/* 0 and *r filled; -1 when absent or unreadable (errno kept). */
int vc_models_record_read(const char *repo_dir, const char *file, vc_file_record *r);
/* Writes the record atomically, taking size and mtime from the file now.
 * Returns 0 or -errno. */
int vc_models_record_write(const char *repo_dir, const char *file, const vc_file_record *r);
void vc_models_record_remove(const char *repo_dir, const char *file);

/* mtime in ns and size of path; -1 when it cannot be stat'ed. */
int vc_models_stat(const char *path, int64_t *size, int64_t *mtime_ns);

/* The file is as recorded: same size and mtime as when the record was
 * written (i.e. not touched since; contents are not read). */
bool vc_models_record_matches_stat(const vc_file_record *r, int64_t size, int64_t mtime_ns);

/* ---- hashing ---- */

typedef enum { VC_ETAG_NONE, VC_ETAG_SHA256, VC_ETAG_GITSHA1 } vc_etag_kind;

/* What an etag is: 64 hex digits is the sha256 of an LFS file, 40 the git
 * blob sha1 of a regular file; anything else cannot be checked locally. */
vc_etag_kind vc_etag_kind_of(const char *etag);
/* Strips W/ and quotes, lowercases hex. */
void vc_etag_normalise(const char *in, char *out, size_t outlen);

/* Incremental hash of the kind an etag names. */
typedef struct vc_hasher vc_hasher;
/* size is needed for the git blob header ("blob N\0"); -1 when unknown
 * makes GITSHA1 impossible (returns NULL). */
vc_hasher *vc_hasher_new(vc_etag_kind kind, int64_t size);
void vc_hasher_update(vc_hasher *h, const void *data, size_t len);
/* Hex digest into out (>= 65 bytes); frees h. */
void vc_hasher_final(vc_hasher *h, char *out);
void vc_hasher_free(vc_hasher *h);

/* Hashes the first `len` bytes of path (len < 0: the whole file) into h.
 * Returns 0, -1 with errno (-2 when cancelled). */
int vc_hash_file_into(vc_hasher *h, const char *path, int64_t len, bool (*cancelled)(void));
/* Whole-file hash of the etag's kind compared with it: 1 match, 0 mismatch
 * (got holds the digest), -1 error / cannot hash, -2 cancelled. */
int vc_hash_file_check(const char *path, const char *etag, int64_t size, char *got, size_t gotlen,
                       bool (*cancelled)(void));

/* ---- checkpoints ---- */

/* Shards named by an *.index.json's weight_map, sorted, unique. When keep
 * is given, only shards holding a tensor keep() accepts. Returns 0 or -1. */
int vc_models_index_shards(const char *index_path, bool (*keep)(const char *name), char ***shards,
                           size_t *n, char *err, size_t errlen);
void vc_models_free_strv(char **v, size_t n);

bool vc_models_is_index(const char *file);


/* Opens the checkpoint and compares with the model's expected tensors.
 * Returns 0 when all are there with the right shapes, 1 when some are
 * missing or misshaped (described in msg), -1 when the file cannot be read
 * (msg says why), -3 when the reader is not built in. */
int vc_models_check_tensors(const vc_model_def *m, const char *repo_dir, const char *ckpt_path,
                            char *msg, size_t msglen);

/* T5 --encoder-only: writes {repo_dir}/{m->reduced_file} holding the tensors
 * vc_models_t5_keep_tensor accepts, from ckpt_path, atomically; records it
 * (etag = its sha256, derived_from = ckpt file). Returns 0 or -1. */
int vc_models_write_reduced(const vc_model_def *m, const char *repo_dir, const char *ckpt_file,
                            const char *commit, char *err, size_t errlen);

#endif
