#!/bin/sh
# The nested test bed (docs/testing.md, "Full-system test bed"), run by
# tests/e2e/run.sh:
#   QEMU TCG -cpu EPYC (nested AMD SVM) boots Debian's kernel (L1) with an
#   initramfs that loads kvm-amd and runs build/hal, which boots the same
#   kernel (L2) with tests/e2e/l2init.c as PID 1, once with --cpus 1 and once
#   with --cpus 2.
# Prints PASS/FAIL/SKIP lines (tests/report.sh counts them) and "e2e: time"
# lines. The serial log, each line prefixed with host seconds since QEMU
# started, is left in $BUILD/e2e/log.txt.
#
# Environment: BUILD (default build), MAKE (default make),
#   E2E_TIMEOUT  seconds QEMU may run (default 900)
#   E2E_L1       use this L1 initramfs and build nothing (for debugging)
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
E2E=$BUILD/e2e
timeout_s=${E2E_TIMEOUT:-900}
log=$E2E/log.txt
appendL2="console=ttyS0 panic=-1 quiet"

now_ms() { date +%s%3N; }

. tests/e2e/bedlib.sh
bed_qemu_check e2e || exit 0
mkdir -p "$E2E"

if [ -n "${E2E_L1:-}" ]; then
	l1=$E2E_L1
else
	l1=$E2E/l1.cpio.gz
	t0=$(now_ms)
	if ! $MAKE -s --no-print-directory BUILD="$BUILD" e2e-images >"$E2E/make.log" 2>&1; then
		tail -n 20 "$E2E/make.log" | sed 's/^/  /'
		if [ ! -x "$BUILD/hal" ]; then
			echo "FAIL e2e-build: $BUILD/hal does not build (see $E2E/make.log)"
		else
			echo "FAIL e2e-build: make e2e-images failed (see $E2E/make.log)"
		fi
		exit 0
	fi
	grep '^e2e: ' "$E2E/make.log"
	echo "e2e: time images (make e2e-images, total) $(($(now_ms) - t0)) ms"
fi
kernel=$E2E/vmlinuz
[ -s "$kernel" ] && [ -s "$l1" ] || { echo "FAIL e2e-build: missing $kernel or $l1"; exit 0; }

# Boot L1. Every serial line gets the host time (s.ms since QEMU started).
BED_SILENCE=300
bed_boot2 e2e "$log" "$timeout_s" -m 2048 -smp 1 \
	-kernel "$kernel" -initrd "$l1" -append "console=ttyS0 panic=-1 quiet"
total=$bed_ms
echo "e2e: time QEMU total $total ms (log: $log)"

# host time (ms) of the first log line matching $1, or empty
at_ms() {
	sed -n "s/^\[ *\([0-9]*\)\.\([0-9]*\)\] .*$1.*/\1\2/p" "$log" | head -n 1 | sed 's/^0*//;s/^$/0/'
}
has() { grep -q -- "$1" "$log"; }

if has 'E2E: L1 up'; then
	echo "PASS e2e-l1-boot"
	echo "e2e: time QEMU start to L1 /init $(at_ms 'E2E: L1 up') ms (L1 $(sed -n 's/.*E2E: L1 up \(uptime_ms=[0-9]*\).*/\1/p' "$log" | head -n 1))"
else
	if [ "$total" -ge $((timeout_s * 1000)) ]; then why="QEMU timed out after ${timeout_s}s"; else why="no 'E2E: L1 up' line"; fi
	echo "FAIL e2e-l1-boot: $why; last lines of $log:"
	tail -n 15 "$log" | sed 's/^/  /'
	exit 0
fi
if has 'E2E: /dev/kvm present'; then
	echo "PASS e2e-l1-kvm"
	sed -n 's/.*E2E: modules loaded ms=\([0-9]*\).*/e2e: time insmod kvm-amd and deps \1 ms/p' "$log"
else
	echo "FAIL e2e-l1-kvm: /dev/kvm did not appear after loading $(tr '\n' ' ' <"$E2E/modules.list" 2>/dev/null)"
	grep -E 'E2E: insmod|kvm|svm' "$log" | head -n 10 | sed 's/^/  /'
	exit 0
