#!/bin/sh
# udhcpc's script in the network test's L2 guest (tests/e2e/net-l2init.sh):
# sets the address and the default route, writes "IP MASKBITS ROUTER SERVER"
# to /tmp/lease.
case $1 in
deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	r=${router%% *}
	[ -n "$r" ] && ip route add default via "$r" dev "$interface"
	echo "$ip ${mask:-24} ${r:-none} ${serverid:-none}" >/tmp/lease
	;;
esac
exit 0
