/* Hugging Face file downloads over libcurl's multi interface (see hub.h). */
#include "models/hub.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "models/internal.h"
#include "storage/fs.h"
#include "util/common.h"
#include "util/log.h"

#define MAX_HOPS 10
#define BODY_MAX 4096

enum { S_IDLE, S_HEAD, S_GET, S_DONE };

struct hub_job {
    vc_hub_file *f;
    int state;
    double not_before;
    int attempts;          /* consecutive failures that made no progress */
    int total_attempts;
    int hash_failures;
    bool dest_checked;     /* the existing file was hashed already (and did not match) */
    CURL *easy;
    struct curl_slist *hdrs;
    char *url;             /* current request */
    int hops;
    char errbuf[CURL_ERROR_SIZE];
    char *last_error;      /* why the last attempt failed, for the final message */
    /* response headers of the current request */
    long status;
    char h_etag[160], h_linked_etag[160], h_commit[96], h_error_code[64], h_error_msg[512];
    char h_content_range[128];
    int64_t h_content_length, h_linked_size;
    double h_retry_after;
    vc_buf body;
    /* what the HEAD said */
    char *dl_url;
    int64_t expect;        /* -1 unknown */
    /* the GET */
    char *partial;
    FILE *fp;
    int64_t offset;        /* bytes in the partial file when this request started */
    int64_t got;           /* bytes written by this request */
    vc_hasher *hasher;
    int64_t hashed;        /* bytes of the partial fed to hasher */
    char *hashed_partial;  /* which partial file the hasher is for */
    bool response_checked; /* 200/206 checks done for this response */
    int abort_reason;      /* why the write callback stopped the transfer */
};

enum { AB_NONE, AB_DISK, AB_RANGE, AB_TOO_MUCH, AB_CANCEL };

typedef struct hub {
    const vc_hub_opts *o;
    CURLM *multi;
    vc_hub_file *files;
    size_t n;
    char *ep_origin;
    bool ep_https;
    /* progress */
    double last_draw, start;
    int64_t rate_bytes;
    double rate_t, rate;
    int drawn_len;
    bool drawing;
} hub;

/* ---- messages: everything from outside passes through redact() ---- */

static const char *g_token; /* the token of the run in progress, for redaction */

static void redact(char *s)
{
    if (!g_token || strlen(g_token) < 4)
        return;
    size_t tl = strlen(g_token);
    char *p;
    while ((p = strstr(s, g_token))) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + tl, strlen(p + tl) + 1);
    }
}

__attribute__((format(printf, 2, 3))) static void hlog(enum vc_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vc_vasprintf(fmt, ap);
    va_end(ap);
    redact(s);
    vc_log(lvl, "%s", s);
    free(s);
}

__attribute__((format(printf, 2, 3))) static void set_error(hub_job *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vc_vasprintf(fmt, ap);
    va_end(ap);
    redact(s);
    free(j->last_error);
    j->last_error = s;
}

/* ---- token and endpoint ---- */

static bool token_ok(const char *t)
{
    if (!*t)
        return false;
    for (const char *p = t; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return false;
    return true;
}

void vc_hub_token_free(char *token)
{
    if (!token)
        return;
    volatile char *p = token;
    while (*p)
        *p++ = 0;
    free(token);
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *t = vc_xmalloc(n + 1);
    memcpy(t, s, n);
    t[n] = 0;
    return t;
}

char *vc_hub_token(char *source, size_t srclen, int *bad, char *err, size_t errlen)
{
    *bad = 0;
    const char *envs[] = { "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN" };
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(envs[i]);
        if (v && *v) {
            char *t = trim_dup(v, strlen(v));
            snprintf(source, srclen, "$%s", envs[i]);
            if (!token_ok(t)) {
                snprintf(err, errlen, "$%s is set but is not a usable token (empty, or has spaces or "
                                      "control characters)", envs[i]);
                vc_hub_token_free(t);
                *bad = -1;
                return NULL;
            }
            return t;
        }
    }
    char *path;
    const char *tp = getenv("HF_TOKEN_PATH");
    const char *home = getenv("HF_HOME");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *uh = getenv("HOME");
    if (tp && *tp)
        path = vc_xstrdup(tp);
    else if (home && *home)
        path = vc_asprintf("%s/token", home);
    else if (xdg && *xdg)
        path = vc_asprintf("%s/huggingface/token", xdg);
    else
        path = vc_asprintf("%s/.cache/huggingface/token", uh && *uh ? uh : ".");
    size_t len = 0;
    char *data = vc_fs_read_all(path, &len);
    if (!data) {
        free(path);
        return NULL;
    }
    char *t = trim_dup(data, len);
    vc_hub_token_free(data);
    snprintf(source, srclen, "%s", path);
    if (!t[0]) {
        free(path);
        free(t);
        return NULL;
    }
    if (!token_ok(t)) {
        snprintf(err, errlen, "the token file %s does not hold a usable token (spaces or control "
                              "characters)", path);
        vc_hub_token_free(t);
        free(path);
        *bad = -1;
        return NULL;
    }
    free(path);
    return t;
}

char *vc_hub_endpoint(const char *override)
{
    const char *e = override && *override ? override : getenv("HF_ENDPOINT");
    if (!e || !*e)
        e = "https://huggingface.co";
    char *s = vc_xstrdup(e);
    size_t n = strlen(s);
    while (n && s[n - 1] == '/')
        s[--n] = 0;
    return s;
}

