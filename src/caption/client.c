#include "caption/client.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "util/common.h"
#include "util/log.h"

typedef struct job {
    struct job *next;
    char *url;
    vc_cap_body *body;
    size_t sent;               /* read position in body, this attempt */
    vc_cap_done_fn done;
    void *opaque;
    int attempts;
    double not_before;         /* monotonic seconds */
    /* per attempt */
    CURL *easy;
    char *resp;
    size_t resp_len, resp_cap;
    double retry_after;
    char *last_error;
} job;

struct vc_cap_client {
    vc_cap_client_cfg cfg;
    char *auth;                /* "Authorization: Bearer ..." */
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t lock;
    job *queue, *queue_tail;   /* waiting (FIFO, some delayed) */
    job *running;              /* in flight (client thread only) */
    int pending;               /* queued + active */
    int active;
    bool stop;
    unsigned rng;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    job *j = ud;
    size_t k = sz * n;
    if (j->resp_len + k + 1 > j->resp_cap) {
        size_t nc = j->resp_cap ? j->resp_cap * 2 : 4096;
        while (nc < j->resp_len + k + 1)
            nc *= 2;
        j->resp = vc_xrealloc(j->resp, nc);
        j->resp_cap = nc;
    }
    memcpy(j->resp + j->resp_len, p, k);
    j->resp_len += k;
    j->resp[j->resp_len] = 0;
    return k;
}

double vc_cap_retry_after(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (!*v)
        return -1;
    char *end;
    double s = strtod(v, &end);
    if (end != v && (*end == 0 || isspace((unsigned char)*end)))
        return s < 0 ? 0 : s;
    time_t t = curl_getdate(v, NULL);
    if (t < 0)
        return -1;
    double d = difftime(t, time(NULL));
    return d < 0 ? 0 : d;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    job *j = ud;
    size_t k = sz * n;
    static const char key[] = "retry-after:";
    if (k > sizeof key - 1 && !strncasecmp(p, key, sizeof key - 1)) {
        char buf[128];
        size_t m = k - (sizeof key - 1);
        if (m >= sizeof buf)
            m = sizeof buf - 1;
        memcpy(buf, p + sizeof key - 1, m);
        buf[m] = 0;
        for (char *e = buf + strlen(buf); e > buf && (e[-1] == '\r' || e[-1] == '\n'); e--)
            e[-1] = 0;
        j->retry_after = vc_cap_retry_after(buf);
    }
    return k;
}

static void *client_main(void *arg);

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

vc_cap_client *vc_cap_client_new(const vc_cap_client_cfg *cfg)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    vc_cap_client *c = vc_xcalloc(1, sizeof(*c));
    c->cfg = *cfg;
    if (c->cfg.max_concurrent < 1)
        c->cfg.max_concurrent = 1;
    if (cfg->api_key && *cfg->api_key)
        c->auth = vc_asprintf("Authorization: Bearer %s", cfg->api_key);
    c->cfg.api_key = NULL;   /* only the header keeps it */
    c->multi = curl_multi_init();
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->cfg.max_concurrent);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->cfg.max_concurrent);
    pthread_mutex_init(&c->lock, NULL);
    c->rng = (unsigned)time(NULL);
    if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
        vc_error("cannot start the captioning client thread");
        abort();
    }
    return c;
}

void vc_cap_reply_free(vc_cap_reply *r)
{
    if (!r)
        return;
    free(r->text);
    free(r->error);
    free(r);
}

int vc_cap_client_pending(vc_cap_client *c)
{
    pthread_mutex_lock(&c->lock);
    int n = c->pending;
    pthread_mutex_unlock(&c->lock);
    return n;
}

void vc_cap_client_submit(vc_cap_client *c, const char *url, vc_cap_body *body, vc_cap_done_fn done, void *opaque)
{
    job *j = vc_xcalloc(1, sizeof(*j));
    j->url = vc_xstrdup(url);
    j->body = body;
    j->done = done;
    j->opaque = opaque;
    j->retry_after = -1;
    pthread_mutex_lock(&c->lock);
    if (c->queue_tail)
        c->queue_tail->next = j;
    else
        c->queue = j;
    c->queue_tail = j;
    c->pending++;
    pthread_mutex_unlock(&c->lock);
    curl_multi_wakeup(c->multi);
}

/* ---- replies ---- */

