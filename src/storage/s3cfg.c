/* S3 addresses, settings and response parsing: the parts of the S3 client
 * that do no I/O on the network (unit-tested in tests/storage/test_s3.c). */
#include "storage/s3.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/fs.h"

bool vc_s3_is_url(const char *path)
{
    return path && strncmp(path, "s3://", 5) == 0;
}

/* S3's rules (3-63 of [a-z0-9.-], starting and ending alphanumeric, no "..",
 * not an IP address) with '_' accepted as Cosmos Curator does. */
bool vc_s3_bucket_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
        return false;
    bool all_digits_dots = true;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return false;
        if (c == '.' && i + 1 < n && b[i + 1] == '.')
            return false;
        if (!(isdigit((unsigned char)c) || c == '.'))
            all_digits_dots = false;
    }
    return !all_digits_dots;
}

int vc_s3_parse_url(const char *url, vc_s3_loc *loc, char **err)
{
    memset(loc, 0, sizeof *loc);
    if (!vc_s3_is_url(url)) {
        if (err)
            *err = vc_asprintf("%s: not an s3:// URL", url);
        return -EINVAL;
    }
    const char *b = url + 5;
    size_t bl = strcspn(b, "/");
    loc->bucket = vc_xmalloc(bl + 1);
    memcpy(loc->bucket, b, bl);
    loc->bucket[bl] = '\0';
    const char *k = b + bl;
    while (*k == '/')
        k++;
    loc->key = vc_xstrdup(k);
    if (!vc_s3_bucket_ok(loc->bucket)) {
        if (err)
            *err = vc_asprintf("%s: invalid bucket name '%s' (3-63 characters of a-z, 0-9, '.', "
                               "'-', '_', starting and ending with a letter or digit)",
                               url, loc->bucket);
        vc_s3_loc_free(loc);
        return -EINVAL;
    }
    return 0;
}

void vc_s3_loc_free(vc_s3_loc *loc)
{
    free(loc->bucket);
    free(loc->key);
    loc->bucket = loc->key = NULL;
}

char *vc_s3_uri_encode(const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    vc_buf b = { 0 };
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            vc_buf_append(&b, p, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            vc_buf_append(&b, e, 3);
        }
    }
    vc_buf_append(&b, "", 1);
    return (char *)b.data;
}

char *vc_s3_list_query(const char *prefix, const char *token, int max_keys)
{
    char *ep = vc_s3_uri_encode(prefix, false);
    char *et = token ? vc_s3_uri_encode(token, false) : NULL;
    char mk[32] = "";
    if (max_keys > 0)
        snprintf(mk, sizeof mk, "&max-keys=%d", max_keys);
    char *q = vc_asprintf("%s%s%slist-type=2%s&prefix=%s", et ? "continuation-token=" : "",
                          et ? et : "", et ? "&" : "", mk, ep);
    free(ep);
    free(et);
    return q;
}

/* ---- INI files (~/.aws/credentials, ~/.aws/config) ---- */

