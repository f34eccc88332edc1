#!/bin/sh
# Installs the Debian 12 packages vcurate needs to build, test and demo.
# Runs apt-get as root, or through sudo; skips the install when all are present.
set -e
PKGS="build-essential meson ninja-build pkg-config clang ffmpeg
libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
libx264-dev libopenh264-dev libjansson-dev libwebp-dev libssl-dev libcmocka-dev libarchive-dev
libopenblas-dev libcurl4-openssl-dev libsentencepiece-dev libjpeg62-turbo-dev libturbojpeg0-dev
python3 python3-numpy python3-opencv python3-av python3-torch python3-sentencepiece python3-pil
swift swift-proxy swift-account swift-container swift-object memcached python3-boto3"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "vcurate: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
