/* `vcurate split`: select the input videos (resume rules), run them through
 * probe -> cut -> write, then write summary.json. */
#ifndef VC_SPLIT_SPLIT_H
#define VC_SPLIT_SPLIT_H

#include "split/config.h"

/* Exit codes, documented in the README. */
enum {
    VC_EXIT_OK = 0,
    VC_EXIT_SOME_FAILED = 1,   /* the run finished; some videos went to video_errors/ */
    VC_EXIT_USAGE = 2,         /* bad arguments: nothing was written */
    VC_EXIT_FATAL = 3,         /* cannot list the input or write the output */
    VC_EXIT_INTERRUPTED = 130, /* Ctrl-C / SIGTERM: finished files kept, rerun resumes */
};

int vc_split_main(const vc_split_config *cfg);

#endif
