#include "cli/commands.h"

#include "cli/options.h"
#include "split/split.h"
#include "util/log.h"

int vc_cmd_split(int argc, char **argv)
{
    vc_split_config cfg;
    int rc = vc_parse_split_options(argc, argv, false, &cfg, NULL);
    if (rc) {
        vc_caption_config_free(&cfg.caption);
        return rc == VC_OPTS_EXIT_OK ? VC_EXIT_OK : VC_EXIT_USAGE;
    }
    if (cfg.verbose)
        vc_log_set_level(VC_LOG_DEBUG);
    rc = vc_split_main(&cfg);
    vc_split_free_models(&cfg);
    vc_caption_config_free(&cfg.caption);
    return rc;
}
