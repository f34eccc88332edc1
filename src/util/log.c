#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum vc_log_level log_level = VC_LOG_INFO;
static void (*log_hook)(int, void *);
static void *log_hook_opaque;

void vc_log_set_level(enum vc_log_level level) { log_level = level; }
enum vc_log_level vc_log_get_level(void) { return log_level; }

void vc_log_set_hook(void (*hook)(int after, void *opaque), void *opaque)
{
    pthread_mutex_lock(&log_lock);
    log_hook = hook;
    log_hook_opaque = opaque;
    pthread_mutex_unlock(&log_lock);
}

void vc_log_locked(void (*fn)(void *opaque), void *opaque)
{
    pthread_mutex_lock(&log_lock);
    fn(opaque);
    pthread_mutex_unlock(&log_lock);
}

void vc_log(enum vc_log_level level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };
    if (level > log_level)
        return;
    pthread_mutex_lock(&log_lock);
    if (log_hook)
        log_hook(0, log_hook_opaque);
    fprintf(stderr, "vcurate: %s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (log_hook)
        log_hook(1, log_hook_opaque);
    pthread_mutex_unlock(&log_lock);
}
