/* Opening source videos with libavformat, wherever they are: local paths
 * through FFmpeg's own file protocol, s3:// objects through a custom
 * AVIOContext over storage/fs.h's ranged reads (read + seek with a
 * read-ahead buffer), so a video in a bucket is decoded as it streams in,
 * never copied whole to disk or memory first. */
#ifndef VC_VIDEO_SRCIO_H
#define VC_VIDEO_SRCIO_H

#include <libavformat/avformat.h>

/* avformat_open_input for path; returns 0 or an AVERROR. On failure *err
 * (may be NULL) gets the storage layer's reason when it has one. */
int vc_src_open(AVFormatContext **fmt, const char *path, char *err, size_t errlen);

/* avformat_close_input, plus the custom I/O of an s3:// source. */
void vc_src_close(AVFormatContext **fmt);

#endif
