#include "split/preview_windows.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caption/sampling.h"
#include "util/common.h"
#include "util/log.h"
#include "video/preview.h"

#define MAX_HELD 64

typedef struct block {
    vc_preview *pv;
    uint8_t *webp;           /* finished early (the next block proved it ends here) */
    size_t len;
    bool done;
} block;

struct vc_preview_set {
    int w, h, fmt;
    int64_t ws, rem;           /* caption window size and remainder threshold */
    AVRational fps;
    block *blocks;
    int64_t nblocks;
    AVFrame *held[MAX_HELD];   /* frames of the newest block that could extend the previous window */
    int64_t held_index[MAX_HELD];
    int nheld;
};

/* Does the fps=1 sampling show window-relative frame j? (video/preview.h rule) */
static bool shown(const vc_preview_set *s, int64_t j)
{
    double step = (double)s->fps.den / s->fps.num;
    return llround((double)(j + 1) * step) > llround((double)j * step);
}

vc_preview_set *vc_preview_set_new(const AVFrame *first, const vc_video_info *info, int64_t window_size,
                                   int64_t remainder)
{
    vc_preview_set *s = vc_xcalloc(1, sizeof(*s));
    s->ws = window_size > 0 ? window_size : VC_WINDOW_SIZE;
    s->rem = remainder;
    s->w = first->width;
    s->h = first->height;
    s->fmt = first->format;
    s->fps = (AVRational){ info->fps_num, info->fps_den };
    return s;
}

static void finish_block(block *b)
{
    if (b->done || !b->pv)
        return;
    if (vc_preview_finish(b->pv, &b->webp, &b->len) < 0) {
        b->webp = NULL;
        b->len = 0;
    }
    vc_preview_free(b->pv);
    b->pv = NULL;
    b->done = true;
}

static void drop_held(vc_preview_set *s)
{
    for (int i = 0; i < s->nheld; i++)
        av_frame_free(&s->held[i]);
    s->nheld = 0;
}

void vc_preview_set_add(vc_preview_set *s, const AVFrame *frame, int64_t index)
{
    int64_t b = index / s->ws, j = index % s->ws;
    if (j == 0) {
        char err[256];
        s->blocks = vc_xrealloc(s->blocks, (size_t)(b + 1) * sizeof(*s->blocks));
        memset(&s->blocks[b], 0, sizeof(block));
        s->blocks[b].pv = vc_preview_new(s->w, s->h, s->fmt, s->fps, 240, 1.0, err, sizeof err);
        if (!s->blocks[b].pv)
            vc_warn("preview: %s", err);
        s->nblocks = b + 1;
    }
    if (s->blocks[b].pv)
        vc_preview_add(s->blocks[b].pv, frame, j);
    if (b == 0)
        return;
    if (j < s->rem) {
        /* Might still belong to the previous window (if the clip ends soon). */
        if (shown(s, s->ws + j) && s->nheld < MAX_HELD) {
            s->held[s->nheld] = av_frame_clone(frame);
            s->held_index[s->nheld++] = s->ws + j;
        }
    } else if (j == s->rem) {
        /* 128 frames in: this block is a window of its own. */
        finish_block(&s->blocks[b - 1]);
        drop_held(s);
    }
}

static void attach(vc_split_item *it, block *b, int64_t start, int64_t end)
{
    finish_block(b);
    if (!b->webp)
        return;
    int k = it->npreviews++;
    it->previews = vc_xrealloc(it->previews, (size_t)it->npreviews * sizeof(*it->previews));
    it->preview_lens = vc_xrealloc(it->preview_lens, (size_t)it->npreviews * sizeof(*it->preview_lens));
    it->preview_windows = vc_xrealloc(it->preview_windows, (size_t)it->npreviews * sizeof(*it->preview_windows));
    it->previews[k] = b->webp;
    it->preview_lens[k] = b->len;
    it->preview_windows[k][0] = start;
    it->preview_windows[k][1] = end;
    b->webp = NULL;
}

void vc_preview_set_finish(vc_preview_set *s, int64_t n, vc_split_item *it)
{
    int max = vc_cap_windows_max(n, s->ws);
    int64_t(*win)[2] = vc_xcalloc((size_t)max, sizeof(*win));
    int nw = vc_cap_windows(n, s->ws, s->rem, win);
    int64_t r = n % s->ws;
    if (n > s->ws && r > 0 && r < s->rem && s->nblocks >= 2) {
        /* The tail extends the previous window: give it the held frames. */
        block *prev = &s->blocks[s->nblocks - 2];
        for (int i = 0; i < s->nheld && prev->pv; i++) {
            /* only the frames the 1 fps sampling shows were held */
            vc_preview_skip(prev->pv, s->held_index[i]);
            vc_preview_add(prev->pv, s->held[i], s->held_index[i]);
        }
    }
    for (int i = 0; i < nw && i < s->nblocks; i++)
        attach(it, &s->blocks[i], win[i][0], win[i][1]);
    free(win);
}

void vc_preview_set_free(vc_preview_set *s)
{
    if (!s)
        return;
    drop_held(s);
    for (int64_t i = 0; i < s->nblocks; i++) {
        vc_preview_free(s->blocks[i].pv);
        free(s->blocks[i].webp);
    }
    free(s->blocks);
    free(s);
}
