#!/bin/sh
# The chaos guest under hal (issue 12): build/guest/chaos.bzimage
# (tests/guest/chaos.c) does random port, MMIO, PCI config, virtqueue and
# fw_cfg DMA operations from a seed, on every device hal has: a virtio disk,
# an AHCI disk and CD-ROM, a virtio-net and an e1000 NIC (on taps of their
# own), virtio-rng and the display.
# Run by tests/guest/run.sh (alone: HAL_GUEST_ONLY=chaos), so on /dev/kvm or
# in the nested test bed. Two phases of HAL_CHAOS_SECONDS (default 60) each:
#   static   $HAL, the static musl hal users run, seccomp on: RSS measured
#   asan     $HAL_ASAN (ASan+UBSan, tests/tests.mk) when it runs here
# Each phase runs hal again and again with a new seed, at most
# HAL_CHAOS_RUN seconds (default 20) a run, then `quit`. Pass: every run
# ends with a defined status (0 power-off, 3 guest crash, 4 reset when the
# guest hit such a port itself, 5 after quit), never a signal, an error exit
# or a sanitizer report; the control socket answers `status` every 2 s while
# hal runs (one unanswered as hal ends by itself within 10 s is said, not
# counted); hal's RSS grows by at most 4 MiB from the guest's first
# progress line (it has touched every page it lets devices write to) to
# the run's end (static phase); and the guest got past its first 256
# operations in at least 3 of 4 runs.
# Environment: HAL, HAL_ASAN, BUILD, HAL_TEST_SLOW, HAL_CHAOS_SECONDS,
# HAL_CHAOS_RUN, HAL_CHAOS_SEED (the first run of each phase: a replay).
BUILD=${BUILD:-build}
HAL=${HAL:-$BUILD/hal}
HAL_ASAN=${HAL_ASAN:-$BUILD/hal-asan}
G=$BUILD/guest
SLOW=${HAL_TEST_SLOW:-1}
SECONDS_PER_PHASE=${HAL_CHAOS_SECONDS:-60}
RUN_S=${HAL_CHAOS_RUN:-20}
CTL=$G/halctl

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
diag() { [ -s "$1" ] && tail -n "${2:-8}" "$1" | tr -d '\r' | sed 's/^/  | /'; return 0; }
now_ms() { read -r _u _ </proc/uptime; _c=${_u#*.}; echo $(( ${_u%.*} * 1000 + ${_c#0} * 10 )); }
# alive PID: running, not a zombie waiting for `wait`
alive() { [ -r /proc/$1/stat ] && [ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" != Z ]; }
# wait_gone PID TENTHS: until PID is gone, at most TENTHS tenths of a
# second; the tenths waited in $_i
wait_gone() {
	_i=0
	while alive "$1" && [ $_i -lt "$2" ]; do sleep 0.1; _i=$((_i + 1)); done
}
# hal's RSS outside guest RAM (--mem 64M: mappings of 64 MiB and more are
# the guest's): what a leak in hal would grow. Guest RAM is on 2 MiB pages,
# so the guest (or a device writing where the chaos guest points it)
# touching a new page adds 2 MiB that is no leak.
rss_kb() { awk '/^Size:/ { g = $2 >= 65536 } /^Rss:/ && !g { s += $2 } END { print s + 0 }' "/proc/$1/smaps" 2>/dev/null; }

for f in "$G/chaos.bzimage" "$CTL"; do
	[ -f "$f" ] || { fail chaos-setup "$f is missing (make guests)"; exit 0; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/hal-chaos.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
# the CD-ROM's medium: 64 sectors of anything (hal reads no file system)
head -c 131072 /dev/urandom >"$T/cd.iso"
# the NICs: new taps hal creates and removes (--net tap=IF), up but on no
# bridge, so what the guest sends goes nowhere; they need /dev/net/tun
# (tun.ko in the bed's L1) and root
[ -c /dev/net/tun ] || { [ -f /lib/modules/tun.ko ] && insmod /lib/modules/tun.ko 2>/dev/null; }
NICS=
if [ -c /dev/net/tun ] && [ "$(id -u)" = 0 ]; then
	NICS="--net tap=halchaos$$ --net tap=halchaos$$e,model=e1000"
else
	echo "  chaos: no /dev/net/tun or not root: the runs have no NICs"
fi
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# phase NAME HAL [rss]
phase() {
	name=$1 h=$2 rss=${3:-}
	runs=0 n_bad=0 n_deaf=0 n_idle=0 n_quit=0 n_self=0 max_grow=0 ops_max=0 first=
	t_end=$(($(now_ms) + SECONDS_PER_PHASE * 1000))
	while [ "$(now_ms)" -lt $t_end ]; do
		runs=$((runs + 1))
		seed=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
		[ $runs = 1 ] && [ -n "${HAL_CHAOS_SEED:-}" ] && seed=$HAL_CHAOS_SEED
		echo "  chaos: $name run $runs seed $seed (replay: chaos.seed=$seed)"
		for d in disk sata; do truncate -s 0 "$T/$d.img" && truncate -s 4194304 "$T/$d.img"; done
		rm -f "$T/c.sock" "$T/c.txt"
		# shellcheck disable=SC2086 # NICS is words
		"$h" --kernel "$G/chaos.bzimage" --append "console=ttyS0 chaos.seed=$seed" --mem 64M --cpus 2 \
			--disk "$T/disk.img" --disk "$T/sata.img,if=ahci" --cdrom "$T/cd.iso" \
			$NICS --serial "file:$T/c.txt" --control "$T/c.sock" --display none \
			</dev/null >"$T/c.out" 2>"$T/c.err" &
		pid=$!
		t0=$(now_ms) rss0= deaf=0
		while alive $pid && [ $(($(now_ms) - t0)) -lt $((RUN_S * 1000)) ]; do
			sleep 2
			[ -z "$rss0" ] && grep -q '^chaos: [0-9]' "$T/c.txt" 2>/dev/null && rss0=$(rss_kb $pid)
			if [ -S "$T/c.sock" ] && ! timeout $((5 * SLOW)) "$CTL" "$T/c.sock" status >"$T/c.st" 2>&1 && alive $pid; then
				# a hal whose guest just ended stops answering while it
				# tears down: deaf only if it is still there 10 s later
				wait_gone $pid $((100 * SLOW))
				if alive $pid; then deaf=$((deaf + 1))
				else echo "  chaos: $name run $runs: status unanswered as hal was ending (it ended ${_i}00 ms later)"; fi
			fi
		done
		rss1=$(rss_kb $pid)
		if alive $pid; then
			timeout $((10 * SLOW)) "$CTL" "$T/c.sock" quit >/dev/null 2>&1
			wait_gone $pid $((100 * SLOW))
			kill -KILL $pid 2>/dev/null
			wait_gone $pid 50 # a hal SIGKILL does not end would block `wait` for ever
			if alive $pid; then
				echo "  chaos: $name run $runs: hal (pid $pid) survives SIGKILL: $(cut -d' ' -f1-3 /proc/$pid/stat)"
				rc=unkillable
			else
				wait $pid
				rc=$?
			fi
			quit=1
			n_quit=$((n_quit + 1))
		else
			wait $pid
			rc=$?
			quit=0
			n_self=$((n_self + 1))
		fi
		ops=$(sed -n 's/^chaos: \([0-9][0-9]*\)\r*$/\1/p' "$T/c.txt" | tail -n 1)
		[ -n "$ops" ] || { ops=0; n_idle=$((n_idle + 1)); }
		echo "  chaos: $name run $runs seed $seed: exit $rc$([ $quit = 1 ] && echo ' after quit'), $ops operations, $(($(now_ms) - t0)) ms${rss0:+, RSS $rss0 -> $rss1 kB}"
		[ "$ops" -gt $ops_max ] && ops_max=$ops
		bad=
		case "$quit:$rc" in
		1:5 | 0:0 | 0:3 | 0:4) ;;
		*) bad="$bad exit=$rc$([ $quit = 1 ] && echo ' after quit')" ;;
		esac
		grep -Eq 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|seccomp: a guest-facing' "$T/c.err" &&
			bad="$bad report-on-stderr"
		[ $deaf = 0 ] || { n_deaf=$((n_deaf + 1)); bad="$bad status-unanswered=$deaf"; }
		if [ -n "$rss" ] && [ -n "$rss0" ] && [ -n "$rss1" ]; then
			grow=$((rss1 - rss0))
			[ $grow -gt $max_grow ] && max_grow=$grow
			[ $grow -gt 4096 ] && bad="$bad rss+${grow}kB"
		fi
		if [ -n "$bad" ]; then
			n_bad=$((n_bad + 1))
			echo "  chaos: $name run $runs (seed $seed, $ops operations):$bad"
			if [ -z "$first" ]; then
				first=$runs
				diag "$T/c.err" 25
				diag "$T/c.txt" 3
			fi
		fi
	done
	echo "  chaos: $name: $runs runs in ${SECONDS_PER_PHASE} s ($n_quit quit, $n_self ended by the guest), up to $ops_max operations a run${rss:+, RSS growth at most $max_grow kB}"
	if [ $n_bad = 0 ]; then pass chaos-$name-defined-exits
	else fail chaos-$name-defined-exits "$n_bad of $runs runs (seeds above replay them: chaos.seed=)"; fi
	if [ $n_deaf = 0 ]; then pass chaos-$name-control-answers
	else fail chaos-$name-control-answers "the control socket did not answer status in $n_deaf of $runs runs"; fi
	if [ $n_idle -le $((runs / 4)) ]; then pass chaos-$name-guest-ran
	else fail chaos-$name-guest-ran "$n_idle of $runs runs ended before the guest's first 256 operations"; fi
}

phase static "$HAL" rss
if [ -x "$HAL_ASAN" ] && "$HAL_ASAN" --help >/dev/null 2>&1; then
	phase asan "$HAL_ASAN"
else
	fail chaos-asan "no runnable ASan+UBSan hal ($HAL_ASAN)"
fi
exit 0
