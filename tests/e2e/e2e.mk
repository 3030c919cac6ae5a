# Full-system test bed (docs/testing.md): Debian's kernel as L1 under QEMU TCG
# with nested SVM (-cpu EPYC), kvm-amd loaded inside, and hal booting the same
# kernel as L2. Included by tests/tests.mk.
#
#   make e2e          build what it needs, boot it, print PASS/FAIL lines
#   make e2e-images   only build: kernel, L2 initramfs, L1 initramfs
#
# Outputs under $(BUILD)/e2e/: the kernel .deb (cached), kroot/ (extracted,
# depmod'ed), vmlinuz, l2.cpio.gz, l1.cpio.gz, log.txt (QEMU's serial log).

E2E := $(BUILD)/e2e

.PHONY: e2e e2e-images e2e-kernel
e2e:
	@sh tests/e2e/run.sh | tests/report.sh

e2e-images: $(E2E)/l1.cpio.gz

# The version is derived from apt's metadata each time (cheap when cached);
# kernel.sh only rewrites kver/vmlinuz/modules.list when the version changes,
# so what depends on them is rebuilt only then.
$(E2E)/kver: e2e-kernel
e2e-kernel: $(BUILD)/.test-deps
	@sh tests/e2e/kernel.sh $(E2E)

$(E2E)/mkcpio: tests/e2e/mkcpio.c | $(BUILD)/.dir
	@mkdir -p $(E2E)
	$(HOSTCC) -O2 -Wall -Wextra -Werror -o $@ $<

$(E2E)/l2init: tests/e2e/l2init.c $(UAPI)/.stamp
	@mkdir -p $(E2E)
	$(MUSLCC) $(MUSL_CFLAGS) -Itests/e2e -static -s -o $@ $<

$(E2E)/l2.cpio.gz: $(E2E)/l2init $(E2E)/mkcpio
	printf 'dir /dev 0755\nnod /dev/console 0600 c 5 1\ndir /proc 0555\nfile /init %s 0755\n' $< \
		| $(E2E)/mkcpio | gzip -9n >$@.tmp && mv $@.tmp $@

$(E2E)/l2disk: tests/e2e/l2disk.c tests/e2e/l2mods.h $(UAPI)/.stamp
	@mkdir -p $(E2E)
	$(MUSLCC) $(MUSL_CFLAGS) -Itests/e2e -static -s -o $@ $<

$(E2E)/l2uefi: tests/e2e/l2uefi.c tests/e2e/l2mods.h $(UAPI)/.stamp
	@mkdir -p $(E2E)
	$(MUSLCC) $(MUSL_CFLAGS) -Itests/e2e -static -s -o $@ $<

# A UEFI disk (GPT, ESP, unified kernel image) booted by hal through OVMF
# (tests/e2e/ovmf.sh).
$(E2E)/uefi.img: $(E2E)/kver $(E2E)/l2uefi $(E2E)/mkcpio tests/e2e/mkuefidisk.sh tests/e2e/moddeps.sh rdroot/mkuki.sh
	sh tests/e2e/mkuefidisk.sh uki $(E2E) $(E2E)/mkcpio $(E2E)/l2uefi $@

# The same Linux behind GRUB's EFI menu, with efibootmgr (tests/e2e/ovmf.sh).
$(E2E)/uefi-grub.img: $(E2E)/kver $(E2E)/l2uefi $(E2E)/mkcpio tests/e2e/mkuefidisk.sh tests/e2e/moddeps.sh rdroot/mkuki.sh
	sh tests/e2e/mkuefidisk.sh grub $(E2E) $(E2E)/mkcpio $(E2E)/l2uefi $@

# The UKI disk labelled HALGUEST: the guest init finds on the USB stick
# (tests/e2e/usb.sh, UEFI run).
$(E2E)/uefi-halguest.img: $(E2E)/kver $(E2E)/l2uefi $(E2E)/mkcpio tests/e2e/mkuefidisk.sh tests/e2e/moddeps.sh rdroot/mkuki.sh
	UEFI_LABEL=HALGUEST sh tests/e2e/mkuefidisk.sh uki $(E2E) $(E2E)/mkcpio $(E2E)/l2uefi $@

# Debian's signed chain (shim, GRUB, kernel) for Secure Boot (tests/e2e/ovmf.sh).
$(E2E)/uefi-shim.img: $(E2E)/kver $(E2E)/l2uefi $(E2E)/mkcpio tests/e2e/mkuefidisk.sh tests/e2e/moddeps.sh rdroot/mkuki.sh
	sh tests/e2e/mkuefidisk.sh shim $(E2E) $(E2E)/mkcpio $(E2E)/l2uefi $@

# A BIOS disk built from Debian's packages (SYSLINUX + kernel + initramfs),
# booted by hal through SeaBIOS, and a data disk it reads and writes.
$(E2E)/guest.img: $(E2E)/kver $(E2E)/l2disk $(E2E)/mkcpio tests/e2e/mkguestdisk.sh tests/e2e/moddeps.sh
	sh tests/e2e/mkguestdisk.sh $(E2E) $(E2E)/mkcpio $(E2E)/l2disk $@ $(E2E)/data.img

$(E2E)/l1.cpio.gz: $(E2E)/kver $(E2E)/l2.cpio.gz $(E2E)/mkcpio $(BUILD)/hal $(E2E)/guest.img $(E2E)/l2disk \
		tests/e2e/l1init.sh tests/e2e/l1lib.sh tests/e2e/mkl1.sh $(BUILD)/.test-deps
	sh tests/e2e/mkl1.sh $(E2E) $(E2E)/mkcpio $(BUILD)/hal $@

# The network test's L2 initramfs: busybox, virtio_net, a DHCP client and
# wget (tests/e2e/net.sh).
$(E2E)/l2net.cpio.gz: $(E2E)/kver $(E2E)/mkcpio tests/e2e/mknetl2.sh tests/e2e/net-l2init.sh \
		tests/e2e/net-udhcpc.sh tests/e2e/moddeps.sh
	sh tests/e2e/mknetl2.sh $(E2E) $(E2E)/mkcpio $@

# The disk benchmark's L2 initramfs: busybox, virtio_blk, Debian's fio and
# its libraries, uncompressed (tests/e2e/disk.sh, make bench-disk).
$(E2E)/l2disk.cpio: $(E2E)/kver $(E2E)/mkcpio tests/e2e/mkdiskl2.sh tests/e2e/disk-l2init.sh \
		tests/e2e/moddeps.sh
	sh tests/e2e/mkdiskl2.sh $(E2E) $(E2E)/mkcpio $@
