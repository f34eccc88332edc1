#!/bin/sh
# Shot-detection accuracy (issue 2): vcurate content/adaptive vs ffmpeg scdet
# and select='gt(scene,0.3)' on the ground-truth video built from real footage
# (the one tests/detect/test_accuracy.py asserts on) and on HELDOUT held-out
# rearrangements of it (default 3), same +-2-frame matching rule for all.
# Usage: bench/accuracy/compare.sh [VCURATE [SAMPLES_DIR]]   (from the repo root)
# Prints markdown tables; the raw figures go to bench/out/accuracy.json.
set -eu
VCURATE=${1:-build/src/cli/vcurate}
SAMPLES=${2:-samples}
HELDOUT=${HELDOUT:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
"$ROOT/scripts/fetch-samples.sh" "$SAMPLES" >/dev/null || true
bases="$SAMPLES/groundtruth"
/usr/bin/python3 "$ROOT/scripts/make-groundtruth.py" --samples "$SAMPLES" --out "$SAMPLES/groundtruth" --if-missing
v=1
while [ "$v" -le "$HELDOUT" ]; do
    /usr/bin/python3 "$ROOT/scripts/make-groundtruth.py" --samples "$SAMPLES" \
        --out "$SAMPLES/groundtruth-v$v" --variant "$v" --if-missing
    bases="$bases $SAMPLES/groundtruth-v$v"
    v=$((v + 1))
done
mkdir -p "$ROOT/bench/out"
# shellcheck disable=SC2086
/usr/bin/python3 "$ROOT/bench/accuracy/compare.py" "$VCURATE" $bases --json "$ROOT/bench/out/accuracy.json"
