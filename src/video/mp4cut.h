/* Frame ranges of an H.264 mp4 held in memory cut out as mp4s of their own
 * by stream copy: no decode, no re-encode. Used for the per-window videos
 * of the Cosmos Predict 2 dataset, whose windows start at multiples of the
 * caption window size, where the clip encoder put IDRs
 * (vc_clip_writer_cfg.key_interval). */
#ifndef VC_VIDEO_MP4CUT_H
#define VC_VIDEO_MP4CUT_H

#include <stddef.h>
#include <stdint.h>

/* Cuts n ranges win[i] = {first, last} (display-order frame indices of the
 * video track, inclusive) out of the mp4 mp4/len. Each output holds exactly
 * those frames' packets, video only (no audio: Cosmos Curator's window mp4s
 * are made with -an), timestamps starting at 0, moov in front. A range must
 * be a closed run of packets: frame `first` an IDR and frame `last+1`, if
 * any, an IDR too, every packet between them showing inside the range.
 * Returns 0 with out[i] malloc'd (free()) and lens[i] set, or -1 with err
 * (nothing left allocated). */
int vc_mp4_cut_frames(const uint8_t *mp4, size_t len, const int64_t (*win)[2], int n,
                      uint8_t **out, size_t *lens, char *err, size_t errlen);

#endif
