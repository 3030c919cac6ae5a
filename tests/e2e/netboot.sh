#!/bin/sh
# Full-system tests of the netboot tree (docs/netboot.md): QEMU TCG -cpu
# EPYC (q35, nested SVM as in run.sh) with NO disk at all, one virtio-net
# NIC on QEMU's user-mode network (slirp: its DHCP and TFTP servers live in
# QEMU, nothing leaves this machine) whose option ROM (Debian's iPXE,
# ipxe-qemu) SeaBIOS boots first:
#   ipxe      bootfile boot.ipxe: iPXE runs the script, loads vmlinuz and
#             rdroot.img over TFTP; the NBD server by name (halnbd, in an
#             /etc/hosts of a cpio in front of the rdroot)
#   pxelinux  bootfile pxelinux.0: Debian's PXELINUX (chained by iPXE's PXE
#             stack) reads pxelinux.cfg/default, loads the same two files
#   uefi      OVMF instead of SeaBIOS, bootfile grubx64.efi: the ROM's UEFI
#             iPXE driver loads Debian's signed GRUB netboot image, which
#             reads grub/grub.cfg (its prefix /grub on the TFTP server)
# In both, init takes its own address with DHCP (hal.ip=dhcp: busybox
# udhcpc on br0 over the NIC, answered by slirp), then starts hal with the
# guest disk on an NBD server of this harness: qemu-nbd on 127.0.0.1:PORT
# (a copy of build/guest/bootdisk.img), which slirp's 10.0.2.2 reaches.
# hal boots it through SeaBIOS on the nested KVM, the guest prints on COM1
# and powers off, init powers the machine off and QEMU exits by itself.
#   nonbd     the same iPXE boot, but nothing listens on the NBD port: hal
#             says why it has no disk, init opens the rescue shell (the test
#             types a command and poweroff), no hang, no panic
# Before booting, the tree `make netboot` wrote ($BUILD/netboot, the default
# command line) is checked without QEMU. The boots use trees written by
# rdroot/mknetboot.sh from the same vmlinuz and rdroot.img with the test
# command line (console on the serial port, no quiet: the DHCP lease is a
# kernel log line), under $BUILD/e2e/netboot-tftp*.
#
# Prints PASS/FAIL/SKIP and "e2e: time" lines; logs: build/e2e/netboot-*.log.
# Environment: BUILD, MAKE, NETBOOT_TIMEOUT (seconds per QEMU run, default
#   400), NETBOOT_ONLY (subset of: ipxe pxelinux uefi nonbd)
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
E2E=$BUILD/e2e
tmo=${NETBOOT_TIMEOUT:-400}
only=${NETBOOT_ONLY:-ipxe pxelinux uefi nonbd}
. tests/e2e/rdroot-lib.sh

bed_qemu_check netboot || exit 0
# The bed's QEMU is built with libslirp (patches/qemu/qemu.mk); an older
# build of it has no -netdev user.
if ! "$QEMU" -netdev help 2>/dev/null | grep -qx user; then
	echo "FAIL netboot-qemu-user: $QEMU has no -netdev user (no libslirp: apt-get install libslirp-dev, then make qemu)"
	exit 0
fi
command -v qemu-nbd >/dev/null || { echo "FAIL netboot-nbd-server: no qemu-nbd (apt-get install qemu-utils)"; exit 0; }
mkdir -p "$E2E"
t0=$(rd_now)
if ! $MAKE -s --no-print-directory BUILD="$BUILD" netboot "$BUILD/guest/bootdisk.img" "$E2E/mkcpio" >"$E2E/netboot-make.log" 2>&1; then
	echo "FAIL netboot-build: make netboot failed (see $E2E/netboot-make.log)"
	tail -n 15 "$E2E/netboot-make.log" | sed 's/^/  /'
	exit 0
fi
grep -E '^(netboot|rdroot): ' "$E2E/netboot-make.log"
echo "e2e: time make netboot $(($(rd_now) - t0)) ms"

# ---- $BUILD/netboot itself, statically ---------------------------------------
n=$BUILD/netboot
line=$(cat "$BUILD/netboot.cmdline")
bad=""
for f in vmlinuz rdroot.img boot.ipxe pxelinux.cfg/default grub/grub.cfg pxelinux.0 ldlinux.c32 grubx64.efi; do
	[ -s "$n/$f" ] || bad="$bad $f"
