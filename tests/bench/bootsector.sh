#!/bin/sh
# hal vs QEMU booting the same BIOS disk (docs/benchmarks.md): SeaBIOS, a
# virtio-blk disk, the project's boot sector (build/guest/bootdisk.img,
# tests/guest/bootdisk.S), which prints "bootsector: hello" on COM1, reads
# its second stage with INT 13h and powers off.
#
#     sh tests/bench/bootsector.sh          (from the repository root)
#
# Each VMM is run N times, alternating, under tests/bench/vmmbench.c:
#   start-to-hello: fork() of the VMM to "bootsector: hello" in its output
#   exit: fork() to the VMM's exit (the boot sector's ACPI power-off)
# hal also timestamps the boot sector's first instruction itself (marker 0x30
# on port 0x440, "hal: marker 0x30 at T ms"); shown as a third column.
# Medians are printed; ratio = QEMU / hal.
# Environment: BUILD (build), N (5), HAL, QEMU, MEM_MB (128), DISK
BUILD=${BUILD:-build}
N=${N:-5}
MEM_MB=${MEM_MB:-128}
HAL=${HAL:-$BUILD/hal}
QEMU=${QEMU:-qemu-system-x86_64}
DISK=${DISK:-$BUILD/guest/bootdisk.img}
VB=${VMMBENCH:-$BUILD/bench/vmmbench}
BIOS=/usr/share/seabios/bios-256k.bin
out=$BUILD/bench/bootsector
mkdir -p "$out"

if ! [ -s "$DISK" ] || ! [ -x "$VB" ]; then
	make -s BUILD="$BUILD" "$DISK" "$VB" >/dev/null
fi
for f in "$HAL" "$VB" "$DISK" "$BIOS"; do
	[ -s "$f" ] || { echo "bootsector: missing $f (make; make guests; make $VB; apt-get install seabios)"; exit 1; }
done
[ -w /dev/kvm ] || { echo "bootsector: /dev/kvm not usable"; exit 1; }
command -v "$QEMU" >/dev/null || { echo "bootsector: $QEMU not found"; exit 1; }

# each VMM boots its own copy (disks are opened read-write)
cp "$DISK" "$out/hal.img" && cp "$DISK" "$out/qemu.img" || exit 1
# QEMU: -display none, not -nographic: -nographic also turns on SeaBIOS's
# serial console, which would copy the INT 10h output onto COM1 as well
hal_cmd="$HAL --disk $out/hal.img --mem ${MEM_MB}M --cpus 1 --serial stdio"
qemu_cmd="$QEMU -accel kvm -machine pc -m $MEM_MB -smp 1 -nodefaults -display none -serial stdio -drive file=$out/qemu.img,format=raw,if=virtio"

echo "bootsector: hal:  $hal_cmd"
echo "bootsector: qemu: $qemu_cmd"
echo "bootsector: $N runs each, alternating; host: $(nproc) CPUs, $(uname -r), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
rm -f "$out"/hal.runs "$out"/qemu.runs
fail=0
i=1
while [ "$i" -le "$N" ]; do
	for vmm in hal qemu; do
		cmd=$hal_cmd
		[ "$vmm" = qemu ] && cmd=$qemu_cmd
		# shellcheck disable=SC2086
		r=$("$VB" -l 'bootsector: hello' -t 120 -g $((MEM_MB * 1024)) -o "$out/$vmm.$i.log" -- $cmd)
		if [ "$vmm" = hal ]; then
			m=$(sed -n 's/.*hal: marker 0x30 at \([0-9.]*\) ms.*/\1/p' "$out/$vmm.$i.log" | head -n 1)
			r="$r marker30_ms=${m:--1}"
		fi
		echo "bootsector: $vmm run $i: $r"
		if ! grep -q '^bootsector: stage2 ok' "$out/$vmm.$i.log"; then
			echo "bootsector: $vmm run $i: no stage2 line; output in $out/$vmm.$i.log:"
			tail -n 5 "$out/$vmm.$i.log" | sed 's/^/  /'
			fail=1
		fi
		case $r in
		*" rc=0"*) echo "$r" >>"$out/$vmm.runs" ;;
		*) echo "bootsector: $vmm run $i failed; output in $out/$vmm.$i.log:"; tail -n 5 "$out/$vmm.$i.log" | sed 's/^/  /'; fail=1 ;;
		esac
	done
	i=$((i + 1))
done

# median of field $2 (name) over the runs in file $1
median() {
	sed -n "s/.*\<$2=\([-0-9.]*\).*/\1/p" "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# min-max of field $2 over the runs in file $1
range() {
	sed -n "s/.*\<$2=\([-0-9.]*\).*/\1/p" "$1" | sort -n | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%s-%s", a, b }'
}
if ! [ -s "$out/hal.runs" ] || ! [ -s "$out/qemu.runs" ]; then
	echo "bootsector: no complete runs to compare"
	exit 1
fi
h_t=$(median "$out/hal.runs" line_ms) q_t=$(median "$out/qemu.runs" line_ms)
h_x=$(median "$out/hal.runs" exit_ms) q_x=$(median "$out/qemu.runs" exit_ms)
h_m=$(median "$out/hal.runs" marker30_ms)
h_r=$(median "$out/hal.runs" rss_outside_kib) q_r=$(median "$out/qemu.runs" rss_outside_kib)
echo
printf '%-5s %18s %10s %18s %10s %28s\n' vmm start-to-hello-ms ratio hal-marker-0x30-ms exit-ms peak-rss-outside-guest-KiB
printf '%-5s %18s %10s %18s %10s %28s\n' hal "$h_t" 1.00 "$h_m" "$h_x" "$h_r"
printf '%-5s %18s %10s %18s %10s %28s\n' qemu "$q_t" "$(awk -v a="$q_t" -v b="$h_t" 'BEGIN { printf "%.2f", a / b }')" - "$q_x" "$q_r"
echo "(medians of $N runs; ratio = QEMU / hal; start-to-hello ranges: hal $(range "$out/hal.runs" line_ms) ms, qemu $(range "$out/qemu.runs" line_ms) ms)"
exit $fail
