#!/bin/sh
# Builds bench/t5/gpu/t5_gpu (T5 encoder, CPU + CUDA) into build-t5gpu/ with
# nvcc and cc, outside meson, so it can be carried to the GPU machine with the
# shared libraries it needs (lib/: OpenBLAS, jansson, gfortran) beside it.
set -eu
CUDA=${CUDA:-/usr/local/cuda}
OUT=${1:-build-t5gpu}
mkdir -p "$OUT/lib"
"$CUDA/bin/nvcc" -c src/nn/t5_cuda.cu -o "$OUT/t5_cuda.o" -Isrc -std=c++17 -O3 \
    -gencode=arch=compute_90,code=[sm_90,compute_90] -gencode=arch=compute_80,code=sm_80 \
    -Xcompiler=-fPIC,-Wall,-Wextra,-fno-exceptions -Werror all-warnings
SRCS="src/nn/t5.c src/nn/cpu/cpu_xformer.c src/nn/cpu/cpu_pool.c src/nn/cpu/cpu_ops.c bench/t5/gpu/t5_gpu.c
 $(ls src/nn/io/*.c) src/util/common.c src/util/log.c"
cc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -DVC_T5_HAVE_CUDA -Isrc \
    -I/usr/include/x86_64-linux-gnu/openblas-pthread $SRCS "$OUT/t5_cuda.o" \
    "$CUDA/lib64/libcudart_static.a" -L"$CUDA/lib64" -lcublas -Wl,-rpath,"$CUDA/lib64" \
    -ljansson -lopenblas -ldl -lrt -lpthread -lstdc++ -lm -o "$OUT/t5_gpu"
for l in $(ldd "$OUT/t5_gpu" | awk '/jansson|openblas|gfortran|quadmath/ {print $3}'); do
    cp -L "$l" "$OUT/lib/"
done
ls -l "$OUT/t5_gpu" "$OUT/lib"
