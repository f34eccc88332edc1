#include "split/run.h"

#include <stdarg.h>
#include <stdlib.h>

#include "caption/framer.h"
#include "util/common.h"

vc_split_video *vc_split_video_new(const char *path, const char *relpath)
{
    vc_split_video *sv = vc_xcalloc(1, sizeof(*sv));
    sv->v.path = vc_xstrdup(path);
    sv->v.relpath = vc_xstrdup(relpath);
    vc_uuid5_url(path, sv->v.uuid);
    pthread_mutex_init(&sv->lock, NULL);
    return sv;
}

void vc_split_video_ref(vc_split_video *sv)
{
    atomic_fetch_add(&sv->refs, 1);
}

static void video_release(vc_split_video *sv)
{
    if (atomic_fetch_sub(&sv->refs, 1) != 1)
        return;
    free(sv->v.path);
    free(sv->v.relpath);
    free(sv->error_stage);
    free(sv->error);
    for (int64_t i = 0; i < sv->nnotes; i++) {
        json_decref(sv->notes[i].captions);
        json_decref(sv->notes[i].enhanced);
        free(sv->notes[i].cap_error);
    }
    free(sv->notes);
    pthread_mutex_destroy(&sv->lock);
    free(sv);
}

void vc_split_video_fail(vc_split_video *sv, const char *stage, const char *fmt, ...)
{
    pthread_mutex_lock(&sv->lock);
    if (!sv->error) {
        va_list ap;
        va_start(ap, fmt);
        sv->error = vc_vasprintf(fmt, ap);
        va_end(ap);
        sv->error_stage = vc_xstrdup(stage);
    }
    pthread_mutex_unlock(&sv->lock);
}

vc_split_item *vc_split_item_new(vc_item_kind kind, vc_split_video *sv)
{
    vc_split_item *it = vc_xcalloc(1, sizeof(*it));
    it->kind = kind;
    it->video = sv;
    atomic_fetch_add(&sv->refs, 1);
    return it;
}

void vc_split_item_free(vc_split_item *it)
{
    if (!it)
        return;
    free(it->clip.mp4);
    free(it->clip.error);
    for (int i = 0; i < it->npreviews; i++)
        free(it->previews[i]);
    free(it->previews);
    free(it->preview_lens);
    free(it->preview_windows);
    if (it->cap_frames) {
        vc_cap_clip_frames_free(it->cap_frames);
        free(it->cap_frames);
    }
    vc_cap_results_free(it->cap, it->ncap);
    video_release(it->video);
    free(it);
}

void vc_split_item_drop(void *p)
{
    vc_split_item_free(p);
}

void vc_cap_results_free(vc_cap_window_result *r, int n)
{
    for (int i = 0; r && i < n; i++) {
        free(r[i].caption);
        free(r[i].enhanced);
        free(r[i].error);
        free(r[i].t5);
    }
    free(r);
}

void vc_split_video_unref(vc_split_video *sv)
{
    video_release(sv);
}
