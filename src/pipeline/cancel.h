/* Process-wide cancellation on SIGINT/SIGTERM. Signals are taken by a
 * dedicated thread (sigwait), so the rest of the program never runs code in
 * signal context and can wake blocked queues safely. */
#ifndef VC_PIPELINE_CANCEL_H
#define VC_PIPELINE_CANCEL_H

#include <stdbool.h>

/* Call first in main(), before any thread starts: blocks SIGINT/SIGTERM in
 * all threads and starts the watcher. on_cancel runs in the watcher thread. */
void vc_cancel_install(void (*on_cancel)(void *opaque), void *opaque);
void vc_cancel_set_callback(void (*on_cancel)(void *opaque), void *opaque);
bool vc_cancelled(void);
void vc_cancel_request(void);
/* Signal number that caused the cancel, or 0. */
int vc_cancel_signal(void);

#endif
