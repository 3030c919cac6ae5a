#!/bin/sh
# make bench-disk (docs/benchmarks.md, "Disk"): QEMU TCG -cpu EPYC boots L1
# (the usual image plus an overlay: tests/e2e/disk-l1init.sh as /init,
# Debian's QEMU with the libraries ldd names and the firmware it loads, and
# the L2 initramfs of tests/e2e/mkdiskl2.sh: busybox, virtio_blk, Debian's
# fio). L1 boots the same L2 under hal and under QEMU, alternately in
# DISK_ROUNDS rounds (default 3), each running fio's six jobs against its
# virtio-blk disk (the same 256 MiB raw image in L1's tmpfs); this script
# prints per job hal's figure, QEMU's and the ratio hal/QEMU (medians over
# the rounds: one job's figure moves up to 3x between runs under TCG, and
# a median of three is not moved by one outlier), and fails when a job
# gave no figure in some run.
# Environment: BUILD, MAKE (builds the images first; make bench-disk has
# them as prerequisites), DISK_TIMEOUT (seconds for QEMU, default 1800),
# DISK_AHCI=1 (also hal's AHCI SATA disk against its virtio-blk),
# DISK_RUNTIME (seconds per fio job, default 10), DISK_NBD=1 (also hal's NBD
# client against QEMU's, through qemu-nbd in L1), DISK_CACHE=none (the raw
# and AHCI runs with O_DIRECT: hal's ,cache=none against QEMU's cache=none,
# the image on a loop device in L1, whose 6.1 tmpfs refuses O_DIRECT; the
# NBD runs keep their cache, hal refuses cache=none there).
# Log: $BUILD/e2e/disk-bench-log.txt.
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
E2E=$BUILD/e2e
timeout_s=${DISK_TIMEOUT:-1800}
log=$E2E/disk-bench-log.txt
now_ms() { date +%s%3N; }

. tests/e2e/bedlib.sh
bed_qemu_check bench-disk || exit 1
qemu=$(command -v qemu-system-x86_64) || { echo "bench-disk: no qemu-system-x86_64 for L1 (apt-get install qemu-system-x86)"; exit 1; }
qemu_fw="/usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin"
rounds=${DISK_ROUNDS:-3}
case $rounds in ''|*[!0-9]*|0) echo "bench-disk: DISK_ROUNDS=$rounds: a number of rounds, 1 or more"; exit 2 ;; esac
l1_args=" e2e.diskruntime=${DISK_RUNTIME:-10} e2e.diskrounds=$rounds"
runs="hal-raw qemu-raw"
if [ "${DISK_NBD:-0}" = 1 ]; then l1_args="$l1_args e2e.disknbd=1" runs="$runs hal-nbd qemu-nbd"; fi
# DISK_AHCI=1: also hal's AHCI disk, compared with hal's virtio-blk
if [ "${DISK_AHCI:-0}" = 1 ]; then l1_args="$l1_args e2e.diskahci=1" runs="$runs hal-ahci hal-raw"; fi
# DISK_CACHE=none: O_DIRECT on a loop device over the image (loop.ko of
# the bed's kernel goes into the overlay)
loopko=
case ${DISK_CACHE:-writeback} in
none)
	l1_args="$l1_args e2e.diskcache=none"
	loopko=$E2E/kroot/lib/modules/$(cat "$E2E/kver" 2>/dev/null)/kernel/drivers/block/loop.ko ;;
writeback) ;;
*) echo "bench-disk: DISK_CACHE=$DISK_CACHE: none or writeback"; exit 2 ;;
esac
mkdir -p "$E2E"
t0=$(now_ms)
if ! $MAKE -s --no-print-directory BUILD="$BUILD" e2e-images "$E2E/l2disk.cpio" >"$E2E/disk-make.log" 2>&1; then
	tail -n 20 "$E2E/disk-make.log" | sed 's/^/  /'
	echo "bench-disk: building the images failed: see $E2E/disk-make.log"
	exit 1
