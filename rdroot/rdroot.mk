# The boot medium (docs/usb.md). Included by the top-level Makefile after
# tests/tests.mk (it reuses tests/e2e/e2e.mk's kernel and mkcpio).
#
#   make rdroot    build/vmlinuz (Debian's kernel) + build/rdroot.img (zstd cpio)
#   make usb       build/usb.img: GPT, FAT32 ESP "HALBOOT"; UEFI: unified
#                  kernel image (systemd-boot's stub); BIOS: SYSLINUX + gptmbr
#
# USB_APPEND: extra kernel command line words for the stick (e.g.
# USB_APPEND='hal.disk=SERIAL=S123 hal.mem=4G'); USB_CONSOLE: the console
# setting (default: kernel messages on COM1 and the screen, /dev/console =
# the screen).

USB_DEPS    := syslinux syslinux-common systemd-boot-efi mtools dosfstools fdisk binutils
USB_CONSOLE ?= console=ttyS0,115200n8 console=tty0
USB_APPEND  ?=

.PHONY: rdroot usb
rdroot: $(BUILD)/vmlinuz $(BUILD)/rdroot.img
usb: $(BUILD)/usb.img

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

$(BUILD)/usb.img: $(BUILD)/vmlinuz $(BUILD)/rdroot.img $(BUILD)/usb.cmdline rdroot/mkusb.sh rdroot/mkuki.sh $(BUILD)/.usb-deps
	@sh rdroot/mkusb.sh $(BUILD)/vmlinuz $(BUILD)/rdroot.img @$(BUILD)/usb.cmdline $@

# The boot medium's full-system tests alone (they are also in make e2e).
.PHONY: e2e-rdroot
e2e-rdroot: $(BUILD)/.test-deps
	@{ sh tests/e2e/rdroot.sh; sh tests/e2e/usb.sh; } | tests/report.sh
