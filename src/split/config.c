#include "split/config.h"

#include <math.h>

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
    };
}

void vc_split_detect_params(const vc_split_config *c, vc_detect_params *p)
{
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
