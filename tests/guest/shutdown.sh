#!/bin/sh
# Stopping hal while its guest keeps every device busy (issue 13: tear-down
# must stop and join the vCPUs before it frees what their exit handlers
# use). Run by tests/guest/run.sh (also alone: HAL_GUEST_ONLY=shutdown), so
# on /dev/kvm or in the nested test bed. The guest is build/guest/
# busy.bzimage (tests/guest/busy.c): virtio-blk reads and writes through a
# virtqueue, COM1, bochs-display (DISPI ports and MMIO, framebuffer, VGA
# status), fw_cfg (PIO and DMA), RTC/CMOS, PM timer, i8042, PCI config.
#
# HAL_SHUTDOWN_RUNS times (default 100): hal -v --kernel busy.bzimage --cpus 2
# --disk COPY --control SOCK, stopped after a random 50-1500 ms (every 10th
# run SIGINT, every 10th the control socket's quit, the rest SIGTERM). Each
# run must exit 5 within the time limit (no hang: SIGKILL after it), stderr
# without a sanitizer report and without "tear-down left N I/O ranges
# registered", and the disk's read-only area (LBA 0-511, random bytes) and
# its size unchanged. hal is $HAL_ASAN (ASan+UBSan, tests/tests.mk) when
# that is executable, else $HAL: the shutdown-sanitizer line says which.
# HAL_SHUTDOWN_REP=1 adds "rep" to the guest's command line: it then also
# reads 16 KiB from virtio-blk's config space and 4 KiB from fw_cfg with
# `rep insb` every round (most of its time in device handlers on the vCPU
# thread). Off by default: in the nested bed runs with it stopped making
# progress after 20-40 runs (docs/testing.md).
# Environment: HAL, HAL_ASAN, BUILD, HAL_TEST_SLOW, HAL_SHUTDOWN_RUNS,
# HAL_SHUTDOWN_REP.
BUILD=${BUILD:-build}
HAL=${HAL:-$BUILD/hal}
HAL_ASAN=${HAL_ASAN:-$BUILD/hal-asan}
G=$BUILD/guest
SLOW=${HAL_TEST_SLOW:-1}
RUNS=${HAL_SHUTDOWN_RUNS:-100}
LIMIT_MS=$((10000 * SLOW)) # signal to exit
CTL=$G/halctl

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
diag() { [ -s "$1" ] && tail -n "${2:-8}" "$1" | tr -d '\r' | sed 's/^/  | /'; return 0; }
# milliseconds since boot (/proc/uptime: hundredths; busybox date has no %N)
now_ms() { read -r _u _ </proc/uptime; _c=${_u#*.}; echo $(( ${_u%.*} * 1000 + ${_c#0} * 10 )); }
rand() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }

for f in "$G/busy.bzimage" "$G/crc32" "$CTL"; do
	[ -f "$f" ] || { fail shutdown-setup "$f is missing (make guests)"; exit 0; }
done
if [ -x "$HAL_ASAN" ] && "$HAL_ASAN" --help >/dev/null 2>&1; then
	H=$HAL_ASAN
	pass shutdown-sanitizer
	echo "  shutdown: hal is $H (ASan+UBSan)"
else
	H=$HAL
	fail shutdown-sanitizer "no runnable ASan+UBSan hal ($HAL_ASAN): the runs below use $HAL"
fi
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

T=$(mktemp -d "${TMPDIR:-/tmp}/hal-shutdown.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
# 1 MiB disk: LBA 0-511 random (read only), LBA 512-2047 zero (the guest writes 512-1023)
head -c 262144 /dev/urandom >"$T/ro"
{ cat "$T/ro"; head -c $((1048576 - 262144)) /dev/zero; } >"$T/disk.img"
ro_crc=$("$G/crc32" "$T/ro")
ro_check() { # 0 when the disk is as it must be
	[ "$(wc -c <"$T/disk.img")" = 1048576 ] || return 1
	dd if="$T/disk.img" of="$T/ro.now" bs=512 count=512 2>/dev/null
	[ "$("$G/crc32" "$T/ro.now")" = "$ro_crc" ]
}

# start_hal: hal in the background, $pid; serial in $T/s.txt, stderr $T/s.err
start_hal() {
	rm -f "$T/s.sock" "$T/s.txt" "$T/s.err"
	"$H" -v --kernel "$G/busy.bzimage" --append "console=ttyS0${HAL_SHUTDOWN_REP:+ rep}" --mem 64M --cpus 2 --disk "$T/disk.img" --serial "file:$T/s.txt" \
		--display none --control "$T/s.sock" </dev/null >"$T/s.out" 2>"$T/s.err" &
	pid=$!
	t_start=$(now_ms)
}
# stop_hal HOW: TERM, INT or quit; waits at most LIMIT_MS, then SIGKILL.
# Sets $rc, $stop_ms (signal to exit), $hung (1 when it had to be killed).
stop_hal() {
	t_sig=$(now_ms)
	case $1 in
	quit) timeout $((LIMIT_MS / 1000)) "$CTL" "$T/s.sock" quit >"$T/s.ctl" 2>&1 || kill -TERM $pid 2>/dev/null ;;
	*) kill -"$1" $pid 2>/dev/null ;;
	esac
	hung=0
	while kill -0 $pid 2>/dev/null; do
		if [ $(($(now_ms) - t_sig)) -gt $LIMIT_MS ]; then
			hung=1
			kill -KILL $pid 2>/dev/null
			break
		fi
		sleep 0.05
	done
	# A process SIGKILL does not end (a thread stuck in the kernel) would
	# block `wait` for ever: say what its threads do and go on.
	_k=0
	while [ $hung = 1 ] && kill -0 $pid 2>/dev/null && [ $_k -lt 50 ]; do sleep 0.1; _k=$((_k + 1)); done
	if kill -0 $pid 2>/dev/null; then
		echo "  shutdown: hal (pid $pid) survives SIGKILL; its threads:"
		for _t in /proc/$pid/task/*; do
			echo "  | $(cut -d' ' -f1-3,14,15 "$_t/stat" 2>/dev/null) wchan=$(cat "$_t/wchan" 2>/dev/null)"
			sed 's/^/  |   /' "$_t/stack" 2>/dev/null | head -n 12
		done
		diag "$T/s.err" 10
		rc=unkillable
	else
		wait $pid
		rc=$?
	fi
	stop_ms=$(($(now_ms) - t_sig))
}
sanitizer_report() { grep -Eq 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|ThreadSanitizer' "$T/s.err"; }

# First: the guest does what it should (rounds on every device, no FAIL,
# scratch area written) before hal is stopped; SIGTERM after round 3.
start_hal
_i=0
while [ $_i -lt $((600 * SLOW)) ] && kill -0 $pid 2>/dev/null && ! grep -q '^busy: 3$' "$T/s.txt" 2>/dev/null; do
	sleep 0.1
	_i=$((_i + 1))
done
stop_hal TERM
if grep -q '^busy: 3$' "$T/s.txt" && ! grep -q 'busy: FAIL' "$T/s.txt"; then
	pass shutdown-guest-busy
	echo "  shutdown: guest at round 3 $((t_sig - t_start)) ms after hal started; $(grep '^busy: ready' "$T/s.txt")"
else
	fail shutdown-guest-busy "the guest did not reach round 3 on every device (rc $rc)"
	diag "$T/s.txt"
	diag "$T/s.err"
fi
if [ -n "$(dd if="$T/disk.img" bs=512 skip=512 count=512 2>/dev/null | tr -d '\000' | head -c 1 | od -An -tx1)" ]; then
	pass shutdown-guest-wrote-disk
else fail shutdown-guest-wrote-disk "the disk's scratch area (LBA 512-1023) is still zero"; fi
[ "$rc" = 5 ] || { fail shutdown-guest-busy-exit "hal exited $rc after SIGTERM (want 5)"; diag "$T/s.err"; }

# The loop.
n_rc=0 n_hung=0 n_san=0 n_left=0 n_disk=0 n_busy=0 max_ms=0 sum_ms=0 first=
t0=$(now_ms)
i=1
while [ $i -le "$RUNS" ]; do
	case $((i % 10)) in 3) how=INT ;; 7) how=quit ;; *) how=TERM ;; esac
	delay=$((50 + $(rand) % 1451))
	start_hal
	# From hal's first bring-up step on: before main() has blocked SIGTERM
	# the signal's default action ends any process (exit 143). In the bed
	# that moment is 150-300 ms after the exec (ASan's start-up).
	_i=0
	while [ $_i -lt $((40 * SLOW)) ] && kill -0 $pid 2>/dev/null && ! grep -q 'bring-up: kvm' "$T/s.err" 2>/dev/null; do
		sleep 0.05
		_i=$((_i + 1))
	done
	sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
	stop_hal $how
	rounds=$(grep -c '^busy: [0-9]*$' "$T/s.txt" 2>/dev/null)
	[ "${rounds:-0}" -gt 0 ] && n_busy=$((n_busy + 1))
	bad=
	[ "$rc" = 5 ] || { n_rc=$((n_rc + 1)); bad="$bad exit=$rc"; }
	[ $hung = 0 ] || { n_hung=$((n_hung + 1)); bad="$bad hung(>${LIMIT_MS}ms)"; }
	sanitizer_report && { n_san=$((n_san + 1)); bad="$bad sanitizer"; }
	grep -q 'tear-down left' "$T/s.err" && { n_left=$((n_left + 1)); bad="$bad ranges-left"; }
	ro_check || { n_disk=$((n_disk + 1)); bad="$bad disk"; }
	[ $stop_ms -gt $max_ms ] && max_ms=$stop_ms
	sum_ms=$((sum_ms + stop_ms))
	if [ -n "$bad" ]; then
		echo "  shutdown: run $i ($how after $delay ms, $rounds rounds):$bad"
		if [ -z "$first" ]; then
			first=$i
			diag "$T/s.err" 30
			diag "$T/s.txt" 3
		fi
		# a damaged disk would fail every later run: start again from a good one
		ro_check || { cat "$T/ro" >"$T/disk.img"; head -c $((1048576 - 262144)) /dev/zero >>"$T/disk.img"; }
	fi
	[ $((i % 20)) = 0 ] && echo "  shutdown: $i runs, $(($(now_ms) - t0)) ms"
	i=$((i + 1))
done
t_all=$(($(now_ms) - t0))
echo "  shutdown: $RUNS runs in $t_all ms; stop to exit max $max_ms ms, mean $((sum_ms / (RUNS > 0 ? RUNS : 1))) ms; guest past its first round in $n_busy runs"
res() { # NAME COUNT WHAT
	if [ "$2" = 0 ]; then pass "$1"; else fail "$1" "$2 of $RUNS runs: $3"; fi
}
res shutdown-exit-5 $n_rc "hal did not exit 5 (stopped by a signal / quit)"
res shutdown-bounded $n_hung "hal still ran ${LIMIT_MS} ms after the stop (killed)"
res shutdown-no-sanitizer-report $n_san "a sanitizer report on stderr"
res shutdown-no-ranges-left $n_left "'tear-down left N I/O ranges registered'"
res shutdown-disk-intact $n_disk "the read-only area (LBA 0-511) or the image size changed"
if [ "$n_busy" -ge $((RUNS / 2)) ]; then pass shutdown-stopped-while-busy
else fail shutdown-stopped-while-busy "only $n_busy of $RUNS stops came after the guest's first round (want at least half)"; fi
exit 0