fi
if has 'E2E: no /bin/hal'; then
	echo "SKIP e2e-hal: the L1 image has no hal"
	exit 0
fi

for n in 1 2; do
	# this run's part of the log
	sec=$E2E/run-cpus$n.txt
	sed -n "/E2E: begin cpus=$n\$/,/E2E: run cpus=$n /p" "$log" >"$sec"
	if [ ! -s "$sec" ]; then
		echo "FAIL e2e-hal-cpus$n: the run never started (L1 stopped before it)"
		tail -n 10 "$log" | sed 's/^/  /'
		continue
	fi
	want="L2: hello from Linux under hal, cpus=$n cmdline=$appendL2"
	if grep -q -F -- "$want" "$sec"; then
		echo "PASS e2e-hal-cpus$n-hello"
	else
		got=$(grep -F 'L2: hello' "$sec" | head -n 1 | sed 's/^\[[^]]*\] //')
		echo "FAIL e2e-hal-cpus$n-hello: wanted '$want', got '${got:-no L2 hello line}'"
	fi
	if grep -q 'hal: marker 0x10 at' "$sec"; then
		echo "PASS e2e-hal-cpus$n-marker"
	else
		echo "FAIL e2e-hal-cpus$n-marker: no 'hal: marker 0x10' line from hal"
	fi
	rcline=$(grep -o "E2E: run cpus=$n rc=[0-9]* ms=[0-9]*" "$sec" | head -n 1)
	rc=$(echo "$rcline" | sed -n 's/.* rc=\([0-9]*\).*/\1/p')
	if [ "$rc" = 0 ]; then
		echo "PASS e2e-hal-cpus$n-rc"
	else
		echo "FAIL e2e-hal-cpus$n-rc: hal exit code ${rc:-unknown} (0 = guest powered off; 124/143 = killed by the 300 s timeout); last lines:"
		tail -n 12 "$sec" | sed 's/^/  /'
	fi
	ms=$(echo "$rcline" | sed -n 's/.* ms=\([0-9]*\).*/\1/p')
	mk=$(grep -o 'hal: marker 0x10 at [0-9.]* ms' "$sec" | head -n 1 | sed 's/hal: marker 0x10 at \([0-9.]*\) ms/\1/')
	echo "e2e: time hal --cpus $n: ${ms:-?} ms wall in L1 (hal start to marker 0x10: ${mk:-?} ms)"
done

