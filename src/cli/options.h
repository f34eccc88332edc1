/* Command-line parsing for `vcurate split` and `vcurate detect`, which share
 * the splitting options. Flag names and defaults are Cosmos Curator's. */
#ifndef VC_CLI_OPTIONS_H
#define VC_CLI_OPTIONS_H

#include "split/config.h"

enum { VC_OPTS_OK = 0, VC_OPTS_EXIT_OK = 1, VC_OPTS_USAGE = 2 };

/* Parse argv for `split` (detect=false) or `detect` (detect=true; the video
 * path is returned in *video). Prints the error or the help itself. */
int vc_parse_split_options(int argc, char **argv, bool detect, vc_split_config *cfg, const char **video);

/* `vcurate detect --predictions FILE` (NULL when not given). */
extern const char *vc_detect_predictions_path;

#endif
