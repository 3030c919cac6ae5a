# Shared by the nested test bed's scripts (sourced; docs/testing.md):
#   QEMU             the bed's QEMU: $BUILD/qemu/bin/qemu-system-x86_64 (built
#                    from Debian's source with patches/qemu/, make qemu), or
#                    $QEMU when set; Debian's qemu-system-x86_64 only when
#                    neither exists (OVMF under hal then aborts it)
#   bed_qemu_check   prints a SKIP line naming $1 and returns 1 when there is
#                    no QEMU at all
#   bed_boot LOG TIMEOUT QEMU-ARGS...
#                    runs $QEMU -accel tcg -cpu EPYC -nographic -nodefaults
#                    -serial stdio -no-reboot QEMU-ARGS under `timeout` (BED_ACCEL
#                    replaces "tcg", e.g. tcg,thread=single), stdin
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
#                    says which. Before stopping a locked-up QEMU, bed_boot
#                    writes LOG.cpus (bed_cpus) and prints its summary.
#   bed_boot2 WHAT LOG TIMEOUT QEMU-ARGS...
#                    bed_boot, and once more when L1 locked up: the first
#                    log is kept as LOG.lockup (and LOG.lockup.cpus), a line
#                    naming WHAT says so. A second lockup is the caller's
#                    failure ($bed_lockup is 1 again).
#   bed_cpus LOG     what a wedged bed is doing: the L0 QEMU's threads (state,
#                    CPU time in the last second) and, from its monitor
#                    (LOG.mon), every L1 CPU's registers, each RIP named as
#                    an offset in L1's kernel or KVM module (from the "E2E:
#                    L1 map" line of tests/e2e/l1lib.sh: KASLR undone)
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
	timeout "$_tmo" "$QEMU" -accel "${BED_ACCEL:-tcg}" -cpu EPYC -nographic -nodefaults -serial stdio -no-reboot \
		-name debug-threads=on -pidfile "$_log.pid" -monitor "unix:$_log.mon,server=on,wait=off" "$@" \
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
			bed_cpus "$_log" >"$_log.cpus" 2>&1
			grep '^  ' "$_log.cpus"
			[ -s "$_log.pid" ] && kill "$(cat "$_log.pid")" 2>/dev/null
			break
		fi
	done
	wait $_pipe
	rm -f "$_log.pid" "$_log.mon"
	bed_ms=$(($(bed_now_ms) - _t0))
}

bed_boot2() {
	_what=$1
	shift
	for _try in 1 2; do
		bed_boot "$@"
		[ "$bed_lockup" = 1 ] && [ $_try = 1 ] || break
		cp "$1" "$1.lockup"
		mv "$1.cpus" "$1.lockup.cpus" 2>/dev/null
		echo "  $_what: L1 locked up ($bed_why, QEMU TCG + nested SVM; log: $1.lockup): booting the bed once more"
	done
}

bed_cpus() {
	_pid=$(cat "$1.pid" 2>/dev/null)
	[ -n "$_pid" ] || { echo "  lockup: no QEMU pid"; return; }
	python3 - "$1" "$_pid" <<'PY'
import glob, os, re, socket, sys, time
log, pid = sys.argv[1], sys.argv[2]
def threads():
    t = {}
    for d in glob.glob("/proc/%s/task/*" % pid):
        try:
            f = open(d + "/stat").read().rsplit(")", 1)
            name = f[0].split("(", 1)[1]
            st = f[1].split()
            t[d.rsplit("/", 1)[1]] = (name, st[0], int(st[11]) + int(st[12]))
        except OSError:
            pass
    return t
a = threads(); time.sleep(1); b = threads()
hz = os.sysconf("SC_CLK_TCK")
busy = ["%s %s %d%%" % (n, s, (c - a.get(k, (n, s, c))[2]) * 100 // hz) for k, (n, s, c) in sorted(b.items())]
print("  lockup: L0 QEMU %s threads (state, CPU in the last second): %s" % (pid, ", ".join(busy)))
# the monitor: its banner, then each command's answer up to the next prompt
said = {}
try:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(log + ".mon")
    for cmd in ("", "info registers -a", "info lapic"):
        s.send(cmd.encode() + (b"\n" if cmd else b""))
        out = b""
        while not out.endswith(b"(qemu) "):
            c = s.recv(65536)
            if not c:
                break
            out += c
        said[cmd] = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out.decode(errors="replace"))
except OSError as e:
    print("  lockup: no monitor (%s)" % e)
regs = said.get("info registers -a", "")
print(regs)
# the local APIC of the CPU the monitor has (CPU 0): a vector in IRR that
# the CPU never takes is an interrupt QEMU lost
lapic = said.get("info lapic", "")
print(lapic)
irr = re.search(r"IRR\s+(.*)", lapic)
isr = re.search(r"ISR\s+(.*)", lapic)
if irr or isr:
    print("  lockup: L1 CPU 0's APIC: IRR %s, ISR %s" % (irr.group(1).strip() if irr else "?",
                                                     isr.group(1).strip() if isr else "?"))
# RIP -> an offset from L1's _text or a KVM module's base (KASLR undone):
# Debian's System.map is a placeholder; /proc/kallsyms of any L1 boot of the
# same kernel names the offset (the same for every boot)
text, mods = None, []
for l in open(log, errors="replace"):
    m = re.search(r"E2E: L1 map ([0-9a-f]+)(.*)", l)
    if m:
        text = int(m.group(1), 16)
        w = m.group(2).split()
        mods = sorted((int(w[i + 1], 16), w[i]) for i in range(0, len(w) - 1, 2) if w[i + 1].startswith("0x"))
def name(rip):
    for base, mod in reversed(mods):
        if 0 <= rip - base < 0x400000:
            return "%s+0x%x" % (mod, rip - base)
    if text is not None and 0 <= rip - text < 0x4000000:
        return "_text+0x%x" % (rip - text)
    return "not L1's kernel"
for blk in regs.split("CPU#")[1:]:
    cpu = int(re.match(r"\d*", blk).group(0) or -1)  # QEMU lists them in any order
    rip = re.search(r"RIP=([0-9a-f]+)", blk)
    fl = re.search(r"RFL=([0-9a-f]+)", blk)
    hlt = re.search(r"HLT=(\d)", blk)
    if rip:
        r = int(rip.group(1), 16)
        print("  lockup: L1 CPU %d at %s (%s)%s%s" % (cpu, rip.group(1), name(r),
              " IF=%d" % (int(fl.group(1), 16) >> 9 & 1) if fl else "", " halted" if hlt and hlt.group(1) == "1" else ""))
PY
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