# SeaBIOS -> SYSLINUX -> Debian's kernel from a virtio disk; the guest reads
# the host's string from a second disk and writes its answer there.
sec=$E2E/run-firmware.txt
sed -n "/E2E: begin firmware\$/,/E2E: run firmware /p" "$log" >"$sec"
check() { # name, fixed string wanted in this run's log, what it proves
	if grep -q -F -- "$2" "$sec"; then echo "PASS $1"; else
		echo "FAIL $1: no '$2' ($3); last lines:"; tail -n 8 "$sec" | sed 's/^/  /'; fi
}
check e2e-firmware-syslinux "L2DISK: booted by SYSLINUX" "SeaBIOS booted the disk and SYSLINUX its kernel"
check e2e-firmware-read "L2DISK: read 'HOST-DATA-FOR-GUEST'" "the guest read the second virtio disk"
check e2e-firmware-write "E2E: data sector 1: GUEST-WROTE-THIS" "the guest's write is in the host file"
check e2e-firmware-mq "L2DISK: vda queues 2" "the guest's two CPUs each got a virtio-blk request queue (VIRTIO_BLK_F_MQ)"
check e2e-firmware-hwrng "L2DISK: hwrng 32 bytes " "the guest read hal's virtio-rng through /dev/hwrng"
# hal's HPET (hw/hpet.c): Linux finds it through the ACPI HPET table, makes
# it its clocksource, and its clock keeps the RTC's pace: CLOCK_MONOTONIC
# over two RTC seconds, edge to edge (a halted counter gives 0 or hangs,
# one off by 25 % falls outside)
if grep -q -E "L2DISK: clocksources (.* )?hpet( |$)" "$sec"; then echo "PASS e2e-firmware-hpet-listed"
else echo "FAIL e2e-firmware-hpet-listed: hpet not in the guest's available_clocksource ($(grep -m 1 -o 'L2DISK: clocksources.*' "$sec"))"; fi
check e2e-firmware-hpet-mmio "L2DISK: dmesg hpet0: at MMIO 0xfed00000" "Linux's HPET driver took the block at 0xFED00000"
check e2e-firmware-hpet-current "L2DISK: current clocksource hpet" "the guest switched its clocksource to the HPET"
check e2e-firmware-hpet-clockevent "L2DISK: clockevent hpet registered" "Linux took timer 0 as a clock event device (legacy replacement, IRQ 0)"
ms=$(sed -n 's/.*L2DISK: hpet clock \([0-9]*\) ms over 2 RTC s.*/\1/p' "$sec" | head -n 1)
if [ -n "$ms" ] && [ "$ms" -ge 1500 ] && [ "$ms" -le 2500 ]; then echo "PASS e2e-firmware-hpet-clock ($ms ms over 2 RTC seconds)"
else echo "FAIL e2e-firmware-hpet-clock: ${ms:-no} ms of HPET time over 2 RTC seconds, want 1500-2500 ($(grep -m 1 -o 'L2DISK: hpet.*' "$sec"))"; fi
# --smbios host: the guest's type 1 strings are L1's own (QEMU's here)
for f in sys_vendor product_name; do
	l1=$(sed -n "s/.*E2E: l1 dmi $f=\(.*\)\r*$/\1/p" "$sec" | tr -d '\r' | head -n 1)
	l2=$(sed -n "s/.*L2DISK: dmi $f=\(.*\)\r*$/\1/p" "$sec" | tr -d '\r' | head -n 1)
	if [ -n "$l1" ] && [ "$l1" != "(none)" ] && [ "$l1" = "$l2" ]; then echo "PASS e2e-firmware-smbios-$f"
	else echo "FAIL e2e-firmware-smbios-$f: L1 has '$l1', the guest under hal (SeaBIOS) sees '${l2:-no dmi line}'"; fi
done
check e2e-firmware-marker "hal: marker 0x11 at" "the guest reached its last step"
check e2e-firmware-rc "E2E: run firmware rc=0 " "ACPI power-off through SeaBIOS's tables ends hal with 0"
ms=$(sed -n 's/.*E2E: run firmware rc=[0-9]* ms=\([0-9]*\).*/\1/p' "$sec")
mk=$(grep -o 'hal: marker 0x11 at [0-9.]* ms' "$sec" | head -n 1 | sed 's/hal: marker 0x11 at \([0-9.]*\) ms/\1/')
echo "e2e: time hal SeaBIOS disk boot: ${ms:-?} ms wall in L1 (hal start to marker 0x11: ${mk:-?} ms)"

# --snapshot: the guest wrote, the file is as it was
sec=$E2E/run-snapshot.txt
sed -n "/E2E: begin snapshot\$/,/E2E: run snapshot /p" "$log" >"$sec"
check e2e-snapshot-write "L2DISK: wrote" "the guest wrote its answer to the data disk"
before=$(sed -n 's/.*E2E: snapshot md5 before \([0-9a-f]*\).*/\1/p' "$sec")
after=$(sed -n 's/.*E2E: snapshot md5 after \([0-9a-f]*\).*/\1/p' "$sec")
if [ -n "$before" ] && [ "$before" = "$after" ]; then echo "PASS e2e-snapshot-unchanged"
else echo "FAIL e2e-snapshot-unchanged: md5 of the data disk before '$before', after '${after:-none}'"; fi
check e2e-snapshot-rc "E2E: run snapshot rc=0 " "hal --snapshot ended with 0"
ms=$(sed -n 's/.*E2E: run snapshot rc=[0-9]* ms=\([0-9]*\).*/\1/p' "$sec")
echo "e2e: time hal --snapshot SeaBIOS disk boot: ${ms:-?} ms wall in L1"

