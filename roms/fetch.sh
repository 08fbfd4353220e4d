#!/usr/bin/env bash
# roms/fetch.sh: provision oxpc's firmware and guests from Debian's packages.
#
#   roms/fetch.sh                  fetch what is missing, build what is stale
#   roms/fetch.sh --firmware-only  only SeaBIOS and its VGA BIOSes
#   roms/fetch.sh --force          download and rebuild everything
#
# Produces, under ${OXPC_CACHE:-$HOME/.cache/oxpc}:
#   firmware/bios.bin, bios-256k.bin, vgabios-*.bin   (Debian `seabios`)
#   guests/vmlinuz        Debian's i386 non-PAE 686 kernel (bzImage)
#   guests/initrd.gz      busybox initramfs (roms/initramfs/), the kernel's
#                         ATA/disk/CD/FAT modules, /bench workloads
#   guests/disk.img       64 MiB IDE disk: MBR, FAT16 boot partition with
#                         syslinux + kernel + initrd, FAT16 data partition
#   guests/linux.iso      ISOLINUX El Torito CD with the same kernel + initrd
#   guests/freedos-serial.img  FreeDOS floppy whose AUTOEXEC.BAT prints
#                         OXPC-DOS-READY on COM1 and does CTTY COM1
#   guests/MANIFEST       package versions, kernel command line, sha256s
#   bench/*               i386 workloads (bench/workloads/build.sh)
#
# i386 packages come through `apt-get download` with a private apt state in
# $OXPC_CACHE/apt (the host's apt configuration and state are only read).
# Once everything is cached a re-run needs no network and takes seconds.
# Host tools: roms/install-host-tools.sh.
#
# Environment: OXPC_CACHE, OXPC_CMDLINE (kernel command line of the disk and
# the ISO), OXPC_FREEDOS_IMG (the FreeDOS floppy to copy).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
CACHE=${OXPC_CACHE:-$HOME/.cache/oxpc}
# The one place the guests' kernel command line is set. `noapic nolapic`:
# see ../shared/GUESTS.md (no I/O APIC on the machine). The last console=
# becomes /dev/console; init starts a shell on every console anyway.
CMDLINE=${OXPC_CMDLINE:-"console=ttyS0 console=tty0 noapic nolapic"}
FREEDOS_SRC=${OXPC_FREEDOS_IMG:-$REPO/../shared/guests/freedos.boot.disk.1.4MB.img}
DISK_MIB=64
BOOT_PART_MIB=24

FIRMWARE_ONLY=0
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --firmware-only) FIRMWARE_ONLY=1 ;;
        --force) FORCE=1 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "fetch.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

log() { echo "fetch.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Tools live in /sbin and /usr/sbin for non-root users too.
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C
for t in apt-get apt-cache dpkg-deb sha256sum; do
    command -v "$t" >/dev/null || die "$t not found (this script needs a Debian/Ubuntu host)"
done

DEBS=$CACHE/debs
FW=$CACHE/firmware
GUESTS=$CACHE/guests
BUILD=$CACHE/build
BENCH=$CACHE/bench
mkdir -p "$DEBS" "$FW" "$GUESTS" "$BUILD"

# Several test runs on one machine share the cache: one fetch at a time.
# (Finished products are replaced by rename, so readers never see half a file.)
if command -v flock >/dev/null; then
    exec 9>"$CACHE/.fetch.lock"
    flock 9
fi

# ---------------------------------------------------------------- apt ----
APT=$CACHE/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"
APTO=(
    -o APT::Architecture=i386 -o APT::Architectures=i386
    -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
    -o Dir::State::status=/dev/null -o Debug::NoLocking=1
)
# As root, apt drops to the _apt user for downloads, which cannot write into
# a cache under /root: download as root instead.
[ "$(id -u)" -eq 0 ] && APTO+=(-o APT::Sandbox::User=root)
APT_UPDATED=0

apt_update() {
    [ "$APT_UPDATED" -eq 1 ] && return 0
    log "updating the private i386 package lists in $APT"
    # A failing secondary index (e.g. security) only warns; the main lists
    # are what we need and are checked by the callers.
    apt-get "${APTO[@]}" -q update </dev/null >&2 || log "apt-get update reported errors (continuing)"
    APT_UPDATED=1
}

have_lists() { ls "$APT/lists/"*_Packages* >/dev/null 2>&1; }

# Prints the candidate version of a package in the private lists, or nothing.
apt_candidate() {
    apt-cache "${APTO[@]}" policy "$1" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2 }'
}