static char *trimmed(const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    char *r = vc_xmalloc(n + 1);
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

/* Does the header line text (between '[' and ']') name section? "name" or
 * "profile name" (the config file's form; Cosmos also accepts it in the
 * credentials file). */
static bool section_matches(const char *hdr, const char *section)
{
    if (!strcmp(hdr, section))
        return true;
    if (!strncmp(hdr, "profile", 7) && isspace((unsigned char)hdr[7])) {
        const char *n = hdr + 7;
        while (isspace((unsigned char)*n))
            n++;
        return !strcmp(n, section);
    }
    return false;
}

char *vc_s3_ini_get(const char *text, const char *section, const char *key)
{
    if (!text)
        return NULL;
    const char *dot = strchr(key, '.');
    char *parent = dot ? trimmed(key, (size_t)(dot - key)) : NULL;
    const char *leaf = dot ? dot + 1 : key;
    bool in_section = false, in_parent = false;
    char *found = NULL;
    for (const char *line = text; *line && !found;) {
        size_t len = strcspn(line, "\r\n");
        const char *next = line + len;
        next += strspn(next, "\r\n");
        bool indented = len > 0 && (line[0] == ' ' || line[0] == '\t');
        char *l = trimmed(line, len);
        if (l[0] == '#' || l[0] == ';' || l[0] == '\0') {
            /* comment or blank */
        } else if (l[0] == '[') {
            char *close = strchr(l, ']');
            char *hdr = close ? trimmed(l + 1, (size_t)(close - l - 1)) : vc_xstrdup("");
            in_section = section_matches(hdr, section);
            in_parent = false;
            free(hdr);
        } else if (in_section) {
            char *eq = strchr(l, '=');
            if (eq) {
                char *k = trimmed(l, (size_t)(eq - l));
                char *v = trimmed(eq + 1, strlen(eq + 1));
                if (!indented) {
                    in_parent = parent && !strcmp(k, parent) && v[0] == '\0';
                    if (!parent && !strcmp(k, leaf)) {
                        found = v;
                        v = NULL;
                    }
                } else if (in_parent && !strcmp(k, leaf)) {
                    found = v;
                    v = NULL;
                }
                free(k);
                free(v);
            }
        }
        free(l);
        line = next;
    }
    free(parent);
    return found;
}

static char *home_file(const char *env, const char *rel)
{
    const char *e = getenv(env);
    if (e && *e)
        return vc_xstrdup(e);
    const char *home = getenv("HOME");
    return home ? vc_asprintf("%s/%s", home, rel) : NULL;
}

static char *read_text(const char *path)
{
    return path ? vc_fs_read_all(path, NULL) : NULL;
}

static char *env_dup(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? vc_xstrdup(v) : NULL;
}

/* First of the candidates that is set; frees the others. */
static char *first_of(char *a, char *b, char *c, char *d)
{
    char *v[] = { a, b, c, d };
    char *pick = NULL;
    for (size_t i = 0; i < 4; i++) {
        if (!pick && v[i])
            pick = v[i];
        else
            free(v[i]);
    }
    return pick;
}

static char *strip_slashes(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
    return s;
}

int vc_s3_settings_load(const char *profile, vc_s3_settings *s, char **err)
{
    memset(s, 0, sizeof *s);
    bool explicit = profile && *profile;
    const char *env_profile = getenv("AWS_PROFILE");
    s->profile = vc_xstrdup(explicit ? profile : env_profile && *env_profile ? env_profile : "default");
    /* AWS_SHARED_CREDENTIALS_FILE, else Cosmos Curator's COSMOS_S3_PROFILE_PATH
     * when set, else ~/.aws/credentials. */
    char *cred_path = getenv("AWS_SHARED_CREDENTIALS_FILE") || !getenv("COSMOS_S3_PROFILE_PATH")
                          ? home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")
                          : env_dup("COSMOS_S3_PROFILE_PATH");
    char *conf_path = home_file("AWS_CONFIG_FILE", ".aws/config");
    char *cred = read_text(cred_path);
    char *conf = read_text(conf_path);
    const char *p = s->profile;

    char *env_ak = explicit ? NULL : env_dup("AWS_ACCESS_KEY_ID");
    char *env_sk = explicit ? NULL : env_dup("AWS_SECRET_ACCESS_KEY");
    if (env_ak && env_sk) {
        s->access_key = env_ak;
        s->secret_key = env_sk;
        s->session_token = env_dup("AWS_SESSION_TOKEN");
        s->cred_source = vc_xstrdup("environment (AWS_ACCESS_KEY_ID)");
    } else {
        free(env_ak);
        free(env_sk);
        s->access_key = vc_s3_ini_get(cred, p, "aws_access_key_id");
        s->secret_key = vc_s3_ini_get(cred, p, "aws_secret_access_key");
        s->session_token = vc_s3_ini_get(cred, p, "aws_session_token");
        if (s->access_key && s->secret_key) {
            s->cred_source = vc_xstrdup(cred_path);
        } else {
            free(s->access_key);
            free(s->secret_key);
            free(s->session_token);
            s->access_key = vc_s3_ini_get(conf, p, "aws_access_key_id");
            s->secret_key = vc_s3_ini_get(conf, p, "aws_secret_access_key");
            s->session_token = vc_s3_ini_get(conf, p, "aws_session_token");
            if (s->access_key && s->secret_key)
                s->cred_source = vc_xstrdup(conf_path);
        }
    }
    s->region = first_of(env_dup("AWS_REGION"), env_dup("AWS_DEFAULT_REGION"),
                         vc_s3_ini_get(conf, p, "region"), vc_s3_ini_get(cred, p, "region"));
    if (!s->region)
        s->region = vc_xstrdup("us-east-1");
    char *ep = first_of(env_dup("AWS_ENDPOINT_URL_S3"), env_dup("AWS_ENDPOINT_URL"),
                        vc_s3_ini_get(conf, p, "endpoint_url"), vc_s3_ini_get(cred, p, "endpoint_url"));
    if (!ep)
        ep = vc_s3_ini_get(conf, p, "s3.endpoint_url");
    bool custom = ep != NULL;
    s->endpoint = strip_slashes(ep ? ep : vc_asprintf("https://s3.%s.amazonaws.com", s->region));
    char *style = first_of(env_dup("VCURATE_S3_ADDRESSING_STYLE"),
                           vc_s3_ini_get(conf, p, "s3.addressing_style"),
                           vc_s3_ini_get(conf, p, "addressing_style"), NULL);
    /* auto: virtual-hosted on AWS, path-style on custom endpoints (MinIO,
     * Ceph, Swift and most on-premise stores only do path-style). */
    s->path_style = style ? strcmp(style, "virtual") != 0 : custom;
    free(style);

    int rc = 0;
    if (strncmp(s->endpoint, "http://", 7) && strncmp(s->endpoint, "https://", 8)) {
        if (err)
            *err = vc_asprintf("S3 endpoint '%s' must start with http:// or https://", s->endpoint);
        rc = -EINVAL;
    } else if (!s->access_key || !s->secret_key) {
        if (err)
            *err = vc_asprintf("no S3 credentials for profile '%s': set AWS_ACCESS_KEY_ID and "
                               "AWS_SECRET_ACCESS_KEY, or put aws_access_key_id and "
                               "aws_secret_access_key under [%s] in %s",
                               s->profile, s->profile, cred_path ? cred_path : "~/.aws/credentials");
        rc = -EINVAL;
    }
    free(cred);
    free(conf);
    free(cred_path);
    free(conf_path);
    if (rc)
        vc_s3_settings_free(s);
    return rc;
}

void vc_s3_settings_free(vc_s3_settings *s)
{
    free(s->profile);
    free(s->access_key);
    if (s->secret_key)
        memset(s->secret_key, 0, strlen(s->secret_key));
    free(s->secret_key);
    free(s->session_token);
    free(s->region);
    free(s->endpoint);
    free(s->cred_source);
    memset(s, 0, sizeof *s);
}

char *vc_s3_http_url(const vc_s3_settings *s, const char *bucket, const char *key, const char *query)
{
    char *ekey = vc_s3_uri_encode(key ? key : "", true);
    const char *q = query && *query ? "?" : "";
    const char *qs = query ? query : "";
    char *url;
    if (s->path_style) {
        url = vc_asprintf("%s/%s/%s%s%s", s->endpoint, bucket, ekey, q, qs);
    } else {
        const char *host = strstr(s->endpoint, "://") + 3;
        int scheme_len = (int)(host - s->endpoint);
        url = vc_asprintf("%.*s%s.%s/%s%s%s", scheme_len, s->endpoint, bucket, host, ekey, q, qs);
    }
    free(ekey);
    return url;
}

/* ---- responses ---- */

static void decode_entities(vc_buf *out, const char *s, size_t n)
{
    static const struct { const char *name; char c; } ent[] = {
        { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
    };
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&') {
            vc_buf_append(out, s + i, 1);
            continue;
        }
        bool done = false;
        for (size_t e = 0; e < VC_ARRAY_LEN(ent) && !done; e++) {
            size_t l = strlen(ent[e].name);
            if (i + 1 + l <= n && !strncmp(s + i + 1, ent[e].name, l)) {
                vc_buf_append(out, &ent[e].c, 1);
                i += l;
                done = true;
            }
        }
        if (!done && i + 2 < n && s[i + 1] == '#') {
            char *end;
            unsigned long cp = s[i + 2] == 'x' ? strtoul(s + i + 3, &end, 16) : strtoul(s + i + 2, &end, 10);
            if (*end == ';' && (size_t)(end - s) < n) {
                unsigned char u[4];
                size_t ul;
                if (cp < 0x80) { u[0] = (unsigned char)cp; ul = 1; }
                else if (cp < 0x800) { u[0] = (unsigned char)(0xC0 | (cp >> 6)); u[1] = (unsigned char)(0x80 | (cp & 63)); ul = 2; }
                else if (cp < 0x10000) { u[0] = (unsigned char)(0xE0 | (cp >> 12)); u[1] = (unsigned char)(0x80 | ((cp >> 6) & 63)); u[2] = (unsigned char)(0x80 | (cp & 63)); ul = 3; }
                else { u[0] = (unsigned char)(0xF0 | (cp >> 18)); u[1] = (unsigned char)(0x80 | ((cp >> 12) & 63)); u[2] = (unsigned char)(0x80 | ((cp >> 6) & 63)); u[3] = (unsigned char)(0x80 | (cp & 63)); ul = 4; }
                vc_buf_append(out, u, ul);
                i = (size_t)(end - s);
                done = true;
            }
        }
        if (!done)
            vc_buf_append(out, "&", 1);
    }
}