# the data disk on AHCI (a SATA disk), then an ISO on an AHCI CD-ROM
sec=$E2E/run-ahci.txt
sed -n "/E2E: begin ahci\$/,/E2E: run ahci /p" "$log" >"$sec"
check e2e-ahci-disk "L2DISK: data disk /dev/sda" "Linux's ahci driver found the SATA disk"
check e2e-ahci-read "L2DISK: read 'HOST-DATA-FOR-GUEST'" "the guest read the AHCI disk"
check e2e-ahci-write "E2E: ahci data sector 1: GUEST-WROTE-THIS" "the guest's write through AHCI is in the host file"
check e2e-ahci-rc "E2E: run ahci rc=0 " "hal ended with 0"
ms=$(sed -n 's/.*E2E: run ahci rc=[0-9]* ms=\([0-9]*\).*/\1/p' "$sec")
echo "e2e: time hal SeaBIOS disk boot, data disk on AHCI: ${ms:-?} ms wall in L1"
sec=$E2E/run-cdrom.txt
sed -n "/E2E: begin cdrom\$/,/E2E: run cdrom /p" "$log" >"$sec"
check e2e-cdrom-read "L2DISK: cdrom read 'HAL-CDROM-CONTENT'" "the guest mounted the ISO from the AHCI CD-ROM and read its file"
check e2e-cdrom-rc "E2E: run cdrom rc=0 " "hal ended with 0"
ms=$(sed -n 's/.*E2E: run cdrom rc=[0-9]* ms=\([0-9]*\).*/\1/p' "$sec")
echo "e2e: time hal SeaBIOS disk boot with --cdrom: ${ms:-?} ms wall in L1"

# a pure El Torito ISO (ISOLINUX) booted by SeaBIOS from the AHCI CD-ROM
sec=$E2E/run-eltorito.txt
sed -n "/E2E: begin eltorito\$/,/E2E: run eltorito /p" "$log" >"$sec"
check e2e-eltorito-auto "a CD boots first: booting with --firmware bios" "--firmware auto chose SeaBIOS for a CD first"
check e2e-eltorito-isolinux "ISOLINUX 6." "SeaBIOS booted the CD's El Torito image: ISOLINUX's banner on the serial console"
check e2e-eltorito-linux "L2: hello from Linux under hal, cpus=1" "ISOLINUX loaded the kernel and initramfs from the CD"
check e2e-eltorito-rc "E2E: run eltorito rc=0 " "hal ended with 0"
ms=$(sed -n 's/.*E2E: run eltorito rc=[0-9]* ms=\([0-9]*\).*/\1/p' "$sec")
echo "e2e: time hal El Torito CD boot (SeaBIOS, ISOLINUX): ${ms:-?} ms wall in L1"

# the data disk as qcow2 through qemu-nbd (plain, then -s)
for mode in plain s; do
	sec=$E2E/run-nbd-$mode.txt
	sed -n "/E2E: begin nbd-$mode\$/,/E2E: run nbd-$mode /p" "$log" >"$sec"
	if grep -q "E2E: nbd-$mode qemu-nbd pid=[0-9]" "$sec"; then echo "PASS e2e-nbd-$mode-server"
	else echo "FAIL e2e-nbd-$mode-server: qemu-nbd wrote no pid file in L1"; grep -i 'qemu-nbd\|error' "$sec" | head -n 5 | sed 's/^/  /'; fi
	check e2e-nbd-$mode-read "L2DISK: read 'HOST-DATA-FOR-GUEST'" "the guest read the qcow2 through hal's NBD client"
	check e2e-nbd-$mode-wrote "L2DISK: wrote" "the guest's write was answered"
	if [ $mode = plain ]; then
		check e2e-nbd-plain-write "E2E: nbd-plain qcow2 sector 1: GUEST-WROTE-THIS" "the guest's write is in the qcow2"
	elif grep -q "L2DISK: wrote" "$sec" && grep -q "E2E: nbd-s qcow2 sector 1: *$(printf '\r')*\$" "$sec"; then
		echo "PASS e2e-nbd-s-discarded"
	else echo "FAIL e2e-nbd-s-discarded: the guest should have written and the qcow2's sector 1 (qemu-nbd -s) stayed empty: '$(grep 'L2DISK: wrote\|E2E: nbd-s q' "$sec" | tr -d '\r' | tr '\n' ' ')'"; fi
	check e2e-nbd-$mode-rc "E2E: run nbd-$mode rc=0 " "hal ended with 0"
	ms=$(sed -n "s/.*E2E: run nbd-$mode rc=[0-9]* ms=\([0-9]*\).*/\1/p" "$sec")
	echo "e2e: time hal NBD ($mode qemu-nbd) SeaBIOS disk boot: ${ms:-?} ms wall in L1"
