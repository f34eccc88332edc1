/* Gradual transitions (dissolves, fades to/from black or white) as frame ranges.
 *
 * Model: during a dissolve from shot A to shot B every frame is a linear blend
 * F_m = (1 - a_m) A + a_m B with a_m rising steadily; a fade is the special
 * case where A or B is a flat (black/white) frame. On tiny images (the small
 * frame averaged 4x4, e.g. 64x36 BGR) at each new frame t we test windows that
 * end at t: for every length L in [min_len, max_len], with a = t - L - 1 the
 * last frame before and t the first frame after the candidate blend, we ask:
 *  1. endpoint difference D = mean|T_t - T_a| >= min_diff (a real change of
 *     picture, not noise or a small motion);
 *  2. monotone path: sum of frame-to-frame diffs over the window
 *     <= max_path_ratio * D. A blend moves every pixel monotonically from A to
 *     B, so the path is as long as the endpoint distance; camera motion, noise
 *     and flicker go back and forth and make it much longer;
 *  3. no jump: no single frame-to-frame diff exceeds D/2 (that is a hard cut,
 *     left to the cut detector);
 *  4. blend: each inner frame, projected on T_t - T_a, gives alpha_m and a
 *     residual; the residual energy must be <= max_residual of |T_t - T_a|^2
 *     and alpha_m must follow the linear ramp (m - a)/(L + 1) within
 *     max_alpha_dev. Motion does not produce frames that lie on the line
 *     between two other frames with a steady ramp; a blend does.
 * Passing windows' inner frames are unioned into one range (windows that
 * overlap or lie within join_gap frames, so a fade out, a held black and a
 * fade in make one range), which also covers dissolves longer than max_len as
 * chains of windows; a range is final once no later window can touch it.
 * Checks 1-3 are cheap (a prefix sum and one SAD); check 4 runs only on the
 * few windows that pass them. Bounds (D <= path by the triangle inequality)
 * prune most windows before the SAD.
 * Tuned on the ground-truth video (scripts/make-groundtruth.py) and checked
 * for silence on handheld, zoom, pan and crowd footage among the samples. */
#include "detect/gradual.h"

#include <stdlib.h>
#include <string.h>

#include "util/common.h"

typedef struct range { int64_t first, last; double score; } range;

struct vc_gradual {
    vc_gradual_params p;
    size_t n;            /* bytes per tiny image */
    int ring;            /* frames kept: max_len + 2 */
    uint8_t *tiny;       /* ring * n */
    int64_t *path;       /* prefix sums of frame-to-frame SAD, per ring slot */
    int64_t *step;       /* SAD to the previous frame, per ring slot */
    int64_t t;           /* last pushed frame, -1 before the first */
    bool finished;
    bool open;           /* a range is being grown */
    range cur;
    int64_t emitted_until;   /* ranges never reach back to or before this */
    range *out;          /* finished ranges waiting to be popped */
    size_t nout, capout, headout;
};

vc_gradual *vc_gradual_new(const vc_gradual_params *p, size_t n)
{
    vc_gradual *g = vc_xcalloc(1, sizeof *g);
    g->p = *p;
    if (g->p.min_len < 1) g->p.min_len = 1;
    if (g->p.max_len < g->p.min_len) g->p.max_len = g->p.min_len;
    g->n = n ? n : 1;
    g->ring = g->p.max_len + 2;
    g->tiny = vc_xcalloc((size_t)g->ring, g->n);
    g->path = vc_xcalloc((size_t)g->ring, sizeof(int64_t));
    g->step = vc_xcalloc((size_t)g->ring, sizeof(int64_t));
    g->t = -1;
    g->emitted_until = -1;
    return g;
}

void vc_gradual_free(vc_gradual *g)
{
    if (!g)
        return;
    free(g->tiny);
    free(g->path);
    free(g->step);
    free(g->out);
    free(g);
}

static int slot(const vc_gradual *g, int64_t f) { return (int)(f % g->ring); }
static const uint8_t *img(const vc_gradual *g, int64_t f) { return g->tiny + (size_t)slot(g, f) * g->n; }

static int64_t sad(const uint8_t *a, const uint8_t *b, size_t n)
{
    int64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += abs((int)a[i] - (int)b[i]);
    return s;
}

static void emit(vc_gradual *g, range r)
{
    if (g->nout == g->capout) {
        /* compact before growing: popped entries sit at the front */
        if (g->headout) {
            memmove(g->out, g->out + g->headout, (g->nout - g->headout) * sizeof *g->out);
            g->nout -= g->headout;
            g->headout = 0;
        }
        if (g->nout == g->capout) {
            g->capout = g->capout ? 2 * g->capout : 4;
            g->out = vc_xrealloc(g->out, g->capout * sizeof *g->out);
        }
    }
    g->out[g->nout++] = r;
    g->emitted_until = r.last;
}

