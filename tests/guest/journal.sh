#!/bin/sh
# No acknowledged write lost (issue 12): hal is SIGKILLed at a random moment
# while its guest (build/guest/journal.bzimage, tests/guest/journal.c)
# writes numbered records to a virtio disk and reports each FLUSH that
# completed ("jrnl: N": records 0..N-1 are durable). Afterwards the disk
# must hold every record the guest reported (build/guest/jrnlcheck), in
# HAL_JOURNAL_RUNS trials (default 100) for each backend:
#   file     a raw image file
#   blockdev a loop device over a file (L1 of the nested test bed loads
#            loop.ko; elsewhere it needs root and losetup)
#   blockdev-direct  the same device with ,cache=none (O_DIRECT)
# A trial kills hal 100-1600 ms after the guest's first record. Then the
# disk vanishes mid-run (scsi_debug, deleted through sysfs): hal must stay up. Run by
# tests/guest/run.sh (alone: HAL_GUEST_ONLY=journal), so on /dev/kvm or in
# the nested test bed. What it shows: hal acknowledges a write only after the
# host kernel has it, and a FLUSH only after fdatasync(2); a host power cut
# is beyond what a process kill shows (docs/virtio.md, "Durability").
# Environment: HAL, BUILD, HAL_TEST_SLOW, HAL_JOURNAL_RUNS.
BUILD=${BUILD:-build}
HAL=${HAL:-$BUILD/hal}
G=$BUILD/guest
SLOW=${HAL_TEST_SLOW:-1}
RUNS=${HAL_JOURNAL_RUNS:-100}
SIZE=8388608 # 16384 records; the guest stops at "jrnl: full"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
diag() { [ -s "$1" ] && tail -n "${2:-8}" "$1" | tr -d '\r' | sed 's/^/  | /'; return 0; }
now_ms() { read -r _u _ </proc/uptime; _c=${_u#*.}; echo $(( ${_u%.*} * 1000 + ${_c#0} * 10 )); }
rand() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }

for f in "$G/journal.bzimage" "$G/jrnlcheck"; do
	[ -f "$f" ] || { fail journal-setup "$f is missing (make guests)"; exit 0; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/hal-journal.XXXXXX") || exit 1
loopdev=
cleanup() { [ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

# trials KIND DISK [OPTS]: HAL_JOURNAL_RUNS kills with DISK as the guest's
# disk, hal given DISK with OPTS (",cache=none")
trials() {
	kind=$1 disk=$2 opts=${3:-}
	n_lost=0 n_acked=0 n_rc=0 n_early=0 max_acked=0 sum_acked=0 first=
	t0=$(now_ms)
	i=1
	while [ $i -le "$RUNS" ]; do
		id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
		rm -f "$T/s.txt"
		"$HAL" --kernel "$G/journal.bzimage" --append "console=ttyS0 jrnl.id=$id" --mem 64M --disk "$disk$opts" \
			--serial "file:$T/s.txt" --display none </dev/null >"$T/s.out" 2>"$T/s.err" &
		pid=$!
		_i=0 # until the first round is acknowledged (or hal ends)
		while [ $_i -lt $((200 * SLOW)) ] && kill -0 $pid 2>/dev/null && ! grep -q '^jrnl: [0-9]' "$T/s.txt" 2>/dev/null; do
			sleep 0.05
			_i=$((_i + 1))
		done
		delay=$((100 + $(rand) % 1501))
		sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
		# (braces: the shell's own "Killed" line goes to /dev/null, not the log)
		if kill -KILL $pid 2>/dev/null; then
			{ wait $pid; } 2>/dev/null
			rc=$?
		else
			{ wait $pid; } 2>/dev/null
			rc="exited $? before the kill"
		fi
		acked=$(sed -n 's/^jrnl: \([0-9][0-9]*\)\r*$/\1/p' "$T/s.txt" | tail -n 1)
		bad=
		[ "$rc" = 137 ] || { n_rc=$((n_rc + 1)); bad="$bad rc=$rc"; }
		if [ -z "$acked" ]; then
			n_early=$((n_early + 1))
			acked=0
		else
			n_acked=$((n_acked + 1))
		fi
		if ! "$G/jrnlcheck" "$disk" "$id" "$acked" >"$T/check" 2>&1; then
			n_lost=$((n_lost + 1))
			bad="$bad $(cat "$T/check")"
		fi
		[ "$acked" -gt $max_acked ] && max_acked=$acked
		sum_acked=$((sum_acked + acked))
		if [ -n "$bad" ]; then
			echo "  journal: $kind run $i (killed $delay ms after the first flush, $acked acknowledged):$bad"
			if [ -z "$first" ]; then
				first=$i
				diag "$T/s.err" 10
				diag "$T/s.txt" 3
			fi
		fi
		[ $((i % 20)) = 0 ] && echo "  journal: $kind: $i runs, $(($(now_ms) - t0)) ms"
		i=$((i + 1))
	done
	echo "  journal: $kind: $RUNS SIGKILLs in $(($(now_ms) - t0)) ms; acknowledged records per run max $max_acked, mean $((sum_acked / (RUNS > 0 ? RUNS : 1))); last: $(cat "$T/check")"
	if [ $n_lost = 0 ]; then pass journal-$kind-no-acknowledged-write-lost
	else fail journal-$kind-no-acknowledged-write-lost "$n_lost of $RUNS runs lost records the guest had seen flushed"; fi
	if [ $n_rc = 0 ]; then pass journal-$kind-killed-while-running
	else fail journal-$kind-killed-while-running "$n_rc of $RUNS runs: hal was not running when SIGKILL came (or was not killed by it)"; fi
	if [ $n_acked -ge $((RUNS * 9 / 10)) ]; then pass journal-$kind-guest-flushed
	else fail journal-$kind-guest-flushed "only $n_acked of $RUNS runs had a flush acknowledged before the kill (want 90 %)"; fi
}

# The check itself must see a lost record: a disk with record 5 damaged.
truncate -s $SIZE "$T/disk.img"
id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
"$HAL" --kernel "$G/journal.bzimage" --append "console=ttyS0 jrnl.id=$id" --mem 64M --disk "$T/disk.img" \
	--serial "file:$T/s.txt" --display none </dev/null >"$T/s.out" 2>"$T/s.err" &
pid=$!
_i=0
while [ $_i -lt $((200 * SLOW)) ] && ! grep -q '^jrnl: 32' "$T/s.txt" 2>/dev/null; do sleep 0.05; _i=$((_i + 1)); done
kill -KILL $pid 2>/dev/null
{ wait $pid; } 2>/dev/null
if "$G/jrnlcheck" "$T/disk.img" "$id" 32 >"$T/check" && dd if=/dev/zero of="$T/disk.img" bs=512 seek=5 count=1 conv=notrunc 2>/dev/null &&
	! "$G/jrnlcheck" "$T/disk.img" "$id" 32 >"$T/check2"; then
	pass journal-check-sees-a-lost-record
else
	fail journal-check-sees-a-lost-record "jrnlcheck on 32 records, then with record 5 zeroed: '$(cat "$T/check" 2>/dev/null)' / '$(cat "$T/check2" 2>/dev/null)'"
	diag "$T/s.txt" 3
	diag "$T/s.err" 5
fi

trials file "$T/disk.img"

# A block device: a loop device over a file.
[ -e /dev/loop-control ] || { [ -f /lib/modules/loop.ko ] && insmod /lib/modules/loop.ko 2>/dev/null; }
truncate -s $SIZE "$T/loop.img"
if loopdev=$(losetup -f 2>/dev/null) && [ -n "$loopdev" ] && losetup "$loopdev" "$T/loop.img" 2>"$T/losetup.err"; then
	trials blockdev "$loopdev"
	# the same device with cache=none: hal's O_DIRECT path (docs/storage.md)
	trials blockdev-direct "$loopdev" ,cache=none
else
	loopdev=
	fail journal-blockdev "no loop device for the block-device trials: $(cat "$T/losetup.err" 2>/dev/null) (root, losetup and loop.ko needed)"
fi

# The disk vanishes while the guest writes (a pulled USB disk): a
# scsi_debug disk (L1: /lib/modules/vanish/) deleted through sysfs 1 s
# after the guest's first flush. hal must stay up (status answered), name
# the failing disk on stderr, hand the guest I/O errors (journal.c stops
# with "jrnl: FAIL write status" or "flush status") and end with 5 on quit.
vanish() {
	for m in /lib/modules/vanish/*.ko; do
		[ -f "$m" ] || { echo "SKIP journal-vanish: no scsi_debug modules here (the nested test bed has them)"; return; }
		case $m in
		*scsi_debug.ko) insmod "$m" dev_size_mb=32 2>/dev/null ;;
		*) insmod "$m" 2>/dev/null ;;
		esac
	done
	dev=
	_i=0
	while [ -z "$dev" ] && [ $_i -lt 50 ]; do
		for b in /sys/bus/pseudo/drivers/scsi_debug/adapter*/host*/target*/*/block/*; do
			[ -e "$b" ] && dev=${b##*/}
		done
		sleep 0.1
		_i=$((_i + 1))
	done
	if [ -z "$dev" ] || [ ! -b "/dev/$dev" ]; then
		fail journal-vanish "no scsi_debug disk appeared ($(ls /sys/bus/pseudo/drivers/scsi_debug 2>&1 | head -n 3 | tr '\n' ' '))"
		return
	fi
	id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
	rm -f "$T/s.txt" "$T/v.sock"
	"$HAL" --kernel "$G/journal.bzimage" --append "console=ttyS0 jrnl.id=$id" --mem 64M --disk "/dev/$dev" \
		--serial "file:$T/s.txt" --control "$T/v.sock" --display none </dev/null >"$T/s.out" 2>"$T/s.err" &
	pid=$!
	_i=0
	while [ $_i -lt $((200 * SLOW)) ] && kill -0 $pid 2>/dev/null && ! grep -q '^jrnl: [0-9]' "$T/s.txt" 2>/dev/null; do
		sleep 0.05
		_i=$((_i + 1))
	done
	sleep 1
	echo 1 >"/sys/block/$dev/device/delete"
	_i=0 # the guest's next request fails
	while [ $_i -lt $((100 * SLOW)) ] && ! grep -q '^jrnl: FAIL' "$T/s.txt" 2>/dev/null; do
		sleep 0.1
		_i=$((_i + 1))
	done
	sleep 1
	acked=$(sed -n 's/^jrnl: \([0-9][0-9]*\)\r*$/\1/p' "$T/s.txt" | tail -n 1)
	st=$(timeout $((5 * SLOW)) "$G/halctl" "$T/v.sock" status 2>&1)
	timeout $((10 * SLOW)) "$G/halctl" "$T/v.sock" quit >/dev/null 2>&1
	_i=0
	while kill -0 $pid 2>/dev/null && [ $_i -lt $((100 * SLOW)) ]; do sleep 0.1; _i=$((_i + 1)); done
	kill -KILL $pid 2>/dev/null
	{ wait $pid; } 2>/dev/null
	rc=$?
	echo "  journal: vanish: /dev/$dev deleted after $acked acknowledged records; guest: $(grep '^jrnl: FAIL' "$T/s.txt" | head -n 1 | tr -d '\r'); hal: $(grep -m1 "disk /dev/$dev" "$T/s.err")"
	case $st in
	ok\ running*) pass journal-vanish-hal-answers ;;
	*) fail journal-vanish-hal-answers "status after the disk went: '$st'"; diag "$T/s.err" 10 ;;
	esac
	if grep -q '^jrnl: FAIL \(write\|flush\) status' "$T/s.txt"; then pass journal-vanish-guest-sees-error
	else fail journal-vanish-guest-sees-error "the guest saw no I/O error"; diag "$T/s.txt" 3; fi
	if grep -q "disk /dev/$dev: .* failed: " "$T/s.err"; then pass journal-vanish-message
	else fail journal-vanish-message "hal did not name the failing disk on stderr"; diag "$T/s.err" 5; fi
	if [ "$rc" = 5 ] && ! grep -Eq 'AddressSanitizer|runtime error:' "$T/s.err"; then pass journal-vanish-exit
	else fail journal-vanish-exit "hal ended with $rc after quit (want 5)"; diag "$T/s.err" 10; fi
}
vanish
exit 0
