#!/bin/sh
# The guest on the network (docs/testing.md): QEMU TCG -cpu EPYC boots L1
# (the usual image plus an overlay: tests/e2e/net-l1init.sh as /init, the
# network modules tun, bridge, macvtap, vhost_net, veth, dummy and their
# dependencies, Debian's passt with its libraries, /www/file (1 MiB of random
# bytes) and the L2 initramfs built by tests/e2e/mknetl2.sh). L1 builds a LAN
# (br0 with udhcpd and httpd) and runs hal with --net bridge=br0 (with and
# without /dev/vhost-net, and with model=e1000), tap=, macvtap= and user
# (passt, with a hostfwd);
# each time the L2 guest (tests/e2e/net-l2init.sh) takes a DHCP lease and
# fetches /www/file, whose sha256 must be the file's.
# Prints PASS/FAIL/SKIP and "e2e: time" lines; log: $BUILD/e2e/net-log.txt.
# Environment: BUILD, MAKE, NET_TIMEOUT (seconds for QEMU, default 1200).
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
E2E=$BUILD/e2e
timeout_s=${NET_TIMEOUT:-1200}
log=$E2E/net-log.txt
now_ms() { date +%s%3N; }

# L0 for this bed is Debian's QEMU when QEMU is not given: under the bed's
# own build (patches/qemu/, needed for OVMF, which this bed does not run) its
# L1 (two CPUs, vhost-net, macvtap, passt) locked up three times in a row on
# 2026-12-03 (busy, no console output, at different cases), and never in
# three runs under Debian's QEMU the same day.
[ -z "${QEMU:-}" ] && [ -x /usr/bin/qemu-system-x86_64 ] && QEMU=/usr/bin/qemu-system-x86_64
. tests/e2e/bedlib.sh
. tests/e2e/moddeps.sh
bed_qemu_check e2e-net || exit 0
passt=$(command -v passt || echo /usr/bin/passt)
[ -x "$passt" ] || { echo "SKIP e2e-net: no passt (apt-get install passt)"; exit 0; }
# NET_BENCH=1 (make bench-net): L1 also gets Debian's QEMU and runs the
# throughput runs of net-l1init.sh instead of the tests
bench=${NET_BENCH:-0} qemu= qemu_fw= l1_args=
if [ "$bench" = 1 ]; then
	qemu=$(command -v qemu-system-x86_64) || { echo "SKIP bench-net: no qemu-system-x86_64 (apt-get install qemu-system-x86)"; exit 0; }
	qemu_fw="/usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin"
	l1_args=" e2e.netbench=1"
	log=$E2E/net-bench-log.txt
fi
mkdir -p "$E2E"
t0=$(now_ms)
if ! $MAKE -s --no-print-directory BUILD="$BUILD" e2e-images "$E2E/l2net.cpio.gz" "$BUILD/guest/halctl" >"$E2E/net-make.log" 2>&1; then
	tail -n 20 "$E2E/net-make.log" | sed 's/^/  /'
	echo "FAIL e2e-net-build: see $E2E/net-make.log"
	exit 0
fi
kver=$(cat "$E2E/kver")
mdir=$E2E/kroot/lib/modules/$kver
# the network modules L1 lacks, dependencies first
if ! moddeps "$mdir" tun bridge macvtap vhost_net veth dummy >"$E2E/net-mods.all"; then
	echo "FAIL e2e-net-build: a network module is missing from $mdir"
	exit 0
