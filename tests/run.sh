#!/bin/sh
# Runs every test layer and prints "N passed, N failed, N skipped".
# Layers can be chosen: tests/run.sh unit integration e2e (default: all).
# Set HAL_SKIP_E2E=1 to leave the (slow) full-system layer out.
BUILD=${BUILD:-build}
layers=${*:-unit integration e2e}
{
	for layer in $layers; do
		echo "== $layer"
		t0=$(date +%s)
		case $layer in
		unit)
			sh tests/layout.sh
			for t in "$BUILD"/unit/test_*; do
				[ -x "$t" ] || continue
				"$t" || echo "FAIL $(basename "$t"): exited $?"
			done
			# the libFuzzer targets, a few seconds each (tests/fuzz/run.sh)
			BUILD=$BUILD sh tests/fuzz/run.sh smoke "${HAL_FUZZ_SMOKE:-4}" ;;
		integration)
			sh tests/guest/run.sh 2>&1 ;;
		e2e)
			if [ -n "$HAL_SKIP_E2E" ]; then echo "SKIP e2e: HAL_SKIP_E2E is set"
			else sh tests/e2e/run.sh 2>&1; fi ;;
		esac
		echo "== $layer: $(($(date +%s) - t0)) s"
	done
} | tests/report.sh