/* "scheme://host:port" of url, lowercased, default port made explicit. */
static char *origin_of(const char *url, bool *https)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *res = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        res = vc_asprintf("%s://%s:%s", scheme, host, port);
        for (char *p = res; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (https)
            *https = !strcasecmp(scheme, "https");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return res;
}

/* Percent-encodes everything but unreserved characters and '/'. */
static void append_path(vc_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~/", *p)) {
            vc_buf_append(b, p, 1);
        } else {
            char e[4];
            snprintf(e, sizeof e, "%%%02X", *p);
            vc_buf_append(b, e, 3);
        }
    }
}

static char *resolve_url(const hub *h, const vc_hub_file *f)
{
    vc_buf b = { 0 };
    vc_buf_append(&b, h->o->endpoint, strlen(h->o->endpoint));
    vc_buf_append(&b, "/", 1);
    append_path(&b, f->repo);
    vc_buf_append(&b, "/resolve/", 9);
    append_path(&b, f->revision);
    vc_buf_append(&b, "/", 1);
    append_path(&b, f->file);
    vc_buf_append(&b, "", 1);
    return (char *)b.data;
}

/* ---- progress line ---- */

static void progress_totals(const hub *h, int64_t *done, int64_t *total, int *files_active, int *files_left)
{
    *done = *total = 0;
    *files_active = *files_left = 0;
    for (size_t i = 0; i < h->n; i++) {
        hub_job *j = h->files[i].job;
        if (!j || h->files[i].probe)
            continue;
        if (j->state != S_DONE)
            (*files_left)++;
        if (j->state == S_GET)
            (*files_active)++;
        if (j->partial && j->expect > 0) {
            *total += j->expect;
            *done += j->state == S_DONE ? j->expect : j->offset + j->got;
        }
    }
}

static void fmt_dur(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0 || s > 99 * 3600)
        snprintf(buf, len, "--");
    else if (s >= 3600)
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60)
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, len, "%ds", (int)s);
}

static void draw_locked(void *opaque)
{
    hub *h = opaque;
    int64_t done, total;
    int active, left;
    progress_totals(h, &done, &total, &active, &left);
    double now = vc_now();
    if (now - h->rate_t >= 1.0) {
        double inst = (double)(done - h->rate_bytes) / (now - h->rate_t);
        h->rate = h->rate > 0 ? 0.7 * h->rate + 0.3 * inst : inst;
        h->rate_bytes = done;
        h->rate_t = now;
    }
    char d[32], t[32], r[32], eta[32];
    vc_models_fmt_size(done, d, sizeof d);
    vc_models_fmt_size(total, t, sizeof t);
    vc_models_fmt_size((int64_t)(h->rate > 0 ? h->rate : 0), r, sizeof r);
    fmt_dur(h->rate > 1 ? (double)(total - done) / h->rate : NAN, eta, sizeof eta);
    double frac = total > 0 ? (double)done / (double)total : 0;
    char bar[32];
    int w = 24, fill = (int)(frac * w + 0.5);
    for (int i = 0; i < w; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[w] = 0;
    char line[256];
    int n = snprintf(line, sizeof line, "models: [%s] %3d%%  %s / %s  %s/s  ETA %s  (%d file%s left)", bar,
                     (int)(frac * 100), d, t, r, eta, left, left == 1 ? "" : "s");
    fprintf(stderr, "\r%s", line);
    for (int i = n; i < h->drawn_len; i++)
        fputc(' ', stderr);
    fflush(stderr);
    h->drawn_len = n;
    h->drawing = true;
}

static void log_hook(int after, void *opaque)
{
    hub *h = opaque;
    if (!after) {
        if (h->drawing) {
            fprintf(stderr, "\r%*s\r", h->drawn_len, "");
            h->drawing = false;
        }
    } else if (h->drawn_len) {
        draw_locked(h);
    }
}

static void progress_draw(hub *h, bool force)
{
    if (!h->o->progress)
        return;
    double now = vc_now();
    if (!force && now - h->last_draw < 0.2)
        return;
    h->last_draw = now;
    vc_log_locked(draw_locked, h);
}

static void progress_clear_locked(void *opaque)
{
    hub *h = opaque;
    if (h->drawing)
        fprintf(stderr, "\r%*s\r", h->drawn_len, "");
    h->drawing = false;
    h->drawn_len = 0;
}

/* ---- curl callbacks ---- */

static void copy_hval(char *dst, size_t len, const char *v, size_t vlen)
{
    while (vlen && isspace((unsigned char)*v)) {
        v++;
        vlen--;
    }
    while (vlen && isspace((unsigned char)v[vlen - 1]))
        vlen--;
    if (vlen >= len)
        vlen = len - 1;
    memcpy(dst, v, vlen);
    dst[vlen] = 0;
}

static void reset_response(hub_job *j)
{
    j->status = 0;
    j->h_etag[0] = j->h_linked_etag[0] = j->h_commit[0] = j->h_error_code[0] = 0;
    j->h_error_msg[0] = j->h_content_range[0] = 0;
    j->h_content_length = j->h_linked_size = -1;
    j->h_retry_after = -1;
    j->body.len = 0;
    j->response_checked = false;
    j->abort_reason = AB_NONE;
    j->got = 0;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *opaque)
{
    hub_job *j = opaque;
    size_t n = size * nitems;
    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) {
        reset_response(j);
        const char *sp = memchr(buf, ' ', n);
        if (sp)
            j->status = strtol(sp + 1, NULL, 10);
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon)
        return n;
    size_t kl = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vl = n - kl - 1;
    char tmp[64];
#define IS(name) (kl == strlen(name) && !strncasecmp(buf, name, kl))
    if (IS("etag")) {
        char raw[160];
        copy_hval(raw, sizeof raw, v, vl);
        vc_etag_normalise(raw, j->h_etag, sizeof j->h_etag);
    } else if (IS("x-linked-etag")) {
        char raw[160];
        copy_hval(raw, sizeof raw, v, vl);
        vc_etag_normalise(raw, j->h_linked_etag, sizeof j->h_linked_etag);
    } else if (IS("x-repo-commit")) {
        copy_hval(j->h_commit, sizeof j->h_commit, v, vl);
    } else if (IS("x-error-code")) {
        copy_hval(j->h_error_code, sizeof j->h_error_code, v, vl);
    } else if (IS("x-error-message")) {
        copy_hval(j->h_error_msg, sizeof j->h_error_msg, v, vl);
    } else if (IS("content-range")) {
        copy_hval(j->h_content_range, sizeof j->h_content_range, v, vl);
    } else if (IS("content-length")) {
        copy_hval(tmp, sizeof tmp, v, vl);
        j->h_content_length = strtoll(tmp, NULL, 10);
    } else if (IS("x-linked-size")) {
        copy_hval(tmp, sizeof tmp, v, vl);
        j->h_linked_size = strtoll(tmp, NULL, 10);
    } else if (IS("retry-after")) {
        copy_hval(tmp, sizeof tmp, v, vl);
        char *end;
        double s = strtod(tmp, &end);
        if (end != tmp && s >= 0)
            j->h_retry_after = s;
    }
#undef IS
    return n;
}

