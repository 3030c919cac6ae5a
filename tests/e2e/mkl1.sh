#!/bin/sh
# Writes the L1 initramfs (gzip'd newc cpio) of the nested test bed:
#   /init            tests/e2e/l1init.sh (busybox sh)
#   /l1lib.sh        tests/e2e/l1lib.sh: what every L1 /init does first
#   /bin/busybox     Debian's busybox-static, /bin/sh -> busybox
#   /lib/modules/*   kvm-amd and its dependencies; /modules.list: load order
#   /bin/hal         the VMM under test (left out when HAL is "none")
#   /vmlinuz         the L2 kernel (the same Debian kernel as L1)
#   /l2.cpio.gz      the L2 initramfs (tests/e2e/l2init.c as /init)
#   /guest.img       a SYSLINUX disk booted through SeaBIOS (mkguestdisk.sh)
#   /data.img        the data disk that guest reads and writes
#   /data.qcow2      the same as qcow2, served by qemu-nbd
#   /loop.qcow2      8 MiB that l2disk reads 30 times and checks while L1
#                    kills qemu-nbd (`l2disk --pattern`)
#   /test.iso        an ISO 9660 image (xorriso) with /hello.txt, for --cdrom
#   /eltorito.iso    a pure El Torito CD (no isohybrid MBR): ISOLINUX, the L2
#                    kernel and initramfs, booted from --cdrom by SeaBIOS
#   /bin/qemu-nbd, /bin/qemu-img  Debian's (qemu-utils), with the shared
#                    libraries ldd names for them
#   /usr/share/seabios/bios-256k.bin  the firmware hal loads by default
# Usage: mkl1.sh E2EDIR MKCPIO HAL OUT
set -eu
e2e=$1 mkcpio=$2 hal=$3 out=$4
kver=$(cat "$e2e/kver")
mdir=$e2e/kroot/lib/modules/$kver
busybox=${BUSYBOX:-/bin/busybox}
t0=$(date +%s%3N)
[ -x "$busybox" ] || { echo "mkl1.sh: no $busybox (apt-get install busybox-static)" >&2; exit 1; }
for f in "$e2e/vmlinuz" "$e2e/l2.cpio.gz" tests/e2e/l1init.sh; do
	[ -s "$f" ] || { echo "mkl1.sh: missing $f" >&2; exit 1; }
done
[ "$hal" = none ] || [ -x "$hal" ] || { echo "mkl1.sh: missing $hal" >&2; exit 1; }

# qemu-nbd and qemu-img are dynamic: their libraries at the paths ldd says
QEMU_TOOLS="/usr/bin/qemu-nbd /usr/bin/qemu-img"
QEMU_LIBS=$(for b in $QEMU_TOOLS; do ldd "$b"; done | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' | sort -u)
[ -n "$QEMU_LIBS" ] || { echo "mkl1.sh: ldd names no libraries for $QEMU_TOOLS (apt-get install qemu-utils)" >&2; exit 1; }
qemu-img convert -O qcow2 "$e2e/data.img" "$out.data.qcow2"
"$e2e/l2disk" --pattern "$out.loop.raw" 8 30
qemu-img convert -f raw -O qcow2 "$out.loop.raw" "$out.loop.qcow2"
rm -f "$out.loop.raw"
command -v xorriso >/dev/null || { echo "mkl1.sh: no xorriso (apt-get install xorriso)" >&2; exit 1; }
rm -rf "$out.iso.d" && mkdir -p "$out.iso.d"
echo "HAL-CDROM-CONTENT" >"$out.iso.d/hello.txt"
xorriso -as mkisofs -quiet -R -J -V HALTEST -o "$out.test.iso" "$out.iso.d"
[ -s /usr/lib/ISOLINUX/isolinux.bin ] || { echo "mkl1.sh: no isolinux.bin (apt-get install isolinux)" >&2; exit 1; }
rm -rf "$out.et.d" && mkdir -p "$out.et.d/isolinux"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$out.et.d/isolinux/"
cp "$e2e/vmlinuz" "$out.et.d/vmlinuz"
cp "$e2e/l2.cpio.gz" "$out.et.d/l2.gz"
printf 'SERIAL 0 115200\nDEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL /vmlinuz\n  APPEND initrd=/l2.gz console=ttyS0 panic=-1 quiet\n' \
	>"$out.et.d/isolinux/isolinux.cfg"
xorriso -as mkisofs -quiet -R -V HALBOOT -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot \
	-boot-load-size 4 -boot-info-table -o "$out.eltorito.iso" "$out.et.d"

while read -r m; do basename "$m"; done <"$e2e/modules.list" >"$out.modules"
{
	for d in /bin /dev /proc /sys /tmp /lib /lib/modules; do echo "dir $d 0755"; done
	echo "nod /dev/console 0600 c 5 1"
	echo "nod /dev/null 0666 c 1 3"
	echo "file /init tests/e2e/l1init.sh 0755"
	echo "file /l1lib.sh tests/e2e/l1lib.sh 0644"
	echo "file /bin/busybox $busybox 0755"
	echo "slink /bin/sh busybox 0777"
	while read -r m; do
		echo "file /lib/modules/$(basename "$m") $mdir/$m 0644"
	done <"$e2e/modules.list"
	echo "file /modules.list $out.modules 0644"
	[ "$hal" = none ] || echo "file /bin/hal $hal 0755"
	echo "file /vmlinuz $e2e/vmlinuz 0644"
	echo "file /l2.cpio.gz $e2e/l2.cpio.gz 0644"
	echo "file /guest.img $e2e/guest.img 0644"
	echo "file /data.img $e2e/data.img 0644"
	echo "file /data.qcow2 $out.data.qcow2 0644"
	echo "file /loop.qcow2 $out.loop.qcow2 0644"
	echo "file /test.iso $out.test.iso 0644"
	echo "file /eltorito.iso $out.eltorito.iso 0644"
	for b in $QEMU_TOOLS; do echo "file /bin/$(basename "$b") $b 0755"; done
	for l in $QEMU_LIBS; do dirname "$l"; done | sort -u | grep -v '^/lib$' | while read -r d; do echo "dir $d 0755"; done
	for l in $QEMU_LIBS; do echo "file $l $(readlink -f "$l") 0755"; done
	for d in /usr /usr/share /usr/share/seabios; do echo "dir $d 0755"; done
	echo "file /usr/share/seabios/bios-256k.bin /usr/share/seabios/bios-256k.bin 0644"
} >"$out.spec"
"$mkcpio" <"$out.spec" | gzip -6n >"$out.tmp"
mv "$out.tmp" "$out"
echo "e2e: time L1 initramfs $(($(date +%s%3N) - t0)) ms ($(($(wc -c <"$out") / 1024)) KiB)"
