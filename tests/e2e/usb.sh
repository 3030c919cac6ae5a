#!/bin/sh
# Full-system tests of the USB image (docs/usb.md): QEMU TCG -cpu EPYC (q35)
# boots the image as a USB stick (qemu-xhci + usb-storage, bootindex 0)
#   bios: SeaBIOS -> gptmbr.bin -> SYSLINUX -> kernel + rdroot.img; the guest
#         disk on AHCI
#   uefi: OVMF -> \EFI\BOOT\BOOTX64.EFI (the unified kernel image); the guest
#         disk on NVMe
# In both, init finds the guest disk by LABEL=HALGUEST (the rdroot's hal.conf
# default), hal boots it on the nested KVM, the guest prints on COM1 and
# powers off, init powers the machine off and QEMU exits by itself. The bios
# run's disk is build/guest/bootdisk.img with an ISO9660 volume descriptor
# labelled HALGUEST (a hybrid image, booted through SeaBIOS); the uefi run's
# is a GPT disk whose ESP is labelled HALGUEST (build/e2e/uefi-halguest.img,
# tests/e2e/mkuefidisk.sh), which hal boots through OVMF, chosen by itself.
# The uefi run boots twice from one writable copy of the stick: the UEFI
# variable the guest writes in the first boot must be found in the second
# (hal --efivars-dir /boot/hal/efivars, the stick's ESP mounted by init).
#
#   lan:  the bios run with a NIC on the machine's side (QEMU's user-mode
#         network: slirp's DHCP server is the "LAN", inside QEMU): init
#         builds br0 over it and starts hal with --net bridge=br0; the guest
#         is Debian's kernel (the stick's own /boot/vmlinuz) with the network
#         test's initramfs (tests/e2e/mknetl2.sh, copied onto the stick's
#         ESP), given through hal.args, added to syslinux.cfg's APPEND on a
#         copy of the stick with mtools, as a user would edit a written stick.
#         It must get its own lease (10.0.2.x, not the machine's MAC) from
#         slirp through br0.
# The image under test is build/e2e/usb-test.img: made by rdroot/mkusb.sh
# from the same build/vmlinuz and build/rdroot.img as build/usb.img, with the
# test command line (console=ttyS0 last, so that /dev/console, where hal
# writes the guest's COM1, is the serial port; panic=-1). build/usb.img puts
# the screen last (console=tty0), which is right for real machines.
#
# Prints PASS/FAIL/SKIP and "e2e: time" lines; logs: build/e2e/usb-*.log.
# Environment: BUILD, MAKE, USB_TIMEOUT (seconds per QEMU run, default 400),
#   USB_ONLY (subset of: bios uefi lan)
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
E2E=$BUILD/e2e
tmo=${USB_TIMEOUT:-400}
only=${USB_ONLY:-bios uefi lan}
. tests/e2e/rdroot-lib.sh
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd

bed_qemu_check usb || exit 0
mkdir -p "$E2E"
t0=$(rd_now)
if ! $MAKE -s --no-print-directory BUILD="$BUILD" usb "$BUILD/guest/bootdisk.img" "$E2E/uefi-halguest.img" "$E2E/l2net.cpio.gz" >"$E2E/usb-make.log" 2>&1; then
	echo "FAIL usb-build: make usb failed (see $E2E/usb-make.log)"
	tail -n 15 "$E2E/usb-make.log" | sed 's/^/  /'
	exit 0
fi
grep -E '^(usb|rdroot): ' "$E2E/usb-make.log" | grep -v 'left out'
img=$E2E/usb-test.img
sh rdroot/mkusb.sh "$BUILD/vmlinuz" "$BUILD/rdroot.img" \
	"console=tty0 console=ttyS0,115200n8 panic=-1 quiet hal.mem=192M" "$img" >"$E2E/usb-test-make.log" 2>&1 ||
	{ echo "FAIL usb-build: rdroot/mkusb.sh (test image) failed:"; sed 's/^/  /' "$E2E/usb-test-make.log"; exit 0; }
gdisk=$E2E/guestdisk-halguest.img
rd_guest_disk "$gdisk"
echo "e2e: time make usb + test image $(($(rd_now) - t0)) ms; usb.img $(($(wc -c <"$BUILD/usb.img") / 1048576)) MiB"

# build/usb.img itself, statically: layout, boot code, files, the UKI
export MTOOLS_SKIP_CHECK=1
u=$BUILD/usb.img
x=$E2E/usb-extract
rm -rf "$x" && mkdir -p "$x"
if sfdisk -d "$u" 2>/dev/null | grep -q 'start= *2048, .*type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, .*name="HALBOOT", attrs="LegacyBIOSBootable"'; then
	echo "PASS usb-image-gpt"
