#include "split/segmenter.h"

#include <stdlib.h>

#include "util/common.h"

struct vc_segmenter {
    vc_clip_rules r;
    vc_shot_event *ev;       /* pending events (ring is overkill: few at a time) */
    int nev, cap;
    int64_t scene_start;     /* first frame of the current scene, -1 inside a transition */
    int64_t resume_at;       /* inside a transition: the frame the next scene starts at */
    int64_t end;             /* total frames once known, else INT64_MAX */
};

vc_segmenter *vc_segmenter_new(const vc_clip_rules *rules)
{
    vc_segmenter *s = vc_xcalloc(1, sizeof(*s));
    s->r = *rules;
    if (s->r.max_len <= 0)
        s->r.max_len = INT64_MAX / 4;
    s->end = INT64_MAX;
    return s;
}

void vc_segmenter_free(vc_segmenter *s)
{
    if (!s)
        return;
    free(s->ev);
    free(s);
}

void vc_segmenter_push(vc_segmenter *s, const vc_shot_event *ev)
{
    if (s->nev == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->ev = vc_xrealloc(s->ev, (size_t)s->cap * sizeof(*s->ev));
    }
    s->ev[s->nev++] = *ev;
}

void vc_segmenter_end(vc_segmenter *s, int64_t num_frames) { s->end = num_frames; }
int64_t vc_segmenter_lookahead(const vc_segmenter *s) { return s->r.crop; }
bool vc_segmenter_keep(const vc_segmenter *s, int64_t n) { return n > 0 && n >= s->r.min_len; }

static void pop_event(vc_segmenter *s)
{
    for (int i = 1; i < s->nev; i++)
        s->ev[i - 1] = s->ev[i];
    s->nev--;
}

/* Apply every boundary at or before frame f. */
static void advance(vc_segmenter *s, int64_t f)
{
    for (;;) {
        if (s->scene_start < 0 && f >= s->resume_at)
            s->scene_start = s->resume_at;
        if (s->nev == 0 || s->ev[0].first > f)
            return;
        const vc_shot_event *e = &s->ev[0];
        if (e->kind == VC_SHOT_CUT) {
            s->scene_start = e->first;
        } else {
            s->scene_start = -1;
            s->resume_at = e->last + 1;
        }
        pop_event(s);
    }
}

/* Where the current scene ends (exclusive), as far as known. */
static int64_t scene_end(const vc_segmenter *s)
{
    return s->nev > 0 ? s->ev[0].first : s->end;
}

bool vc_segmenter_place(vc_segmenter *s, int64_t f, int64_t *piece)
{
    advance(s, f);
    if (s->scene_start < 0 || f >= s->end)
        return false;
    int64_t k = (f - s->scene_start) / s->r.max_len;
    if (s->r.truncate && k > 0)
        return false;
    int64_t ps = s->scene_start + k * s->r.max_len;
    int64_t pe = VC_MIN(ps + s->r.max_len, scene_end(s));
    if (f < ps + s->r.crop || f >= pe - s->r.crop)
        return false;
    *piece = ps;
    return true;
}

int vc_segment_offline(const vc_clip_rules *rules, const vc_shot_event *ev, int nev,
                       int64_t n, int64_t (*clips)[2], int max)
{
    vc_segmenter *s = vc_segmenter_new(rules);
    for (int i = 0; i < nev; i++)
        vc_segmenter_push(s, &ev[i]);
    vc_segmenter_end(s, n);
    int count = 0;
    int64_t cur = -1, start = 0, piece = 0;
    for (int64_t f = 0; f <= n; f++) {
        bool in = f < n && vc_segmenter_place(s, f, &piece);
        if (cur >= 0 && (!in || piece != cur)) {
            if (vc_segmenter_keep(s, f - start) && count < max) {
                clips[count][0] = start;
                clips[count][1] = f;
                count++;
            }
            cur = -1;
        }
        if (in && cur < 0) {
            cur = piece;
            start = f;
        }
    }
    vc_segmenter_free(s);
    return count;
}
