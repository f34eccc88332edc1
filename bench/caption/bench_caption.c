/* Captioning client throughput: windows/s against a server that answers at
 * once (instant_server.py), with and without frame preparation.
 *
 *   bench_caption FRAMES.yuv W H FPS MODE SECONDS URL [CONCURRENCY] [PREP_THREADS]
 *
 * FRAMES.yuv: raw yuv420p frames (decoded real footage), cycled.
 * MODE client: one clip's windows prepared once, sent again and again
 *      (JSON body building, HTTP, reply parsing).
 * MODE full: every window also prepared from scratch as in split: each of
 *      its 256 decoded frames proxied (bicubic), the sampled ones converted,
 *      JPEG- and base64-encoded, by PREP_THREADS threads (split's encoder
 *      threads), then sent.
 * MODE sampled: as full, but only the sampled frames are scaled (what the
 *      preparation costs when a clip's length is known in advance).
 * Prints windows/s (wall) and CPU seconds (user+sys) of this process.
 * MODE stages: one thread, no server: CPU ms per frame of the proxy resize
 *      (vc_cap_framer_add), of libswscale's bicubic to the same size (what
 *      the framer used before), and of JPEG + base64 per sampled frame
 *      (vc_cap_framer_finish), frames cycled so sources come from memory.
 * MODE dump: no server; the JPEGs split would send for the first window of
 *      a clip of these frames, written to URL (a folder) as FRAME.jpg
 *      (jpeg_fidelity.sh compares them with Cosmos's pixels).
 * Environment: QUALITY, the JPEG quality (default 90, split's default). */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libavutil/frame.h>
#include <libswscale/swscale.h>

#include "caption/client.h"
#include "caption/config.h"
#include "caption/framer.h"
#include "caption/request.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec * 1e-6 + (double)r.ru_stime.tv_sec + r.ru_stime.tv_usec * 1e-6;
}

static double thread_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static AVFrame **frames;
static int nframes, W, H;
static double FPS, SECONDS;
static const char *MODE;
static int QUALITY = 90;
static vc_caption_config cc;
static vc_cap_client *client;
static atomic_long sent, done, inflight;
static atomic_bool stop;
static int max_inflight;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

/* A prepared clip, freed when the last request borrowing its frames is done
 * (request bodies borrow the base64, caption/body.h). */
typedef struct shared_clip {
    vc_cap_clip_frames c;
    atomic_int refs;
} shared_clip;

static void clip_unref(shared_clip *sc)
{
    if (sc && atomic_fetch_sub(&sc->refs, 1) == 1) {
        vc_cap_clip_frames_free(&sc->c);
        free(sc);
    }
}