else
	echo "FAIL usb-image-gpt: no ESP named HALBOOT with LegacyBIOSBootable at LBA 2048:"; sfdisk -d "$u" 2>&1 | sed 's/^/  /'
fi
if cmp -s -n 440 "$u" /usr/lib/syslinux/mbr/gptmbr.bin && [ "$(od -An -tx1 -j510 -N2 "$u" | tr -d ' ')" = 55aa ]; then
	echo "PASS usb-image-mbr"
else
	echo "FAIL usb-image-mbr: the MBR boot code is not gptmbr.bin"
fi
if mlabel -s -i "$u@@1M" :: 2>/dev/null | grep -q 'HALBOOT'; then echo "PASS usb-image-label"; else echo "FAIL usb-image-label: the ESP's FAT label is not HALBOOT"; fi
bad=""
for f in EFI/BOOT/BOOTX64.EFI boot/vmlinuz boot/rdroot.img syslinux/ldlinux.sys syslinux/ldlinux.c32 syslinux/syslinux.cfg; do
	mcopy -n -i "$u@@1M" "::/$f" "$x/$(basename "$f")" 2>/dev/null || bad="$bad $f"
done
cmp -s "$x/vmlinuz" "$BUILD/vmlinuz" || bad="$bad boot/vmlinuz(differs)"
cmp -s "$x/rdroot.img" "$BUILD/rdroot.img" || bad="$bad boot/rdroot.img(differs)"
if [ -z "$bad" ]; then echo "PASS usb-image-files"; else echo "FAIL usb-image-files: missing or wrong:$bad"; fi
# UKI: the four sections, in order, not overlapping, after the stub's own
if objdump -h "$x/BOOTX64.EFI" 2>/dev/null | awk '
	$1 ~ /^[0-9]+$/ { n++; name[n] = $2; vma[n] = $4; size[n] = $3 }
	END { for (i = 1; i <= n; i++) print name[i], vma[i], size[i] }' >"$x/sections" &&
	[ "$(awk '{ print $1 }' "$x/sections" | tail -n 4 | tr '\n' ' ')" = ".osrel .cmdline .linux .initrd " ]; then
	prev=0 ok=1
	while read -r n v s; do
		[ $((0x$v)) -ge "$prev" ] || ok=0
		prev=$((0x$v + 0x$s))
	done <"$x/sections"
	if [ $ok = 1 ]; then echo "PASS usb-image-uki"; else echo "FAIL usb-image-uki: overlapping sections:"; sed 's/^/  /' "$x/sections"; fi
else
	echo "FAIL usb-image-uki: BOOTX64.EFI lacks .osrel .cmdline .linux .initrd at its end"
fi
objcopy -O binary --only-section=.cmdline "$x/BOOTX64.EFI" "$x/cmdline" 2>/dev/null
objcopy -O binary --only-section=.initrd "$x/BOOTX64.EFI" "$x/initrd" 2>/dev/null
append=$(sed -n 's/^ *APPEND //p' "$x/syslinux.cfg")
if [ -n "$append" ] && [ "$(cat "$x/cmdline")" = "$append" ] && cmp -s "$x/initrd" "$BUILD/rdroot.img"; then
	echo "PASS usb-image-cmdline"
else
	echo "FAIL usb-image-cmdline: UKI command line '$(cat "$x/cmdline")', syslinux.cfg APPEND '$append' (or the UKI's initrd is not build/rdroot.img)"
fi
echo "e2e: usb.img command line: $append"
rm -rf "$x"

stick="-drive file=$img,format=raw,if=none,id=usb0,snapshot=on -device qemu-xhci -device usb-storage,drive=usb0,bootindex=0"
checks() { # PREFIX NAME DISKDEV GUEST-HELLO
	rd_check "$1-init" "$2" 'init: HAL boot medium starting' "init did not start"
	rd_check "$1-kvm" "$2" 'svm: using kvm_amd' "no 'using kvm_amd'"
	rd_check "$1-disk" "$2" "init: guest disk: $3" "init did not find the guest disk by LABEL=HALGUEST ($3)"
	rd_check "$1-guest" "$2" "$4" "no '$4' from the guest on the console"
	rd_check_poweroff "$1-poweroff" "$2"
	a=$(rd_at "$2" 'init: HAL boot medium') b=$(rd_at "$2" 'init: guest disk') c=$(rd_at "$2" "$4")
	echo "e2e: time $2: QEMU start to init ${a:-?} ms, disk found ${b:-?} ms, guest hello ${c:-?} ms, QEMU exit $rd_ms ms"
}

