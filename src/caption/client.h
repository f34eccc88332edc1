/* An OpenAI chat-completions client for many requests at once: one thread
 * runs libcurl's multi interface with up to max_concurrent transfers in
 * flight; failed attempts (connection errors, timeouts, HTTP 408/429/5xx, a
 * reply that is not the JSON expected) are retried with exponential backoff
 * and jitter, waiting at least as long as a Retry-After header asks. The API
 * key goes only into the Authorization header; no message ever shows it. */
#ifndef VC_CAPTION_CLIENT_H
#define VC_CAPTION_CLIENT_H

#include "caption/body.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vc_cap_client_cfg {
    const char *url;            /* .../v1/chat/completions */
    const char *api_key;        /* NULL: no Authorization header */
    int max_concurrent;         /* transfers in flight */
    double timeout_s;           /* whole request */
    double connect_timeout_s;
    int max_retries;            /* retries after the first attempt */
    double backoff_s;           /* first retry delay; doubles each time */
    double backoff_max_s;
} vc_cap_client_cfg;

typedef enum { VC_CAP_SUCCESS, VC_CAP_TRUNCATED, VC_CAP_ERROR } vc_cap_status;

typedef struct vc_cap_reply {
    vc_cap_status status;
    char *text;                 /* choices[0].message.content (success, truncated) */
    int64_t prompt_tokens, output_tokens;
    char *error;                /* VC_CAP_ERROR: why (last attempt) */
    int attempts;
    bool cancelled;             /* the client shut down first */
} vc_cap_reply;

/* Called on the client's thread when a request is finished (reply is the
 * callee's to free with vc_cap_reply_free). It may submit more requests. */
typedef void (*vc_cap_done_fn)(void *opaque, vc_cap_reply *reply);

typedef struct vc_cap_client vc_cap_client;

vc_cap_client *vc_cap_client_new(const vc_cap_client_cfg *cfg);
/* Queue a request; body (JSON, caption/body.h) is taken, and what it
 * borrows must live until done is called. Never blocks. */
void vc_cap_client_submit(vc_cap_client *c, const char *url, vc_cap_body *body, vc_cap_done_fn done, void *opaque);
/* Requests queued or in flight. */
int vc_cap_client_pending(vc_cap_client *c);
/* Finish every request with cancelled = true and stop the thread. */
void vc_cap_client_free(vc_cap_client *c);
void vc_cap_reply_free(vc_cap_reply *r);

/* Parse a chat-completions reply body (exposed for tests). Returns 0 and
 * fills status/text/tokens, or -1 with error set for a malformed reply. */
int vc_cap_parse_reply(const char *body, size_t len, vc_cap_reply *r);

/* Retry-After (delta-seconds or an HTTP date) in seconds from now, or -1. */
double vc_cap_retry_after(const char *value);

#endif
