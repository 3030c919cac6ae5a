#!/bin/sh
# PID 1 of the L2 guest of the network test (tests/e2e/net.sh): Debian's
# kernel under hal with a virtio-net NIC (or an e1000). Loads virtio_pci,
# virtio_net and e1000,
# takes a DHCP lease on its NIC (udhcpc, /udhcpc.script) and fetches a file
# over HTTP, then powers off (ACPI S5: hal exits 0). Every line for the test
# starts with "NET: ". Parameters from the kernel command line:
#   l2net.url=URL    what to fetch; "GW" in it becomes the lease's router
#   l2net.count=N    fetch it N times (default 1; the bench: make bench-net)
#   l2net.ping=N     then N pings of the router (the bench's latency)
#   l2net.serve=1    afterwards serve /www (guest.txt) with httpd on port 80
#                    until l2net.done=URL can be fetched (at most 240 s)
#   l2net.big=MIB    with serve: also /www/big, MIB MiB of random bytes
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
up() { cut -d' ' -f1 /proc/uptime; }
arg() { for _a in $(cat /proc/cmdline); do case $_a in "l2net.$1="*) echo "${_a#*=}"; return;; esac; done; }
end() { echo "NET: end $1 uptime=$(up)"; poweroff -f; }
echo "NET: init uptime=$(up)"
for m in $(cat /modules.list); do insmod "/lib/modules/$m" || echo "NET: insmod $m failed"; done
ip link set lo up
# the NIC: the first interface but lo (eth0: no udev renames it here)
nic() { for _i in /sys/class/net/*; do [ "${_i##*/}" = lo ] || { echo "${_i##*/}"; return; }; done; }
n=0
while [ -z "$(nic)" ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
if=$(nic)
[ -n "$if" ] || { echo "NET: no NIC: $(ls /sys/class/net | tr '\n' ' ')"; end fail; }
echo "NET: $if mac $(cat /sys/class/net/$if/address) driver $(basename "$(readlink /sys/class/net/$if/device/driver)")"
ip link set "$if" up
t0=$(up)
if ! udhcpc -i "$if" -f -n -q -t 10 -T 2 -s /udhcpc.script >/tmp/udhcpc.log 2>&1; then
	sed 's/^/NET: udhcpc: /' /tmp/udhcpc.log
	echo "NET: no lease"
	end fail
fi
read -r ip mask router server </tmp/lease
echo "NET: lease $ip/$mask router $router server $server (udhcpc $t0 -> $(up))"
url=$(arg url)
gw=${router:-none}
case $url in *GW*) url="${url%%GW*}$gw${url#*GW}";; esac
n=0 count=$(arg count)
while [ -n "$url" ] && [ $n -lt "${count:-1}" ]; do
	n=$((n + 1))
	t0=$(up)
	if wget -q -O /tmp/file "$url" 2>/tmp/wget.log; then
		t1=$(up)
		echo "NET: fetch $(sha256sum </tmp/file | cut -d' ' -f1) $(wc -c </tmp/file) bytes from $url ($t0 -> $t1)"
	else
		sed 's/^/NET: wget: /' /tmp/wget.log
		echo "NET: fetch failed $url"
	fi
	rm -f /tmp/file
done
pings=$(arg ping)
if [ -n "$pings" ]; then
	ping -c "$pings" -i 0.2 -q "$gw" >/tmp/ping.log 2>&1
	echo "NET: ping $(grep 'round-trip' /tmp/ping.log || echo failed: $(cat /tmp/ping.log))"
fi
if [ "$(arg serve)" = 1 ]; then
	done_url=$(arg "done")
	case $done_url in *GW*) done_url="${done_url%%GW*}$gw${done_url#*GW}";; esac
	mkdir -p /www
	echo "L2NET-SERVED-BY-GUEST $ip" >/www/guest.txt
	big=$(arg big)
	[ -n "$big" ] && head -c $((big * 1048576)) /dev/urandom >/www/big
	httpd -p 80 -h /www && echo "NET: serving on port 80"
	n=0
	until wget -q -O /dev/null "$done_url" 2>/dev/null; do
		n=$((n + 1))
		[ $n -ge 240 ] && { echo "NET: no $done_url after 240 s"; end fail; }
		sleep 1
	done
	echo "NET: done flag after $n s"
fi
end ok
