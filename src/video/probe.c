#include "video/probe.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/fs.h"
#include "video/srcio.h"

#include "util/common.h"

const char *vc_av_err(int code, char buf[128])
{
    av_strerror(code, buf, 128);
    return buf;
}

static void copy_name(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

int vc_probe_video(const char *path, vc_video_info *info, char *err, size_t errlen)
{
    char eb[128];
    memset(info, 0, sizeof(*info));
    int64_t size = 0;
    int src = vc_fs_size(path, &size);
    if (src != 0) {
        snprintf(err, errlen, "cannot read file: %s", vc_fs_strerror(path, src));
        return -1;
    }
    info->size_bytes = size;
    if (size == 0) {
        snprintf(err, errlen, "empty file (0 bytes)");
        return -1;
    }

    AVFormatContext *fmt = NULL;
    char why[512] = "";
    int rc = vc_src_open(&fmt, path, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "not a readable video file: %s", why[0] ? why : vc_av_err(rc, eb));
        return -1;
    }
    rc = avformat_find_stream_info(fmt, NULL);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read stream info: %s", vc_av_err(rc, eb));
        vc_src_close(&fmt);
        return -1;
    }
    copy_name(info->format_name, sizeof info->format_name, fmt->iformat->name);

    int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int ai = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, vi, NULL, 0);
    if (ai >= 0)
        copy_name(info->audio_format, sizeof info->audio_format,
                  avcodec_get_name(fmt->streams[ai]->codecpar->codec_id));
    if (vi < 0) {
        snprintf(err, errlen, ai >= 0 ? "no video stream (audio only)" : "no video stream");
        vc_src_close(&fmt);
        return -1;
    }
    AVStream *vs = fmt->streams[vi];
    AVCodecParameters *par = vs->codecpar;
    copy_name(info->video_codec, sizeof info->video_codec, avcodec_get_name(par->codec_id));
    copy_name(info->pixel_format, sizeof info->pixel_format,
              av_get_pix_fmt_name((enum AVPixelFormat)par->format));
    info->width = par->width;
    info->height = par->height;

    AVRational fr = vs->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0)
        fr = av_guess_frame_rate(fmt, vs, NULL);
    info->fps_num = fr.num;
    info->fps_den = fr.den;
    info->fps = fr.den > 0 ? (double)fr.num / fr.den : 0;

    if (vs->duration != AV_NOPTS_VALUE && vs->duration > 0)
        info->duration = (double)vs->duration * av_q2d(vs->time_base);
    else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
        info->duration = (double)fmt->duration / AV_TIME_BASE;
    /* Python's int() truncates toward zero. */
    info->num_frames = (int64_t)(info->duration * info->fps);
    info->bit_rate_k = par->bit_rate > 0 ? par->bit_rate / 1024 : 4000;

    int ok = 0;
    if (!avcodec_find_decoder(par->codec_id)) {
        snprintf(err, errlen, "unsupported video codec '%s'", info->video_codec);
        ok = -1;
    } else if (info->width <= 0 || info->height <= 0) {
        snprintf(err, errlen, "video stream has no frame size (corrupt header?)");
        ok = -1;
    } else if (info->fps <= 0) {
        snprintf(err, errlen, "video stream has no frame rate");
        ok = -1;
    }
    vc_src_close(&fmt);
    return ok;
}
