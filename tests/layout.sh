#!/bin/sh
# The rule hal's folders state (docs/architecture.md, "Layers"), checked on
# the #include lines of hal/*/*.[ch]. Prints one PASS or FAIL per rule; a
# FAIL lists the offending lines.
#   layout-core     core/ is the bottom: it includes core/ only
#   layout-devices  device models (hw/ virtio/ x86/ disk/ display/) include
#                   neither host/ nor <linux/kvm.h>: they run on any VMM core
#                   and in the unit tests without KVM
#                   (net/: the host network backends, beside them, the same rule)
#   layout-host     host/ reaches the machine only through the display and
#                   input interfaces (display/display.h, display/fb.h)
#   layout-board    pc/ (the board) is the top: nothing else includes it
#   layout-net      net/ (host network backends) includes core/ and net/ only,
#                   and the rest of hal reaches it through net/net.h and
#                   net/vhost.h
cd "$(dirname "$0")/.." || exit 1

check() { # NAME DESCRIPTION: offending lines on stdin
	bad=$(cat)
	if [ -z "$bad" ]; then
		echo "PASS $1"
	else
		echo "FAIL $1: $2"
		printf '%s\n' "$bad" | sed 's/^/  | /'
	fi
}

inc() { # FILES...: "file:line:#include ..." for every include
	grep -Hn '^#include' "$@" 2>/dev/null
}

inc hal/core/*.[ch] | grep '#include "' | grep -v '#include "core/' |
	check layout-core "core/ includes another layer"
inc hal/hw/*.[ch] hal/virtio/*.[ch] hal/x86/*.[ch] hal/disk/*.[ch] hal/display/*.[ch] hal/net/*.[ch] |
	grep -E '#include "host/|#include <linux/kvm\.h>' |
	check layout-devices "a device model includes host/ or <linux/kvm.h>"
inc hal/host/*.[ch] | grep '#include "' |
	grep -vE '#include "(core/[a-z0-9_]+|host/[a-z0-9_]+|display/display|display/fb)\.h"' |
	check layout-host "host/ includes a device or the board"
inc hal/core/*.[ch] hal/hw/*.[ch] hal/virtio/*.[ch] hal/x86/*.[ch] hal/disk/*.[ch] hal/display/*.[ch] \
	hal/net/*.[ch] hal/host/*.[ch] | grep '#include "pc/' |
	check layout-board "the board is included from below"
inc hal/net/*.[ch] | grep '#include "' | grep -vE '#include "(core|net)/[a-z0-9_]+\.h"' |
	check layout-net "net/ includes a layer above core/"
inc hal/core/*.[ch] hal/x86/*.[ch] hal/pc/*.[ch] hal/hw/*.[ch] hal/virtio/*.[ch] hal/disk/*.[ch] \
	hal/display/*.[ch] hal/host/*.[ch] | grep '#include "net/' | grep -vE '#include "net/(net|vhost)\.h"' |
	check layout-net-api "net/'s inside included from outside (net/net.h and net/vhost.h are its interface)"
# Every source file sits in a layer: a new folder needs a rule above.
ls hal/*/*.c | grep -vE '^hal/(core|x86|pc|hw|virtio|disk|display|host|net|tools)/' |
	check layout-known "a source folder no rule covers"
