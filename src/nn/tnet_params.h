/* TransNetV2's weights after load-time folding, as every backend runs them.
 *
 * peers.md §1.3: each DDCNN runs four (2+1)D branches (dilation 1,2,4,8) on
 * the same input, concatenates them (4F channels) and applies BatchNorm
 * (eps 1e-3). BatchNorm is folded into the temporal convolutions here:
 * branch k's temporal weights are scaled by gamma/sqrt(var+eps) of channels
 * [kF, (k+1)F) and the shift becomes `bias`. All arrays are float32,
 * row-major, PyTorch layouts unless noted. */
#ifndef VC_NN_TNET_PARAMS_H
#define VC_NN_TNET_PARAMS_H

#define VC_TNET_WINDOW 100      /* frames per network input */
#define VC_TNET_H 27
#define VC_TNET_W 48
#define VC_TNET_FRAME_BYTES (VC_TNET_H * VC_TNET_W * 3)
#define VC_TNET_STACKS 3
#define VC_TNET_DILATIONS 4

typedef struct vc_tnet_ddcnn {
    int cin;                    /* input channels: 3, 64, 64, 128, 128, 256 */
    int f;                      /* filters per branch: 16, 32, 64 (output 4F) */
    float *spatial[VC_TNET_DILATIONS];   /* [2F][cin][3][3]  (conv kernel (1,3,3), pad (0,1,1)) */
    float *temporal[VC_TNET_DILATIONS];  /* [F][2F][3], BN scale folded (kernel (3,1,1), dilation d, pad d) */
    float *bias;                /* [4F]: BN shift (beta - mean*scale) */
    int relu;                   /* 1 for the first DDCNN of a stack */
} vc_tnet_ddcnn;

typedef struct vc_tnet_params {
    vc_tnet_ddcnn ddcnn[VC_TNET_STACKS][2];
    float *sim_proj_w, *sim_proj_b;      /* [128][448], [128] */
    float *sim_fc_w, *sim_fc_b;          /* [128][101], [128] */
    float *hist_fc_w, *hist_fc_b;        /* [128][101], [128] */
    float *fc1_w, *fc1_b;                /* [1024][4864], [1024]; input order [hist, sim, conv] */
    float *cls1_w, cls1_b;               /* [1024]: single-frame head */
    float *cls2_w, cls2_b;               /* [1024]: many-hot head */
} vc_tnet_params;

#endif
