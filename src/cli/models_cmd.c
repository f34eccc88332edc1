/* `vcurate models list|download|verify`: model weights. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "models/models.h"
#include "pipeline/cancel.h"
#include "util/common.h"
#include "util/log.h"

static const char usage[] =
"usage: vcurate models list|download|verify [options]\n"
"\n"
"The model weights vcurate uses, kept in Hugging Face layout under the model\n"
"folder ({DIR}/{repo}/{file}, e.g. DIR/Sn4kehead/TransNetV2/transnetv2-pytorch-weights.pth),\n"
"the folder `vcurate split --model-weights-path` reads.\n"
"\n"
"  list       every model vcurate can use: what needs it, its files, Hugging Face\n"
"             repo and pinned revision, license, and whether it is here and complete\n"
"  download   fetch models from Hugging Face (or a mirror): only the files the\n"
"             models read, several at once, resuming partial files, each checked\n"
"             against the hub's sha256 (LFS) or git-sha1 before it is put in place\n"
"  verify     check what is here: files present, sizes and hashes as downloaded,\n"
"             checkpoints holding the tensors the models read with the right\n"
"             shapes; says what is wrong and the command that fixes it\n"
"\n"
"options:\n"
"  --model-weights-path DIR  model folder (default $VCURATE_MODEL_DIR, else\n"
"                            ~/.cache/vcurate/models)\n"
"  --models A,B,...          among: %s; or all.\n"
"                            Default: all (list, verify), transnetv2 (download)\n"
"download:\n"
"  --encoder-only            t5_xxl: after the download keep only encoder.* and\n"
"                            shared.weight, in encoder.safetensors (dtype as stored,\n"
"                            about 40%% of the 45 GB), and delete the full checkpoint\n"
"  --keep-full               with --encoder-only: keep the full checkpoint too\n"
"  --recheck                 hash files already here even when they look untouched\n"
"                            (size and mtime as downloaded); a mismatch is fetched again\n"
"  --endpoint URL            hub address (default $HF_ENDPOINT, else https://huggingface.co)\n"
"  --jobs N                  files fetched at once (default 4)\n"
"  --retries N               retries of a file after failures that made no progress\n"
"                            (default 5; 5xx, 429, timeouts and dropped connections)\n"
"  --retry-wait S            first wait before a retry, doubled each time up to 30 s (default 1)\n"
"  --timeout S               give up on a transfer stalled this long and retry (default 60)\n"
"  --progress, --no-progress progress bar on stderr (default: when stderr is a terminal)\n"
"verify:\n"
"  --no-hash                 skip hashing (sizes and tensors only; fast on 45 GB)\n"
"  --no-tensors              skip opening the checkpoints\n"
"  --verbose                 debug logs (requests, without tokens or signed URLs)\n"
"  -h, --help                this help\n"
"\n"
"Gated or private models need a Hugging Face token: $HF_TOKEN, else the file\n"
"$HF_TOKEN_PATH, else $HF_HOME/token (default ~/.cache/huggingface/token, where\n"
"`huggingface-cli login` saves it). It is sent only to the hub's own address,\n"
"never to the storage servers the hub redirects to, and never printed or written.\n"
"A mirror behind a private CA: CURL_CA_BUNDLE (or REQUESTS_CA_BUNDLE) names the CA file.\n"
"\n"
"Each downloaded file gets a record in {repo}/.cache/huggingface/download/\n"
"(huggingface_hub's local-folder format: commit, etag, time) that verify checks\n"
"against; partial downloads wait there as *.incomplete until resumed.\n"
"\n"
"exit status: 0 success, 1 a download failed or verify found a problem,\n"
"             2 usage error, 130 interrupted (rerun to resume)\n";

enum {
    O_DIR = 1000, O_MODELS, O_ENCODER_ONLY, O_KEEP_FULL, O_RECHECK, O_ENDPOINT, O_JOBS, O_RETRIES, O_RETRY_WAIT,
    O_TIMEOUT, O_PROGRESS, O_NO_PROGRESS, O_NO_HASH, O_NO_TENSORS, O_VERBOSE,
};

static const struct option long_opts[] = {
    { "model-weights-path", required_argument, NULL, O_DIR },
    { "models", required_argument, NULL, O_MODELS },
    { "encoder-only", no_argument, NULL, O_ENCODER_ONLY },
    { "keep-full", no_argument, NULL, O_KEEP_FULL },
    { "recheck", no_argument, NULL, O_RECHECK },
    { "endpoint", required_argument, NULL, O_ENDPOINT },
    { "jobs", required_argument, NULL, O_JOBS },
    { "retries", required_argument, NULL, O_RETRIES },
    { "retry-wait", required_argument, NULL, O_RETRY_WAIT },
    { "timeout", required_argument, NULL, O_TIMEOUT },
    { "progress", no_argument, NULL, O_PROGRESS },
    { "no-progress", no_argument, NULL, O_NO_PROGRESS },
    { "no-hash", no_argument, NULL, O_NO_HASH },
    { "no-tensors", no_argument, NULL, O_NO_TENSORS },
    { "verbose", no_argument, NULL, O_VERBOSE },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vcurate models: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see vcurate models --help)\n", stderr);
    va_end(ap);
    return 2;
}

static void print_usage(FILE *f)
{
    fprintf(f, usage, vc_models_ids());
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_secs(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* "a,b,c" or "all" -> model list (deduplicated, in the order given). */
static int parse_models(const char *arg, const vc_model_def **out, size_t *n)
{
    *n = 0;
    char *copy = vc_xstrdup(arg), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (!strcmp(t, "all")) {
            for (size_t i = 0; i < vc_models_count(); i++) {
                bool dup = false;
                for (size_t k = 0; k < *n; k++)
                    dup |= out[k] == vc_models_at(i);
                if (!dup)
                    out[(*n)++] = vc_models_at(i);
            }
            continue;
        }
        const vc_model_def *m = vc_models_find(t);
        if (!m) {
            rc = usage_error("--models: unknown model '%s' (known: %s, all)", t, vc_models_ids());
            break;
        }
        bool dup = false;
        for (size_t k = 0; k < *n; k++)
            dup |= out[k] == m;
        if (!dup)
            out[(*n)++] = m;
    }
    free(copy);
    if (!rc && !*n)
        rc = usage_error("--models: no model named");
    return rc;
}

