#!/bin/sh
# Integration tests: hal on /dev/kvm with the small guests of tests/guest/
# (built by tests/guest/guest.mk). Run from the repository root:
#     sh tests/guest/run.sh            (BUILD=build, HAL=$BUILD/hal)
# Prints "PASS name" / "FAIL name: why" / "SKIP name: why"; lines starting
# with two spaces are diagnostics. Every hal run is under `timeout`.
#
# The bzImage payload (payload32/payload64.bzimage) prints on COM1:
#   payload: entry=64|32|16
#   payload: cmdline=<boot_params command line>
#   payload: initrd addr=0x<hex> size=<dec> crc32=0x<8 hex>
#   payload: e820 entries=<n>
#   payload: e820 0x<addr:16> 0x<size:16> <type>      (n lines)
#   payload: done
# (plus "payload: warning ..." when CS/DS/ES/SS/IF at entry break the boot
# protocol), then writes marker 0x01 and powers off via PM1a_CNT.
# flatfw.bin (hal --firmware) prints flatfw: hello / unassigned=ffffffff /
# marker-read=48, writes marker 0x02 and powers off.

BUILD=${BUILD:-build}
HAL=${HAL:-$BUILD/hal}
G=$BUILD/guest
TMO=${HAL_TEST_TIMEOUT:-60}
CMDLINE='console=ttyS0 test="a b" x'

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }
# diag FILE: show the last lines of FILE indented (not counted by report.sh)
diag() { [ -s "$1" ] && tail -n "${2:-8}" "$1" | tr -d '\r' | sed 's/^/  | /'; return 0; }

TEST_GROUPS="payload64 payload32 payload64-nocmdline payload64-5G payload32-5G flatfw errors"

if ! [ -c /dev/kvm ] || ! { : ; } 3<>/dev/kvm 2>/dev/null; then
	for t in $TEST_GROUPS; do skip "guest-$t" "/dev/kvm is not usable here"; done
	exit 0
fi
if ! [ -x "$HAL" ]; then
	fail guest-setup "$HAL is missing (run make)"
	exit 0
fi
for f in payload64.bzimage payload32.bzimage flatfw.bin crc32; do
	if ! [ -f "$G/$f" ]; then
		make -s BUILD="$BUILD" guests >/dev/null 2>&1
		break
	fi
done
for f in payload64.bzimage payload32.bzimage flatfw.bin crc32; do
	if ! [ -f "$G/$f" ]; then
		fail guest-setup "$G/$f is missing (make guests)"
		exit 0
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/hal-guest.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

# run_hal NAME SECONDS ARGS...: sets $rc; output in $T/NAME.out / .err
run_hal() {
	_n=$1 _s=$2
	shift 2
	timeout -k 5 "$_s" "$HAL" "$@" </dev/null >"$T/$_n.out" 2>"$T/$_n.err"
	rc=$?
	tr -d '\r' <"$T/$_n.out" >"$T/$_n.txt"
}

# check_exit NAME: exit status 0 (guest powered off)
check_exit() {
	case $rc in
	0) pass "$1-exit" ;;
	124|137) fail "$1-exit" "hal timed out (${_s}s): the guest did not power off"; diag "$T/$1.txt"; diag "$T/$1.err" ;;
	*) fail "$1-exit" "hal exited $rc (want 0: guest power-off)"; diag "$T/$1.txt"; diag "$T/$1.err" ;;
	esac
}

