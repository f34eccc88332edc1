#!/usr/bin/python3
"""End-to-end tests of `vcurate split` and `vcurate detect`: run the binary on
small videos made with the ffmpeg CLI and check what lands on disk the way a
user (or Cosmos Curator's readers) would. Run by meson with the binary path."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

import av  # Debian's python3-av: an independent reader of our mp4s

VCURATE = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="vc-e2e-")
RESULTS = {"passed": 0, "failed": 0}

META_KEYS = ["span_uuid", "source_video", "duration_span", "width_source", "height_source",
             "framerate_source", "clip_location", "width", "height", "framerate", "num_frames",
             "video_codec", "num_bytes"]


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_shots(path, shots, size="320x240", rate=30, audio=True):
    """A video of len(shots) single-colour-pattern shots of the given seconds, hard cuts between."""
    srcs = ["testsrc2", "smptebars", "rgbtestsrc", "testsrc", "pal75bars", "yuvtestsrc"]
    args, filt = [], ""
    for i, d in enumerate(shots):
        args += ["-f", "lavfi", "-i", f"{srcs[i % len(srcs)]}=size={size}:rate={rate}:duration={d}"]
        filt += f"[{i}:v]"
    filt += f"concat=n={len(shots)}:v=1:a=0,format=yuv420p[v]"
    extra = []
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={sum(shots)}"]
        extra = ["-map", f"{len(shots)}:a", "-c:a", "aac"]
    ffmpeg(*args, "-filter_complex", filt, "-map", "[v]", *extra, "-c:v", "libx264", "-preset",
           "ultrafast", "-g", "30", path)


def run(*args, check_rc=None, timeout=600):
    # Captions are on by default and need a VLM server (tests/caption covers
    # them): these split tests run without, unless they name a captioning flag.
    if args and args[0] == "split" and "--help" not in args and not any(a.startswith("--captioning") for a in args):
        args = (*args, "--no-generate-captions")
    p = subprocess.run([VCURATE, *args], capture_output=True, text=True, timeout=timeout)
    if check_rc is not None and p.returncode != check_rc:
        raise AssertionError(f"exit {p.returncode} != {check_rc}\nstdout:{p.stdout}\nstderr:{p.stderr}")
    return p


def read_json(path):
    with open(path) as f:
        return json.load(f)


def frames_in(path):
    with av.open(path) as c:
        return sum(1 for _ in c.decode(video=0))


def no_temp_files(root):
    for d, _, files in os.walk(root):
        for f in files:
            assert ".tmp" not in f, f"temporary file left: {os.path.join(d, f)}"


CASES = []


def case(fn):
    def wrapper():
        try:
            fn()
            RESULTS["passed"] += 1
            print(f"PASS {fn.__name__}", flush=True)
        except Exception:
            RESULTS["failed"] += 1
            print(f"FAIL {fn.__name__}\n{traceback.format_exc()}", flush=True)
    wrapper.__name__ = fn.__name__
    CASES.append(wrapper)
    return wrapper


def cosmos_fixed_stride(path, stride=10, min_len=2.0):
    """Cosmos Curator's _populate_clips_fixed_stride, from its own inputs (ffprobe/PyAV metadata)."""
    with av.open(path) as c:
        s = c.streams.video[0]
        fps = float(s.average_rate)
        dur = float(s.duration * s.time_base) if s.duration else c.duration / 1e6
        num_frames = int(dur * fps)
        import numpy as np
        pts = sorted(float(p.pts * p.time_base) for p in c.demux(s) if p.pts is not None)
        first = float(np.array(pts, dtype=np.float32)[0])
    duration = float(num_frames / fps)
    end_s = (first + duration) - first
    spans, t = [], 0.0
    while t < end_s:
        e = min(t + stride, end_s)
        if e - t >= min_len:
            spans.append((t, e))
        t += stride
    return [(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{path}_{a}_{b}")), a, b) for a, b in spans]


@case
def fixed_stride_matches_cosmos():
    d = os.path.join(TMP, "fs")
    os.makedirs(f"{d}/in")
    v = f"{d}/in/long.mp4"
    make_shots(v, [9, 9, 7])
    run("split", "--input-video-path", f"{d}/in", "--output-clip-path", f"{d}/out",
        "--splitting-algorithm", "fixed-stride", "--no-progress", check_rc=0)
    want = cosmos_fixed_stride(v)
    assert len(want) == 3, want
    for u, a, b in want:
        meta = read_json(f"{d}/out/metas/v0/{u}.json")
        assert list(meta)[:len(META_KEYS)] == META_KEYS, list(meta)
        assert meta["span_uuid"] == u and meta["duration_span"] == [a, b], meta
        assert meta["source_video"] == v
        clip = f"{d}/out/clips/{u}.mp4"
        n = frames_in(clip)
        assert n == round((b - a) * 30), (n, a, b)
        assert meta["num_frames"] == n and meta["num_bytes"] == os.path.getsize(clip)
        with av.open(clip) as c:
            assert c.streams.video[0].codec_context.name == "h264"
            assert len(c.streams.audio) == 1, "audio was not copied"
            assert (c.streams.video[0].width, c.streams.video[0].height) == (320, 240)
    pv = read_json(f"{d}/out/processed_videos/long.mp4.json")
    assert pv["num_total_clips"] == 3 and pv["video_uuid"] == str(uuid.uuid5(uuid.NAMESPACE_URL, v))
    chunk = read_json(f"{d}/out/processed_clip_chunks/long.mp4_0.json")
    assert chunk["clips"] == [u for u, _, _ in want], chunk["clips"]
    summary = read_json(f"{d}/out/summary.json")
    assert summary["num_processed_videos"] == 1 and summary["long.mp4"]["num_total_clips"] == 3
    no_temp_files(d)


@case
def content_detector_cuts_and_crops():
    d = os.path.join(TMP, "ct")
    os.makedirs(f"{d}/in")
    v = f"{d}/in/shots.mp4"
    make_shots(v, [4, 4, 3])  # shots [0,120) [120,240) [240,330) at 30 fps
    run("split", "--input-video-path", v, "--output-clip-path", f"{d}/out",
        "--splitting-algorithm", "content", "--no-progress", check_rc=0)
    crop = 15
    want = [(0 + crop, 120 - crop), (120 + crop, 240 - crop), (240 + crop, 330 - crop)]
    metas = [read_json(f"{d}/out/metas/v0/{f}") for f in os.listdir(f"{d}/out/metas/v0")]
    got = sorted((round(m["duration_span"][0] * 30), round(m["duration_span"][1] * 30)) for m in metas)
    assert got == want, got
    for m in metas:
        s, e = round(m["duration_span"][0] * 30), round(m["duration_span"][1] * 30)
        assert m["span_uuid"] == str(uuid.uuid5(uuid.NAMESPACE_URL, f"{v}_{s}_{e}"))
        assert frames_in(f"{d}/out/clips/{m['span_uuid']}.mp4") == e - s


@case
def detect_prints_shots():
    d = os.path.join(TMP, "dt")
    os.makedirs(d)
    v = f"{d}/shots.mp4"
    make_shots(v, [3, 3], audio=False)
    p = run("detect", v, check_rc=0)
    out = json.loads(p.stdout)
    cuts = [t["first_frame"] for t in out["transitions"] if t["type"] == "cut"]
    assert cuts == [90], out["transitions"]
    assert [(s["start_frame"], s["end_frame"]) for s in out["scenes"]] == [(0, 90), (90, 180)]
    assert out["num_frames"] == 180


@case
def detect_interrupt_stops_at_once():
    """Ctrl-C during `detect`: exit 130 promptly, nothing printed. A minute of
    video takes detect several seconds under the sanitizers."""
    d = os.path.join(TMP, "dti")
    os.makedirs(d)
    v = f"{d}/long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=60", "-c:v", "libx264",
           "-preset", "ultrafast", v)
    p = subprocess.Popen([VCURATE, "detect", v], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert p.poll() is None, ("detect ended before the signal", p.communicate())
    p.send_signal(signal.SIGINT)
    t0 = time.time()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (p.returncode, err)
    assert time.time() - t0 < 3, "detect took too long to stop"
    assert out == "", out
    assert "interrupted" in err, err


@case
def bad_inputs_are_recorded_and_run_goes_on():
    d = os.path.join(TMP, "bad")
    os.makedirs(f"{d}/in")
    make_shots(f"{d}/in/good.mp4", [3], audio=False)
    open(f"{d}/in/empty.mp4", "wb").close()
    with open(f"{d}/in/text.mp4", "w") as f:
        f.write("not a video at all\n" * 100)
    with open(f"{d}/in/good.mp4", "rb") as f:
        data = f.read()
    with open(f"{d}/in/truncated.mp4", "wb") as f:
        f.write(data[: len(data) // 3])
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", f"{d}/in/audio-only.m4a")
    corrupt = bytearray(data)
    for i in range(2000, len(corrupt), 97):
        corrupt[i] ^= 0xFF
    with open(f"{d}/in/corrupt.mp4", "wb") as f:
        f.write(corrupt)
    p = run("split", "--input-video-path", f"{d}/in", "--output-clip-path", f"{d}/out",
            "--splitting-algorithm", "fixed-stride", "--fixed-stride-split-duration", "1",
            "--fixed-stride-min-clip-length-s", "0.5", "--no-progress")
    assert p.returncode == 1, (p.returncode, p.stderr)
    errs = {f: read_json(f"{d}/out/video_errors/{f}") for f in os.listdir(f"{d}/out/video_errors")}
    for name in ["empty.mp4", "text.mp4", "audio-only.m4a"]:
        rec = errs.get(f"{name}_0.json")
        assert rec, (name, list(errs))
        assert rec["video"].endswith(name) and rec["errors"], rec
        assert name in p.stderr, f"{name} not named in the log"
    assert "audio only" in json.dumps(errs["audio-only.m4a_0.json"])
    assert os.path.exists(f"{d}/out/processed_videos/good.mp4.json")
    assert len(os.listdir(f"{d}/out/clips")) >= 3
    no_temp_files(d)


@case
def resume_limit_and_zero_clip_videos():
    d = os.path.join(TMP, "rs")
    os.makedirs(f"{d}/in")
    for i in range(3):
        make_shots(f"{d}/in/v{i}.mp4", [3], audio=False)
    make_shots(f"{d}/in/tiny.mp4", [1], audio=False)  # shorter than the 2 s minimum: no clips
    args = ["split", "--input-video-path", f"{d}/in", "--output-clip-path", f"{d}/out",
            "--splitting-algorithm", "content", "--no-progress"]
    run(*args, "--limit", "1", check_rc=0)
    assert sorted(os.listdir(f"{d}/out/processed_videos")) == ["tiny.mp4.json"]
    run(*args, "--limit", "2", check_rc=0)
    assert len(os.listdir(f"{d}/out/processed_videos")) == 3
    p = run(*args, check_rc=0)
    assert len(os.listdir(f"{d}/out/processed_videos")) == 4
    tiny = read_json(f"{d}/out/processed_videos/tiny.mp4.json")
    assert tiny["num_total_clips"] == 0
    p = run(*args, check_rc=0)
    assert "0 to process" in p.stderr, p.stderr
    assert len(os.listdir(f"{d}/out/clips")) == 3
    summary = read_json(f"{d}/out/summary.json")
    assert summary["num_processed_videos"] == 4


@case
def interrupt_leaves_no_partial_files_and_rerun_completes():
    d = os.path.join(TMP, "int")
    os.makedirs(f"{d}/in")
    make_shots(f"{d}/in/a.mp4", [20, 20], size="640x360")
    args = [VCURATE, "split", "--input-video-path", f"{d}/in", "--output-clip-path", f"{d}/out",
            "--splitting-algorithm", "fixed-stride", "--fixed-stride-split-duration", "2", "--no-progress",
            "--no-generate-captions"]
    p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (os.path.isdir(f"{d}/out/clips") and os.listdir(f"{d}/out/clips")):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err)
    no_temp_files(d)
    assert not os.path.exists(f"{d}/out/processed_videos/a.mp4.json"), "half-done video marked done"
    subprocess.run(args, check=True, capture_output=True)
    assert os.path.exists(f"{d}/out/processed_videos/a.mp4.json")
    assert len(os.listdir(f"{d}/out/clips")) == 20
    for f in os.listdir(f"{d}/out/clips"):
        assert frames_in(f"{d}/out/clips/{f}") == 60


@case
def previews_per_window():
    d = os.path.join(TMP, "pv")
    os.makedirs(f"{d}/in")
    make_shots(f"{d}/in/a.mp4", [12], audio=False)  # 360 frames -> one clip of 330 after crop
    run("split", "--input-video-path", f"{d}/in", "--output-clip-path", f"{d}/out",
        "--splitting-algorithm", "content", "--generate-previews", "--no-progress", check_rc=0)
    (clip,) = os.listdir(f"{d}/out/previews")
    files = sorted(os.listdir(f"{d}/out/previews/{clip}"))
    # 330 frames: window [0,255] and the remainder of 74 (< 128) extends it to [0,329]
    assert files == ["0_329.webp"], files
    with open(f"{d}/out/previews/{clip}/0_329.webp", "rb") as f:
        head = f.read(16)
    assert head[:4] == b"RIFF" and head[8:12] == b"WEBP"


@case
def usage_errors_write_nothing():
    d = os.path.join(TMP, "use")
    os.makedirs(f"{d}/in")
    p = run("split", "--input-video-path", f"{d}/in", check_rc=2)
    assert "--output-clip-path" in p.stderr
    p = run("split", "--input-video-path", f"{d}/in", "--output-clip-path", f"{d}/out",
            "--splitting-algorithm", "nope", check_rc=2)
    p = run("split", "--input-video-path", f"{d}/in", "--output-clip-path", f"{d}/out",
            "--captioning-algorithm", "qwen", check_rc=2)
    assert "--captioning-endpoint" in p.stderr and "--no-generate-captions" in p.stderr
    p = run("split", "--input-video-path", f"{d}/in", "--output-clip-path", f"{d}/out",
            "--model-weights-path", f"{d}/models", check_rc=2)
    assert "transnetv2-pytorch-weights.pth" in p.stderr and "content" in p.stderr
    assert not os.path.exists(f"{d}/out")
    p = run("split", "--help", check_rc=0)
    assert "--transnetv2-crop-s" in p.stdout


if __name__ == "__main__":
    only = sys.argv[2:]
    for fn in CASES:
        if not only or fn.__name__ in only:
            fn()
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)
