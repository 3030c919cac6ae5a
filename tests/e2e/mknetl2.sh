#!/bin/sh
# Writes the L2 initramfs of the network test (tests/e2e/net.sh): busybox
# (Debian's busybox-static), virtio_pci, virtio_net and e1000 (hal's
# --net ...,model=e1000) with their dependencies from modules.dep, /init = tests/e2e/net-l2init.sh and
# /udhcpc.script = tests/e2e/net-udhcpc.sh.
# Usage: mknetl2.sh E2EDIR MKCPIO OUT
set -eu
e2e=$1 mkcpio=$2 out=$3
kver=$(cat "$e2e/kver")
mdir=$e2e/kroot/lib/modules/$kver
busybox=${BUSYBOX:-/bin/busybox}
t0=$(date +%s%3N)
[ -x "$busybox" ] || { echo "mknetl2.sh: no $busybox (apt-get install busybox-static)" >&2; exit 1; }
. tests/e2e/moddeps.sh
moddeps "$mdir" virtio_pci virtio_net e1000 >"$out.mods" || exit 1
while read -r m; do basename "$m"; done <"$out.mods" >"$out.modules"
{
	for d in /bin /dev /proc /sys /tmp /lib /lib/modules; do echo "dir $d 0755"; done
	echo "nod /dev/console 0600 c 5 1"
	echo "nod /dev/null 0666 c 1 3"
	echo "file /init tests/e2e/net-l2init.sh 0755"
	echo "file /udhcpc.script tests/e2e/net-udhcpc.sh 0755"
	echo "file /bin/busybox $busybox 0755"
	echo "slink /bin/sh busybox 0777"
	while read -r m; do echo "file /lib/modules/$(basename "$m") $mdir/$m 0644"; done <"$out.mods"
	echo "file /modules.list $out.modules 0644"
} | "$mkcpio" | gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"
rm -f "$out.mods" "$out.modules"
echo "e2e: time L2 network initramfs $(($(date +%s%3N) - t0)) ms ($(($(wc -c <"$out") / 1024)) KiB)"
