#include "nn/cpu/cpu_conv.h"

#include <string.h>

#include "nn/cpu/cpu_ops.h"

/* ------------------------------------------------------------ im2col */

void vc_cpu_conv3x3_pack_im2col(const float *w, int cout, int cin, float *packed)
{
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
            for (int k = 0; k < 9; k++)
                packed[((size_t)o * 9 + k) * cin + i] = w[((size_t)o * cin + i) * 9 + k];
}

void vc_cpu_im2col3x3(const float *x, int h, int w, int c, float *col)
{
    size_t row = (size_t)c * sizeof(float);
    for (int y = 0; y < h; y++)
        for (int xx = 0; xx < w; xx++) {
            float *dst = col + ((size_t)y * w + xx) * 9 * c;
            for (int ky = 0; ky < 3; ky++) {
                int sy = y + ky - 1;
                for (int kx = 0; kx < 3; kx++, dst += c) {
                    int sx = xx + kx - 1;
                    if (sy < 0 || sy >= h || sx < 0 || sx >= w)
                        memset(dst, 0, row);
                    else
                        memcpy(dst, x + ((size_t)sy * w + sx) * c, row);
                }
            }
        }
}

void vc_cpu_conv3x3_im2col(const float *x, int nf, int h, int w, int cin, const float *packed,
                           int cout, float *y, int ldy, float *scratch)
{
    size_t frame_in = (size_t)h * w * cin, frame_col = (size_t)h * w * 9 * cin;
    for (int f = 0; f < nf; f++)
        vc_cpu_im2col3x3(x + f * frame_in, h, w, cin, scratch + f * frame_col);
    vc_cpu_gemm(nf * h * w, cout, 9 * cin, scratch, 9 * cin, packed, 9 * cin, 1, 0.0f, y, ldy);
}

/* ---------------------------------------------------------- Winograd
 *
 * F(2x2,3x3) (Lavin & Gray 2015): a 2x2 output tile is A^T [(G g G^T) .*
 * (B^T d B)] A for the 4x4 input tile d around it. The 16 element-wise
 * products over channels are 16 GEMMs: V[e][tiles][cin] x U[e][cin][cout].
 * The transforms only add and subtract (and halve, for the weights), so the
 * result matches direct convolution to float rounding. */

static int tiles_of(int n)
{
    return (n + 1) / 2;
}

size_t vc_cpu_wino_packed_size(int cout, int cin)
{
    return (size_t)16 * cin * cout;
}

void vc_cpu_conv3x3_pack_wino(const float *w, int cout, int cin, float *packed)
{
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++) {
            const float *g = w + ((size_t)o * cin + i) * 9;
            double gt[4][3];                /* G g */
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 3; c++)
                    gt[r][c] = G[r][0] * g[c] + G[r][1] * g[3 + c] + G[r][2] * g[6 + c];
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++) {   /* (G g) G^T */
                    double u = gt[r][0] * G[c][0] + gt[r][1] * G[c][1] + gt[r][2] * G[c][2];
                    packed[((size_t)(r * 4 + c) * cin + i) * cout + o] = (float)u;
                }
        }
}

size_t vc_cpu_conv3x3_scratch(int nf, int h, int w, int cin, int cout)
{
    size_t tiles = (size_t)nf * tiles_of(h) * tiles_of(w);
    size_t wino = 16 * tiles * (size_t)(cin + cout);
    size_t im2col = (size_t)nf * h * w * 9 * cin;
    return wino > im2col ? wino : im2col;
}

/* Zeros standing in for pixels outside the frame, so the transforms have no
 * branches; enough for one channel block. */
#define WINO_CB 256
static const float zeros[WINO_CB];

/* The 1-D transforms on four rows of n channels each, which the 2-D ones
 * apply to columns and then rows. Separate restrict streams: they vectorise. */
static void bt4(const float *restrict a0, const float *restrict a1, const float *restrict a2,
                const float *restrict a3, float *restrict o0, float *restrict o1, float *restrict o2,
                float *restrict o3, int n)
{
    for (int i = 0; i < n; i++) {   /* B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] */
        o0[i] = a0[i] - a2[i];
        o1[i] = a1[i] + a2[i];
        o2[i] = a2[i] - a1[i];
        o3[i] = a1[i] - a3[i];
    }
}

static void at4(const float *restrict a0, const float *restrict a1, const float *restrict a2,
                const float *restrict a3, float *restrict o0, float *restrict o1, int n)
{
    for (int i = 0; i < n; i++) {   /* A^T = [1 1 1 0; 0 1 -1 -1] */
        o0[i] = a0[i] + a1[i] + a2[i];
        o1[i] = a1[i] - a2[i] - a3[i];
    }
}

/* V[e][tile][c] = (B^T d B)[e] for every tile of one frame; the frame's
 * tiles are rows tile0.. of matrices of ntiles rows. */
