#!/bin/sh
# hal vs QEMU on the same direct-boot guest, side by side in one run
# (docs/benchmarks.md). Each VMM is run N times, alternating, under
# tests/bench/vmmbench.c, which measures both the same way:
#   start-to-marker: fork() of the VMM to the line "payload: done" in its output
#   peak RSS outside guest RAM: the Rss of every mapping but the guest RAM's
#     (/proc/PID/smaps, sampled every 10 ms). VmHWM (which includes the
#     touched guest RAM) is shown too.
# Medians are printed. Ratios are QEMU / hal.
# Environment: BUILD (build), N (5), PAYLOAD, HAL, QEMU, MEM_MB (128)
BUILD=${BUILD:-build}
N=${N:-5}
MEM_MB=${MEM_MB:-128}
PAYLOAD=${PAYLOAD:-$BUILD/guest/payload64.bzimage}
HAL=${HAL:-$BUILD/hal}
QEMU=${QEMU:-qemu-system-x86_64}
VB=${VMMBENCH:-$BUILD/bench/vmmbench}
out=$BUILD/bench
mkdir -p "$out"

for f in "$PAYLOAD" "$HAL" "$VB"; do
	[ -x "$f" ] || [ -s "$f" ] || { echo "bench: missing $f (make bench builds it)"; exit 1; }
done
[ -w /dev/kvm ] || { echo "bench: /dev/kvm not usable"; exit 1; }

hal_cmd="$HAL --kernel $PAYLOAD --mem ${MEM_MB}M --cpus 1 --serial stdio"
qemu_cmd="$QEMU -accel kvm -machine pc,memory-backend=ram -object memory-backend-memfd,id=ram,size=${MEM_MB}M -m $MEM_MB -smp 1 -kernel $PAYLOAD -nodefaults -nographic -serial stdio"

echo "bench: hal:  $hal_cmd"
echo "bench: qemu: $qemu_cmd"
echo "bench: $N runs each, alternating; host: $(nproc) CPUs, $(uname -r), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
rm -f "$out"/hal.runs "$out"/qemu.runs
fail=0
i=1
while [ "$i" -le "$N" ]; do
	for vmm in hal qemu; do
		if [ "$vmm" = hal ]; then cmd=$hal_cmd; else cmd=$qemu_cmd; fi
		# shellcheck disable=SC2086
		r=$("$VB" -l 'payload: done' -t 60 -g $((MEM_MB * 1024)) -s "$out/$vmm.smaps" -o "$out/$vmm.$i.log" -- $cmd)
		echo "bench: $vmm run $i: $r"
		case $r in
		*" rc=0") echo "$r" >>"$out/$vmm.runs" ;;
		*) echo "bench: $vmm run $i failed; output in $out/$vmm.$i.log:"; tail -n 5 "$out/$vmm.$i.log" | sed 's/^/  /'; fail=1 ;;
		esac
	done
	i=$((i + 1))
done

# median of field $2 (name) over the runs in file $1
median() {
	sed -n "s/.*\<$2=\([-0-9.]*\).*/\1/p" "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
[ -s "$out/hal.runs" ] && [ -s "$out/qemu.runs" ] || { echo "bench: no complete runs to compare"; exit 1; }
h_t=$(median "$out/hal.runs" line_ms) q_t=$(median "$out/qemu.runs" line_ms)
h_r=$(median "$out/hal.runs" rss_outside_kib) q_r=$(median "$out/qemu.runs" rss_outside_kib)
h_x=$(median "$out/hal.runs" exit_ms) q_x=$(median "$out/qemu.runs" exit_ms)
h_w=$(median "$out/hal.runs" vmhwm_kib) q_w=$(median "$out/qemu.runs" vmhwm_kib)
echo
printf '%-5s %20s %28s %12s %10s %12s\n' vmm start-to-marker-ms peak-rss-outside-guest-KiB ratio exit-ms VmHWM-KiB
printf '%-5s %20s %28s %12s %10s %12s\n' hal "$h_t" "$h_r" "1.00 / 1.00" "$h_x" "$h_w"
printf '%-5s %20s %28s %12s %10s %12s\n' qemu "$q_t" "$q_r" \
	"$(awk -v a="$q_t" -v b="$h_t" -v c="$q_r" -v d="$h_r" 'BEGIN { printf "%.2f / %.2f", a / b, c / d }')" "$q_x" "$q_w"
echo "(ratio: time / RSS, each relative to hal; medians of $N runs)"
# where each VMM's memory outside guest RAM was at its peak (last run)
for vmm in hal qemu; do
	echo "bench: $vmm's largest mappings outside guest RAM at the peak (Rss KiB):"
	awk -v g=$((MEM_MB * 1024)) '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 == "" ? "[anon]" : $6 }
		/^Size:/ { big = $2 >= g; if (name ~ /^\[anon/) name = "[anon, mapping of " $2 " KiB]" } /^Rss:/ && !big { rss[name] += $2 }
		END { for (n in rss) if (rss[n]) print rss[n], n }' "$out/$vmm.smaps" 2>/dev/null |
		sort -rn | head -n 5 | sed 's/^/bench:   /'
done
exit $fail
