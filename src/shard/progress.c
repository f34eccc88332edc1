#include "shard/progress.h"

#include <stdio.h>

#include "util/common.h"
#include "util/log.h"

#define TTY_INTERVAL 0.1
#define LOG_INTERVAL 10.0

static void format_line(vc_shard_progress *p)
{
    double el = vc_now() - p->start;
    double mb = (double)p->bytes / (1024.0 * 1024.0);
    snprintf(p->line, sizeof(p->line), "shard: %lld/%lld tars, %.1f/%.1f GiB, %.0f MiB/s",
             (long long)p->tars, (long long)p->total_tars, mb / 1024.0,
             (double)p->total_bytes / (1024.0 * 1024.0 * 1024.0), el > 0 ? mb / el : 0.0);
}

static void erase(void *opaque)
{
    vc_shard_progress *p = opaque;
    if (p->shown)
        fputs("\r\033[K", stderr);
}

static void draw(void *opaque)
{
    vc_shard_progress *p = opaque;
    fprintf(stderr, "\r\033[K%s", p->line);
    fflush(stderr);
    p->shown = true;
}

/* Log lines erase the live line first and redraw it after. */
static void log_hook(int after, void *opaque)
{
    vc_shard_progress *p = opaque;
    if (!p->shown)
        return;
    if (after)
        draw(p);
    else
        erase(p);
}

void vc_shard_progress_start(vc_shard_progress *p, int64_t total_tars, int64_t total_bytes,
                             bool tty)
{
    *p = (vc_shard_progress){ .tty = tty, .total_tars = total_tars,
                              .total_bytes = total_bytes, .start = vc_now() };
    p->last = p->start;
    if (tty)
        vc_log_set_hook(log_hook, p);
}

void vc_shard_progress_update(int64_t tars, int64_t bytes, void *opaque)
{
    vc_shard_progress *p = opaque;
    p->tars = tars;
    p->bytes = bytes;
    double now = vc_now();
    bool last = tars == p->total_tars;
    if (now - p->last < (p->tty ? TTY_INTERVAL : LOG_INTERVAL) && !last)
        return;
    p->last = now;
    format_line(p);
    if (p->tty)
        vc_log_locked(draw, p);
    else if (!last)
        vc_info("%s", p->line);
}

void vc_shard_progress_end(vc_shard_progress *p)
{
    if (!p->tty)
        return;
    vc_log_set_hook(NULL, NULL);
    if (p->shown) {
        fputc('\n', stderr);
        p->shown = false;
    }
}
