#!/bin/sh
# PID 1 of L1 when the integration tests run in the nested test bed
# (tests/guest/bed.sh): kvm-amd gives L1 a /dev/kvm, then tests/guest/run.sh
# runs there exactly as on a host with /dev/kvm, from /t (a copy of the
# repository's test script and build/guest), with hal as /bin/hal.
. /l1lib.sh
hostname hal-bed
echo "E2E: integration begin"
t0=$(up_ms)
[ -f /t/env ] && . /t/env
cd /t && HAL_IN_BED=1 HAL_TEST_SLOW=3 BUILD=build HAL=/bin/hal HAL_ASAN=/bin/hal-asan sh tests/guest/run.sh 2>&1
echo "E2E: integration end rc=$? ms=$(( $(up_ms) - t0 ))"
poweroff -f
