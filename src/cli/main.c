/* vcurate: video-data curation for world-model training. */
#include <stdio.h>
#include <string.h>

#include <libavutil/log.h>

#include "cli/commands.h"
#include "cli/shard_cmd.h"
#include "pipeline/cancel.h"

static const char usage[] =
"Usage: vcurate COMMAND [options]\n"
"\n"
"Commands:\n"
"  split    raw videos -> single-shot H.264 clips + metadata (Cosmos Curator layout)\n"
"  shard    split output -> WebDataset tar shards binned by resolution, aspect, duration\n"
"  detect   print the shots of one video as JSON\n"
"  models   list, download and verify model weights (Hugging Face)\n"
"  embed    (re)compute T5 caption embeddings of a split output\n"
"  version  print the version\n"
"\n"
"Run 'vcurate COMMAND --help' for a command's options.\n";

int main(int argc, char **argv)
{
    /* Signals are handled by one watcher thread; start it before any other. */
    vc_cancel_install(NULL, NULL);
    av_log_set_level(AV_LOG_ERROR);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "split"))
        return vc_cmd_split(argc - 1, argv + 1);
    if (!strcmp(cmd, "detect"))
        return vc_cmd_detect(argc - 1, argv + 1);
    if (!strcmp(cmd, "shard"))
        return vc_cmd_shard(argc - 1, argv + 1);
    if (!strcmp(cmd, "models"))
        return vc_cmd_models(argc - 1, argv + 1);
    if (!strcmp(cmd, "embed"))
        return vc_cmd_embed(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("vcurate %s\n", VC_VERSION);
        return 0;
    }
    fprintf(stderr, "vcurate: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