done
cmp -s "$n/vmlinuz" "$BUILD/vmlinuz" || bad="$bad vmlinuz(differs)"
cmp -s "$n/rdroot.img" "$BUILD/rdroot.img" || bad="$bad rdroot.img(differs)"
cmp -s "$n/pxelinux.0" /usr/lib/PXELINUX/pxelinux.0 || bad="$bad pxelinux.0(not Debian's)"
cmp -s "$n/ldlinux.c32" /usr/lib/syslinux/modules/bios/ldlinux.c32 || bad="$bad ldlinux.c32(not Debian's)"
cmp -s "$n/grubx64.efi" /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed || bad="$bad grubx64.efi(not grubnetx64.efi.signed)"
if [ -z "$bad" ]; then echo "PASS netboot-tree-files"; else echo "FAIL netboot-tree-files: missing or wrong in $n:$bad"; fi
ipxe_k=$(sed -n 's/^kernel vmlinuz initrd=rdroot.img //p' "$n/boot.ipxe")
pxe_k=$(sed -n 's/^ *APPEND //p' "$n/pxelinux.cfg/default")
grub_k=$(sed -n 's/^[[:space:]]*linux \/vmlinuz //p' "$n/grub/grub.cfg")
if [ -n "$line" ] && [ "$ipxe_k" = "$line" ] && [ "$pxe_k" = "$line" ] && [ "$grub_k" = "$line" ]; then
	echo "PASS netboot-tree-cmdline"
else
	echo "FAIL netboot-tree-cmdline: make's '$line'; boot.ipxe '$ipxe_k', pxelinux.cfg/default '$pxe_k', grub.cfg '$grub_k'"
fi
if printf ' %s \n' "$line" | grep -q ' hal\.ip=dhcp ' && printf ' %s \n' "$line" | grep -q ' hal\.disk=nbd://[^ ]'; then
	echo "PASS netboot-tree-default"
else
	echo "FAIL netboot-tree-default: the default command line lacks hal.ip=dhcp or hal.disk=nbd://...: '$line'"
fi
# relative names (tftp:// and http:// alike), and the script ends in boot
if [ "$(head -n 1 "$n/boot.ipxe")" = '#!ipxe' ] && grep -qx 'initrd rdroot.img' "$n/boot.ipxe" &&
	[ "$(tail -n 1 "$n/boot.ipxe")" = boot ] && grep -q '^  LINUX vmlinuz$' "$n/pxelinux.cfg/default" &&
	grep -q '^  INITRD rdroot.img$' "$n/pxelinux.cfg/default" && grep -q '^	initrd /rdroot.img$' "$n/grub/grub.cfg"; then
	echo "PASS netboot-tree-names"
else
	echo "FAIL netboot-tree-names: boot.ipxe, pxelinux.cfg/default or grub.cfg do not load vmlinuz and rdroot.img by relative name:"
	sed 's/^/  /' "$n/boot.ipxe" "$n/pxelinux.cfg/default"
fi
# a command line the three loaders would read differently is refused
if sh rdroot/mknetboot.sh "$BUILD/vmlinuz" "$BUILD/rdroot.img" 'hal.args="--net tap=t0"' "$E2E/netboot-quote" \
	>"$E2E/netboot-quote.log" 2>&1; then
	echo "FAIL netboot-tree-quote: mknetboot.sh took a command line with a double quote"
elif grep -q 'not passed the same' "$E2E/netboot-quote.log" && [ ! -e "$E2E/netboot-quote" ]; then
	echo "PASS netboot-tree-quote"
else
	echo "FAIL netboot-tree-quote: no clear message, or a tree was written:"; sed 's/^/  /' "$E2E/netboot-quote.log"
fi
rm -rf "$E2E/netboot-quote" "$E2E/netboot-quote.tmp"

