#!/bin/sh
# Builds bench/nn/gpu/tnet_gpu (the CUDA TransNetV2 harness) into build-gpu/
# with nvcc, independently of the meson tree, so it can be carried to the GPU
# machine (static cudart; cuBLAS from /usr/local/cuda or PyTorch's wheels there).
set -eu
# GENCODE: the nvcc target flags; e.g. GENCODE=-gencode=arch=compute_90a,code=sm_90a
# for an H100/H200-only build in a third of the time (sm_90a: the wgmma kernels).
CUDA=${CUDA:-/usr/local/cuda}
OUT=${1:-build-gpu}
GENCODE=${GENCODE:--gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_90,code=compute_90 -gencode=arch=compute_80,code=sm_80}
mkdir -p "$OUT"
# shellcheck disable=SC2086 # GENCODE and NVFLAGS are word lists
"$CUDA/bin/nvcc" -c src/nn/cuda/tnet_cuda.cu -o "$OUT/tnet_cuda.o" -Isrc -std=c++17 -O3 $GENCODE \
    -Xcompiler=-fPIC,-Wall,-Wextra,-fno-exceptions -Werror all-warnings ${NVFLAGS:-}
cc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Isrc -c bench/nn/gpu/tnet_gpu.c -o "$OUT/tnet_gpu.o"
cc -o "$OUT/tnet_gpu" "$OUT/tnet_gpu.o" "$OUT/tnet_cuda.o" "$CUDA/lib64/libcudart_static.a" \
    -L"$CUDA/lib64" -lcublas -Wl,-rpath,"$CUDA/lib64" -ldl -lrt -lpthread -lstdc++ -lm
ls -l "$OUT/tnet_gpu"
