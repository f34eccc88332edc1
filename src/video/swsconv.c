#include "video/swsconv.h"

#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

/* swscale warns about the deprecated yuvj formats: use the plain format and
 * say "full range" explicitly instead. */
static int unjpeg(int fmt)
{
    switch (fmt) {
    case AV_PIX_FMT_YUVJ420P: return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: return AV_PIX_FMT_YUV411P;
    default: return fmt;
    }
}

bool vc_frame_full_range(const AVFrame *f)
{
    return unjpeg(f->format) != f->format || f->color_range == AVCOL_RANGE_JPEG;
}

struct SwsContext *vc_sws_to_yuv420p(int src_w, int src_h, int src_fmt, bool src_full_range,
                                     int dst_w, int dst_h)
{
    /* The ranges must be known before sws_init_context: with equal sizes and
     * formats it otherwise picks a plain copy that ignores a later
     * sws_setColorspaceDetails(). */
    struct SwsContext *sws = sws_alloc_context();
    if (!sws)
        return NULL;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(src_fmt);
    bool yuv_src = d && !(d->flags & AV_PIX_FMT_FLAG_RGB);
    if (av_opt_set_int(sws, "srcw", src_w, 0) < 0 || av_opt_set_int(sws, "srch", src_h, 0) < 0 ||
        av_opt_set_int(sws, "src_format", unjpeg(src_fmt), 0) < 0 ||
        av_opt_set_int(sws, "dstw", dst_w, 0) < 0 || av_opt_set_int(sws, "dsth", dst_h, 0) < 0 ||
        av_opt_set_int(sws, "dst_format", AV_PIX_FMT_YUV420P, 0) < 0 ||
        av_opt_set_int(sws, "src_range", yuv_src && src_full_range, 0) < 0 ||
        av_opt_set_int(sws, "dst_range", 0, 0) < 0 ||
        /* bicubic: FFmpeg's default for the scalers it inserts */
        av_opt_set_int(sws, "sws_flags", SWS_BICUBIC, 0) < 0 ||
        sws_init_context(sws, NULL, NULL) < 0) {
        sws_freeContext(sws);
        return NULL;
    }
    return sws;
}
