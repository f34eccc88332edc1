#include "cli/shard_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/device.h"
#include "shard/shard.h"
#include "storage/s3.h"
#include "util/log.h"

static const char usage[] =
"usage: vcurate shard --input-clip-path DIR --output-dataset-path DIR [options]\n"
"\n"
"Pack the clips of a `vcurate split` output into WebDataset tar shards, laid\n"
"out as Cosmos Curator's shard pipeline writes them:\n"
"  OUT/VERSION/resolution_R/aspect_ratio_W_H/duration_D/{video,metas,t5_xxl}/\n"
"      part_PPPPPP/TTTTTT.tar, plus wdinfo.json per bin and OUT/VERSION/wdinfo_list.csv.\n"
"Clips come from INPUT/summary.json; only clips whose metas/VERSION/UUID.json says\n"
"\"valid\": true are packed. Bins: resolution 1080 / 720 / lt_720 (shorter side),\n"
"aspect ratio 9_16 3_4 1_1 4_3 16_9, duration 5_10 10_30 30_inf seconds.\n"
"\n"
"required:\n"
"  --input-clip-path DIR        the split output (its --output-clip-path)\n"
"  --output-dataset-path DIR    dataset root; data goes under DIR/VERSION/\n"
"\n"
"options:\n"
"  --annotation-version V       metadata version to read (metas/V/) and output\n"
"                               subdirectory (default: v0)\n"
"  --captioning-algorithm A     caption field \"A_caption\" of each window, for the\n"
"                               T5 embeddings; must match what split used\n"
"                               (default: qwen). If windows carry other captions\n"
"                               but none under A, shard stops with an error.\n""  --t5-embeddings M            where the t5_xxl members come from (default: auto):\n"
"                               auto   INPUT/t5_xxl/VERSION/A/UUID.pickle as written\n"
"                                      by `vcurate embed`, when its UUID.json still\n"
"                                      matches the clip's captions; the other\n"
"                                      captioned clips are embedded here with the T5\n"
"                                      encoder, or shard stops at start-up naming\n"
"                                      them and the fix when its weights are absent\n"
"                               files  embed's pickles only (never loads the encoder)\n"
"                               empty  an empty list for every clip (no T5)\n"
"                               Clips without captions always get the empty list.\n"
"  --model-weights-path DIR     T5 weights for embedding here: DIR/google-t5/t5-11b/\n"
"                               (vcurate models download --models t5_xxl\n"
"                               --encoder-only), or DIR itself when it holds\n"
"                               config.json (default: $VCURATE_MODEL_DIR or\n"
"                               ~/.cache/vcurate/models)\n"
"  --device D                   T5 encoder: auto (a GPU when there is one), cpu,\n"
"                               cuda, cuda:N (default: auto)\n"
"  --max-tars-per-part N        tars per part_NNNNNN directory (default: 100)\n"
"  --target-tar-size-mb N       tar budget in MiB of clip bytes: a tar is closed\n"
"                               before a clip would take it past N (a larger clip\n"
"                               gets a tar of its own) (default: 500)\n"
"  --min-clips-per-tar N        with --drop-small-shards (default: 1)\n"
"  --drop-small-shards, --no-drop-small-shards\n"
"                               drop the last tar of a bin when it has fewer than\n"
"                               --min-clips-per-tar clips (default: off)\n"
"  --short-clip-bin, --no-short-clip-bin\n"
"                               also pack clips shorter than 5 s, into duration_0_5\n"
"                               bins (Cosmos Curator drops them) (default: off)\n"
"  --threads N                  parallel workers (default: 0 = CPUs, 2..8)\n"
"  --verbose                    debug logs (also every left-out clip)\n"
"  -h, --help                   this help\n"
"\n"
"accepted for compatibility, no effect here:\n"
"  --execution-mode M,\n"
"  --limit N (shard ignores it, as Cosmos does),\n"
"  --perf-profile, --no-perf-profile (no performance_stats file is written)\n"
"S3: both paths may be s3://bucket/prefix (credentials as the AWS CLI: AWS_*\n"
"  variables, ~/.aws/credentials and ~/.aws/config; see README \"S3\"):\n"
"  --input-s3-profile-name P    credentials profile for the input\n"
"  --output-s3-profile-name P   credentials profile for the output\n"
"not supported yet (rejected): az:// paths, --input-semantic-dedup-path\n"
"  and the other semantic dedup flags, --profile-* flags.\n"
"\n"
"Every clip left out (invalid, missing metadata or mp4, no bin, dropped small\n"
"shard, duplicate uuid) is logged with its reason and listed in\n"
"OUT/VERSION/shard_summary.json. Tars are written under temporary names and\n"
"renamed when complete, with a fixed mtime: rerunning the same command after an\n"
"interruption writes only what is missing, and repeated runs give\n"
"byte-identical shards. A non-empty output written by something else, or from\n"
"different input or options, is refused.\n"
"\n"
"exit status: 0 success, 1 failure, 2 usage error\n";

