#!/bin/sh
# PID 1 of L1 in the display test bed (tests/e2e/display.sh): QEMU's
# bochs-display driven by L1's bochs-drm. First the KMS backend alone
# (/bin/kmstest), then hal --display kms running an L2 guest that draws a
# test picture. Lines for display.sh start with "E2E: ".
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "E2E: L1 up kernel=$(uname -r)"
for m in $(cat /modules.list) $(cat /display.list); do
	insmod "/lib/modules/$m" || echo "E2E: insmod $m failed"
done
i=0
while [ ! -e /dev/dri/card0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
echo "E2E: dri $(ls /dev/dri 2>/dev/null | tr '\n' ' ')fb $(ls /dev | grep '^fb' | tr '\n' ' ')"
/bin/kmstest kms 8
sleep 4 # display.sh takes the "console restored" picture here
echo "E2E: display hal begin"
timeout 300 /bin/hal --kernel /vmlinuz --initrd /l2disp.cpio.gz \
	--append "console=ttyS0 panic=-1 loglevel=4" --mem 256M --display kms --serial stdio -v
echo
echo "E2E: display hal rc=$?"
poweroff -f
