#!/bin/sh
# Full-system tests of the rdroot initramfs (docs/usb.md, docs/testing.md):
# QEMU TCG -cpu EPYC (q35: with the pc machine the kernel took ~10 s longer
# to reach init) boots build/vmlinuz + build/rdroot.img; init (PID 1)
# loads kvm-amd and the virtio modules, finds the guest disk (a virtio disk
# with a serial number) by hal.disk=SERIAL=, and hal boots it through SeaBIOS
# on the nested KVM. The guest (build/guest/bootdisk.img) prints on COM1 and
# powers off; init powers the machine off and QEMU exits by itself.
# Then the failure paths, each of which must end in the rescue shell with the
# reason on the console (the test types a command into the shell and
# 'poweroff'): no disk found, no SVM (kvm-amd refuses to load), hal crashes,
# hal hangs (init's watchdog, hal.watchdog=); and a damaged hal.conf, whose
# bad lines init names and skips while the guest still boots; and the guest
# disk pulled while the guest writes to it (hal stays up and says so, the
# guest sees the error). Every run has
# no display at all (-nodefaults): hal falls back to none.
#
# Prints PASS/FAIL/SKIP lines and "e2e: time" lines. Logs: build/e2e/rd-*.log.
# Environment: BUILD, MAKE, RD_TIMEOUT (seconds per QEMU run, default 400),
#   RD_ONLY (space-separated subset of: boot nodisk nokvm crash hang conf
#   vanish)
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
E2E=$BUILD/e2e
tmo=${RD_TIMEOUT:-400}
only=${RD_ONLY:-boot nodisk nokvm crash hang conf vanish}
. tests/e2e/rdroot-lib.sh

bed_qemu_check rdroot || exit 0
mkdir -p "$E2E"
t0=$(rd_now)
if ! $MAKE -s --no-print-directory BUILD="$BUILD" rdroot "$BUILD/guest/bootdisk.img" "$BUILD/guest/journal.bzimage" "$E2E/mkcpio" >"$E2E/rd-make.log" 2>&1; then
	echo "FAIL rdroot-build: make rdroot failed (see $E2E/rd-make.log)"
	tail -n 15 "$E2E/rd-make.log" | sed 's/^/  /'
	exit 0
fi
grep '^rdroot: ' "$E2E/rd-make.log"
echo "e2e: time make rdroot $(($(rd_now) - t0)) ms; rdroot.img $(($(wc -c <"$BUILD/rdroot.img") / 1024)) KiB"

serial=HALTEST0001
disk="-drive if=none,id=gd,file=$BUILD/guest/bootdisk.img,format=raw,snapshot=on -device virtio-blk-pci,drive=gd,serial=$serial"
base="console=ttyS0 panic=-1 quiet hal.serial=console hal.mem=64M"
rescue='echo RESCUE-$((6*7))-OK\npoweroff\n'
nopanic() {
	if rd_has "$2" 'Kernel panic'; then
		echo "FAIL $1: kernel panic:"
		grep -A3 'Kernel panic' "$E2E/$2.log" | head -n 6 | sed 's/^/  /'
	else
		echo "PASS $1"
	fi
}
# with_extra NAME: a cpio from the mkcpio spec on stdin in front of the
# rdroot, as $E2E/rdroot-NAME.img (the uncompressed archive first: the
# kernel does not look for a further archive behind a zstd one)
with_extra() {
	"$E2E/mkcpio" >"$E2E/$1.cpio" && cat "$E2E/$1.cpio" "$BUILD/rdroot.img" >"$E2E/rdroot-$1.img"
}
rescue_checks() { # TESTPREFIX NAME
	rd_check "$1-rescue" "$2" 'HAL rescue shell' "no rescue shell banner"
	rd_check "$1-shell" "$2" 'RESCUE-42-OK' "the rescue shell did not run the typed command"
	nopanic "$1-nopanic" "$2"
	rd_check_poweroff "$1-poweroff" "$2"
}

