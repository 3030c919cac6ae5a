# Helpers of the boot-medium tests (tests/e2e/rdroot.sh, tests/e2e/usb.sh);
# sourced, not run. The machine is QEMU TCG with -cpu EPYC (nested SVM, as
# in run.sh); init (PID 1) runs in it and hal runs on its nested KVM.
#
# rd_qemu NAME TIMEOUT RESCUE QEMU-ARGS...
#   Runs $QEMU (tests/e2e/bedlib.sh) -accel tcg QEMU-ARGS with the serial port on
#   stdio; every serial line goes to $E2E/NAME.log prefixed with host seconds
#   since the start ("[  12.345] "). RESCUE "" sends nothing; otherwise once
#   init's rescue-shell banner appears, RESCUE (a string with \n escapes, for
#   printf %b) is typed into the serial port. Sets rd_rc (QEMU's exit status,
#   124 = killed by the timeout), rd_ms (wall time), rd_log.
# rd_has NAME PATTERN          grep -E in NAME's log
# rd_at NAME PATTERN           host ms of the first matching line (or empty)
# rd_tail NAME [N]             last N lines of the log, indented
# rd_guest_disk OUT            bootdisk.img with an ISO9660 volume descriptor
#                              labelled HALGUEST at 32 KiB (a hybrid image:
#                              MBR boot code at LBA 0, found by LABEL=)

BUILD=${BUILD:-build}
E2E=${E2E:-$BUILD/e2e}
. tests/e2e/bedlib.sh

rd_now() { date +%s%3N; }

rd_qemu() {
	_name=$1 _tmo=$2 _rescue=$3
	shift 3
	rd_log=$E2E/$_name.log
	_fifo=$E2E/$_name.in
	_done=$E2E/$_name.done
	rm -f "$_fifo" "$_done" "$rd_log"
	mkfifo "$_fifo"
	: >"$rd_log"
	# The feeder holds the fifo open (QEMU's stdin) until QEMU is gone.
	(
		_t=0
		if [ -n "$_rescue" ]; then
			while [ ! -e "$_done" ] && [ "$_t" -lt "$_tmo" ]; do
				if grep -q 'HAL rescue shell' "$rd_log"; then
					sleep 3 # busybox --install, then the shell reads
					printf '%b' "$_rescue"
					break
				fi
				sleep 1
				_t=$((_t + 1))
			done
		fi
		while [ ! -e "$_done" ]; do sleep 1; done
	) >"$_fifo" &
	_feeder=$!
	_cr=$(printf '\r')
	_t0=$(rd_now)
	{
		timeout "$_tmo" "$QEMU" -accel tcg -cpu EPYC -smp 1 \
			-nographic -nodefaults -serial stdio -no-reboot "$@" <"$_fifo" 2>&1
		echo "RD-QEMU-EXIT $?"
	} | while IFS= read -r _line || [ -n "$_line" ]; do
		_ms=$(($(rd_now) - _t0))
		printf '[%4d.%03d] %s\n' $((_ms / 1000)) $((_ms % 1000)) "${_line%"$_cr"}"
	done >>"$rd_log"
	rd_ms=$(($(rd_now) - _t0))
	touch "$_done"
	wait "$_feeder" 2>/dev/null
	rm -f "$_fifo" "$_done"
	rd_rc=$(sed -n 's/.*RD-QEMU-EXIT \([0-9]*\)$/\1/p' "$rd_log" | tail -n 1)
	echo "e2e: time $_name: QEMU ${rd_ms} ms, exit ${rd_rc:-?} (log: $rd_log)"
}

rd_has() { grep -q -E -- "$2" "$E2E/$1.log"; }
rd_at() {
	grep -E -- "$2" "$E2E/$1.log" | head -n 1 |
		sed -n 's/^\[ *\([0-9]*\)\.\([0-9]*\)\].*/\1\2/p' | sed 's/^0*//;s/^$/0/'
}
rd_tail() { tail -n "${2:-12}" "$E2E/$1.log" | sed 's/^/  /'; }

# pass/fail helper: rd_check TESTNAME NAME PATTERN WHY-IF-MISSING
rd_check() {
	if rd_has "$2" "$3"; then
		echo "PASS $1"
	else
		echo "FAIL $1: $4; last lines of $E2E/$2.log:"
		rd_tail "$2"
	fi
}

# QEMU exited by itself because the machine powered off (not the timeout)
rd_check_poweroff() {
	if [ "$rd_rc" = 0 ] && rd_has "$2" 'reboot: Power down'; then
		echo "PASS $1"
	elif [ "$rd_rc" = 124 ]; then
		echo "FAIL $1: QEMU was killed by the timeout; last lines:"
		rd_tail "$2"
	else
		echo "FAIL $1: QEMU exit ${rd_rc:-?}, no 'reboot: Power down'; last lines:"
		rd_tail "$2"
	fi
}

rd_guest_disk() {
	_src=$BUILD/guest/bootdisk.img
	cp "$_src" "$1.tmp"
	# Primary volume descriptor at 0x8000: type 1, "CD001", version 1,
	# system id (32 bytes), volume id HALGUEST (32 bytes, space padded);
	# the set terminator (type 255) follows at 0x8800.
	{
		printf '\001CD001\001\000'
		printf '%-32s' ''
		printf '%-32s' 'HALGUEST'
	} | dd of="$1.tmp" bs=1 seek=32768 conv=notrunc status=none
	printf '\377CD001\001' | dd of="$1.tmp" bs=1 seek=34816 conv=notrunc status=none
	mv "$1.tmp" "$1"
}