static bool truncate_partial(hub_job *j)
{
    if (!j->fp)
        return false;
    fflush(j->fp);
    if (ftruncate(fileno(j->fp), 0) != 0)
        return false;
    j->offset = 0;
    vc_hasher_free(j->hasher);
    j->hasher = vc_hasher_new(vc_etag_kind_of(j->f->etag), j->expect);
    j->hashed = 0;
    return true;
}

/* Checks a 200/206 answer to the GET before its first byte is written. */
static bool check_data_response(hub_job *j)
{
    if (j->status == 200) {
        if (j->offset > 0) {
            /* The server ignored the range: start over. */
            hlog(VC_LOG_INFO, "%s: %s: server does not resume, downloading from the start", j->f->label,
                 j->f->file);
            if (!truncate_partial(j)) {
                j->abort_reason = AB_DISK;
                return false;
            }
        }
        return true;
    }
    /* 206: "bytes START-END/TOTAL" must start where the partial ends. */
    long long a = -1, b = -1, tot = -1;
    if (sscanf(j->h_content_range, "bytes %lld-%lld/%lld", &a, &b, &tot) < 2 || a != j->offset ||
        (j->expect >= 0 && tot >= 0 && tot != j->expect)) {
        j->abort_reason = AB_RANGE;
        return false;
    }
    return true;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *opaque)
{
    hub_job *j = opaque;
    size_t n = size * nmemb;
    bool ok_status = j->state == S_GET && (j->status == 200 || j->status == 206);
    if (!ok_status) {
        /* An error page: keep its start for the message; a HEAD has none. */
        if (j->body.len < BODY_MAX)
            vc_buf_append(&j->body, data, VC_MIN(n, BODY_MAX - j->body.len));
        return n;
    }
    if (!j->response_checked) {
        j->response_checked = true;
        if (!check_data_response(j))
            return 0;
    }
    if (j->expect >= 0 && j->offset + j->got + (int64_t)n > j->expect) {
        j->abort_reason = AB_TOO_MUCH;
        return 0;
    }
    if (fwrite(data, 1, n, j->fp) != n) {
        j->abort_reason = AB_DISK;
        return 0;
    }
    vc_hasher_update(j->hasher, data, n);
    j->hashed += (int64_t)n;
    j->got += (int64_t)n;
    return n;
}

/* ---- requests ---- */

static const char *user_agent(void)
{
    return "vcurate/" VC_VERSION "; huggingface_hub-compatible; libcurl";
}

/* A CA bundle for mirrors behind a private CA, named as curl and
 * requests (huggingface_hub) name it. */
