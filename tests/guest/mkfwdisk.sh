#!/bin/sh
# The small disks of the firmware-choice tests (tests/guest/run.sh,
# "firmware and UEFI variable store"), built without root or loop devices:
# 4 MiB raw images labelled by sfdisk, an ESP formatted FAT12 in place
# (mkfs.fat --offset) and left empty: these disks only have to be told
# apart by hal, not booted.
#   esp      GPT with one EFI system partition; sfdisk leaves the MBR's code
#            area zero, as sgdisk and parted do
#   hybrid   the same with syslinux's gptmbr.bin in the code area (BIOS code
#            in front of a GPT, as GRUB's boot.img would be)
#   mbr-esp  MBR with one partition of type 0xEF, no boot code
#   noesp    GPT with one Linux partition, no boot code
# Usage: mkfwdisk.sh KIND OUT
set -eu
kind=$1 out=$2
gptmbr=/usr/lib/syslinux/mbr/gptmbr.bin
esp="type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"ESP\""
rm -f "$out.tmp"
truncate -s 4M "$out.tmp"
case $kind in
esp|hybrid) table="label: gpt
start=2048, size=4096, $esp" ;;
mbr-esp) table="label: dos
start=2048, size=4096, type=ef" ;;
noesp) table="label: gpt
start=2048, size=4096, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"root\"" ;;
*) echo "mkfwdisk.sh: unknown kind $kind" >&2; exit 1 ;;
esac
echo "$table" | sfdisk -q --no-reread --no-tell-kernel "$out.tmp"
[ "$kind" = noesp ] || mkfs.vfat -F 12 -n ESP --offset 2048 "$out.tmp" 2048 >/dev/null 2>&1
if [ "$kind" = hybrid ]; then
	[ -s "$gptmbr" ] || { echo "mkfwdisk.sh: no $gptmbr (apt-get install syslinux-common)" >&2; exit 1; }
	dd if="$gptmbr" of="$out.tmp" bs=440 count=1 conv=notrunc 2>/dev/null
fi
chmod 644 "$out.tmp"
mv "$out.tmp" "$out"
