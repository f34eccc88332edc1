#!/bin/sh
# Build a small static FFmpeg (Debian's 5.1.9 source, the version the system
# -dev packages have) with only what vcurate uses, into build-static/ffmpeg.
# Used to link a vcurate binary that runs on a machine with no FFmpeg
# (the GPU machine): see scripts/static/build-vcurate.sh.
#
# Needs (once): a deb-src entry mirroring the Debian one, and
#   apt-get install nasm libffmpeg-nvenc-dev libx264-dev zlib1g-dev
#   (cd build-static/src && apt-get source ffmpeg=7:5.1.9-0+deb12u1)
# Usage: scripts/static/build-ffmpeg.sh [JOBS]   (default 2)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
jobs=${1:-2}
src=$root/build-static/src/ffmpeg-5.1.9
prefix=$root/build-static/ffmpeg
obj=$root/build-static/ffmpeg-obj

if [ ! -d "$src" ]; then
    mkdir -p "$root/build-static/src"
    (cd "$root/build-static/src" && apt-get source ffmpeg=7:5.1.9-0+deb12u1)
fi

mkdir -p "$obj"
cd "$obj"
# Decoders: the common camera/web codecs (software), plus NVDEC/CUVID for
# H.264/HEVC. Encoders: libx264 and h264_nvenc (split's clip writer; the
# openh264 encoder is used through its own C API, not through libavcodec).
# Audio is only stream-copied: no audio codecs.
"$src/configure" \
    --prefix="$prefix" \
    --pkg-config-flags=--static \
    --enable-static --disable-shared \
    --disable-programs --disable-doc --disable-debug \
    --disable-everything --disable-autodetect \
    --disable-network --disable-avdevice --disable-avfilter --disable-postproc \
    --disable-swresample \
    --enable-pthreads --enable-zlib \
    --enable-gpl --enable-libx264 \
    --enable-ffnvcodec --enable-nvdec --enable-cuvid --enable-nvenc \
    --enable-decoder=h264,hevc,mpeg4,mpeg2video,mpeg1video,vp8,vp9,mjpeg,h264_cuvid,hevc_cuvid \
    --enable-hwaccel=h264_nvdec,hevc_nvdec \
    --enable-encoder=libx264,h264_nvenc \
    --enable-demuxer=mov,matroska,mpegts,avi,mpegps,h264,hevc \
    --enable-muxer=mp4,mov \
    --enable-parser=h264,hevc,mpeg4video,mpegvideo,vp8,vp9,aac,mjpeg \
    --enable-bsf=h264_mp4toannexb,hevc_mp4toannexb,aac_adtstoasc,extract_extradata,vp9_superframe_split \
    --enable-protocol=file,pipe
make -j"$jobs"
make install
echo "static FFmpeg installed in $prefix"
