#!/usr/bin/env bash
# Install the Debian/Ubuntu host tools that roms/fetch.sh and
# bench/workloads/build.sh need, but only the ones that are missing.
#
#   roms/install-host-tools.sh            # build tools only
#   roms/install-host-tools.sh --peers    # also qemu-system-x86 (for roms/check-with-qemu.sh)
#
# Runs `apt-get update` only when a package must be installed and the host's
# package lists do not know it. Works as root, or through sudo when it exists.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

PKGS=(
    cpio gzip xz-utils zstd kmod         # initramfs + depmod
    mtools dosfstools fdisk              # FAT disk image
    syslinux syslinux-common isolinux    # boot loaders (MBR, syslinux, ISOLINUX)
    xorriso                              # El Torito ISO
    e2fsprogs                            # mkfs.ext2 (spare filesystem tools)
    ca-certificates
    gcc gcc-multilib libc6-dev-i386      # gcc -m32 -static for bench/workloads
)

case "${1:-}" in
    --peers) PKGS+=(qemu-system-x86) ;;
    "") ;;
    *) echo "usage: $0 [--peers]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "install-host-tools: not root and no sudo; install these yourself: ${PKGS[*]}" >&2
    exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
    # dpkg-query rather than `dpkg -s | grep -q`: under pipefail the early
    # exit of grep -q can fail the pipeline with SIGPIPE.
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-host-tools: all present"
    exit 0
fi

echo "install-host-tools: installing ${missing[*]}"
# Update the lists only when apt does not know a candidate for some package.
need_update=0
for p in "${missing[@]}"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
        need_update=1
        break
    fi
done
if [ "$need_update" -eq 1 ]; then
    "${SUDO[@]}" apt-get update -q
fi
if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null; then
    # Stale lists give 404s on the mirror: refresh once and retry.
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi
