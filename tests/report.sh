#!/bin/sh
# Reads test output on stdin, echoes it, and ends with the summary line.
# Exit status is 1 when anything failed or nothing ran.
awk '
	{ print; fflush() }
	/^PASS / { p++ } /^FAIL / { f++ } /^SKIP / { s++ }
	END { printf "%d passed, %d failed, %d skipped\n", p, f, s; exit (f > 0 || p == 0) }
'
