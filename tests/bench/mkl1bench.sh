#!/bin/sh
# Writes the L1 initramfs for running tests/bench/bench.sh inside the nested
# test bed (docs/benchmarks.md, "Inside the nested test bed"): what
# tests/e2e/mkl1.sh puts there (busybox, kvm-amd and its dependencies, hal)
# plus QEMU with its shared libraries and firmware, the static vmmbench, the
# payload and bench.sh; /init is tests/bench/l1bench.sh.
# Usage: mkl1bench.sh E2EDIR MKCPIO HAL VMMBENCH PAYLOAD OUT
set -eu
e2e=$1 mkcpio=$2 hal=$3 vb=$4 payload=$5 out=$6
kver=$(cat "$e2e/kver")
mdir=$e2e/kroot/lib/modules/$kver
qemu=$(command -v qemu-system-x86_64)
fw="/usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin"
libs=$(ldd "$qemu" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)

while read -r m; do basename "$m"; done <"$e2e/modules.list" >"$out.modules"
{
	for d in /bin /dev /proc /sys /tmp /lib /lib/modules /usr /usr/bin /usr/share; do echo "dir $d 0755"; done
	# parent directories of the libraries and firmware files
	for f in $libs $fw; do
		p=$(dirname "$f")
		while [ "$p" != / ]; do echo "$p"; p=$(dirname "$p"); done
	done | sort -u | awk '{ print "dir " $1 " 0755" }'
	echo "nod /dev/console 0600 c 5 1"
	echo "nod /dev/null 0666 c 1 3"
	echo "file /init tests/bench/l1bench.sh 0755"
	echo "file /bench.sh tests/bench/bench.sh 0755"
	echo "file /bin/busybox /bin/busybox 0755"
	echo "slink /bin/sh busybox 0777"
	while read -r m; do
		echo "file /lib/modules/$(basename "$m") $mdir/$m 0644"
	done <"$e2e/modules.list"
	echo "file /modules.list $out.modules 0644"
	echo "file /bin/hal $hal 0755"
	echo "file /bin/vmmbench $vb 0755"
	echo "file /usr/bin/qemu-system-x86_64 $qemu 0755"  # firmware is found relative to it (../share/qemu)
	echo "file /payload64.bzimage $payload 0644"
	for f in $libs $fw; do echo "file $f $f 0755"; done
} | awk '!seen[$2]++' >"$out.spec"
"$mkcpio" <"$out.spec" | gzip -6n >"$out.tmp"
mv "$out.tmp" "$out"
echo "bench: L1 image $out: $(($(wc -c <"$out") / 1024)) KiB"