enum {
    OPT_INPUT = 1000, OPT_OUTPUT, OPT_VERSION, OPT_ALGO, OPT_MAX_TARS, OPT_TARGET_MB,
    OPT_MIN_CLIPS, OPT_DROP, OPT_NO_DROP, OPT_SHORT, OPT_NO_SHORT, OPT_THREADS, OPT_VERBOSE,
    OPT_IGNORED_ARG, OPT_IGNORED_FLAG, OPT_EXEC_MODE, OPT_LIMIT, OPT_DEDUP, OPT_PROFILE,
    OPT_IN_PROFILE, OPT_OUT_PROFILE, OPT_T5, OPT_WEIGHTS, OPT_DEVICE,
};

static const char *in_profile, *out_profile;

static const struct option long_opts[] = {
    { "input-clip-path", required_argument, NULL, OPT_INPUT },
    { "output-dataset-path", required_argument, NULL, OPT_OUTPUT },
    { "annotation-version", required_argument, NULL, OPT_VERSION },
    { "captioning-algorithm", required_argument, NULL, OPT_ALGO },
    { "max-tars-per-part", required_argument, NULL, OPT_MAX_TARS },
    { "target-tar-size-mb", required_argument, NULL, OPT_TARGET_MB },
    { "min-clips-per-tar", required_argument, NULL, OPT_MIN_CLIPS },
    { "drop-small-shards", no_argument, NULL, OPT_DROP },
    { "no-drop-small-shards", no_argument, NULL, OPT_NO_DROP },
    { "short-clip-bin", no_argument, NULL, OPT_SHORT },
    { "no-short-clip-bin", no_argument, NULL, OPT_NO_SHORT },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "verbose", no_argument, NULL, OPT_VERBOSE },
    { "help", no_argument, NULL, 'h' },
    { "input-s3-profile-name", required_argument, NULL, OPT_IN_PROFILE },
    { "output-s3-profile-name", required_argument, NULL, OPT_OUT_PROFILE },
    { "model-weights-path", required_argument, NULL, OPT_WEIGHTS },
    { "device", required_argument, NULL, OPT_DEVICE },
    { "t5-embeddings", required_argument, NULL, OPT_T5 },
    { "execution-mode", required_argument, NULL, OPT_EXEC_MODE },
    { "limit", required_argument, NULL, OPT_LIMIT },
    { "perf-profile", no_argument, NULL, OPT_IGNORED_FLAG },
    { "no-perf-profile", no_argument, NULL, OPT_IGNORED_FLAG },
    { "input-semantic-dedup-path", required_argument, NULL, OPT_DEDUP },
    { "input-semantic-dedup-s3-profile-name", required_argument, NULL, OPT_DEDUP },
    { "semantic-dedup-epsilon", required_argument, NULL, OPT_DEDUP },
    { "profile-tracing", no_argument, NULL, OPT_PROFILE },
    { "profile-tracing-sampling", required_argument, NULL, OPT_PROFILE },
    { "profile-tracing-otlp-endpoint", required_argument, NULL, OPT_PROFILE },
    { "profile-cpu", no_argument, NULL, OPT_PROFILE },
    { "profile-memory", no_argument, NULL, OPT_PROFILE },
    { "profile-gpu", no_argument, NULL, OPT_PROFILE },
    { "profile-cpu-exclude", required_argument, NULL, OPT_PROFILE },
    { "profile-memory-exclude", required_argument, NULL, OPT_PROFILE },
    { "profile-gpu-exclude", required_argument, NULL, OPT_PROFILE },
    { NULL, 0, NULL, 0 },
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vcurate shard: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see vcurate shard --help)\n", stderr);
    va_end(ap);
    return 2;
}

/* A whole decimal integer in [min, max]. */
static bool parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* A version names one directory level: no separators, not "." or "..". */
static bool valid_version(const char *v)
{
    return *v && !strchr(v, '/') && strcmp(v, ".") != 0 && strcmp(v, "..") != 0;
}

