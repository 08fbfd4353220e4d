#!/usr/bin/env bash
# Runs each workload natively N times (interleaved: round 1 runs every
# workload, then round 2, ...) and prints the median, min and max wall time in
# seconds per workload, with the checksum each printed.
#
#   bench/workloads/run-native.sh [quick|full|UNITS] [N=5]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${OXPC_CACHE:-$HOME/.cache/oxpc}/bench
SIZE=${1:-quick}
N=${2:-5}
WORKLOADS=(sort crc32 sha256 matmul bytecode strsearch fpu)

OXPC_CACHE=${OXPC_CACHE:-$HOME/.cache/oxpc} "$HERE/build.sh" >/dev/null

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for ((r = 0; r < N; r++)); do
    for w in "${WORKLOADS[@]}"; do
        t0=$(date +%s%N)
        out=$("$BIN/oxpc-$w" "$SIZE")
        t1=$(date +%s%N)
        awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.6f\n", ns / 1e9 }' >>"$TMP/$w.times"
        echo "$out" | awk '/^OXPC-BENCH-END/ {print $3}' >"$TMP/$w.sum"
    done
done

printf '%-10s %8s %8s %8s  %s   (size %s, %d runs)\n' workload median min max checksum "$SIZE" "$N"
for w in "${WORKLOADS[@]}"; do
    sort -g "$TMP/$w.times" | awk -v w="$w" -v sum="$(cat "$TMP/$w.sum")" '
        { t[NR] = $1 }
        END {
            med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            printf "%-10s %8.3f %8.3f %8.3f  %s\n", w, med, t[1], t[NR], sum
        }'
done
