#!/bin/sh
# PID 1 of the L1 guest of the network test (tests/e2e/net.sh). Builds a LAN
# in L1 and boots the L2 guest (tests/e2e/net-l2init.sh) under hal with each
# kind of --net backend; the guest takes a DHCP lease and fetches /www/file.
#   LAN      br0 (bridge) 192.168.77.1/24 with busybox udhcpd (leases
#            .100-.150) and httpd (/www, port 80) on it; lo up; dummy0
#            10.0.2.15/24 with L1's default route via 10.0.2.2 (passt takes
#            its addresses from the interface with the default route)
#   bridge          --net bridge=br0: hal makes a tap on br0 (vhost-net there)
#   bridge-novhost  the same after rm /dev/vhost-net (hal's user-space path)
#   bridge-e1000    --net bridge=br0,model=e1000: the same LAN through hal's
#                   e1000 and Linux's e1000 driver (user-space path always)
#   tap             --net tap=haltest0,mac=...: a tap L1 made (tunctl) on br0
#   macvtap         --net macvtap=mvlow: a veth pair, its peer in br0
#   user            --net user,hostfwd=tcp::8080-:80 (passt): the guest
#                   fetches from the gateway (L1's loopback), serves
#                   /guest.txt on port 80, which L1 reads through port 8080
#   ipxe-MODEL      no disk, --net bridge=br0,model=MODEL (e1000, virtio):
#                   SeaBIOS runs the NIC ROM's iPXE, which takes a lease
#   bad-bridge      --net bridge=nosuchbr: exit 1, no tap left
# Lines for net.sh start with "E2E: ", the guest's with "NET: ".

