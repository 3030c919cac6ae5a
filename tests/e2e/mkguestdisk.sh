#!/bin/sh
# Builds, without root or loop devices, a BIOS-bootable guest disk from
# Debian's packages: MBR (syslinux's mbr.bin) + one FAT16 partition holding
# SYSLINUX, Debian's kernel and a small initramfs (tests/e2e/l2disk.c as
# /init, with the virtio modules). Also writes the data disk the guest reads
# and writes. Usage: mkguestdisk.sh E2EDIR MKCPIO L2DISK OUTDISK OUTDATA|-
# Environment (make demo's guest disk sets them): GUEST_LABEL (the FAT label,
# default GUESTBOOT), GUEST_APPEND (the kernel command line), GUEST_MODS
# (modules for the initramfs, default "virtio_pci virtio_blk virtio-rng ahci sd_mod
# sr_mod isofs vfat nls_cp437 nls_ascii": the AHCI data disk and CD-ROM
# cases too, and l2disk's boot count on its own FAT partition; "" for none).
set -eu
e2e=$1 mkcpio=$2 l2disk=$3 out=$4 data=$5
kver=$(cat "$e2e/kver")
mdir=$e2e/kroot/lib/modules/$kver
t0=$(date +%s%3N)
tmp=$out.d
rm -rf "$tmp" && mkdir -p "$tmp"

. tests/e2e/moddeps.sh
# shellcheck disable=SC2086
moddeps "$mdir" ${GUEST_MODS-virtio_pci virtio_blk virtio-rng ahci sd_mod sr_mod isofs vfat nls_cp437 nls_ascii} >"$tmp/mods" || exit 1
{
	echo "dir /dev 0755"; echo "nod /dev/console 0600 c 5 1"; echo "dir /proc 0555"
	echo "dir /lib 0755"; echo "dir /lib/modules 0755"
	echo "file /init $l2disk 0755"
	while read -r m; do echo "file /lib/modules/$(basename "$m") $mdir/$m 0644"; done <"$tmp/mods"
	while read -r m; do basename "$m"; done <"$tmp/mods" >"$tmp/modules.list"
	echo "file /modules.list $tmp/modules.list 0644"
} >"$tmp/spec"
"$mkcpio" <"$tmp/spec" | gzip -9n >"$tmp/initrd.gz"

cat >"$tmp/syslinux.cfg" <<CFG
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  APPEND initrd=initrd.gz ${GUEST_APPEND:-console=ttyS0 panic=-1 quiet}
CFG

# 24 MiB disk, partition 1 from sector 2048, FAT16, active
size_mib=24
off=$((2048 * 512))
rm -f "$out.tmp"
truncate -s ${size_mib}M "$out.tmp"
printf 'label: dos\nstart=2048, type=6, bootable\n' | sfdisk -q "$out.tmp"
mkfs.fat -F 16 -n "${GUEST_LABEL:-GUESTBOOT}" -h 2048 --offset 2048 "$out.tmp" $(((size_mib - 1) * 1024)) >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -i "$out.tmp@@$off" "$e2e/vmlinuz" ::vmlinuz
MTOOLS_SKIP_CHECK=1 mcopy -i "$out.tmp@@$off" "$tmp/initrd.gz" ::initrd.gz
MTOOLS_SKIP_CHECK=1 mcopy -i "$out.tmp@@$off" "$tmp/syslinux.cfg" ::syslinux.cfg
syslinux --offset $off --install "$out.tmp"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$out.tmp" conv=notrunc bs=440 count=1 status=none
mv "$out.tmp" "$out"

# the data disk: a string for the guest to read in sector 0
if [ "$data" != - ]; then
	truncate -s 0 "$data" && truncate -s 1M "$data"
	printf 'HOST-DATA-FOR-GUEST' | dd of="$data" conv=notrunc status=none
fi
rm -rf "$tmp"
echo "e2e: time guest disk $(($(date +%s%3N) - t0)) ms ($(($(wc -c <"$out") / 1024)) KiB)"
