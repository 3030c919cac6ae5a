#!/bin/sh
# Writes a unified kernel image: systemd-boot-efi's EFI stub with the
# .osrel, .cmdline, .linux and .initrd sections the stub boots from. Each
# added section must lie after the stub's last one, rounded up to the
# section alignment (at least a page), so the addresses are computed here.
# Used by rdroot/mkusb.sh (the USB stick) and tests/e2e/mkuefidisk.sh.
# Usage: mkuki.sh STUB OSREL-FILE CMDLINE-FILE KERNEL INITRD OUT
set -eu
stub=$1 osrel=$2 cmdline=$3 kernel=$4 initrd=$5 out=$6
[ -s "$stub" ] || { echo "mkuki.sh: no $stub (apt-get install systemd-boot-efi)" >&2; exit 1; }
align=$(($(objdump -p "$stub" | awk '$1 == "SectionAlignment" { print "0x" $2 }')))
[ "$align" -ge 4096 ] || align=4096 # a multiple of the stub's 0x200, page aligned
end=0
for e in $(objdump -h "$stub" | awk '$1 ~ /^[0-9]+$/ { print "0x" $4 "+0x" $3 }'); do
	[ $(($e)) -le "$end" ] || end=$(($e))
done
vma=$(((end + align - 1) / align * align))
args=""
for s in osrel:"$osrel" cmdline:"$cmdline" linux:"$kernel" initrd:"$initrd"; do
	name=${s%%:*} file=${s#*:}
	args="$args --add-section .$name=$file --change-section-vma .$name=$(printf '0x%x' "$vma")"
	vma=$(((vma + $(wc -c <"$file") + align - 1) / align * align))
done
# shellcheck disable=SC2086
objcopy $args "$stub" "$out"
