/* S3 requests over libcurl: SigV4 by CURLOPT_AWS_SIGV4 (with the
 * x-amz-content-sha256 header libcurl does not add), retries with backoff,
 * ListObjectsV2 pagination, ranged reads with read-ahead, multipart uploads
 * with parts in flight on worker threads. */
#include "storage/s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/fs.h"
#include "util/log.h"

char *vc_s3_profile_for(const char *url);
void vc_s3_profiles_reset(void);

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MAX_CLIENTS 16
#define POOL_MAX 64
#define MAX_GROWN_PART ((size_t)128 << 20)

/* ---- per-thread error message ---- */

static _Thread_local char last_err[1024];

const char *vc_s3_last_error(void) { return last_err; }

static void set_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_err, sizeof last_err, fmt, ap);
    va_end(ap);
}

/* ---- clients (settings per profile) and curl handles ---- */

typedef struct client {
    char *name;              /* profile as asked ("" = default chain) */
    vc_s3_settings s;
    char *sigv4;             /* "aws:amz:REGION:s3" */
    char *token_hdr;         /* "x-amz-security-token: ..." or NULL */
    int rc;                  /* load result */
    char *err;
} client;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static client *clients[MAX_CLIENTS];
static size_t nclients;
static CURL *pool[POOL_MAX];
static size_t npool;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int max_attempts = 10;
static long low_speed_time = 60;
static size_t part_size = 16u << 20;
static int parts_in_flight = 4;
static size_t read_block = 8u << 20;
static atomic_int auth_reported;
/* x-amz-content-sha256 of request bodies: 1 = always the SHA-256 of the
 * body, 0 = UNSIGNED-PAYLOAD for bodies, -1 (default) = signed over http,
 * UNSIGNED-PAYLOAD over https (TLS protects the body; botocore's default). */
static int sign_payload = -1;
static bool trace;

static void cleanup_all(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < npool; i++)
        curl_easy_cleanup(pool[i]);
    npool = 0;
    for (size_t i = 0; i < nclients; i++) {
        client *c = clients[i];
        vc_s3_settings_free(&c->s);
        free(c->name);
        free(c->sigv4);
        free(c->token_hdr);
        free(c->err);
        free(c);
    }
    nclients = 0;
    pthread_mutex_unlock(&lock);
    vc_s3_profiles_reset();
    curl_global_cleanup();
}

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    long x = strtol(v, NULL, 10);
    return x < lo ? lo : x > hi ? hi : x;
}

static void init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    max_attempts = (int)env_long("VCURATE_S3_MAX_ATTEMPTS", 10, 1, 100);
    low_speed_time = env_long("VCURATE_S3_TIMEOUT", 60, 1, 3600);
    part_size = (size_t)env_long("VCURATE_S3_PART_MB", 16, 5, 4096) << 20;
    parts_in_flight = (int)env_long("VCURATE_S3_PARTS_IN_FLIGHT", 4, 1, 64);
    read_block = (size_t)env_long("VCURATE_S3_READ_BLOCK_KB", 8192, 64, 1 << 20) << 10;
    sign_payload = (int)env_long("VCURATE_S3_SIGN_PAYLOAD", -1, -1, 1);
    trace = env_long("VCURATE_S3_TRACE", 0, 0, 1) != 0;
    atexit(cleanup_all);
}

static client *client_for(const char *url)
{
    pthread_once(&once, init_once);
    char *profile = vc_s3_profile_for(url);
    const char *name = profile ? profile : "";
    pthread_mutex_lock(&lock);
    client *c = NULL;
    for (size_t i = 0; i < nclients && !c; i++)
        if (!strcmp(clients[i]->name, name))
            c = clients[i];
    if (!c && nclients < MAX_CLIENTS) {
        c = vc_xcalloc(1, sizeof *c);
        c->name = vc_xstrdup(name);
        c->rc = vc_s3_settings_load(profile, &c->s, &c->err);
        if (c->rc == 0) {
            c->sigv4 = vc_asprintf("aws:amz:%s:s3", c->s.region);
            if (c->s.session_token)
                c->token_hdr = vc_asprintf("x-amz-security-token: %s", c->s.session_token);
        }
        clients[nclients++] = c;
    }
    pthread_mutex_unlock(&lock);
    free(profile);
    if (!c) {
        set_err("too many S3 profiles in use");
        return NULL;
    }
    if (c->rc) {
        set_err("%s", c->err);
        return NULL;
    }
    return c;
}

static CURL *handle_get(void)
{
    pthread_mutex_lock(&lock);
    CURL *h = npool ? pool[--npool] : NULL;
    pthread_mutex_unlock(&lock);
    return h ? h : curl_easy_init();
}

