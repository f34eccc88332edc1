/* swscale set-up shared by the clip writer and the previews: any decoder
 * output to limited-range yuv420p, the way FFmpeg's automatic conversion
 * treats it (full-range input is compressed to 16..235, bicubic). */
#ifndef VC_VIDEO_SWSCONV_H
#define VC_VIDEO_SWSCONV_H

#include <stdbool.h>

#include <libavutil/frame.h>
#include <libswscale/swscale.h>

/* Is this frame full range (yuvj* formats, or tagged AVCOL_RANGE_JPEG)? */
bool vc_frame_full_range(const AVFrame *f);

/* A context converting src (w x h, fmt, range) to dst_w x dst_h yuv420p;
 * NULL when swscale cannot. */
struct SwsContext *vc_sws_to_yuv420p(int src_w, int src_h, int src_fmt, bool src_full_range,
                                     int dst_w, int dst_h);

#endif
