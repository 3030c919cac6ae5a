#!/bin/sh
# make demo (README, docs/usage.md): the product's main job on this machine.
#   With a usable /dev/kvm: build/hal --disk DEMO-DISK, the guest's serial on
#     the terminal, its screen taken through hal --control.
#   Without one: the machine is QEMU (the bed's QEMU, TCG, -cpu EPYC, q35,
#     bochs-display as its screen) booting the USB stick image from a USB
#     stick and the demo guest disk as its internal disk: its serial console
#     is this terminal, so init, hal and the guest show in turn; the
#     "physical" screen is taken with QEMU's screendump.
# Ends when the guest powers off; writes build/demo.png (the screen while
# the guest greets) and prints each stage's time.
# Usage: demo.sh BUILD   (build/demo/guest.img, build/demo/usb.img made by make)
BUILD=${1:-build}
D=$BUILD/demo
log=$D/console.log
png=$BUILD/demo.png
hello='Hello from the guest'
. tests/e2e/bedlib.sh
rm -f "$png" "$log" "$D"/*.sock "$D/screen.ppm"
now() { date +%s%3N; }
t0=$(now)

# ppm2png PPM PNG: binary PPM (P6, maxval 255) to PNG, with python3's zlib
ppm2png() {
	python3 - "$1" "$2" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
parts = d.split(maxsplit=4)
assert parts[0] == b"P6" and parts[3] == b"255", "not a P6 PPM"
w, h, px = int(parts[1]), int(parts[2]), parts[4]
raw = b"".join(b"\0" + px[y * w * 3:(y + 1) * w * 3] for y in range(h))
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
open(sys.argv[2], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
PY
}
# qmp_screendump SOCK PPM
qmp_screendump() {
	python3 - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
f.readline()
for cmd in ({"execute": "qmp_capabilities"}, {"execute": "screendump", "arguments": {"filename": sys.argv[2]}}):
    f.write(json.dumps(cmd) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r: break
PY
}
# The screen while the guest greets: when the line is on the console, wait
# a moment for the screen to show it too, then take it.
watch() { # SHOT-COMMAND...
	while ! grep -q "$hello" "$log" 2>/dev/null; do sleep 0.5; [ -e "$D/done" ] && return; done
	sleep 2
	"$@" && echo "demo: screen at the greeting -> $png" >&2
}
stamp() { # prefix each console line with the time since the demo started
	cr=$(printf '\r')
	while IFS= read -r l || [ -n "$l" ]; do
		case $l in *"TCG doesn't support requested feature"*) continue ;; esac
		printf '[%6d ms] %s\n' $(($(now) - t0)) "${l%"$cr"}"
	done
}
rm -f "$D/done"
if [ -c /dev/kvm ] && { : ; } 3<>/dev/kvm 2>/dev/null; then
	mode=kvm
	echo "demo: /dev/kvm is usable: hal boots the demo guest disk directly"
	sock=$D/hal.sock
	watch sh -c "'$BUILD/guest/halctl' '$sock' screendump '$png' >/dev/null" &
	"$BUILD/hal" --disk "$D/guest.img,ro" --mem 256M --serial stdio --display none --control "$sock" </dev/null 2>&1 |
		stamp | tee "$log"
else
	mode=bed
	bed_qemu_check demo >/dev/null || { echo "demo: no /dev/kvm and no QEMU ($QEMU): make qemu" >&2; exit 1; }
	echo "demo: no usable /dev/kvm here: the machine is QEMU (TCG, nested SVM) booting $D/usb.img from a USB stick"
	echo "demo: its internal disk is the demo guest $D/guest.img; its serial console follows"
	sock=$D/qmp.sock
	( watch_bed() { qmp_screendump "$sock" "$(pwd)/$D/screen.ppm" && ppm2png "$D/screen.ppm" "$png"; }
	  watch watch_bed ) &
	timeout 900 "$QEMU" -accel tcg,thread=multi -cpu EPYC -smp 2 -m 2048 -machine q35 \
		-nodefaults -display none -serial stdio -no-reboot -qmp "unix:$sock,server=on,wait=off" \
		-device bochs-display \
		-drive file="$D/usb.img",format=raw,if=none,id=usb0,snapshot=on -device qemu-xhci \
		-device usb-storage,drive=usb0,bootindex=0 \
		-drive file="$D/guest.img",format=raw,if=none,id=gd,snapshot=on -device ide-hd,drive=gd,bus=ide.0 \
		</dev/null 2>&1 | stamp | tee "$log"
fi
touch "$D/done"
wait
at() { sed -n "s/^\[ *\([0-9]*\) ms\] .*$1.*/\1/p" "$log" | head -n 1; }
echo "demo: stages (ms since start):"
[ $mode = bed ] && echo "  machine firmware -> USB stick's boot loader: $(at 'SYSLINUX' || true)" &&
	echo "  init (PID 1) starts:                        $(at 'init: HAL boot medium starting')" &&
	echo "  init found the guest disk:                  $(at 'init: guest disk')"
echo "  guest's SYSLINUX (under hal):               $(sed -n 's/^\[ *\([0-9]*\) ms\] .*SYSLINUX.*/\1/p' "$log" | sed -n "$([ $mode = bed ] && echo 2 || echo 1)p")"
echo "  guest greets:                               $(at "$hello")"
echo "  guest powered off:                          $(at 'demo guest: power off')"
echo "  end:                                        $(($(now) - t0))"
if ! grep -q "$hello" "$log"; then echo "demo: the guest did not greet (log: $log)" >&2; exit 1; fi
[ -s "$png" ] || { echo "demo: no screendump ($png)" >&2; exit 1; }
echo "demo: done; console log $log, screen $png"
