#!/usr/bin/env bash
# Quick start: fetch what is missing, build, and boot the default guest
# (Debian Linux to a busybox shell) in a window, or headless on this
# terminal when there is no display. Extra arguments go to `oxpc run`.
set -euo pipefail
cd "$(dirname "$0")"
cache=${OXPC_CACHE:-$HOME/.cache/oxpc}

roms/install-host-tools.sh
roms/fetch.sh
cargo build --release -p machine

if [ "$#" -eq 0 ]; then
    set -- --kernel "$cache/guests/vmlinuz" --initrd "$cache/guests/initrd.gz" \
        --append "console=ttyS0 console=tty0 noapic nolapic"
fi
exec target/release/oxpc run "$@"