# ---- boots ------------------------------------------------------------------
freeport() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
nbd_pid=
nbd_stop() {
	[ -n "$nbd_pid" ] && kill "$nbd_pid" 2>/dev/null && wait "$nbd_pid" 2>/dev/null
	nbd_pid=
}
trap nbd_stop EXIT
# nbd_start PORT IMAGE: qemu-nbd on 127.0.0.1:PORT, the default export;
# returns once it lists the export
nbd_start() {
	qemu-nbd --persistent --shared=2 -f raw -b 127.0.0.1 -p "$1" "$2" >"$E2E/netboot-nbd.log" 2>&1 &
	nbd_pid=$!
	_i=0
	while [ $_i -lt 50 ]; do
		qemu-nbd -L -b 127.0.0.1 -p "$1" >/dev/null 2>&1 && return 0
		kill -0 "$nbd_pid" 2>/dev/null || break
		sleep 0.2
		_i=$((_i + 1))
	done
	echo "FAIL netboot-nbd-server: qemu-nbd on 127.0.0.1:$1 did not come up:"; sed 's/^/  /' "$E2E/netboot-nbd.log"
	nbd_stop
	return 1
}
# tree NAME CMDLINE [INITRD]: a netboot tree with the test command line
tree() {
	sh rdroot/mknetboot.sh "$BUILD/vmlinuz" "${3:-$BUILD/rdroot.img}" "$2" "$E2E/$1" >"$E2E/$1.log" 2>&1 && return 0
	echo "FAIL netboot-build: rdroot/mknetboot.sh ($1) failed:"; sed 's/^/  /' "$E2E/$1.log"
	return 1
}
# machine NAME TREE BOOTFILE [RESCUE [QEMU-ARGS...]]: no disk, one NIC that
# boots first.
# Its ROM is QEMU's default for virtio-net-pci, efi-virtio.rom from its
# firmware path (Debian's ipxe-qemu); with romfile=/usr/lib/ipxe/qemu/...
# given explicitly SeaBIOS 1.16.2 did not run it (no iPXE banner, "No
# bootable device"; measured with Debian's QEMU 7.2, not investigated).
machine() {
	_n=$1 _t=$2 _b=$3 _r=${4:-}
	shift 3; [ $# = 0 ] || shift
	rd_qemu "$_n" "$tmo" "$_r" -machine q35 -m 1024 "$@" \
		-netdev user,id=n0,tftp="$E2E/$_t",bootfile="$_b" \
		-device virtio-net-pci,netdev=n0,bootindex=0
}
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
base="console=ttyS0,115200n8 panic=-1 hal.mem=192M hal.ip=dhcp"
disk=$E2E/netboot-disk.img
boots() { # NAME HOST PORT: the checks of a boot that reaches the guest
	_n=$1 _h=$(printf '%s' "$2" | sed 's/\./\\./g') _p=$3
	rd_check "$_n-cmdline" "$_n" "Command line: .*hal.disk=nbd://$_h:$_p/" \
		"the kernel did not start with the tree's command line (no network boot?)"
	rd_check "$_n-init" "$_n" 'init: HAL boot medium starting' "init did not start"
	rd_check "$_n-dhcp" "$_n" 'init: network: br0 has 10\.0\.2\.[0-9]+/[0-9]+ \(DHCP' "init did not get a DHCP lease on br0"
	rd_check "$_n-hal-nbd" "$_n" "init: starting .*--disk nbd://$_h:$_p/" "init did not start hal with the NBD disk"
	a=$(rd_at "$_n" 'init: network: br0 has') b=$(rd_at "$_n" 'init: starting .*--disk nbd://')
	if [ -n "$a" ] && [ -n "$b" ] && [ "$a" -le "$b" ]; then
		echo "PASS $_n-dhcp-first"
	else
		echo "FAIL $_n-dhcp-first: the lease (${a:-none} ms) did not come before hal's start (${b:-none} ms)"
	fi
	rd_check "$_n-guest" "$_n" 'bootsector: stage2 ok lba-read=pattern-ok' \
		"no 'bootsector: stage2 ok' from the guest (its only disk is the NBD export)"
	rd_check_poweroff "$_n-poweroff" "$_n"
	c=$(rd_at "$_n" 'init: HAL boot medium') d=$(rd_at "$_n" 'bootsector: stage2 ok')
	echo "e2e: time $_n: QEMU start to init ${c:-?} ms, lease ${a:-?} ms, hal ${b:-?} ms, guest ${d:-?} ms, QEMU exit $rd_ms ms"
}

for what in $only; do
	case $what in
	ipxe | pxelinux | uefi)
		name=netboot-$what
		if [ $what = uefi ] && [ ! -f "$ovmf_code" ]; then echo "SKIP $name: no $ovmf_code (apt-get install ovmf)"; continue; fi
		port=$(freeport)
		# iPXE's run names the server (the default command line does too):
		# hal resolves halnbd through /etc/hosts (musl reads it before DNS),
		# from a cpio in front of the rdroot; QEMU's slirp DNS forwards to
		# this machine's resolver, which must not be asked
		host=10.0.2.2 initrd=
		if [ $what = ipxe ]; then
			host=halnbd initrd=$E2E/netboot-rdroot-hosts.img
			printf '10.0.2.2 halnbd\n' >"$E2E/netboot-hosts"
			printf 'dir /etc 0755\nfile /etc/hosts %s 0644\n' "$E2E/netboot-hosts" | "$E2E/mkcpio" >"$E2E/netboot-hosts.cpio" &&
				cat "$E2E/netboot-hosts.cpio" "$BUILD/rdroot.img" >"$initrd" ||
				{ echo "FAIL netboot-build: the /etc/hosts cpio"; continue; }
		fi
		tree netboot-tftp-$what "$base hal.disk=nbd://$host:$port/" $initrd || continue
		cp "$BUILD/guest/bootdisk.img" "$disk"
		nbd_start "$port" "$disk" || continue
		case $what in
		ipxe) machine $name netboot-tftp-$what boot.ipxe ;;
		pxelinux) machine $name netboot-tftp-$what pxelinux.0 ;;
		uefi)
			cp "$ovmf_vars" "$E2E/netboot-vars.fd"
			machine $name netboot-tftp-$what grubx64.efi "" \
				-drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf_code" \
				-drive if=pflash,format=raw,unit=1,file="$E2E/netboot-vars.fd"
			;;
		esac
		nbd_stop
		case $what in
		pxelinux) rd_check $name-pxelinux $name 'PXELINUX' "no PXELINUX banner: pxelinux.0 did not run" ;;
		uefi)
			rd_check $name-grub $name 'Welcome to GRUB!' "GRUB did not start: grubx64.efi was not loaded"
			rd_check $name-grub-cfg $name 'hal netboot: loading /vmlinuz and /rdroot.img from tftp' \
				"GRUB did not run grub/grub.cfg from the TFTP server"
			if rd_has $name 'SeaBIOS \(version'; then echo "FAIL $name-firmware: SeaBIOS ran, not OVMF"; else echo "PASS $name-firmware"; fi
			;;
		esac
		boots $name $host "$port"
		;;
	nonbd)
		port=$(freeport) # nothing listens there
		tree netboot-tftp-nonbd "$base hal.disk=nbd://10.0.2.2:$port/" || continue
		machine netboot-nonbd netboot-tftp-nonbd boot.ipxe 'echo RESCUE-$((6*7))-OK\npoweroff\n'
		rd_check netboot-nonbd-why netboot-nonbd "nbd://10\.0\.2\.2:$port/: 10\.0\.2\.2 port $port: Connection refused" \
			"hal did not say that the NBD server refused the connection"
		rd_check netboot-nonbd-failed netboot-nonbd 'hal failed \(exit 1\)' "init did not report hal's failure"
		rd_check netboot-nonbd-rescue netboot-nonbd 'HAL rescue shell' "no rescue shell"
		rd_check netboot-nonbd-shell netboot-nonbd 'RESCUE-42-OK' "the rescue shell did not run the typed command"
		if rd_has netboot-nonbd 'Kernel panic'; then echo "FAIL netboot-nonbd-nopanic: kernel panic"; else echo "PASS netboot-nonbd-nopanic"; fi
		rd_check_poweroff netboot-nonbd-poweroff netboot-nonbd
		;;
	*) echo "FAIL netboot: unknown NETBOOT_ONLY entry '$what'" ;;
	esac
done
exit 0
