#!/bin/sh
# Builds, without root or loop devices, a UEFI guest disk from Debian's
# packages: a GPT disk (protective MBR without boot code) with one EFI
# system partition (FAT16). Its Linux is Debian's kernel with an initramfs
# holding tests/e2e/l2uefi.c as /init and the modules it needs.
#   uki   \EFI\BOOT\BOOTX64.EFI is a unified kernel image: systemd-boot-efi's
#         linuxx64.efi.stub + the kernel + the initramfs (efivarfs.ko).
#   grub  \EFI\BOOT\BOOTX64.EFI is GRUB (grub-efi-amd64-bin, grub-mkstandalone)
#         whose menu waits for a key, booting /vmlinuz with "l2uefi=removable";
#         \EFI\hal\grubx64.efi is a second GRUB booting it at once with
#         "l2uefi=entry reboot=acpi", for the boot entry the guest adds with
#         efibootmgr. The initramfs adds the virtio disk modules and Debian's
#         efibootmgr with the shared libraries it needs.
#   shim  Debian's signed boot chain, for Secure Boot: \EFI\BOOT\BOOTX64.EFI
#         is shim (shim-signed), grubx64.efi beside it Debian's signed GRUB
#         (grub-efi-amd64-signed), which reads grub.cfg from its directory and
#         boots the (signed) kernel at once with "l2uefi=shim".
# Usage: mkuefidisk.sh uki|grub|shim E2EDIR MKCPIO L2UEFI OUT
# Environment: UEFI_LABEL, the ESP's FAT label (default HALUEFI; the USB
#   test's guest disk is HALGUEST, the label init looks for)
set -eu
mode=$1 e2e=$2 mkcpio=$3 l2uefi=$4 out=$5
kver=$(cat "$e2e/kver")
mdir=$e2e/kroot/lib/modules/$kver
t0=$(date +%s%3N)
tmp=$out.d
rm -rf "$tmp" && mkdir -p "$tmp/esp"
. tests/e2e/moddeps.sh

need() { [ -e "$1" ] || { echo "mkuefidisk.sh: no $1 (apt-get install $2)" >&2; exit 1; }; }
case $mode in
uki) need /usr/lib/systemd/boot/efi/linuxx64.efi.stub systemd-boot-efi; mods=efivarfs ;;
grub)
	need /usr/lib/grub/x86_64-efi/linux.mod grub-efi-amd64-bin
	need /usr/bin/grub-mkstandalone grub-common
	need /usr/bin/efibootmgr efibootmgr
	mods="efivarfs virtio_pci virtio_blk" ;;
shim)
	need /usr/lib/shim/shimx64.efi.signed shim-signed
	need /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed grub-efi-amd64-signed
	mods=efivarfs ;;
*) echo "mkuefidisk.sh: mode $mode: expected uki, grub or shim" >&2; exit 2 ;;
esac

# shellcheck disable=SC2086
moddeps "$mdir" $mods >"$tmp/mods" || exit 1
while read -r m; do basename "$m"; done <"$tmp/mods" >"$tmp/modules.list"
{
	for d in /dev /proc /sys /lib /lib/modules; do echo "dir $d 0755"; done
	echo "nod /dev/console 0600 c 5 1"
	echo "file /init $l2uefi 0755"
	while read -r m; do echo "file /lib/modules/$(basename "$m") $mdir/$m 0644"; done <"$tmp/mods"
	echo "file /modules.list $tmp/modules.list 0644"
	if [ "$mode" = grub ]; then
		# efibootmgr and what ldd says it loads, at the paths ldd names
		echo "dir /bin 0755"
		echo "file /bin/efibootmgr /usr/bin/efibootmgr 0755"
		ldd /usr/bin/efibootmgr | sed -n 's|.*=> \(/[^ ]*\) .*|\1|p; s|^[[:space:]]*\(/[^ ]*\) .*|\1|p' >"$tmp/libs"
		sed 's|/[^/]*$||' "$tmp/libs" | sort -u | while read -r d; do
			p=
			for c in $(echo "$d" | tr '/' ' '); do p=$p/$c; echo "dir $p 0755"; done
		done | awk '!seen[$0]++'
		while read -r l; do echo "file $l $(readlink -f "$l") 0755"; done <"$tmp/libs"
	fi
} | "$mkcpio" | gzip -9n >"$tmp/initrd.gz"

