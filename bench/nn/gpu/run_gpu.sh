#!/bin/sh
# GPU parity + throughput of the CUDA TransNetV2 backend, on the GPU machine,
# from the repository root, after bench/nn/gpu/build.sh made build-gpu/ here:
#   run (device tool): bench/nn/gpu/run_gpu.sh "$OUT" [tnet_gpu_bench.py args], carry build-gpu
# Results land in OUTDIR (results.json, log.txt). BUILD: the build folder
# (build-gpu by default).
set -u
BUILD=${BUILD:-build-gpu}
OUTDIR=${1:-/tmp/tnet_out}
shift || true
mkdir -p "$OUTDIR"
{
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm --format=csv
# cuBLAS 13 comes from the toolkit if there is one, else from PyTorch's wheels.
CUBLAS_DIRS=$(python3 -c "
import glob, os, site
ds = {os.path.dirname(p) for d in site.getsitepackages() for p in glob.glob(d + '/nvidia/**/libcublas.so.13', recursive=True)}
print(':'.join(sorted(ds)))")
export LD_LIBRARY_PATH=${CUBLAS_DIRS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
ldd "$BUILD/tnet_gpu" | grep -E 'cublas|not found'
"$BUILD/tnet_gpu" info
PYTHONUNBUFFERED=1 python3 bench/nn/gpu/tnet_gpu_bench.py --bin "$BUILD/tnet_gpu" --out "$OUTDIR" "$@"
} 2>&1 | tee "$OUTDIR/log.txt"