for what in $only; do
	case $what in
	boot)
		# shellcheck disable=SC2086
		rd_qemu rd-boot "$tmo" "" -machine q35 -m 1024 -kernel "$BUILD/vmlinuz" -initrd "$BUILD/rdroot.img" \
			-append "$base hal.disk=SERIAL=$serial" $disk
		rd_check rdroot-boot-init rd-boot 'init: ' "init printed nothing"
		rd_check rdroot-boot-kvm rd-boot 'svm: using kvm_amd' "no 'AuthenticAMD CPU with svm: using kvm_amd'"
		if rd_has rd-boot '/dev/kvm is missing|could not load'; then
			echo "FAIL rdroot-boot-kvm-loaded: $(grep -E '/dev/kvm is missing|could not load' "$E2E/rd-boot.log" | head -n 1)"
		else
			echo "PASS rdroot-boot-kvm-loaded"
		fi
		rd_check rdroot-boot-disk rd-boot 'guest disk: /dev/vda' "init did not find the disk by SERIAL=$serial"
		rd_check rdroot-boot-guest rd-boot 'bootsector: stage2 ok lba-read=pattern-ok' \
			"no 'bootsector: stage2 ok' from the guest on the console"
		rd_check rdroot-boot-guest-off rd-boot 'the guest powered off' "init did not see hal exit 0"
		rd_check_poweroff rdroot-boot-poweroff rd-boot
		a=$(rd_at rd-boot 'init: ') b=$(rd_at rd-boot 'guest disk: ') c=$(rd_at rd-boot 'bootsector: hello') d=$(rd_at rd-boot 'the guest powered off')
		echo "e2e: time rdroot boot: QEMU start to init ${a:-?} ms, disk found ${b:-?} ms, guest hello ${c:-?} ms, guest off ${d:-?} ms, QEMU exit $rd_ms ms"
		;;
	nodisk)
		# shellcheck disable=SC2086
		rd_qemu rd-nodisk "$tmo" "$rescue" -machine q35 -m 1024 -kernel "$BUILD/vmlinuz" -initrd "$BUILD/rdroot.img" \
			-append "$base hal.disk=SERIAL=NOSUCHDISK hal.disk_wait=3" $disk
		rd_check rdroot-nodisk-reason rd-nodisk '\*\*\* guest disk SERIAL=NOSUCHDISK not found after 3 s; block devices: vda' \
			"no '*** guest disk SERIAL=NOSUCHDISK not found' banner"
		rescue_checks rdroot-nodisk rd-nodisk
		;;
	nokvm)
		# EPYC without SVM: kvm_amd refuses to load, hal cannot open /dev/kvm
		# shellcheck disable=SC2086
		rd_qemu rd-nokvm "$tmo" "$rescue" -cpu EPYC,-svm -machine q35 -m 1024 -kernel "$BUILD/vmlinuz" -initrd "$BUILD/rdroot.img" \
			-append "$base hal.disk=SERIAL=$serial" $disk
		rd_check rdroot-nokvm-reason rd-nokvm "hardware virtualisation is not available: the CPU flag 'svm' is missing" \
			"init did not say that SVM is missing"
		rd_check rdroot-nokvm-devkvm rd-nokvm '/dev/kvm is missing' "init did not say that /dev/kvm is missing"
		rd_check rdroot-nokvm-hal rd-nokvm '\*\*\* hal failed \(exit 1\)' "no '*** hal failed (exit 1)' banner"
		rescue_checks rdroot-nokvm rd-nokvm
		;;
	crash)
		# hal.path=/bin/halcrash (an extra cpio in front of the rdroot): it
		# runs the real hal (no disk, so SeaBIOS waits) and sends it SIGSEGV.
		printf '#!/bin/busybox sh\n(/bin/busybox sleep 3; kill -SEGV $$) &\nexec /bin/hal --mem 64M --serial stdio\n' >"$E2E/halcrash.sh"
		printf 'dir /bin 0755\nfile /bin/halcrash %s 0755\n' "$E2E/halcrash.sh" | with_extra crash
		# shellcheck disable=SC2086
		rd_qemu rd-crash "$tmo" "$rescue" -machine q35 -m 1024 -kernel "$BUILD/vmlinuz" -initrd "$E2E/rdroot-crash.img" \
			-append "$base hal.disk=SERIAL=$serial hal.path=/bin/halcrash" $disk
		rd_check rdroot-crash-reason rd-crash '\*\*\* hal crashed: killed by signal 11' \
			"no '*** hal crashed: killed by signal 11' banner"
		rescue_checks rdroot-crash rd-crash
		rm -f "$E2E/rdroot-crash.img"
		;;
	hang)
		# hal.path=/bin/halhang: the real hal with init's arguments but
		# --disk (SeaBIOS then waits), stopped with SIGSTOP 3 s in. Its
		# control socket falls silent; init's watchdog (6 s) must kill it.
		cat >"$E2E/halhang.sh" <<'EOF'
