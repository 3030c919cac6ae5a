#!/bin/sh
# Writes the bootable USB image (docs/usb.md) without root or loop devices:
#   GPT, partition 1 = the EFI system partition, FAT32, filesystem label and
#   GPT name HALBOOT (init never gives a disk with HALBOOT to a guest),
#   attribute LegacyBIOSBootable:
#     /EFI/BOOT/BOOTX64.EFI    unified kernel image: systemd-boot's stub +
#                              .osrel .cmdline .linux .initrd (UEFI)
#     /syslinux/ldlinux.*, syslinux.cfg, /boot/vmlinuz, /boot/rdroot.img
#                              SYSLINUX (legacy BIOS), started by gptmbr.bin
#                              in the protective MBR's boot code
# Usage: mkusb.sh KERNEL INITRD CMDLINE OUT   (CMDLINE @FILE: read it from FILE)
set -eu
kernel=$1 initrd=$2 cmdline=$3 out=$4
stub=${UKI_STUB:-/usr/lib/systemd/boot/efi/linuxx64.efi.stub}
gptmbr=/usr/lib/syslinux/mbr/gptmbr.bin
ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32
PATH=$PATH:/sbin:/usr/sbin
export MTOOLS_SKIP_CHECK=1
t0=$(date +%s%3N)
for f in "$kernel" "$initrd" "$stub" "$gptmbr" "$ldlinux"; do
	[ -s "$f" ] || { echo "mkusb.sh: missing $f" >&2; exit 1; }
done
for c in objcopy objdump sfdisk mkfs.vfat mcopy mmd syslinux; do
	command -v $c >/dev/null || { echo "mkusb.sh: $c missing (apt-get install binutils fdisk dosfstools mtools syslinux syslinux-common systemd-boot-efi)" >&2; exit 1; }
done
case $cmdline in @*) cmdline=$(cat "${cmdline#@}") ;; esac
cmdline=$(printf '%s\n' "$cmdline" | tr -s ' \n' '  ' | sed 's/^ //;s/ $//')
work=$out.d
[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
mkdir -p "$work"

# 1. Unified kernel image (rdroot/mkuki.sh)
printf 'ID=hal\nNAME="hal boot medium"\nVERSION_ID="%s"\n' "$(git describe --always --dirty 2>/dev/null || echo unknown)" >"$work/osrel"
printf '%s' "$cmdline" >"$work/cmdline"
sh rdroot/mkuki.sh "$stub" "$work/osrel" "$work/cmdline" "$kernel" "$initrd" "$work/BOOTX64.EFI"

# 2. SYSLINUX configuration (the same command line)
cat >"$work/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT hal
PROMPT 0
TIMEOUT 0
LABEL hal
  LINUX /boot/vmlinuz
  INITRD /boot/rdroot.img
  APPEND $cmdline
EOF

# 3. the FAT32 ESP: contents + 10% + 4 MiB, at least 40 MiB (FAT32 needs
# 65525 clusters)
bytes=$(($(wc -c <"$work/BOOTX64.EFI") + $(wc -c <"$kernel") + $(wc -c <"$initrd") + $(wc -c <"$ldlinux")))
esp_mib=$((bytes * 11 / 10 / 1048576 + 4))
[ "$esp_mib" -ge 40 ] || esp_mib=40
esp=$work/esp.img
mkfs.vfat -C -F 32 -n HALBOOT -i 48414c42 "$esp" $((esp_mib * 1024)) >/dev/null
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/syslinux ::/boot
mcopy -i "$esp" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$esp" "$kernel" ::/boot/vmlinuz
mcopy -i "$esp" "$initrd" ::/boot/rdroot.img
mcopy -i "$esp" "$ldlinux" ::/syslinux/ldlinux.c32
mcopy -i "$esp" "$work/syslinux.cfg" ::/syslinux/syslinux.cfg
syslinux --install --directory /syslinux "$esp"

# 4. the GPT disk: 1 MiB in front (MBR, GPT), the ESP, 1 MiB behind (backup GPT)
total_mib=$((esp_mib + 2))
rm -f "$out.tmp"
truncate -s "${total_mib}M" "$out.tmp"
sfdisk -q --no-reread --no-tell-kernel "$out.tmp" <<EOF
label: gpt
label-id: 48414C42-4F4F-5400-8000-000000000001
first-lba: 2048
start=2048, size=$((esp_mib * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=48414C42-4F4F-5400-8000-000000000002, name="HALBOOT", attrs="LegacyBIOSBootable"
EOF
dd if="$esp" of="$out.tmp" bs=1M seek=1 conv=notrunc status=none
dd if="$gptmbr" of="$out.tmp" bs=440 count=1 conv=notrunc status=none
mv "$out.tmp" "$out"
[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
echo "usb: $out: $total_mib MiB (ESP $esp_mib MiB: UKI, kernel, rdroot.img, SYSLINUX), $(($(date +%s%3N) - t0)) ms"
echo "usb: command line: $cmdline"