/* Finds <tag>...</tag> (or <tag/>) from *pos within [xml, xml+len). */
static bool find_elem(const char *xml, size_t len, size_t *pos, const char *tag, size_t *vs, size_t *ve)
{
    size_t tl = strlen(tag);
    for (size_t i = *pos; i + tl + 2 <= len; i++) {
        if (xml[i] != '<' || strncmp(xml + i + 1, tag, tl))
            continue;
        char after = xml[i + 1 + tl];
        if (after != '>' && after != ' ' && after != '/')
            continue;
        const char *gt = memchr(xml + i, '>', len - i);
        if (!gt)
            return false;
        size_t start = (size_t)(gt - xml) + 1;
        if (gt[-1] == '/') {
            *vs = *ve = start;
            *pos = start;
            return true;
        }
        for (size_t j = start; j + tl + 3 <= len; j++) {
            if (xml[j] == '<' && xml[j + 1] == '/' && !strncmp(xml + j + 2, tag, tl) && xml[j + 2 + tl] == '>') {
                *vs = start;
                *ve = j;
                *pos = j + tl + 3;
                return true;
            }
        }
        return false;
    }
    return false;
}

static char *elem_text(const char *xml, size_t vs, size_t ve)
{
    vc_buf b = { 0 };
    decode_entities(&b, xml + vs, ve - vs);
    vc_buf_append(&b, "", 1);
    return (char *)b.data;
}