#!/bin/busybox sh
n=$# skip=
while [ $n -gt 0 ]; do
	a=$1
	shift
	n=$((n - 1))
	if [ -n "$skip" ]; then skip=
	elif [ "$a" = --disk ]; then skip=1
	else set -- "$@" "$a"; fi
done
(/bin/busybox sleep 3; kill -STOP $$) &
exec /bin/hal "$@"
EOF
		printf 'dir /bin 0755\nfile /bin/halhang %s 0755\n' "$E2E/halhang.sh" | with_extra hang
		# shellcheck disable=SC2086
		rd_qemu rd-hang "$tmo" "$rescue" -machine q35 -m 1024 -kernel "$BUILD/vmlinuz" -initrd "$E2E/rdroot-hang.img" \
			-append "$base hal.disk=SERIAL=$serial hal.path=/bin/halhang hal.watchdog=6" $disk
		rd_check rdroot-hang-control rd-hang 'starting /bin/halhang .*--control /run/hal.sock' \
			"init did not give hal a control socket"
		rd_check rdroot-hang-reason rd-hang '\*\*\* hal hung: its control socket did not answer for 6 s' \
			"no '*** hal hung' banner"
		rescue_checks rdroot-hang rd-hang
		a=$(rd_at rd-hang 'starting /bin/halhang') b=$(rd_at rd-hang 'hal did not answer')
		[ -n "$a" ] && [ -n "$b" ] && echo "e2e: time rdroot hang: hal started to declared hung $((b - a)) ms (stopped at 3000, watchdog 6 s)"
		rm -f "$E2E/rdroot-hang.img"
		;;
	conf)
		# a hal.conf with a line that is no key=value, binary bytes and a
		# line longer than init reads: each named and skipped, the good
		# lines kept (serial=console, so the guest's COM1 is on the console)
		{
			printf '# damaged on purpose\nmem=64M\nthis line has no equals sign\n\001\002\377\376\n'
			head -c 1500 /dev/zero | tr '\0' x
			printf '\nserial=console\n'
		} >"$E2E/hal.conf"
		printf 'file /damaged.conf %s 0644\n' "$E2E/hal.conf" | with_extra conf
		# shellcheck disable=SC2086
		rd_qemu rd-conf "$tmo" "" -machine q35 -m 1024 -kernel "$BUILD/vmlinuz" -initrd "$E2E/rdroot-conf.img" \
			-append "console=ttyS0 panic=-1 quiet hal.conf=/damaged.conf hal.disk=SERIAL=$serial" $disk
		rd_check rdroot-conf-noequals rd-conf 'hal.conf:3: expected key=value' "init did not name line 3"
		rd_check rdroot-conf-binary rd-conf 'hal.conf:4: expected key=value' "init did not name line 4 (binary bytes)"
		rd_check rdroot-conf-long rd-conf 'hal.conf:5: line too long' "init did not name line 5 (too long)"
		rd_check rdroot-conf-kept rd-conf 'hal.serial=console' "the good lines after the bad ones were lost"
		rd_check rdroot-conf-guest rd-conf 'bootsector: stage2 ok' "the guest did not boot with the damaged hal.conf"
		nopanic rdroot-conf-nopanic rd-conf
		rd_check_poweroff rdroot-conf-poweroff rd-conf
		rm -f "$E2E/rdroot-conf.img"
		;;
	vanish)
		# The guest disk goes while the guest writes to it, as a pulled USB
		# disk: the journal guest (tests/guest/journal.c, hal.kernel=) writes
		# and flushes records on the disk init found; hal.path=/bin/halvanish
		# runs the real hal and, 8 s in, removes that disk's PCI device in
		# L1 (sysfs), then 15 s later stops hal with SIGTERM. hal must stay
		# up meanwhile (init's 6 s watchdog does not fire), name the disk,
		# and the guest must see the error; init then says hal was stopped.
		cat >"$E2E/halvanish.sh" <<'EOF'