static bool cancelled(void) { return vc_cancelled(); }

int vc_cmd_models(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
        print_usage(stdout);
        return 0;
    }
    enum { LIST, DOWNLOAD, VERIFY } cmd;
    if (!strcmp(sub, "list"))
        cmd = LIST;
    else if (!strcmp(sub, "download"))
        cmd = DOWNLOAD;
    else if (!strcmp(sub, "verify"))
        cmd = VERIFY;
    else
        return usage_error("unknown subcommand '%s' (list, download or verify)", sub);

    const char *dir = NULL, *models_arg = NULL;
    vc_models_download_opts d = { .progress = isatty(2), .jobs = 4, .retries = 5, .retry_wait_s = 1.0,
                                  .stall_timeout_s = 60 };
    vc_models_verify_opts v = { .hash = true, .tensors = true };
    bool verbose = false;
    long lv;
    double dv;
    optind = 1;
    opterr = 0;
    int c;
    argc--;
    argv++;
    while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        switch (c) {
        case O_DIR: dir = optarg; break;
        case O_MODELS: models_arg = optarg; break;
        case O_ENCODER_ONLY: d.encoder_only = true; break;
        case O_KEEP_FULL: d.keep_full = true; break;
        case O_RECHECK: d.recheck = true; break;
        case O_ENDPOINT: d.endpoint = optarg; break;
        case O_JOBS:
            if (!parse_long(optarg, 1, 64, &lv))
                return usage_error("--jobs expects 1 to 64, got '%s'", optarg);
            d.jobs = (int)lv;
            break;
        case O_RETRIES:
            if (!parse_long(optarg, 0, 1000, &lv))
                return usage_error("--retries expects 0 to 1000, got '%s'", optarg);
            d.retries = (int)lv;
            break;
        case O_RETRY_WAIT:
            if (!parse_secs(optarg, 0.001, 3600, &dv))
                return usage_error("--retry-wait expects seconds (0.001 to 3600), got '%s'", optarg);
            d.retry_wait_s = dv;
            break;
        case O_TIMEOUT:
            if (!parse_secs(optarg, 1, 86400, &dv))
                return usage_error("--timeout expects seconds (1 to 86400), got '%s'", optarg);
            d.stall_timeout_s = dv;
            break;
        case O_PROGRESS: d.progress = true; break;
        case O_NO_PROGRESS: d.progress = false; break;
        case O_NO_HASH: v.hash = false; break;
        case O_NO_TENSORS: v.tensors = false; break;
        case O_VERBOSE: verbose = true; break;
        case 'h': print_usage(stdout); return 0;
        case ':': return usage_error("%s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (cmd != DOWNLOAD && (d.encoder_only || d.keep_full || d.recheck || d.endpoint))
        return usage_error("--encoder-only, --keep-full, --recheck and --endpoint are for `models download`");
    if (cmd != VERIFY && (!v.hash || !v.tensors))
        return usage_error("--no-hash and --no-tensors are for `models verify`");
    if (d.keep_full && !d.encoder_only)
        return usage_error("--keep-full goes with --encoder-only");
    if (dir && !*dir)
        return usage_error("--model-weights-path is empty");
    if (dir && (!strncmp(dir, "s3://", 5) || !strncmp(dir, "az://", 5)))
        return usage_error("--model-weights-path %s: object-store model folders are not supported yet; use a "
                           "local folder", dir);
    if (verbose)
        vc_log_set_level(VC_LOG_DEBUG);

    const vc_model_def *list[16];
    size_t n = 0;
    int rc;
    if (models_arg) {
        if ((rc = parse_models(models_arg, list, &n)))
            return rc;
    } else if (cmd == DOWNLOAD) {
        list[n++] = vc_models_find("transnetv2");
        vc_info("no --models given: fetching transnetv2 (the default splitting model); "
                "--models all fetches every model");
    } else {
        for (size_t i = 0; i < vc_models_count(); i++)
            list[n++] = vc_models_at(i);
    }

    const char *model_dir = dir ? dir : vc_models_default_dir();
    /* Fix commands repeat the folder when it is not the default one. */
    char *dir_arg;
    if (dir && strcmp(dir, vc_models_default_dir())) {
        char *q = vc_models_shell_quote(dir);
        dir_arg = vc_asprintf(" --model-weights-path %s", q);
        free(q);
    } else {
        dir_arg = vc_xstrdup("");
    }

    switch (cmd) {
    case LIST:
        vc_models_list(stdout, model_dir, list, n);
        rc = 0;
        break;
    case VERIFY:
        v.model_dir = model_dir;
        v.skip_absent = models_arg == NULL;
        v.fix_dir_arg = dir_arg;
        v.cancelled = cancelled;
        rc = vc_models_verify(stdout, list, n, &v);
        break;
    case DOWNLOAD:
    default:
        d.model_dir = model_dir;
        d.verbose = verbose;
        d.fix_dir_arg = dir_arg;
        d.cancelled = cancelled;
        rc = vc_models_download(list, n, &d);
        break;
    }
    free(dir_arg);
    fflush(stdout);
    return rc;
}
