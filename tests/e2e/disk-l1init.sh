#!/bin/sh
# PID 1 of the L1 guest of the disk benchmark (make bench-disk,
# tests/e2e/disk.sh). Makes the benchmark image, a 256 MiB raw file of
# random bytes in a tmpfs (written once, so every read returns real data),
# and boots the same L2 (tests/e2e/disk-l2init.sh: fio against its
# virtio-blk disk) on it under hal and under Debian's QEMU, alternately, in
# e2e.diskrounds=N rounds (disk.sh: DISK_ROUNDS, default 3):
#   hal-raw    hal --disk /bench/bench.img,serial=bench (hal's default cache
#              mode: the page cache, one I/O thread per disk)
#   qemu-raw   -drive file=/bench/bench.img,format=raw,cache=writeback,aio=threads
#              on virtio-blk-pci with an iothread
# and with e2e.disknbd=1 on L1's command line also, the same image served
# by qemu-nbd (-t -f raw, its default cache) on a unix socket:
#   hal-nbd    hal --disk nbd+unix:///?socket=/tmp/nbd.sock,serial=bench
#   qemu-nbd   QEMU's NBD client, -drive file=nbd+unix:///?socket=...,cache=writeback
# With e2e.diskcache=none the raw and AHCI runs use the image through a
# loop device (/bench is a tmpfs, which refuses O_DIRECT on Linux 6.1)
# with O_DIRECT: hal --disk /dev/loopN,cache=none and QEMU's
# cache=none,aio=threads; the NBD runs are as above.
# Lines for disk.sh start with "E2E: ", the guest's (prefixed "L2| ") with
# "DISK: ".
. /l1lib.sh
export PATH=/bin:/usr/bin
mkdir -p /bench
mount -t tmpfs -o size=300m,mode=0755 tmpfs /bench
_t0=$(up_ms)
dd if=/dev/urandom of=/bench/bench.img bs=1M count=256 2>/tmp/dd.err ||
	{ echo "E2E: bench image: dd failed: $(cat /tmp/dd.err)"; }
echo "E2E: bench image $(wc -c </bench/bench.img) bytes in $(( $(up_ms) - _t0 )) ms"
l2=/l2disk.cpio
rt=$(sed -n 's/.*e2e.diskruntime=\([0-9]*\).*/\1/p' /proc/cmdline)
append="console=ttyS0 panic=-1 quiet l2disk.runtime=${rt:-10}"
nbd=/tmp/nbd.sock
img=/bench/bench.img cache=writeback hcache=
if grep -q 'e2e.diskcache=none' /proc/cmdline; then
	insmod /lib/modules/loop.ko 2>/dev/null
	if dev=$(losetup -f) && losetup "$dev" /bench/bench.img; then
		img=$dev cache=none hcache=,cache=none
		echo "E2E: cache=none on $img"
	else
		echo "E2E: cache=none: no loop device for /bench/bench.img; the runs keep cache=writeback"
	fi
fi
# vmm KIND: the L2 guest on the image (KIND raw) or the NBD export (nbd),
# under hal, or QEMU with VMM=qemu
vmm() {
	# (aio= is file-posix's option: QEMU refuses it on an nbd drive)
	if [ "$1" = nbd ]; then f="nbd+unix:///?socket=$nbd" aio= c=writeback hc=
	else f=$img aio=,aio=threads c=$cache hc=$hcache; fi
	ifopt=
	[ "$1" = ahci ] && ifopt=,if=ahci
	[ "${VMM:-hal}" = qemu ] &&
		exec qemu-system-x86_64 -accel kvm -cpu host -M pc -m 512M -smp 1 -nodefaults -nographic \
			-serial stdio -no-reboot -kernel /vmlinuz -initrd $l2 -append "$append" \
			-drive "file=$f,if=none,id=d,format=raw,cache=$c$aio" \
			-object iothread,id=io1 -device virtio-blk-pci,drive=d,iothread=io1,serial=bench
	exec /bin/hal --kernel /vmlinuz --initrd $l2 --append "$append" \
		--mem 512M --display none --serial stdio -v --disk "$f,serial=bench$ifopt$hc"
}
# run NAME KIND: the VMM in the background, the guest's serial output on the
# console with each line prefixed "L2| " and in /tmp/NAME.serial; a lockup
# of L2 or 400 s stop the VMM (SIGTERM). Its stderr comes after the run as
# "E2E: NAME vmm: ...".
run() {
	_name=$1
	echo "E2E: begin $_name"
	_ser=/tmp/$_name.serial _t0=$(up_ms)
	: >"$_ser"
	rm -f /tmp/vmm.pid /tmp/vmm.rc
	( vmm "$2" </dev/null 2>"/tmp/$_name.err" &
	  echo $! >/tmp/vmm.pid; wait $!; echo $? >/tmp/vmm.rc ) |
		awk -v f="$_ser" '{ l = "L2| " $0; print l; fflush(); print l >>f; fflush(f) }' &
	_pl=$!
	_why=
	while kill -0 $_pl 2>/dev/null; do
		if [ -z "$_why" ] && grep -q 'soft lockup' "$_ser"; then _why="the guest's kernel locked up"; fi
		if [ -z "$_why" ] && [ $(( $(up_ms) - _t0 )) -gt 400000 ]; then _why="400 s"; fi
		if [ -n "$_why" ] && [ "$_why" != stopped ] && [ -s /tmp/vmm.pid ]; then
			echo "E2E: $_name: stopping the VMM: $_why"
			kill "$(cat /tmp/vmm.pid)" 2>/dev/null
			_why=stopped
		fi
		sleep 1
	done
	wait $_pl
	echo
	grep -v -E 'debug: (bring-up|tear-down):' "/tmp/$_name.err" | tail -n 20 | sed "s/^/E2E: $_name vmm: /"
	echo "E2E: run $_name rc=$(cat /tmp/vmm.rc 2>/dev/null || echo none) ms=$(( $(up_ms) - _t0 ))"
}
nbd_start() {
	rm -f $nbd
	qemu-nbd -t -f raw --socket $nbd /bench/bench.img 2>/tmp/qemu-nbd.err &
	nbd_pid=$!
	n=0
	while [ ! -S $nbd ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	[ -S $nbd ] || echo "E2E: qemu-nbd did not start: $(cat /tmp/qemu-nbd.err)"
}
nbd_stop() { kill "$nbd_pid" 2>/dev/null; wait "$nbd_pid" 2>/dev/null; }
rounds=$(sed -n 's/.*e2e.diskrounds=\([0-9]*\).*/\1/p' /proc/cmdline)
for round in $(seq 1 "${rounds:-2}"); do
	echo "E2E: round $round"
	VMM=hal run hal-raw raw
	VMM=qemu run qemu-raw raw
	# e2e.diskahci=1: the same image as hal's AHCI SATA disk (against hal-raw)
	if grep -q 'e2e.diskahci=1' /proc/cmdline; then VMM=hal run hal-ahci ahci; fi
	if grep -q 'e2e.disknbd=1' /proc/cmdline; then
		nbd_start
		VMM=hal run hal-nbd nbd
		nbd_stop
		nbd_start
		VMM=qemu run qemu-nbd nbd
		nbd_stop
	fi
done
echo "E2E: done uptime_ms=$(up_ms)"
poweroff -f
