/* Thread-safe logging to stderr. A live progress line (cli/progress.c) can
 * register a hook so log lines never interleave with it. */
#ifndef VC_UTIL_LOG_H
#define VC_UTIL_LOG_H

enum vc_log_level { VC_LOG_ERROR, VC_LOG_WARN, VC_LOG_INFO, VC_LOG_DEBUG };

void vc_log_set_level(enum vc_log_level level);
enum vc_log_level vc_log_get_level(void);
void vc_log(enum vc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Called with the log lock held, before (after=0) and after (after=1) each line. */
void vc_log_set_hook(void (*hook)(int after, void *opaque), void *opaque);
/* Run fn under the log lock (used by the progress line to redraw). */
void vc_log_locked(void (*fn)(void *opaque), void *opaque);

#define vc_error(...) vc_log(VC_LOG_ERROR, __VA_ARGS__)
#define vc_warn(...)  vc_log(VC_LOG_WARN, __VA_ARGS__)
#define vc_info(...)  vc_log(VC_LOG_INFO, __VA_ARGS__)
#define vc_debug(...) vc_log(VC_LOG_DEBUG, __VA_ARGS__)

#endif
