/* S3 client pieces that need no server: URL and bucket checks, SigV4 URI
 * encoding and canonical list queries, path-style and virtual-hosted
 * addresses, the AWS credentials/config files and variables, ListObjectsV2
 * and error documents, retry rules and backoff. (Requests against a real
 * SigV4-checking server are in tests/storage/test_s3_e2e.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/fs.h"
#include "storage/s3.h"
#include "support/tmpdir.h"

char *vc_s3_profile_for(const char *url);
void vc_s3_profiles_reset(void);

static void test_bucket_names(void **state)
{
    (void)state;
    assert_true(vc_s3_bucket_ok("abc"));
    assert_true(vc_s3_bucket_ok("my-bucket.v2"));
    assert_true(vc_s3_bucket_ok("under_score")); /* Cosmos Curator accepts '_' */
    assert_false(vc_s3_bucket_ok("ab"));
    assert_false(vc_s3_bucket_ok("Upper"));
    assert_false(vc_s3_bucket_ok("-abc"));
    assert_false(vc_s3_bucket_ok("abc-"));
    assert_false(vc_s3_bucket_ok("a..b"));
    assert_false(vc_s3_bucket_ok("192.168.1.1"));
    assert_false(vc_s3_bucket_ok("has space"));
    char longname[70];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    assert_false(vc_s3_bucket_ok(longname));
}

static void test_parse_url(void **state)
{
    (void)state;
    vc_s3_loc loc;
    char *err = NULL;
    assert_int_equal(vc_s3_parse_url("s3://bkt/a/b c.mp4", &loc, &err), 0);
    assert_string_equal(loc.bucket, "bkt");
    assert_string_equal(loc.key, "a/b c.mp4");
    vc_s3_loc_free(&loc);
    assert_int_equal(vc_s3_parse_url("s3://bkt", &loc, &err), 0);
    assert_string_equal(loc.key, "");
    vc_s3_loc_free(&loc);
    assert_int_equal(vc_s3_parse_url("s3://Bad_Bucket/x", &loc, &err), -22);
    assert_non_null(strstr(err, "invalid bucket name 'Bad_Bucket'"));
    free(err);
    assert_true(vc_s3_is_url("s3://x"));
    assert_false(vc_s3_is_url("/s3://x"));
}

static void test_uri_encode(void **state)
{
    (void)state;
    char *e = vc_s3_uri_encode("a b+c/d~e_f.g-h", true);
    assert_string_equal(e, "a%20b%2Bc/d~e_f.g-h");
    free(e);
    e = vc_s3_uri_encode("a/b=c&d", false);
    assert_string_equal(e, "a%2Fb%3Dc%26d");
    free(e);
    e = vc_s3_uri_encode("\xc3\xa9*", true); /* UTF-8 bytes, upper-case hex */
    assert_string_equal(e, "%C3%A9%2A");
    free(e);
}

static void test_list_query_canonical(void **state)
{
    (void)state;
    char *q = vc_s3_list_query("raw/a b/", NULL, 0);
    assert_string_equal(q, "list-type=2&prefix=raw%2Fa%20b%2F");
    free(q);
    /* parameters in byte order: continuation-token < list-type < max-keys < prefix */
    q = vc_s3_list_query("", "tok/+=", 1);
    assert_string_equal(q, "continuation-token=tok%2F%2B%3D&list-type=2&max-keys=1&prefix=");
    free(q);
}

static void test_http_url(void **state)
{
    (void)state;
    vc_s3_settings s = { .endpoint = "http://127.0.0.1:8080", .path_style = true };
    char *u = vc_s3_http_url(&s, "bkt", "a b/c.mp4", NULL);
    assert_string_equal(u, "http://127.0.0.1:8080/bkt/a%20b/c.mp4");
    free(u);
    u = vc_s3_http_url(&s, "bkt", "", "list-type=2&prefix=");
    assert_string_equal(u, "http://127.0.0.1:8080/bkt/?list-type=2&prefix=");
    free(u);
    vc_s3_settings v = { .endpoint = "https://s3.eu-west-1.amazonaws.com", .path_style = false };
    u = vc_s3_http_url(&v, "bkt", "k", "uploads=");
    assert_string_equal(u, "https://bkt.s3.eu-west-1.amazonaws.com/k?uploads=");
    free(u);
}

