#!/bin/sh
# On the GPU machine, from the repository root, after bench/t5/gpu/build.sh
# made build-t5gpu/ here (run tool: carry build-t5gpu):
#   bench/t5/gpu/run_gpu.sh OUTDIR [t5_gpu_bench.py args]
set -u
OUTDIR=${1:-/tmp/t5_out}
shift || true
mkdir -p "$OUTDIR"
{
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
df -h /tmp | tail -1
# cuBLAS 13 from the toolkit if there is one, else from PyTorch's wheels.
CUBLAS_DIRS=$(python3 -c "
import glob, os, site
ds = {os.path.dirname(p) for d in site.getsitepackages() for p in glob.glob(d + '/nvidia/**/libcublas.so.13', recursive=True)}
print(':'.join(sorted(ds)))")
export LD_LIBRARY_PATH=$PWD/build-t5gpu/lib${CUBLAS_DIRS:+:$CUBLAS_DIRS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
ldd build-t5gpu/t5_gpu | grep -E 'cublas|not found'
PYTHONUNBUFFERED=1 python3 bench/t5/gpu/t5_gpu_bench.py --bin build-t5gpu/t5_gpu --out "$OUTDIR" --work /tmp/t5work "$@"
} 2>&1 | tee "$OUTDIR/log.txt"
