#include "shard/plan.h"

#include <stdlib.h>
#include <string.h>

#include "shard/bins.h"
#include "util/common.h"

static int find_or_add_bin(vc_shard_plan *p, char *rel, size_t *cap)
{
    for (size_t i = 0; i < p->nbins; i++) {
        if (strcmp(p->bins[i].rel, rel) == 0) {
            free(rel);
            return (int)i;
        }
    }
    if (p->nbins == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        p->bins = vc_xrealloc(p->bins, *cap * sizeof(*p->bins));
    }
    p->bins[p->nbins] = (vc_shard_bin_plan){ .rel = rel };
    return (int)p->nbins++;
}

typedef struct keyed { const char *key; size_t idx; } keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Two metadata files naming the same span_uuid would put one key twice in
 * a tar (a WebDataset error); keep the first in sorted order. */
static void mark_duplicates(vc_shard_cliplist *clips)
{
    size_t n = 0;
    keyed *keys = vc_xcalloc(clips->len ? clips->len : 1, sizeof(*keys));
    for (size_t i = 0; i < clips->len; i++)
        if (!clips->items[i].left_out)
            keys[n++] = (keyed){ clips->items[i].uuid, i };
    qsort(keys, n, sizeof(*keys), cmp_keyed);
    for (size_t k = 1; k < n; k++) {
        if (strcmp(keys[k].key, keys[k - 1].key) != 0)
            continue;
        vc_shard_clip *c = &clips->items[keys[k].idx];
        c->left_out = VC_SHARD_LEFT_DUPLICATE;
        c->detail = vc_asprintf("%s repeats span_uuid %s of %s", c->metas_path, c->uuid,
                                clips->items[keys[k - 1].idx].metas_path);
    }
    free(keys);
}

static void assign_bins(vc_shard_cliplist *clips, const vc_shard_plan_opts *o, vc_shard_plan *p)
{
    size_t cap = 0;
    for (size_t i = 0; i < clips->len; i++) {
        vc_shard_clip *c = &clips->items[i];
        if (c->left_out)
            continue;
        vc_shard_bin b;
        vc_shard_nobin why = vc_shard_find_bin(c->width, c->height, c->num_frames, c->framerate,
                                               o->short_clip_bin, &b);
        if (why != VC_SHARD_BIN_OK) {
            c->left_out = vc_shard_nobin_reason(why);
            c->detail = vc_asprintf("%gx%g, %g frames at %g fps: no bin", c->width, c->height,
                                    c->num_frames, c->framerate);
            continue;
        }
        c->bin = find_or_add_bin(p, vc_shard_bin_path(&b), &cap);
    }
}

static void push_tar(vc_shard_plan *p, size_t *cap, vc_shard_tar_plan t)
{
    if (p->ntars == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        p->tars = vc_xrealloc(p->tars, *cap * sizeof(*p->tars));
    }
    p->tars[p->ntars++] = t;
}

/* _group_samples_by_size + split_by_chunk_size for one bin. */
static void group_bin(vc_shard_cliplist *clips, size_t bin, const vc_shard_plan_opts *o,
                      vc_shard_plan *p, size_t *cap)
{
    size_t first_tar = p->ntars;
    vc_shard_tar_plan cur = { .bin = bin };
    size_t cur_cap = 0;
    for (size_t i = 0; i < clips->len; i++) {
        vc_shard_clip *c = &clips->items[i];
        if (c->left_out || c->bin != (int)bin)
            continue;
        if (cur.nclips > 0 && cur.mp4_bytes + c->num_bytes > o->target_tar_bytes) {
            push_tar(p, cap, cur);
            cur = (vc_shard_tar_plan){ .bin = bin };
            cur_cap = 0;
        }
        if (cur.nclips == cur_cap) {
            cur_cap = cur_cap ? cur_cap * 2 : 16;
            cur.clips = vc_xrealloc(cur.clips, cur_cap * sizeof(*cur.clips));
        }
        cur.clips[cur.nclips++] = i;
        cur.mp4_bytes += c->num_bytes;
    }
    if (cur.nclips > 0 && o->drop_small_shards && cur.nclips < (size_t)o->min_clips_per_tar) {
        for (size_t k = 0; k < cur.nclips; k++) {
            vc_shard_clip *c = &clips->items[cur.clips[k]];
            c->left_out = VC_SHARD_LEFT_SMALL_SHARD;
            c->detail = vc_asprintf("last tar of %s has %zu clip(s) < --min-clips-per-tar %d",
                                    p->bins[bin].rel, cur.nclips, o->min_clips_per_tar);
            c->bin = -1;
        }
        free(cur.clips);
    } else if (cur.nclips > 0) {
        push_tar(p, cap, cur);
    }
    for (size_t t = first_tar; t < p->ntars; t++) {
        vc_shard_tar_plan *tp = &p->tars[t];
        size_t k = t - first_tar;
        tp->part = (int)(k / (size_t)o->max_tars_per_part);
        tp->index = (int)(k % (size_t)o->max_tars_per_part);
        tp->rel = vc_asprintf("part_%06d/%06d.tar", tp->part, tp->index);
        p->bins[bin].nclips += tp->nclips;
        for (size_t j = 0; j < tp->nclips; j++)
            p->bins[bin].file_bytes += clips->items[tp->clips[j]].file_bytes;
    }
}

void vc_shard_plan_build(vc_shard_cliplist *clips, const vc_shard_plan_opts *o,
                         vc_shard_plan *out)
{
    memset(out, 0, sizeof(*out));
    mark_duplicates(clips);
    assign_bins(clips, o, out);
    size_t cap = 0;
    for (size_t b = 0; b < out->nbins; b++)
        group_bin(clips, b, o, out, &cap);
}

void vc_shard_plan_free(vc_shard_plan *p)
{
    for (size_t i = 0; i < p->nbins; i++)
        free(p->bins[i].rel);
    for (size_t i = 0; i < p->ntars; i++) {
        free(p->tars[i].clips);
        free(p->tars[i].rel);
    }
    free(p->bins);
    free(p->tars);
    memset(p, 0, sizeof(*p));
}
