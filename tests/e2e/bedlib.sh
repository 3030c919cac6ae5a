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
#                    to QEMU's wall time. When L1's kernel reports a soft
#                    lockup (seen on this 2-core machine, alone and under
#                    load: both L1 CPUs stuck, QEMU TCG + nested SVM, not a
#                    hal message), QEMU is stopped at once instead of at the
#                    timeout and $bed_lockup is 1 (else 0). BED_LOCKUP (an
#                    extended regular expression for grep -E on LOG, default
#                    "watchdog: BUG: soft lockup") lets a bed whose L1 marks
#                    its L2's lines (net.sh) count only L1's own. With
#                    BED_SILENCE=S, S seconds without a line on the console
#                    count as a lockup too (a wedged L1 that prints
#                    nothing: seen once in net.sh's passt case). $bed_why
#                    says which.
#   bed_section LOG BEGIN END   the lines of LOG from BEGIN to END, unprefixed
#   bed_screendump LOG NAME OUT the picture L1 sent as NAME (l1_send in
#                    tests/e2e/l1lib.sh): a PNG -> OUT.png, a PPM -> OUT.ppm
#                    and OUT.png; 1 if none
#   bed_ocr PNG TEXT...         tesseract reads every TEXT in PNG: prints
#                    nothing and returns 0, else what was missing and what it
#                    read (returns 1); returns 2 without tesseract
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
	: >"$_log"
	rm -f "$_log.pid"
	timeout "$_tmo" "$QEMU" -accel tcg -cpu EPYC -nographic -nodefaults -serial stdio -no-reboot \
		-pidfile "$_log.pid" "$@" \
		</dev/null 2>&1 |
		while IFS= read -r _line || [ -n "$_line" ]; do
			_ms=$(($(date +%s%3N) - _t0))
			printf '[%4d.%03d] %s\n' $((_ms / 1000)) $((_ms % 1000)) "${_line%"$_cr"}"
		done >"$_log" &
	_pipe=$!
	bed_lockup=0 bed_why= _size=0 _quiet_since=$(bed_now_ms)
	while kill -0 $_pipe 2>/dev/null; do
		sleep 2
		bed_why=$(grep -m1 -E "${BED_LOCKUP:-watchdog: BUG: soft lockup}" "$_log" | sed 's/^.*\(soft lockup\)/\1/')
		if [ -z "$bed_why" ] && [ -n "$BED_SILENCE" ]; then
			_s=$(wc -c <"$_log")
			if [ "$_s" != "$_size" ]; then _size=$_s _quiet_since=$(bed_now_ms)
			elif [ $(( $(bed_now_ms) - _quiet_since )) -gt $((BED_SILENCE * 1000)) ]; then
				bed_why="no console output for $BED_SILENCE s"
			fi
		fi
		if [ -n "$bed_why" ]; then
			bed_lockup=1
			[ -s "$_log.pid" ] && kill "$(cat "$_log.pid")" 2>/dev/null
			break
		fi
	done
	wait $_pipe
	rm -f "$_log.pid"
	bed_ms=$(($(bed_now_ms) - _t0))
}

bed_section() {
	sed -n "/$2/,/$3/p" "$1" | sed 's/^\[ *[0-9]*\.[0-9]*\] //'
}

bed_screendump() {
	tr -d '\r' <"$1" | sed 's/^\[ *[0-9]*\.[0-9]*\] //' | sed -n "/^E2E: BEGIN $2\$/,/^E2E: END $2\$/p" |
		sed '1d;$d' | base64 -d 2>/dev/null | gunzip -c >"$3.ppm" 2>/dev/null
	[ -s "$3.ppm" ] || { rm -f "$3.ppm"; return 1; }
	if [ "$(head -c 4 "$3.ppm" | tail -c 3)" = PNG ]; then mv "$3.ppm" "$3.png"; return 0; fi
	python3 - "$3.ppm" "$3.png" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
parts = d.split(b"\n", 3)
w, h = map(int, parts[1].split()); px = parts[3]
raw = b"".join(b"\0" + px[y * w * 3:(y + 1) * w * 3] for y in range(h))
def chunk(t, b):
    return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
open(sys.argv[2], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
PY
}

bed_ocr() {
	command -v tesseract >/dev/null 2>&1 || return 2
	_png=$1
	shift
	tesseract "$_png" "${_png%.png}.ocr" >/dev/null 2>&1
	_miss=
	for _w in "$@"; do grep -qF "$_w" "${_png%.png}.ocr.txt" 2>/dev/null || _miss="$_miss '$_w'"; done
	[ -z "$_miss" ] && return 0
	echo "lacks$_miss; read: $(tr -s '\n' ' ' <"${_png%.png}.ocr.txt" 2>/dev/null | cut -c1-200)"
	return 1
}
