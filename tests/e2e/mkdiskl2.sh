#!/bin/sh
# Writes the L2 initramfs of the disk benchmark (make bench-disk,
# tests/e2e/disk.sh): busybox (Debian's busybox-static), Debian's fio with
# the shared libraries ldd names for it (at the paths ldd says; ~80 MB, most
# of it librbd/libceph-common and ICU, which Debian's fio links whether or
# not the job uses them), virtio_pci and virtio_blk with their dependencies
# from modules.dep, /init = tests/e2e/disk-l2init.sh. Not compressed: L2's
# kernel then copies it instead of inflating 80 MB under nested TCG (L1's
# overlay, which carries it, is gzip'd).
# Usage: mkdiskl2.sh E2EDIR MKCPIO OUT
set -eu
e2e=$1 mkcpio=$2 out=$3
kver=$(cat "$e2e/kver")
mdir=$e2e/kroot/lib/modules/$kver
busybox=${BUSYBOX:-/bin/busybox}
fio=${FIO:-/usr/bin/fio}
t0=$(date +%s%3N)
[ -x "$busybox" ] || { echo "mkdiskl2.sh: no $busybox (apt-get install busybox-static)" >&2; exit 1; }
[ -x "$fio" ] || { echo "mkdiskl2.sh: no $fio (apt-get install fio)" >&2; exit 1; }
libs=$(ldd "$fio" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' | sort -u)
[ -n "$libs" ] || { echo "mkdiskl2.sh: ldd names no libraries for $fio" >&2; exit 1; }
. tests/e2e/moddeps.sh
moddeps "$mdir" virtio_pci virtio_blk ahci sd_mod >"$out.mods" || exit 1
while read -r m; do basename "$m"; done <"$out.mods" >"$out.modules"
{
	for d in /bin /dev /proc /sys /tmp /lib /lib/modules; do echo "dir $d 0755"; done
	echo "nod /dev/console 0600 c 5 1"
	echo "nod /dev/null 0666 c 1 3"
	echo "file /init tests/e2e/disk-l2init.sh 0755"
	echo "file /bin/busybox $busybox 0755"
	echo "slink /bin/sh busybox 0777"
	echo "file /bin/fio $fio 0755"
	while read -r m; do echo "file /lib/modules/$(basename "$m") $mdir/$m 0644"; done <"$out.mods"
	echo "file /modules.list $out.modules 0644"
	for f in $libs; do
		d=${f%/*} p=
		for c in $(echo "$d" | tr '/' ' '); do p=$p/$c; echo "dir $p 0755"; done
		echo "file $f $(readlink -f "$f") 0755"
	done
} | awk '!seen[$0]++' | "$mkcpio" >"$out.tmp"
mv "$out.tmp" "$out"
rm -f "$out.mods" "$out.modules"
echo "e2e: time L2 disk-benchmark initramfs $(($(date +%s%3N) - t0)) ms ($(($(wc -c <"$out") / 1048576)) MiB, $(echo "$libs" | wc -l) libraries for fio)"