int vc_cap_parse_reply(const char *body, size_t len, vc_cap_reply *r)
{
    json_error_t e;
    json_t *root = json_loadb(body, len, 0, &e);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        r->error = vc_asprintf("malformed reply (not a JSON object: %s)", root ? "wrong type" : e.text);
        return -1;
    }
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *msg = json_object_get(choice, "message");
    json_t *content = json_object_get(msg, "content");
    if (!json_is_object(choice) || !json_is_object(msg) || !(json_is_string(content) || json_is_null(content))) {
        json_decref(root);
        r->error = vc_xstrdup("malformed reply (no choices[0].message.content)");
        return -1;
    }
    const char *text = json_is_string(content) ? json_string_value(content) : "";
    const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
    json_t *usage = json_object_get(root, "usage");
    r->prompt_tokens = json_integer_value(json_object_get(usage, "prompt_tokens"));
    r->output_tokens = json_integer_value(json_object_get(usage, "completion_tokens"));
    if (!*text) {
        r->status = VC_CAP_ERROR;
        r->error = vc_xstrdup("the model returned an empty caption");
    } else {
        r->text = vc_xstrdup(text);
        r->status = finish && !strcmp(finish, "length") ? VC_CAP_TRUNCATED : VC_CAP_SUCCESS;
    }
    json_decref(root);
    return 0;
}

/* A short, printable excerpt of an error body. */
static char *excerpt(const char *s, size_t len)
{
    size_t n = len < 200 ? len : 200;
    char *o = vc_xcalloc(n + 1, 1);
    for (size_t i = 0; i < n; i++)
        o[i] = (s[i] >= 32 && s[i] < 127) ? s[i] : ' ';
    return o;
}

/* libcurl pulls the body piece by piece (caption/body.h). */
static size_t read_body(char *dst, size_t sz, size_t n, void *ud)
{
    job *j = ud;
    size_t k = vc_cap_body_read(j->body, j->sent, dst, sz * n);
    j->sent += k;
    return k;
}

/* ... and rewinds it to resend (redirects, a reused connection gone stale). */
static int seek_body(void *ud, curl_off_t at, int origin)
{
    job *j = ud;
    if (origin != SEEK_SET || at < 0 || (size_t)at > vc_cap_body_len(j->body))
        return CURL_SEEKFUNC_CANTSEEK;
    j->sent = (size_t)at;
    return CURL_SEEKFUNC_OK;
}

static CURL *make_easy(vc_cap_client *c, job *j, struct curl_slist *hdrs)
{
    CURL *e = curl_easy_init();
    j->sent = 0;
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)vc_cap_body_len(j->body));
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(e, CURLOPT_READDATA, j);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_body);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, j);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->cfg.timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->cfg.connect_timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    return e;
}

static void finish_job(vc_cap_client *c, job *j, vc_cap_reply *r)
{
    r->attempts = j->attempts;
    pthread_mutex_lock(&c->lock);
    c->pending--;
    pthread_mutex_unlock(&c->lock);
    vc_cap_done_fn done = j->done;
    void *opaque = j->opaque;
    free(j->url);
    vc_cap_body_free(j->body);
    free(j->resp);
    free(j->last_error);
    free(j);
    done(opaque, r);
}

/* A job that never ran or was cut short by shutdown: an error reply. */
static void finish_cancelled(vc_cap_client *c, job *j)
{
    vc_cap_reply *r = vc_xcalloc(1, sizeof(*r));
    r->status = VC_CAP_ERROR;
    r->cancelled = true;
    r->error = vc_xstrdup("cancelled");
    finish_job(c, j, r);
}

static void requeue(vc_cap_client *c, job *j, double delay)
{
    j->not_before = mono_now() + delay;
    pthread_mutex_lock(&c->lock);
    j->next = NULL;
    if (c->queue_tail)
        c->queue_tail->next = j;
    else
        c->queue = j;
    c->queue_tail = j;
    pthread_mutex_unlock(&c->lock);
}

static double backoff(vc_cap_client *c, int attempt)
{
    double d = c->cfg.backoff_s * pow(2.0, attempt - 1);
    if (d > c->cfg.backoff_max_s)
        d = c->cfg.backoff_max_s;
    /* +-25% jitter so that many clients do not retry in lockstep */
    double u = (double)(rand_r(&c->rng) % 1000) / 1000.0;
    return d * (0.75 + 0.5 * u);
}

