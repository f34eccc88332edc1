/* Clip writer: pixel-format conversion -> H.264 encoder -> mp4 muxer in memory. */
#include "video/clipwriter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "util/common.h"
#include "video/encoder.h"
#include "video/memio.h"
#include "video/swsconv.h"

/* Keyframe interval. FFmpeg's libopenh264 wrapper inherits AVCodecContext's
 * default gop_size of 12, so Cosmos's clips have an IDR every 12 frames;
 * we do the same for every encoder: cheap random access for data loaders. */
#define VC_CLIP_GOP 12

struct vc_clip_writer {
    vc_encoder_kind kind;
    int src_w, src_h;          /* frames passed in */
    int enc_w, enc_h;          /* encoded: rounded down to even */
    AVRational time_base;
    AVRational audio_tb;
    int64_t frame_duration;    /* in time_base */

    vc_h264_enc *enc;
    struct SwsContext *sws;
    int sws_src_fmt;           /* what the current sws context converts from */
    int sws_src_full_range;
    AVFrame *yuv;              /* converted frame, reused */
    AVFrame *shallow;          /* reference to a caller's yuv420p frame */
    AVPacket *pkt;

    AVFormatContext *oc;
    AVStream *vst, *ast;
    vc_memfile mf;

    int64_t last_pts;
    bool have_pts;
    int64_t key_interval;
    int64_t frames_in;
    int64_t frames_out;
    int failed;                /* first error, sticky */
    char err[512];
};

static const struct {
    vc_encoder_kind kind;
    const char *name;
} encoder_names[] = {
    { VC_ENC_OPENH264, "libopenh264" },
    { VC_ENC_LIBX264, "libx264" },
    { VC_ENC_NVENC, "h264_nvenc" },
};

int vc_encoder_parse(const char *name, vc_encoder_kind *out)
{
    for (size_t i = 0; name && i < VC_ARRAY_LEN(encoder_names); i++) {
        if (strcmp(name, encoder_names[i].name) == 0) {
            *out = encoder_names[i].kind;
            return 0;
        }
    }
    return -1;
}

const char *vc_encoder_name(vc_encoder_kind k)
{
    for (size_t i = 0; i < VC_ARRAY_LEN(encoder_names); i++)
        if (encoder_names[i].kind == k)
            return encoder_names[i].name;
    return "unknown";
}

__attribute__((format(printf, 3, 4)))
static int fail(vc_clip_writer *w, int code, const char *fmt, ...)
{
    if (w->failed)   /* keep the first cause */
        return w->failed;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof(w->err), fmt, ap);
    va_end(ap);
    w->failed = code < 0 ? code : AVERROR_UNKNOWN;
    return w->failed;
}