# check_payload NAME ENTRY MEM_BYTES INITRD_FILE|- CMDLINE
check_payload() {
	n=$1 entry=$2 mem=$3 ird=$4 cmd=$5
	out=$T/$n.txt
	check_exit "$n"

	if grep -qx "payload: entry=$entry" "$out"; then pass "$n-entry"
	else fail "$n-entry" "no 'payload: entry=$entry' line (got: $(grep '^payload: entry=' "$out" | head -1))"; fi

	if grep -q '^payload: warning' "$out"; then
		fail "$n-boot-state" "$(grep '^payload: warning' "$out" | head -1) (want cs=0x10 ds=es=ss=0x18, IF=0)"
	else pass "$n-boot-state"; fi

	got=$(sed -n 's/^payload: cmdline=//p' "$out" | head -1)
	if ! grep -q '^payload: cmdline=' "$out"; then fail "$n-cmdline" "no cmdline line"
	elif [ "$got" = "$cmd" ]; then pass "$n-cmdline"
	else fail "$n-cmdline" "got '$got', want '$cmd'"; fi

	line=$(sed -n 's/^payload: initrd addr=0x\([0-9a-f]*\) size=\([0-9]*\) crc32=\(.*\)$/\1 \2 \3/p' "$out" | head -1)
	# shellcheck disable=SC2086
	set -- $line
	ia=$1 is=$2 ic=$3
	if [ -z "$line" ]; then
		fail "$n-initrd" "no initrd line"
	elif [ "$ird" = - ]; then
		if [ "$is" = 0 ]; then pass "$n-initrd-none"
		else fail "$n-initrd-none" "size=$is without --initrd"; fi
	else
		# shellcheck disable=SC2046
		set -- $("$G/crc32" "$ird")
		wcrc=$1 wsize=$2
		if [ "$is" = "$wsize" ]; then pass "$n-initrd-size"
		else fail "$n-initrd-size" "size=$is, want $wsize"; fi
		if [ "$ic" = "0x$wcrc" ]; then pass "$n-initrd-crc32"
		else fail "$n-initrd-crc32" "crc32=$ic, want 0x$wcrc"; fi
		if [ $((0x$ia % 4096)) = 0 ] && [ $((0x$ia)) != 0 ]; then pass "$n-initrd-aligned"
		else fail "$n-initrd-aligned" "addr=0x$ia is not a nonzero page-aligned address"; fi
		# below the top of low RAM and initrd_addr_max (0x7fffffff)
		lim=$mem
		[ "$lim" -gt $((0xC0000000)) ] && lim=$((0xC0000000))
		[ "$lim" -gt $((0x80000000)) ] && lim=$((0x80000000))
		if [ $((0x$ia + wsize)) -le "$lim" ]; then pass "$n-initrd-below-limit"
		else fail "$n-initrd-below-limit" "initrd 0x$ia+$wsize ends above $(printf 0x%x "$lim")"; fi
	fi

	# e820
	sed -n 's/^payload: e820 0x\([0-9a-f]*\) 0x\([0-9a-f]*\) \([0-9]*\)$/\1 \2 \3/p' "$out" >"$T/$n.e820"
	cnt=$(sed -n 's/^payload: e820 entries=//p' "$out" | head -1)
	have=$(wc -l <"$T/$n.e820")
	if [ -z "$cnt" ]; then fail "$n-e820-count" "no 'e820 entries=' line"
	elif [ "$cnt" -gt 0 ] && [ "$cnt" = "$have" ]; then pass "$n-e820-count"
	else fail "$n-e820-count" "entries=$cnt, $have entry lines"; fi

	low=no himem_end='' high_size='' total=0 sorted=yes prev_end=0 ird_in_ram=no
	while read -r a s ty; do
		a=$((0x$a)) s=$((0x$s))
		e=$((a + s))
		[ "$a" -lt "$prev_end" ] && sorted="no: 0x$(printf %x "$a") starts below the end of the entry before it"
		prev_end=$e
		[ "$ty" = 1 ] || continue
		total=$((total + s))
		if [ "$a" = 0 ] && { [ "$e" = $((0x9FC00)) ] || [ "$e" = $((0xA0000)) ]; }; then low=yes; fi
		[ "$a" = $((0x100000)) ] && himem_end=$e
		[ "$a" = $((0x100000000)) ] && high_size=$s
		if [ -n "$ia" ] && [ "$ird" != - ] && [ $((0x$ia)) -ge "$a" ] && [ $((0x$ia + is)) -le "$e" ]; then ird_in_ram=yes; fi
	done <"$T/$n.e820"

	if [ $low = yes ]; then pass "$n-e820-low"
	else fail "$n-e820-low" "no type 1 entry 0 .. 0x9fc00/0xa0000"; diag "$T/$n.e820" 20; fi

	# RAM below 4 GiB ends at min(--mem, 2 GiB) (hal.h LOWMEM_LIMIT)
	if [ "$mem" -le $((0x80000000)) ]; then want_end=$mem; else want_end=''; fi
	if [ -z "$himem_end" ]; then fail "$n-e820-himem" "no type 1 entry at 0x100000"
	elif [ -n "$want_end" ] && [ "$himem_end" != "$want_end" ]; then
		fail "$n-e820-himem" "entry at 0x100000 ends at $(printf 0x%x "$himem_end"), want $(printf 0x%x "$want_end") (--mem)"
	elif [ "$himem_end" -gt $((0x100000000)) ]; then fail "$n-e820-himem" "low RAM runs past 4 GiB"
	else pass "$n-e820-himem"; fi

	if [ "$mem" -gt $((0x100000000)) ]; then
		if [ -z "$high_size" ]; then fail "$n-e820-above-4g" "no type 1 entry at 0x100000000 with --mem $mem"
		elif [ -n "$himem_end" ] && [ "$high_size" != $((mem - himem_end)) ]; then
			fail "$n-e820-above-4g" "size $(printf 0x%x "$high_size"), want --mem - low RAM = $(printf 0x%x $((mem - himem_end)))"
		else pass "$n-e820-above-4g"; fi
	fi

	d=$((mem - total))
	[ $d -lt 0 ] && d=$((-d))
	if [ $d -le $((1 << 20)) ]; then pass "$n-e820-total"
	else fail "$n-e820-total" "type 1 total $(printf 0x%x "$total") is not within 1 MiB of --mem $(printf 0x%x "$mem")"; fi

	if [ "$sorted" = yes ]; then pass "$n-e820-sorted"
	else fail "$n-e820-sorted" "$sorted"; fi

	if [ "$ird" != - ] && [ -n "$ia" ]; then
		if [ $ird_in_ram = yes ]; then pass "$n-initrd-in-ram"
		else fail "$n-initrd-in-ram" "initrd at 0x$ia is not inside one type 1 e820 entry"; fi
	fi

	if grep -qx 'payload: done' "$out"; then pass "$n-done"
	else fail "$n-done" "no 'payload: done' line"; diag "$out"; fi

	if grep -q 'hal: marker 0x01' "$T/$n.err"; then pass "$n-marker"
	else fail "$n-marker" "stderr has no 'hal: marker 0x01'"; diag "$T/$n.err" 4; fi
}

