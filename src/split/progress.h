/* Progress of a split run: a live status line on a terminal, plain periodic
 * log lines otherwise, and a final summary either way. */
#ifndef VC_SPLIT_PROGRESS_H
#define VC_SPLIT_PROGRESS_H

#include <stdbool.h>

#include "split/run.h"

typedef struct vc_progress vc_progress;

vc_progress *vc_progress_start(vc_split_run *run, bool live);
void vc_progress_stop(vc_progress *p);
/* The closing summary (always printed, to stderr). */
void vc_progress_report(vc_split_run *run, double seconds);

#endif