static bool valid_algo(const char *a)
{
    if (!*a)
        return false;
    for (const char *p = a; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

static int set_int(const char *name, const char *arg, long long min, long long max,
                   long long *out)
{
    if (parse_int(arg, min, max, out))
        return 0;
    return usage_error("--%s expects an integer from %lld to %lld, got '%s'", name, min, max, arg);
}

static int parse_option(int opt, const char *arg, vc_shard_opts *o, bool *verbose)
{
    long long v = 0;
    switch (opt) {
    case OPT_INPUT: o->input_clip_path = arg; return 0;
    case OPT_OUTPUT: o->output_dataset_path = arg; return 0;
    case OPT_VERSION:
        if (!valid_version(arg))
            return usage_error("--annotation-version '%s' must name one directory", arg);
        o->annotation_version = arg;
        return 0;
    case OPT_ALGO:
        if (!valid_algo(arg))
            return usage_error("--captioning-algorithm '%s': use letters, digits and _", arg);
        o->captioning_algorithm = arg;
        return 0;
    case OPT_MAX_TARS:
        if (set_int("max-tars-per-part", arg, 1, INT_MAX, &v))
            return 2;
        o->max_tars_per_part = (int)v;
        return 0;
    case OPT_TARGET_MB:
        if (set_int("target-tar-size-mb", arg, 1, (long long)1 << 40, &v))
            return 2;
        o->target_tar_size_mb = v;
        return 0;
    case OPT_MIN_CLIPS:
        if (set_int("min-clips-per-tar", arg, 0, INT_MAX, &v))
            return 2;
        o->min_clips_per_tar = (int)v;
        return 0;
    case OPT_THREADS:
        if (set_int("threads", arg, 0, 1024, &v))
            return 2;
        o->threads = (int)v;
        return 0;
    case OPT_DROP: o->drop_small_shards = true; return 0;
    case OPT_NO_DROP: o->drop_small_shards = false; return 0;
    case OPT_SHORT: o->short_clip_bin = true; return 0;
    case OPT_NO_SHORT: o->short_clip_bin = false; return 0;
    case OPT_VERBOSE: *verbose = true; return 0;
    case OPT_IGNORED_ARG: case OPT_IGNORED_FLAG: return 0;
    case OPT_WEIGHTS: o->model_weights_path = arg; return 0;
    case OPT_DEVICE: {
        char err[256];
        if (vc_nn_device_parse(arg, &o->device, err, sizeof err))
            return usage_error("--device: %s", err);
        return 0;
    }
    case OPT_T5:
        if (!strcmp(arg, "auto"))
            o->t5_mode = VC_SHARD_T5_AUTO;
        else if (!strcmp(arg, "files"))
            o->t5_mode = VC_SHARD_T5_FILES;
        else if (!strcmp(arg, "empty"))
            o->t5_mode = VC_SHARD_T5_NONE;
        else
            return usage_error("--t5-embeddings '%s': choose auto, files or empty", arg);
        return 0;
    case OPT_IN_PROFILE: in_profile = arg; return 0;
    case OPT_OUT_PROFILE: out_profile = arg; return 0;
    case OPT_EXEC_MODE:
        if (strcmp(arg, "AUTO") && strcmp(arg, "STREAMING") && strcmp(arg, "BATCH"))
            return usage_error("--execution-mode '%s': choose AUTO, STREAMING or BATCH", arg);
        return 0;
    case OPT_LIMIT:
        return set_int("limit", arg, 0, LLONG_MAX, &v) ? 2 : 0;
    case OPT_DEDUP:
        return usage_error("semantic dedup filtering (--input-semantic-dedup-path and related "
                           "flags) is not supported yet");
    case OPT_PROFILE:
        return usage_error("the --profile-* flags are not supported by vcurate");
    }
    return 2;
}

int vc_cmd_shard(int argc, char **argv)
{
    vc_shard_opts o;
    vc_shard_opts_init(&o);
    bool verbose = false;
    optind = 0; /* GNU: full reset, so repeated calls in one process work */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (opt == '?')
            return usage_error("unrecognized option '%s'", argv[optind - 1]);
        if (opt == ':')
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        int rc = parse_option(opt, optarg, &o, &verbose);
        if (rc)
            return rc;
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.input_clip_path || !o.output_dataset_path)
        return usage_error("--input-clip-path and --output-dataset-path are required");
    if (verbose)
        vc_log_set_level(VC_LOG_DEBUG);
    if (in_profile)
        vc_s3_set_profile(o.input_clip_path, in_profile);
    if (out_profile)
        vc_s3_set_profile(o.output_dataset_path, out_profile);
    in_profile = out_profile = NULL;
    o.progress_tty = isatty(STDERR_FILENO);
    return vc_shard_run(&o);
}
