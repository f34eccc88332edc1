/* The Cosmos Predict 2 Video2World post-training dataset that
 * `vcurate split --generate-cosmos-predict-dataset predict2` writes and
 * `vcurate embed --predict2` refreshes (cosmos-curate.md §3, peers.md §5.2):
 *
 *   {out}/cosmos_predict2_video2world_dataset/
 *     videos/{clip_uuid}_{S}_{E}.mp4     the caption window's frames
 *     metas/{clip_uuid}_{S}_{E}.txt      its caption (UTF-8, as captioned)
 *     t5_xxl/{clip_uuid}_{S}_{E}.pickle  pickle.dumps([float16 [L,1024]])
 *
 * S, E: the window's first and last frame in the clip (inclusive). */
#ifndef VC_DATASET_PREDICT2_H
#define VC_DATASET_PREDICT2_H

#include <stdint.h>

#define VC_P2_DIR "cosmos_predict2_video2world_dataset"

/* Frames the Predict 2 dataloader samples (num_frames 93 in its example
 * config); it needs more than that per video (np.random.randint(0,
 * total - num_frames) fails on 0), so VC_P2_MIN_FRAMES = 94. */
#define VC_P2_NUM_FRAMES 93
#define VC_P2_MIN_FRAMES (VC_P2_NUM_FRAMES + 1)

typedef enum { VC_P2_VIDEO, VC_P2_META, VC_P2_T5 } vc_p2_kind;

/* {out}/cosmos_predict2_video2world_dataset (caller frees). */
char *vc_p2_dir(const char *out);
/* The file of one window (caller frees). */
char *vc_p2_path(const char *out, vc_p2_kind kind, const char *clip_uuid, int64_t start, int64_t end);

#endif
