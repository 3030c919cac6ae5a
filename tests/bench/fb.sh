#!/bin/sh
# Framebuffer core benchmark: host CPU time per frame (tests/bench/fbbench.c).
# Usage: sh tests/bench/fb.sh [BUILD]   (make bench-fb)
BUILD=${1:-build}
echo "host: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs"
"$BUILD/bench/fbbench" "${FB_ITERS:-200}"
