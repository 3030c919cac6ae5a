#!/bin/sh
# Display test bed (docs/display-host.md, docs/display.md): L1 under QEMU TCG
# (two vCPUs, MTTCG) has QEMU's bochs-display (EDID native mode 2048x1600),
# driven by L1's bochs-drm.
#   1. tests/e2e/kmstest.c puts four quadrants on it through the KMS backend
#      and closes it: QEMU's screendump must show the quadrants, then not.
#   2. hal --display kms boots L2 (same kernel), whose /init loads bochs-drm
#      for hal's display device and writes a 1024x768 picture (red, green /
#      blue, white quadrants) to /dev/fb0. hal scales it by the largest
#      integer that fits (2) and letterboxes it: 2048x1536 at +0+32.
#      QEMU's screendump of L1's screen must show exactly that.
#   3. hal --disk grub-rescue-cdrom.iso --display none --control SOCK boots
#      GRUB through SeaBIOS + vgabios-bochs-display; halctl in L1 takes
#      screendumps of hal's screen (before and after `sendkey down`) and
#      sends them here through the serial console (gzip + base64 between
#      "E2E: BEGIN/END grubN" lines). tesseract must read GRUB's menu in the
#      first; halctl -bar must find the highlight bar lower in the second.
#   4. hal --cdrom menu.iso (a pure El Torito CD made here with xorriso and
#      Debian's isolinux: ISOLINUX's menu.c32, no timeout) boots through
#      SeaBIOS from the AHCI CD-ROM; tesseract must read the menu.
# Prints PASS/FAIL/SKIP lines; the serial log is $BUILD/e2e/display-log.txt,
# the screendumps $BUILD/e2e/display-*.ppm (GRUB's also as .png).
# Environment: BUILD, MAKE, DISPLAY_TIMEOUT (seconds, default 600),
# GRUB_ISO (default Debian's grub-rescue-pc image).
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
E2E=$BUILD/e2e
timeout_s=${DISPLAY_TIMEOUT:-600}
log=$E2E/display-log.txt
sock=$E2E/display-qmp.sock
W=2048 H=1600
GRUB_ISO=${GRUB_ISO:-/usr/lib/grub-rescue/grub-rescue-cdrom.iso}
VGABIOS=/usr/share/seabios/vgabios-bochs-display.bin
grub=1
if ! [ -f "$GRUB_ISO" ]; then grub=; grub_skip="$GRUB_ISO is missing (apt-get install grub-rescue-pc)"
elif ! [ -f "$VGABIOS" ]; then grub=; grub_skip="$VGABIOS is missing (apt-get install seabios)"; fi

. tests/e2e/bedlib.sh
bed_qemu_check e2e-display || exit 0
command -v python3 >/dev/null 2>&1 || { echo "SKIP e2e-display: python3 not installed (QMP and picture checks)"; exit 0; }
mkdir -p "$E2E"
if ! $MAKE -s --no-print-directory BUILD="$BUILD" e2e-images "$E2E/kmstest" "$E2E/halctl" >"$E2E/display-make.log" 2>&1; then
	tail -n 20 "$E2E/display-make.log" | sed 's/^/  /'
	echo "FAIL e2e-display-build: see $E2E/display-make.log"
	exit 0
fi
kver=$(cat "$E2E/kver")
kroot=$E2E/kroot
mdir=$kroot/lib/modules/$kver

# bochs-drm and what it needs, in load order (paths relative to $mdir).
modprobe -d "$kroot" -S "$kver" --show-depends bochs 2>/dev/null |
	sed -n "s|^insmod $(cd "$mdir" && pwd)/||p" | sed 's/ *$//' >"$E2E/display.list"
[ -s "$E2E/display.list" ] || { echo "FAIL e2e-display-build: modprobe --show-depends bochs gave nothing"; exit 0; }
mods() { while read -r m; do echo "file /lib/modules/$(basename "$m") $mdir/$m 0644"; done <"$E2E/display.list"; }
while read -r m; do basename "$m"; done <"$E2E/display.list" >"$E2E/display.names"

