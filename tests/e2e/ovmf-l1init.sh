#!/bin/sh
# PID 1 of the L1 guest of the OVMF test (tests/e2e/ovmf.sh): loads kvm-amd,
# then boots /uefi.img under hal through OVMF twice. The first run uses the
# default variable store (/uefi.img.efivars, created from OVMF_VARS_4M.fd),
# the second names the same file with --efivars. Lines for ovmf.sh start
# with "E2E: ".
. /l1lib.sh
vars=/uefi.img.efivars
tmpl=/usr/share/OVMF/OVMF_VARS_4M.fd
for n in 1 2; do
	echo "E2E: begin uefi$n"
	if [ $n = 1 ]; then opt=""; else opt="--efivars $vars"; fi
	t0=$(up_ms)
	# shellcheck disable=SC2086
	timeout 300 /bin/hal --firmware ovmf --disk /uefi.img $opt --mem 256M --serial stdio --display none -v
	rc=$?
	echo
	if [ ! -f $vars ]; then echo "E2E: vars uefi$n missing"
	elif cmp -s $vars $tmpl; then echo "E2E: vars uefi$n same as template"
	else echo "E2E: vars uefi$n differ from template, size $(wc -c <$vars)"; fi
	echo "E2E: run uefi$n rc=$rc ms=$(( $(up_ms) - t0 ))"
done
echo "E2E: done uptime_ms=$(up_ms)"
poweroff -f
