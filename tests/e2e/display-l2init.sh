#!/bin/sh
# PID 1 of L2 in the display test bed: bochs-drm on hal's display device,
# fbcon unbound, then /picture (1024x768 XRGB8888: red, green / blue, white
# quadrants) written to /dev/fb0 and left on screen for display.sh to see.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "L2: up"
for m in $(cat /display.list); do insmod "/lib/modules/$m" || echo "L2: insmod $m failed"; done
echo "L2: modules loaded"
i=0
while [ ! -e /dev/fb0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
for c in /sys/class/vtconsole/vtcon*; do
	grep -q 'frame buffer' "$c/name" 2>/dev/null && echo 0 >"$c/bind"
done
size=$(cat /sys/class/graphics/fb0/virtual_size 2>/dev/null)
stride=$(cat /sys/class/graphics/fb0/stride 2>/dev/null)
gunzip -c /picture.gz >/dev/fb0
echo "L2: picture drawn size=$size stride=$stride"
sleep 25
echo "L2: done"
poweroff -f