# The L2 picture: 1024x768 XRGB8888 quadrants.
python3 -c '
import sys
w, h = 1024, 768
q = [b"\x00\x00\xff\x00", b"\x00\xff\x00\x00", b"\xff\x00\x00\x00", b"\xff\xff\xff\x00"]
top = q[0] * (w // 2) + q[1] * (w // 2)
bot = q[2] * (w // 2) + q[3] * (w // 2)
sys.stdout.buffer.write(top * (h // 2) + bot * (h // 2))' | gzip -1n >"$E2E/picture.gz"

{
	for d in /dev /proc /sys /bin /lib /lib/modules; do echo "dir $d 0755"; done
	echo "nod /dev/console 0600 c 5 1"
	echo "file /init tests/e2e/display-l2init.sh 0755"
	echo "file /bin/busybox ${BUSYBOX:-/bin/busybox} 0755"
	echo "slink /bin/sh busybox 0777"
	echo "file /display.list $E2E/display.names 0644"
	echo "file /picture.gz $E2E/picture.gz 0644"
	mods
} | "$E2E/mkcpio" | gzip -1n >"$E2E/l2disp.cpio.gz"
# L1: the usual image (kvm-amd, busybox, hal, the kernel) plus a second
# the El Torito menu CD: ISOLINUX with menu.c32, no isohybrid MBR
menu_skip=
rm -rf "$E2E/menu.d" "$E2E/menu.iso"
if [ -s /usr/lib/ISOLINUX/isolinux.bin ] && command -v xorriso >/dev/null; then
	mkdir -p "$E2E/menu.d/isolinux"
	for f in ldlinux.c32 menu.c32 libutil.c32 libcom32.c32; do cp "/usr/lib/syslinux/modules/bios/$f" "$E2E/menu.d/isolinux/"; done
	cp /usr/lib/ISOLINUX/isolinux.bin "$E2E/menu.d/isolinux/"
	printf 'UI menu.c32\nPROMPT 0\nTIMEOUT 0\nMENU TITLE HAL El Torito menu\nLABEL one\n  MENU LABEL Boot from the AHCI CD-ROM\n  KERNEL /none\n' \
		>"$E2E/menu.d/isolinux/isolinux.cfg"
	xorriso -as mkisofs -quiet -R -V HALMENU -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot \
		-boot-load-size 4 -boot-info-table -o "$E2E/menu.iso" "$E2E/menu.d" || menu_skip="xorriso failed"
else
	menu_skip="isolinux or xorriso is missing (apt-get install isolinux xorriso)"
fi

# archive on top: our /init, kmstest, bochs-drm, the L2 image.
{
	echo "dir /lib 0755"
	echo "dir /lib/modules 0755"
	echo "file /init tests/e2e/display-l1init.sh 0755"
	echo "file /bin/kmstest $E2E/kmstest 0755"
	echo "file /display.list $E2E/display.names 0644"
	echo "file /l2disp.cpio.gz $E2E/l2disp.cpio.gz 0644"
	mods
	if [ -n "$grub" ]; then
		echo "file /bin/halctl $E2E/halctl 0755"
		echo "file /grub.iso $GRUB_ISO 0644"
		for d in /usr /usr/share /usr/share/seabios; do echo "dir $d 0755"; done
		echo "file /usr/share/seabios/vgabios-bochs-display.bin $VGABIOS 0644"
		[ -s "$E2E/menu.iso" ] && echo "file /menu.iso $E2E/menu.iso 0644"
	fi
} | "$E2E/mkcpio" | gzip -1n >"$E2E/display-overlay.cpio.gz"
cat "$E2E/l1.cpio.gz" "$E2E/display-overlay.cpio.gz" >"$E2E/display-l1.cpio.gz"

qmp() { # qmp FILE: screendump into FILE
	python3 - "$sock" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1]); f = s.makefile("rw")
f.readline()
for cmd in ({"execute": "qmp_capabilities"}, {"execute": "screendump", "arguments": {"filename": sys.argv[2]}}):
    f.write(json.dumps(cmd) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
    if "error" in r:
        print("qmp:", r["error"], file=sys.stderr); sys.exit(1)
PY
}

# One boot of the bed. L1 has been seen to stop (TCG + nested SVM on this
# 2-core machine: a soft lockup, or no console line at all for minutes, once
# right after hal's "bring-up: kvm"); then QEMU is stopped and the bed booted
# once more, the first log kept as $log.lockup. DISPLAY_SILENCE (seconds,
# default 240) is how long a quiet console counts as stopped; the longest
# quiet stretch of every boot is printed, so the margin stays visible.
display_boot() {
	rm -f "$sock" "$E2E"/display-*.ppm "$E2E"/display-*.png "$E2E"/display-*.ocr.txt "$log"
	timeout "$timeout_s" "$QEMU" -accel tcg,thread=multi -cpu EPYC -m 2048 -smp 2 \
		-display none -nodefaults -no-reboot -serial "file:$log" -qmp "unix:$sock,server=on,wait=off" \
		-device bochs-display,xres=$W,yres=$H,vgamem=64M \
		-kernel "$E2E/vmlinuz" -initrd "$E2E/display-l1.cpio.gz" \
		-append "console=ttyS0 panic=-1 quiet consoleblank=0${GRUB_ONLY:+ grubonly}" </dev/null >"$E2E/display-qemu.txt" 2>&1 &
	qpid=$!
	shown= closed= l2= stuck= size=0 quiet_since=$(date +%s) quiet_max=0
	while kill -0 $qpid 2>/dev/null; do
		sleep 0.5
		[ -f "$log" ] || continue
		if [ -z "$shown" ] && grep -q 'E2E: kmstest shown' "$log"; then shown=1; qmp "$E2E/display-kmstest.ppm"; fi
		if [ -z "$closed" ] && grep -q 'E2E: kmstest closed' "$log"; then closed=1; sleep 2; qmp "$E2E/display-restored.ppm"; fi
		if [ -z "$l2" ] && grep -q 'L2: picture drawn' "$log"; then l2=1; sleep 6; qmp "$E2E/display-hal.ppm"; fi
		now=$(date +%s) s=$(wc -c <"$log")
		if [ "$s" != "$size" ]; then size=$s quiet_since=$now; fi
		[ $((now - quiet_since)) -gt "$quiet_max" ] && quiet_max=$((now - quiet_since))
		if grep -q 'watchdog: BUG: soft lockup' "$log"; then stuck="a soft lockup"
		elif [ "$quiet_max" -gt "${DISPLAY_SILENCE:-240}" ]; then stuck="no console output for ${DISPLAY_SILENCE:-240} s"; fi
		[ -n "$stuck" ] && { kill $qpid 2>/dev/null; break; }
	done
	wait $qpid
}

t0=$(date +%s)
for try in 1 2; do
	display_boot
	echo "  display bed boot $try: longest quiet console ${quiet_max} s"
	[ -n "$stuck" ] && [ $try = 1 ] || break
	cp "$log" "$log.lockup"
	echo "  e2e-display: L1 stopped ($stuck, QEMU TCG + nested SVM; log: $log.lockup): booting the bed once more"
done
[ -n "$stuck" ] && echo "  e2e-display: L1 stopped again ($stuck)"
echo "e2e: time display test bed $(($(date +%s) - t0)) s (log: $log)"

# check NAME FILE SPEC...: SPEC is x,y,rrggbb (pixel must be) or x,y,!rrggbb (must not be)
check() {
	name=$1 file=$2; shift 2
	if [ ! -s "$file" ]; then echo "FAIL $name: no screendump (see $log)"; tail -n 8 "$log" | sed 's/^/  /'; return; fi
	why=$(python3 - "$file" "$@" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
parts = d.split(b"\n", 3) # P6, "w h", maxval, data (no comments from QEMU)
w, h = map(int, parts[1].split()); px = parts[3]
bad = []
for spec in sys.argv[2:]:
    x, y, want = spec.split(",")
    x, y = int(x), int(y)
    neg = want.startswith("!"); want = want.lstrip("!")
    if not (0 <= x < w and 0 <= y < h):
        bad.append("%d,%d outside %dx%d" % (x, y, w, h)); continue
    o = (y * w + x) * 3
    got = px[o:o + 3].hex()
    if (got == want) == neg:
        bad.append("%d,%d is %s, wanted %s%s" % (x, y, got, "not " if neg else "", want))
print("; ".join(bad))
PY
)
	if [ -z "$why" ]; then echo "PASS $name"; else echo "FAIL $name: $why"; fi
}

if ! grep -q 'E2E: L1 up' "$log" 2>/dev/null; then
	echo "FAIL e2e-display-l1: L1 did not come up; last lines:"; tail -n 10 "$log" 2>/dev/null | sed 's/^/  /'; exit 0
fi
grep 'E2E: dri\|kms:\|E2E: kmstest' "$log" | sed 's/^/  /'
if [ -n "$GRUB_ONLY" ]; then
	for t in kms-backend kms-restore hal-kms; do echo "SKIP e2e-display-$t: GRUB_ONLY is set"; done
else
qx=$((W / 4)) qy=$((H / 4)) rx=$((W * 3 / 4)) ry=$((H * 3 / 4))
check e2e-display-kms-backend "$E2E/display-kmstest.ppm" $qx,$qy,ff0000 $rx,$qy,00ff00 $qx,$ry,0000ff $rx,$ry,ffffff
check e2e-display-kms-restore "$E2E/display-restored.ppm" $qx,$qy,!ff0000 $rx,$ry,!ffffff

# 1024x768 scaled 2x into 2048x1600: the box is 2048x1536 at +0+32.
check e2e-display-hal-kms "$E2E/display-hal.ppm" \
	1,33,ff0000 1023,33,ff0000 1024,33,00ff00 2046,33,00ff00 \
	1,799,ff0000 1,800,0000ff 1,1566,0000ff 2046,1566,ffffff \
	1024,10,000000 1024,31,000000 1024,1568,000000 1024,1590,000000
grep -o 'E2E: display hal rc=[0-9]*' "$log" | sed 's/^/  /'
fi

# the El Torito CD's ISOLINUX menu, from hal's screen
if [ -n "$menu_skip" ] || [ -z "$grub" ]; then
	echo "SKIP e2e-eltorito-menu-ocr: ${menu_skip:-$grub_skip}"
elif ! bed_screendump "$log" eltorito0 "$E2E/display-eltorito0"; then
	echo "FAIL e2e-eltorito-menu-ocr: no screendump came from L1 (see $log)"
	tr -d '\r' <"$log" | grep 'E2E: eltorito' | sed 's/^/  /'
else
	why=$(bed_ocr "$E2E/display-eltorito0.png" 'El Torito' 'AHCI CD-ROM')
	case $? in
	0) echo "PASS e2e-eltorito-menu-ocr" ;;
	2) echo "SKIP e2e-eltorito-menu-ocr: tesseract is missing (apt-get install tesseract-ocr)" ;;
	*) echo "FAIL e2e-eltorito-menu-ocr: OCR of $E2E/display-eltorito0.png $why" ;;
	esac
