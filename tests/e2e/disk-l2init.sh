#!/bin/sh
# PID 1 of the L2 guest of the disk benchmark (make bench-disk,
# tests/e2e/disk.sh): Debian's kernel under hal or QEMU with one virtio-blk
# disk, the benchmark image. Loads virtio_pci and virtio_blk, then runs
# Debian's fio against /dev/vda, O_DIRECT through libaio, one job at a
# time, and powers off (ACPI S5: the VMM exits 0). Lines for the test start
# with "DISK: ":
#   DISK: vda SECTORS sectors serial S
#   DISK: job NAME err=E read_kib_s=K read_iops=N write_kib_s=K write_iops=N (uptime A -> B)
#   DISK: job NAME failed: what fio said
# Parameters from the kernel command line:
#   l2disk.runtime=S  seconds per job (default 10)
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
up() { cut -d' ' -f1 /proc/uptime; }
arg() { for _a in $(cat /proc/cmdline); do case $_a in "l2disk.$1="*) echo "${_a#*=}"; return;; esac; done; }
end() { echo "DISK: end $1 uptime=$(up)"; poweroff -f; }
echo "DISK: init uptime=$(up)"
for m in $(cat /modules.list); do insmod "/lib/modules/$m" || echo "DISK: insmod $m failed"; done
# the disk: vda on virtio-blk, sda on AHCI (DISK_AHCI=1)
n=0 dev=
while [ -z "$dev" ] && [ $n -lt 50 ]; do
	for d in vda sda; do [ -b /dev/$d ] && dev=$d; done
	[ -n "$dev" ] || sleep 0.2
	n=$((n + 1))
done
[ -n "$dev" ] || { echo "DISK: no /dev/vda or /dev/sda: $(ls /sys/block | tr '\n' ' ')"; end fail; }
echo "DISK: $dev $(cat /sys/block/$dev/size) sectors serial $(cat /sys/block/$dev/serial 2>/dev/null)"
rt=$(arg runtime)
# NAME RW BS IODEPTH: the jobs disk.sh reports, in this order
while read -r name rw bs qd; do
	t0=$(up)
	# terse version 3: field 5 error, 7/8 read KiB/s and IOPS, 48/49 write's
	if fio --name="$name" --filename=/dev/$dev --rw="$rw" --bs="$bs" --iodepth="$qd" \
		--ioengine=libaio --direct=1 --thread --norandommap --randrepeat=0 \
		--time_based --runtime="${rt:-10}" --output-format=terse --terse-version=3 \
		>/tmp/fio.out 2>/tmp/fio.err; then
		awk -F';' -v t="($t0 -> $(up))" '$1 == 3 {
			printf "DISK: job %s err=%s read_kib_s=%s read_iops=%s write_kib_s=%s write_iops=%s %s\n",
				$3, $5, $7, $8, $48, $49, t }' /tmp/fio.out
	else
		echo "DISK: job $name failed: $(cat /tmp/fio.err /tmp/fio.out | tr '\n' ' ' | cut -c1-300)"
	fi
done <<'JOBS'
randread-qd1 randread 4k 1
randread-qd32 randread 4k 32
randwrite-qd1 randwrite 4k 1
randwrite-qd32 randwrite 4k 32
read-1m read 1m 4
write-1m write 1m 4
JOBS
end ok