static const char *ca_bundle(void)
{
    static const char *const vars[] = { "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE" };
    for (size_t i = 0; i < VC_ARRAY_LEN(vars); i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}

static int start_request(hub *h, hub_job *j, bool head, const char *url)
{
    const vc_hub_opts *o = h->o;
    if (url != j->url) {
        free(j->url);
        j->url = vc_xstrdup(url);
    }
    if (!j->easy) {
        j->easy = curl_easy_init();
        if (!j->easy) {
            set_error(j, "cannot create a transfer (libcurl)");
            return -1;
        }
    } else {
        curl_easy_reset(j->easy);
    }
    curl_slist_free_all(j->hdrs);
    j->hdrs = NULL;
    reset_response(j);
    j->errbuf[0] = 0;

    bool https = false;
    char *origin = origin_of(j->url, &https);
    if (!origin) {
        set_error(j, "not a valid URL: %s", j->url);
        return -1;
    }
    if (h->ep_https && !https) {
        set_error(j, "refusing to follow a redirect from https to plain http (%s)", j->url);
        free(origin);
        return -1;
    }
    /* The token goes to the endpoint's own origin only. */
    bool auth = o->token && !strcmp(origin, h->ep_origin);
    free(origin);
    if (auth) {
        char *hv = vc_asprintf("Authorization: Bearer %s", o->token);
        j->hdrs = curl_slist_append(j->hdrs, hv);
        vc_hub_token_free(hv);
    }
    /* Sizes and hashes are of the stored bytes: no transfer compression. */
    j->hdrs = curl_slist_append(j->hdrs, "Accept-Encoding: identity");

    CURL *e = j->easy;
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent());
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_VERBOSE, 0L); /* curl's trace would show the Authorization header */
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
    long stall = (long)(o->stall_timeout_s > 0 ? ceil(o->stall_timeout_s) : 60);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, stall);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
    if (ca_bundle())
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_bundle());
    if (head) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT, stall + 30);
    } else if (j->offset > 0) {
        char range[48];
        snprintf(range, sizeof range, "%lld-", (long long)j->offset);
        curl_easy_setopt(e, CURLOPT_RANGE, range);
    }
    j->state = head ? S_HEAD : S_GET;
    if (o->verbose) {
        char *u = vc_xstrdup(j->url);
        char *q = strchr(u, '?'); /* signed CDN URLs: the query is a credential too */
        if (q)
            strcpy(q, "?...");
        hlog(VC_LOG_DEBUG, "%s %s%s%s", head ? "HEAD" : "GET", u, auth ? " (with token)" : "",
             !head && j->offset ? " (resuming)" : "");
        free(u);
    }
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        set_error(j, "cannot start a transfer (libcurl)");
        return -1;
    }
    return 0;
}

static void finish(hub *h, hub_job *j, vc_hub_result r)
{
    (void)h;
    if (j->fp) {
        fclose(j->fp);
        j->fp = NULL;
    }
    vc_hasher_free(j->hasher);
    j->hasher = NULL;
    j->state = S_DONE;
    j->f->result = r;
    if ((r == VC_HUB_FAILED || r == VC_HUB_NOT_FOUND) && !j->f->error)
        j->f->error = vc_xstrdup(j->last_error ? j->last_error : "failed");
}