# passt sandboxes itself with pivot_root(2), which fails ("pivot_root:
# Invalid argument") when / is the initramfs (rootfs has no parent mount):
# first move everything onto a tmpfs and switch_root to it.
if [ ! -e /.tmpfs-root ]; then
	/bin/busybox mkdir /newroot
	/bin/busybox mount -t tmpfs -o mode=0755 tmpfs /newroot
	for e in /*; do [ "$e" = /newroot ] || /bin/busybox cp -a "$e" /newroot/; done
	: >/newroot/.tmpfs-root
	exec /bin/busybox switch_root /newroot /init
	echo "E2E: switch_root failed"
fi
. /l1lib.sh
export PATH=/bin:/usr/bin
echo "E2E: net modules"
for m in $(cat /net-modules.list); do
	insmod "/lib/modules/$m" || echo "E2E: insmod $m failed"
done
echo "E2E: net modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
[ -c /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; echo "E2E: made /dev/net/tun"; }
[ -c /dev/vhost-net ] || { grep -q '^vhost_net ' /proc/modules && mknod /dev/vhost-net c 10 238 && echo "E2E: made /dev/vhost-net"; }
for n in /dev/net/tun /dev/vhost-net; do
	if [ -c $n ]; then echo "E2E: node $n present"; else echo "E2E: node $n missing"; fi
done

# ---- the LAN ----------------------------------------------------------------
ip link set lo up
if ip link add br0 type bridge 2>/tmp/br.err; then how="ip link add type bridge"
else brctl addbr br0 && how="brctl addbr ($(cat /tmp/br.err))"; fi
brctl setfd br0 0 2>/dev/null
ip addr add 192.168.77.1/24 dev br0
ip link set br0 up
echo "E2E: br0 made with $how"
# (loading dummy made dummy0 already: numdummies=1)
{ [ -e /sys/class/net/dummy0 ] || ip link add dummy0 type dummy; } && ip addr add 10.0.2.15/24 dev dummy0 && ip link set dummy0 up &&
	ip route add default via 10.0.2.2 dev dummy0 || echo "E2E: dummy0 uplink failed"
mkdir -p /etc
cat >/etc/udhcpd.conf <<'CONF'
interface br0
start 192.168.77.100
end 192.168.77.150
max_leases 51
lease_file /tmp/udhcpd.leases
option subnet 255.255.255.0
option router 192.168.77.1
option lease 3600
CONF
: >/tmp/udhcpd.leases
udhcpd -f /etc/udhcpd.conf >/tmp/udhcpd.log 2>&1 &
httpd -p 80 -h /www
sleep 1
kill -0 $! 2>/dev/null && echo "E2E: udhcpd running" || { echo "E2E: udhcpd died:"; sed 's/^/E2E:   /' /tmp/udhcpd.log; }
echo "E2E: www file $(wget -q -O - http://192.168.77.1/file | sha256sum | cut -d' ' -f1) (L1 fetched it from br0)"
echo "E2E: www lo $(wget -q -O - http://127.0.0.1/file | sha256sum | cut -d' ' -f1) (L1 fetched it from lo)"
echo "E2E: LAN: $(ip -4 addr show br0 | grep -o 'inet [0-9./]*'), routes: $(ip route | tr '\n' ';')"

links() { ls /sys/class/net | tr '\n' ' '; }
# the tap for --net tap=: made by L1 (busybox tunctl), in br0
tunctl -t haltest0 >/dev/null && brctl addif br0 haltest0 && ip link set haltest0 up &&
	echo "E2E: tap haltest0 made (tunctl) and in br0"
# macvtap needs a lower device whose frames reach br0: one end of a veth
# pair (busybox ip names the peer itself: veth0)
before=$(links) mvpeer=
if ip link add mvlow type veth 2>/tmp/veth.err; then
	for l in $(links); do case " $before mvlow " in *" $l "*) ;; *) mvpeer=$l ;; esac; done
	if [ -n "$mvpeer" ] && brctl addif br0 "$mvpeer" && ip link set "$mvpeer" up && ip link set mvlow up; then
		echo "E2E: veth mvlow, peer $mvpeer in br0"
	else
		echo "E2E: macvtap skip: veth mvlow made but its peer (${mvpeer:-none}) could not join br0"
		mvpeer=
	fi
else
	echo "E2E: macvtap skip: ip link add mvlow type veth: $(cat /tmp/veth.err)"
fi
echo "E2E: br0 ports: $(ls /sys/class/net/br0/brif | tr '\n' ' ')"
l2=/l2net.cpio.gz
append="console=ttyS0 panic=-1 quiet"
# vmm L2-ARGS VMM-ARGS...: the L2 guest under hal, or QEMU with VMM=qemu
# (make bench-net)
vmm() {
	_a=$1
	shift
	[ "${VMM:-hal}" = qemu ] &&
		exec qemu-system-x86_64 -accel kvm -cpu host -M pc -m 256M -smp 1 -nodefaults -nographic \
			-serial stdio -no-reboot -kernel /vmlinuz -initrd $l2 -append "$append $_a" "$@"
	exec /bin/hal --kernel /vmlinuz --initrd $l2 --append "$append $_a" \
		--mem 256M --display none --serial stdio -v "$@"
}
# run NAME L2-ARGS VMM-ARGS...: hal in the background; the guest's serial
# output goes to the console as it comes, each line prefixed "L2| " (so a
# soft lockup of L2's kernel is not taken for one of L1's: bedlib.sh), and
# to /tmp/NAME.serial, which L1 watches: a lockup of L2 or 300 s stop hal
# (SIGTERM). With $during set, that function runs once when the guest says
# "NET: serving". hal's stderr comes after the run as "E2E: NAME hal: ...".
run() {
	_name=$1 _args=$2
	shift 2
	echo "E2E: begin $_name"
	echo "E2E: $_name links before: $(links)"
	_ser=/tmp/$_name.serial _t0=$(up_ms) _hook=$during
	: >"$_ser"
	rm -f /tmp/hal.pid /tmp/hal.rc
	( vmm "$_args" "$@" </dev/null 2>"/tmp/$_name.err" &
	  echo $! >/tmp/hal.pid; wait $!; echo $? >/tmp/hal.rc ) |
		awk -v f="$_ser" '{ l = "L2| " $0; print l; fflush(); print l >>f; fflush(f) }' &
	_pl=$!
	_why=
	while kill -0 $_pl 2>/dev/null; do
		if [ -n "$_hook" ] && grep -q 'NET: serving' "$_ser"; then $_hook; _hook=; fi
		if [ -z "$_why" ] && grep -q 'soft lockup' "$_ser"; then _why="the guest's kernel locked up"; fi
		if [ -z "$_why" ] && [ $(( $(up_ms) - _t0 )) -gt 300000 ]; then _why="300 s"; fi
		if [ -n "$_why" ] && [ -s /tmp/hal.pid ]; then
			echo "E2E: $_name: stopping hal: $_why"
			kill "$(cat /tmp/hal.pid)" 2>/dev/null
			_why=stopped
		fi
		sleep 1
	done
	wait $_pl
	echo
	sed "s/^/E2E: $_name hal: /" "/tmp/$_name.err"
	echo "E2E: $_name links after: $(links)"
	echo "E2E: run $_name rc=$(cat /tmp/hal.rc 2>/dev/null || echo none) ms=$(( $(up_ms) - _t0 ))"
}
during=

if ! /bin/hal --help 2>&1 | grep -q -- '--net'; then
	echo "E2E: hal has no --net: $(/bin/hal --help 2>&1 | grep -c .) lines of --help, none about --net"
	# passt by itself: does it start in this L1 (namespaces, pivot_root)?
	passt -f -e -s /tmp/passt.sock -t 8080 >/tmp/passt.log 2>&1 &
	pp=$!
	sleep 2
	if kill -0 $pp 2>/dev/null; then echo "E2E: passt alone runs"; kill $pp; else echo "E2E: passt alone exited"; fi
	sed 's/^/E2E: passt: /' /tmp/passt.log
	echo "E2E: done uptime_ms=$(up_ms)"
	poweroff -f
fi

# ---- make bench-net (e2e.netbench=1): hal against QEMU, same LAN, same L2 -----
# Each run: the guest fetches /www/big (16 MiB) from L1's httpd 8 times
# (receive), pings L1 20 times (latency), then serves its own 16 MiB
# /www/big, which L1 fetches 8 times (transmit). hal with and without
# vhost-net, QEMU's virtio-net-pci on a tap in br0 with vhost=on and
# vhost=off, alternately, in three rounds (single transfers vary 2-3x
# under TCG: the more of them, the less the ratio is luck). net.sh prints
# the figures.
bench_tx() {
	_ip=$(sed -n 's/^L2| NET: lease \([0-9.]*\)\/.*/\1/p' "$_ser" | head -n 1)
	for _ in 1 2 3 4 5 6 7 8; do
		_b=$(up_ms)
		_n=$(wget -q -O - "http://$_ip/big" 2>/dev/null | wc -c)
		echo "E2E: $_name tx $_n bytes in $(( $(up_ms) - _b )) ms"
	done
	touch /www/done
}
if grep -q 'e2e.netbench=1' /proc/cmdline; then
	head -c 16777216 /dev/urandom >/www/big
	tunctl -t qtap0 >/dev/null && brctl addif br0 qtap0 && ip link set qtap0 up || echo "E2E: bench: no tap qtap0 for QEMU"
	b="l2net.url=http://192.168.77.1/big l2net.count=8 l2net.ping=20 l2net.serve=1 l2net.big=16 l2net.done=http://192.168.77.1/done"
	q="-device virtio-net-pci,netdev=n0,romfile= -netdev tap,id=n0,ifname=qtap0,script=no,downscript=no"
	for round in 1 2 3; do
		rm -f /www/done
		VMM=hal during=bench_tx run hal-vhost "$b" --net bridge=br0
		rm -f /www/done
		# shellcheck disable=SC2086
		VMM=qemu during=bench_tx run qemu-vhost "$b" $q,vhost=on
		rm -f /www/done /dev/vhost-net
		VMM=hal during=bench_tx run hal-novhost "$b" --net bridge=br0
		mknod /dev/vhost-net c 10 238
		rm -f /www/done
		# shellcheck disable=SC2086
		VMM=qemu during=bench_tx run qemu-novhost "$b" $q,vhost=off
	done
	echo "E2E: done uptime_ms=$(up_ms)"
	poweroff -f
