#!/bin/sh
# Full-system tests (docs/testing.md). Each part boots QEMU (TCG) itself and
# prints PASS/FAIL/SKIP lines; one part failing early does not stop the others.
#   bed.sh          nested KVM: hal direct-boots Debian's kernel (1 and 2 vCPUs)
#                   and boots a SYSLINUX disk through SeaBIOS
#   display.sh      hal --display kms on QEMU's bochs display (E2E_DISPLAY=0: skip)
#   rdroot.sh       build/vmlinuz + build/rdroot.img: init, disk discovery,
#                   failure paths (E2E_RDROOT=0: skip, with usb.sh)
#   usb.sh          build/usb.img as a USB stick under SeaBIOS and OVMF, and
#                   with a NIC: the guest's own lease through init's br0
#   netboot.sh      build/netboot/ over iPXE and PXELINUX, the guest disk on NBD
#                   (E2E_NETBOOT=0: skip)
#   ovmf.sh         hal --firmware ovmf: UEFI disks, variables, Secure Boot
#   net.sh          hal --net: bridge, tap, macvtap, user (E2E_NET=0: skip)
#   corpus.sh       standalone programs (memtest86+, iPXE, HDT) reach their
#                   screens (E2E_CORPUS=0: skip)
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
export BUILD MAKE
. tests/e2e/bedlib.sh
bed_qemu_check e2e || exit 0
echo "e2e: QEMU $QEMU ($("$QEMU" --version | head -n 1))"

sh tests/e2e/bed.sh

# ---- display (tests/e2e/display.sh, docs/display-host.md) --------------------
# A separate QEMU boot: L1 with bochs-display, the KMS backend alone, then
# hal --display kms showing L2's picture, checked with QEMU's screendump, then
# GRUB's menu under hal (screendumps over --control, OCR'd here).
# E2E_DISPLAY=0 leaves it out.
if [ "${E2E_DISPLAY:-1}" != 0 ]; then
	BUILD="$BUILD" MAKE="$MAKE" sh tests/e2e/display.sh
fi

# ---- boot medium: rdroot and the USB image (docs/usb.md) ----------------------
# Separate QEMU boots (tests/e2e/rdroot.sh, tests/e2e/usb.sh): build/vmlinuz +
# build/rdroot.img (the guest disk by SERIAL=, then the three failure paths:
# no disk, no SVM, hal crashes), and the USB image as a USB stick under
# SeaBIOS and OVMF (the guest disk by LABEL=), and with a NIC on QEMU's
# user-mode network (the guest's DHCP lease through br0). About 4.5 minutes
# of TCG.
# E2E_RDROOT=0 leaves them out.
if [ "${E2E_RDROOT:-1}" != 0 ]; then
	BUILD="$BUILD" MAKE="$MAKE" sh tests/e2e/rdroot.sh
	BUILD="$BUILD" MAKE="$MAKE" sh tests/e2e/usb.sh
fi

# ---- netboot: build/netboot/ (tests/e2e/netboot.sh, docs/netboot.md) --------
# Separate QEMU boots with no disk: iPXE and PXELINUX load the kernel and the
# rdroot from QEMU's user-mode TFTP, init takes a DHCP lease, hal boots the
# guest from qemu-nbd on the host's loopback; then an NBD server that is not
# there (rescue shell). E2E_NETBOOT=0 leaves it out.
if [ "${E2E_NETBOOT:-1}" != 0 ]; then
	BUILD="$BUILD" MAKE="$MAKE" sh tests/e2e/netboot.sh
fi

# ---- UEFI: hal --firmware ovmf (tests/e2e/ovmf.sh, docs/usage.md) -------------
# A separate QEMU boot: L1 runs hal --firmware ovmf twice on a GPT disk whose
# ESP holds a unified kernel image; the guest writes a UEFI variable in the
# first run and must find it in the second (the store is a file). SKIPs when
# the L0 QEMU aborts on its CR8 bug (see ovmf.sh). E2E_OVMF=0 leaves it out.
if [ "${E2E_OVMF:-1}" != 0 ]; then
	BUILD="$BUILD" MAKE="$MAKE" sh tests/e2e/ovmf.sh
fi

# ---- the guest on the network: hal --net (tests/e2e/net.sh, docs/testing.md) --
# A separate QEMU boot: L1 builds a LAN (bridge, udhcpd, httpd) and runs hal
# with --net bridge= (with and without vhost-net), tap=, macvtap= and user
# (passt, hostfwd); the guest takes a lease and fetches a file each time.
# E2E_NET=0 leaves it out.
if [ "${E2E_NET:-1}" != 0 ]; then
	BUILD="$BUILD" MAKE="$MAKE" sh tests/e2e/net.sh
fi

# ---- standalone programs (tests/e2e/corpus.sh, docs/guest-support.md) --------
# A separate QEMU boot: L1 runs hal on each program of the corpus (memtest86+
# through SeaBIOS with 1 and 2 CPUs, through OVMF and as --kernel, iPXE's
# ISO, SYSLINUX's HDT) and sends two screendumps of each; tesseract must read
# the program's own screen. About 7 minutes of TCG. E2E_CORPUS=0 leaves it out.
if [ "${E2E_CORPUS:-1}" != 0 ]; then
	BUILD="$BUILD" MAKE="$MAKE" sh tests/e2e/corpus.sh
fi
exit 0