static void fail(hub *h, hub_job *j, vc_hub_result r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(hub *h, hub_job *j, vc_hub_result r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vc_vasprintf(fmt, ap);
    va_end(ap);
    redact(s);
    free(j->f->error);
    j->f->error = s;
    finish(h, j, r);
}

/* The file is in place and untouched since its record was written. */
static bool local_as_recorded(vc_hub_file *f)
{
    char *dest = vc_fs_join(f->repo_dir, f->file);
    int64_t size, mtime;
    vc_file_record r;
    bool ok = vc_models_stat(dest, &size, &mtime) == 0 && vc_models_record_read(f->repo_dir, f->file, &r) == 0 &&
              vc_models_record_matches_stat(&r, size, mtime);
    if (ok) {
        snprintf(f->etag, sizeof f->etag, "%s", r.etag);
        snprintf(f->commit, sizeof f->commit, "%s", r.commit);
        f->size = size;
    }
    free(dest);
    return ok;
}

/* Schedules another attempt from the HEAD, or fails after too many. */
static void retry(hub *h, hub_job *j, bool made_progress)
{
    const vc_hub_opts *o = h->o;
    if (j->fp) {
        fflush(j->fp);
        fclose(j->fp);
        j->fp = NULL;
    }
    /* The hasher is kept: a resume of the same partial goes on from it
     * instead of reading the whole prefix again. */
    if (made_progress)
        j->attempts = 0;
    j->attempts++;
    j->total_attempts++;
    int max = o->retries < 0 ? 5 : o->retries;
    if (j->attempts > max || j->total_attempts > 20 * (max + 1)) {
        if (j->state == S_HEAD && !j->f->probe && local_as_recorded(j->f)) {
            /* Offline, or the hub is down: what is here is what was fetched. */
            hlog(VC_LOG_WARN, "%s: %s: could not reach the hub (%s); keeping the copy downloaded earlier",
                 j->f->label, j->f->file, j->last_error ? j->last_error : "failed");
            finish(h, j, VC_HUB_OK);
            return;
        }
        fail(h, j, VC_HUB_FAILED, "%s: %s: %s (gave up after %d attempt%s)", j->f->label, j->f->file,
             j->last_error ? j->last_error : "failed", j->total_attempts, j->total_attempts == 1 ? "" : "s");
        return;
    }
    double base = o->retry_wait_s > 0 ? o->retry_wait_s : 1.0;
    double wait = fmin(30.0, base * pow(2.0, j->attempts - 1));
    if (j->h_retry_after >= 0)
        wait = fmax(wait, fmin(j->h_retry_after, 120.0));
    hlog(VC_LOG_WARN, "%s: %s: %s; retrying in %.1f s (%d of %d)", j->f->label, j->f->file,
         j->last_error ? j->last_error : "failed", wait, j->attempts, max);
    j->state = S_IDLE;
    j->not_before = vc_now() + wait;
}

static void start_get(hub *h, hub_job *j);

/* Finalises a complete partial: hash check, rename into place, record. */
static void complete_file(hub *h, hub_job *j)
{
    vc_hub_file *f = j->f;
    if (j->fp) {
        if (fflush(j->fp) != 0 || fsync(fileno(j->fp)) != 0) {
            fail(h, j, VC_HUB_FAILED, "%s: %s: cannot write %s: %s", f->label, f->file, j->partial,
                 strerror(errno));
            return;
        }
        fclose(j->fp);
        j->fp = NULL;
    }
    int64_t psize = -1;
    vc_models_stat(j->partial, &psize, NULL);
    if (j->expect >= 0 && psize != j->expect) {
        set_error(j, "got %lld bytes, expected %lld", (long long)psize, (long long)j->expect);
        retry(h, j, false);
        return;
    }
    vc_etag_kind kind = vc_etag_kind_of(f->etag);
    if (kind != VC_ETAG_NONE) {
        char got[160];
        if (!j->hasher) {
            j->hasher = vc_hasher_new(kind, psize);
            if (j->hasher && vc_hash_file_into(j->hasher, j->partial, -1, h->o->cancelled) != 0) {
                fail(h, j, VC_HUB_FAILED, "%s: %s: cannot read %s: %s", f->label, f->file, j->partial,
                     strerror(errno));
                return;
            }
        }
        if (j->hasher) {
            vc_hasher_final(j->hasher, got);
            j->hasher = NULL;
            j->hashed = 0;
            if (strcmp(got, f->etag)) {
                unlink(j->partial);
                j->hash_failures++;
                set_error(j, "%s mismatch: the hub says %s, the download has %s",
                          kind == VC_ETAG_SHA256 ? "sha256" : "git-sha1", f->etag, got);
                if (j->hash_failures >= 3) {
                    fail(h, j, VC_HUB_FAILED, "%s: %s: %s (3 times)", f->label, f->file, j->last_error);
                    return;
                }
                retry(h, j, false);
                return;
            }
        }
    }
    char *dest = vc_fs_join(f->repo_dir, f->file);
    char *dir = vc_xstrdup(dest);
    *strrchr(dir, '/') = 0;
    int rc = vc_fs_mkdirs(dir);
    if (rc || rename(j->partial, dest) != 0) {
        fail(h, j, VC_HUB_FAILED, "%s: %s: cannot move the download into place at %s: %s", f->label, f->file,
             dest, strerror(rc ? -rc : errno));
        free(dir);
        free(dest);
        return;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    vc_file_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.commit, sizeof r.commit, "%s", f->commit[0] ? f->commit : f->revision);
    snprintf(r.etag, sizeof r.etag, "%s", f->etag);
    snprintf(r.revision, sizeof r.revision, "%s", f->revision);
    rc = vc_models_record_write(f->repo_dir, f->file, &r);
    if (rc)
        hlog(VC_LOG_WARN, "%s: %s: cannot write its download record: %s", f->label, f->file, strerror(-rc));
    f->fetched = true;
    f->size = psize;
    char sz[32];
    vc_models_fmt_size(psize, sz, sizeof sz);
    hlog(VC_LOG_INFO, "%s: %s (%s)%s", f->label, f->file, sz,
         kind == VC_ETAG_SHA256 ? " downloaded, sha256 verified"
                                : kind == VC_ETAG_GITSHA1 ? " downloaded, git-sha1 verified" : " downloaded");
    free(dest);
    finish(h, j, VC_HUB_OK);
}

static void start_get(hub *h, hub_job *j)
{
    vc_hub_file *f = j->f;
    free(j->partial);
    j->partial = vc_models_partial_path(f->repo_dir, f->file, f->etag);
    vc_models_remove_partials(f->repo_dir, f->file, f->etag);
    char *dir = vc_xstrdup(j->partial);
    *strrchr(dir, '/') = 0;
    int rc = vc_fs_mkdirs(dir);
    free(dir);
    if (rc) {
        fail(h, j, VC_HUB_FAILED, "%s: %s: cannot create the download folder: %s", f->label, f->file,
             strerror(-rc));
        return;
    }
    j->fp = fopen(j->partial, "ab");
    if (!j->fp) {
        fail(h, j, VC_HUB_FAILED, "%s: %s: cannot write %s: %s", f->label, f->file, j->partial,
             strerror(errno));
        return;
    }
    setvbuf(j->fp, NULL, _IOFBF, 1 << 20);
    int64_t have = 0;
    vc_models_stat(j->partial, &have, NULL);
    j->offset = have;
    if (j->expect >= 0 && have > j->expect) {
        truncate_partial(j);
        have = 0;
    }
    bool reuse = j->hasher && j->hashed_partial && !strcmp(j->hashed_partial, j->partial) && j->hashed == have;
    if (!reuse) {
        vc_hasher_free(j->hasher);
        j->hasher = vc_hasher_new(vc_etag_kind_of(f->etag), j->expect);
        j->hashed = 0;
        free(j->hashed_partial);
        j->hashed_partial = vc_xstrdup(j->partial);
    }
    if (have > 0 && j->hasher && !reuse) {
        int hr = vc_hash_file_into(j->hasher, j->partial, have, h->o->cancelled);
        j->hashed = have;
        if (hr == -2) {
            finish(h, j, VC_HUB_CANCELLED);
            return;
        }
        if (hr) {
            truncate_partial(j);
            have = 0;
        }
    }
    if (j->expect >= 0 && have == j->expect) {
        complete_file(h, j);
        return;
    }
    if (have > 0) {
        char a[32], b[32];
        vc_models_fmt_size(have, a, sizeof a);
        vc_models_fmt_size(j->expect, b, sizeof b);
        hlog(VC_LOG_INFO, "%s: %s: resuming at %s of %s", f->label, f->file, a, j->expect >= 0 ? b : "?");
    }
    j->hops = 0;
    if (start_request(h, j, false, j->dl_url)) {
        if (j->fp) {
            fclose(j->fp);
            j->fp = NULL;
        }
        finish(h, j, VC_HUB_FAILED);
    }
}

/* The HEAD is answered: decide whether the local file is current. */
static void head_done(hub *h, hub_job *j)
{
    vc_hub_file *f = j->f;
    const char *etag = j->h_linked_etag[0] ? j->h_linked_etag : j->h_etag;
    snprintf(f->etag, sizeof f->etag, "%s", etag);
    snprintf(f->commit, sizeof f->commit, "%s", j->h_commit);
    j->expect = j->h_linked_size >= 0 ? j->h_linked_size : j->h_content_length;
    f->size = j->expect;
    if (f->probe) {
        finish(h, j, VC_HUB_OK);
        return;
    }
    char *dest = vc_fs_join(f->repo_dir, f->file);
    int64_t size = -1, mtime = -1;
    bool exists = vc_models_stat(dest, &size, &mtime) == 0;
    if (exists) {
        vc_file_record r;
        bool have_rec = vc_models_record_read(f->repo_dir, f->file, &r) == 0;
        bool same_etag = have_rec && f->etag[0] && !strcmp(r.etag, f->etag);
        bool size_ok = j->expect < 0 || size == j->expect;
        if (same_etag && size_ok && vc_models_record_matches_stat(&r, size, mtime) && !h->o->recheck) {
            if (h->o->verbose)
                hlog(VC_LOG_DEBUG, "%s: %s is up to date", f->label, f->file);
            free(dest);
            finish(h, j, VC_HUB_OK);
            return;
        }
        vc_etag_kind kind = vc_etag_kind_of(f->etag);
        if (size_ok && kind != VC_ETAG_NONE && !j->dest_checked) {
            char got[160];
            if (h->o->verbose || size > 100000000)
                hlog(VC_LOG_INFO, "%s: checking %s against the hub's %s", f->label, f->file,
                     kind == VC_ETAG_SHA256 ? "sha256" : "git-sha1");
            int m = vc_hash_file_check(dest, f->etag, size, got, sizeof got, h->o->cancelled);
            if (m == -2) {
                free(dest);
                finish(h, j, VC_HUB_CANCELLED);
                return;
            }
            if (m == 1) {
                vc_file_record nr;
                memset(&nr, 0, sizeof nr);
                snprintf(nr.commit, sizeof nr.commit, "%s", f->commit[0] ? f->commit : f->revision);
                snprintf(nr.etag, sizeof nr.etag, "%s", f->etag);
                snprintf(nr.revision, sizeof nr.revision, "%s", f->revision);
                vc_models_record_write(f->repo_dir, f->file, &nr);
                f->adopted = !same_etag;
                if (same_etag)
                    hlog(VC_LOG_INFO, "%s: %s matches the hub (its record was stale)", f->label, f->file);
                else
                    hlog(VC_LOG_INFO, "%s: %s was already there and matches the hub", f->label, f->file);
                free(dest);
                finish(h, j, VC_HUB_OK);
                return;
            }
            j->dest_checked = true;
            hlog(VC_LOG_WARN, "%s: %s does not match the hub (%s %s, expected %s): downloading it again",
                 f->label, f->file, kind == VC_ETAG_SHA256 ? "sha256" : "git-sha1", m == 0 ? got : "unreadable",
                 f->etag);
        } else if (!j->dest_checked) {
            j->dest_checked = true;
            if (!size_ok)
                hlog(VC_LOG_WARN, "%s: %s has %lld bytes, the hub's has %lld: downloading it again", f->label,
                     f->file, (long long)size, (long long)j->expect);
        }
    }
    free(dest);
    start_get(h, j);
}

/* X-Error-Message, else the "error" of a JSON error body. */
static const char *hub_reason(hub_job *j)
{
    if (!j->h_error_msg[0] && j->body.len) {
        vc_buf_append(&j->body, "", 1);
        json_t *b = json_loads((const char *)j->body.data, 0, NULL);
        const char *e = json_string_value(json_object_get(b, "error"));
        if (e)
            snprintf(j->h_error_msg, sizeof j->h_error_msg, "%s", e);
        json_decref(b);
    }
    return j->h_error_msg;
}

/* 4xx answers: explain, and say what to do. */
static void client_error(hub *h, hub_job *j)
{
    vc_hub_file *f = j->f;
    const vc_hub_opts *o = h->o;
    char extra[600] = "";
    if (hub_reason(j)[0])
        snprintf(extra, sizeof extra, " (hub: %s)", hub_reason(j));
    bool at_hub = j->state == S_HEAD;
    if (j->status == 401 || (j->status == 403 && at_hub)) {
        if (!o->token)
            fail(h, j, VC_HUB_FAILED,
                 "%s: %s/%s: the hub answered %ld without a token%s: %s is gated or private. "
                 "Accept its license at %s/%s while logged in, create a read token at "
                 "https://huggingface.co/settings/tokens and set HF_TOKEN=<token> (or save it in "
                 "~/.cache/huggingface/token), then run the download again",
                 f->label, f->repo, f->file, j->status, extra, f->repo, o->endpoint, f->repo);
        else
            fail(h, j, VC_HUB_FAILED,
                 "%s: %s/%s: the hub refused the token from %s (%ld)%s: check that it is valid, and accept "
                 "the license of %s at %s/%s with the account the token belongs to",
                 f->label, f->repo, f->file, o->token_source ? o->token_source : "HF_TOKEN", j->status, extra,
                 f->repo, o->endpoint, f->repo);
        return;
    }
    if (j->status == 404 || j->status == 410) {
        const char *what = !strcasecmp(j->h_error_code, "RepoNotFound")       ? "no such repository"
                           : !strcasecmp(j->h_error_code, "RevisionNotFound") ? "no such revision"
                                                                              : "no such file";
        if (!at_hub) {
            set_error(j, "the download URL answered %ld", j->status);
            retry(h, j, false);
            return;
        }
        fail(h, j, VC_HUB_NOT_FOUND, "%s: %s: %s at %s/%s (revision %s, HTTP %ld)%s%s", f->label, f->file, what,
             o->endpoint, f->repo, f->revision, j->status, extra,
             o->token ? "" : "; a private repository also answers 404 without a token: set HF_TOKEN");
        return;
    }
    if (j->status == 403 && !at_hub) {
        /* An expired signed CDN URL: get a fresh one from the hub. */
        set_error(j, "the storage server refused the download URL (403)%s", extra);
        retry(h, j, false);
        return;
    }
    if (j->status == 429 || j->status == 408) {
        set_error(j, "HTTP %ld (rate limited)%s", j->status, extra);
        retry(h, j, false);
        return;
    }
    fail(h, j, VC_HUB_FAILED, "%s: %s: HTTP %ld from %s%s", f->label, f->file, j->status,
         at_hub ? o->endpoint : "the storage server", extra);
}

static bool transient(CURLcode c)
{
    switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_NOT_BUILT_IN:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_TOO_MANY_REDIRECTS:
        return false;
    default:
        return true;
    }
}

