#!/bin/sh
# PID 1 of L1 in the standalone-program corpus bed (tests/e2e/corpus.sh):
# every line of /corpus/list is "NAME SECONDS HAL-ARGS...": hal boots the
# program headless with a control socket; after SECONDS, and again after
# twice that, a screendump goes to the host as NAME-1 and NAME-2 (corpus.sh
# OCRs them). Lines for corpus.sh start with "E2E: ".
. /l1lib.sh
dmesg -n 1
while read -r name secs args; do
	[ -n "$name" ] || continue
	echo "E2E: corpus $name begin"
	rm -f /tmp/s /tmp/$name-*.ppm
	# shellcheck disable=SC2086 # the arguments are words
	/bin/hal $args --display none --serial none --control /tmp/s 2>/tmp/$name.err &
	hp=$!
	sleep 1
	# the vCPU may spin (memtest does): nice it so that the control socket answers
	for tid in $(ls /proc/$hp/task 2>/dev/null); do [ "$tid" = $hp ] || renice -n 19 -p "$tid" >/dev/null; done
	sleep "$secs"
	timeout 20 halctl /tmp/s screendump /tmp/$name-1.ppm >/dev/null 2>&1
	sleep "$secs"
	timeout 20 halctl /tmp/s screendump /tmp/$name-2.ppm >/dev/null 2>&1
	timeout 20 halctl /tmp/s quit >/dev/null 2>&1
	# a hal that does not end is said, not waited for (the bed would wait
	# for ever and count it as a lockup of L1)
	i=0
	while [ -d /proc/$hp ] && ! grep -q '^State:.*Z' /proc/$hp/status 2>/dev/null && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
	[ $i -lt 30 ] || { echo "E2E: corpus $name hal: did not end 30 s after quit: killed"; kill -9 $hp; }
	wait $hp
	echo "E2E: corpus $name hal rc=$?"
	sed "s/^/E2E: corpus $name hal: /" /tmp/$name.err | head -n 10
	for i in 1 2; do [ -s /tmp/$name-$i.ppm ] && l1_send $name-$i /tmp/$name-$i.ppm; done
done </corpus/list
echo "E2E: corpus done"
poweroff -f
