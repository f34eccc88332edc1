#include "split/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "models/models.h"
#include "nn/t5_text.h"
#include "nn/transnetv2.h"
#include "storage/fs.h"
#include "util/common.h"
#include "util/log.h"

void vc_split_config_default(vc_split_config *c)
{
    *c = (vc_split_config){
        .upload_clips = true,
        .algo = VC_SPLIT_TRANSNETV2,
        .fixed_stride_split_duration = 10,
        .fixed_stride_min_clip_length_s = 2.0,
        .threshold = 0.4,
        .min_length_s = 2.0,
        .min_length_frames = 48,
        .max_length_s = 60.0,
        .crop_s = 0.5,
        .encoder = VC_ENC_OPENH264,
        .clip_re_chunk_size = 32,
        .encoders_per_video = 2,
        .x264_preset = "veryfast",
        .content_threshold = 27.0,
        .adaptive_threshold = 3.0,
        .min_content_val = 15.0,
        .window_width = 2,
        .min_scene_len = 15,
        .gradual = true,
        .device = "auto",
        .nn_precision = "exact",
        .t5_batch = 16,
    };
    vc_caption_config_default(&c->caption);
}

void vc_split_detect_params(const vc_split_config *c, vc_detect_params *p)
{
    if (c->algo == VC_SPLIT_TRANSNETV2) {
        vc_detect_params_default(p, VC_DETECT_TRANSNETV2);
        p->tnet_model = c->tnet_model;
        p->tnet_threshold = c->threshold;
        p->tnet_compat = c->tnet_compat;
        /* split resolves decode_threads to the video's share of the cores;
         * `detect` alone leaves it at 0: use them all */
        p->tnet_scale_threads = c->decode_threads > 0 ? c->decode_threads
                                                      : (int)sysconf(_SC_NPROCESSORS_ONLN);
        return;
    }
    bool adaptive = c->algo == VC_SPLIT_ADAPTIVE;
    vc_detect_params_default(p, adaptive ? VC_DETECT_ADAPTIVE : VC_DETECT_CONTENT);
    p->threshold = adaptive ? c->adaptive_threshold : c->content_threshold;
    p->min_content_val = c->min_content_val;
    p->window_width = c->window_width;
    p->min_scene_len = c->min_scene_len;
    p->gradual = c->gradual;
}

const char *vc_split_algo_name(vc_split_algo a)
{
    switch (a) {
    case VC_SPLIT_TRANSNETV2: return "transnetv2";
    case VC_SPLIT_FIXED_STRIDE: return "fixed-stride";
    case VC_SPLIT_CONTENT: return "content";
    case VC_SPLIT_ADAPTIVE: return "adaptive";
    }
    return "?";
}

void vc_clip_rules_for(const vc_split_config *c, double fps, vc_clip_rules *r)
{
    r->min_len = (int64_t)ceil(c->min_length_s * fps);
    if (r->min_len < c->min_length_frames)
        r->min_len = c->min_length_frames;
    r->max_len = c->max_length_s > 0 ? (int64_t)ceil(c->max_length_s * fps) : 0;
    r->crop = (int64_t)(c->crop_s * fps);
    r->truncate = c->max_length_truncate;
}

/* The T5 encoder for the predict2 dataset: files checked as downloaded
 * (failing now, with the command that fixes it, not after the first clips
 * were captioned), then opened on the --device. */