static const char *CREDS =
    "# comment\n"
    "[default]\n"
    "aws_access_key_id = AKDEFAULT\n"
    "aws_secret_access_key = secretdefault\n"
    "\n"
    "[profile cosmos]\n"                       /* Cosmos Curator's form in the credentials file */
    "aws_access_key_id=AKCOSMOS\n"
    "aws_secret_access_key=secretcosmos\n"
    "aws_session_token = TOKEN123\n"
    "endpoint_url = http://minio.local:9000/\n"
    "region = eu-central-1\n"
    "[other]\n"
    "aws_access_key_id = AKOTHER\n";

static const char *CONFIG =
    "[default]\n"
    "region = us-west-2\n"
    "s3 =\n"
    "    addressing_style = path\n"
    "    endpoint_url = http://nested:1\n"
    "[profile swift]\n"
    "region = us-east-1\n"
    "endpoint_url = http://127.0.0.1:8080\n"
    "aws_access_key_id = test:tester\n"
    "aws_secret_access_key = testing\n";

static void test_ini(void **state)
{
    (void)state;
    char *v = vc_s3_ini_get(CREDS, "default", "aws_access_key_id");
    assert_string_equal(v, "AKDEFAULT");
    free(v);
    v = vc_s3_ini_get(CREDS, "cosmos", "aws_session_token");
    assert_string_equal(v, "TOKEN123");
    free(v);
    assert_null(vc_s3_ini_get(CREDS, "other", "aws_secret_access_key"));
    assert_null(vc_s3_ini_get(CREDS, "missing", "aws_access_key_id"));
    v = vc_s3_ini_get(CONFIG, "default", "s3.addressing_style");
    assert_string_equal(v, "path");
    free(v);
    assert_null(vc_s3_ini_get(CONFIG, "default", "addressing_style")); /* only nested */
    v = vc_s3_ini_get(CONFIG, "swift", "aws_access_key_id");             /* [profile swift] */
    assert_string_equal(v, "test:tester");
    free(v);
}

static char *tmpdir;

