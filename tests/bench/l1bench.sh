#!/bin/sh
# PID 1 of the nested bench image (tests/bench/mkl1bench.sh): loads kvm-amd,
# then runs tests/bench/bench.sh (hal vs QEMU, both on the nested /dev/kvm).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in $(cat /modules.list); do insmod "/lib/modules/$m" || echo "bench: insmod $m failed"; done
[ -c /dev/kvm ] || echo "bench: /dev/kvm missing"
BUILD=/tmp N=${N:-5} PAYLOAD=/payload64.bzimage HAL=/bin/hal VMMBENCH=/bin/vmmbench \
	QEMU=/usr/bin/qemu-system-x86_64 sh /bench.sh
echo "bench: exit $?"
poweroff -f
