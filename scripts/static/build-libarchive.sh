#!/bin/sh
# A static libarchive (Debian's 3.6.2 source) without XML, crypto or extra
# compressors, into build-static/libarchive. Debian's libarchive.a cannot be
# used for a static vcurate: writing ustar pulls in the format table, hence
# the xar writer, hence libxml2.a, hence ICU (30 MB of data). vcurate only
# writes ustar tars (src/shard/tarwriter.c).
# Usage: scripts/static/build-libarchive.sh [JOBS]   (default 2)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
jobs=${1:-2}
src=$root/build-static/src/libarchive-3.6.2
prefix=$root/build-static/libarchive
obj=$root/build-static/libarchive-obj

if [ ! -d "$src" ]; then
    mkdir -p "$root/build-static/src"
    (cd "$root/build-static/src" && apt-get source libarchive=3.6.2-1+deb12u5)
fi
# Debian's patches touch configure.ac/Makefile.am; the shipped configure
# is fine, so mark the generated files newer (no autotools needed).
(cd "$src" && touch aclocal.m4 && sleep 1 && touch configure Makefile.in \
    && find . -name 'config.h.in' -exec touch {} +)
mkdir -p "$obj"
cd "$obj"
"$src/configure" --prefix="$prefix" --disable-shared --enable-static \
    --disable-bsdtar --disable-bsdcat --disable-bsdcpio --disable-acl --disable-xattr \
    --without-xml2 --without-expat --without-openssl --without-nettle --without-mbedtls \
    --without-lz4 --without-zstd --without-lzma --without-bz2lib --without-libb2 \
    --without-lzo2 --without-cng --with-zlib
make -j"$jobs" libarchive.la
make install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
# iconv is glibc's own here: no iconv.pc to require
sed -i '/^Requires.private: *iconv *$/d' "$prefix/lib/pkgconfig/libarchive.pc"
echo "static libarchive installed in $prefix"
