#!/usr/bin/env bash
# Boots the guests that roms/fetch.sh made under QEMU (TCG), the reference
# peer, and prints the wall time to each marker. For humans checking the
# images, not for CI (needs qemu-system-x86: roms/install-host-tools.sh
# --peers; takes about a minute and a half on 2 cores).
#
#   roms/check-with-qemu.sh [kernel|disk|iso|freedos|bench ...]   (default: all but bench)
#
# Each check drives COM1 with roms/qemu-drive.py: waits for the marker
# (OXPC-INIT-READY, OXPC-DOS-READY), types commands, waits for the answer.
# Images are copied first; the cache is never written.
#
# (shellcheck: the check_* functions are called as "check_$c"; the commands
# in single quotes are expanded by the guest's shell, not here.)
# shellcheck disable=SC2317,SC2016
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${OXPC_CACHE:-$HOME/.cache/oxpc}
G=$CACHE/guests
FW=$CACHE/firmware
QEMU=${QEMU:-qemu-system-i386}
# GUESTS.md: the 686 kernel needs family >= 5 with CMOV.
CPU=pentium,+cmov
CMDLINE=${OXPC_CMDLINE:-"console=ttyS0 noapic nolapic"}
command -v "$QEMU" >/dev/null || { echo "no $QEMU (roms/install-host-tools.sh --peers)" >&2; exit 1; }
for f in "$G/vmlinuz" "$G/initrd.gz" "$G/disk.img" "$G/linux.iso" "$FW/bios.bin"; do
    [ -f "$f" ] || { echo "missing $f: run roms/fetch.sh" >&2; exit 1; }
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SUMMARY=()
FAILED=0
LAST_OUT=

# run NAME DRIVE-ARGS... -- QEMU-ARGS...
run() {
    local name=$1 out
    shift
    echo "=== $name" >&2
    if out=$(python3 "$HERE/qemu-drive.py" "$@" 2>&1); then :; else FAILED=1; fi
    LAST_OUT=$out
    echo "$out" | tail -n 15 >&2
    SUMMARY+=("$(printf '%-28s %s' "$name" "$(echo "$out" | grep '^RESULT' || echo 'RESULT (no result)')")")
}

# Linux checks: shell commands whose answers are made by arithmetic so that
# the echoed command line never matches what is waited for.
LINUX_CMDS=(
    --send 'uname -a; grep -m1 "model name" /proc/cpuinfo; echo UNAME-$((6*7))'
    --send 'WAIT:UNAME-42'
)
DISK_CMDS=(
    --send 'mount -t vfat /dev/sda2 /mnt/data && cat /mnt/data/HELLO.TXT && echo guest >/mnt/data/GUEST.TXT && umount /mnt/data && echo DISK-$((6*7))'
    --send 'WAIT:DISK-42'
)
CD_CMDS=(
    --send 'mount -t iso9660 /dev/sr0 /mnt/cdrom && ls /mnt/cdrom && echo CD-$((6*7))'
    --send 'WAIT:CD-42'
)
OFF=(--send poweroff --done OXPC-POWEROFF)

check_kernel() {
    local m
    for m in isapc pc; do
        run "kernel+initrd ($m)" --marker OXPC-INIT-READY "${LINUX_CMDS[@]}" "${OFF[@]}" -- \
            "$QEMU" -M "$m" -cpu "$CPU" -m 128 -display none -serial stdio -no-reboot \
            -kernel "$G/vmlinuz" -initrd "$G/initrd.gz" -append "$CMDLINE"
    done
}

check_disk() {
    local m
    for m in isapc pc; do
        cp "$G/disk.img" "$TMP/disk.img"
        run "disk.img via SeaBIOS ($m)" --marker OXPC-INIT-READY "${LINUX_CMDS[@]}" "${DISK_CMDS[@]}" "${OFF[@]}" -- \
            "$QEMU" -M "$m" -cpu "$CPU" -m 128 -display none -serial stdio -no-reboot \
            -bios "$FW/bios.bin" -drive "file=$TMP/disk.img,format=raw,if=ide,index=0"
        if MTOOLS_SKIP_CHECK=1 mtype -i "$TMP/disk.img@@$((51200 * 512))" ::/GUEST.TXT 2>/dev/null | grep -q guest; then
            SUMMARY+=("$(printf '%-28s %s' "  file written by guest" "ok")")
        else
            SUMMARY+=("$(printf '%-28s %s' "  file written by guest" "MISSING")")
            FAILED=1
        fi
    done
}

check_iso() {
    local m
    for m in isapc pc; do
        run "linux.iso via SeaBIOS ($m)" --marker OXPC-INIT-READY "${LINUX_CMDS[@]}" "${CD_CMDS[@]}" "${OFF[@]}" -- \
            "$QEMU" -M "$m" -cpu "$CPU" -m 128 -display none -serial stdio -no-reboot \
            -bios "$FW/bios.bin" -cdrom "$G/linux.iso" -boot d
    done
}

check_freedos() {
    cp "$G/freedos-serial.img" "$TMP/fd.img"
    run "freedos-serial.img (isapc)" --cr --marker OXPC-DOS-READY --send 'WAIT:>' \
        --send VER --send 'WAIT:FreeCom' --send DIR --done 'bytes free' -- \
        "$QEMU" -M isapc -cpu 486 -m 16 -display none -serial stdio -no-reboot \
        -bios "$FW/bios.bin" -drive "file=$TMP/fd.img,format=raw,if=floppy,index=0" -boot a
}

# The quick benchmark workloads inside the guest (QEMU TCG timings of the
# whole run; per-workload times are in the timestamps of the log).
check_bench() {
    run "bench quick (pc)" --timeout 300 --marker OXPC-INIT-READY --send '/bench/run-all quick' \
        --send 'WAIT:OXPC-BENCH-ALL-DONE' "${OFF[@]}" -- \
        "$QEMU" -M pc -cpu "$CPU" -m 128 -display none -serial stdio -no-reboot \
        -kernel "$G/vmlinuz" -initrd "$G/initrd.gz" -append "$CMDLINE quiet"
    # Seconds between each workload's markers, and its checksum.
    while IFS= read -r line; do
        SUMMARY+=("$line")
    done < <(echo "$LAST_OUT" | awk '
        /OXPC-BENCH-START/ { s = substr($0, 2, 8) + 0 }
        /OXPC-BENCH-END/ { printf "  %-26s %.2f s (checksum %s)\n", $4, substr($0, 2, 8) - s, $5 }')
}

CHECKS=("$@")
[ "${#CHECKS[@]}" -gt 0 ] || CHECKS=(kernel disk iso freedos)
for c in "${CHECKS[@]}"; do
    case "$c" in
        kernel | disk | iso | freedos | bench) "check_$c" ;;
        *) echo "unknown check $c" >&2; exit 2 ;;
    esac
done

echo
echo "QEMU $("$QEMU" --version | head -n1 | awk '{print $4}'), seconds of wall time from start:"
printf '%s\n' "${SUMMARY[@]}"
exit "$FAILED"