mkdir -p "$tmp/esp/EFI/BOOT"
if [ "$mode" = uki ]; then
	printf 'ID=hal-test\nNAME="hal UEFI test"\n' >"$tmp/osrel"
	printf 'console=ttyS0 panic=-1 quiet' >"$tmp/cmdline"
	sh rdroot/mkuki.sh /usr/lib/systemd/boot/efi/linuxx64.efi.stub "$tmp/osrel" "$tmp/cmdline" \
		"$e2e/vmlinuz" "$tmp/initrd.gz" "$tmp/esp/EFI/BOOT/BOOTX64.EFI"
elif [ "$mode" = shim ]; then
	cp /usr/lib/shim/shimx64.efi.signed "$tmp/esp/EFI/BOOT/BOOTX64.EFI"
	cp /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed "$tmp/esp/EFI/BOOT/grubx64.efi"
	cp "$e2e/vmlinuz" "$tmp/esp/vmlinuz"
	cp "$tmp/initrd.gz" "$tmp/esp/initrd.gz"
	cat >"$tmp/esp/EFI/BOOT/grub.cfg" <<-CFG
	search --no-floppy --file --set=root /vmlinuz
	set timeout=0
	menuentry "hal secure boot" {
		linux /vmlinuz console=ttyS0 panic=-1 quiet l2uefi=shim
		initrd /initrd.gz
	}
	CFG
else
	mkdir -p "$tmp/esp/EFI/hal"
	cp "$e2e/vmlinuz" "$tmp/esp/vmlinuz"
	cp "$tmp/initrd.gz" "$tmp/esp/initrd.gz"
	grub() { # grub OUT TIMEOUT TITLE CMDLINE: a standalone GRUB with this menu
		cat >"$tmp/grub.cfg" <<-CFG
		search --no-floppy --file --set=root /vmlinuz
		set timeout=$2
		menuentry "$3" {
			linux /vmlinuz console=ttyS0 panic=-1 quiet $4
			initrd /initrd.gz
		}
		CFG
		grub-mkstandalone -O x86_64-efi -o "$1" --locales= --fonts= --themes= \
			--install-modules="normal linux search search_fs_file part_gpt fat echo test" \
			--modules="part_gpt fat" "boot/grub/grub.cfg=$tmp/grub.cfg"
	}
	# timeout -1: the menu stays until a key (ovmf.sh presses Enter
	# through hal's PS/2 keyboard)
	grub "$tmp/esp/EFI/BOOT/BOOTX64.EFI" -1 "hal removable path" "l2uefi=removable"
	grub "$tmp/esp/EFI/hal/grubx64.efi" 0 "hal boot entry" "l2uefi=entry reboot=acpi"
fi

# ESP: its files + 4 MiB, FAT16; the disk: 1 MiB in front (GPT), 1 MiB behind
esp_mib=$(($(du -sk "$tmp/esp" | cut -f1) / 1024 + 5))
total_mib=$((esp_mib + 2))
rm -f "$out.tmp"
truncate -s "${total_mib}M" "$out.tmp"
sfdisk -q --no-reread --no-tell-kernel "$out.tmp" <<GPT
label: gpt
first-lba: 2048
start=2048, size=$((esp_mib * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="ESP"
GPT
mkfs.vfat -F 16 -n "${UEFI_LABEL:-HALUEFI}" --offset 2048 "$out.tmp" $((esp_mib * 1024)) >/dev/null 2>&1
export MTOOLS_SKIP_CHECK=1
mcopy -s -i "$out.tmp@@1M" "$tmp/esp/"* ::/
mv "$out.tmp" "$out"
rm -rf "$tmp"
echo "e2e: time UEFI disk ($mode) $(($(date +%s%3N) - t0)) ms ($total_mib MiB)"
