#!/bin/sh
# Builds, without root or loop devices, a UEFI guest disk from Debian's
# packages: a GPT disk with one EFI system partition (FAT16) holding
# \EFI\BOOT\BOOTX64.EFI, a unified kernel image: systemd-boot-efi's
# linuxx64.efi.stub + Debian's kernel + an initramfs with
# tests/e2e/l2uefi.c as /init and efivarfs.ko.
# Usage: mkuefidisk.sh E2EDIR MKCPIO L2UEFI OUT
set -eu
e2e=$1 mkcpio=$2 l2uefi=$3 out=$4
kver=$(cat "$e2e/kver")
mdir=$e2e/kroot/lib/modules/$kver
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
t0=$(date +%s%3N)
[ -s "$stub" ] || { echo "mkuefidisk.sh: no $stub (apt-get install systemd-boot-efi)" >&2; exit 1; }
tmp=$out.d
rm -rf "$tmp" && mkdir -p "$tmp"

efivarfs=$(sed -n 's|^\(.*/efivarfs\.ko\):.*|\1|p' "$mdir/modules.dep" | head -n 1)
[ -n "$efivarfs" ] || { echo "mkuefidisk.sh: no efivarfs.ko in $mdir" >&2; exit 1; }
echo efivarfs.ko >"$tmp/modules.list"
{
	echo "dir /dev 0755"; echo "nod /dev/console 0600 c 5 1"; echo "dir /proc 0555"; echo "dir /sys 0555"
	echo "dir /lib 0755"; echo "dir /lib/modules 0755"
	echo "file /init $l2uefi 0755"
	echo "file /lib/modules/efivarfs.ko $mdir/$efivarfs 0644"
	echo "file /modules.list $tmp/modules.list 0644"
} | "$mkcpio" | gzip -9n >"$tmp/initrd.gz"

# The unified kernel image: each added section after the stub's last one,
# page aligned (as rdroot/mkusb.sh).
printf 'ID=hal-test\nNAME="hal UEFI test"\n' >"$tmp/osrel"
printf 'console=ttyS0 panic=-1 quiet' >"$tmp/cmdline"
align=4096 end=0
for e in $(objdump -h "$stub" | awk '$1 ~ /^[0-9]+$/ { print "0x" $4 "+0x" $3 }'); do
	[ $(($e)) -le "$end" ] || end=$(($e))
done
vma=$(((end + align - 1) / align * align))
args=""
for s in osrel:"$tmp/osrel" cmdline:"$tmp/cmdline" linux:"$e2e/vmlinuz" initrd:"$tmp/initrd.gz"; do
	name=${s%%:*} file=${s#*:}
	args="$args --add-section .$name=$file --change-section-vma .$name=$(printf '0x%x' "$vma")"
	vma=$(((vma + $(wc -c <"$file") + align - 1) / align * align))
done
# shellcheck disable=SC2086
objcopy $args "$stub" "$tmp/BOOTX64.EFI"

# ESP: the UKI + 4 MiB, FAT16; the disk: 1 MiB in front (GPT), 1 MiB behind
esp_mib=$(($(wc -c <"$tmp/BOOTX64.EFI") / 1048576 + 5))
total_mib=$((esp_mib + 2))
rm -f "$out.tmp"
truncate -s "${total_mib}M" "$out.tmp"
sfdisk -q --no-reread --no-tell-kernel "$out.tmp" <<GPT
label: gpt
first-lba: 2048
start=2048, size=$((esp_mib * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="ESP"
GPT
mkfs.vfat -F 16 -n HALUEFI --offset 2048 "$out.tmp" $((esp_mib * 1024)) >/dev/null 2>&1
export MTOOLS_SKIP_CHECK=1
mmd -i "$out.tmp@@1M" ::/EFI ::/EFI/BOOT
mcopy -i "$out.tmp@@1M" "$tmp/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mv "$out.tmp" "$out"
rm -rf "$tmp"
echo "e2e: time UEFI disk $(($(date +%s%3N) - t0)) ms ($total_mib MiB)"
