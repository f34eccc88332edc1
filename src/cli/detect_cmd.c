/* `vcurate detect VIDEO`: the shots of one video as JSON, like
 * `scenedetect list-scenes`, from the same detectors and rules as split. */
#include "cli/commands.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "dataset/pyjson.h"
#include "detect/detector.h"
#include "split/segmenter.h"
#include "storage/fs.h"
#include "util/common.h"
#include "pipeline/cancel.h"
#include "util/log.h"
#include "video/decode.h"
#include "video/probe.h"

typedef struct event_list {
    vc_shot_event *ev;
    int n, cap;
} event_list;

static void add_event(event_list *l, const vc_shot_event *e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->ev = vc_xrealloc(l->ev, (size_t)l->cap * sizeof(*l->ev));
    }
    l->ev[l->n++] = *e;
}

static json_t *span_json(int64_t s, int64_t e, double fps)
{
    json_t *o = json_object();
    json_object_set_new(o, "start_frame", json_integer(s));
    json_object_set_new(o, "end_frame", json_integer(e));
    json_object_set_new(o, "start_s", vc_pyjson_real((double)s / fps));
    json_object_set_new(o, "end_s", vc_pyjson_real((double)e / fps));
    return o;
}

static json_t *report(const char *video, const vc_split_config *cfg, double fps, int64_t n,
                      const event_list *l, double seconds)
{
    json_t *root = json_object();
    json_object_set_new(root, "video", json_string(video));
    json_object_set_new(root, "algorithm", json_string(vc_split_algo_name(cfg->algo)));
    json_object_set_new(root, "fps", vc_pyjson_real(fps));
    json_object_set_new(root, "num_frames", json_integer(n));
    json_t *tr = json_array(), *scenes = json_array(), *clips = json_array();
    int64_t start = 0;
    for (int i = 0; i < l->n; i++) {
        const vc_shot_event *e = &l->ev[i];
        json_t *t = json_object();
        json_object_set_new(t, "type", json_string(e->kind == VC_SHOT_CUT ? "cut" : "gradual"));
        json_object_set_new(t, "first_frame", json_integer(e->first));
        json_object_set_new(t, "last_frame", json_integer(e->last));
        json_object_set_new(t, "time_s", vc_pyjson_real((double)e->first / fps));
        json_object_set_new(t, "score", vc_pyjson_real(e->score));
        json_array_append_new(tr, t);
        if (e->first > start)
            json_array_append_new(scenes, span_json(start, e->first, fps));
        start = e->kind == VC_SHOT_CUT ? e->first : e->last + 1;
    }
    if (n > start)
        json_array_append_new(scenes, span_json(start, n, fps));
    vc_clip_rules rules;
    vc_clip_rules_for(cfg, fps, &rules);
    int max = (int)(n / VC_MAX(1, rules.min_len) + l->n + 2);
    int64_t(*cl)[2] = vc_xcalloc((size_t)max, sizeof(*cl));
    int nc = vc_segment_offline(&rules, l->ev, l->n, n, cl, max);
    for (int i = 0; i < nc; i++)
        json_array_append_new(clips, span_json(cl[i][0], cl[i][1], fps));
    free(cl);
    json_object_set_new(root, "transitions", tr);
    json_object_set_new(root, "scenes", scenes);
    json_object_set_new(root, "clips", clips);
    json_object_set_new(root, "seconds", vc_pyjson_real(seconds));
    json_object_set_new(root, "frames_per_second", vc_pyjson_real(seconds > 0 ? (double)n / seconds : 0));
    return root;
}

/* `--predictions`: TransNetV2's own predictions.txt format. */
static void write_pred(void *opaque, int64_t frame, float single, float many)
{
    (void)frame;
    vc_buf *b = opaque;
    char line[64];
    int len = snprintf(line, sizeof line, "%.6f %.6f\n", (double)single, (double)many);
    vc_buf_append(b, line, (size_t)len);
}

static int detect_video(const char *video, vc_split_config *cfg);

int vc_cmd_detect(int argc, char **argv)
{
    vc_split_config cfg;
    const char *video = NULL;
    int rc = vc_parse_split_options(argc, argv, true, &cfg, &video);
    if (rc)
        return rc == VC_OPTS_EXIT_OK ? 0 : 2;
    rc = detect_video(video, &cfg);
    vc_split_free_models(&cfg);
    return rc;
}

static int detect_video(const char *video, vc_split_config *cfgp)
{
    const vc_split_config cfg = *cfgp;
    int rc;
    if (cfg.verbose)
        vc_log_set_level(VC_LOG_DEBUG);
    char err[512];
    vc_video_info info;
    if (vc_probe_video(video, &info, err, sizeof err) < 0) {
        vc_error("%s: %s", video, err);
        return 1;
    }
    double t0 = vc_now();
    vc_decoder *dec = vc_decoder_open(video, cfg.decode_threads, err, sizeof err);
    if (!dec) {
        vc_error("%s: %s", video, err);
        return 1;
    }
    const AVCodecContext *dc = vc_decoder_codec(dec);
    vc_detect_params dp;
    vc_split_detect_params(&cfg, &dp);
    vc_detector *det = vc_detector_new(&dp, info.fps, dc->width, dc->height, dc->pix_fmt, err, sizeof err);
    if (!det) {
        vc_error("%s: %s", video, err);
        vc_decoder_free(dec);
        return 1;
    }
    vc_buf preds = { 0 };
    if (vc_detect_predictions_path)
        vc_detector_set_pred_callback(det, write_pred, &preds);
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    event_list l = { 0 };
    int status = 0;
    vc_shot_event ev;
    int64_t n = 0;
    while (!vc_cancelled()) {
        int r = vc_decoder_next(dec, frame, pkt);
        if (r == VC_DEC_EOF)
            break;
        if (r < 0) {
            char eb[128];
            vc_error("%s: read error at frame %lld: %s", video, (long long)n, vc_av_err(r, eb));
            status = 1;
            break;
        }
        if (r == VC_DEC_AUDIO) {
            av_packet_unref(pkt);
            continue;
        }
        int pr = vc_detector_push(det, frame);
        av_frame_unref(frame);
        if (pr < 0) {
            vc_error("%s: shot detector failed at frame %lld: %s", video, (long long)n, vc_detector_error(det));
            status = 1;
            break;
        }
        n++;
        while (vc_detector_next_event(det, &ev))
            add_event(&l, &ev);
    }
    if (!status && vc_cancelled()) {
        vc_error("%s: interrupted at frame %lld; nothing written", video, (long long)n);
        status = 130;
    }
    if (!status && vc_detector_finish(det) < 0) {
        vc_error("%s: shot detector failed: %s", video, vc_detector_error(det));
        status = 1;
    }
    while (vc_detector_next_event(det, &ev))
        add_event(&l, &ev);
    double secs = vc_now() - t0;
    if (status) {
    } else if (n == 0) {
        vc_error("%s: no decodable video frames", video);
        status = 1;
    } else {
        json_t *out = report(video, &cfg, info.fps, n, &l, secs);
        char *s = vc_pyjson_dumps(out, 2);
        puts(s);
        free(s);
        json_decref(out);
        if (vc_detect_predictions_path &&
            (rc = vc_fs_write_atomic(vc_detect_predictions_path, preds.data, preds.len)) < 0) {
            vc_error("%s: cannot write predictions: %s", vc_detect_predictions_path, strerror(-rc));
            status = 1;
        }
    }
    vc_buf_free(&preds);
    free(l.ev);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    vc_detector_free(det);
    vc_decoder_free(dec);
    return status;
}