/* One attempt ended: success, final failure, or another try. */
static void attempt_done(vc_cap_client *c, job *j, CURLcode cc)
{
    long http = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &http);
    curl_multi_remove_handle(c->multi, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
    vc_cap_reply *r = vc_xcalloc(1, sizeof(*r));
    bool retry = false;
    char *why = NULL;
    if (cc != CURLE_OK) {
        why = vc_asprintf("%s", curl_easy_strerror(cc));
        retry = true;
    } else if (http == 200) {
        if (vc_cap_parse_reply(j->resp ? j->resp : "", j->resp_len, r) == 0) {
            finish_job(c, j, r);
            return;
        }
        why = r->error;
        r->error = NULL;
        retry = true;
    } else {
        char *ex = excerpt(j->resp ? j->resp : "", j->resp_len);
        why = vc_asprintf("HTTP %ld%s%s", http, *ex ? ": " : "", ex);
        free(ex);
        retry = http == 408 || http == 409 || http == 425 || http == 429 || http >= 500;
    }
    free(j->last_error);
    j->last_error = why;
    if (retry && j->attempts <= c->cfg.max_retries) {
        double d = backoff(c, j->attempts);
        if (j->retry_after >= 0)
            d = j->retry_after > c->cfg.backoff_max_s * 4 ? c->cfg.backoff_max_s * 4 : j->retry_after;
        vc_debug("caption request: %s; retry %d/%d in %.1f s", why, j->attempts, c->cfg.max_retries, d);
        free(j->resp);
        j->resp = NULL;
        j->resp_len = j->resp_cap = 0;
        j->retry_after = -1;
        vc_cap_reply_free(r);
        requeue(c, j, d);
        return;
    }
    memset(r, 0, sizeof(*r));
    r->status = VC_CAP_ERROR;
    r->error = retry ? vc_asprintf("%s (after %d attempts)", why, j->attempts) : vc_xstrdup(why);
    finish_job(c, j, r);
}

/* Start queued requests that are due, up to the concurrency limit; returns
 * the seconds until the next delayed one is due (or 1). */
static double start_due(vc_cap_client *c, struct curl_slist *hdrs)
{
    double now = mono_now(), next = 1.0;
    pthread_mutex_lock(&c->lock);
    job *prev = NULL, *j = c->queue;
    while (j && c->active < c->cfg.max_concurrent) {
        job *nx = j->next;
        if (j->not_before <= now) {
            if (prev)
                prev->next = nx;
            else
                c->queue = nx;
            if (c->queue_tail == j)
                c->queue_tail = prev;
            j->next = NULL;
            j->attempts++;
            j->easy = make_easy(c, j, hdrs);
            curl_multi_add_handle(c->multi, j->easy);
            j->next = c->running;
            c->running = j;
            c->active++;
        } else {
            if (j->not_before - now < next)
                next = j->not_before - now;
            prev = j;
        }
        j = nx;
    }
    pthread_mutex_unlock(&c->lock);
    return next;
}

static void *client_main(void *arg)
{
    vc_cap_client *c = arg;
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (c->auth)
        hdrs = curl_slist_append(hdrs, c->auth);
    for (;;) {
        pthread_mutex_lock(&c->lock);
        bool stop = c->stop;
        pthread_mutex_unlock(&c->lock);
        if (stop)
            break;
        double wait = start_due(c, hdrs);
        int running = 0;
        curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            CURLcode cc = m->data.result;
            pthread_mutex_lock(&c->lock);
            c->active--;
            for (job **pp = &c->running; *pp; pp = &(*pp)->next)
                if (*pp == j) {
                    *pp = j->next;
                    break;
                }
            j->next = NULL;
            pthread_mutex_unlock(&c->lock);
            attempt_done(c, j, cc);
        }
        int ms = (int)(wait * 1000) + 1;
        curl_multi_poll(c->multi, NULL, 0, ms < 1000 ? ms : 1000, NULL);
    }
    curl_slist_free_all(hdrs);
    return NULL;
}

void vc_cap_client_free(vc_cap_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_mutex_unlock(&c->lock);
    curl_multi_wakeup(c->multi);
    pthread_join(c->thread, NULL);
    /* Whatever is left is cancelled: in-flight transfers, then the queue. */
    job *j = c->running;
    c->running = NULL;
    while (j) {
        job *nx = j->next;
        curl_multi_remove_handle(c->multi, j->easy);
        curl_easy_cleanup(j->easy);
        finish_cancelled(c, j);
        j = nx;
    }
    j = c->queue;
    c->queue = c->queue_tail = NULL;
    while (j) {
        job *nx = j->next;
        finish_cancelled(c, j);
        j = nx;
    }
    curl_multi_cleanup(c->multi);
    pthread_mutex_destroy(&c->lock);
    if (c->auth) {
        memset(c->auth, 0, strlen(c->auth));
        free(c->auth);
    }
    free(c);
}
