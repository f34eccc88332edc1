#!/bin/sh
# Throughput of `vcurate shard` against `cp -r` of the same clip bytes on the
# same disk (issue 3: target >= 0.8x).
#
# usage: bench/shard/bench_shard.sh [TOTAL_MB [CLIP_MB [WORKDIR]]]
#   defaults: 2048 MB of synthetic clips of 8 MB each, under $TMPDIR or /tmp.
# Runs `vcurate shard` when VCURATE (or build/src/cli/vcurate) exists, else the
# test driver tests/shard/shard_driver of BUILD (default build-shard).
# Each tool runs 3 times with warm and 3 times with cold page caches; every
# time includes a final `sync`, so both pay for getting the bytes to disk
# (shard also fsyncs each tar). Medians are reported.
set -eu
TOTAL_MB=${1:-2048}
CLIP_MB=${2:-8}
WORK=${3:-${TMPDIR:-/tmp}/vc-shard-bench}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-shard}
if [ -n "${VCURATE:-}" ]; then SHARD="$VCURATE shard"
elif [ -x "$BUILD/src/cli/vcurate" ]; then SHARD="$BUILD/src/cli/vcurate shard"
else SHARD="$BUILD/tests/shard/shard_driver"; fi

N=$((TOTAL_MB / CLIP_MB))
IN=$WORK/split
rm -rf "$WORK"
mkdir -p "$IN/clips" "$IN/metas/v0"
echo "generating $N clips of $CLIP_MB MB under $WORK"
/usr/bin/python3 - "$IN" "$N" "$CLIP_MB" <<'PY'
import json, os, sys, uuid
root, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = os.urandom(1 << 20)
clips = []
for i in range(n):
    u = str(uuid.uuid5(uuid.NAMESPACE_URL, "bench-%d" % i))
    p = os.path.join(root, "clips", u + ".mp4")
    with open(p, "wb") as f:
        for _ in range(mb):
            f.write(block)
    w, h, frames = [(1920, 1080, 240), (1280, 720, 600), (640, 480, 1200)][i % 3]
    meta = {"span_uuid": u, "clip_location": p, "width": w, "height": h,
            "framerate": 30.0, "num_frames": frames, "video_codec": "h264",
            "num_bytes": mb << 20, "windows": [{"start_frame": 0, "end_frame": frames - 1,
            "qwen_caption": "A synthetic clip."}], "valid": True}
    with open(os.path.join(root, "metas", "v0", u + ".json"), "w") as f:
        json.dump(meta, f, indent=4)
    clips.append(u)
with open(os.path.join(root, "summary.json"), "w") as f:
    json.dump({"num_input_videos": 1, "v.mp4": {"clips": clips}}, f, indent=4)
PY
sync

now() { date +%s.%N; }
# seconds of "$@" followed by sync
timed() { t0=$(now); "$@"; sync; t1=$(now); awk "BEGIN{print $t1 - $t0}"; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
run_cp() { cp -r "$IN/clips" "$WORK/cp"; }
run_shard() {
    $SHARD --input-clip-path "$IN" --output-dataset-path "$WORK/out" --t5-embeddings empty 2>"$WORK/shard.log" ||
        { cat "$WORK/shard.log" >&2; echo "shard failed" >&2; exit 1; }
}
BYTES=$(du -sb "$IN/clips" | cut -f1)
printf 'clips: %d x %d MB = %d bytes, %s\n' "$N" "$CLIP_MB" "$BYTES" "$SHARD"

# warm: clip bytes in the page cache; cold: caches dropped before each run
# (needs root; skipped otherwise). Tools alternate so neither always runs
# right after the other's writeback.
for mode in warm cold; do
    if [ $mode = cold ] && ! drop_caches; then echo "cold: cannot drop caches (not root), skipped"; continue; fi
    cps=""; shards=""
    for i in 1 2 3; do
        rm -rf "$WORK/cp" "$WORK/out"; sync
        [ $mode = cold ] && drop_caches || cat "$IN"/clips/* > /dev/null
        c=$(timed run_cp)
        rm -rf "$WORK/cp"; sync
        [ $mode = cold ] && drop_caches || cat "$IN"/clips/* > /dev/null
        s=$(timed run_shard)
        got=$(cat "$WORK"/out/v0/*/*/*/video/*/*.tar | wc -c)
        [ "$got" -gt "$BYTES" ] || { echo "shard output too small ($got bytes)" >&2; exit 1; }
        echo "$mode run $i: cp -r ${c}s  shard ${s}s"
        cps="$cps $c"; shards="$shards $s"
    done
    c=$(median3 $cps); s=$(median3 $shards)
    awk -v b="$BYTES" -v c="$c" -v s="$s" -v m="$mode" 'BEGIN {
        printf "%s median: cp -r %.2f s (%.0f MiB/s), shard %.2f s (%.0f MiB/s): shard/cp throughput %.2fx (target >= 0.8x)\n",
               m, c, b / c / 1048576, s, b / s / 1048576, c / s }'
done
rm -rf "$WORK"
