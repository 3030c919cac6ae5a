#!/bin/sh
# PID 1 of L1 in the display test bed (tests/e2e/display.sh): QEMU's
# bochs-display driven by L1's bochs-drm. First the KMS backend alone
# (/bin/kmstest), then hal --display kms running an L2 guest that draws a
# test picture, then hal --display none booting GRUB from /grub.iso with
# screendumps and a key press through --control. Lines for display.sh start
# with "E2E: ".
. /l1lib.sh
for m in $(cat /display.list); do
	insmod "/lib/modules/$m" || echo "E2E: insmod $m failed"
done
i=0
while [ ! -e /dev/dri/card0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
echo "E2E: dri $(ls /dev/dri 2>/dev/null | tr '\n' ' ')fb $(ls /dev | grep '^fb' | tr '\n' ' ')"
if ! grep -q grubonly /proc/cmdline; then # grubonly: display.sh GRUB_ONLY=1 (debugging)
/bin/kmstest kms 8
sleep 4 # display.sh takes the "console restored" picture here
echo "E2E: display hal begin"
timeout 300 /bin/hal --kernel /vmlinuz --initrd /l2disp.cpio.gz \
	--append "console=ttyS0 panic=-1 loglevel=4" --mem 256M --display kms --serial stdio -v
rc=$?
echo
echo "E2E: display hal rc=$rc"
fi

# GRUB's menu (Debian's grub-rescue-cdrom.iso) through SeaBIOS and
# vgabios-bochs-display, headless: halctl takes screendumps over hal's control
# socket; display.sh gets them as gzip'd base64 PPMs between BEGIN/END lines
# and OCRs them. The menu is there when halctl -bar finds the highlight bar.
[ -e /grub.iso ] || { echo "E2E: grub: no /grub.iso"; poweroff -f; }
dmesg -n 1
echo "E2E: grub begin"
t0=$(cut -d. -f1 /proc/uptime)
t() { echo $(($(cut -d. -f1 /proc/uptime) - t0)); }
/bin/hal --disk /grub.iso,ro --mem 256M --display none --serial none --control /tmp/s \
	--debugcon file:/tmp/grub.dbg 2>/tmp/grub.err &
hp=$!
# hal's vCPU thread keeps a CPU busy (GRUB polls the keyboard); with L1's
# single CPU (before display.sh gave it -smp 2) halctl waited a minute per
# screendump. nice 19 for every hal thread but the main one, which serves
# the control socket.
sleep 1
for tid in $(ls /proc/$hp/task); do [ "$tid" = $hp ] || renice -n 19 -p "$tid" >/dev/null; done
bar0=
while [ "$(t)" -lt 300 ] && kill -0 $hp 2>/dev/null; do
	sleep 2
	halctl /tmp/s screendump /tmp/g.ppm >/dev/null 2>&1 || continue
	bar0=$(halctl -bar /tmp/g.ppm 2>/dev/null)
	echo "E2E: grub t=$(t) bar=$bar0 $(tail -n 1 /tmp/grub.dbg)"
	[ "${bar0#* }" -ge 12 ] 2>/dev/null && break # a text row's height
	bar0=
done
echo "E2E: grub menu after $(t) s: bar=$bar0"
if [ -n "$bar0" ]; then
	# GRUB counts down to booting the first entry and redraws that line every
	# second: a key stops it ("up" on the first entry moves nothing).
	halctl /tmp/s sendkey up >/dev/null
	l1_stable /tmp/s /tmp/g0.ppm # the whole menu drawn (the BIOS draws it pixel by pixel)
	bar0=$(halctl -bar /tmp/g0.ppm 2>/dev/null)
	halctl /tmp/s sendkey down >/dev/null
	bar1=$bar0 i=0 # until a whole bar is lower (or 30 tries): display.sh checks
	while [ $i -lt 30 ] && ! { [ "${bar1%% *}" -gt "${bar0%% *}" ] && [ "${bar1#* }" -ge 12 ]; } 2>/dev/null; do
		sleep 1; i=$((i + 1))
		halctl /tmp/s screendump /tmp/g.ppm >/dev/null 2>&1 && bar1=$(halctl -bar /tmp/g.ppm 2>/dev/null)
	done
	echo "E2E: grub t=$(t) bar after down=$bar1"
	l1_stable /tmp/s /tmp/g1.ppm
else
	halctl /tmp/s screendump /tmp/g0.ppm >/dev/null 2>&1
fi
halctl /tmp/s quit >/dev/null 2>&1
wait $hp
echo "E2E: grub hal rc=$? t=$(t)"
sed 's/^/E2E: grub hal: /' /tmp/grub.err | head -n 20
# hal has ended: the serial line is L1's alone now
[ -s /tmp/g0.ppm ] && l1_send grub0 /tmp/g0.ppm
[ -s /tmp/g1.ppm ] && l1_send grub1 /tmp/g1.ppm
echo "E2E: grub sent t=$(t)"

# A pure El Torito CD (ISOLINUX, menu.c32, no timeout) on hal's AHCI CD-ROM:
# SeaBIOS boots it, the menu stays on the screen; display.sh OCRs it.
if [ -e /menu.iso ]; then
	echo "E2E: eltorito begin t=$(t)"
	/bin/hal --cdrom /menu.iso --mem 256M --display none --serial none --control /tmp/m 2>/tmp/menu.err &
	hp=$!
	sleep 1
	for tid in $(ls /proc/$hp/task); do [ "$tid" = $hp ] || renice -n 19 -p "$tid" >/dev/null; done
	sleep 20
	l1_stable /tmp/m /tmp/m0.ppm
	halctl /tmp/m quit >/dev/null 2>&1
	wait $hp
	echo "E2E: eltorito hal rc=$? t=$(t)"
	sed 's/^/E2E: eltorito hal: /' /tmp/menu.err | head -n 20
	[ -s /tmp/m0.ppm ] && l1_send eltorito0 /tmp/m0.ppm
	echo "E2E: eltorito sent t=$(t)"
fi
poweroff -f
