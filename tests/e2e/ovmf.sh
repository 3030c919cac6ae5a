#!/bin/sh
# OVMF under hal in the nested test bed (docs/testing.md): QEMU TCG -cpu EPYC
# boots L1 (the usual image plus tests/e2e/ovmf-l1init.sh as /init, Debian's
# OVMF_CODE_4M.fd/OVMF_VARS_4M.fd and build/e2e/uefi.img), which runs
#   hal --firmware ovmf --disk /uefi.img [--efivars /uefi.img.efivars]
# twice. OVMF boots \EFI\BOOT\BOOTX64.EFI (a unified kernel image, tests/e2e/
# mkuefidisk.sh) whose /init (tests/e2e/l2uefi.c) reports the UEFI variable
# HalTest left by the boot before, writes it (boot-N) through efivarfs, and
# powers off through the ACPI tables OVMF installed from hal's table-loader.
# Prints PASS/FAIL/SKIP and "e2e: time" lines; log: $BUILD/e2e/ovmf-log.txt.
# Environment: BUILD, MAKE, OVMF_TIMEOUT (seconds for QEMU, default 800).
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
E2E=$BUILD/e2e
timeout_s=${OVMF_TIMEOUT:-800}
log=$E2E/ovmf-log.txt
code=/usr/share/OVMF/OVMF_CODE_4M.fd
vars=/usr/share/OVMF/OVMF_VARS_4M.fd
now_ms() { date +%s%3N; }

. tests/e2e/bedlib.sh
bed_qemu_check e2e-ovmf || exit 0
[ -s "$code" ] && [ -s "$vars" ] || { echo "SKIP e2e-ovmf: no $code (apt-get install ovmf)"; exit 0; }
mkdir -p "$E2E"
t0=$(now_ms)
if ! $MAKE -s --no-print-directory BUILD="$BUILD" e2e-images "$E2E/uefi.img" >"$E2E/ovmf-make.log" 2>&1; then
	tail -n 20 "$E2E/ovmf-make.log" | sed 's/^/  /'
	echo "FAIL e2e-ovmf-build: see $E2E/ovmf-make.log"
	exit 0
fi
{
	for d in /usr /usr/share /usr/share/OVMF; do echo "dir $d 0755"; done
	echo "file /init tests/e2e/ovmf-l1init.sh 0755"
	echo "file $code $code 0644"
	echo "file $vars $vars 0644"
	echo "file /uefi.img $E2E/uefi.img 0644"
} | "$E2E/mkcpio" | gzip -1n >"$E2E/ovmf-overlay.cpio.gz"
cat "$E2E/l1.cpio.gz" "$E2E/ovmf-overlay.cpio.gz" >"$E2E/ovmf-l1.cpio.gz"
echo "e2e: time OVMF images $(($(now_ms) - t0)) ms"

bed_boot "$log" "$timeout_s" -m 2048 -smp 1 \
	-kernel "$E2E/vmlinuz" -initrd "$E2E/ovmf-l1.cpio.gz" -append "console=ttyS0 panic=-1 quiet"
echo "e2e: time OVMF test bed (QEMU) $bed_ms ms (log: $log)"

if ! grep -q 'E2E: /dev/kvm present' "$log"; then
	echo "FAIL e2e-ovmf-l1: L1 did not come up with /dev/kvm; last lines:"
	tail -n 10 "$log" | sed 's/^/  /'
	exit 0
fi
# Debian's QEMU 7.2 (and 10.0) abort here on their CR8/VIRQ lock bug; the
# bed's QEMU carries the fix (patches/qemu/). An abort is a failure of the
# bed, and every check below then fails too: nothing is skipped.
if grep -q 'assertion failed' "$log"; then
	echo "FAIL e2e-ovmf-qemu: QEMU ($QEMU) aborted $(sed -n 's/^\[ *\([0-9]*\)\..*assertion failed.*/\1/p' "$log" | head -n 1) s into the test bed: $(grep -o 'assertion failed.*' "$log" | head -n 1) (the bed's QEMU is make qemu)"
else
	echo "PASS e2e-ovmf-qemu"
fi
if grep -q 'BdsDxe: starting Boot' "$log"; then echo "PASS e2e-ovmf-boots-disk"
else echo "FAIL e2e-ovmf-boots-disk: OVMF under hal never reached 'BdsDxe: starting Boot'"; fi
for n in 1 2; do
	sec=$E2E/ovmf-run$n.txt
	sed -n "/E2E: begin uefi$n\$/,/E2E: run uefi$n /p" "$log" >"$sec"
	check() { # name, fixed string, what it proves
		if grep -q -F -- "$2" "$sec"; then echo "PASS $1"; else
			echo "FAIL $1: no '$2' ($3); last lines:"; tail -n 8 "$sec" | sed 's/^/  /'; fi
	}
	check e2e-ovmf$n-boot "L2UEFI: hello from Linux booted by UEFI, cmdline=console=ttyS0 panic=-1 quiet" \
		"OVMF booted the UKI from the virtio disk"
	if [ $n = 1 ]; then
		check e2e-ovmf1-vars-created "UEFI variables: created /uefi.img.efivars" "hal made the store from OVMF_VARS_4M.fd"
		check e2e-ovmf1-var-written "L2UEFI: wrote HalTest=boot-1" "SetVariable through efivarfs"
	else
		check e2e-ovmf2-var-persisted "L2UEFI: found HalTest=boot-1" "the variable written in the first run came back"
		check e2e-ovmf2-var-written "L2UEFI: wrote HalTest=boot-2" "SetVariable on a store OVMF wrote before"
	fi
	check e2e-ovmf$n-store-written "E2E: vars uefi$n differ from template" "the flash writes reached the file"
	check e2e-ovmf$n-marker "hal: marker 0x12 at" "the guest reached its last step"
	check e2e-ovmf$n-rc "E2E: run uefi$n rc=0 " "ACPI power-off through OVMF's tables (PM base 0xB000) ends hal with 0"
	ms=$(sed -n "s/.*E2E: run uefi$n rc=[0-9]* ms=\([0-9]*\).*/\1/p" "$sec")
	mk=$(grep -o 'hal: marker 0x12 at [0-9.]* ms' "$sec" | head -n 1 | sed 's/.* at \([0-9.]*\) ms/\1/')
	echo "e2e: time hal OVMF boot $n: ${ms:-?} ms wall in L1 (hal start to marker 0x12: ${mk:-?} ms)"
done
exit 0