static int load_t5(vc_split_config *c)
{
    char err[1024];
    vc_nn_device dev;
    if (vc_nn_device_parse(c->device, &dev, err, sizeof err) < 0) {
        vc_error("--device %s: %s", c->device, err);
        return -1;
    }
    if (dev.kind == VC_DEV_CUDA && !vc_t5_has_cuda()) {
        vc_error("--device %s: this build has no CUDA T5 encoder (built without nvcc); use --device cpu", c->device);
        return -1;
    }
    if (dev.kind == VC_DEV_AUTO && vc_t5_has_cuda())
        dev = vc_nn_device_resolve(dev);
    static const char *const ids[] = { "t5_xxl", NULL };
    char *ckpt = NULL;
    const vc_model_def *m = vc_models_find("t5_xxl");
    if (!m || vc_models_check(c->model_weights_path, ids, err, sizeof err) < 0 ||
        !(ckpt = vc_models_checkpoint_path(c->model_weights_path, "t5_xxl", err, sizeof err))) {
        vc_error("--generate-cosmos-predict-dataset predict2 needs the T5 encoder: %s", m ? err : "no t5_xxl model");
        return -1;
    }
    char *dir = vc_models_repo_dir(c->model_weights_path, m);
    vc_t5_opts to = { .checkpoint = ckpt, .threads = c->threads, .cuda = dev.kind == VC_DEV_CUDA,
                      .cuda_device = dev.index, .tf32 = c->t5_tf32 };
    double t0 = vc_now();
    c->t5_model = vc_xcalloc(1, sizeof(*c->t5_model));
    int rc = vc_t5_text_open(c->t5_model, dir, &to, err, sizeof err);
    if (rc < 0) {
        vc_error("T5 encoder (%s): %s", dir, err);
        free(c->t5_model);
        c->t5_model = NULL;
    } else {
        vc_info("T5 encoder from %s (%d layers, d_model %d) on %s, opened in %.1f s",
                vc_t5_checkpoint_path(c->t5_model->model), vc_t5_config_of(c->t5_model->model)->num_layers,
                vc_t5_config_of(c->t5_model->model)->d_model, to.cuda ? "the GPU" : "the CPU", vc_now() - t0);
    }
    free(dir);
    free(ckpt);
    return rc < 0 ? -1 : 0;
}

int vc_split_load_models(vc_split_config *c)
{
    if (c->predict2 && !c->t5_model && load_t5(c) < 0)
        return -1;
    if (c->algo != VC_SPLIT_TRANSNETV2 || c->tnet_model)
        return 0;
    char err[512];
    vc_nn_device dev;
    if (vc_nn_device_parse(c->device, &dev, err, sizeof err) < 0) {
        vc_error("--device %s: %s", c->device, err);
        return -1;
    }
    char *w;
    if (c->transnetv2_weights) {
        w = vc_xstrdup(c->transnetv2_weights);
    } else {
        /* complete files, as downloaded (sizes, no partial left): fail now,
         * with the command that fixes it, not hours into the run */
        static const char *const ids[] = { "transnetv2", NULL };
        if (vc_models_check(c->model_weights_path, ids, err, sizeof err) < 0 ||
            !(w = vc_models_checkpoint_path(c->model_weights_path, "transnetv2", err, sizeof err))) {
            vc_error("--splitting-algorithm transnetv2: %s\n"
                     "  (or give the file with --transnetv2-weights, or use the weight-free detector:\n"
                     "  --splitting-algorithm content)", err);
            return -1;
        }
    }
    if (!vc_fs_exists(w)) {
        vc_error("--transnetv2-weights %s: no such file", w);
        free(w);
        return -1;
    }
    vc_tnet_precision prec;
    if (vc_tnet_precision_parse(c->nn_precision, &prec, err, sizeof err) < 0) {
        vc_error("--nn-precision %s: %s", c->nn_precision, err);
        free(w);
        return -1;
    }
    c->tnet_model = vc_tnet_load(w, dev, c->threads, err, sizeof err);
    if (!c->tnet_model || vc_tnet_set_precision(c->tnet_model, prec, err, sizeof err) < 0) {
        vc_error("TransNetV2: %s", err);
        vc_split_free_models(c);
        free(w);
        return -1;
    }
    char dn[32];
    vc_debug("TransNetV2 loaded from %s on %s", w, vc_nn_device_name(vc_tnet_device(c->tnet_model), dn, sizeof dn));
    free(w);
    return 0;
}

void vc_split_free_models(vc_split_config *c)
{
    vc_tnet_free(c->tnet_model);
    c->tnet_model = NULL;
    if (c->t5_model) {
        vc_t5_text_close(c->t5_model);
        free(c->t5_model);
        c->t5_model = NULL;
    }
}
