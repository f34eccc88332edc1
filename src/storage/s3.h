/* S3-compatible object storage (AWS S3, MinIO, Ceph, Swift s3api, GCS/OCI in
 * S3 mode), reached through libcurl with SigV4 signing (CURLOPT_AWS_SIGV4).
 *
 * Paths are "s3://bucket/key". The rest of vcurate does not call this
 * directly: storage/fs.h routes every s3:// path here, so the same code
 * reads and writes local folders and buckets.
 *
 * Settings, the AWS way (see README "S3"): credentials from the AWS_*
 * variables or a profile of ~/.aws/credentials ($AWS_SHARED_CREDENTIALS_FILE),
 * region/endpoint_url/addressing_style from ~/.aws/config ($AWS_CONFIG_FILE)
 * or AWS_REGION/AWS_ENDPOINT_URL. A profile can be tied to a path prefix
 * (--input-s3-profile-name/--output-s3-profile-name).
 *
 * Errors come back as -errno (-ENOENT: no such object or bucket; -EACCES:
 * authentication failed or access denied; -EINVAL: bad bucket name or
 * configuration; -EIO: anything else after the retries) and a readable
 * message for this thread in vc_s3_last_error(). Secrets never appear in a
 * message or a log line. */
#ifndef VC_STORAGE_S3_H
#define VC_STORAGE_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/common.h"

bool vc_s3_is_url(const char *path);

/* ---- addresses ---- */

/* "s3://bucket/key" split; the bucket is checked (S3 naming rules, plus '_'
 * as Cosmos Curator allows). The key may be empty ("s3://bucket"). */
typedef struct vc_s3_loc {
    char *bucket;
    char *key;
} vc_s3_loc;
int vc_s3_parse_url(const char *url, vc_s3_loc *loc, char **err);
void vc_s3_loc_free(vc_s3_loc *loc);
bool vc_s3_bucket_ok(const char *bucket);

/* SigV4 URI encoding: unreserved characters kept, everything else %XX
 * (upper-case hex); '/' kept when keep_slash (object paths). */
char *vc_s3_uri_encode(const char *s, bool keep_slash);

/* ListObjectsV2 query in SigV4 canonical form (parameters sorted, values
 * URI-encoded), so the string signed and the string sent are the same. */
char *vc_s3_list_query(const char *prefix, const char *token, int max_keys);

/* ---- settings ---- */

typedef struct vc_s3_settings {
    char *profile;         /* the profile used (for messages) */
    char *access_key;
    char *secret_key;
    char *session_token;   /* may be NULL */
    char *region;          /* never NULL after loading */
    char *endpoint;        /* "scheme://host[:port]" without a trailing '/', never NULL */
    bool path_style;       /* bucket in the path rather than the host name */
    char *cred_source;     /* "environment", or the file the keys came from */
} vc_s3_settings;

/* Loads the settings of `profile` (NULL: $AWS_PROFILE, else "default").
 * With no profile named explicitly, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
 * win over the files, as in the AWS CLI. Returns 0, or -EINVAL with *err. */
int vc_s3_settings_load(const char *profile, vc_s3_settings *s, char **err);
void vc_s3_settings_free(vc_s3_settings *s);

/* Value of `key` in [section] of an INI text as the AWS files write them
 * (also "[profile name]" when section is "name"; `key` "s3.addressing_style"
 * reads a nested "s3 =" block). Malloc'd, or NULL. */
char *vc_s3_ini_get(const char *text, const char *section, const char *key);

/* "http://host:port/bucket/key?query" or "https://bucket.host/key?query". */
char *vc_s3_http_url(const vc_s3_settings *s, const char *bucket, const char *key,
                     const char *query);

/* Tie `profile` to every path under `url_prefix` (longest prefix wins). */
void vc_s3_set_profile(const char *url_prefix, const char *profile);

/* ---- responses (exposed for the unit tests) ---- */

/* Parses one ListObjectsV2 page: keys and sizes appended; *next is the
 * continuation token when the listing is truncated (else NULL). */