for what in $only; do
	case $what in
	bios)
		# shellcheck disable=SC2086
		rd_qemu usb-bios "$tmo" "" -machine q35 -m 1024 $stick \
			-drive if=none,id=gd,file="$gdisk",format=raw,snapshot=on -device ide-hd,drive=gd,bus=ide.0
		rd_check usb-bios-syslinux usb-bios 'SYSLINUX' "no SYSLINUX banner: the BIOS did not boot the stick"
		rd_check usb-bios-guest-firmware usb-bios 'booting with --firmware bios' "hal did not choose SeaBIOS for the hybrid disk"
		checks usb-bios usb-bios '/dev/sd[a-z]+$' 'bootsector: stage2 ok lba-read=pattern-ok'
		;;
	uefi)
		[ -f "$ovmf_code" ] || { echo "SKIP usb-uefi: no $ovmf_code (apt-get install ovmf)"; continue; }
		# The machine is booted twice with the same stick, written to (no
		# snapshot), and the same NVRAM: a power cycle. hal keeps the guest's
		# UEFI variables in /hal/efivars/<disk GUID>.efivars on the stick's
		# ESP (--efivars-dir from init), so what the guest wrote in the first
		# boot (HalTest=boot-1, tests/e2e/l2uefi.c) is there in the second.
		cp "$ovmf_vars" "$E2E/usb-vars.fd"
		ustick=$E2E/usb-uefi-stick.img
		cp "$img" "$ustick"
		rwstick="-drive file=$ustick,format=raw,if=none,id=usb0 -device qemu-xhci -device usb-storage,drive=usb0,bootindex=0"
		gid=$(sfdisk -d "$E2E/uefi-halguest.img" 2>/dev/null | sed -n 's/^label-id: //p' | tr 'A-F' 'a-f')
		for boot in 1 2; do
			n=usb-uefi; [ $boot = 1 ] || n=usb-uefi$boot
			# shellcheck disable=SC2086
			rd_qemu $n "$tmo" "" -machine q35 -m 1024 \
				-drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf_code" \
				-drive if=pflash,format=raw,unit=1,file="$E2E/usb-vars.fd" $rwstick \
				-drive if=none,id=gd,file="$E2E/uefi-halguest.img",format=raw,snapshot=on -device nvme,drive=gd,serial=NVME0001
			rd_check $n-firmware $n 'BdsDxe: starting Boot' "OVMF did not start a boot option"
			if rd_has $n 'SYSLINUX'; then echo "FAIL $n-uki: SYSLINUX ran under UEFI"; else echo "PASS $n-uki"; fi
			rd_check $n-guest-firmware $n 'GPT with an EFI system partition and no BIOS boot code: booting with --firmware ovmf' \
				"hal did not choose OVMF for the UEFI guest disk"
			rd_check $n-boot-mount $n 'init: boot medium /dev/sd[a-z]+1 mounted on /boot' "init did not mount the stick's ESP on /boot"
			rd_check $n-efivars-dir $n "UEFI variables: /boot/hal/efivars/$gid.efivars" \
				"hal did not use /boot/hal/efivars/$gid.efivars (the guest disk's GPT GUID) as the store"
			checks $n $n '/dev/nvme0n1$' 'L2UEFI: hello from Linux booted by UEFI'
		done
		rd_check usb-uefi-efivars-created usb-uefi "UEFI variables: created /boot/hal/efivars/$gid.efivars" \
			"the first boot did not create the store on the stick"
		rd_check usb-uefi-efivars-written usb-uefi 'L2UEFI: wrote HalTest=boot-1' "the guest did not write HalTest in the first boot"
		rd_check usb-uefi-efivars-persist usb-uefi2 'L2UEFI: found HalTest=boot-1' \
			"the variable the guest wrote did not survive the power cycle (store on the stick)"
		if mdir -i "$ustick@@1M" ::/hal/efivars 2>/dev/null | grep -qi "$gid.efivars"; then
			echo "PASS usb-uefi-efivars-on-stick"
		else
			echo "FAIL usb-uefi-efivars-on-stick: no $gid.efivars in the stick image's ::/hal/efivars:"
			mdir -i "$ustick@@1M" ::/hal/efivars 2>&1 | sed 's/^/  /'
		fi
		# init unmounted the ESP before powering off: the FAT is clean
		# (fsck.fat -n fails on a set dirty bit or a damaged file system)
		esp_sectors=$(sfdisk -d "$ustick" 2>/dev/null | sed -n 's/.*start= *2048, size= *\([0-9]*\),.*/\1/p')
		dd if="$ustick" of="$ustick.esp" bs=512 skip=2048 count="${esp_sectors:-0}" status=none
		if PATH=$PATH:/sbin:/usr/sbin fsck.fat -n "$ustick.esp" >"$E2E/usb-uefi-fsck.log" 2>&1; then
			echo "PASS usb-uefi-esp-clean"
		else
			echo "FAIL usb-uefi-esp-clean: fsck.fat -n on the stick's ESP after two boots:"
			sed 's/^/  /' "$E2E/usb-uefi-fsck.log"
		fi
		rm -f "$ustick" "$ustick.esp"
		;;
	lan)
		# The stick, edited as a user would edit a written one: the guest
		# (the stick's own kernel + the network test's initramfs) through
		# hal.args on syslinux.cfg's APPEND line. The guest disk is still
		# found by LABEL= and given to hal; --kernel boots instead of it.
		lstick=$E2E/usb-lan-stick.img
		cp "$img" "$lstick"
		l2args='hal.args="--kernel /boot/boot/vmlinuz --initrd /boot/l2net.cpio.gz --append console=ttyS0"'
		if mcopy -n -i "$lstick@@1M" ::/syslinux/syslinux.cfg "$E2E/usb-lan.cfg" 2>"$E2E/usb-lan-mtools.log" &&
			sed -i "s|^\( *APPEND .*\)\$|\1 $l2args|" "$E2E/usb-lan.cfg" &&
			mcopy -o -i "$lstick@@1M" "$E2E/usb-lan.cfg" ::/syslinux/syslinux.cfg 2>>"$E2E/usb-lan-mtools.log" &&
			mcopy -o -i "$lstick@@1M" "$E2E/l2net.cpio.gz" ::/l2net.cpio.gz 2>>"$E2E/usb-lan-mtools.log"; then
			echo "PASS usb-lan-edit"
		else
			echo "FAIL usb-lan-edit: editing the stick's ESP with mtools failed:"; sed 's/^/  /' "$E2E/usb-lan-mtools.log"
			rm -f "$lstick"
			continue
		fi
		# shellcheck disable=SC2086
		rd_qemu usb-lan "$tmo" "" -machine q35 -m 1024 \
			-drive file="$lstick",format=raw,if=none,id=usb0,snapshot=on -device qemu-xhci -device usb-storage,drive=usb0,bootindex=0 \
			-drive if=none,id=gd,file="$gdisk",format=raw,snapshot=on -device ide-hd,drive=gd,bus=ide.0 \
			-netdev user,id=lan -device virtio-net-pci,netdev=lan,mac=52:54:00:4c:31:01
		rm -f "$lstick"
		rd_check usb-lan-init usb-lan 'init: HAL boot medium starting' "init did not start"
		rd_check usb-lan-br0 usb-lan 'init: network: br0 over eth0' "init did not put eth0 (the machine's NIC) into br0"
		rd_check usb-lan-hal-net usb-lan 'init: starting /bin/hal .*--net bridge=br0 .*--kernel /boot/boot/vmlinuz' \
			"init did not start hal with --net bridge=br0 and the guest of hal.args"
		rd_check usb-lan-guest-nic usb-lan 'NET: eth0 mac .* driver virtio_net' "the guest saw no virtio-net NIC"
		lease=$(grep -o 'NET: lease [0-9./]* router [0-9.]*' "$E2E/usb-lan.log" | head -n 1)
		gmac=$(sed -n 's/.*NET: eth0 mac \([0-9a-f:]*\) .*/\1/p' "$E2E/usb-lan.log" | head -n 1)
		case $lease in
		"NET: lease 10.0.2."*" router 10.0.2.2")
			if [ -n "$gmac" ] && [ "$gmac" != 52:54:00:4c:31:01 ]; then
				echo "PASS usb-lan-lease"
			else
				echo "FAIL usb-lan-lease: the lease went to the machine's own MAC, not the guest's ('$gmac')"
			fi ;;
		*) echo "FAIL usb-lan-lease: the guest got no 10.0.2.x lease from the LAN ('$lease'); last lines:"; rd_tail usb-lan ;;
		esac
		rd_check usb-lan-guest-end usb-lan 'NET: end ok' "the guest did not finish"
		rd_check_poweroff usb-lan-poweroff usb-lan
		a=$(rd_at usb-lan 'init: network: br0 over') b=$(rd_at usb-lan 'NET: lease')
		echo "e2e: time usb-lan: br0 ${a:-?} ms, guest lease ${b:-?} ms ($lease, guest MAC ${gmac:-?}), QEMU exit $rd_ms ms"
		;;
	*) echo "FAIL usb: unknown USB_ONLY entry '$what'" ;;
	esac
done
exit 0