static void wino_input(const float *x, int h, int w, int c, float *v, size_t ntiles, size_t tile0)
{
    int th = tiles_of(h), tw = tiles_of(w);
    size_t e = ntiles * c;
    float t[16][WINO_CB];           /* B^T d, row r column q at t[4r + q] */
    for (int ty = 0; ty < th; ty++)
        for (int tx = 0; tx < tw; tx++)
            for (int c0 = 0; c0 < c; c0 += WINO_CB) {
                int n = c - c0 < WINO_CB ? c - c0 : WINO_CB;
                const float *d[16];
                for (int r = 0; r < 4; r++)
                    for (int q = 0; q < 4; q++) {
                        int sy = 2 * ty - 1 + r, sx = 2 * tx - 1 + q;
                        d[r * 4 + q] = (sy < 0 || sy >= h || sx < 0 || sx >= w)
                                           ? zeros
                                           : x + ((size_t)sy * w + sx) * c + c0;
                    }
                for (int q = 0; q < 4; q++)
                    bt4(d[q], d[4 + q], d[8 + q], d[12 + q], t[q], t[4 + q], t[8 + q], t[12 + q], n);
                float *o = v + (tile0 + (size_t)ty * tw + tx) * c + c0;
                for (int r = 0; r < 4; r++)
                    bt4(t[4 * r], t[4 * r + 1], t[4 * r + 2], t[4 * r + 3], o + 4 * r * e,
                        o + (4 * r + 1) * e, o + (4 * r + 2) * e, o + (4 * r + 3) * e, n);
            }
}

/* y (one frame's h*w rows) = A^T M A for every tile of the frame. */
static void wino_output(const float *m, size_t ntiles, size_t tile0, int h, int w, int c, float *y,
                        int ldy)
{
    int th = tiles_of(h), tw = tiles_of(w);
    size_t e = ntiles * c;
    float t[8][WINO_CB];            /* A^T M, row r column q at t[4r + q] */
    float dummy[3][WINO_CB];        /* for outputs of edge tiles outside odd frames */
    for (int ty = 0; ty < th; ty++)
        for (int tx = 0; tx < tw; tx++) {
            const float *s = m + (tile0 + (size_t)ty * tw + tx) * c;
            int y0 = 2 * ty, x0 = 2 * tx;
            float *o00 = y + ((size_t)y0 * w + x0) * ldy;
            int right = x0 + 1 < w, below = y0 + 1 < h;
            for (int c0 = 0; c0 < c; c0 += WINO_CB) {
                int n = c - c0 < WINO_CB ? c - c0 : WINO_CB;
                const float *a = s + c0;
                for (int q = 0; q < 4; q++)
                    at4(a + q * e, a + (4 + q) * e, a + (8 + q) * e, a + (12 + q) * e, t[q], t[4 + q], n);
                at4(t[0], t[1], t[2], t[3], o00 + c0, right ? o00 + ldy + c0 : dummy[0], n);
                at4(t[4], t[5], t[6], t[7], below ? o00 + (size_t)w * ldy + c0 : dummy[1],
                    below && right ? o00 + (size_t)(w + 1) * ldy + c0 : dummy[2], n);
            }
        }
}

void vc_cpu_conv3x3_wino(const float *x, int nf, int h, int w, int cin, const float *packed,
                         int cout, float *y, int ldy, float *scratch)
{
    size_t per_frame = (size_t)tiles_of(h) * tiles_of(w);
    size_t ntiles = per_frame * nf;
    float *v = scratch, *m = scratch + 16 * ntiles * cin;
    for (int f = 0; f < nf; f++)
        wino_input(x + (size_t)f * h * w * cin, h, w, cin, v, ntiles, f * per_frame);
    for (int e = 0; e < 16; e++)
        vc_cpu_gemm((int)ntiles, cout, cin, v + e * ntiles * cin, cin,
                    packed + (size_t)e * cin * cout, cout, 0, 0.0f, m + e * ntiles * cout, cout);
    for (int f = 0; f < nf; f++)
        wino_output(m, ntiles, f * per_frame, h, w, cout, y + (size_t)f * h * w * ldy, ldy);
}

/* ------------------------------------------------------------ temporal */

void vc_cpu_temporal_conv3(const float *in, int ldin, int cin, int t_len, int rows, int d,
                           const float *wt, int cout, float *out, int ldout, int t0, int t1)
{
    for (int j = 0; j < 3; j++) {
        int shift = (j - 1) * d;
        /* output frames whose input frame t+shift exists */
        int lo = t0 > -shift ? t0 : -shift;
        int hi = t1 < t_len - shift ? t1 : t_len - shift;
        if (lo >= hi)
            continue;
        vc_cpu_gemm((hi - lo) * rows, cout, cin, in + (size_t)(lo + shift) * rows * ldin, ldin,
                    wt + (size_t)j * cout * cin, cin, 1, 1.0f, out + (size_t)(lo - t0) * rows * ldout, ldout);
    }
}

/* ------------------------------------------------------------ pooling */

void vc_cpu_avgpool2x2(const float *x, int h, int w, int c, float *y)
{
    int oh = h / 2, ow = w / 2;
    for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
            const float *a = x + ((size_t)(2 * i) * w + 2 * j) * c, *b = a + (size_t)w * c;
            float *o = y + ((size_t)i * ow + j) * c;
            for (int k = 0; k < c; k++)
                o[k] = (a[k] + a[c + k] + b[k] + b[c + k]) * 0.25f;
        }
}
