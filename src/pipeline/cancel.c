#include "pipeline/cancel.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

#include "util/log.h"

static atomic_bool cancelled;
static atomic_int cancel_signo;
static void (*cancel_cb)(void *);
static void *cancel_opaque;
static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;

static void run_callback(void)
{
    pthread_mutex_lock(&cb_lock);
    if (cancel_cb)
        cancel_cb(cancel_opaque);
    pthread_mutex_unlock(&cb_lock);
}

/* Our threads block SIGINT/SIGTERM, but threads a library starts before
 * main() (OpenBLAS's pool) do not, and a process-directed signal may land
 * on one of them: a handler (not the default action, which kills the
 * process) hands it to the watcher through a semaphore. */
static sem_t sig_sem;
static volatile sig_atomic_t pending_signo;

static void on_signal(int sig)
{
    int e = errno;
    pending_signo = sig;
    sem_post(&sig_sem);
    errno = e;
}

static void *watcher(void *arg)
{
    sigset_t *set = arg;
    /* the one thread of ours that takes the signals (through on_signal) */
    pthread_sigmask(SIG_UNBLOCK, set, NULL);
    for (;;) {
        if (sem_wait(&sig_sem) != 0)
            continue;
        int sig = pending_signo;
        if (atomic_exchange(&cancelled, true)) {
            /* Second Ctrl-C: the user really wants out. */
            signal(sig, SIG_DFL);
            pthread_sigmask(SIG_UNBLOCK, set, NULL);
            raise(sig);
        }
        atomic_store(&cancel_signo, sig);
        vc_warn("interrupted: finishing the files being written, then stopping "
                "(press Ctrl-C again to quit at once)");
        run_callback();
    }
    return NULL;
}

void vc_cancel_install(void (*on_cancel)(void *opaque), void *opaque)
{
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sem_init(&sig_sem, 0, 0);
    struct sigaction sa = { 0 };
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    vc_cancel_set_callback(on_cancel, opaque);
    pthread_t t;
    if (pthread_create(&t, NULL, watcher, &set) == 0)
        pthread_detach(t);
}

void vc_cancel_set_callback(void (*on_cancel)(void *opaque), void *opaque)
{
    pthread_mutex_lock(&cb_lock);
    cancel_cb = on_cancel;
    cancel_opaque = opaque;
    pthread_mutex_unlock(&cb_lock);
}

bool vc_cancelled(void) { return atomic_load(&cancelled); }

void vc_cancel_request(void)
{
    if (!atomic_exchange(&cancelled, true))
        run_callback();
}

int vc_cancel_signal(void) { return atomic_load(&cancel_signo); }
