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
	t0=$(up_ms)
	timeout 300 /bin/hal --disk /guest.img --disk /data.img,serial=hal-data --mem 256M --serial stdio
	rc=$?
	echo
	echo "E2E: data sector 1: $(dd if=/data.img bs=512 skip=1 count=1 2>/dev/null | head -c 16)"
	echo "E2E: run firmware rc=$rc ms=$(( $(up_ms) - t0 ))"
else
	echo "E2E: no /bin/hal in this image"
fi
echo "E2E: done uptime_ms=$(up_ms)"
poweroff -f
