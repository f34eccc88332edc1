/* detect_eval: runs the shot detector over a video and prints the events as
 * JSON, with timing and, given a ground truth (--gt), precision/recall/F1.
 * Used by bench/accuracy/compare.sh and for debugging (--stats CSV).
 * Usage: detect_eval [--algo content|adaptive] [--no-gradual] [--threads N]
 *                    [--tol N] [--gt GT.json] [--stats FILE.csv] VIDEO */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "eval_common.h"

static void stats_row(void *opaque, const vc_frame_stats *s)
{
    fprintf((FILE *)opaque, "%lld,%.4f,%.4f,%.4f,%.4f,%.4f\n", (long long)s->frame, s->content_val,
            s->delta_hue, s->delta_sat, s->delta_lum, s->tiny_diff);
}

static int usage(void)
{
    fprintf(stderr, "usage: detect_eval [--algo content|adaptive] [--no-gradual] [--threads N] "
                    "[--tol N] [--gt GT.json] [--stats FILE.csv] VIDEO\n");
    return 2;
}

int main(int argc, char **argv)
{
    vc_detect_algo algo = VC_DETECT_CONTENT;
    bool gradual = true;
    int threads = 2, tol = 2;
    const char *gt_path = NULL, *stats_path = NULL, *video = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--algo") && has) {
            if (vc_detect_algo_parse(argv[++i], &algo) < 0)
                return usage();
        } else if (!strcmp(a, "--no-gradual")) {
            gradual = false;
        } else if (!strcmp(a, "--threads") && has) {
            threads = atoi(argv[++i]);
        } else if (!strcmp(a, "--tol") && has) {
            tol = atoi(argv[++i]);
        } else if (!strcmp(a, "--gt") && has) {
            gt_path = argv[++i];
        } else if (!strcmp(a, "--stats") && has) {
            stats_path = argv[++i];
        } else if (a[0] == '-' || video) {
            return usage();
        } else {
            video = a;
        }
    }
    if (!video)
        return usage();
    vc_detect_params p;
    vc_detect_params_default(&p, algo);
    p.gradual = gradual;
    FILE *sf = NULL;
    if (stats_path) {
        sf = fopen(stats_path, "w");
        if (!sf) {
            perror(stats_path);
            return 1;
        }
        fprintf(sf, "frame,content_val,delta_hue,delta_sat,delta_lum,tiny_diff\n");
    }
    char err[512];
    eval_events ev;
    if (eval_run(video, &p, threads, &ev, sf ? stats_row : NULL, sf, err, sizeof err) < 0) {
        fprintf(stderr, "detect_eval: %s\n", err);
        if (sf)
            fclose(sf);
        return 1;
    }
    if (sf)
        fclose(sf);
    json_t *o = json_object();
    json_object_set_new(o, "video", json_string(video));
    json_object_set_new(o, "algo", json_string(vc_detect_algo_name(algo)));
    json_object_set_new(o, "gradual", json_boolean(gradual));
    json_object_set_new(o, "frames", json_integer(ev.frames));
    json_object_set_new(o, "detect_ms_per_frame", json_real(ev.frames ? 1e3 * ev.detect_secs / (double)ev.frames : 0));
    json_object_set_new(o, "total_secs", json_real(ev.total_secs));
    json_object_set_new(o, "max_lag", json_integer(ev.max_lag));
    json_object_set_new(o, "ordered", json_boolean(ev.ordered));
    json_t *arr = json_array();
    for (size_t i = 0; i < ev.n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "type", json_string(ev.ev[i].kind == VC_SHOT_CUT ? "cut" : "transition"));
        json_object_set_new(e, "first", json_integer(ev.ev[i].first));
        json_object_set_new(e, "last", json_integer(ev.ev[i].last));
        json_object_set_new(e, "score", json_real(ev.ev[i].score));
        json_array_append_new(arr, e);
    }
    json_object_set_new(o, "events", arr);
    int rc = 0;
    if (gt_path) {
        gt_range *gt = NULL;
        int ng = gt_load(gt_path, &gt, err, sizeof err);
        if (ng < 0) {
            fprintf(stderr, "detect_eval: %s\n", err);
            rc = 1;
        } else {
            eval_score s = eval_match(gt, ng, ev.ev, ev.n, tol);
            json_t *so = json_object();
            json_object_set_new(so, "tolerance", json_integer(tol));
            json_object_set_new(so, "tp", json_integer(s.tp));
            json_object_set_new(so, "fp", json_integer(s.fp));
            json_object_set_new(so, "fn", json_integer(s.fn));
            json_object_set_new(so, "precision", json_real(s.precision));
            json_object_set_new(so, "recall", json_real(s.recall));
            json_object_set_new(so, "f1", json_real(s.f1));
            json_object_set_new(o, "score", so);
            free(gt);
        }
    }
    char *s = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
    json_decref(o);
    eval_events_free(&ev);
    return rc;
}
