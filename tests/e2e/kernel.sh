#!/bin/sh
# Fetches Debian's current amd64 kernel package (the one linux-image-amd64
# depends on) into DIR, extracts it into DIR/kroot, runs depmod, and leaves:
#   DIR/kver            the kernel version (e.g. 6.1.0-56-amd64)
#   DIR/vmlinuz         the bzImage (used for both L1 and L2)
#   DIR/modules.list    kvm-amd and its dependencies, in load order, as paths
#                       relative to kroot/lib/modules/<kver>/
# Idempotent and cheap when everything is already there: a .deb for the
# derived version that is present is not downloaded again. The version is
# derived from apt's metadata every time, so a new kernel in the archive is
# picked up by itself; without apt metadata the newest .deb in DIR is used.
# Usage: kernel.sh DIR
set -eu
dir=${1:?usage: kernel.sh DIR}
mkdir -p "$dir"
cd "$dir"

now_ms() { date +%s%3N; }
kver_from_apt() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

kver=$(kver_from_apt)
if [ -z "$kver" ]; then
	apt-get update -q >apt-update.log 2>&1 || true
	kver=$(kver_from_apt)
fi
if [ -z "$kver" ]; then
	deb=$(ls -t linux-image-*-amd64_*.deb 2>/dev/null | head -n 1 || true)
	[ -n "$deb" ] || { echo "kernel.sh: cannot tell the kernel version (apt-cache depends linux-image-amd64 gave nothing) and no .deb in $dir" >&2; exit 1; }
	kver=$(echo "$deb" | sed 's/^linux-image-\(.*-amd64\)_.*/\1/')
fi

# Everything already in place for this version: nothing to do.
if [ -f kroot.done ] && [ "$(cat kroot.done)" = "$kver" ] && [ -f kver ] &&
   [ "$(cat kver)" = "$kver" ] && [ -s vmlinuz ] && [ -s modules.list ]; then
	exit 0
fi

pkg=linux-image-$kver
t0=$(now_ms)
deb=$(ls linux-image-"$kver"_*_amd64.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
	# apt-get download writes as root into a directory _apt cannot read: harmless warning.
	if ! apt-get download -q "$pkg" >download.log 2>&1; then
		apt-get update -q >apt-update.log 2>&1 || true
		apt-get download -q "$pkg" >download.log 2>&1 || { cat download.log >&2; exit 1; }
	fi
	deb=$(ls linux-image-"$kver"_*_amd64.deb | head -n 1)
	echo "e2e: time download $(($(now_ms) - t0)) ms ($deb)"
else
	echo "e2e: time download 0 ms (cached $deb)"
fi

t0=$(now_ms)
rm -rf kroot kroot.done
dpkg-deb -x "$deb" kroot
echo "e2e: time extract $(($(now_ms) - t0)) ms"

t0=$(now_ms)
depmod -b kroot "$kver"
echo "e2e: time depmod $(($(now_ms) - t0)) ms"

mdir=kroot/lib/modules/$kver
[ -f "$mdir/modules.dep" ] || { echo "kernel.sh: depmod left no $mdir/modules.dep" >&2; exit 1; }

# kvm-amd and everything it needs, dependencies first (modules.dep lists a
# module's whole closure; resolve it recursively to get a valid order).
order=""
visit() {
	# $1: path relative to $mdir
	case " $order " in *" $1 "*) return 0 ;; esac
	_deps=$(sed -n "s|^$1: *||p" "$mdir/modules.dep")
	for _d in $_deps; do visit "$_d"; done
	case " $order " in *" $1 "*) ;; *) order="$order $1" ;; esac
}
top=$(grep -o '^[^:]*/kvm-amd\.ko[^:]*' "$mdir/modules.dep" | head -n 1)
[ -n "$top" ] || { echo "kernel.sh: kvm-amd not in $mdir/modules.dep" >&2; exit 1; }
visit "$top"
for m in $order; do echo "$m"; done >modules.list.tmp
mv modules.list.tmp modules.list

cp "kroot/boot/vmlinuz-$kver" vmlinuz.tmp && mv vmlinuz.tmp vmlinuz
echo "$kver" >kver.tmp && mv kver.tmp kver
echo "$kver" >kroot.done
echo "e2e: kernel $kver, modules: $(tr '\n' ' ' <modules.list)"