char *vc_s3_xml_text(const char *xml, size_t len, const char *tag)
{
    size_t pos = 0, vs, ve;
    if (!xml || !find_elem(xml, len, &pos, tag, &vs, &ve))
        return NULL;
    return elem_text(xml, vs, ve);
}

int vc_s3_parse_list(const char *xml, size_t len, vc_strlist *keys, int64_t **sizes, size_t *nsizes,
                     char **next)
{
    *next = NULL;
    if (!xml || !memmem(xml, len, "<ListBucketResult", 17))
        return -EPROTO;
    size_t pos = 0, vs, ve;
    while (find_elem(xml, len, &pos, "Contents", &vs, &ve)) {
        size_t p2 = vs, ks, ke;
        if (!find_elem(xml, ve, &p2, "Key", &ks, &ke))
            continue;
        vc_strlist_push_owned(keys, elem_text(xml, ks, ke));
        if (sizes) {
            size_t p3 = vs, ss, se;
            int64_t sz = -1;
            if (find_elem(xml, ve, &p3, "Size", &ss, &se))
                sz = strtoll(xml + ss, NULL, 10);
            *sizes = vc_xrealloc(*sizes, (*nsizes + 1) * sizeof(int64_t));
            (*sizes)[(*nsizes)++] = sz;
        }
    }
    char *trunc = vc_s3_xml_text(xml, len, "IsTruncated");
    if (trunc && !strcmp(trunc, "true"))
        *next = vc_s3_xml_text(xml, len, "NextContinuationToken");
    free(trunc);
    return 0;
}

