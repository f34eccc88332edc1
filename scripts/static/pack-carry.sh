#!/bin/sh
# Pack build-static/bin (from build-vcurate.sh) into build-static/carry for
# the device tool's `carry`: each binary xz-compressed (vcurate: 45 MB ->
# ~7 MB), plus the few shared libraries the binary needs that are neither
# glibc, libstdc++/libgcc nor CUDA (today: libsentencepiece, for `embed`).
# bench/gpu-vcurate/run.sh unpacks it there.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
st=$root/build-static
rm -rf "$st/carry"
mkdir -p "$st/carry/lib"
for b in vcurate decode_only loopmux; do
    xz -T2 -9 -c "$st/bin/$b" > "$st/carry/$b.xz"
done
ldd "$st/bin/vcurate" | awk '$2 == "=>" { print $1, $3 }' | while read -r name path; do
    case $name in
        libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libstdc++.so*|libgcc_s.so*|libcublas*|libcuda*) ;;
        *) xz -9 -c "$path" > "$st/carry/lib/$name.xz" ;;
    esac
done
du -ab "$st/carry"
