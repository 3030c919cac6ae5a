# Shared by the nested test bed's scripts (sourced; docs/testing.md):
#   QEMU             the bed's QEMU: $BUILD/qemu/bin/qemu-system-x86_64 (built
#                    from Debian's source with patches/qemu/, make qemu), or
#                    $QEMU when set; Debian's qemu-system-x86_64 only when
#                    neither exists (OVMF under hal then aborts it)
#   bed_qemu_check   prints a SKIP line naming $1 and returns 1 when there is
#                    no QEMU at all
#   bed_boot LOG TIMEOUT QEMU-ARGS...
#                    runs $QEMU -accel tcg -cpu EPYC -nographic -nodefaults
#                    -serial stdio -no-reboot QEMU-ARGS under `timeout`, stdin
#                    closed, and writes its serial output to LOG with every
#                    line prefixed by the host time since QEMU started
#                    ("[  12.345] "), carriage returns removed; sets $bed_ms
#                    to QEMU's wall time
#   bed_section LOG BEGIN END   the lines of LOG from BEGIN to END, unprefixed
BUILD=${BUILD:-build}
if [ -z "${QEMU:-}" ]; then
	if [ -x "$BUILD/qemu/bin/qemu-system-x86_64" ]; then QEMU=$BUILD/qemu/bin/qemu-system-x86_64
	else QEMU=$(command -v qemu-system-x86_64 || echo qemu-system-x86_64); fi
fi
export QEMU

bed_now_ms() { date +%s%3N; }

bed_qemu_check() {
	if ! command -v "$QEMU" >/dev/null 2>&1; then
		echo "SKIP $1: no QEMU ($QEMU; make qemu, or apt-get install qemu-system-x86)"
		return 1
	fi
}

bed_boot() {
	_log=$1 _tmo=$2
	shift 2
	_cr=$(printf '\r')
	_t0=$(bed_now_ms)
	timeout "$_tmo" "$QEMU" -accel tcg -cpu EPYC -nographic -nodefaults -serial stdio -no-reboot "$@" \
		</dev/null 2>&1 |
		while IFS= read -r _line || [ -n "$_line" ]; do
			_ms=$(($(date +%s%3N) - _t0))
			printf '[%4d.%03d] %s\n' $((_ms / 1000)) $((_ms % 1000)) "${_line%"$_cr"}"
		done >"$_log"
	bed_ms=$(($(bed_now_ms) - _t0))
}

bed_section() {
	sed -n "/$2/,/$3/p" "$1" | sed 's/^\[ *[0-9]*\.[0-9]*\] //'
}
