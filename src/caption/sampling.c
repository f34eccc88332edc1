#include "caption/sampling.h"

#include <math.h>

int vc_cap_windows_max(int64_t n, int64_t size)
{
    return (int)(size > 0 ? n / size + 1 : 1);
}

int vc_cap_windows(int64_t n, int64_t size, int64_t remainder, int64_t (*win)[2])
{
    if (n < 4 || size <= 0)
        return 0;
    if (n <= size) {
        win[0][0] = 0;
        win[0][1] = n - 1;
        return 1;
    }
    int64_t full = n / size, r = n % size;
    int k = 0;
    for (int64_t i = 0; i < full; i++, k++) {
        win[k][0] = i * size;
        win[k][1] = i * size + size - 1;
    }
    if (r >= remainder) {
        win[k][0] = n - r;
        win[k][1] = n - 1;
        k++;
    } else if (r > 0) {
        win[k - 1][1] = n - 1;
    }
    return k;
}

/* Python's round(x) on a float: half to even (rint in the default mode). */
static double py_round(double x)
{
    return nearbyint(x);
}

int vc_cap_nframes(int64_t start, int64_t end, double video_fps, double sampling_fps)
{
    int64_t total = end - start;
    double min_frames = 4;   /* ceil_by_factor(FPS_MIN_FRAMES, 2) */
    double max_frames = floor((double)(total < VC_CAP_MAX_FRAMES ? total : VC_CAP_MAX_FRAMES) / 2) * 2;
    double n = (double)total / video_fps * sampling_fps;
    n = n > min_frames ? n : min_frames;
    n = n < max_frames ? n : max_frames;
    int64_t r = (int64_t)py_round(n / 2) * 2;
    if (r < 2 || r > total)
        return 0;
    return (int)r;
}

void vc_cap_indices(int64_t start, int64_t end, int n, int64_t *out)
{
    int64_t span = end - 1 - start;
    if (n == 1) {
        out[0] = start;
        return;
    }
    /* start + k * span / (n - 1), rounded. n is even, so n - 1 is odd and
     * the quotient is never exactly x.5: float32 linspace + round-half-even
     * and this exact integer rounding agree. */
    for (int k = 0; k < n; k++) {
        int64_t num = 2 * (int64_t)k * span + (n - 1);
        int64_t den = 2 * (int64_t)(n - 1);
        int64_t q = num >= 0 ? num / den : -((-num + den - 1) / den);
        out[k] = start + q;
    }
}

int64_t vc_cap_max_pixels(int64_t n_total)
{
    if (n_total <= 0)
        return VC_CAP_MAX_PIXELS;
    double t = (double)VC_CAP_TOTAL_PIXELS / (double)n_total * 2;
    int64_t a = (int64_t)t;   /* int() truncates */
    if (a > VC_CAP_MAX_PIXELS)
        a = VC_CAP_MAX_PIXELS;
    int64_t floor_px = (int64_t)(VC_CAP_MIN_PIXELS * 1.05);
    return a > floor_px ? a : floor_px;
}

int vc_cap_smart_resize(int height, int width, int64_t max_pixels, int *out_h, int *out_w)
{
    const double f = VC_CAP_FACTOR;
    if (height <= 0 || width <= 0)
        return -1;
    double hi = height > width ? height : width, lo = height > width ? width : height;
    if (hi / lo > 200)
        return -1;
    double h_bar = py_round(height / f) * f, w_bar = py_round(width / f) * f;
    h_bar = h_bar > f ? h_bar : f;
    w_bar = w_bar > f ? w_bar : f;
    if (h_bar * w_bar > (double)max_pixels) {
        double beta = sqrt((double)height * width / (double)max_pixels);
        h_bar = floor(height / beta / f) * f;
        w_bar = floor(width / beta / f) * f;
    } else if (h_bar * w_bar < VC_CAP_MIN_PIXELS) {
        double beta = sqrt((double)VC_CAP_MIN_PIXELS / ((double)height * width));
        h_bar = ceil(height * beta / f) * f;
        w_bar = ceil(width * beta / f) * f;
    }
    if (h_bar < 1 || w_bar < 1)
        return -1;
    *out_h = (int)h_bar;
    *out_w = (int)w_bar;
    return 0;
}