static void on_done(hub *h, hub_job *j, CURLcode cc)
{
    vc_hub_file *f = j->f;
    curl_multi_remove_handle(h->multi, j->easy);
    long status = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status)
        j->status = status;
    f->http_status = j->status;
    bool head = j->state == S_HEAD;
    int64_t got = j->got;
    if (!head)
        j->offset += got;

    if (cc != CURLE_OK) {
        if (cc == CURLE_WRITE_ERROR && j->abort_reason == AB_DISK) {
            fail(h, j, VC_HUB_FAILED, "%s: %s: cannot write %s: %s", f->label, f->file, j->partial,
                 strerror(errno));
            return;
        }
        if (cc == CURLE_WRITE_ERROR && j->abort_reason == AB_RANGE) {
            set_error(j, "the server answered a ranged request with the wrong range (%s)",
                      j->h_content_range[0] ? j->h_content_range : "none");
            if (!truncate_partial(j)) {
                fail(h, j, VC_HUB_FAILED, "%s: %s: cannot truncate %s", f->label, f->file, j->partial);
                return;
            }
            retry(h, j, false);
            return;
        }
        if (cc == CURLE_WRITE_ERROR && j->abort_reason == AB_TOO_MUCH) {
            set_error(j, "the server sent more than the %lld bytes the hub announced", (long long)j->expect);
            truncate_partial(j);
            retry(h, j, false);
            return;
        }
        const char *msg = j->errbuf[0] ? j->errbuf : curl_easy_strerror(cc);
        if (!transient(cc)) {
            bool tls = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE;
            fail(h, j, VC_HUB_FAILED, "%s: %s: %s%s", f->label, f->file, msg,
                 tls ? " (for a server with a private CA, set CURL_CA_BUNDLE to the CA file)" : "");
            return;
        }
        if (got > 0) {
            char a[32];
            vc_models_fmt_size(j->offset, a, sizeof a);
            set_error(j, "connection lost at %s (%s)", a, msg);
        } else {
            set_error(j, "%s", msg);
        }
        retry(h, j, got > 0);
        return;
    }

    long st = j->status;
    if (st >= 300 && st < 400 && st != 304) {
        char *loc = NULL;
        curl_easy_getinfo(j->easy, CURLINFO_REDIRECT_URL, &loc);
        if (!loc || !*loc) {
            fail(h, j, VC_HUB_FAILED, "%s: %s: redirect (%ld) without a location", f->label, f->file, st);
            return;
        }
        if (++j->hops > MAX_HOPS) {
            fail(h, j, VC_HUB_FAILED, "%s: %s: too many redirects", f->label, f->file);
            return;
        }
        char *target = vc_xstrdup(loc);
        char *to = origin_of(target, NULL);
        bool same = to && !strcmp(to, h->ep_origin);
        free(to);
        if (head && !same) {
            /* The hub points at its storage: this answer holds the metadata. */
            free(j->dl_url);
            j->dl_url = target;
            head_done(h, j);
            return;
        }
        /* HEAD: the hub moved the repo (same origin, keeps the token).
         * GET: wherever it leads; the token only goes back to the hub. */
        if (start_request(h, j, head, target))
            finish(h, j, VC_HUB_FAILED);
        free(target);
        return;
    }
    if (head && st == 200) {
        free(j->dl_url);
        j->dl_url = vc_xstrdup(j->url);
        head_done(h, j);
        return;
    }
    if (!head && (st == 200 || st == 206)) {
        if (!j->response_checked && got == 0) {
            /* Empty body: fine for an empty file, else treat as dropped. */
            if (st == 200 && j->offset > 0)
                truncate_partial(j);
        }
        if (j->expect >= 0 && j->offset < j->expect) {
            char a[32];
            vc_models_fmt_size(j->offset, a, sizeof a);
            set_error(j, "the server closed the transfer at %s", a);
            retry(h, j, got > 0);
            return;
        }
        complete_file(h, j);
        return;
    }
    if (!head && st == 416) {
        set_error(j, "the server could not resume (416)");
        truncate_partial(j);
        retry(h, j, false);
        return;
    }
    if (st >= 400 && st < 500) {
        client_error(h, j);
        return;
    }
    if (st >= 500 || st == 0) {
        set_error(j, "HTTP %ld from %s", st, head ? h->o->endpoint : "the storage server");
        if (j->h_error_msg[0]) {
            char *e = vc_asprintf("%s (%s)", j->last_error, j->h_error_msg);
            set_error(j, "%s", e);
            free(e);
        }
        retry(h, j, got > 0);
        return;
    }
    fail(h, j, VC_HUB_FAILED, "%s: %s: unexpected HTTP %ld", f->label, f->file, st);
}

