/* The single decode pass over a source video: demuxes once, decodes every
 * video frame once, and hands audio packets through untouched (clips copy
 * audio, they never re-encode it). */
#ifndef VC_VIDEO_DECODE_H
#define VC_VIDEO_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

typedef struct vc_decoder vc_decoder;

enum { VC_DEC_EOF = 0, VC_DEC_FRAME = 1, VC_DEC_AUDIO = 2 };

/* threads: decoder threads, 0 = vc_decoder_auto_threads(). */
vc_decoder *vc_decoder_open(const char *path, int threads, char *err, size_t errlen);
void vc_decoder_free(vc_decoder *d);
/* Decoder threads for "auto": cores + 3 (at most 16). */
int vc_decoder_auto_threads(void);

const AVStream *vc_decoder_video_stream(const vc_decoder *d);
const AVStream *vc_decoder_audio_stream(const vc_decoder *d); /* NULL if none */
const AVCodecContext *vc_decoder_codec(const vc_decoder *d);

/* Next decoded video frame (into frame) or audio packet (into pkt).
 * Returns VC_DEC_FRAME, VC_DEC_AUDIO, VC_DEC_EOF, or a negative AVERROR for
 * an I/O failure. Corrupt packets are skipped and counted, as ffmpeg does. */
int vc_decoder_next(vc_decoder *d, AVFrame *frame, AVPacket *pkt);

/* Packets the decoder rejected as corrupt so far. */
int64_t vc_decoder_corrupt_packets(const vc_decoder *d);
/* Presentation time of a frame in seconds, relative to the stream start. */
double vc_decoder_frame_time(const vc_decoder *d, const AVFrame *frame);
/* First video timestamp (stream time base), as Cosmos Curator's sorted PTS list starts. */
int64_t vc_decoder_start_pts(const vc_decoder *d);

#endif
