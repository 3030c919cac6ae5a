#!/bin/sh
# Writes the rdroot initramfs (docs/usb.md): a zstd-compressed newc cpio with
#   /init                          build/init (PID 1, docs/init.md)
#   /bin/hal                       build/hal
#   /bin/busybox                   Debian's busybox-static (rescue shell)
#   /usr/share/..., /usr/lib/ipxe/...  the firmware files hal opens: every
#                                  such path in hal/*/*.[ch] (SeaBIOS, its VGA
#                                  BIOS, OVMF, iPXE's virtio-net ROM)
#   /lib/modules/<kver>/...        the modules of rdroot/modules.list and their
#                                  dependencies, with depmod's modules.dep,
#                                  modules.alias, modules.builtin, ...
#   /lib/firmware/...              firmware those modules ask for (modinfo -F
#                                  firmware) that the build machine has
#   /hal.conf                      rdroot/hal.conf (defaults; the kernel
#                                  command line wins)
#   /dev/console, /dev/null        device nodes (written by mkcpio, no root)
# Nothing needs root. The kernel comes from tests/e2e/kernel.sh's tree
# (E2EDIR/kroot, E2EDIR/kver), so the package is downloaded once.
# When nothing changed since the last run (same spec, no input newer than
# OUT), OUT is left alone.
#
# Usage: mkrdroot.sh E2EDIR MKCPIO HAL INIT OUT
# Environment: BUSYBOX (default /bin/busybox), RDROOT_ZSTD (zstd level, default 9: 2 s;
#   19 saves 13% and takes 25x as long),
#   FIRMWARE_DIR (default /lib/firmware)
set -eu
e2e=$1 mkcpio=$2 hal=$3 init=$4 out=$5
list=rdroot/modules.list
busybox=${BUSYBOX:-/bin/busybox}
# hal's data files, found where hal names them
halfiles=$(grep -hoE '"/usr/(share|lib/ipxe)/[^"]*"' hal/*/*.c hal/*/*.h 2>/dev/null | tr -d '"' | sort -u)
echo "$halfiles" | grep -q bios-256k.bin || halfiles="$halfiles /usr/share/seabios/bios-256k.bin"
fwdir=${FIRMWARE_DIR:-/lib/firmware}
level=${RDROOT_ZSTD:-9}
t0=$(date +%s%3N)

kver=$(cat "$e2e/kver")
kmod=$e2e/kroot/lib/modules/$kver
for f in "$mkcpio" "$hal" "$init" "$busybox" $halfiles "$list" rdroot/hal.conf "$kmod/modules.dep"; do
	[ -e "$f" ] || { echo "mkrdroot.sh: missing $f" >&2; exit 1; }
done
command -v zstd >/dev/null || { echo "mkrdroot.sh: zstd not installed (apt-get install zstd)" >&2; exit 1; }
command -v depmod >/dev/null || [ -x /sbin/depmod ] || { echo "mkrdroot.sh: depmod not installed (apt-get install kmod)" >&2; exit 1; }
PATH=$PATH:/sbin:/usr/sbin

work=$(cd "$(dirname "$out")" && pwd)/$(basename "$out").d
rm -rf "$work"
mkdir -p "$work"

# 1. modules.list -> module paths (relative to $kmod), missing entries are errors
wanted=$work/wanted
: >"$wanted"
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	line=${line%%#*}
	set -f
	# shellcheck disable=SC2086
	set -- $line
	set +f
	[ $# -gt 0 ] || continue
	entry=$1
	shift
	skip=""
	for opt in "$@"; do
		case $opt in
		if-firmware=*) [ -d "$fwdir/${opt#if-firmware=}" ] || skip="no $fwdir/${opt#if-firmware=}" ;;
		*) echo "mkrdroot.sh: $list:$lineno: unknown option '$opt'" >&2; exit 1 ;;
		esac
	done
	if [ -n "$skip" ]; then
		echo "rdroot: left out $entry ($skip)"
		continue
	fi
	n=0
	for p in "$kmod"/kernel/$entry; do
		[ -e "$p" ] || continue
		if [ -d "$p" ]; then
			find "$p" -name '*.ko*' -type f
		else
			echo "$p"
		fi
		n=$((n + 1))
	done >>"$wanted"
	[ "$n" -gt 0 ] || { echo "mkrdroot.sh: $list:$lineno: '$entry' matches no module in $kmod/kernel" >&2; exit 1; }
done <"$list"
sed -i "s|^$kmod/||" "$wanted"