void vc_hub_file_clear(vc_hub_file *f)
{
    free(f->error);
    f->error = NULL;
}

static void job_free(hub_job *j)
{
    if (!j)
        return;
    if (j->fp)
        fclose(j->fp);
    vc_hasher_free(j->hasher);
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->hdrs);
    free(j->url);
    free(j->dl_url);
    free(j->partial);
    free(j->hashed_partial);
    free(j->last_error);
    vc_buf_free(&j->body);
    free(j);
}

int vc_hub_run(const vc_hub_opts *o, vc_hub_file *files, size_t n)
{
    static bool curl_inited;
    if (!curl_inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_inited = true;
    }
    hub h = { .o = o, .files = files, .n = n };
    h.ep_origin = origin_of(o->endpoint, &h.ep_https);
    if (!h.ep_origin) {
        vc_error("not a valid Hugging Face endpoint: '%s' (HF_ENDPOINT)", o->endpoint);
        return 1;
    }
    g_token = o->token;
    h.multi = curl_multi_init();
    int jobs = o->jobs > 0 ? o->jobs : 4;
    curl_multi_setopt(h.multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING); /* a connection per file */
    curl_multi_setopt(h.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)jobs);
    for (size_t i = 0; i < n; i++) {
        files[i].result = VC_HUB_PENDING;
        files[i].size = -1;
        files[i].job = vc_xcalloc(1, sizeof(hub_job));
        files[i].job->f = &files[i];
        files[i].job->expect = -1;
    }
    h.start = h.rate_t = vc_now();
    if (o->progress)
        vc_log_set_hook(log_hook, &h);
    bool cancelled = false;
    for (;;) {
        if (o->cancelled && o->cancelled()) {
            cancelled = true;
            break;
        }
        double now = vc_now(), next = now + 0.2;
        int running = 0, left = 0;
        for (size_t i = 0; i < n; i++) {
            hub_job *j = files[i].job;
            if (j->state == S_HEAD || j->state == S_GET)
                running++;
            if (j->state != S_DONE)
                left++;
        }
        if (!left)
            break;
        for (size_t i = 0; i < n && running < jobs; i++) {
            hub_job *j = files[i].job;
            if (j->state != S_IDLE)
                continue;
            if (j->not_before > now) {
                next = fmin(next, j->not_before);
                continue;
            }
            char *url = resolve_url(&h, &files[i]);
            j->hops = 0;
            int rc = start_request(&h, j, true, url);
            free(url);
            if (rc)
                finish(&h, j, VC_HUB_FAILED);
            else
                running++;
        }
        int still = 0;
        curl_multi_perform(h.multi, &still);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(h.multi, &q))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            hub_job *j = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            if (j)
                on_done(&h, j, msg->data.result);
        }
        progress_draw(&h, false);
        int timeout = (int)fmax(0, fmin(200, (next - vc_now()) * 1000));
        curl_multi_poll(h.multi, NULL, 0, timeout, NULL);
    }
    if (o->progress) {
        vc_log_locked(progress_clear_locked, &h);
        vc_log_set_hook(NULL, NULL);
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        hub_job *j = files[i].job;
        if (j->state != S_DONE) {
            if (j->easy && (j->state == S_HEAD || j->state == S_GET))
                curl_multi_remove_handle(h.multi, j->easy);
            if (j->fp)
                fflush(j->fp);
            files[i].result = VC_HUB_CANCELLED;
        }
        if (files[i].result == VC_HUB_FAILED || (files[i].result == VC_HUB_NOT_FOUND && !files[i].probe))
            failed++;
        job_free(j);
        files[i].job = NULL;
    }
    curl_multi_cleanup(h.multi);
    free(h.ep_origin);
    g_token = NULL;
    if (cancelled)
        return 130;
    return failed ? 1 : 0;
}
