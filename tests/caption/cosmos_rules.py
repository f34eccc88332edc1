"""A transcription of Cosmos Curator's caption windowing and frame sampling
(cosmos-curate.md §2.8: windowing_utils.compute_windows,
vision_process.smart_nframes / read_video_cpu / fetch_video / smart_resize),
in plain Python with Python's own round() (half to even) and float
arithmetic, and torch.linspace's float32 arithmetic emulated with struct.
The C code (src/caption/sampling.c) is checked against it."""
import math
import struct

IMAGE_FACTOR = 28
VIDEO_MIN_PIXELS = 128 * 28 * 28
VIDEO_MAX_PIXELS = 768 * 28 * 28
VIDEO_TOTAL_PIXELS = 24576 * 28 * 28
FRAME_FACTOR = 2
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768
MAX_RATIO = 200


def round_by_factor(number, factor):
    return round(number / factor) * factor


def ceil_by_factor(number, factor):
    return math.ceil(number / factor) * factor


def floor_by_factor(number, factor):
    return math.floor(number / factor) * factor


def compute_windows(total_frames, window_size=256, remainder_threshold=128):
    if not total_frames or total_frames < 4:
        return []
    if total_frames <= window_size:
        return [(0, total_frames - 1)]
    full = total_frames // window_size
    rem = total_frames % window_size
    out = [(i * window_size, i * window_size + window_size - 1) for i in range(full)]
    if rem >= remainder_threshold:
        out.append((total_frames - rem, total_frames - 1))
    elif rem > 0 and full > 0:
        out[-1] = (out[-1][0], total_frames - 1)
    return out


def smart_nframes(fps, total_frames, video_fps):
    min_frames = ceil_by_factor(FPS_MIN_FRAMES, FRAME_FACTOR)
    max_frames = floor_by_factor(min(FPS_MAX_FRAMES, total_frames), FRAME_FACTOR)
    nframes = total_frames / video_fps * fps
    nframes = min(max(nframes, min_frames), max_frames)
    nframes = round_by_factor(nframes, FRAME_FACTOR)
    if not (FRAME_FACTOR <= nframes <= total_frames):
        raise ValueError(nframes)
    return nframes


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def torch_linspace_round(start, end, steps):
    """torch.linspace(start, end, steps) (float32, CPU scalar path) .round()"""
    if steps == 1:
        return [int(round(f32(start)))]
    s, e = f32(start), f32(end)
    step = f32((e - s) / (steps - 1))
    half = steps // 2
    out = []
    for i in range(steps):
        v = f32(s + f32(step * i)) if i < half else f32(e - f32(step * (steps - i - 1)))
        out.append(int(round(v)))
    return out


def window_indices(start, end, video_fps, sampling_fps=2.0):
    n = smart_nframes(sampling_fps, end - start, video_fps)
    return torch_linspace_round(start, end - 1, n)


def max_pixels_for(n_total):
    return max(min(VIDEO_MAX_PIXELS, int(VIDEO_TOTAL_PIXELS / n_total * FRAME_FACTOR)), int(VIDEO_MIN_PIXELS * 1.05))


def smart_resize(height, width, factor=IMAGE_FACTOR, min_pixels=VIDEO_MIN_PIXELS, max_pixels=VIDEO_MAX_PIXELS):
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError("ratio")
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


def clip_plan(num_frames, video_fps, height, width, window_size=256, remainder=128, sampling_fps=2.0):
    """[(start, end, [indices])], (h, w) for a clip, as fetch_video sees it."""
    wins = compute_windows(num_frames, window_size, remainder)
    plan = [(s, e, window_indices(s, e, video_fps, sampling_fps)) for s, e in wins]
    n_total = sum(len(p[2]) for p in plan)
    size = smart_resize(height, width, max_pixels=max_pixels_for(n_total)) if plan else (0, 0)
    return plan, size