fi
grep -v -x -F -f "$E2E/modules.list" "$E2E/net-mods.all" >"$E2E/net-mods" || true
while read -r m; do basename "$m"; done <"$E2E/net-mods" >"$E2E/net-modules.list"
# what L2 fetches: 1 MiB of random bytes, made once
www=$E2E/net-www
[ -s "$www/file" ] || { mkdir -p "$www" && head -c 1048576 /dev/urandom >"$www/file.tmp" && mv "$www/file.tmp" "$www/file"; }
sum=$(sha256sum <"$www/file" | cut -d' ' -f1)
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$E2E/net-passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$E2E/net-group"
{
	echo "dir /etc 0755"
	echo "file /etc/passwd $E2E/net-passwd 0644"
	echo "file /etc/group $E2E/net-group 0644"
	echo "dir /www 0755"
	echo "file /www/file $www/file 0644"
	echo "file /init tests/e2e/net-l1init.sh 0755"
	echo "file /l2net.cpio.gz $E2E/l2net.cpio.gz 0644"
	# network boot from the NIC's ROM (ipxe-*): the ROMs, SeaBIOS's VGA BIOS, halctl
	echo "file /bin/halctl $BUILD/guest/halctl 0755"
	for f in /usr/share/seabios/vgabios-bochs-display.bin /usr/lib/ipxe/qemu/efi-e1000.rom /usr/lib/ipxe/qemu/efi-virtio.rom; do
		d=${f%/*} p=
		for c in $(echo "$d" | tr '/' ' '); do p=$p/$c; echo "dir $p 0755"; done
		[ -s "$f" ] && echo "file $f $f 0644"
	done
	while read -r m; do echo "file /lib/modules/$(basename "$m") $mdir/$m 0644"; done <"$E2E/net-mods"
	echo "file /net-modules.list $E2E/net-modules.list 0644"
	for d in /usr /usr/bin; do echo "dir $d 0755"; done
	echo "file /usr/bin/passt $passt 0755"
	# the AVX2 build passt execs when the CPU has AVX2 (-cpu EPYC has)
	[ -x "$passt.avx2" ] && echo "file /usr/bin/passt.avx2 $passt.avx2 0755"
	# passt (and for make bench-net QEMU and the firmware it loads) with the
	# libraries they link (ldd), at the paths they expect
	for f in $(for b in "$passt" $qemu; do ldd "$b" | grep -o '/[^ ]*'; done) $qemu $qemu_fw; do
		d=${f%/*} p=
		for c in $(echo "$d" | tr '/' ' '); do p=$p/$c; echo "dir $p 0755"; done
		echo "file $f $(readlink -f "$f") 0755"
	done
} | awk '!seen[$0]++' | "$E2E/mkcpio" | gzip -1n >"$E2E/net-overlay.cpio.gz"
cat "$E2E/l1.cpio.gz" "$E2E/net-overlay.cpio.gz" >"$E2E/net-l1.cpio.gz"
echo "e2e: time network images $(($(now_ms) - t0)) ms"

# L1 prefixes its guest's lines with "L2| ": only a lockup of L1's own kernel
# (a line the kernel printed on L1's console) makes bed_boot stop QEMU
BED_LOCKUP='^\[ *[0-9]+\.[0-9]+\] \[ *[0-9]+\.[0-9]+\] watchdog: BUG: soft lockup'
# Every step in L1 prints within 300 s (run's own limit)
BED_SILENCE=400
bed_boot2 network "$log" "$timeout_s" -m 2048 -smp 2 \
	-kernel "$E2E/vmlinuz" -initrd "$E2E/net-l1.cpio.gz" -append "console=ttyS0 panic=-1 quiet$l1_args"
echo "e2e: time network test bed (QEMU) $bed_ms ms (log: $log)"

if ! grep -q 'E2E: /dev/kvm present' "$log"; then
	echo "FAIL e2e-net-l1: L1 did not come up with /dev/kvm; last lines:"
	tail -n 10 "$log" | sed 's/^/  /'
	exit 0
fi
all=$(bed_section "$log" 'E2E: L1 up' 'E2E: done')
has() { echo "$all" | grep -q -F -- "$1"; }
if has 'E2E: node /dev/net/tun present' && has 'E2E: node /dev/vhost-net present' &&
   ! has 'E2E: insmod'; then echo "PASS e2e-net-l1-modules"
else echo "FAIL e2e-net-l1-modules: $(echo "$all" | grep -E 'E2E: (insmod|node)' | tr '\n' ';')"; fi
if has "E2E: www file $sum" && has 'E2E: udhcpd running'; then echo "PASS e2e-net-l1-lan"
else echo "FAIL e2e-net-l1-lan: $(echo "$all" | grep -E 'E2E: (www|udhcpd|br0|LAN)' | tr '\n' ';')"; fi
if has 'E2E: hal has no --net'; then
	echo "SKIP e2e-net: $(echo "$all" | grep -o 'hal has no --net.*' | head -n 1)"
	echo "$all" | grep 'E2E: passt' | sed 's/^/  /'
	exit 0
fi

if [ "$bench" = 1 ]; then
	# per VMM and data path: bytes and seconds summed over every transfer
	# of all three rounds (receive: the guest's uptime before and after wget;
	# transmit: L1's), printed as MB/s and hal/QEMU ratios; busybox ping's
	# average (and minimum) round trip, averaged over the rounds
	tr -d '\r' <"$log" | awk '
	/E2E: begin / { run = $NF }
	/NET: fetch [0-9a-f]+ [0-9]+ bytes from / {
		for (i = 1; i < NF; i++) if ($i == "fetch") n = $(i + 2)
		a = $(NF - 2); b = $NF; gsub(/[()]/, "", a); gsub(/[()]/, "", b)
		rxb[run] += n; rxs[run] += b - a; rxk[run]++; if (n != 16777216) bad++
	}
	/E2E: [a-z-]+ tx [0-9]+ bytes in [0-9]+ ms/ {
		for (i = 1; i < NF; i++) if ($i == "tx") n = $(i + 1)
		txb[run] += n; txs[run] += $(NF - 1) / 1000; txk[run]++; if (n != 16777216) bad++
	}
	/NET: ping round-trip min\/avg\/max = / {
		split($(NF - 1), v, "/"); pmin[run] += v[1]; pavg[run] += v[2]; pk[run]++
	}
	function mbs(b, t) { return t > 0 ? b / 1e6 / t : 0 }
	function line(what, path, h, q, k1, k2) {
		printf "bench-net: %-8s %-11s hal %6.2f MB/s  QEMU %6.2f MB/s  hal/QEMU %5.2f  (%d + %d transfers of 16 MiB)\n",
			what, path, h, q, (q > 0 ? h / q : 0), k1, k2
	}
	function mean(sum, k) { return k ? sum / k : 0 }
	END {
		# runs hal-KEY and qemu-KEY, for each data path
		key[1] = "vhost"; label[1] = "vhost-net"; key[2] = "novhost"; label[2] = "user space"
		for (i = 1; i <= 2; i++) {
			h = "hal-" key[i]; q = "qemu-" key[i]
			line("receive", label[i], mbs(rxb[h], rxs[h]), mbs(rxb[q], rxs[q]), rxk[h], rxk[q])
		}
		for (i = 1; i <= 2; i++) {
			h = "hal-" key[i]; q = "qemu-" key[i]
			line("transmit", label[i], mbs(txb[h], txs[h]), mbs(txb[q], txs[q]), txk[h], txk[q])
		}
		for (i = 1; i <= 2; i++) {
			h = "hal-" key[i]; q = "qemu-" key[i]; ph = mean(pavg[h], pk[h]); pq = mean(pavg[q], pk[q])
			printf "bench-net: ping     %-11s hal %6.2f ms      QEMU %6.2f ms      hal/QEMU %5.2f  (average round trip of 20 x %d; minimum hal %.2f, QEMU %.2f ms)\n",
				label[i], ph, pq, (pq > 0 ? ph / pq : 0), pk[h], mean(pmin[h], pk[h]), mean(pmin[q], pk[q])
		}
		for (r in rxk) total += rxk[r]
		for (r in txk) total += txk[r]
		if (bad) printf "bench-net: %d transfers were not 16 MiB\n", bad
		exit (total == 192 && !bad) ? 0 : 1
	}'
	r=$?
	grep -E 'E2E: hal-(vhost|novhost) hal: .*(vhost-net|user-space path)' "$log" | sed 's/.*E2E: /  /' | sort -u
	echo "bench-net: L1 log $log; the same runs: NET_BENCH=1 sh tests/e2e/net.sh"
	[ $r = 0 ] || echo "bench-net: not every run gave its 16 transfers (4 runs x 3 rounds x (8 + 8) = 192 in all)"
	exit $r
fi

sec=
section() { bed_section "$log" "E2E: begin $1\$" "E2E: run $1 " | tr -d '\r' | sed 's/^L2| //' >"$E2E/net-$1.txt"; sec=$E2E/net-$1.txt; }
diag() { # once per run: the guest's last lines and hal's stderr (no bring-up steps)
	[ "$diag_done" = "$sec" ] && return
	diag_done=$sec
	grep -E '^NET: ' "$sec" | tail -n 6 | sed 's/^/  /'
	grep -E '^E2E: [a-z-]*: stopping hal|soft lockup' "$sec" | head -n 2 | sed 's/^/  /'
	grep -E "^E2E: [a-z-]* hal: " "$sec" | grep -v -E 'debug: (bring-up|tear-down):' | tail -n 8 | sed 's/^/  /'
	grep -E '^E2E: run ' "$sec" | sed 's/^/  /'
}
diag_done=
ok() { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; diag; }
lease() { sed -n 's/^NET: lease \([0-9.]*\)\/.*/\1/p' "$sec" | head -n 1; }
in_lan() { case $1 in 192.168.77.1[0-4][0-9] | 192.168.77.150) return 0 ;; esac; return 1; }
rc_of() { sed -n "s/^E2E: run $1 rc=\([0-9]*\) .*/\1/p" "$sec"; }
ms_of() { sed -n "s/^E2E: run $1 rc=[0-9]* ms=\([0-9]*\).*/\1/p" "$sec"; }
links_same() { # the interfaces after the run are those before it
	b=$(sed -n "s/^E2E: $1 links before: //p" "$sec") a=$(sed -n "s/^E2E: $1 links after: //p" "$sec")
	[ -n "$a" ] && [ "$a" = "$b" ]
}
lan_case() { # lan_case RUN TESTNAME
	section "$1"
	n=$2
	if ! grep -q "^E2E: run $1 " "$sec"; then echo "FAIL $n-lease: the run did not end; last lines:"; tail -n 8 "$sec" | sed 's/^/  /'; return 1; fi
	l=$(lease)
	if in_lan "$l"; then ok "$n-lease"; else bad "$n-lease" "no lease from L1's udhcpd (192.168.77.100-150): '${l:-none}'"; fi
	if grep -q "^NET: fetch $sum 1048576 bytes" "$sec"; then ok "$n-fetch"
	else bad "$n-fetch" "the guest did not fetch /www/file intact (sha256 $sum): $(grep '^NET: fetch' "$sec")"; fi
	r=$(rc_of "$1")
	if [ "$r" = 0 ]; then ok "$n-rc"; else bad "$n-rc" "hal exited ${r:-?}, not 0 (the guest powered off)"; fi
	echo "e2e: time hal --net $1: $(ms_of "$1") ms wall in L1 (1 MiB fetch in the guest: $(fetch_ms) ms)"
}
fetch_ms() { # how long the guest's wget took (its uptime before and after)
	f=$(sed -n 's/^NET: fetch .*(\([0-9.]*\) -> \([0-9.]*\))$/\1 \2/p' "$sec" | awk '{printf "%d", ($2 - $1) * 1000}')
	echo "${f:-?}"
}
path_of() { # what hal -v said about the data path
	grep -E "^E2E: $1 hal: .*(vhost|user-space)" "$sec" | head -n 2 | sed "s/^E2E: $1 hal: //" | tr '\n' ' '
}

# (a) a tap hal makes on L1's bridge, with /dev/vhost-net and without
lan_case bridge e2e-net-bridge
if links_same bridge; then ok e2e-net-bridge-cleanup
else bad e2e-net-bridge-cleanup "interfaces before: $(sed -n 's/^E2E: bridge links before: //p' "$sec"), after: $(sed -n 's/^E2E: bridge links after: //p' "$sec")"; fi
vh=$(path_of bridge)
if echo "$vh" | grep -q 'vhost-net' && ! echo "$vh" | grep -q 'user-space'; then ok e2e-net-bridge-vhost
elif [ -z "$vh" ]; then echo "SKIP e2e-net-bridge-vhost: hal -v says nothing about vhost-net or a user-space path"
else bad e2e-net-bridge-vhost "with /dev/vhost-net hal -v said: $vh"; fi
echo "  bridge: hal -v: ${vh:-(nothing about the data path)}"
if grep -q 'E2E: no /dev/vhost-net' "$log"; then
	echo "SKIP e2e-net-novhost: L1 had no /dev/vhost-net"
else
	lan_case bridge-novhost e2e-net-novhost
	vh=$(path_of bridge-novhost)
	if echo "$vh" | grep -q 'user-space'; then ok e2e-net-novhost-path
	elif [ -z "$vh" ]; then echo "SKIP e2e-net-novhost-path: hal -v says nothing about vhost-net or a user-space path"
	else bad e2e-net-novhost-path "without /dev/vhost-net hal -v said: $vh"; fi
	echo "  bridge-novhost: hal -v: ${vh:-(nothing about the data path)}"
fi

# (a') the same bridge through hal's e1000 (82540EM) and the guest's e1000
# driver; vhost-net is virtio only, so -v names the user-space path
lan_case bridge-e1000 e2e-net-e1000
if grep -q '^NET: [a-z0-9]* mac [0-9a-f:]* driver e1000$' "$sec"; then ok e2e-net-e1000-driver
else bad e2e-net-e1000-driver "the guest's NIC is not driven by e1000: $(grep '^NET: [a-z0-9]* mac' "$sec" || echo 'no NIC line')"; fi
vh=$(path_of bridge-e1000)
if echo "$vh" | grep -q 'e1000 .*user-space path (vhost-net is virtio only)'; then ok e2e-net-e1000-path
else bad e2e-net-e1000-path "hal -v said: ${vh:-nothing about the data path}"; fi
if links_same bridge-e1000; then ok e2e-net-e1000-cleanup
else bad e2e-net-e1000-cleanup "interfaces before: $(sed -n 's/^E2E: bridge-e1000 links before: //p' "$sec"), after: $(sed -n 's/^E2E: bridge-e1000 links after: //p' "$sec")"; fi

# (b) a tap L1 made, with a MAC given
lan_case tap e2e-net-tap
if grep -q '^NET: [a-z0-9]* mac 52:54:00:4e:45:54 ' "$sec"; then ok e2e-net-tap-mac
else bad e2e-net-tap-mac "the guest's MAC is not ,mac=52:54:00:4e:45:54: $(grep '^NET: [a-z0-9]* mac' "$sec")"; fi
if grep -q '^E2E: tap links after: .* haltest0 ' "$sec"; then ok e2e-net-tap-kept
else bad e2e-net-tap-kept "hal removed the tap it did not create: $(grep '^E2E: tap links after' "$sec")"; fi

# (c) macvtap on one end of a veth pair whose other end is in br0
if grep -q 'E2E: macvtap skip' "$log"; then
	echo "SKIP e2e-net-macvtap: $(sed -n 's/.*E2E: macvtap skip: //p' "$log" | head -n 1)"
else
	lan_case macvtap e2e-net-macvtap
	if links_same macvtap; then ok e2e-net-macvtap-cleanup
	else bad e2e-net-macvtap-cleanup "interfaces before: $(sed -n 's/^E2E: macvtap links before: //p' "$sec"), after: $(sed -n 's/^E2E: macvtap links after: //p' "$sec")"; fi
fi

# (d) user mode: passt; the guest fetches from L1's loopback through the
# gateway address and serves a page L1 reads through the forwarded port
section user
l=$(lease)
if [ -n "$l" ]; then ok e2e-net-user-lease; else bad e2e-net-user-lease "no lease from passt's DHCP"; fi
if grep -q "^NET: fetch $sum 1048576 bytes" "$sec"; then ok e2e-net-user-fetch
else bad e2e-net-user-fetch "the guest did not fetch L1's /www/file intact through passt: $(grep '^NET: fetch' "$sec")"; fi
if grep -q "^E2E: user hostfwd got: L2NET-SERVED-BY-GUEST $l\$" "$sec"; then ok e2e-net-user-hostfwd
else bad e2e-net-user-hostfwd "L1's wget http://127.0.0.1:8080/guest.txt (hostfwd=tcp::8080-:80): $(grep '^E2E: user hostfwd' "$sec" || echo 'never tried: the guest never said it was serving')"; fi
r=$(rc_of user)
if [ "$r" = 0 ]; then ok e2e-net-user-rc; else bad e2e-net-user-rc "hal exited ${r:-?}, not 0"; fi
if links_same user; then ok e2e-net-user-cleanup; else bad e2e-net-user-cleanup "interfaces changed"; fi
echo "e2e: time hal --net user: $(ms_of user) ms wall in L1 (1 MiB fetch in the guest: $(fetch_ms) ms)"

# bad input: a bridge that does not exist
# iPXE from the NIC's ROM BAR: its screen shows the NIC and the lease
for m in e1000 virtio; do
	section ipxe-$m
	if ! bed_screendump "$log" "ipxe-$m" "$E2E/net-ipxe-$m"; then
		bad e2e-net-ipxe-$m "no screendump from L1 (hal rc=$(rc_of ipxe-$m))"
		continue
	fi
	why=$(bed_ocr "$E2E/net-ipxe-$m.png" 'Open Source Network Boot' 'Link:up' '192.168.77.')
	case $? in
	0) ok e2e-net-ipxe-$m ;;
	2) echo "SKIP e2e-net-ipxe-$m: tesseract is missing (apt-get install tesseract-ocr)" ;;
	*) bad e2e-net-ipxe-$m "OCR of $E2E/net-ipxe-$m.png $why" ;;
	esac
done

section bad-bridge
r=$(rc_of bad-bridge)
if [ "$r" = 1 ]; then ok e2e-net-bad-bridge-rc; else bad e2e-net-bad-bridge-rc "hal --net bridge=nosuchbr exited ${r:-?}, not 1"; fi
if grep -q '^E2E: bad-bridge hal: .*nosuchbr' "$sec"; then ok e2e-net-bad-bridge-message
else bad e2e-net-bad-bridge-message "hal's message does not name the bridge nosuchbr"; fi
if links_same bad-bridge; then ok e2e-net-bad-bridge-no-tap
else bad e2e-net-bad-bridge-no-tap "interfaces before: $(sed -n 's/^E2E: bad-bridge links before: //p' "$sec"), after: $(sed -n 's/^E2E: bad-bridge links after: //p' "$sec")"; fi
exit 0