done

# qemu-nbd killed and restarted while the guest reads: every pass of the
# read loop checked clean and summed the same, hal reconnected
sec=$E2E/run-nbd-kill.txt
sed -n "/E2E: begin nbd-kill\$/,/E2E: run nbd-kill /p" "$log" >"$sec"
check e2e-nbd-kill-killed "E2E: nbd-kill killed qemu-nbd at " "L1 killed qemu-nbd during the read loop"
check e2e-nbd-kill-reconnected "reconnected after" "hal's NBD client reconnected to the new qemu-nbd"
passes=$(grep -c "L2DISK: loop pass [0-9]* sum=" "$sec")
clean=$(grep -c "L2DISK: loop pass [0-9]* sum=[0-9a-f]* bad=0 " "$sec")
sums=$(sed -n 's/.*L2DISK: loop pass [0-9]* sum=\([0-9a-f]*\) .*/\1/p' "$sec" | sort -u)
if [ "$passes" = 30 ] && [ "$clean" = 30 ] && [ -n "$sums" ] && [ "$(echo "$sums" | wc -l)" = 1 ]; then
	echo "PASS e2e-nbd-kill-sums"
else echo "FAIL e2e-nbd-kill-sums: want 30 passes, all bad=0, one sum: $passes passes, $clean clean, sums '$(echo $sums)'"
	grep "L2DISK: loop\|hal: " "$sec" | head -n 40 | sed 's/^/  /'; fi
check e2e-nbd-kill-rc "E2E: run nbd-kill rc=0 " "hal ended with 0"

# the root disk over NBD (a qcow2 behind qemu-nbd), four boots: the guest's
# boot count is 1, 2 (kept), 3 under qemu-nbd -s, and 3 again after it
sec=$E2E/run-nbd-root.txt
sed -n "/E2E: begin nbd-root\$/,/E2E: run nbd-root/p" "$log" | tr -d '\r' >"$sec"
got=$(sed -n 's/.*E2E: nbd-root \([a-z]*\) rc=\([0-9]*\) ms=[0-9]* L2DISK: boot count \([0-9]*\).*/\1:\2:\3/p' "$sec" | tr '\n' ' ')
case $got in
"plain:0:1 "*) echo "PASS e2e-nbd-root-boot" ;;
*) echo "FAIL e2e-nbd-root-boot: SeaBIOS did not boot the qcow2 over NBD to the guest's boot count 1 (got '$got')"
	grep 'E2E: nbd-root' "$sec" | sed 's/^/  /' ;;
esac
case $got in
"plain:0:1 plain:0:2 "*) echo "PASS e2e-nbd-root-kept" ;;
*) echo "FAIL e2e-nbd-root-kept: the second boot did not see the first one's write (got '$got')" ;;
esac
if [ "$got" = "plain:0:1 plain:0:2 s:0:3 plain:0:3 " ]; then echo "PASS e2e-nbd-root-s-discarded"
else echo "FAIL e2e-nbd-root-s-discarded: want the -s boot to count 3 and the next plain boot 3 again (got '$got')"; fi
ms=$(sed -n 's/.*E2E: nbd-root plain rc=[0-9]* ms=\([0-9]*\).*/\1/p' "$sec" | head -n 1)
echo "e2e: time hal NBD root disk (qcow2) SeaBIOS boot to power-off: ${ms:-?} ms wall in L1"
exit 0