static int fail_av(vc_clip_writer *w, int code, const char *what)
{
    char msg[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(code, msg, sizeof(msg));
    return fail(w, code, "%s: %s", what, msg);
}

bool vc_clip_audio_copyable(const AVCodecParameters *audio)
{
    const AVOutputFormat *mp4 = av_guess_format("mp4", NULL, NULL);
    return audio && audio->codec_type == AVMEDIA_TYPE_AUDIO && mp4 &&
           avformat_query_codec(mp4, audio->codec_id, FF_COMPLIANCE_NORMAL) == 1;
}

static vc_h264_enc *open_encoder(const vc_clip_writer_cfg *cfg, int w, int h, char *err, size_t errlen)
{
    vc_h264_params p = {
        .width = w, .height = h,
        .frame_rate = cfg->frame_rate,
        .time_base = cfg->time_base,
        .bit_rate = cfg->bit_rate,
        .threads = cfg->threads,
        .gop = VC_CLIP_GOP,
        .x264_preset = cfg->x264_preset ? cfg->x264_preset : VC_X264_DEFAULT_PRESET,
        .forced_idr = cfg->key_interval > 0,
    };
    switch (cfg->encoder) {
    case VC_ENC_OPENH264: return vc_h264_openh264_open(&p, err, errlen);
    case VC_ENC_LIBX264: return vc_h264_lavc_open("libx264", &p, err, errlen);
    case VC_ENC_NVENC: return vc_h264_lavc_open("h264_nvenc", &p, err, errlen);
    }
    snprintf(err, errlen, "unknown encoder %d", (int)cfg->encoder);
    return NULL;
}

static int validate_cfg(const vc_clip_writer_cfg *cfg, char *err, size_t errlen)
{
    if (cfg->width < 2 || cfg->height < 2 || cfg->width > 16384 || cfg->height > 16384) {
        snprintf(err, errlen, "unsupported frame size %dx%d", cfg->width, cfg->height);
        return -1;
    }
    if (!av_pix_fmt_desc_get(cfg->pix_fmt)) {
        snprintf(err, errlen, "unknown pixel format %d", cfg->pix_fmt);
        return -1;
    }
    if (cfg->frame_rate.num <= 0 || cfg->frame_rate.den <= 0) {
        snprintf(err, errlen, "invalid frame rate %d/%d", cfg->frame_rate.num, cfg->frame_rate.den);
        return -1;
    }
    if (cfg->time_base.num <= 0 || cfg->time_base.den <= 0) {
        snprintf(err, errlen, "invalid time base %d/%d", cfg->time_base.num, cfg->time_base.den);
        return -1;
    }
    if (cfg->bit_rate <= 0) {
        snprintf(err, errlen, "invalid bit rate %lld", (long long)cfg->bit_rate);
        return -1;
    }
    if (cfg->audio) {
        if (cfg->audio_time_base.num <= 0 || cfg->audio_time_base.den <= 0) {
            snprintf(err, errlen, "invalid audio time base %d/%d",
                     cfg->audio_time_base.num, cfg->audio_time_base.den);
            return -1;
        }
        if (!vc_clip_audio_copyable(cfg->audio)) {
            snprintf(err, errlen, "audio codec %s cannot be copied into mp4",
                     avcodec_get_name(cfg->audio->codec_id));
            return -1;
        }
    }
    return 0;
}

static int add_video_stream(vc_clip_writer *w, const vc_clip_writer_cfg *cfg)
{
    w->vst = avformat_new_stream(w->oc, NULL);
    if (!w->vst)
        return AVERROR(ENOMEM);
    AVCodecParameters *par = w->vst->codecpar;
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_H264;
    par->width = w->enc_w;
    par->height = w->enc_h;
    par->format = AV_PIX_FMT_YUV420P;
    par->bit_rate = cfg->bit_rate;
    if (cfg->sample_aspect_ratio.num > 0 && cfg->sample_aspect_ratio.den > 0)
        par->sample_aspect_ratio = cfg->sample_aspect_ratio;
    par->extradata = av_mallocz((size_t)w->enc->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!par->extradata)
        return AVERROR(ENOMEM);
    memcpy(par->extradata, w->enc->extradata, (size_t)w->enc->extradata_size);
    par->extradata_size = w->enc->extradata_size;
    w->vst->time_base = cfg->time_base;
    w->vst->avg_frame_rate = cfg->frame_rate;
    return 0;
}

static int add_audio_stream(vc_clip_writer *w, const vc_clip_writer_cfg *cfg)
{
    w->ast = avformat_new_stream(w->oc, NULL);
    if (!w->ast)
        return AVERROR(ENOMEM);
    int ret = avcodec_parameters_copy(w->ast->codecpar, cfg->audio);
    if (ret < 0)
        return ret;
    w->ast->codecpar->codec_tag = 0;   /* let the mp4 muxer pick its own tag */
    w->ast->time_base = cfg->audio_time_base;
    return 0;
}

static int open_muxer(vc_clip_writer *w, const vc_clip_writer_cfg *cfg)
{
    int ret = avformat_alloc_output_context2(&w->oc, NULL, "mp4", NULL);
    if (ret < 0)
        return fail_av(w, ret, "mp4 muxer");
    av_freep(&w->oc->url);
    w->oc->url = av_strdup("clip.mp4");
    if (!w->oc->url || (ret = vc_memio_attach(w->oc, &w->mf)) < 0)
        return fail_av(w, ret < 0 ? ret : AVERROR(ENOMEM), "mp4 muxer");
    if ((ret = add_video_stream(w, cfg)) < 0)
        return fail_av(w, ret, "mp4 video track");
    if (cfg->audio && (ret = add_audio_stream(w, cfg)) < 0)
        return fail_av(w, ret, "mp4 audio track");
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(w->oc, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return fail_av(w, ret, "mp4 header");
    return 0;
}

vc_clip_writer *vc_clip_writer_open(const vc_clip_writer_cfg *cfg, char *err, size_t errlen)
{
    if (validate_cfg(cfg, err, errlen) < 0)
        return NULL;
    vc_clip_writer *w = vc_xcalloc(1, sizeof(*w));
    w->kind = cfg->encoder;
    w->src_w = cfg->width;
    w->src_h = cfg->height;
    w->enc_w = cfg->width & ~1;
    w->enc_h = cfg->height & ~1;
    w->time_base = cfg->time_base;
    w->audio_tb = cfg->audio_time_base;
    w->key_interval = cfg->key_interval > 0 ? cfg->key_interval : 0;
    w->frame_duration = VC_MAX(1, av_rescale_q(1, av_inv_q(cfg->frame_rate), cfg->time_base));
    w->sws_src_fmt = AV_PIX_FMT_NONE;
    w->yuv = av_frame_alloc();
    w->shallow = av_frame_alloc();
    w->pkt = av_packet_alloc();
    if (!w->yuv || !w->shallow || !w->pkt) {
        snprintf(err, errlen, "out of memory");
        vc_clip_writer_free(w);
        return NULL;
    }
    w->enc = open_encoder(cfg, w->enc_w, w->enc_h, err, errlen);
    if (!w->enc) {
        vc_clip_writer_free(w);
        return NULL;
    }
    if (open_muxer(w, cfg) < 0) {
        snprintf(err, errlen, "%s", w->err);
        vc_clip_writer_free(w);
        return NULL;
    }
    return w;
}

/* (Re)build the converter when the input format changes; swscale reads
 * only the even-sized top-left part, which crops odd sizes. */
static int ensure_sws(vc_clip_writer *w, const AVFrame *f)
{
    int full = vc_frame_full_range(f);
    if (w->sws && w->sws_src_fmt == f->format && w->sws_src_full_range == full)
        return 0;
    sws_freeContext(w->sws);
    w->sws = vc_sws_to_yuv420p(w->enc_w, w->enc_h, f->format, full, w->enc_w, w->enc_h);
    if (!w->sws)
        return fail(w, AVERROR(EINVAL), "cannot convert %s frames to yuv420p",
                    av_get_pix_fmt_name(f->format));
    w->sws_src_fmt = f->format;
    w->sws_src_full_range = full;
    return 0;
}

static int convert_frame(vc_clip_writer *w, const AVFrame *f, AVFrame **out)
{
    int ret = ensure_sws(w, f);
    if (ret < 0)
        return ret;
    if (!w->yuv->buf[0]) {
        w->yuv->format = AV_PIX_FMT_YUV420P;
        w->yuv->width = w->enc_w;
        w->yuv->height = w->enc_h;
        if ((ret = av_frame_get_buffer(w->yuv, 0)) < 0)
            return fail_av(w, ret, "frame buffer");
    }
    /* the encoder may still hold a reference to the previous frame */
    if ((ret = av_frame_make_writable(w->yuv)) < 0)
        return fail_av(w, ret, "frame buffer");
    sws_scale(w->sws, (const uint8_t *const *)f->data, f->linesize, 0, w->enc_h,
              w->yuv->data, w->yuv->linesize);
    *out = w->yuv;
    return 0;
}

/* yuv420p frames go to the encoder as they are: a new reference, cropped to
 * the even size by shrinking width/height, without the decoder's side data. */
static int reference_frame(vc_clip_writer *w, const AVFrame *f, AVFrame **out)
{
    av_frame_unref(w->shallow);
    int ret = av_frame_ref(w->shallow, f);
    if (ret < 0)
        return fail_av(w, ret, "frame reference");
    while (w->shallow->nb_side_data > 0)
        av_frame_remove_side_data(w->shallow, w->shallow->side_data[0]->type);
    w->shallow->width = w->enc_w;
    w->shallow->height = w->enc_h;
    *out = w->shallow;
    return 0;
}

static int write_video_packet(vc_clip_writer *w, AVPacket *pkt)
{
    pkt->stream_index = w->vst->index;
    if (pkt->duration <= 0)
        pkt->duration = w->frame_duration;
    av_packet_rescale_ts(pkt, w->time_base, w->vst->time_base);
    int ret = av_interleaved_write_frame(w->oc, pkt);
    if (ret < 0)
        return fail_av(w, ret, "mp4 video packet");
    w->frames_out++;
    return 0;
}

static int drain_encoder(vc_clip_writer *w)
{
    for (;;) {
        int ret = w->enc->receive(w->enc, w->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return fail(w, ret, "%s", w->enc->err);
        ret = write_video_packet(w, w->pkt);
        av_packet_unref(w->pkt);
        if (ret < 0)
            return ret;
    }
}

int vc_clip_writer_video(vc_clip_writer *w, const AVFrame *frame, int64_t pts)
{
    if (w->failed)
        return w->failed;
    if (frame->width != w->src_w || frame->height != w->src_h)
        return fail(w, AVERROR(EINVAL), "frame size changed from %dx%d to %dx%d",
                    w->src_w, w->src_h, frame->width, frame->height);
    if (w->have_pts && pts <= w->last_pts)
        return fail(w, AVERROR(EINVAL), "video pts %lld not after %lld",
                    (long long)pts, (long long)w->last_pts);
    AVFrame *in = NULL;
    int ret = frame->format == AV_PIX_FMT_YUV420P ? reference_frame(w, frame, &in)
                                                   : convert_frame(w, frame, &in);
    if (ret < 0)
        return ret;
    in->pts = pts;
    in->pict_type = w->key_interval && w->frames_in > 0 && w->frames_in % w->key_interval == 0
                  ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    ret = w->enc->send(w->enc, in);
    av_frame_unref(w->shallow);
    if (ret < 0)
        return fail(w, ret, "%s", w->enc->err);
    w->last_pts = pts;
    w->have_pts = true;
    w->frames_in++;
    return drain_encoder(w);
}

int vc_clip_writer_audio(vc_clip_writer *w, const AVPacket *pkt)
{
    if (w->failed)
        return w->failed;
    if (!w->ast)
        return fail(w, AVERROR(EINVAL), "audio packet given but the clip has no audio track");
    AVPacket *p = av_packet_clone(pkt);
    if (!p)
        return fail_av(w, AVERROR(ENOMEM), "audio packet");
    p->stream_index = w->ast->index;
    p->pos = -1;
    av_packet_rescale_ts(p, w->audio_tb, w->ast->time_base);
    int ret = av_interleaved_write_frame(w->oc, p);
    av_packet_free(&p);
    if (ret < 0)
        return fail_av(w, ret, "mp4 audio packet");
    return 0;
}

int vc_clip_writer_finish(vc_clip_writer *w, uint8_t **mp4, size_t *len, int64_t *num_frames,
                          char *err, size_t errlen)
{
    *mp4 = NULL;
    *len = 0;
    *num_frames = 0;
    int ret = w->failed;
    if (!ret && !w->have_pts)
        ret = fail(w, AVERROR(EINVAL), "no video frames were written");
    if (!ret && (ret = w->enc->send(w->enc, NULL)) < 0)
        ret = fail(w, ret, "%s", w->enc->err);
    if (!ret)
        ret = drain_encoder(w);
    if (!ret && (ret = av_write_trailer(w->oc)) < 0)
        ret = fail_av(w, ret, "mp4 trailer");
    if (ret < 0) {
        snprintf(err, errlen, "%s", w->err);
        return ret;
    }
    vc_memio_detach(w->oc);
    *mp4 = vc_memfile_take(&w->mf, len);
    *num_frames = w->frames_out;
    return 0;
}

const char *vc_clip_writer_error(const vc_clip_writer *w)
{
    return w->err;
}

void vc_clip_writer_free(vc_clip_writer *w)
{
    if (!w)
        return;
    if (w->oc) {
        vc_memio_detach(w->oc);
        avformat_free_context(w->oc);
    }
    vc_memfile_free(&w->mf);
    vc_h264_close(w->enc);
    sws_freeContext(w->sws);
    av_frame_free(&w->yuv);
    av_frame_free(&w->shallow);
    av_packet_free(&w->pkt);
    free(w);
}

bool vc_encoder_available(vc_encoder_kind k, char *err, size_t errlen)
{
    /* A real (small) encode: opening alone may succeed where encoding fails. */
    vc_clip_writer_cfg cfg = {
        .encoder = k, .width = 256, .height = 144, .pix_fmt = AV_PIX_FMT_YUV420P,
        .frame_rate = { 30, 1 }, .time_base = { 1, 30 }, .bit_rate = 1000000, .threads = 1,
    };
    vc_clip_writer *w = vc_clip_writer_open(&cfg, err, errlen);
    if (!w)
        return false;
    AVFrame *f = av_frame_alloc();
    int ret = AVERROR(ENOMEM);
    if (f) {
        f->format = AV_PIX_FMT_YUV420P;
        f->width = cfg.width;
        f->height = cfg.height;
        ret = av_frame_get_buffer(f, 0);
    }
    if (ret >= 0) {
        memset(f->data[0], 16, (size_t)f->linesize[0] * (size_t)f->height);
        memset(f->data[1], 128, (size_t)f->linesize[1] * (size_t)(f->height / 2));
        memset(f->data[2], 128, (size_t)f->linesize[2] * (size_t)(f->height / 2));
        ret = vc_clip_writer_video(w, f, 0);
    }
    uint8_t *mp4 = NULL;
    size_t len = 0;
    int64_t n = 0;
    if (ret >= 0)
        ret = vc_clip_writer_finish(w, &mp4, &len, &n, err, errlen);
    else
        snprintf(err, errlen, "%s: %s", vc_encoder_name(k), w->err[0] ? w->err : "out of memory");
    free(mp4);
    av_frame_free(&f);
    vc_clip_writer_free(w);
    return ret >= 0 && n == 1;
}
