#!/usr/bin/python3
"""TransNetV2 on the CPU: our C runtime against PyTorch CPU eager fp32, side
by side in one run, same random weights, same windows, same thread count.

  bench_tnet_cpu.py [--tnet-run build-nn-rel/tests/nn/tnet_run] [--threads 2]
                    [--windows 6] [--rounds 5]

tnet_run comes from a release build with tests:
  meson setup build-nn-rel --buildtype=release -Dtests=true && ninja -C build-nn-rel tests/nn/tnet_run
Rounds alternate C and PyTorch so that load from other processes hits both
alike; the median round is reported. Frames/s counts the frames a window
contributes to a video's predictions (50 per 100-frame window, as
TransNetV2 and Cosmos Curator window a video); window frames/s counts all
100. PyTorch runs one window per call, as both of them do. Prints a
Markdown snippet for bench/RESULTS.md."""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transnetv2_ref as ref  # noqa: E402


def make_frames(n, path):
    """n frames of ffmpeg test sources with hard cuts, extracted as Cosmos does."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={n / 50}",
                    "-f", "lavfi", "-i", f"mandelbrot=size=320x180:rate=25,trim=end_frame={n // 2}",
                    "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0,format=yuv420p[v]", "-map", "[v]",
                    "-c:v", "libx264", "-preset", "ultrafast", path], check=True)
    raw = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", path, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-s", "48x27", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, ref.H, ref.W, 3)[:n]


def time_c(tnet_run, threads, weights, frames_path, nwin, env=None):
    """(wall seconds, CPU seconds) of the forward passes, after a warm-up pass."""
    p = subprocess.run([tnet_run, "--threads", str(threads), "--repeat", "1", weights, frames_path,
                        os.devnull, ",".join(["100"] * nwin)], check=True, capture_output=True, text=True,
                       env=env)
    words = p.stdout.split()
    return float(words[1]), float(words[3])


def time_torch(model, frames, windows):
    c0, t0 = time.process_time(), time.perf_counter()
    ref.run_windows(model, frames, windows)
    return time.perf_counter() - t0, time.process_time() - c0


def blas_core(env=None):
    """The kernel set OpenBLAS picks under env (it reads OPENBLAS_CORETYPE at load)."""
    code = ("import ctypes; lib = ctypes.CDLL('libopenblas.so.0'); "
            "lib.openblas_get_corename.restype = ctypes.c_char_p; print(lib.openblas_get_corename().decode())")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return p.stdout.strip() or "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tnet-run", default=os.path.join(ROOT, "build-nn-rel", "tests", "nn", "tnet_run"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--windows", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if not os.access(args.tnet_run, os.X_OK):
        sys.exit(f"{args.tnet_run} not found: build it (see --help)")
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="vc-bench-tnet-") as tmp:
        n = 50 * args.windows
        frames = make_frames(n, os.path.join(tmp, "v.mp4"))
        windows = ref.reference_windows(n)[:args.windows]
        frames_path = os.path.join(tmp, "windows.rgb")
        np.concatenate([frames[w] for w in windows]).tofile(frames_path)
        model = ref.random_model(seed=1)
        weights = os.path.join(tmp, "w.pth")
        torch.save(model.state_dict(), weights)

        with torch.no_grad():
            ref.run_windows(model, frames, windows[:1])          # warm-up
        # OPENBLAS_CORETYPE pins OpenBLAS's kernels (set here to Haswell: AVX2);
        # when set, the C runtime is also timed with OpenBLAS choosing itself.
        auto_env = None
        if "OPENBLAS_CORETYPE" in os.environ:
            auto_env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        c_runs, a_runs, t_runs = [], [], []
        for r in range(args.rounds):
            c_runs.append(time_c(args.tnet_run, args.threads, weights, frames_path, len(windows)))
            if auto_env:
                a_runs.append(time_c(args.tnet_run, args.threads, weights, frames_path, len(windows), auto_env))
            t_runs.append(time_torch(model, frames, windows))
            auto = f", C with OpenBLAS autodetect {a_runs[-1][0]:.2f} s" if auto_env else ""
            print(f"round {r + 1}: C {c_runs[-1][0]:.2f} s{auto}, PyTorch {t_runs[-1][0]:.2f} s "
                  f"for {len(windows)} windows", flush=True)

    nwin = len(windows)

    def fps(wall, per):
        return nwin * per / wall

    def row(name, runs):
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs) / nwin
        print(f"| {name} | {fps(wall, 50):.1f} | {fps(wall, 100):.1f} | {wall / nwin:.3f} | {cpu:.3f} |")
        return wall, cpu

    print()
    print(f"TransNetV2 CPU inference, {args.threads} threads, {nwin} windows of 100 frames, "
          f"median of {args.rounds} alternating rounds")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the end; PyTorch {torch.__version__} (oneDNN)")
    print()
    print("| runtime | video frames/s | window frames/s | s/window | CPU s/window |")
    print("|---|---|---|---|---|")
    c_wall, c_cpu = row(f"vcurate C, OpenBLAS {blas_core()}", c_runs)
    if a_runs:
        row(f"vcurate C, OpenBLAS {blas_core(auto_env)} (no OPENBLAS_CORETYPE)", a_runs)
    t_wall, t_cpu = row("PyTorch eager fp32", t_runs)
    print()
    print(f"speed-up, C vs PyTorch: {t_wall / c_wall:.2f}x wall, {t_cpu / c_cpu:.2f}x CPU time per window")


if __name__ == "__main__":
    main()