/* ---- retries ---- */

bool vc_s3_retryable(int curl_code, long http_status, const char *s3_code)
{
    switch (curl_code) {
    case 0:
        break;
    case 6:  /* CURLE_COULDNT_RESOLVE_HOST: a DNS hiccup */
    case 7:  /* CURLE_COULDNT_CONNECT: server down or restarting */
    case 18: /* CURLE_PARTIAL_FILE: connection dropped mid-body */
    case 28: /* CURLE_OPERATION_TIMEDOUT */
    case 35: /* CURLE_SSL_CONNECT_ERROR */
    case 52: /* CURLE_GOT_NOTHING */
    case 55: /* CURLE_SEND_ERROR */
    case 56: /* CURLE_RECV_ERROR */
    case 92: /* CURLE_HTTP2_STREAM */
        return true;
    default:
        return false;
    }
    if (http_status >= 500 || http_status == 429 || http_status == 408)
        return true;
    if (s3_code && (!strcmp(s3_code, "RequestTimeout") || !strcmp(s3_code, "SlowDown") ||
                    !strcmp(s3_code, "Throttling") || !strcmp(s3_code, "ThrottlingException") ||
                    !strcmp(s3_code, "RequestTimeTooSkewed") || !strcmp(s3_code, "InternalError")))
        return true;
    return false;
}

long vc_s3_backoff_ms(int attempt, unsigned *seed)
{
    long base = 100, cap = 5000;
    long d = base;
    for (int i = 1; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    /* "equal jitter": between d/2 and d */
    return d / 2 + (long)(rand_r(seed) % (unsigned)(d / 2 + 1));
}

/* ---- profiles per path prefix ---- */

static pthread_mutex_t profile_lock = PTHREAD_MUTEX_INITIALIZER;
static vc_strlist profile_prefixes, profile_names;

void vc_s3_set_profile(const char *url_prefix, const char *profile)
{
    pthread_mutex_lock(&profile_lock);
    vc_strlist_push(&profile_prefixes, url_prefix);
    vc_strlist_push(&profile_names, profile);
    pthread_mutex_unlock(&profile_lock);
}

/* The profile tied to the longest prefix of url, or NULL. Malloc'd. */
char *vc_s3_profile_for(const char *url);
char *vc_s3_profile_for(const char *url)
{
    pthread_mutex_lock(&profile_lock);
    const char *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < profile_prefixes.len; i++) {
        const char *p = profile_prefixes.items[i];
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
            n--;
        if (!strncmp(url, p, n) && (url[n] == '\0' || url[n] == '/') && n >= best_len) {
            best = profile_names.items[i];
            best_len = n;
        }
    }
    char *r = best ? vc_xstrdup(best) : NULL;
    pthread_mutex_unlock(&profile_lock);
    return r;
}

void vc_s3_profiles_reset(void);
void vc_s3_profiles_reset(void)
{
    pthread_mutex_lock(&profile_lock);
    vc_strlist_free(&profile_prefixes);
    vc_strlist_free(&profile_names);
    pthread_mutex_unlock(&profile_lock);
}

char *vc_s3_cache_dir(const char *url_dir)
{
    char *root = env_dup("VCURATE_S3_CACHE_DIR");
    if (!root) {
        const char *xdg = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        root = xdg && *xdg ? vc_asprintf("%s/vcurate/s3", xdg)
                           : vc_asprintf("%s/.cache/vcurate/s3", home && *home ? home : "/tmp");
    }
    char *norm = vc_fs_pypath(url_dir);
    char *out = vc_fs_join(root, norm + 5);
    free(norm);
    free(root);
    return out;
}