# fetch_deb PACKAGE: prints the path of PACKAGE's .deb in $DEBS, downloading
# it when missing (or with --force).
fetch_deb() {
    local pkg=$1 f
    f=$(ls -1 "$DEBS/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n1 || true)
    if [ -n "$f" ] && [ "$FORCE" -eq 0 ]; then
        echo "$f"
        return 0
    fi
    have_lists || apt_update
    [ -n "$(apt_candidate "$pkg")" ] || apt_update
    [ -n "$(apt_candidate "$pkg")" ] || die "package $pkg not found in the i386 lists"
    rm -f "$DEBS/${pkg}_"*.deb
    log "downloading $pkg $(apt_candidate "$pkg")"
    if ! (cd "$DEBS" && apt-get "${APTO[@]}" -q download "$pkg" </dev/null >&2); then
        apt_update # stale lists give 404s: refresh once
        (cd "$DEBS" && apt-get "${APTO[@]}" -q download "$pkg" </dev/null >&2) \
            || die "cannot download $pkg"
    fi
    f=$(ls -1 "$DEBS/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$f" ] || die "download of $pkg left no .deb in $DEBS"
    echo "$f"
}

deb_field() { dpkg-deb -f "$1" "$2"; }

# The newest non-PAE 686 kernel; the -unsigned build when the lists have it
# (same bzImage without the EFI signature), else the signed one. Offline, the
# newest kernel .deb already cached.
kernel_package() {
    local cached names newest
    cached=$(ls -1 "$DEBS"/linux-image-*-686_*.deb "$DEBS"/linux-image-*-686-unsigned_*.deb 2>/dev/null \
        | sort -V | tail -n1 || true)
    if [ -n "$cached" ] && [ "$FORCE" -eq 0 ]; then
        deb_field "$cached" Package
        return 0
    fi
    have_lists || apt_update
    [ "$FORCE" -eq 1 ] && apt_update
    names=$(apt-cache "${APTO[@]}" search --names-only '^linux-image-[0-9.]+-[0-9]+-686(-unsigned)?$' \
        | awk '{print $1}' | sort -u)
    [ -n "$names" ] || die "no linux-image-*-686 kernel in the i386 lists"
    newest=$(echo "$names" | sed 's/-unsigned$//' | sort -V | tail -n1)
    if echo "$names" | grep -qx -- "$newest-unsigned"; then
        echo "$newest-unsigned"
    else
        echo "$newest"
    fi
}

# stamp_ok NAME HASH: true when product NAME was built from inputs HASH and
# its outputs still exist (checked by the caller).
stamp_ok() { [ "$FORCE" -eq 0 ] && [ -f "$BUILD/$1.stamp" ] && [ "$(cat "$BUILD/$1.stamp")" = "$2" ]; }
stamp_set() { echo "$2" >"$BUILD/$1.stamp"; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ----------------------------------------------------------- firmware ----
SEABIOS_DEB=$(fetch_deb seabios)
fw_hash=$(echo "$SEABIOS_DEB" | hash_of -)
if stamp_ok firmware "$fw_hash" && [ -f "$FW/bios.bin" ]; then
    log "firmware up to date ($FW)"
else
    log "extracting SeaBIOS into $FW"
    rm -rf "$BUILD/seabios" && mkdir -p "$BUILD/seabios"
    dpkg-deb -x "$SEABIOS_DEB" "$BUILD/seabios"
    for f in "$BUILD/seabios/usr/share/seabios/"*.bin; do
        cp "$f" "$FW/.tmp" && mv "$FW/.tmp" "$FW/$(basename "$f")"
    done
    cp "$BUILD/seabios/usr/share/doc/seabios/copyright" "$FW/COPYRIGHT.seabios"
    rm -rf "$BUILD/seabios"
    stamp_set firmware "$fw_hash"
fi

write_manifest() {
    local m=$GUESTS/MANIFEST
    {
        echo "# oxpc firmware and guests, made by roms/fetch.sh"
        echo "seabios: $(deb_field "$SEABIOS_DEB" Version)"
        if [ "$FIRMWARE_ONLY" -eq 0 ]; then
            echo "kernel: $KPKG $(deb_field "$KDEB" Version) (release $KVER)"
            echo "busybox: busybox-static $(deb_field "$BBDEB" Version)"
            echo "cmdline: $CMDLINE"
            echo "disk.img: MBR (syslinux mbr.bin); p1 FAT16 boot at sector 2048 (1 MiB),"
            echo "  p2 FAT16 data at sector $((2048 + BOOT_PART_MIB * 2048)) ($((1 + BOOT_PART_MIB)) MiB), label OXPCDATA"
            echo "freedos-serial.img: $(basename "$FREEDOS_SRC") with AUTOEXEC.BAT from roms/freedos/"
        fi
        echo "# sha256  bytes  path (relative to $CACHE)"
        (cd "$CACHE" && for f in firmware/*.bin guests/vmlinuz guests/initrd.gz guests/disk.img \
            guests/linux.iso guests/freedos-serial.img bench/oxpc-*; do
            if [ ! -f "$f" ] || [ -L "$f" ]; then continue; fi
            echo "$(sha256sum "$f" | cut -d' ' -f1)  $(stat -c %s "$f")  $f"
        done)
    } >"$m.tmp"
    mv "$m.tmp" "$m"
}

if [ "$FIRMWARE_ONLY" -eq 1 ]; then
    write_manifest
    log "done (firmware only): $FW"
    exit 0
fi

# ----------------------------------------------------- host tool check ----
missing=()
for t in cpio gzip depmod modprobe mkfs.fat mcopy syslinux sfdisk xorriso; do
    command -v "$t" >/dev/null || missing+=("$t")
done
for f in /usr/lib/syslinux/mbr/mbr.bin /usr/lib/ISOLINUX/isolinux.bin \
    /usr/lib/syslinux/modules/bios/ldlinux.c32; do
    [ -f "$f" ] || missing+=("$f")
done
[ "${#missing[@]}" -eq 0 ] || die "missing host tools: ${missing[*]} (run roms/install-host-tools.sh)"

# ------------------------------------------------------ kernel + busybox ----
KPKG=$(kernel_package)
KDEB=$(fetch_deb "$KPKG")
BBDEB=$(fetch_deb busybox-static)
# Debian names the package after the release: linux-image-<release>[-unsigned]
# (checked when the package is unpacked; listing the .deb would take seconds).
KVER=${KPKG#linux-image-}
KVER=${KVER%-unsigned}

# -------------------------------------------------------------- bench ----
if gcc -m32 -static -x c -o /dev/null - <<<'int main(void){return 0;}' 2>/dev/null; then
    OXPC_CACHE=$CACHE "$REPO/bench/workloads/build.sh" >&2
else
    log "gcc -m32 -static does not work (no gcc-multilib?): initramfs without /bench"
fi

# ------------------------------------------------------------ initrd ----
KROOT=$BUILD/kernel-root
initrd_hash=$( (
    echo "$KDEB $BBDEB"
    cat "$HERE/fetch.sh" "$HERE/initramfs/"*
    for f in "$BENCH"/oxpc-bench "$BENCH"/run-all; do [ -f "$f" ] && cat "$f"; done
    ls "$BENCH" 2>/dev/null || true
) | hash_of -)
if stamp_ok initrd "$initrd_hash" && [ -f "$GUESTS/initrd.gz" ] && [ -f "$GUESTS/vmlinuz" ]; then
    log "kernel and initramfs up to date"
else
    log "unpacking $(basename "$KDEB")"
    rm -rf "$KROOT" && mkdir -p "$KROOT"
    dpkg-deb -x "$KDEB" "$KROOT"
    [ -f "$KROOT/boot/vmlinuz-$KVER" ] || die "no /boot/vmlinuz-$KVER in $KDEB"
    cp "$KROOT/boot/vmlinuz-$KVER" "$GUESTS/vmlinuz.tmp" && mv "$GUESTS/vmlinuz.tmp" "$GUESTS/vmlinuz"
    # The .deb ships no modules.dep.
    depmod -b "$KROOT" "$KVER"

    ST=$BUILD/initramfs
    rm -rf "$ST" && mkdir -p "$ST"/{bin,sbin,etc,proc,sys,dev,tmp,mnt/data,mnt/cdrom,root,usr/bin,usr/sbin,bench}
    chmod 1777 "$ST/tmp"
    rm -rf "$BUILD/busybox" && mkdir -p "$BUILD/busybox"
    dpkg-deb -x "$BBDEB" "$BUILD/busybox"
    cp "$BUILD/busybox/bin/busybox" "$ST/bin/busybox"
    ln -s busybox "$ST/bin/sh"
    install -m 0755 "$HERE/initramfs/init" "$ST/init"
    install -m 0644 "$HERE/initramfs/profile" "$ST/etc/profile"
    install -m 0755 "$HERE/initramfs/oxpc-shutdown" "$ST/sbin/oxpc-shutdown"
    echo "root:x:0:0:root:/root:/bin/sh" >"$ST/etc/passwd"
    echo "root:x:0:" >"$ST/etc/group"

    # Modules: each list holds the closure of its modules in load order.
    MD=$ST/lib/modules/$KVER
    mkdir -p "$MD/oxpc"
    cp "$KROOT/lib/modules/$KVER/modules.builtin" "$MD/" 2>/dev/null || true
    : >"$MD/modules.order"
    : >"$MD/modules.builtin.modinfo"
    # Parameters for insmod, by module file. pata_legacy: only the primary
    # and secondary ports (it would also poke 0x1E8, 0x168, ...).
    module_params() {
        case "${1##*/}" in
            pata_legacy.ko) echo "probe_mask=3" ;;
        esac
    }
    add_list() {
        local list=$1 m line path rel
        shift
        : >"$MD/oxpc/$list.list"
        for m in "$@"; do
            # "insmod /abs/path.ko" lines, dependencies first; "builtin x" skipped.
            modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" 2>/dev/null | while read -r line; do
                case "$line" in insmod\ *) ;; *) continue ;; esac
                path=${line#insmod }
                path=${path%% *}
                rel=${path#"$KROOT/lib/modules/$KVER/"}
                mkdir -p "$MD/$(dirname "$rel")"
                case "$rel" in
                    *.ko.xz) xz -dc "$path" >"$MD/${rel%.xz}"; rel=${rel%.xz} ;;
                    *.ko.zst) zstd -qdc "$path" >"$MD/${rel%.zst}"; rel=${rel%.zst} ;;
                    *.ko.gz) gzip -dc "$path" >"$MD/${rel%.gz}"; rel=${rel%.gz} ;;
                    *) cp "$path" "$MD/$rel" ;;
                esac
                grep -q "^$rel\( \|\$\)" "$MD/oxpc/$list.list" \
                    || echo "$rel $(module_params "$rel")" >>"$MD/oxpc/$list.list"
            done || log "module $m not in $KPKG"
        done
    }
    add_list fs vfat isofs nls_cp437 nls_ascii nls_iso8859-1 nls_utf8
    add_list disk sd_mod sr_mod
    add_list piix ata_piix
    add_list legacy pata_legacy
    depmod -b "$ST" "$KVER"

    if ls "$BENCH"/oxpc-* >/dev/null 2>&1; then
        cp -P "$BENCH"/oxpc-* "$ST/bench/" # oxpc-<name> are symlinks to oxpc-bench
        [ -f "$BENCH/run-all" ] && install -m 0755 "$BENCH/run-all" "$ST/bench/run-all"
    fi

    # Fixed times and owners, sorted names: the same inputs give the same
    # initrd.gz. /dev/console is added as a hand-made newc entry so that
    # building needs no root (the kernel opens it before running /init).
    find "$ST" -exec touch -h -d @0 {} +
    (cd "$ST" && find . -mindepth 1 | sed 's#^\./##' | sort \
        | cpio --quiet --reproducible -o -H newc -R 0:0 >"$BUILD/initrd.cpio.body")
    newc_entry() { # name mode rdevmajor rdevminor
        local name=$1 namesize=$((${#1} + 1)) hdr pad
        hdr=$(printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
            0 "$2" 0 0 1 0 0 0 0 "$3" "$4" "$namesize" 0)
        printf '%s%s\0' "$hdr" "$name"
        pad=$(((4 - (110 + namesize) % 4) % 4))
        head -c "$pad" /dev/zero
    }
    {
        newc_entry dev/console $((0020000 | 0600)) 5 1
        newc_entry TRAILER!!! 0 0 0
    } >"$BUILD/initrd.cpio.dev"
    # After the main archive, so that dev/ already exists.
    cat "$BUILD/initrd.cpio.body" "$BUILD/initrd.cpio.dev" | gzip -n -9 >"$GUESTS/initrd.gz.tmp"
    mv "$GUESTS/initrd.gz.tmp" "$GUESTS/initrd.gz"
    rm -rf "$KROOT" "$BUILD/busybox" "$BUILD"/initrd.cpio.*
    stamp_set initrd "$initrd_hash"
    log "initramfs: $(stat -c %s "$GUESTS/initrd.gz") bytes"
fi

# ---------------------------------------------------------- disk.img ----
SYSLINUX_CFG="SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  APPEND initrd=/initrd.gz $CMDLINE"
boot_hash=$( (
    echo "$CMDLINE $DISK_MIB $BOOT_PART_MIB"
    cat "$HERE/fetch.sh" "$GUESTS/vmlinuz" "$GUESTS/initrd.gz"
) | hash_of -)
if stamp_ok disk "$boot_hash" && [ -f "$GUESTS/disk.img" ]; then
    log "disk.img up to date"
else
    log "building disk.img (${DISK_MIB} MiB)"
    D=$GUESTS/disk.img.tmp
    rm -f "$D"
    truncate -s "${DISK_MIB}M" "$D"
    p1_start=2048
    p1_size=$((BOOT_PART_MIB * 2048))
    p2_start=$((p1_start + p1_size))
    p2_size=$((DISK_MIB * 2048 - p2_start))
    # Type 6 = FAT16 (CHS/LBA agnostic); p1 is active.
    printf 'label: dos\nunit: sectors\nstart=%d, size=%d, type=6, bootable\nstart=%d, size=%d, type=6\n' \
        "$p1_start" "$p1_size" "$p2_start" "$p2_size" | sfdisk -q --no-reread --no-tell-kernel "$D" >/dev/null
    dd if=/usr/lib/syslinux/mbr/mbr.bin of="$D" bs=440 count=1 conv=notrunc status=none
    mkfs.fat -F 16 -n OXPCBOOT -i 0c5b0001 --offset "$p1_start" "$D" $((p1_size / 2)) >/dev/null 2>&1 \
        || die "mkfs.fat failed"
    mkfs.fat -F 16 -n OXPCDATA -i 0c5b0002 --offset "$p2_start" "$D" $((p2_size / 2)) >/dev/null 2>&1 \
        || die "mkfs.fat failed"
    echo "$SYSLINUX_CFG" >"$BUILD/syslinux.cfg"
    export MTOOLS_SKIP_CHECK=1
    mcopy -i "$D@@$((p1_start * 512))" "$GUESTS/vmlinuz" "$GUESTS/initrd.gz" "$BUILD/syslinux.cfg" ::/
    syslinux --offset $((p1_start * 512)) --install "$D"
    printf 'OXPC-DISK-DATA\r\n' >"$BUILD/HELLO.TXT"
    mcopy -i "$D@@$((p2_start * 512))" "$BUILD/HELLO.TXT" ::/HELLO.TXT
    mv "$D" "$GUESTS/disk.img"
    stamp_set disk "$boot_hash"
fi

# --------------------------------------------------------- linux.iso ----
if stamp_ok iso "$boot_hash" && [ -f "$GUESTS/linux.iso" ]; then
    log "linux.iso up to date"
else
    log "building linux.iso"
    I=$BUILD/iso
    rm -rf "$I" && mkdir -p "$I/isolinux"
    cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$I/isolinux/"
    echo "$SYSLINUX_CFG" >"$I/isolinux/isolinux.cfg"
    cp "$GUESTS/vmlinuz" "$GUESTS/initrd.gz" "$I/"
    xorriso -as mkisofs -quiet -o "$GUESTS/linux.iso.tmp" -V OXPC -R -J \
        -b isolinux/isolinux.bin -c isolinux/boot.cat \
        -no-emul-boot -boot-load-size 4 -boot-info-table "$I" 2>/dev/null
    mv "$GUESTS/linux.iso.tmp" "$GUESTS/linux.iso"
    rm -rf "$I"
    stamp_set iso "$boot_hash"
fi

# -------------------------------------------------- freedos-serial.img ----
if [ -f "$FREEDOS_SRC" ]; then
    dos_hash=$(cat "$HERE/fetch.sh" "$FREEDOS_SRC" "$HERE/freedos/AUTOEXEC.BAT" | hash_of -)
    if stamp_ok freedos "$dos_hash" && [ -f "$GUESTS/freedos-serial.img" ]; then
        log "freedos-serial.img up to date"
    else
        log "building freedos-serial.img"
        F=$GUESTS/freedos-serial.img.tmp
        cp "$FREEDOS_SRC" "$F"
        chmod 0644 "$F" # the tests write to it
        sed 's/\r*$/\r/' "$HERE/freedos/AUTOEXEC.BAT" >"$BUILD/AUTOEXEC.BAT"
        MTOOLS_SKIP_CHECK=1 mcopy -o -i "$F" "$BUILD/AUTOEXEC.BAT" ::/AUTOEXEC.BAT
        mv "$F" "$GUESTS/freedos-serial.img"
        stamp_set freedos "$dos_hash"
    fi
else
    log "no FreeDOS image at $FREEDOS_SRC: skipping freedos-serial.img (set OXPC_FREEDOS_IMG)"
fi

write_manifest
log "done: $GUESTS"
