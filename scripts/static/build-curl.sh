#!/bin/sh
# A static libcurl (Debian's 7.88.1 source) with HTTP(S) over OpenSSL only,
# into build-static/curl. Debian's libcurl.a needs libraries that Debian
# ships only as .so (nghttp2, rtmp, ssh2, psl, krb5, ldap); vcurate uses
# libcurl for HTTPS model downloads only.
# Usage: scripts/static/build-curl.sh [JOBS]   (default 2)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
jobs=${1:-2}
src=$root/build-static/src/curl-7.88.1
prefix=$root/build-static/curl
obj=$root/build-static/curl-obj

if [ ! -d "$src" ]; then
    mkdir -p "$root/build-static/src"
    (cd "$root/build-static/src" && apt-get source curl=7.88.1-10+deb12u15)
fi
mkdir -p "$obj"
cd "$obj"
"$src/configure" --prefix="$prefix" \
    --disable-shared --enable-static --with-pic=no \
    --with-openssl --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --with-ca-path=/etc/ssl/certs \
    --disable-manual --disable-docs --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
    --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp \
    --disable-gopher --disable-mqtt --disable-ftp --disable-file --disable-ntlm --disable-alt-svc \
    --without-libidn2 --without-nghttp2 --without-libpsl --without-brotli --without-zstd \
    --without-libssh2 --without-librtmp --without-zlib --without-gssapi
make -j"$jobs" -C lib
make -C lib install
make install-pkgconfigDATA 2>/dev/null || make install-pkgconfigDATA -C . 
make -C include install
echo "static libcurl installed in $prefix"