fi

url=l2net.url=http://192.168.77.1/file
run bridge "$url" --net bridge=br0

if [ -c /dev/vhost-net ]; then
	rm /dev/vhost-net
	run bridge-novhost "$url" --net bridge=br0
	mknod /dev/vhost-net c 10 238
else
	echo "E2E: no /dev/vhost-net: bridge-novhost not run"
fi

run bridge-e1000 "$url" --net bridge=br0,model=e1000

run tap "$url" --net tap=haltest0,mac=52:54:00:4e:45:54

if [ -n "$mvpeer" ]; then run macvtap "$url" --net macvtap=mvlow; fi

# user (passt): the guest fetches through the gateway address (passt maps
# it to L1's loopback) and serves guest.txt, which L1 reads through the
# forwarded port; then L1 makes /www/done and the guest powers off
user_during() {
	for _ in 1 2 3; do
		got=$(wget -q -O - http://127.0.0.1:8080/guest.txt 2>/tmp/hostfwd.err) && break
		sleep 1
	done
	echo "E2E: user hostfwd got: ${got:-nothing: $(cat /tmp/hostfwd.err)}"
	touch /www/done
}
rm -f /www/done
during=user_during run user "l2net.url=http://GW/file l2net.serve=1 l2net.done=http://GW/done" \
	--net user,hostfwd=tcp::8080-:80

# Network boot from the NIC's ROM BAR: no disk, so SeaBIOS runs the NIC's
# iPXE (Debian's efi-e1000.rom / efi-virtio.rom), which asks the LAN's udhcpd
# for a lease; a screendump after 60 s goes to net.sh, which OCRs it.
ipxe_boot() {
	echo "E2E: begin ipxe-$1"
	_t0=$(up_ms)
	/bin/hal --firmware bios --net "bridge=br0,model=$1" --mem 128M --display none --serial none \
		--control /tmp/ipxe.s 2>"/tmp/ipxe-$1.err" &
	_hp=$!
	sleep 1
	# the vCPU spins in iPXE's poll loop: nice it, the control socket must answer
	for _t in $(ls /proc/$_hp/task 2>/dev/null); do [ "$_t" = $_hp ] || renice -n 19 -p "$_t" >/dev/null; done
	sleep 60
	halctl /tmp/ipxe.s screendump "/tmp/ipxe-$1.ppm" >/dev/null 2>&1
	halctl /tmp/ipxe.s quit >/dev/null 2>&1
	wait $_hp
	_rc=$?
	sed "s/^/E2E: ipxe-$1 hal: /" "/tmp/ipxe-$1.err" | head -n 5
	[ -s "/tmp/ipxe-$1.ppm" ] && l1_send "ipxe-$1" "/tmp/ipxe-$1.ppm"
	echo "E2E: run ipxe-$1 rc=$_rc ms=$(( $(up_ms) - _t0 ))"
}
ipxe_boot e1000
ipxe_boot virtio

# bad input: a bridge that does not exist
run bad-bridge "$url" --net bridge=nosuchbr

echo "E2E: leases: $(dumpleases -f /tmp/udhcpd.leases 2>/dev/null | tail -n +2 | tr -s ' ' | tr '\n' ';')"
echo "E2E: done uptime_ms=$(up_ms)"
poweroff -f