fi
if [ -n "$loopko" ] && [ ! -s "$loopko" ]; then echo "bench-disk: DISK_CACHE=none: no $loopko"; exit 1; fi
{
	echo "file /init tests/e2e/disk-l1init.sh 0755"
	echo "file /l2disk.cpio $E2E/l2disk.cpio 0644"
	[ -z "$loopko" ] || echo "file /lib/modules/loop.ko $loopko 0644"
	# QEMU and the firmware it loads, with the libraries it links (ldd), at
	# the paths they expect
	for f in $(ldd "$qemu" | grep -o '/[^ ]*') $qemu $qemu_fw; do
		d=${f%/*} p=
		for c in $(echo "$d" | tr '/' ' '); do p=$p/$c; echo "dir $p 0755"; done
		echo "file $f $(readlink -f "$f") 0755"
	done
} | awk '!seen[$0]++' | "$E2E/mkcpio" | gzip -1n >"$E2E/disk-overlay.cpio.gz"
cat "$E2E/l1.cpio.gz" "$E2E/disk-overlay.cpio.gz" >"$E2E/disk-l1.cpio.gz"
echo "e2e: time disk-benchmark images $(($(now_ms) - t0)) ms"

BED_LOCKUP='^\[ *[0-9]+\.[0-9]+\] \[ *[0-9]+\.[0-9]+\] watchdog: BUG: soft lockup'
BED_SILENCE=400
bed_boot2 bench-disk "$log" "$timeout_s" -m 3072 -smp 2 \
	-kernel "$E2E/vmlinuz" -initrd "$E2E/disk-l1.cpio.gz" -append "console=ttyS0 panic=-1 quiet$l1_args"
echo "e2e: time disk test bed (QEMU) $bed_ms ms (log: $log)"
if ! grep -q 'E2E: /dev/kvm present' "$log"; then
	echo "bench-disk: L1 did not come up with /dev/kvm; last lines:"
	tail -n 10 "$log" | sed 's/^/  /'
	exit 1
fi

# per run and job: IOPS (4k jobs) or MB/s (1 MiB jobs, 10^6 bytes) of the
# job's direction in each round, and their median; a job counts only with
# err=0 and a figure above 0
tr -d '\r' <"$log" | awk -v runs="$runs" -v rounds="$rounds" '
/E2E: begin / { run = $NF }
/DISK: job [a-z0-9-]+ err=/ {
	for (i = 1; i < NF; i++) if ($i == "job") job = $(i + 1)
	for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) v[kv[1]] = kv[2]
	dir = job ~ /write/ ? "write" : "read"
	x = job ~ /1m$/ ? v[dir "_kib_s"] * 1024 / 1e6 : v[dir "_iops"]
	if (v["err"] == 0 && x > 0) val[run, job, ++k[run, job]] = x
}
function median(run, job,    n, i, j, t, a) {
	n = k[run, job]
	for (i = 1; i <= n; i++) a[i] = val[run, job, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n == 0 ? 0 : n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/DISK: job [a-z0-9-]+ failed:/ { sub(/.*DISK: /, ""); print "bench-disk: " run ": " $0 }
END {
	n = split("randread-qd1 randread-qd32 randwrite-qd1 randwrite-qd32 read-1m write-1m", jobs, " ")
	what["randread-qd1"] = "4k random read  QD1 "; what["randread-qd32"] = "4k random read  QD32"
	what["randwrite-qd1"] = "4k random write QD1 "; what["randwrite-qd32"] = "4k random write QD32"
	what["read-1m"] = "1M sequential read QD4 "; what["write-1m"] = "1M sequential write QD4"
	m = split(runs, r, " ")
	for (p = 1; p <= m; p += 2) {
		h = r[p]; q = r[p + 1]; path = h ~ /nbd/ ? "nbd" : h ~ /ahci/ ? "ahci" : "raw"
		a = "hal"; b = "QEMU"
		if (path == "ahci") { a = "AHCI"; b = "virtio" } # both hal
		for (i = 1; i <= n; i++) {
			j = jobs[i]; unit = j ~ /1m$/ ? "MB/s" : "IOPS"
			hv = median(h, j); qv = median(q, j)
			printf "bench-disk: %s %-23s %s %8.1f %-4s  %s %8.1f %-4s  %s/%s %5.2f  (%d + %d runs)\n",
				path, what[j], a, hv, unit, b, qv, unit, a, b, (qv > 0 ? hv / qv : 0), k[h, j], k[q, j]
			if (k[h, j] != rounds || k[q, j] != rounds) bad++
		}
	}
	if (bad) printf "bench-disk: %d figures lack a run (each job: %d rounds under each VMM)\n", bad, rounds
	exit bad ? 1 : 0
}'
r=$?
grep -E 'E2E: run ' "$log" | sed 's/.*E2E: /  /'
echo "bench-disk: L1 log $log; the same runs: sh tests/e2e/disk.sh"
exit $r