static void handle_put(CURL *h)
{
    /* reset keeps the connection cache: the next request reuses it */
    curl_easy_reset(h);
    pthread_mutex_lock(&lock);
    if (npool < POOL_MAX) {
        pool[npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&lock);
    if (h)
        curl_easy_cleanup(h);
}

/* ---- one request, retried ---- */

typedef struct s3_req {
    const char *method;          /* GET HEAD PUT POST DELETE */
    char *http_url;
    const char *what;            /* s3:// URL for messages */
    struct curl_slist *hdrs;
    const void *body;
    size_t body_len;
    bool unsigned_payload;
    char payload_hash[65];       /* x-amz-content-sha256, set once by perform() */
    /* response body: into resp, or into fixed[0..fixed_cap), or to file */
    vc_buf resp;
    char *fixed;
    size_t fixed_cap, fixed_len;
    FILE *file;
    size_t up_pos;
    /* results */
    long status;
    char etag[256];
    int64_t total_size;          /* from Content-Range, or Content-Length */
    char *code;                  /* S3 error code */
    char *message;
} s3_req;

static size_t on_body(char *p, size_t sz, size_t n, void *opaque)
{
    s3_req *r = opaque;
    size_t len = sz * n;
    if (r->fixed) {
        size_t room = r->fixed_cap - r->fixed_len;
        size_t take = len < room ? len : room;
        memcpy(r->fixed + r->fixed_len, p, take);
        r->fixed_len += take;
        /* a body longer than asked only happens with an error document
         * (kept in resp for the message) */
        if (take < len)
            vc_buf_append(&r->resp, p + take, len - take);
        return len;
    }
    if (r->file)
        return fwrite(p, 1, len, r->file);
    vc_buf_append(&r->resp, p, len);
    return len;
}

static size_t on_read(char *p, size_t sz, size_t n, void *opaque)
{
    s3_req *r = opaque;
    size_t left = r->body_len - r->up_pos;
    size_t take = sz * n < left ? sz * n : left;
    memcpy(p, (const char *)r->body + r->up_pos, take);
    r->up_pos += take;
    return take;
}

static size_t on_header(char *p, size_t sz, size_t n, void *opaque)
{
    s3_req *r = opaque;
    size_t len = sz * n;
    if (len > 5 && !strncasecmp(p, "etag:", 5)) {
        const char *v = p + 5;
        while (*v == ' ')
            v++;
        size_t vl = strcspn(v, "\r\n");
        if (vl < sizeof r->etag) {
            memcpy(r->etag, v, vl);
            r->etag[vl] = '\0';
        }
    } else if (len > 14 && !strncasecmp(p, "content-range:", 14)) {
        const char *slash = memchr(p, '/', len);
        if (slash)
            r->total_size = strtoll(slash + 1, NULL, 10);
    } else if (len > 15 && !strncasecmp(p, "content-length:", 15) && r->total_size < 0) {
        r->total_size = strtoll(p + 15, NULL, 10);
    }
    return len;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(data, len, d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void req_reset_response(s3_req *r)
{
    vc_buf_free(&r->resp);
    r->fixed_len = 0;
    r->up_pos = 0;
    r->status = 0;
    r->etag[0] = '\0';
    r->total_size = -1;
    free(r->code);
    free(r->message);
    r->code = r->message = NULL;
    if (r->file) {
        fflush(r->file);
        if (ftruncate(fileno(r->file), 0) == 0)
            rewind(r->file);
    }
}

static void req_free(s3_req *r)
{
    vc_buf_free(&r->resp);
    curl_slist_free_all(r->hdrs);
    free(r->http_url);
    free(r->code);
    free(r->message);
}

static CURLcode perform_once(client *c, s3_req *r)
{
    CURL *h = handle_get();
    if (!h)
        return CURLE_OUT_OF_MEMORY;
    char hdr[128];
    snprintf(hdr, sizeof hdr, "x-amz-content-sha256: %s", r->payload_hash);
    struct curl_slist *hl = curl_slist_append(NULL, hdr);
    if (c->token_hdr)
        hl = curl_slist_append(hl, c->token_hdr);
    for (struct curl_slist *e = r->hdrs; e; e = e->next)
        hl = curl_slist_append(hl, e->data);

    curl_easy_setopt(h, CURLOPT_URL, r->http_url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, c->s.access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->s.secret_key);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, low_speed_time);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    const char *ca = getenv("CURL_CA_BUNDLE");
    if (ca && *ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(r->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, r);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    } else if (!strcmp(r->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (trace) {
        long nconn = 0;
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
        if (nconn)
            vc_info("s3 trace: %s %s: new connection", r->method, r->what);
    }
    curl_slist_free_all(hl);
    if (rc == CURLE_OK)
        handle_put(h);
    else
        curl_easy_cleanup(h); /* a broken connection is not pooled */
    return rc;
}

/* The message for a final failure, and its -errno. Never mentions a key. */
static int fail_status(client *c, s3_req *r)
{
    const char *code = r->code ? r->code : "";
    const char *msg = r->message ? r->message : "";
    const char *url = r->what;
    if (r->status == 404) {
        if (!strcmp(code, "NoSuchBucket")) {
            vc_s3_loc loc;
            bool ok = vc_s3_parse_url(url, &loc, NULL) == 0;
            set_err("%s: bucket '%s' does not exist at %s (NoSuchBucket)", url,
                    ok ? loc.bucket : "?", c->s.endpoint);
            if (ok)
                vc_s3_loc_free(&loc);
        } else {
            set_err("%s: no such object", url);
        }
        return -ENOENT;
    }
    if (r->status == 403 || r->status == 401) {
        if (!strcmp(code, "SignatureDoesNotMatch"))
            set_err("%s: S3 authentication failed: the secret access key of profile '%s' "
                    "(from %s) is wrong for its access key (SignatureDoesNotMatch)",
                    url, c->s.profile, c->s.cred_source);
        else if (!strcmp(code, "InvalidAccessKeyId"))
            set_err("%s: S3 authentication failed: the access key id of profile '%s' (from %s) "
                    "is not known to %s (InvalidAccessKeyId)", url, c->s.profile,
                    c->s.cred_source, c->s.endpoint);
        else if (!strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidToken"))
            set_err("%s: S3 authentication failed: the session token of profile '%s' is "
                    "expired or invalid (%s)", url, c->s.profile, code);
        else
            set_err("%s: S3 access denied for profile '%s' (%s%s%s)", url, c->s.profile,
                    *code ? code : "HTTP 403", *msg ? ": " : "", msg);
        /* HEAD answers carry no reason: vc_s3_head asks again and reports */
        if (strcmp(r->method, "HEAD") != 0 && !atomic_exchange(&auth_reported, 1))
            vc_error("%s", last_err);
        return -EACCES;
    }
    if (!strcmp(code, "InvalidBucketName")) {
        set_err("%s: invalid bucket name (InvalidBucketName)", url);
        return -EINVAL;
    }
    set_err("%s: S3 %s failed: HTTP %ld%s%s%s%s", url, r->method, r->status, *code ? " " : "",
            code, *msg ? ": " : "", msg);
    return -EIO;
}

/* Runs r with retries. 0 on a 2xx answer (206 included), else -errno. */
static int perform(client *c, s3_req *r)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)r;
    /* The body's hash, once for all attempts (the body does not change):
     * on a part upload this runs on the part's thread, so the next part is
     * hashed while the previous ones are on the wire. */
    bool unsig = r->unsigned_payload;
    if (r->body_len && sign_payload >= 0)
        unsig = sign_payload == 0;
    else if (r->body_len && !strncmp(c->s.endpoint, "https:", 6))
        unsig = true;
    if (!r->body_len) {
        strcpy(r->payload_hash, EMPTY_SHA256);
    } else if (unsig) {
        strcpy(r->payload_hash, "UNSIGNED-PAYLOAD");
    } else {
        double t0 = vc_now();
        sha256_hex(r->body, r->body_len, r->payload_hash);
        if (trace && r->body_len >= (1u << 20))
            vc_info("s3 trace: %s: SHA-256 of %zu bytes: %.3f s", r->what, r->body_len,
                    vc_now() - t0);
    }
    for (int attempt = 1;; attempt++) {
        req_reset_response(r);
        CURLcode rc = perform_once(c, r);
        if (rc == CURLE_OK && r->status >= 200 && r->status < 300)
            return 0;
        if (rc == CURLE_OK && r->resp.len) {
            r->code = vc_s3_xml_text((const char *)r->resp.data, r->resp.len, "Code");
            r->message = vc_s3_xml_text((const char *)r->resp.data, r->resp.len, "Message");
        }
        if (attempt < max_attempts && vc_s3_retryable((int)rc, r->status, r->code)) {
            long ms = vc_s3_backoff_ms(attempt, &seed);
            vc_debug("%s: %s %s, retrying in %ld ms (attempt %d of %d)", r->what, r->method,
                     rc ? curl_easy_strerror(rc) : r->code ? r->code : "error", ms, attempt + 1,
                     max_attempts);
            if (attempt == 3)
                vc_warn("%s: S3 %s failing (%s), still retrying", r->what, r->method,
                        rc ? curl_easy_strerror(rc) : r->code ? r->code : "server error");
            struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
            continue;
        }
        if (rc != CURLE_OK) {
            set_err("%s: cannot reach the S3 endpoint %s: %s (after %d attempts)", r->what,
                    c->s.endpoint, curl_easy_strerror(rc), attempt);
            return -EIO;
        }
        return fail_status(c, r);
    }
}

/* Sets up r for the object at url, with the credentials tied to
 * profile_url (the path the caller named: a listing requests the bucket but
 * its profile is the one of the folder listed). */
static int req_init_for(s3_req *r, client **c, const char *method, const char *url,
                        const char *query, const char *profile_url)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->what = url;
    r->total_size = -1;
    char *err = NULL;
    vc_s3_loc loc;
    int rc = vc_s3_parse_url(url, &loc, &err);
    if (rc) {
        set_err("%s", err);
        free(err);
        return rc;
    }
    *c = client_for(profile_url);
    if (!*c) {
        vc_s3_loc_free(&loc);
        return -EINVAL;
    }
    r->http_url = vc_s3_http_url(&(*c)->s, loc.bucket, loc.key, query);
    vc_s3_loc_free(&loc);
    return 0;
}

static int req_init(s3_req *r, client **c, const char *method, const char *url,
                    const char *query)
{
    return req_init_for(r, c, method, url, query, url);
}

/* ---- simple operations ---- */

int vc_s3_head(const char *url, int64_t *size)
{
    client *c;
    s3_req r;
    int rc = req_init(&r, &c, "HEAD", url, NULL);
    if (rc == 0)
        rc = perform(c, &r);
    if (rc == -EACCES || (rc == -EIO && r.status == 403)) {
        /* HEAD answers carry no error document: ask again for the reason */
        s3_req g;
        client *c2;
        if (req_init(&g, &c2, "GET", url, NULL) == 0) {
            g.hdrs = curl_slist_append(NULL, "Range: bytes=0-0");
            rc = perform(c2, &g);
            if (rc == 0)
                rc = -EIO;
        }
        req_free(&g);
    } else if (rc == 0 && size) {
        *size = r.total_size;
    }
    req_free(&r);
    return rc;
}

int vc_s3_get(const char *url, char **data, size_t *len)
{
    client *c;
    s3_req r;
    int rc = req_init(&r, &c, "GET", url, NULL);
    if (rc == 0)
        rc = perform(c, &r);
    if (rc == 0) {
        if (len)
            *len = r.resp.len;
        vc_buf_append(&r.resp, "", 1);
        *data = (char *)r.resp.data;
        r.resp.data = NULL;
        r.resp.len = 0;
    }
    req_free(&r);
    return rc;
}

static int put_with(const char *url, const void *data, size_t len, const char *query,
                    struct curl_slist *hdrs, char *etag_out, size_t etag_cap)
{
    client *c;
    s3_req r;
    int rc = req_init(&r, &c, "PUT", url, query);
    r.hdrs = hdrs;
    r.body = data;
    r.body_len = len;
    if (rc == 0)
        rc = perform(c, &r);
    if (rc == 0 && etag_out)
        snprintf(etag_out, etag_cap, "%s", r.etag);
    req_free(&r);
    return rc;
}

int vc_s3_put(const char *url, const void *data, size_t len)
{
    return put_with(url, data, len, NULL, NULL, NULL, 0);
}

int vc_s3_put_noclobber(const char *url, const void *data, size_t len)
{
    int rc = vc_s3_head(url, NULL);
    if (rc == 0)
        return 1;
    if (rc != -ENOENT)
        return rc;
    return vc_s3_put(url, data, len);
}

int vc_s3_copy(const char *src_url, const char *dst_url)
{
    vc_s3_loc src;
    char *err = NULL;
    int rc = vc_s3_parse_url(src_url, &src, &err);
    if (rc) {
        set_err("%s", err);
        free(err);
        return rc;
    }
    char *path = vc_asprintf("%s/%s", src.bucket, src.key);
    char *enc = vc_s3_uri_encode(path, true);
    char *hdr = vc_asprintf("x-amz-copy-source: /%s", enc);
    rc = put_with(dst_url, NULL, 0, NULL, curl_slist_append(NULL, hdr), NULL, 0);
    free(hdr);
    free(enc);
    free(path);
    vc_s3_loc_free(&src);
    return rc;
}

int vc_s3_delete(const char *url)
{
    client *c;
    s3_req r;
    int rc = req_init(&r, &c, "DELETE", url, NULL);
    if (rc == 0)
        rc = perform(c, &r);
    req_free(&r);
    return rc;
}

/* ---- listing ---- */

static bool is_temp_key(const char *key)
{
    const char *slash = strrchr(key, '/');
    return vc_fs_is_temp_name(slash ? slash + 1 : key);
}

/* One ListObjectsV2 page. The query is written in SigV4 canonical form
 * (parameters sorted, values URI-encoded) so that the signed and the sent
 * query are the same string. */
static int list_page(const char *dir_url, const char *bucket_url, const char *prefix,
                     const char *token, int max_keys, vc_strlist *keys, char **next)
{
    char *query = vc_s3_list_query(prefix, token, max_keys);
    client *c;
    s3_req r;
    int rc = req_init_for(&r, &c, "GET", bucket_url, query, dir_url);
    r.what = dir_url;
    if (rc == 0)
        rc = perform(c, &r);
    if (rc == 0 && vc_s3_parse_list((const char *)r.resp.data, r.resp.len, keys, NULL, NULL, next) < 0) {
        set_err("%s: the server's listing is not a ListObjectsV2 answer", bucket_url);
        rc = -EPROTO;
    }
    req_free(&r);
    free(query);
    return rc;
}

/* A folder URL: its bucket, "key/" to list under ("" for the bucket's top)
 * and the bucket's own URL. 0, or -errno with the message set. */
typedef struct s3_folder {
    vc_s3_loc loc;
    char *prefix, *bucket_url;
} s3_folder;

static int folder_open(const char *url, s3_folder *f)
{
    char *err = NULL;
    int rc = vc_s3_parse_url(url, &f->loc, &err);
    if (rc) {
        set_err("%s", err);
        free(err);
        return rc;
    }
    size_t kl = strlen(f->loc.key);
    while (kl > 0 && f->loc.key[kl - 1] == '/')
        f->loc.key[--kl] = '\0';
    f->prefix = kl ? vc_asprintf("%s/", f->loc.key) : vc_xstrdup("");
    f->bucket_url = vc_asprintf("s3://%s", f->loc.bucket);
    return 0;
}

static void folder_close(s3_folder *f)
{
    free(f->bucket_url);
    free(f->prefix);
    vc_s3_loc_free(&f->loc);
}

int vc_s3_list(const char *dir_url, vc_strlist *out)
{
    s3_folder fo;
    int rc = folder_open(dir_url, &fo);
    if (rc)
        return rc;
    vc_strlist keys = { 0 };
    char *token = NULL;
    do {
        char *next = NULL;
        rc = list_page(dir_url, fo.bucket_url, fo.prefix, token, 0, &keys, &next);
        free(token);
        token = next;
    } while (rc == 0 && token);
    free(token);
    vc_strlist found = { 0 };
    for (size_t i = 0; rc == 0 && i < keys.len; i++) {
        const char *k = keys.items[i];
        size_t n = strlen(k);
        if (n == 0 || k[n - 1] == '/' || is_temp_key(k))
            continue; /* "folder" markers and our temporaries */
        vc_strlist_push_owned(&found, vc_asprintf("s3://%s/%s", fo.loc.bucket, k));
    }
    if (rc == 0 && found.len == 0) {
        set_err("%s: no objects under this prefix", dir_url);
        rc = -ENOENT;
    }
    vc_strlist_sort(&found);
    for (size_t i = 0; i < found.len; i++)
        vc_strlist_push_owned(out, found.items[i]);
    free(found.items);
    vc_strlist_free(&keys);
    folder_close(&fo);
    return rc;
}

int vc_s3_is_prefix(const char *url)
{
    s3_folder fo;
    int rc = folder_open(url, &fo);
    if (rc)
        return rc;
    vc_strlist keys = { 0 };
    char *next = NULL;
    rc = list_page(url, fo.bucket_url, fo.prefix, NULL, 1, &keys, &next);
    if (rc == 0)
        rc = keys.len > 0 || !fo.prefix[0]; /* a bucket that exists is a folder */
    free(next);
    vc_strlist_free(&keys);
    folder_close(&fo);
    return rc;
}

/* ---- ranged reads with read-ahead ---- */

typedef struct block {
    int64_t off;
    size_t len;
    char *data;
} block;

struct vc_s3_reader {
    char *url;
    int64_t size;
    size_t bsize;
    block cur;
    /* read-ahead of the block after cur, on its own thread */
    pthread_t th;
    bool pf_running;
    block pf;
    int pf_rc;
};

/* GET bytes [off, off+len) into buf; *got = bytes received. */
static int get_range(const char *url, int64_t off, size_t len, char *buf, size_t *got)
{
    client *c;
    s3_req r;
    int rc = req_init(&r, &c, "GET", url, NULL);
    char range[80];
    snprintf(range, sizeof range, "Range: bytes=%lld-%lld", (long long)off, (long long)(off + (int64_t)len - 1));
    r.hdrs = curl_slist_append(NULL, range);
    r.fixed = buf;
    r.fixed_cap = len;
    if (rc == 0)
        rc = perform(c, &r);
    if (rc == 0 && r.status != 206 && off > 0) {
        set_err("%s: the server ignored a ranged GET (HTTP %ld)", url, r.status);
        rc = -EIO;
    }
    *got = r.fixed_len;
    req_free(&r);
    return rc;
}

vc_s3_reader *vc_s3_reader_open(const char *url, int *rc)
{
    int64_t size = -1;
    *rc = vc_s3_head(url, &size);
    if (*rc)
        return NULL;
    vc_s3_reader *r = vc_xcalloc(1, sizeof *r);
    r->url = vc_xstrdup(url);
    r->size = size;
    r->bsize = read_block;
    return r;
}

int64_t vc_s3_reader_size(const vc_s3_reader *r) { return r->size; }

static int fetch_block(const char *url, int64_t size, size_t bsize, int64_t off, block *b)
{
    size_t want = (size_t)VC_MIN((int64_t)bsize, size - off);
    if (!b->data)
        b->data = vc_xmalloc(bsize);
    b->off = off;
    b->len = 0;
    int rc = get_range(url, off, want, b->data, &b->len);
    if (rc == 0 && b->len < want) {
        set_err("%s: object shorter than expected (changed while being read?)", url);
        rc = -EIO;
    }
    return rc;
}

static void *prefetch_main(void *opaque)
{
    vc_s3_reader *r = opaque;
    r->pf_rc = fetch_block(r->url, r->size, r->bsize, r->pf.off, &r->pf);
    if (r->pf_rc)
        r->pf.len = 0;
    return NULL;
}

static void prefetch_join(vc_s3_reader *r)
{
    if (r->pf_running) {
        pthread_join(r->th, NULL);
        r->pf_running = false;
    }
}

static void prefetch_start(vc_s3_reader *r, int64_t off)
{
    if (r->pf_running || off >= r->size)
        return;
    r->pf.off = off;
    r->pf.len = 0;
    if (pthread_create(&r->th, NULL, prefetch_main, r) == 0)
        r->pf_running = true;
}

int64_t vc_s3_reader_pread(vc_s3_reader *r, void *buf, size_t len, int64_t off)
{
    char *dst = buf;
    size_t done = 0;
    while (done < len && off < r->size) {
        if (r->cur.len && off >= r->cur.off && off < r->cur.off + (int64_t)r->cur.len) {
            size_t avail = (size_t)(r->cur.off + (int64_t)r->cur.len - off);
            size_t take = VC_MIN(avail, len - done);
            memcpy(dst + done, r->cur.data + (off - r->cur.off), take);
            done += take;
            off += (int64_t)take;
            if (off >= r->cur.off + (int64_t)r->cur.len)
                prefetch_start(r, r->cur.off + (int64_t)r->cur.len);
            continue;
        }
        if (r->pf_running && off >= r->pf.off && off < r->pf.off + (int64_t)r->bsize) {
            prefetch_join(r);
            if (r->pf_rc == 0 && r->pf.len) {
                block t = r->cur;
                r->cur = r->pf;
                r->pf = t;
                r->pf.len = 0;
                prefetch_start(r, r->cur.off + (int64_t)r->cur.len);
                continue;
            }
        }
        prefetch_join(r); /* a seek elsewhere: its block is not needed */
        int rc = fetch_block(r->url, r->size, r->bsize, off, &r->cur);
        if (rc) {
            r->cur.len = 0;
            return rc;
        }
        prefetch_start(r, r->cur.off + (int64_t)r->cur.len);
    }
    return (int64_t)done;
}

void vc_s3_reader_close(vc_s3_reader *r)
{
    if (!r)
        return;
    prefetch_join(r);
    free(r->cur.data);
    free(r->pf.data);
    free(r->url);
    free(r);
}

/* ---- multipart uploads ---- */

typedef struct part {
    struct vc_s3_writer *w;
    pthread_t th;
    int num;
    char *data;
    size_t len;
    int rc;
    char etag[256];
} part;

struct vc_s3_writer {
    char *url;
    char *upload_id;
    char *buf;               /* the part being filled: cap bytes, len used */
    size_t len, cap;
    int nparts;
    vc_strlist etags;        /* by part number - 1 */
    part **inflight;
    int ninflight;
    size_t alloc;            /* size of every part buffer (the largest part) */
    char **spare;            /* buffers whose upload is done */
    int nspare;
    int rc;
    int64_t total;
    double t_open, t_wait;   /* VCURATE_S3_TRACE */
};

/* Part buffers are reused: at most parts_in_flight + 1 are allocated, each
 * of the largest part size (address space only: pages are touched as parts
 * fill them), so a big upload does not fault in and zero fresh pages for
 * every part (a fresh buffer per part cost 2-4 s of system time on a 5 GB
 * upload). No MADV_HUGEPAGE: the kernel's shrinker of underused huge pages
 * (Linux 6.12+) splits zero-filled ones again, and the page faults and
 * zeroing came back (a quarter of the client's CPU time on the benchmark's
 * sparse file). */
static char *part_buf_new(size_t cap) { return vc_xmalloc(cap); }

static char *part_buf_get(vc_s3_writer *w)
{
    return w->nspare ? w->spare[--w->nspare] : part_buf_new(w->alloc);
}

static void part_buf_put(vc_s3_writer *w, char *buf)
{
    if (buf && w->nspare < parts_in_flight)
        w->spare[w->nspare++] = buf;
    else
        free(buf);
}

vc_s3_writer *vc_s3_writer_open(const char *url)
{
    pthread_once(&once, init_once);
    vc_s3_writer *w = vc_xcalloc(1, sizeof *w);
    w->url = vc_xstrdup(url);
    w->cap = part_size;
    w->alloc = VC_MAX(part_size, MAX_GROWN_PART);
    w->buf = part_buf_new(w->alloc);
    w->inflight = vc_xcalloc((size_t)parts_in_flight, sizeof(part *));
    w->spare = vc_xcalloc((size_t)parts_in_flight, sizeof(char *));
    w->t_open = vc_now();
    return w;
}

static int start_upload(vc_s3_writer *w)
{
    client *c;
    s3_req r;
    int rc = req_init(&r, &c, "POST", w->url, "uploads=");
    if (rc == 0)
        rc = perform(c, &r);
    if (rc == 0) {
        w->upload_id = vc_s3_xml_text((const char *)r.resp.data, r.resp.len, "UploadId");
        if (!w->upload_id) {
            set_err("%s: no UploadId in the answer to CreateMultipartUpload", w->url);
            rc = -EPROTO;
        }
    }
    req_free(&r);
    return rc;
}

static void *part_main(void *opaque)
{
    part *p = opaque;
    double t0 = vc_now();
    char *eid = vc_s3_uri_encode(p->w->upload_id, false);
    char *query = vc_asprintf("partNumber=%d&uploadId=%s", p->num, eid);
    p->rc = put_with(p->w->url, p->data, p->len, query, NULL, p->etag, sizeof p->etag);
    if (p->rc == 0 && !p->etag[0]) {
        set_err("%s: the server answered part %d without an ETag", p->w->url, p->num);
        p->rc = -EPROTO;
    }
    if (p->rc)
        vc_error("%s", vc_s3_last_error()); /* the message is this thread's */
    if (trace)
        vc_info("s3 trace: part %d, %zu bytes: %.3f s", p->num, p->len, vc_now() - t0);
    free(query);
    free(eid);
    return NULL;
}

/* Records a finished part: its ETag, its buffer back to the spares. */
static void part_done(vc_s3_writer *w, part *p)
{
    if (p->rc && !w->rc) {
        w->rc = p->rc;
        set_err("%s: upload of part %d failed", w->url, p->num);
    }
    while (w->etags.len < (size_t)p->num)
        vc_strlist_push(&w->etags, "");
    free(w->etags.items[p->num - 1]);
    w->etags.items[p->num - 1] = vc_xstrdup(p->etag);
    part_buf_put(w, p->data);
    free(p);
}

static void part_join(vc_s3_writer *w, part *p)
{
    double t0 = vc_now();
    pthread_join(p->th, NULL);
    w->t_wait += vc_now() - t0;
    part_done(w, p);
}

static int submit_part(vc_s3_writer *w)
{
    if (!w->upload_id && (w->rc = start_upload(w)) != 0)
        return w->rc;
    if (w->ninflight == parts_in_flight) {
        part_join(w, w->inflight[0]);
        memmove(w->inflight, w->inflight + 1, (size_t)(parts_in_flight - 1) * sizeof(part *));
        w->ninflight--;
        if (w->rc)
            return w->rc;
    }
    part *p = vc_xcalloc(1, sizeof *p);
    p->w = w;
    p->num = ++w->nparts;
    p->data = w->buf;
    p->len = w->len;
    /* Parts grow with the object (x2 every 16 parts, up to 128 MiB): small
     * objects keep small buffers, huge ones stay far below S3's 10000-part
     * limit and pay fewer per-part round trips. */
    if (w->nparts % 16 == 0 && w->cap < w->alloc)
        w->cap = VC_MIN(w->cap * 2, w->alloc);
    w->buf = part_buf_get(w);
    w->len = 0;
    if (pthread_create(&p->th, NULL, part_main, p) != 0) {
        part_main(p);
        int rc = p->rc;
        part_done(w, p);
        return rc ? (w->rc = rc) : 0;
    }
    w->inflight[w->ninflight++] = p;
    return 0;
}

void *vc_s3_writer_space(vc_s3_writer *w, size_t *room)
{
    *room = w->cap - w->len;
    return w->buf + w->len;
}

int vc_s3_writer_commit(vc_s3_writer *w, size_t n)
{
    if (w->rc)
        return w->rc;
    if (n > w->cap - w->len)
        return -EINVAL;
    w->len += n;
    w->total += (int64_t)n;
    if (w->len == w->cap)
        submit_part(w);
    return w->rc;
}

int vc_s3_writer_write(vc_s3_writer *w, const void *data, size_t len)
{
    const char *s = data;
    while (len > 0 && !w->rc) {
        size_t take = VC_MIN(len, w->cap - w->len);
        memcpy(w->buf + w->len, s, take);
        w->len += take;
        w->total += (int64_t)take;
        s += take;
        len -= take;
        if (w->len == w->cap)
            submit_part(w);
    }
    return w->rc;
}

static void join_all(vc_s3_writer *w)
{
    for (int i = 0; i < w->ninflight; i++)
        part_join(w, w->inflight[i]);
    w->ninflight = 0;
}

static void writer_free(vc_s3_writer *w)
{
    free(w->buf);
    while (w->nspare)
        free(w->spare[--w->nspare]);
    free(w->spare);
    free(w->url);
    free(w->upload_id);
    free(w->inflight);
    vc_strlist_free(&w->etags);
    free(w);
}

void vc_s3_writer_abort(vc_s3_writer *w)
{
    if (!w)
        return;
    join_all(w);
    if (w->upload_id) {
        char *eid = vc_s3_uri_encode(w->upload_id, false);
        char *query = vc_asprintf("uploadId=%s", eid);
        client *c;
        s3_req r;
        if (req_init(&r, &c, "DELETE", w->url, query) == 0)
            perform(c, &r);
        req_free(&r);
        free(query);
        free(eid);
    }
    writer_free(w);
}

int vc_s3_writer_finish(vc_s3_writer *w)
{
    if (!w->rc && !w->upload_id) {
        /* small: one PUT */
        int rc = vc_s3_put(w->url, w->buf, w->len);
        writer_free(w);
        return rc;
    }
    if (!w->rc && w->len)
        submit_part(w);
    join_all(w);
    double t_complete = vc_now();
    int rc = w->rc;
    if (rc) {
        char msg[sizeof last_err];
        snprintf(msg, sizeof msg, "%s", last_err);
        vc_s3_writer_abort(w);
        set_err("%s", msg);
        return rc;
    }
    vc_buf x = { 0 };
    const char *head = "<CompleteMultipartUpload>";
    vc_buf_append(&x, head, strlen(head));
    for (size_t i = 0; i < w->etags.len; i++) {
        char *p = vc_asprintf("<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1,
                              w->etags.items[i]);
        vc_buf_append(&x, p, strlen(p));
        free(p);
    }
    const char *tail = "</CompleteMultipartUpload>";
    vc_buf_append(&x, tail, strlen(tail));
    char *eid = vc_s3_uri_encode(w->upload_id, false);
    char *query = vc_asprintf("uploadId=%s", eid);
    client *c;
    s3_req r;
    rc = req_init(&r, &c, "POST", w->url, query);
    r.body = x.data;
    r.body_len = x.len;
    r.hdrs = curl_slist_append(NULL, "Content-Type: application/xml");
    if (rc == 0)
        rc = perform(c, &r);
    /* CompleteMultipartUpload may answer 200 with an error document */
    if (rc == 0 && r.resp.len && memmem(r.resp.data, r.resp.len, "<Error>", 7)) {
        char *code = vc_s3_xml_text((const char *)r.resp.data, r.resp.len, "Code");
        set_err("%s: CompleteMultipartUpload failed: %s", w->url, code ? code : "error");
        free(code);
        rc = -EIO;
    }
    req_free(&r);
    free(query);
    free(eid);
    vc_buf_free(&x);
    if (rc) {
        char msg[sizeof last_err];
        snprintf(msg, sizeof msg, "%s", last_err);
        vc_s3_writer_abort(w);
        set_err("%s", msg);
        return rc;
    }
    if (trace)
        vc_info("s3 trace: %s: %lld bytes in %d parts, %.3f s; waiting for parts %.3f s, "
                "completion %.3f s", w->url, (long long)w->total, w->nparts,
                vc_now() - w->t_open, w->t_wait, vc_now() - t_complete);
    free(w->upload_id);
    w->upload_id = NULL;
    writer_free(w);
    return 0;
}

/* ---- downloads to local files ---- */

static int get_to_file(const char *url, const char *path)
{
    char *tmp = vc_asprintf("%s.part-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        set_err("cannot create %s: %s", tmp, strerror(e));
        free(tmp);
        return -e;
    }
    client *c;
    s3_req r;
    int rc = req_init(&r, &c, "GET", url, NULL);
    r.file = f;
    if (rc == 0)
        rc = perform(c, &r);
    req_free(&r);
    if (fclose(f) != 0 && rc == 0) {
        rc = -errno;
        set_err("cannot write %s: %s", tmp, strerror(-rc));
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
        set_err("cannot rename %s: %s", tmp, strerror(-rc));
    }
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

int vc_s3_mirror(const char *url_dir, const char *const *rels, size_t n, const char *local_dir)
{
    for (size_t i = 0; i < n; i++) {
        char *url = vc_fs_join(url_dir, rels[i]);
        char *path = vc_fs_join(local_dir, rels[i]);
        int64_t size = -1;
        int rc = vc_s3_head(url, &size);
        struct stat st;
        if (rc == 0 && !(stat(path, &st) == 0 && st.st_size == size)) {
            char *dir = vc_xstrdup(path);
            *strrchr(dir, '/') = '\0';
            rc = vc_fs_mkdirs(dir);
            free(dir);
            if (rc == 0) {
                vc_info("downloading %s to %s", url, path);
                rc = get_to_file(url, path);
            }
        }
        free(url);
        free(path);
        if (rc)
            return rc;
    }
    return 0;
}
