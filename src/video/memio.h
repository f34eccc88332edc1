/* An in-memory seekable "file" for libavformat, so a clip's mp4 is muxed
 * without touching the disk. The mov muxer's +faststart re-opens its output
 * for reading (AVFormatContext.io_open) to move the moov box to the front;
 * vc_memio_attach() makes that second handle read the same memory. */
#ifndef VC_VIDEO_MEMIO_H
#define VC_VIDEO_MEMIO_H

#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

typedef struct vc_memfile {
    uint8_t *data;   /* malloc'd, so the final bytes can be handed to callers as-is */
    size_t len, cap;
} vc_memfile;

/* Give `oc` a write+seek AVIOContext over `mf` and route io_open/io_close2 to
 * readers of `mf`. `mf` must outlive `oc`. Returns 0 or a negative AVERROR. */
int vc_memio_attach(AVFormatContext *oc, vc_memfile *mf);

/* Free the AVIOContext set by vc_memio_attach (after av_write_trailer). */
void vc_memio_detach(AVFormatContext *oc);

/* A read-only, seekable AVIOContext over mf's bytes (not copied: mf and its
 * data must outlive it), for demuxing an mp4 held in memory; close it with
 * vc_memio_close_reader. NULL when out of memory. */
AVIOContext *vc_memio_reader(vc_memfile *mf);
void vc_memio_close_reader(AVIOContext *pb);

/* Take the bytes (caller frees with free()) and reset `mf`. */
uint8_t *vc_memfile_take(vc_memfile *mf, size_t *len);
void vc_memfile_free(vc_memfile *mf);

#endif