fi

# GRUB: the screendumps L1 sent (gzip'd base64 PPM) -> display-grubN.ppm/.png
grubdump() { bed_screendump "$log" "$1" "$E2E/display-$1"; }
if [ -z "$grub" ]; then
	echo "SKIP e2e-grub-menu-ocr: $grub_skip"
	echo "SKIP e2e-grub-sendkey-down: $grub_skip"
	exit 0
fi
tr -d '\r' <"$log" | grep 'E2E: grub \(menu\|t=[0-9]* bar after\|hal\|sent\)' | sed 's/^/  /'
if ! grubdump grub0; then
	echo "FAIL e2e-grub-menu-ocr: no screendump came from L1 (see $log)"
	echo "FAIL e2e-grub-sendkey-down: no screendump came from L1"
	exit 0
fi
why=$(bed_ocr "$E2E/display-grub0.png" 'GNU GRUB' 'GNU/Linux' 'Memtest86' 'highlighted')
case $? in
0) echo "PASS e2e-grub-menu-ocr" ;;
2) echo "SKIP e2e-grub-menu-ocr: tesseract is missing (apt-get install tesseract-ocr)" ;;
*) echo "FAIL e2e-grub-menu-ocr: OCR of $E2E/display-grub0.png $why" ;;
esac
bar0=$("$E2E/halctl" -bar "$E2E/display-grub0.ppm")
if ! grubdump grub1; then
	echo "FAIL e2e-grub-sendkey-down: no second screendump came from L1 (bar before: $bar0)"
else
	bar1=$("$E2E/halctl" -bar "$E2E/display-grub1.ppm")
	if [ "${bar1%% *}" -gt "${bar0%% *}" ] 2>/dev/null; then echo "PASS e2e-grub-sendkey-down"
	else echo "FAIL e2e-grub-sendkey-down: the highlight bar did not move down (y height before: $bar0, after: $bar1)"; fi
fi
exit 0

