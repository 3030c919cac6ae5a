#!/bin/sh
# PID 1 of the L1 guest of the nested test bed (QEMU TCG, -cpu EPYC: AMD SVM).
# Loads kvm-amd, then boots the L2 Linux guest under hal with 1 and 2 vCPUs.
# Every line meant for tests/e2e/run.sh starts with "E2E: ".
. /l1lib.sh

if [ -x /bin/hal ]; then
	for n in 1 2; do
		echo "E2E: begin cpus=$n"
		t0=$(up_ms)
		timeout 300 /bin/hal --kernel /vmlinuz --initrd /l2.cpio.gz \
			--append "console=ttyS0 panic=-1 quiet" --mem 256M --cpus $n --serial stdio
		rc=$?
		echo
		echo "E2E: run cpus=$n rc=$rc ms=$(( $(up_ms) - t0 ))"
	done
	# A BIOS disk through SeaBIOS + SYSLINUX, with a second disk for data.
	echo "E2E: begin firmware"
	# what --smbios host (the default) hands the guest: L1's own SMBIOS
	for f in sys_vendor product_name product_serial; do
		echo "E2E: l1 dmi $f=$(cat /sys/class/dmi/id/$f 2>/dev/null || echo '(none)')"
	done
	cp /data.img /tmp/data0.img
	t0=$(up_ms)
	timeout 300 /bin/hal --disk /guest.img --disk /data.img,serial=hal-data --mem 256M --cpus 2 --serial stdio
	rc=$?
	echo
	echo "E2E: data sector 1: $(dd if=/data.img bs=512 skip=1 count=1 2>/dev/null | head -c 16)"
	echo "E2E: run firmware rc=$rc ms=$(( $(up_ms) - t0 ))"

	# --snapshot: the same boot on a fresh copy of the data disk, which must
	# stay as it was (sector 1 still empty) although the guest wrote
	echo "E2E: begin snapshot"
	cp /tmp/data0.img /tmp/snap.img
	echo "E2E: snapshot md5 before $(md5sum </tmp/snap.img | cut -d' ' -f1)"
	t0=$(up_ms)
	timeout 300 /bin/hal --snapshot --disk /guest.img --disk /tmp/snap.img,serial=hal-data --mem 256M --serial stdio
	rc=$?
	echo
	echo "E2E: snapshot md5 after $(md5sum </tmp/snap.img | cut -d' ' -f1)"
	echo "E2E: run snapshot rc=$rc ms=$(( $(up_ms) - t0 ))"

	# The data disk as a SATA disk on hal's AHCI controller
	echo "E2E: begin ahci"
	cp /tmp/data0.img /tmp/ahci.img
	t0=$(up_ms)
	timeout 300 /bin/hal --disk /guest.img --disk /tmp/ahci.img,serial=hal-data,if=ahci --mem 256M --serial stdio
	rc=$?
	echo
	echo "E2E: ahci data sector 1: $(dd if=/tmp/ahci.img bs=512 skip=1 count=1 2>/dev/null | head -c 16)"
	echo "E2E: run ahci rc=$rc ms=$(( $(up_ms) - t0 ))"

	# An ISO (xorriso, /hello.txt) on an AHCI CD-ROM drive
	echo "E2E: begin cdrom"
	cp /tmp/data0.img /tmp/cd-data.img
	t0=$(up_ms)
	timeout 300 /bin/hal --disk /guest.img --disk /tmp/cd-data.img,serial=hal-data --cdrom /test.iso --mem 256M --serial stdio
	rc=$?
	echo
	echo "E2E: run cdrom rc=$rc ms=$(( $(up_ms) - t0 ))"

	# A pure El Torito CD (ISOLINUX) alone: --firmware auto takes SeaBIOS,
	# which boots it from the AHCI CD-ROM; L2 is l2init.c again
	echo "E2E: begin eltorito"
	t0=$(up_ms)
	timeout 300 /bin/hal --cdrom /eltorito.iso --mem 256M --serial stdio
	rc=$?
	echo
	echo "E2E: run eltorito rc=$rc ms=$(( $(up_ms) - t0 ))"

	# The data disk as qcow2 through qemu-nbd and hal's NBD client: the
	# guest's write lands in the qcow2; with qemu-nbd -s it does not.
	# (qemu-nbd -s keeps its overlay in /var/tmp)
	mkdir -p /var/tmp
	# nbd_up NAME QCOW2 [-s]: qemu-nbd serving QCOW2 on /tmp/nbd.sock, its
	# pid in /tmp/nbd.pid, said as "E2E: NAME qemu-nbd pid=N"
	nbd_up() {
		rm -f /tmp/nbd.sock /tmp/nbd.pid
		qemu-nbd --persistent ${3:-} --socket=/tmp/nbd.sock --format=qcow2 --pid-file=/tmp/nbd.pid "$2" &
		for _ in $(seq 100); do [ -s /tmp/nbd.pid ] && [ -S /tmp/nbd.sock ] && break; sleep 0.1; done
		echo "E2E: $1 qemu-nbd pid=$(cat /tmp/nbd.pid 2>/dev/null)"
	}
	for mode in plain s; do
		echo "E2E: begin nbd-$mode"
		cp /data.qcow2 /tmp/nbd.qcow2
		opt=; [ $mode = s ] && opt=-s
		nbd_up nbd-$mode /tmp/nbd.qcow2 $opt
		t0=$(up_ms)
		timeout 300 /bin/hal --disk /guest.img --disk 'nbd+unix:///?socket=/tmp/nbd.sock',serial=hal-data --mem 256M --serial stdio
		rc=$? ms=$(( $(up_ms) - t0 ))
		echo
		kill "$(cat /tmp/nbd.pid)" 2>/dev/null; wait
		if qemu-img convert -O raw /tmp/nbd.qcow2 /tmp/nbd.raw; then
			echo "E2E: nbd-$mode qcow2 sector 1: $(dd if=/tmp/nbd.raw bs=512 skip=1 count=1 2>/dev/null | head -c 16 | tr -d '\000')"
		else echo "E2E: nbd-$mode qemu-img convert failed"; fi
		echo "E2E: run nbd-$mode rc=$rc ms=$ms"
	done

	# NBD reconnect: qemu-nbd killed (-9) while the guest reads its data
	# disk in a loop (l2disk: 30 passes, each checked and summed), started
	# again 2 s later on the same socket; hal holds the reads meanwhile
	echo "E2E: begin nbd-kill"
	cp /loop.qcow2 /tmp/loop.qcow2
	nbd_up nbd-kill /tmp/loop.qcow2
	t0=$(up_ms)
	timeout 300 /bin/hal --disk /guest.img --disk 'nbd+unix:///?socket=/tmp/nbd.sock',serial=hal-data \
		--mem 256M --serial stdio </dev/null >/tmp/kill.out 2>&1 &
	halpid=$!
	for _ in $(seq 2400); do grep -q 'L2DISK: loop pass 2 ' /tmp/kill.out && break; sleep 0.1; done
	kill -9 "$(cat /tmp/nbd.pid)"
	echo "E2E: nbd-kill killed qemu-nbd at $(( $(up_ms) - t0 )) ms"
	sleep 2
	nbd_up nbd-kill /tmp/loop.qcow2
	wait $halpid
	rc=$? ms=$(( $(up_ms) - t0 ))
	cat /tmp/kill.out
	echo
	kill "$(cat /tmp/nbd.pid)" 2>/dev/null; wait
	echo "E2E: run nbd-kill rc=$rc ms=$ms"

	# The root disk over NBD: the guest disk itself as qcow2 behind
	# qemu-nbd, booted by SeaBIOS through hal's NBD client, no other disk:
	# l2disk counts its boots on it. Four boots: plain, plain (the count
	# kept), qemu-nbd -s (counts, thrown away at disconnect), plain again.
	echo "E2E: begin nbd-root"
	qemu-img convert -f raw -O qcow2 /guest.img /tmp/root.qcow2 && echo "E2E: nbd-root qcow2 made"
	for mode in plain plain s plain; do
		opt=; [ $mode = s ] && opt=-s
		nbd_up nbd-root /tmp/root.qcow2 $opt
		t0=$(up_ms)
		timeout 300 /bin/hal --disk 'nbd+unix:///?socket=/tmp/nbd.sock' --mem 256M --serial stdio </dev/null >/tmp/root.out 2>&1
		rc=$? ms=$(( $(up_ms) - t0 ))
		kill "$(cat /tmp/nbd.pid)" 2>/dev/null; wait
		echo "E2E: nbd-root $mode rc=$rc ms=$ms $(grep -o 'L2DISK: boot count.*' /tmp/root.out | tr -d '\r')"
	done
	echo "E2E: run nbd-root"
else
	echo "E2E: no /bin/hal in this image"
fi
echo "E2E: done uptime_ms=$(up_ms)"
poweroff -f
