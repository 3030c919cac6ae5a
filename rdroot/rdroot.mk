# The boot medium (docs/usb.md). Included by the top-level Makefile after
# tests/tests.mk (it reuses tests/e2e/e2e.mk's kernel and mkcpio).
#
#   make rdroot    build/vmlinuz (Debian's kernel) + build/rdroot.img (zstd cpio)
#   make usb       build/usb.img: GPT, FAT32 ESP "HALBOOT"; UEFI: unified
#                  kernel image (systemd-boot's stub); BIOS: SYSLINUX + gptmbr
#   make netboot   build/netboot/: the same kernel and rdroot for a TFTP/HTTP
#                  boot server, with boot.ipxe, pxelinux.cfg/default (+ Debian's
#                  pxelinux.0) and grub/grub.cfg (+ Debian's signed GRUB
#                  netboot image and shim) (docs/netboot.md)
#
# USB_APPEND: extra kernel command line words for the stick (e.g.
# USB_APPEND='hal.disk=SERIAL=S123 hal.mem=4G'); USB_CONSOLE: the console
# setting (default: kernel messages on COM1 and the screen, /dev/console =
# the screen).
# NETBOOT_CMDLINE: the netboot kernel command line's hal.* settings (default:
# DHCP for the HAL, the guest disk from the NBD server named halnbd, export
# guest); NETBOOT_CONSOLE: its console setting (default USB_CONSOLE's).

USB_DEPS    := syslinux syslinux-common systemd-boot-efi mtools dosfstools fdisk binutils
USB_CONSOLE ?= console=ttyS0,115200n8 console=tty0
USB_APPEND  ?=
NETBOOT_DEPS    := pxelinux syslinux-common grub-efi-amd64-signed shim-signed
NETBOOT_CONSOLE ?= $(USB_CONSOLE)
NETBOOT_CMDLINE ?= hal.ip=dhcp hal.disk=nbd://halnbd/guest

.PHONY: rdroot usb netboot
rdroot: $(BUILD)/vmlinuz $(BUILD)/rdroot.img
usb: $(BUILD)/usb.img
netboot: $(BUILD)/netboot/boot.ipxe

$(BUILD)/.usb-deps: | $(BUILD)/.test-deps
	$(call need_pkgs,$(USB_DEPS))
	@touch $@

# $(E2E)/kver is remade on every run (kernel.sh checks the archive's version);
# the scripts below leave their outputs alone when nothing changed.
$(BUILD)/vmlinuz: $(E2E)/kver
	@cmp -s $(E2E)/vmlinuz $@ || { cp $(E2E)/vmlinuz $@.tmp && mv $@.tmp $@ && echo "  KERNEL  $@ ($$(cat $(E2E)/kver))"; }

$(BUILD)/rdroot.img: $(E2E)/kver $(E2E)/mkcpio $(BUILD)/hal $(BUILD)/init $(BUILD)/.test-deps \
		rdroot/mkrdroot.sh rdroot/modules.list rdroot/hal.conf
	@sh rdroot/mkrdroot.sh $(E2E) $(E2E)/mkcpio $(BUILD)/hal $(BUILD)/init $@

# The command line goes through a file (written when it changes, so a new
# USB_APPEND rebuilds the image; no shell quoting of its quotes).
USB_CMDLINE := $(strip $(USB_CONSOLE) $(USB_APPEND))
ifneq ($(USB_CMDLINE),$(file <$(BUILD)/usb.cmdline))
$(shell mkdir -p $(BUILD))
$(file >$(BUILD)/usb.cmdline,$(USB_CMDLINE))
endif

NETBOOT_LINE := $(strip $(NETBOOT_CONSOLE) $(NETBOOT_CMDLINE))
ifneq ($(NETBOOT_LINE),$(file <$(BUILD)/netboot.cmdline))
$(shell mkdir -p $(BUILD))
$(file >$(BUILD)/netboot.cmdline,$(NETBOOT_LINE))
endif

$(BUILD)/.netboot-deps: | $(BUILD)/.test-deps
	$(call need_pkgs,$(NETBOOT_DEPS))
	@touch $@

$(BUILD)/netboot/boot.ipxe: $(BUILD)/vmlinuz $(BUILD)/rdroot.img $(BUILD)/netboot.cmdline rdroot/mknetboot.sh $(BUILD)/.netboot-deps
	@sh rdroot/mknetboot.sh $(BUILD)/vmlinuz $(BUILD)/rdroot.img @$(BUILD)/netboot.cmdline $(BUILD)/netboot

$(BUILD)/usb.img: $(BUILD)/vmlinuz $(BUILD)/rdroot.img $(BUILD)/usb.cmdline rdroot/mkusb.sh rdroot/mkuki.sh $(BUILD)/.usb-deps
	@sh rdroot/mkusb.sh $(BUILD)/vmlinuz $(BUILD)/rdroot.img @$(BUILD)/usb.cmdline $@

# The boot medium's full-system tests alone (they are also in make e2e).
.PHONY: e2e-rdroot e2e-netboot
e2e-rdroot: $(BUILD)/.test-deps
	@{ sh tests/e2e/rdroot.sh; sh tests/e2e/usb.sh; } | tests/report.sh
e2e-netboot: $(BUILD)/.test-deps
	@sh tests/e2e/netboot.sh | tests/report.sh
