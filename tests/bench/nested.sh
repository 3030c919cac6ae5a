#!/bin/sh
# Boots the nested bench image (make bench-nested) and prints its output.
# Usage: nested.sh BUILD
B=${1:-build}
log=$B/bench/nested-log.txt
timeout "${BENCH_TIMEOUT:-900}" qemu-system-x86_64 -accel tcg -cpu EPYC -m 2048 -smp 1 \
	-nographic -nodefaults -serial stdio -no-reboot \
	-kernel "$B/e2e/vmlinuz" -initrd "$B/bench/l1bench.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet" </dev/null 2>&1 | tr -d '\r' | tee "$log" | grep -E '^(bench|vmm|hal|qemu|\(ratio)'
grep -q '^bench: exit 0' "$log"
