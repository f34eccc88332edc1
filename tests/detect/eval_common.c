#include "eval_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "util/common.h"

static void add(eval_events *e, const vc_shot_event *ev)
{
    if (e->n && ev->first <= e->ev[e->n - 1].last)
        e->ordered = 0;
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 32;
        e->ev = vc_xrealloc(e->ev, e->cap * sizeof *e->ev);
    }
    e->ev[e->n++] = *ev;
}

void eval_events_free(eval_events *e)
{
    free(e->ev);
    memset(e, 0, sizeof *e);
}

static void drain(vc_detector *d, eval_events *out)
{
    vc_shot_event ev;
    while (vc_detector_next_event(d, &ev))
        add(out, &ev);
}

static int detect_frame(vc_detector *d, const AVFrame *f, eval_events *out)
{
    double t0 = vc_now();
    int r = vc_detector_push(d, f);
    drain(d, out);
    int64_t lag = out->frames - vc_detector_final_before(d);
    if (lag > out->max_lag)
        out->max_lag = (int)lag;
    out->frames++;
    out->detect_secs += vc_now() - t0;
    return r;
}

int eval_run(const char *path, const vc_detect_params *p, int threads, eval_events *out,
             vc_frame_stats_fn stats_fn, void *opaque, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->ordered = 1;
    double t_start = vc_now();
    AVFormatContext *fc = NULL;
    AVCodecContext *cc = NULL;
    AVFrame *fr = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    vc_detector *d = NULL;
    int rc = -1, r;
    if ((r = avformat_open_input(&fc, path, NULL, NULL)) < 0 || (r = avformat_find_stream_info(fc, NULL)) < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, av_err2str(r));
        goto done;
    }
    const AVCodec *codec = NULL;
    int si = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (si < 0) {
        snprintf(err, errlen, "%s: no video stream", path);
        goto done;
    }
    cc = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(cc, fc->streams[si]->codecpar);
    cc->thread_count = threads;
    if ((r = avcodec_open2(cc, codec, NULL)) < 0) {
        snprintf(err, errlen, "%s: cannot open decoder: %s", path, av_err2str(r));
        goto done;
    }
    AVRational fr_rate = av_guess_frame_rate(fc, fc->streams[si], NULL);
    double fps = fr_rate.num > 0 && fr_rate.den > 0 ? av_q2d(fr_rate) : 25.0;
    d = vc_detector_new(p, fps, cc->width, cc->height, cc->pix_fmt, err, errlen);
    if (!d)
        goto done;
    if (stats_fn)
        vc_detector_set_stats_callback(d, stats_fn, opaque);
    bool eof = false;
    while (!eof) {
        r = av_read_frame(fc, pkt);
        if (r < 0) {
            eof = true;
            avcodec_send_packet(cc, NULL);
        } else if (pkt->stream_index == si) {
            avcodec_send_packet(cc, pkt);   /* damaged packets are skipped, as the pipeline does */
            av_packet_unref(pkt);
        } else {
            av_packet_unref(pkt);
            continue;
        }
        while (avcodec_receive_frame(cc, fr) >= 0) {
            int pr = detect_frame(d, fr, out);
            av_frame_unref(fr);
            if (pr < 0) {
                snprintf(err, errlen, "%s: detector failed: %s", path, av_err2str(pr));
                goto done;
            }
        }
    }
    double t0 = vc_now();
    vc_detector_finish(d);
    drain(d, out);
    out->detect_secs += vc_now() - t0;
    rc = 0;
done:
    out->total_secs = vc_now() - t_start;
    vc_detector_free(d);
    avcodec_free_context(&cc);
    avformat_close_input(&fc);
    av_frame_free(&fr);
    av_packet_free(&pkt);
    return rc;
}

int gt_load(const char *json_path, gt_range **out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_load_file(json_path, 0, &je);
    if (!root) {
        snprintf(err, errlen, "%s: %s", json_path, je.text);
        return -1;
    }
    json_t *tr = json_object_get(root, "transitions");
    if (!json_is_array(tr)) {
        snprintf(err, errlen, "%s: no \"transitions\" array", json_path);
        json_decref(root);
        return -1;
    }
    size_t n = json_array_size(tr);
    gt_range *g = vc_xcalloc(n ? n : 1, sizeof *g);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(tr, i);
        g[i].first = json_integer_value(json_object_get(o, "first"));
        g[i].last = json_integer_value(json_object_get(o, "last"));
        const char *t = json_string_value(json_object_get(o, "type"));
        snprintf(g[i].type, sizeof g[i].type, "%s", t ? t : "?");
    }
    json_decref(root);
    *out = g;
    return (int)n;
}

eval_score eval_match(const gt_range *gt, int ngt, const vc_shot_event *ev, size_t nev, int tol)
{
    eval_score s = { 0 };
    char *used = vc_xcalloc((size_t)ngt + 1, 1);
    for (size_t i = 0; i < nev; i++) {
        bool hit = false;
        for (int j = 0; j < ngt && !hit; j++) {
            if (used[j])
                continue;
            if (ev[i].first <= gt[j].last + tol && ev[i].last >= gt[j].first - tol) {
                used[j] = 1;
                hit = true;
            }
        }
        if (hit)
            s.tp++;
        else
            s.fp++;
    }
    s.fn = ngt - s.tp;
    free(used);
    s.precision = s.tp + s.fp ? (double)s.tp / (s.tp + s.fp) : 1.0;
    s.recall = ngt ? (double)s.tp / ngt : 1.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    return s;
}