int vc_s3_parse_list(const char *xml, size_t len, vc_strlist *keys, int64_t **sizes,
                     size_t *nsizes, char **next);
/* Text of the first <tag> element, entities decoded; NULL if none. */
char *vc_s3_xml_text(const char *xml, size_t len, const char *tag);

/* Whether a failed attempt is worth retrying: curl error (CURLcode) or HTTP
 * status with the S3 error code from the body (may be NULL). */
bool vc_s3_retryable(int curl_code, long http_status, const char *s3_code);
/* Delay before attempt `attempt` (1 = first retry), ms, with jitter from *seed. */
long vc_s3_backoff_ms(int attempt, unsigned *seed);

/* ---- operations (thread-safe) ---- */

const char *vc_s3_last_error(void);

int vc_s3_head(const char *url, int64_t *size);
int vc_s3_get(const char *url, char **data, size_t *len);       /* NUL-terminated */
int vc_s3_put(const char *url, const void *data, size_t len);
/* Skips (returns 1) when the object exists. */
int vc_s3_put_noclobber(const char *url, const void *data, size_t len);
int vc_s3_copy(const char *src_url, const char *dst_url);
int vc_s3_delete(const char *url);
/* Every object under dir_url + "/" (full s3:// URLs, key order = Python's
 * sorted() order), appended to out. -ENOENT when nothing is there. */
int vc_s3_list(const char *dir_url, vc_strlist *out);
/* 1 when some object lies under url + "/", 0 when none, or -errno. */
int vc_s3_is_prefix(const char *url);

/* Streaming reads: ranged GETs with a read-ahead block. */
typedef struct vc_s3_reader vc_s3_reader;
vc_s3_reader *vc_s3_reader_open(const char *url, int *rc);
int64_t vc_s3_reader_size(const vc_s3_reader *r);
/* Bytes read (< len only at the end of the object), or -errno. */
int64_t vc_s3_reader_pread(vc_s3_reader *r, void *buf, size_t len, int64_t off);
void vc_s3_reader_close(vc_s3_reader *r);

/* Streaming writes: one PUT for small objects, else a multipart upload with
 * several parts in flight (VCURATE_S3_PARTS_IN_FLIGHT, default 4; parts of
 * VCURATE_S3_PART_MB, default 16, doubling every 16 parts up to 128 MiB),
 * each part hashed and uploaded on its own thread, its ETag checked, and the
 * part buffers reused. Nothing appears under url before finish.
 * Request bodies are signed with their SHA-256 over http and sent as
 * UNSIGNED-PAYLOAD over https (TLS protects them; botocore does the same);
 * VCURATE_S3_SIGN_PAYLOAD=1 signs always, =0 never. VCURATE_S3_TRACE=1 logs
 * per-part and hashing times and new connections. */
typedef struct vc_s3_writer vc_s3_writer;
vc_s3_writer *vc_s3_writer_open(const char *url);
int vc_s3_writer_write(vc_s3_writer *w, const void *data, size_t len);
/* Writing in place, without the copy write() makes: *room (> 0) bytes are
 * free at the returned pointer (the part being filled); commit(w, n) adds
 * the first n <= *room of them to the object. 0 or -errno, as write(). */
void *vc_s3_writer_space(vc_s3_writer *w, size_t *room);
int vc_s3_writer_commit(vc_s3_writer *w, size_t n);
int vc_s3_writer_finish(vc_s3_writer *w);   /* frees w */
void vc_s3_writer_abort(vc_s3_writer *w);   /* frees w; NULL is a no-op */

/* Downloads the objects url_dir/rel[i] into local_dir/rel[i] unless a file
 * of the same size is there already. 0 or -errno. */
/* Local cache folder standing for an s3:// folder:
 * $VCURATE_S3_CACHE_DIR, else $XDG_CACHE_HOME/vcurate/s3, else
 * ~/.cache/vcurate/s3; then /bucket/key. */
char *vc_s3_cache_dir(const char *url_dir);
int vc_s3_mirror(const char *url_dir, const char *const *rels, size_t n, const char *local_dir);

#endif
