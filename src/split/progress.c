#include "split/progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/common.h"
#include "util/log.h"

struct vc_progress {
    vc_split_run *run;
    bool live;
    bool stop;
    bool shown;                /* a status line is on screen */
    char line[256];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

static void format_eta(char *buf, size_t n, double s)
{
    if (s < 0 || s > 1e7)
        snprintf(buf, n, "--");
    else if (s >= 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

static void compose(vc_progress *p)
{
    vc_split_stats *st = &p->run->stats;
    double el = vc_now() - p->run->t_start;
    long long done = atomic_load(&st->videos_done), total = atomic_load(&st->videos_total);
    long long frames = atomic_load(&st->frames_decoded);
    double media_done = atomic_load(&st->video_seconds_done) / 1000.0;
    double media_total = atomic_load(&st->video_seconds_total) / 1000.0;
    /* ETA from media seconds finished, falling back to video count. */
    double eta = -1;
    if (media_done > 0 && media_total > media_done)
        eta = el * (media_total - media_done) / media_done;
    else if (done > 0)
        eta = el * (double)(total - done) / (double)done;
    char etas[32];
    format_eta(etas, sizeof etas, eta);
    snprintf(p->line, sizeof p->line, "videos %lld/%lld  clips %lld  %.0f frames/s  ETA %s",
             done, total, (long long)atomic_load(&st->clips_written), el > 0 ? (double)frames / el : 0.0, etas);
}

/* Log hook: clear the status line before a log line, redraw it after. */
static void hook(int after, void *opaque)
{
    vc_progress *p = opaque;
    if (!p->shown && !after)
        return;
    fputs(after ? p->line : "\r\033[K", stderr);
    if (after)
        fflush(stderr);
}

static void draw(void *opaque)
{
    vc_progress *p = opaque;
    compose(p);
    fprintf(stderr, "\r\033[K%s", p->line);
    fflush(stderr);
    p->shown = true;
}

static void *progress_main(void *arg)
{
    vc_progress *p = arg;
    double last_plain = vc_now();
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->wake, &p->lock, &ts);
        if (p->stop)
            break;
        if (p->live) {
            vc_log_locked(draw, p);
        } else if (vc_now() - last_plain >= 30) {
            /* Not a terminal: a plain line every 30 s. */
            compose(p);
            vc_info("progress: %s", p->line);
            last_plain = vc_now();
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

vc_progress *vc_progress_start(vc_split_run *run, bool live)
{
    vc_progress *p = vc_xcalloc(1, sizeof(*p));
    p->run = run;
    p->live = live;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (live)
        vc_log_set_hook(hook, p);
    pthread_create(&p->thread, NULL, progress_main, p);
    return p;
}

static void clear_line(void *opaque)
{
    vc_progress *p = opaque;
    if (p->shown)
        fputs("\r\033[K", stderr);
    p->shown = false;
}

void vc_progress_stop(vc_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    if (p->live) {
        vc_log_locked(clear_line, p);
        vc_log_set_hook(NULL, NULL);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p);
}

void vc_progress_report(vc_split_run *run, double seconds)
{
    vc_split_stats *st = &run->stats;
    long long frames = atomic_load(&st->frames_decoded);
    vc_info("done in %.1f s: %lld/%lld videos processed, %lld failed; %lld clips written (%lld failed to "
            "transcode), %.1f MB; %lld frames decoded (%.0f frames/s); output in %s",
            seconds, (long long)atomic_load(&st->videos_done) - (long long)atomic_load(&st->videos_failed),
            (long long)atomic_load(&st->videos_total), (long long)atomic_load(&st->videos_failed),
            (long long)atomic_load(&st->clips_written), (long long)atomic_load(&st->clips_failed),
            (double)atomic_load(&st->bytes_written) / 1e6, frames, seconds > 0 ? (double)frames / seconds : 0.0,
            run->cfg->output_clip_path);
}
