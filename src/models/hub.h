/* Fetching files from Hugging Face's file endpoints (or a mirror) with
 * libcurl's multi interface: several files at once, each
 *   HEAD {endpoint}/{repo}/resolve/{revision}/{file}   (redirects not followed:
 *        the hub's 302 carries X-Linked-Etag / X-Linked-Size, the sha256 and
 *        size of LFS files; regular files answer 200 with their git-sha1 ETag)
 *   GET  the URL it points to, Range: bytes=N- when a partial file exists
 * Redirects are followed by hand so the Authorization header only ever goes
 * to the endpoint's own origin (scheme, host and port), never to the CDN it
 * redirects to, and never from https down to http. Data lands in
 * {repo_dir}/.cache/huggingface/download/{file}.{etag}.incomplete, hashed as
 * it arrives, and is renamed into place once its size and hash match. */
#ifndef VC_MODELS_HUB_H
#define VC_MODELS_HUB_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef struct vc_hub_opts {
    const char *endpoint;     /* scheme://host[:port][/prefix], no trailing '/' */
    const char *token;        /* Bearer token or NULL; never printed */
    const char *token_source; /* "HF_TOKEN", "/root/.cache/huggingface/token": for messages */
    int jobs;
    int retries;
    double retry_wait_s;
    double stall_timeout_s;
    bool recheck;
    bool progress;
    bool verbose;
    bool (*cancelled)(void);
} vc_hub_opts;

typedef enum {
    VC_HUB_PENDING,
    VC_HUB_OK,          /* present (fetched now, or already there and matching) */
    VC_HUB_NOT_FOUND,   /* 404 (for probes: the hub does not have this file) */
    VC_HUB_FAILED,
    VC_HUB_CANCELLED,
} vc_hub_result;

typedef struct hub_job hub_job;

typedef struct vc_hub_file {
    /* in */
    const char *label;     /* model id, for messages */
    const char *repo;
    const char *revision;
    const char *file;      /* path inside the repo */
    const char *repo_dir;  /* local {model_dir}/{repo} */
    bool probe;            /* HEAD only: does the hub have it? */
    /* out */
    vc_hub_result result;
    bool fetched;          /* bytes were transferred in this run */
    bool adopted;          /* file was there without a matching record, hash matched */
    long http_status;
    char etag[160];
    char commit[96];
    int64_t size;          /* -1 unknown */
    char *error;           /* malloc'd, when FAILED or NOT_FOUND */
    hub_job *job;          /* private */
} vc_hub_file;

/* Runs all files to completion. Returns 0 when every file ended OK (or
 * NOT_FOUND for probes), 1 when some failed, 130 when cancelled. */
int vc_hub_run(const vc_hub_opts *o, vc_hub_file *files, size_t n);
void vc_hub_file_clear(vc_hub_file *f);

/* The token: $HF_TOKEN (or the older $HUGGING_FACE_HUB_TOKEN), else the file
 * $HF_TOKEN_PATH, else $HF_HOME/token (HF_HOME defaulting to
 * $XDG_CACHE_HOME/huggingface, then ~/.cache/huggingface). NULL when none;
 * -1 in *bad with a message (never containing the token) in err when one is
 * set but unusable. source gets where it came from. Free with
 * vc_hub_token_free (zeroes it). */
char *vc_hub_token(char *source, size_t srclen, int *bad, char *err, size_t errlen);
void vc_hub_token_free(char *token);

/* $HF_ENDPOINT or https://huggingface.co, without trailing '/'. Caller frees. */
char *vc_hub_endpoint(const char *override);

#endif
