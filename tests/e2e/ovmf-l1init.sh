#!/bin/sh
# PID 1 of the L1 guest of the OVMF test (tests/e2e/ovmf.sh): loads kvm-amd,
# then boots two UEFI disks under hal through OVMF (tests/e2e/mkuefidisk.sh).
#   uefi1, uefi2  /uefi.img (a unified kernel image). uefi1 uses the default
#                 variable store (/uefi.img.efivars, created from
#                 OVMF_VARS_4M.fd), uefi2 names the same file with --efivars.
#   grub1         /uefi-grub.img with --boot-menu 5: screendumps of OVMF's
#                 screen and of GRUB's menu, which waits until Enter comes
#                 through hal's PS/2 keyboard; the guest adds a boot entry
#                 with efibootmgr.
#   grub2         the same disk again, hal choosing the firmware itself
#                 (--firmware auto): OVMF boots that entry; the guest reboots
#                 through the ACPI reset register and, on the boot after,
#                 powers off.
#   shim1         /uefi-shim.img (Debian's signed shim, GRUB and kernel) with
#                 --secure-boot: the store is made from OVMF_VARS_4M.ms.fd and
#                 the guest sees SecureBoot=1.
#   unsigned      a copy of /uefi.img (unsigned) with --secure-boot and the
#                 store in memory: OVMF refuses to load it.
# Lines for ovmf.sh start with "E2E: "; screendumps come as l1_send blocks.
. /l1lib.sh
tmpl=/usr/share/OVMF/OVMF_VARS_4M.fd
vars_state() { # vars_state RUN FILE
	if [ ! -f "$2" ]; then echo "E2E: vars $1 missing"
	elif cmp -s "$2" $tmpl; then echo "E2E: vars $1 same as template"
	else echo "E2E: vars $1 differ from template, size $(wc -c <"$2")"; fi
}
for n in 1 2; do
	echo "E2E: begin uefi$n"
	if [ $n = 1 ]; then opt=""; else opt="--efivars /uefi.img.efivars"; fi
	t0=$(up_ms)
	# shellcheck disable=SC2086
	timeout 300 /bin/hal --firmware ovmf --disk /uefi.img $opt --mem 256M --serial stdio --display none -v
	rc=$?
	echo
	vars_state uefi$n /uefi.img.efivars
	echo "E2E: run uefi$n rc=$rc ms=$(( $(up_ms) - t0 ))"
done

# grub1: hal in the background, its serial port in a file L1 watches.
# 512 MiB: with 256, Debian 12's GRUB never gets its kernel started under
# OVMF (QEMU's own machine does the same).
echo "E2E: begin grub1"
t0=$(up_ms)
sock=/tmp/ctl ser=/tmp/grub1.serial
/bin/hal --firmware ovmf --disk /uefi-grub.img --boot-menu 5 --mem 512M --display none \
	--serial file:$ser --control $sock -v 2>/tmp/grub1.err &
hp=$!
sleep 1
# hal's vCPU thread is busy (OVMF and GRUB poll); the main thread serves
# the control socket, so it keeps its priority (as display-l1init.sh)
for tid in $(ls /proc/$hp/task); do [ "$tid" = $hp ] || renice -n 19 -p "$tid" >/dev/null; done
# OVMF's screen: every screendump with something on it before GRUB's menu
# reaches the serial port (OVMF's console is on both), the last 6 as PNGs
shots=0
while kill -0 $hp 2>/dev/null && ! grep -q 'GNU GRUB' $ser 2>/dev/null && [ $(( $(up_ms) - t0 )) -lt 400000 ]; do
	if halctl $sock screendump /tmp/o.ppm >/dev/null 2>&1 && halctl -lit /tmp/o.ppm >/dev/null &&
	   ! grep -q 'GNU GRUB' $ser; then
		shots=$((shots + 1))
		halctl $sock screendump /tmp/ovmf$((shots % 6)).png >/dev/null 2>&1
	fi
	sleep 1
done
echo "E2E: grub1 OVMF screendumps with a picture: $shots, GRUB's menu after $(( $(up_ms) - t0 )) ms"
if grep -q 'GNU GRUB' $ser; then
	l1_stable $sock /tmp/grub.ppm
	halctl $sock sendkey ret >/dev/null && echo "E2E: grub1 pressed Enter"
	# GRUB answers Enter within seconds ("Booting ..." on its console). Once
	# in a CI run (of many) it did not, and the run waited out its timeout:
	# then one more press, said so on the console (ovmf.sh prints it), and
	# a screendump of what the screen showed meanwhile.
	t1=$(up_ms)
	while kill -0 $hp 2>/dev/null && ! grep -q 'Booting' $ser && [ $(( $(up_ms) - t1 )) -lt 60000 ]; do sleep 1; done
	if kill -0 $hp 2>/dev/null && ! grep -q 'Booting' $ser; then
		halctl $sock screendump /tmp/grub-lost.ppm >/dev/null 2>&1
		halctl $sock sendkey ret >/dev/null && echo "E2E: grub1 Enter had no effect in 60 s: pressed again"
	fi
fi
timeout 300 sh -c "while kill -0 $hp 2>/dev/null; do sleep 1; done"
kill $hp 2>/dev/null
wait $hp
rc=$?
cat $ser
echo
sed 's/^/E2E: grub1 hal: /' /tmp/grub1.err
vars_state grub1 /uefi-grub.img.efivars
echo "E2E: run grub1 rc=$rc ms=$(( $(up_ms) - t0 ))"
for i in 0 1 2 3 4 5; do [ -s /tmp/ovmf$i.png ] && l1_send ovmf$i /tmp/ovmf$i.png; done
[ -s /tmp/grub.ppm ] && l1_send grub /tmp/grub.ppm
[ -s /tmp/grub-lost.ppm ] && l1_send grub-lost /tmp/grub-lost.ppm

echo "E2E: begin grub2"
t0=$(up_ms)
timeout 400 /bin/hal --disk /uefi-grub.img --mem 512M --serial stdio --display none -v
rc=$?
echo
echo "E2E: run grub2 rc=$rc ms=$(( $(up_ms) - t0 ))"

echo "E2E: begin shim1"
t0=$(up_ms)
timeout 300 /bin/hal --secure-boot --disk /uefi-shim.img --mem 512M --serial stdio --display none -v
rc=$?
echo
echo "E2E: run shim1 rc=$rc ms=$(( $(up_ms) - t0 ))"

echo "E2E: begin unsigned"
t0=$(up_ms)
cp /uefi.img /tmp/unsigned.img
ser=/tmp/unsigned.serial
/bin/hal --secure-boot --efivars none --disk /tmp/unsigned.img --mem 256M --serial file:$ser \
	--display none --control /tmp/ctl2 -v 2>/tmp/unsigned.err &
hp=$!
while kill -0 $hp 2>/dev/null && ! grep -q 'Press any key' $ser 2>/dev/null && [ $(( $(up_ms) - t0 )) -lt 200000 ]; do
	sleep 1
done
halctl /tmp/ctl2 quit >/dev/null 2>&1
wait $hp
rc=$?
tr -d '\033' <$ser | grep -a 'BdsDxe'
sed 's/^/E2E: unsigned hal: /' /tmp/unsigned.err
echo "E2E: run unsigned rc=$rc ms=$(( $(up_ms) - t0 ))"
echo "E2E: done uptime_ms=$(up_ms)"
poweroff -f
