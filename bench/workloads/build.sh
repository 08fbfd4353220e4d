#!/usr/bin/env bash
# Builds oxpc's benchmark workloads as one static i386 multi-call program:
#   gcc -m32 -static -O2  ->  ${OXPC_CACHE:-$HOME/.cache/oxpc}/bench/oxpc-bench
# with a symlink oxpc-<name> -> oxpc-bench per workload (one copy of glibc
# instead of seven keeps the initramfs small), plus bench/run-all (the
# in-guest runner, copied into the initramfs). Each <name>.c is a complete
# program on its own (`gcc -m32 -static -O2 sort.c`); here its main is renamed.
# Needs gcc-multilib (roms/install-host-tools.sh). Rebuilds only when a source
# is newer than the binary.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OXPC_CACHE:-$HOME/.cache/oxpc}/bench
CC=${CC:-gcc}
CFLAGS=(-m32 -O2 -std=c11 -Wall -Wextra -Werror -fno-pie)
WORKLOADS=(sort crc32 sha256 matmul bytecode strsearch fpu)
mkdir -p "$OUT"

if ! "$CC" -m32 -static -x c -o /dev/null - <<<'int main(void){return 0;}' 2>/dev/null; then
    echo "build.sh: $CC -m32 -static does not work; install gcc-multilib (roms/install-host-tools.sh)" >&2
    exit 1
fi

bin=$OUT/oxpc-bench
stale=0
[ -f "$bin" ] || stale=1
for src in "$HERE"/*.c "$HERE"/*.h "$HERE/build.sh"; do
    [ "$src" -nt "$bin" ] && stale=1
done
if [ "$stale" -eq 1 ]; then
    echo "build.sh: building $bin"
    OBJ=$(mktemp -d)
    trap 'rm -rf "$OBJ"' EXIT
    for w in "${WORKLOADS[@]}"; do
        "$CC" "${CFLAGS[@]}" "-Dmain=oxpc_${w}_main" -c -o "$OBJ/$w.o" "$HERE/$w.c"
    done
    "$CC" "${CFLAGS[@]}" -c -o "$OBJ/multi.o" "$HERE/multi.c"
    "$CC" -m32 -static -no-pie -o "$bin.tmp" "$OBJ"/*.o -lm
    strip "$bin.tmp"
    mv "$bin.tmp" "$bin"
fi
for w in "${WORKLOADS[@]}"; do
    ln -sfn oxpc-bench "$OUT/oxpc-$w"
done
install -m 0755 "$HERE/guest-run-all.sh" "$OUT/run-all"
echo "build.sh: workloads in $OUT"