#!/bin/busybox sh
prev= d=
for a in "$@"; do [ "$prev" = --disk ] && d=${a%%,*}; prev=$a; done
(
	/bin/busybox sleep 8
	echo "halvanish: removing $d"
	echo 1 >"$(/bin/busybox readlink -f "/sys/block/${d##*/}/device")/../remove"
	/bin/busybox sleep 15
	echo "halvanish: stopping hal"
	kill -TERM $$
) &
exec /bin/hal "$@"
EOF
		printf 'dir /bin 0755\nfile /bin/halvanish %s 0755\nfile /journal.bzimage %s 0644\n' \
			"$E2E/halvanish.sh" "$BUILD/guest/journal.bzimage" | with_extra vanish
		# shellcheck disable=SC2086
		# a scratch disk the journal takes minutes to fill (about 0.7 MB/s here)
		rm -f "$E2E/vanish-disk.img" && truncate -s 128M "$E2E/vanish-disk.img"
		rd_qemu rd-vanish "$tmo" "$rescue" -machine q35 -m 1024 -kernel "$BUILD/vmlinuz" -initrd "$E2E/rdroot-vanish.img" \
			-append "$base hal.disk=SERIAL=$serial hal.kernel=/journal.bzimage hal.append=\"console=ttyS0 jrnl.id=5eed1234\" hal.path=/bin/halvanish hal.watchdog=6" \
			-drive if=none,id=vd,file="$E2E/vanish-disk.img",format=raw -device virtio-blk-pci,drive=vd,serial=$serial
		rd_check rdroot-vanish-wrote rd-vanish 'jrnl: [0-9]' "the guest wrote no record before the disk went"
		if rd_has rd-vanish 'jrnl: full'; then echo "FAIL rdroot-vanish-in-time: the guest filled the disk before it went"; fi
		rd_check rdroot-vanish-removed rd-vanish 'halvanish: removing /dev/' "the disk was not removed"
		rd_check rdroot-vanish-guest-error rd-vanish 'jrnl: FAIL (write|flush) status' "the guest saw no I/O error"
		rd_check rdroot-vanish-message rd-vanish 'hal: warning: disk /dev/[a-z]*: .* failed' "hal did not name the failing disk"
		if rd_has rd-vanish 'hal hung'; then
			echo "FAIL rdroot-vanish-hal-up: init's watchdog found hal deaf after the disk went"
		else
			rd_check rdroot-vanish-hal-up rd-vanish '\*\*\* hal was stopped \(exit 5\)' "hal did not last until the SIGTERM 15 s after the disk went"
		fi
		rescue_checks rdroot-vanish rd-vanish
		rm -f "$E2E/rdroot-vanish.img" "$E2E/vanish-disk.img"
		;;
	*) echo "FAIL rdroot: unknown RD_ONLY entry '$what'" ;;
	esac
done
exit 0