static void on_done(void *opaque, vc_cap_reply *r)
{
    clip_unref(opaque);
    if (r->status != VC_CAP_SUCCESS)
        fprintf(stderr, "reply: %s\n", r->error ? r->error : "?");
    vc_cap_reply_free(r);
    atomic_fetch_add(&done, 1);
    pthread_mutex_lock(&mu);
    atomic_fetch_sub(&inflight, 1);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void send_window(const vc_cap_window_frames *w, shared_clip *owner)
{
    pthread_mutex_lock(&mu);
    while (atomic_load(&inflight) >= max_inflight)
        pthread_cond_wait(&cv, &mu);
    atomic_fetch_add(&inflight, 1);
    pthread_mutex_unlock(&mu);
    if (owner)
        atomic_fetch_add(&owner->refs, 1);
    vc_cap_client_submit(client, cc.url, vc_cap_vlm_body(&cc, w, vc_cap_caption_prompt(&cc)), on_done, owner);
    atomic_fetch_add(&sent, 1);
}

static void prepare(vc_cap_clip_frames *out, bool all, unsigned *seed, vc_cap_pool *pool)
{
    vc_cap_frames_cfg fc = { .window_size = 256, .remainder = 128, .sampling_fps = 2.0, .video_fps = FPS,
                             .jpeg_quality = QUALITY };
    vc_cap_framer *f = vc_cap_framer_new(&fc, W, H, pool);
    int off = (int)(rand_r(seed) % (unsigned)nframes);
    vc_cap_clip_frames plan;
    vc_cap_plan(&fc, W, H, 256, &plan);
    int k = 0;
    for (int i = 0; i < 256; i++) {
        bool need = all;
        if (!need) {
            while (k < plan.w[0].nframes && plan.w[0].indices[k] < i)
                k++;
            need = k < plan.w[0].nframes && plan.w[0].indices[k] == i;
        }
        if (need)
            vc_cap_framer_add(f, frames[(off + i) % nframes], i);
    }
    vc_cap_clip_frames_free(&plan);
    char err[128];
    if (vc_cap_framer_finish(f, 256, out, err, sizeof err) < 0) {
        fprintf(stderr, "prepare: %s\n", err);
        exit(1);
    }
    vc_cap_framer_free(f);
}

static void *prep_main(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    bool all = !strcmp(MODE, "full");
    vc_cap_pool *pool = vc_cap_pool_new();   /* as each of split's encoder threads has */
    while (!atomic_load(&stop)) {
        shared_clip *sc = calloc(1, sizeof(*sc));
        atomic_init(&sc->refs, 1);
        prepare(&sc->c, all, &seed, pool);
        for (int i = 0; i < sc->c.nwindows; i++)
            send_window(&sc->c.w[i], sc);
        clip_unref(sc);
    }
    vc_cap_pool_free(pool);
    return NULL;
}

static void stages(void)
{
    vc_cap_frames_cfg fc = { .window_size = 256, .remainder = 128, .sampling_fps = 2.0, .video_fps = FPS,
                             .jpeg_quality = QUALITY };
    double t_add = 0, t_fin = 0, t_sws = 0;
    long n_add = 0, n_fin = 0, n_sws = 0;
    int pw = 0, ph = 0;
    vc_cap_pool *pool = vc_cap_pool_new();
    for (int rep = 0; rep < 4; rep++) {
        vc_cap_framer *f = vc_cap_framer_new(&fc, W, H, pool);
        double t0 = thread_cpu();
        for (int i = 0; i < 256; i++)
            vc_cap_framer_add(f, frames[(rep * 256 + i) % nframes], i);
        t_add += thread_cpu() - t0;
        n_add += 256;
        vc_cap_clip_frames c;
        char err[128];
        t0 = thread_cpu();
        if (vc_cap_framer_finish(f, 256, &c, err, sizeof err) < 0) {
            fprintf(stderr, "stages: %s\n", err);
            exit(1);
        }
        t_fin += thread_cpu() - t0;
        n_fin += c.w[0].nframes;
        pw = c.w[0].width;
        ph = c.w[0].height;
        vc_cap_clip_frames_free(&c);
        vc_cap_framer_free(f);
    }
    static const double param[2] = { 0.0, 0.5 };
    struct SwsContext *sws =
        sws_getContext(W, H, AV_PIX_FMT_YUV420P, pw, ph, AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, param);
    AVFrame *d = av_frame_alloc();
    d->format = AV_PIX_FMT_YUV420P;
    d->width = pw;
    d->height = ph;
    av_frame_get_buffer(d, 0);
    double t0 = thread_cpu();
    for (int i = 0; i < 256; i++, n_sws++)
        sws_scale(sws, (const uint8_t *const *)frames[i % nframes]->data, frames[i % nframes]->linesize, 0, H, d->data,
                  d->linesize);
    t_sws = thread_cpu() - t0;
    printf("stages %dx%d -> %dx%d: proxy resize %.3f ms/frame (libswscale bicubic %.3f); JPEG q%d + base64 %.3f "
           "ms/sampled frame\n", W, H, pw, ph, t_add / (double)n_add * 1e3, t_sws / (double)n_sws * 1e3, QUALITY,
           t_fin / (double)n_fin * 1e3);
    av_frame_free(&d);
    sws_freeContext(sws);
    vc_cap_pool_free(pool);
}

/* The first window's JPEGs, as split sends them, into dir/FRAME.jpg. */
static void dump(const char *dir)
{
    vc_cap_frames_cfg fc = { .window_size = 256, .remainder = 128, .sampling_fps = 2.0, .video_fps = FPS,
                             .jpeg_quality = QUALITY };
    vc_cap_framer *f = vc_cap_framer_new(&fc, W, H, NULL);
    for (int i = 0; i < nframes; i++)
        vc_cap_framer_add(f, frames[i], i);
    vc_cap_clip_frames c;
    char err[128];
    if (vc_cap_framer_finish(f, nframes, &c, err, sizeof err) < 0) {
        fprintf(stderr, "dump: %s\n", err);
        exit(1);
    }
    for (int k = 0; k < c.w[0].nframes; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%lld.jpg", dir, (long long)c.w[0].indices[k]);
        FILE *o = fopen(path, "wb");
        /* undo the base64: 4 characters -> 3 bytes */
        const char *s = c.w[0].b64[k];
        for (size_t i = 0; i + 3 < c.w[0].b64_len[k]; i += 4) {
            uint32_t v = 0;
            int pad = 0;
            for (int j = 0; j < 4; j++) {
                const char *T = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                char ch = s[i + (size_t)j];
                pad += ch == '=';
                v = v << 6 | (ch == '=' ? 0 : (uint32_t)(strchr(T, ch) - T));
            }
            uint8_t b[3] = { (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
            fwrite(b, 1, (size_t)(3 - pad), o);
        }
        fclose(o);
    }
    printf("dump: %d frames of %dx%d at quality %d\n", c.w[0].nframes, c.w[0].width, c.w[0].height, QUALITY);
    vc_cap_clip_frames_free(&c);
    vc_cap_framer_free(f);
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: bench_caption FRAMES.yuv W H FPS client|full|sampled|stages|dump SECONDS URL|DIR [CONC] [THREADS]\n");
        return 2;
    }
    /* the allocator settings split runs with (src/split/split.c, bound_heap) */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    W = atoi(argv[2]);
    H = atoi(argv[3]);
    FPS = atof(argv[4]);
    MODE = argv[5];
    if (getenv("QUALITY"))
        QUALITY = atoi(getenv("QUALITY"));
    SECONDS = atof(argv[6]);
    int conc = argc > 8 ? atoi(argv[8]) : 32;
    int threads = argc > 9 ? atoi(argv[9]) : 2;
    max_inflight = conc * 2;
    FILE *in = fopen(argv[1], "rb");
    if (!in)
        return 1;
    size_t fsz = (size_t)W * H * 3 / 2;
    uint8_t *buf = malloc(fsz);
    while (fread(buf, 1, fsz, in) == fsz) {
        AVFrame *f = av_frame_alloc();
        f->format = AV_PIX_FMT_YUV420P;
        f->width = W;
        f->height = H;
        av_frame_get_buffer(f, 0);
        for (int y = 0; y < H; y++)
            memcpy(f->data[0] + (size_t)y * f->linesize[0], buf + (size_t)y * W, (size_t)W);
        for (int p = 1; p < 3; p++)
            for (int y = 0; y < H / 2; y++)
                memcpy(f->data[p] + (size_t)y * f->linesize[p],
                       buf + (size_t)W * H + (size_t)(p - 1) * (W / 2) * (H / 2) + (size_t)y * (W / 2), (size_t)W / 2);
        frames = realloc(frames, (size_t)(nframes + 1) * sizeof(*frames));
        frames[nframes++] = f;
    }
    fclose(in);
    free(buf);
    if (!strcmp(MODE, "dump") || !strcmp(MODE, "stages")) {
        if (!strcmp(MODE, "dump"))
            dump(argv[7]);
        else
            stages();
        for (int i = 0; i < nframes; i++)
            av_frame_free(&frames[i]);
        free(frames);
        return 0;
    }
    vc_caption_config_default(&cc);
    cc.endpoint = argv[7];
    cc.url = vc_cap_chat_url(argv[7]);
    cc.max_concurrent = conc;
    vc_cap_client_cfg ccfg = { .url = cc.url, .max_concurrent = conc, .timeout_s = 60, .connect_timeout_s = 5,
                               .max_retries = 3, .backoff_s = 0.1, .backoff_max_s = 1 };
    client = vc_cap_client_new(&ccfg);
    double t0 = now(), c0 = cpu();
    long bytes = 0;
    if (!strcmp(MODE, "client")) {
        unsigned seed = 1;
        vc_cap_clip_frames c;
        prepare(&c, false, &seed, NULL);
        for (int k = 0; k < c.w[0].nframes; k++)
            bytes += (long)c.w[0].b64_len[k];
        t0 = now();
        c0 = cpu();
        while (now() - t0 < SECONDS)
            send_window(&c.w[0], NULL);
        while (atomic_load(&done) < atomic_load(&sent)) {   /* the bodies borrow c */
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
        vc_cap_clip_frames_free(&c);
    } else {
        pthread_t th[64];
        for (int i = 0; i < threads; i++)
            pthread_create(&th[i], NULL, prep_main, (void *)(uintptr_t)(i + 1));
        while (now() - t0 < SECONDS) {
            struct timespec ts = { 0, 100000000 };
            nanosleep(&ts, NULL);
        }
        atomic_store(&stop, true);
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
    }
    while (atomic_load(&done) < atomic_load(&sent)) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    double dt = now() - t0, dc = cpu() - c0;
    printf("%s %dx%d@%g: %ld windows in %.2f s = %.1f windows/s; %.2f CPU-s = %.1f windows per CPU-s%s\n", MODE, W, H,
           FPS, (long)atomic_load(&done), dt, (double)atomic_load(&done) / dt, dc, (double)atomic_load(&done) / dc,
           bytes ? "" : "");
    if (bytes)
        printf("  request frames: %.0f KB of base64 per window\n", (double)bytes / 1024);
    vc_cap_client_free(client);
    vc_caption_config_free(&cc);
    for (int i = 0; i < nframes; i++)
        av_frame_free(&frames[i]);
    free(frames);
    return 0;
}