# 2. dependency closure from modules.dep (which lists each module's full closure)
awk -v wanted="$wanted" '
	BEGIN { while ((getline l < wanted) > 0) want[l] = 1 }
	{ m = $1; sub(/:$/, "", m); deps[m] = ""; for (i = 2; i <= NF; i++) deps[m] = deps[m] " " $i }
	END {
		for (m in want) {
			if (!(m in deps)) { print "mkrdroot.sh: " m " is not in modules.dep" > "/dev/stderr"; bad = 1; continue }
			out[m] = 1
			n = split(deps[m], d, " ")
			for (i = 1; i <= n; i++) out[d[i]] = 1
		}
		for (m in out) print m
		exit bad
	}' "$kmod/modules.dep" | sort >"$work/modules"
nmod=$(wc -l <"$work/modules")

# 3. a staging module tree, depmod'ed (hard links: no copy of the data)
stage=$work/root
smod=$stage/lib/modules/$kver
mkdir -p "$smod"
while read -r m; do
	mkdir -p "$smod/$(dirname "$m")"
	ln "$kmod/$m" "$smod/$m" 2>/dev/null || cp "$kmod/$m" "$smod/$m"
done <"$work/modules"
for f in modules.builtin modules.builtin.modinfo modules.order; do
	[ -f "$kmod/$f" ] && cp "$kmod/$f" "$smod/$f"
done
depmod -b "$stage" "$kver"
# init reads the text files only; the .bin indexes are for kmod.
rm -f "$smod"/*.bin "$smod/modules.builtin.modinfo" "$smod/modules.order" "$smod/modules.symbols"

# 4. firmware the modules ask for, where the build machine has it
fwlist=$work/firmware
: >"$fwlist"
fwmiss=0
if [ "$nmod" -gt 0 ]; then
	# shellcheck disable=SC2046
	(cd "$smod" && modinfo -F firmware $(cat "$work/modules")) 2>/dev/null | sort -u >"$work/fwwanted" || true
	while read -r fw; do
		found=""
		for suf in "" .xz .zst; do
			if [ -f "$fwdir/$fw$suf" ]; then found=$fw$suf; break; fi
		done
		if [ -n "$found" ]; then echo "$found" >>"$fwlist"; else fwmiss=$((fwmiss + 1)); fi
	done <"$work/fwwanted"
fi

# 5. the cpio spec: directories first, then files, sorted (reproducible)
spec=$work/spec
{
	for d in /bin /dev /etc /lib /lib/modules /lib/firmware /proc /run /sys /tmp /root; do
		echo "dir $d 0755"
	done
	for f in $halfiles; do
		p=""
		IFS=/
		for c in $(dirname "$f"); do [ -n "$c" ] && p=$p/$c && echo "dir $p 0755"; done
		unset IFS
	done | awk '!seen[$0]++'
	echo "nod /dev/console 0600 c 5 1"
	echo "nod /dev/null 0666 c 1 3"
	echo "file /init $init 0755"
	echo "file /bin/hal $hal 0755"
	echo "file /bin/busybox $busybox 0755"
	echo "slink /bin/sh busybox 0777"
	for f in $halfiles; do echo "file $f $f 0644"; done
	echo "file /hal.conf rdroot/hal.conf 0644"
	(cd "$stage" && find lib/modules -mindepth 1 -type d | sort) | sed 's|^\(.*\)$|dir /\1 0755|'
	(cd "$stage" && find lib/modules -type f | sort) | while read -r f; do echo "file /$f $stage/$f 0644"; done
	sort "$fwlist" | while read -r f; do
		d=$(dirname "$f")
		[ "$d" != . ] || continue
		p=""
		IFS=/
		for c in $d; do p=$p/$c; echo "dir /lib/firmware$p 0755"; done
		unset IFS
	done | awk '!seen[$0]++'
	sort "$fwlist" | while read -r f; do echo "file /lib/firmware/$f $fwdir/$f 0644"; done
} >"$spec"

# 6. unchanged? (same spec as last time, no input newer than OUT)
if [ -s "$out" ] && [ -f "$out.spec" ] && cmp -s "$spec" "$out.spec"; then
	newer=$(awk '$1 == "file" { print $3 }' "$spec" | while read -r f; do [ "$f" -nt "$out" ] && echo "$f"; done | head -n 1)
	if [ -z "$newer" ]; then
		echo "rdroot: $out is up to date"
		rm -rf "$work"
		exit 0
	fi
fi

raw=$("$mkcpio" <"$spec" | tee "$work/rdroot.cpio" | wc -c)
zstd -q -"$level" -T0 -f "$work/rdroot.cpio" -o "$out.tmp"
mv "$out.tmp" "$out"
cp "$spec" "$out.spec"
size=$(wc -c <"$out")
echo "rdroot: $out: $nmod modules, $(wc -l <"$fwlist") firmware files ($fwmiss asked for but not on this machine), cpio $((raw / 1024)) KiB, zstd -$level $((size / 1024)) KiB, $(($(date +%s%3N) - t0)) ms"
rm -rf "$work"
