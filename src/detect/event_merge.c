/* Merge rules (why): a fade or dissolve often also trips the cut rule at its
 * start or end (hue is unstable in dark blended frames), and a cut a few
 * frames from a transition leaves a shot too short to be a clip. So, with
 * gap = merge_gap:
 *  - a cut inside or within gap frames of a transition joins it (the frames
 *    between the cut and the transition then belong to the transition);
 *  - transitions closer than gap frames (fade out, held black, fade in) join.
 * Two cuts never merge: the flash filter already spaces them. */
#include "detect/event_merge.h"

#include <stdlib.h>
#include <string.h>

#include "util/common.h"

void vc_event_merge_init(vc_event_merge *m, int gap, int latency)
{
    *m = (vc_event_merge){ .gap = gap, .latency = latency, .out_last = -1 };
}

void vc_event_merge_free(vc_event_merge *m)
{
    free(m->pend);
    free(m->ready);
    m->pend = m->ready = NULL;
}

/* Merges y into x if the rules say so (x.first <= y.first). */
static bool try_merge(vc_shot_event *x, const vc_shot_event *y, int gap)
{
    bool xt = x->kind == VC_SHOT_TRANSITION, yt = y->kind == VC_SHOT_TRANSITION;
    int64_t end;
    if (xt && yt) {
        if (y->first > x->last + 1 + gap)
            return false;
        end = y->last;
    } else if (xt) {
        if (y->first > x->last + gap)
            return false;
        end = y->first - 1;
    } else if (yt) {
        if (y->first > x->first + gap)
            return false;
        end = y->last;
        x->kind = VC_SHOT_TRANSITION;
    } else {
        return false;
    }
    if (end > x->last)
        x->last = end;
    if (y->score > x->score)
        x->score = y->score;
    return true;
}

static void coalesce(vc_event_merge *m)
{
    size_t i = 0;
    while (i + 1 < m->npend) {
        if (try_merge(&m->pend[i], &m->pend[i + 1], m->gap)) {
            memmove(&m->pend[i + 1], &m->pend[i + 2], (m->npend - i - 2) * sizeof *m->pend);
            m->npend--;
            if (i > 0)
                i--;   /* the grown event may now reach its predecessor's partner */
        } else {
            i++;
        }
    }
}

void vc_event_merge_add(vc_event_merge *m, const vc_shot_event *in)
{
    vc_shot_event ev = *in;
    if (ev.first <= m->out_last) {   /* overlaps an event already released */
        if (ev.kind == VC_SHOT_CUT)
            return;
        ev.first = m->out_last + 1;
        if (ev.first > ev.last)
            return;
    }
    if (m->npend == m->cappend) {
        m->cappend = m->cappend ? 2 * m->cappend : 8;
        m->pend = vc_xrealloc(m->pend, m->cappend * sizeof *m->pend);
    }
    size_t pos = m->npend;
    while (pos > 0 && m->pend[pos - 1].first > ev.first)
        pos--;
    memmove(&m->pend[pos + 1], &m->pend[pos], (m->npend - pos) * sizeof *m->pend);
    m->pend[pos] = ev;
    m->npend++;
    coalesce(m);
}

static void push_ready(vc_event_merge *m, const vc_shot_event *ev)
{
    if (m->nready == m->capready) {
        if (m->headready) {
            memmove(m->ready, m->ready + m->headready, (m->nready - m->headready) * sizeof *m->ready);
            m->nready -= m->headready;
            m->headready = 0;
        }
        if (m->nready == m->capready) {
            m->capready = m->capready ? 2 * m->capready : 8;
            m->ready = vc_xrealloc(m->ready, m->capready * sizeof *m->ready);
        }
    }
    m->ready[m->nready++] = *ev;
    m->out_last = ev->last;
}

void vc_event_merge_release(vc_event_merge *m, int64_t fb, int64_t t)
{
    size_t n = 0;
    for (; n < m->npend; n++) {
        const vc_shot_event *e = &m->pend[n];
        bool all = fb == INT64_MAX;
        bool settled = !all && e->last + m->gap < fb;
        bool overdue = !all && e->first < t + 1 - m->latency;
        if (!all && !settled && !overdue)
            break;
        push_ready(m, e);
    }
    if (n) {
        memmove(m->pend, m->pend + n, (m->npend - n) * sizeof *m->pend);
        m->npend -= n;
    }
}

bool vc_event_merge_next(vc_event_merge *m, vc_shot_event *ev)
{
    if (m->headready == m->nready)
        return false;
    *ev = m->ready[m->headready++];
    if (m->headready == m->nready)
        m->headready = m->nready = 0;
    return true;
}

int64_t vc_event_merge_final_before(const vc_event_merge *m, int64_t fb)
{
    int64_t r = fb == INT64_MAX ? INT64_MAX : fb - m->gap;
    if (m->npend && m->pend[0].first < r)
        r = m->pend[0].first;
    return r;
}

bool vc_event_merge_in_transition(const vc_event_merge *m, int64_t f)
{
    if (f <= m->out_last)
        return false;   /* released: the segmenter's business now */
    for (size_t i = 0; i < m->npend; i++) {
        const vc_shot_event *e = &m->pend[i];
        if (e->first > f)
            break;
        if (e->kind == VC_SHOT_TRANSITION && f <= e->last)
            return true;
    }
    return false;
}