static void write_text(const char *name, const char *text)
{
    char *p = vc_asprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void clear_env(void)
{
    const char *vars[] = { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                           "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                           "AWS_ENDPOINT_URL_S3", "VCURATE_S3_ADDRESSING_STYLE",
                           "COSMOS_S3_PROFILE_PATH" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

static int setup_files(void **state)
{
    (void)state;
    tmpdir = vc_test_tmpdir("s3-test");
    write_text("credentials", CREDS);
    write_text("config", CONFIG);
    char *c = vc_asprintf("%s/credentials", tmpdir);
    char *f = vc_asprintf("%s/config", tmpdir);
    setenv("AWS_SHARED_CREDENTIALS_FILE", c, 1);
    setenv("AWS_CONFIG_FILE", f, 1);
    free(c);
    free(f);
    clear_env();
    return 0;
}

static int teardown_files(void **state)
{
    (void)state;
    assert_int_equal(vc_test_rm_rf(tmpdir), 0);
    free(tmpdir);
    tmpdir = NULL;
    return 0;
}

static void test_settings_default_profile(void **state)
{
    (void)state;
    clear_env();
    vc_s3_settings s;
    char *err = NULL;
    assert_int_equal(vc_s3_settings_load(NULL, &s, &err), 0);
    assert_string_equal(s.profile, "default");
    assert_string_equal(s.access_key, "AKDEFAULT");
    assert_string_equal(s.secret_key, "secretdefault");
    assert_null(s.session_token);
    assert_string_equal(s.region, "us-west-2");                /* from config */
    assert_string_equal(s.endpoint, "http://nested:1");        /* s3 = endpoint_url block */
    assert_true(s.path_style);
    vc_s3_settings_free(&s);
}

static void test_settings_named_profile(void **state)
{
    (void)state;
    clear_env();
    /* env keys do not override an explicitly named profile (AWS CLI rule) */
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
    vc_s3_settings s;
    char *err = NULL;
    assert_int_equal(vc_s3_settings_load("cosmos", &s, &err), 0);
    assert_string_equal(s.access_key, "AKCOSMOS");
    assert_string_equal(s.session_token, "TOKEN123");
    assert_string_equal(s.region, "eu-central-1");             /* credentials file, as Cosmos */
    assert_string_equal(s.endpoint, "http://minio.local:9000"); /* trailing '/' dropped */
    assert_true(s.path_style);                                 /* custom endpoint */
    vc_s3_settings_free(&s);
    /* keys in ~/.aws/config work too */
    assert_int_equal(vc_s3_settings_load("swift", &s, &err), 0);
    assert_string_equal(s.access_key, "test:tester");
    assert_string_equal(s.endpoint, "http://127.0.0.1:8080");
    vc_s3_settings_free(&s);
    clear_env();
}

static void test_settings_env(void **state)
{
    (void)state;
    clear_env();
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    setenv("AWS_REGION", "ap-south-1", 1);
    vc_s3_settings s;
    char *err = NULL;
    assert_int_equal(vc_s3_settings_load(NULL, &s, &err), 0);
    assert_string_equal(s.access_key, "AKENV");
    assert_string_equal(s.session_token, "envtoken");
    assert_string_equal(s.region, "ap-south-1");
    vc_s3_settings_free(&s);
    /* AWS_PROFILE picks the section; AWS_ENDPOINT_URL wins over the files */
    clear_env();
    setenv("AWS_PROFILE", "cosmos", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
    setenv("VCURATE_S3_ADDRESSING_STYLE", "virtual", 1);
    assert_int_equal(vc_s3_settings_load(NULL, &s, &err), 0);
    assert_string_equal(s.access_key, "AKCOSMOS");
    assert_string_equal(s.endpoint, "http://127.0.0.1:9");
    assert_false(s.path_style);
    vc_s3_settings_free(&s);
    clear_env();
}

static void test_settings_aws_default_endpoint(void **state)
{
    (void)state;
    clear_env();
    char *c = vc_asprintf("%s/credentials", tmpdir);
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    setenv("AWS_REGION", "eu-west-3", 1);
    vc_s3_settings s;
    char *err = NULL;
    assert_int_equal(vc_s3_settings_load(NULL, &s, &err), 0);
    assert_string_equal(s.endpoint, "https://s3.eu-west-3.amazonaws.com");
    assert_false(s.path_style); /* virtual-hosted on AWS */
    vc_s3_settings_free(&s);
    char *f = vc_asprintf("%s/config", tmpdir);
    setenv("AWS_CONFIG_FILE", f, 1);
    free(f);
    free(c);
    clear_env();
}

static void test_settings_missing_keys_message(void **state)
{
    (void)state;
    clear_env();
    vc_s3_settings s;
    char *err = NULL;
    /* [other] has an access key id but no secret */
    assert_int_equal(vc_s3_settings_load("other", &s, &err), -22);
    assert_non_null(strstr(err, "no S3 credentials for profile 'other'"));
    assert_null(strstr(err, "AKOTHER")); /* no key material in messages */
    free(err);
}

static const char *LIST_PAGE =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>bkt</Name><Prefix>raw/</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<Contents><Key>raw/a&amp;b.mp4</Key><LastModified>2026-11-28T00:00:00.000Z</LastModified>"
    "<ETag>&quot;abc&quot;</ETag><Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>raw/sub/caf&#233;.mp4</Key><Size>5</Size></Contents>"
    "<Contents><Key>raw/dir/</Key><Size>0</Size></Contents>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "</ListBucketResult>";

static void test_parse_list(void **state)
{
    (void)state;
    vc_strlist keys = { 0 };
    int64_t *sizes = NULL;
    size_t n = 0;
    char *next = NULL;
    assert_int_equal(vc_s3_parse_list(LIST_PAGE, strlen(LIST_PAGE), &keys, &sizes, &n, &next), 0);
    assert_int_equal(keys.len, 3);
    assert_string_equal(keys.items[0], "raw/a&b.mp4");
    assert_string_equal(keys.items[1], "raw/sub/caf\xc3\xa9.mp4");
    assert_string_equal(keys.items[2], "raw/dir/");
    assert_int_equal(n, 3);
    assert_int_equal(sizes[0], 1234);
    assert_string_equal(next, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    free(next);
    free(sizes);
    vc_strlist_free(&keys);

    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount>"
                       "</ListBucketResult>";
    assert_int_equal(vc_s3_parse_list(last, strlen(last), &keys, NULL, NULL, &next), 0);
    assert_int_equal(keys.len, 0);
    assert_null(next);
    const char *err = "<Error><Code>NoSuchBucket</Code></Error>";
    assert_int_not_equal(vc_s3_parse_list(err, strlen(err), &keys, NULL, NULL, &next), 0);
}

static void test_error_document(void **state)
{
    (void)state;
    const char *doc = "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>SignatureDoesNotMatch</Code>"
                      "<Message>The request signature we calculated does not match the signature "
                      "you provided. Check your key and signing method.</Message>"
                      "<RequestId>tx1</RequestId></Error>";
    char *code = vc_s3_xml_text(doc, strlen(doc), "Code");
    assert_string_equal(code, "SignatureDoesNotMatch");
    free(code);
    char *upload = vc_s3_xml_text("<InitiateMultipartUploadResult><UploadId>ab/c+d</UploadId>"
                                  "</InitiateMultipartUploadResult>", 80, "UploadId");
    assert_string_equal(upload, "ab/c+d");
    free(upload);
    assert_null(vc_s3_xml_text(doc, strlen(doc), "Missing"));
    char *empty = vc_s3_xml_text("<a><Prefix/></a>", 16, "Prefix");
    assert_string_equal(empty, "");
    free(empty);
}

static void test_retry_rules(void **state)
{
    (void)state;
    assert_true(vc_s3_retryable(7, 0, NULL));    /* connection refused: server restarting */
    assert_true(vc_s3_retryable(28, 0, NULL));   /* timeout */
    assert_true(vc_s3_retryable(56, 0, NULL));   /* connection dropped */
    assert_true(vc_s3_retryable(52, 0, NULL));   /* empty reply */
    assert_false(vc_s3_retryable(3, 0, NULL));   /* malformed URL */
    assert_true(vc_s3_retryable(0, 500, "InternalError"));
    assert_true(vc_s3_retryable(0, 503, "SlowDown"));
    assert_true(vc_s3_retryable(0, 429, NULL));
    assert_true(vc_s3_retryable(0, 400, "RequestTimeout"));
    assert_false(vc_s3_retryable(0, 400, "BadDigest"));
    assert_false(vc_s3_retryable(0, 403, "SignatureDoesNotMatch"));
    assert_false(vc_s3_retryable(0, 404, "NoSuchKey"));
    unsigned seed = 1;
    for (int a = 1; a <= 12; a++) {
        long d = vc_s3_backoff_ms(a, &seed);
        long full = 100L << (a - 1);
        if (full > 5000)
            full = 5000;
        assert_true(d >= full / 2 && d <= full);
    }
}

static void test_profiles_by_prefix(void **state)
{
    (void)state;
    vc_s3_profiles_reset();
    vc_s3_set_profile("s3://in/raw", "reader");
    vc_s3_set_profile("s3://in/raw/special/", "special");
    vc_s3_set_profile("s3://out", "writer");
    char *p = vc_s3_profile_for("s3://in/raw/a.mp4");
    assert_string_equal(p, "reader");
    free(p);
    p = vc_s3_profile_for("s3://in/raw/special/b.mp4");
    assert_string_equal(p, "special");
    free(p);
    p = vc_s3_profile_for("s3://out/clips/x.mp4");
    assert_string_equal(p, "writer");
    free(p);
    assert_null(vc_s3_profile_for("s3://in/rawer/a.mp4")); /* whole path components only */
    assert_null(vc_s3_profile_for("s3://outside/x"));
    vc_s3_profiles_reset();
}

static void test_s3_paths(void **state)
{
    (void)state;
    char *p = vc_fs_pypath("s3://bkt/a//b/./c/");
    assert_string_equal(p, "s3://bkt/a/b/c");
    free(p);
    p = vc_fs_join("s3://bkt/out/", "clips/x.mp4");
    assert_string_equal(p, "s3://bkt/out/clips/x.mp4");
    free(p);
    p = vc_fs_relpath("s3://bkt/raw", "s3://bkt/raw/sub/a.mp4");
    assert_string_equal(p, "sub/a.mp4");
    free(p);
    assert_int_equal(vc_fs_mkdirs("s3://bkt/any/dir"), 0); /* buckets have no folders */
    setenv("VCURATE_S3_CACHE_DIR", "/cache", 1);
    p = vc_s3_cache_dir("s3://models/hf//");
    assert_string_equal(p, "/cache/models/hf");
    free(p);
    unsetenv("VCURATE_S3_CACHE_DIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_names),
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_list_query_canonical),
        cmocka_unit_test(test_http_url),
        cmocka_unit_test(test_ini),
        cmocka_unit_test(test_settings_default_profile),
        cmocka_unit_test(test_settings_named_profile),
        cmocka_unit_test(test_settings_env),
        cmocka_unit_test(test_settings_aws_default_endpoint),
        cmocka_unit_test(test_settings_missing_keys_message),
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_error_document),
        cmocka_unit_test(test_retry_rules),
        cmocka_unit_test(test_profiles_by_prefix),
        cmocka_unit_test(test_s3_paths),
    };
    return cmocka_run_group_tests(tests, setup_files, teardown_files);
}