M128=$((128 << 20))
M5G=$((5 << 30))

# --- bzImage, 64- and 32-bit entry -----------------------------------------
for v in 64 32; do
	head -c $((100 * 1024 + 37 + v)) /dev/urandom >"$T/initrd$v"
	run_hal payload$v "$TMO" --kernel "$G/payload$v.bzimage" --initrd "$T/initrd$v" \
		--append "$CMDLINE" --mem 128M --serial stdio
	check_payload payload$v $v $M128 "$T/initrd$v" "$CMDLINE"
done

# no --initrd, no --append
run_hal payload64-nocmdline "$TMO" --kernel "$G/payload64.bzimage" --mem 128M --serial stdio
check_payload payload64-nocmdline 64 $M128 - ""

# RAM above 4 GiB (lazily allocated: cheap)
for v in 64 32; do
	run_hal payload$v-5G "$TMO" --kernel "$G/payload$v.bzimage" --initrd "$T/initrd$v" \
		--append "$CMDLINE" --mem 5G --serial stdio
	check_payload payload$v-5G $v $M5G "$T/initrd$v" "$CMDLINE"
done

# --- flat firmware at the reset vector --------------------------------------
run_hal flatfw 20 --firmware "$G/flatfw.bin" --mem 64M --serial stdio
check_exit flatfw
for l in 'flatfw: hello' 'flatfw: unassigned=ffffffff' 'flatfw: marker-read=48'; do
	name=flatfw-$(echo "${l#flatfw: }" | sed 's/=.*//')
	if grep -qx "$l" "$T/flatfw.txt"; then pass "$name"
	else fail "$name" "no '$l' line (got: $(grep "^${l%%=*}" "$T/flatfw.txt" | head -1))"; fi
done
if grep -q 'hal: marker 0x02' "$T/flatfw.err"; then pass flatfw-marker
else fail flatfw-marker "stderr has no 'hal: marker 0x02'"; diag "$T/flatfw.err" 4; fi

# --- errors --------------------------------------------------------------------
# expect_rc NAME WANT_RC GREP_PATTERN ARGS...
expect_rc() {
	_n=$1 _w=$2 _p=$3
	shift 3
	run_hal "$_n" 10 "$@"
	if [ "$rc" != "$_w" ]; then
		fail "$_n" "hal $* exited $rc, want $_w"; diag "$T/$_n.err" 4
	elif [ -n "$_p" ] && ! grep -qi -- "$_p" "$T/$_n.err"; then
		fail "$_n" "hal $*: stderr does not mention '$_p'"; diag "$T/$_n.err" 4
	elif ! [ -s "$T/$_n.err" ]; then
		fail "$_n" "hal $*: no message on stderr"
	else pass "$_n"; fi
}
printf 'not a kernel\n' >"$T/text"
head -c 65536 /dev/urandom >"$T/random"
if [ -f /etc/hostname ]; then
	expect_rc errors-kernel-hostname 1 bzImage --kernel /etc/hostname --mem 64M
fi
expect_rc errors-kernel-text 1 bzImage --kernel "$T/text" --mem 64M
expect_rc errors-kernel-random 1 bzImage --kernel "$T/random" --mem 64M
expect_rc errors-kernel-missing 1 /nonexistent --kernel /nonexistent --mem 64M
expect_rc errors-initrd-without-kernel 2 "" --initrd "$T/text"
expect_rc errors-bogus-option 2 "" --bogus
exit 0
