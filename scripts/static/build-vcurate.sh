#!/bin/sh
# Link a vcurate that runs on a machine without FFmpeg or any of vcurate's
# -dev libraries (the GPU machine: Ubuntu 24.04, glibc 2.39): everything
# static (the FFmpeg of build-ffmpeg.sh, the libcurl of build-curl.sh, and
# libarchive of build-libarchive.sh, Debian's .a archives of openh264, x264,
# webp, jansson, OpenSSL,
# OpenBLAS + libgfortran, and the static CUDA runtime) except glibc,
# libstdc++, and cuBLAS, which the CUDA toolkit or PyTorch's wheels provide
# there. No change to meson.build: meson's prefer_static picks the .a of
# every library it finds through pkg-config or find_library.
#
# Out: build-static/vc/src/cli/vcurate, plus two small tools for the GPU
# benchmark (bench/gpu-vcurate): decode_only and loopmux; stripped copies of
# the three in build-static/bin (scripts/static/pack-carry.sh packs them).
# Usage: scripts/static/build-vcurate.sh [JOBS]   (default 2)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
jobs=${1:-2}
st=$root/build-static
bld=$st/vc
ff=$st/ffmpeg
export PKG_CONFIG_PATH="$ff/lib/pkgconfig:$st/curl/lib/pkgconfig:$st/libarchive/lib/pkgconfig"
for d in "$ff" "$st/curl" "$st/libarchive"; do
    [ -d "$d/lib/pkgconfig" ] || { echo "missing $d: run scripts/static/build-{ffmpeg,curl,libarchive}.sh" >&2; exit 1; }
done

cd "$root"
if [ ! -f "$bld/build.ninja" ]; then
    meson setup "$bld" --buildtype=release -Dtests=false -Dcuda=enabled \
        -Dprefer_static=true -Db_ndebug=if-release \
        -Dc_link_args='-static-libgcc'
fi
ninja -C "$bld" -j"$jobs" src/cli/vcurate

# The benchmark's helpers, linked the same way against the same archives:
# every -lX that has a libX.a where gcc looks becomes that .a (the -L
# folders of the static prefixes hold only .a files anyway).
staticize() {
    ldirs=""
    for f in "$@"; do case $f in -L*) ldirs="$ldirs ${f#-L}" ;; esac; done
    for f in "$@"; do
        case $f in
            -lm|-lpthread|-ldl|-lrt|-pthread) echo "$f" ;;
            -l*) a=""
                 for d in $ldirs; do
                     [ -f "$d/lib${f#-l}.a" ] && { a=$d/lib${f#-l}.a; break; }
                 done
                 [ -n "$a" ] || a=$(gcc -print-file-name="lib${f#-l}.a")
                 if [ -f "$a" ]; then echo "$a"; else echo "$f"; fi ;;
            *) echo "$f" ;;
        esac
    done
}
libs=$(staticize $(pkg-config --static --libs libavformat libavcodec libswscale libavutil libcurl libcrypto))
cflags="-O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Isrc $(pkg-config --cflags libavformat)"
# decode_only uses vcurate's decoder, which reads through src/storage (S3 too)
gcc $cflags -o "$bld/decode_only" bench/gpu-vcurate/decode_only.c \
    "$bld/src/video/libvc_video.a" "$bld/src/storage/libvc_storage.a" "$bld/src/util/libvc_util.a" \
    $libs -static-libgcc
gcc $cflags -o "$bld/loopmux" bench/gpu-vcurate/loopmux.c $libs -static-libgcc

mkdir -p "$st/bin"
for b in src/cli/vcurate decode_only loopmux; do
    strip -o "$st/bin/$(basename $b)" "$bld/$b"
done
ls -l "$st/bin"
for b in "$st"/bin/*; do echo "== $b"; ldd "$b"; done
