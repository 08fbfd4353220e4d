#!/bin/sh
# /bench/run-all inside the oxpc guest (and usable natively): runs every
# workload once at the given size (quick, full or a unit count).
# The harness times each workload between its OXPC-BENCH-START and
# OXPC-BENCH-END lines; this script adds OXPC-BENCH-ALL-DONE at the end.
size=${1:-quick}
dir=$(dirname "$0")
for w in sort crc32 sha256 matmul bytecode strsearch fpu; do
    "$dir/oxpc-$w" "$size" || echo "OXPC-BENCH-FAIL $w"
done
echo OXPC-BENCH-ALL-DONE