/* Check 4: every inner frame is a blend of T_a and T_t on a linear ramp. */
static bool is_blend(const vc_gradual *g, int64_t a, int64_t t)
{
    const uint8_t *A = img(g, a), *B = img(g, t);
    size_t n = g->n;
    int64_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        int d = (int)B[i] - (int)A[i];
        nn += d * d;
    }
    if (nn == 0)
        return false;
    double len = (double)(t - a);
    for (int64_t m = a + 1; m < t; m++) {
        const uint8_t *M = img(g, m);
        int64_t dot = 0, mm = 0;
        for (size_t i = 0; i < n; i++) {
            int x = (int)M[i] - (int)A[i], d = (int)B[i] - (int)A[i];
            dot += x * d;
            mm += x * x;
        }
        double alpha = (double)dot / (double)nn;
        double resid = ((double)mm - (double)dot * alpha) / (double)nn;
        double ramp = (double)(m - a) / len;
        double dev = alpha - ramp;
        if (resid > g->p.max_residual || dev > g->p.max_alpha_dev || dev < -g->p.max_alpha_dev)
            return false;
    }
    return true;
}

static void add_inner(vc_gradual *g, int64_t first, int64_t last, double score)
{
    if (first <= g->emitted_until)
        first = g->emitted_until + 1;
    if (first > last)
        return;
    if (g->open && first <= g->cur.last + 1 + g->p.join_gap) {
        if (first < g->cur.first) g->cur.first = first;
        if (last > g->cur.last) g->cur.last = last;
        if (score > g->cur.score) g->cur.score = score;
        return;
    }
    if (g->open)
        emit(g, g->cur);
    g->open = true;
    g->cur = (range){ first, last, score };
}

/* Tests all windows ending at frame t. */
static void scan(vc_gradual *g, int64_t t)
{
    const vc_gradual_params *p = &g->p;
    double n = (double)g->n;
    int64_t max_step = 0;
    for (int64_t f = t - p->min_len + 1; f <= t; f++)
        if (f > 0 && g->step[slot(g, f)] > max_step)
            max_step = g->step[slot(g, f)];
    for (int L = p->min_len; L <= p->max_len; L++) {
        int64_t a = t - L - 1;
        if (a < 0)
            break;
        int64_t s = g->step[slot(g, a + 1)];
        if (s > max_step)
            max_step = s;
        double path = (double)(g->path[slot(g, t)] - g->path[slot(g, a)]);
        double lb = p->min_diff * n;
        if (2.0 * (double)max_step > lb) lb = 2.0 * (double)max_step;
        if (path / p->max_path_ratio > lb) lb = path / p->max_path_ratio;
        if (lb > path)
            continue;   /* D <= path: cannot pass */
        double D = (double)sad(img(g, a), img(g, t), g->n);
        if (D < lb || !is_blend(g, a, t))
            continue;
        add_inner(g, a + 1, t - 1, D / n);
    }
}

/* Ends the open range when no later window can touch it, or when it has been
 * open so long that holding it would break the latency bound. */
static void settle(vc_gradual *g, int64_t t)
{
    if (!g->open)
        return;
    if (g->cur.last + g->p.join_gap < t - g->p.max_len ||
        g->cur.first < t - 2 * g->p.max_len - g->p.join_gap) {
        emit(g, g->cur);
        g->open = false;
    }
}

double vc_gradual_push(vc_gradual *g, int64_t t, const uint8_t *tiny)
{
    g->t = t;
    memcpy(g->tiny + (size_t)slot(g, t) * g->n, tiny, g->n);
    int64_t s = t > 0 ? sad(img(g, t - 1), tiny, g->n) : 0;
    g->step[slot(g, t)] = s;
    g->path[slot(g, t)] = (t > 0 ? g->path[slot(g, t - 1)] : 0) + s;
    if (t >= g->p.min_len + 1)
        scan(g, t);
    settle(g, t);
    return (double)s / (double)g->n;
}

void vc_gradual_finish(vc_gradual *g)
{
    if (g->open)
        emit(g, g->cur);
    g->open = false;
    g->finished = true;
}

bool vc_gradual_pop(vc_gradual *g, int64_t *first, int64_t *last, double *score)
{
    if (g->headout == g->nout)
        return false;
    range r = g->out[g->headout++];
    if (g->headout == g->nout)
        g->headout = g->nout = 0;
    *first = r.first;
    *last = r.last;
    *score = r.score;
    return true;
}

int64_t vc_gradual_final_before(const vc_gradual *g)
{
    if (g->finished)
        return INT64_MAX;
    /* later windows' inner frames start at >= t + 1 - max_len */
    int64_t fb = g->t + 1 - g->p.max_len;
    if (g->open && g->cur.first < fb)
        fb = g->cur.first;
    return fb;
}

bool vc_gradual_open_range(const vc_gradual *g, int64_t *first, int64_t *last)
{
    if (!g->open)
        return false;
    *first = g->cur.first;
    *last = g->cur.last;
    return true;
}

int vc_gradual_latency(const vc_gradual *g)
{
    return 2 * g->p.max_len + g->p.join_gap + 1;   /* see settle() */
}
