#!/bin/sh
# Runs the libFuzzer targets built in $BUILD/fuzz (tests/fuzz/fuzz.mk).
#   run.sh smoke [S]   each target S s (default 4): "PASS fuzz-NAME" or
#                      "FAIL fuzz-NAME: why" (make test's unit layer)
#   run.sh run S [T..] each target (or the named ones) S s: executions,
#                      coverage, findings per target (make fuzz)
# Each target starts from its seeds (tests/fuzz/corpus/NAME) and the corpus
# earlier runs grew ($BUILD/fuzz/corpus/NAME); crashes are written to
# $BUILD/fuzz/artifacts/. Runs under nice -n 19.
BUILD=${BUILD:-build}
mode=${1:-smoke}
secs=${2:-4}
[ $# -gt 2 ] && shift 2 && only="$*"
out=$BUILD/fuzz
if ! ls "$out"/fuzz_* >/dev/null 2>&1; then
	for src in tests/fuzz/fuzz_*.c; do
		name=${src##*/fuzz_}
		echo "SKIP fuzz-${name%.c}: not built, clang-14 with libFuzzer missing (apt-get install clang-14 libclang-rt-14-dev)"
	done
	exit 0
fi
mkdir -p "$out/artifacts" "$out/logs"
for bin in "$out"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	if [ -n "$only" ]; then case " $only " in *" $name "*) ;; *) continue ;; esac; fi
	work=$out/corpus/$name
	seeds=tests/fuzz/corpus/$name
	mkdir -p "$work" "$seeds"
	log=$out/logs/$name.txt
	maxlen=4096
	[ "$name" = disklabel ] && maxlen=16400 # disk images: the GPT's entries
	before=$(ls "$out/artifacts" | grep -c "^$name-")
	t0=$(date +%s)
	nice -n 19 "$bin" -max_total_time="$secs" -print_final_stats=1 -close_fd_mask=3 -timeout=10 -rss_limit_mb=2048 \
		-max_len=$maxlen -artifact_prefix="$out/artifacts/$name-" "$work" "$seeds" >"$log" 2>&1
	rc=$?
	t=$(($(date +%s) - t0))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	found=$(($(ls "$out/artifacts" | grep -c "^$name-") - before))
	why=$(grep -m 1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log")
	if [ "$mode" = smoke ]; then
		if [ $rc = 0 ] && [ "$found" = 0 ]; then
			echo "PASS fuzz-$name ($execs executions, cov $cov, ${t} s)"
		else
			echo "FAIL fuzz-$name: exit $rc, $found new finding(s) in $out/artifacts: ${why:-see $log}"
		fi
	else
		echo "fuzz-$name: ${execs:-0} executions, cov ${cov:-0}, ft ${ft:-0}, findings $found, ${t} s (log $log)"
		[ "$found" = 0 ] || echo "  $why"
	fi
done
