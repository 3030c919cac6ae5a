# hal: static bare-metal boot HAL. See README.md and docs/architecture.md.
#
#   make            build build/hal and build/init (static musl), installing
#                   the Debian packages the build needs when they are missing
#   make test       every test layer; ends with "N passed, N failed"
#   make demo       boot the bundled default guest under hal

BUILD   ?= build
MUSLCC  ?= musl-gcc
HOSTCC  ?= gcc
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

# Debian packages: needed to build / needed to test (see docs/usage.md).
BUILD_DEPS := musl-tools linux-libc-dev acpica-tools make gcc binutils meson ninja-build pkg-config dpkg-dev \
              console-setup-linux
TEST_DEPS  := qemu-system-x86 qemu-utils seabios busybox-static cpio kmod zstd syslinux syslinux-common mtools dosfstools fdisk tesseract-ocr python3 grub-rescue-pc systemd-boot-efi ovmf \
              grub-efi-amd64-bin grub-efi-amd64-signed shim-signed efibootmgr passt ipxe-qemu memtest86+ ipxe pxelinux \
              clang-14 libclang-rt-14-dev xorriso isolinux

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CSTD    := -std=c11 -D_GNU_SOURCE
# musl-gcc does not search /usr/include, so the Linux uapi headers come from
# a private directory of symlinks into linux-libc-dev.
UAPI    := $(BUILD)/uapi
MUSL_CFLAGS  := $(CSTD) -O2 $(WARN) -isystem $(UAPI) -Ihal -I$(BUILD)/gen -DHAL_VERSION='"$(VERSION)"'
MUSL_LDFLAGS := -static -s

# hal/<layer>/*.c: docs/architecture.md draws the layers; tests/layout.sh
# checks which layer may include which.
HAL_SRCS  := $(sort $(filter-out hal/tools/%,$(wildcard hal/*/*.c)))
HAL_HDRS  := $(wildcard hal/*/*.h)
INIT_SRCS := $(sort $(wildcard init/*.c))
HAL_OBJS  := $(HAL_SRCS:%.c=$(BUILD)/musl/%.o)
INIT_OBJS := $(INIT_SRCS:%.c=$(BUILD)/musl/%.o)

.PRECIOUS: $(BUILD)/host/%.o $(BUILD)/musl/%.o
.PHONY: all deps test-deps test unit integration e2e bench demo clean
all: $(BUILD)/hal $(BUILD)/init

# --- dependencies -----------------------------------------------------------
# Idempotent: installs only what is missing, and only as root; otherwise it
# says exactly what to install.
define need_pkgs
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing) >$(BUILD)/apt.log 2>&1 \
	      || { cat $(BUILD)/apt.log; exit 1; }; \
	  else echo "missing Debian packages:$$missing -- run: sudo apt-get install$$missing"; exit 1; fi; \
	fi
endef

$(BUILD)/.deps: Makefile | $(BUILD)/.dir
	$(call need_pkgs,$(BUILD_DEPS))
	@touch $@
$(BUILD)/.test-deps: Makefile | $(BUILD)/.deps
	$(call need_pkgs,$(TEST_DEPS))
	@touch $@
deps: $(BUILD)/.deps
test-deps: $(BUILD)/.test-deps

# $(call deb_source,PKG,DIR): Debian's source package PKG of the release this
# machine runs, unpacked (Debian's patches applied) into DIR/src, DIR/src/.stamp
# touched. A private deb-src list for the machine's mirror (the release, its
# updates and its security suite, so the source matches the installed binary
# package) and a private lists directory under DIR/apt: no change to the
# machine's apt configuration, works without root.
define deb_source
	@echo "  FETCH   $(1) (Debian source package)"
	@set -e; d=$(2)/apt; rm -rf $$d $(2)/src; mkdir -p $$d/lists/partial; \
	mirror=$$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v -- -security | head -n 1); \
	[ -n "$$mirror" ] || mirror=$$(sed -n 's/^deb  *\(\[[^]]*\] *\)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | grep -v -- -security | head -n 1); \
	[ -n "$$mirror" ] || mirror=http://deb.debian.org/debian; \
	secmirror=$$(sed -n 's/^URIs: *\([^ ]*-security\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1); \
	[ -n "$$secmirror" ] || secmirror=http://deb.debian.org/debian-security; \
	suite=$$(. /etc/os-release && echo $$VERSION_CODENAME); \
	printf 'Types: deb-src\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb-src\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		"$$mirror" "$$suite" "$$suite" "$$secmirror" "$$suite" >$$d/src.sources; \
	opts="-o Dir::Etc::SourceList=$$PWD/$$d/src.sources -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$$PWD/$$d/lists -o Debug::NoLocking=1"; \
	apt-get $$opts -q update >$$d/log 2>&1 || { cat $$d/log; exit 1; }; \
	(cd $$d && apt-get $$opts -q source --download-only $(1)) >>$$d/log 2>&1 || { cat $$d/log; exit 1; }; \
	dpkg-source -x $$(ls -v $$d/$(1)_*.dsc | tail -n 1) $(2)/src >>$$d/log 2>&1 || { cat $$d/log; exit 1; }; \
	touch $(2)/src/.stamp
endef

$(BUILD)/.dir:
	@mkdir -p $(BUILD) && touch $@

$(UAPI)/.stamp: | $(BUILD)/.deps
	@mkdir -p $(UAPI)
	@ln -sfn /usr/include/linux $(UAPI)/linux
	@ln -sfn /usr/include/asm-generic $(UAPI)/asm-generic
	@ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $(UAPI)/asm
	@touch $@
# <asm/bootparam.h> (hal/x86/boot.c) includes <video/edid.h>. A rule of its
# own, so that a build directory made before it gets the link too.
$(UAPI)/video: | $(UAPI)/.stamp
	@ln -sfn /usr/include/video $@

# --- ACPI DSDT, compiled with iasl into a C array ----------------------------
$(BUILD)/gen/dsdt.hex: hal/x86/dsdt.asl $(BUILD)/.deps
	@mkdir -p $(BUILD)/gen
	iasl -we -vs -tc -p $(BUILD)/gen/dsdt hal/x86/dsdt.asl >$(BUILD)/gen/iasl.log || { cat $(BUILD)/gen/iasl.log; exit 1; }

# --- VGA text font: a Debian console font (console-setup-linux) to a C array
FONT_PSF := /usr/share/consolefonts/Uni2-VGA16.psf.gz
$(BUILD)/gen/mkfont: hal/tools/mkfont.c hal/core/endian.h | $(BUILD)/.dir
	@mkdir -p $(BUILD)/gen
	$(HOSTCC) -std=c11 -O2 -Wall -Wextra -Werror -Ihal -o $@ $<
$(BUILD)/gen/font8x16.h: $(BUILD)/gen/mkfont $(BUILD)/.deps
	gzip -dc $(FONT_PSF) | $(BUILD)/gen/mkfont >$@.tmp && mv $@.tmp $@
$(BUILD)/musl/hal/display/vgatext.o $(BUILD)/host/hal/display/vgatext.o: $(BUILD)/gen/font8x16.h

# --- static musl programs ----------------------------------------------------
$(BUILD)/musl/%.o: %.c $(UAPI)/.stamp $(BUILD)/gen/dsdt.hex $(HAL_HDRS) $(wildcard init/*.h) | $(UAPI)/video
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(MUSLCC) $(MUSL_CFLAGS) -c $< -o $@

$(BUILD)/hal: $(HAL_OBJS)
	@echo "  LD      $@"
	@$(MUSLCC) $(MUSL_LDFLAGS) -o $@ $^ -lpthread

$(BUILD)/init: $(INIT_OBJS)
	@echo "  LD      $@"
	@$(MUSLCC) $(MUSL_LDFLAGS) -o $@ $^

include patches/qemu/qemu.mk
include tests/tests.mk
-include hal/host/libdrm.mk
-include rdroot/rdroot.mk

clean:
	rm -rf $(BUILD)

# The product's main job (rdroot/demo/demo.sh): the bundled default guest
# disk ($(DEMO)/guest.img: SYSLINUX, Debian's kernel, rdroot/demo/guest-init.c
# as its user space, FAT label HALGUEST so init finds it) booted by hal on
# /dev/kvm, or, without one, a QEMU machine booting the USB stick image
# ($(DEMO)/usb.img: build/usb.img's contents with the serial console as
# /dev/console) with that disk inside. Writes build/demo.png.
DEMO := $(BUILD)/demo
$(DEMO)/guest-init: rdroot/demo/guest-init.c tests/e2e/l2mods.h $(UAPI)/.stamp
	@mkdir -p $(DEMO)
	$(MUSLCC) $(MUSL_CFLAGS) -Itests/e2e -static -s -o $@ $<
$(DEMO)/guest.img: $(E2E)/kver $(DEMO)/guest-init $(E2E)/mkcpio tests/e2e/mkguestdisk.sh tests/e2e/moddeps.sh
	GUEST_LABEL=HALGUEST GUEST_MODS=bochs GUEST_APPEND="console=ttyS0 console=tty0 panic=-1 quiet" \
		sh tests/e2e/mkguestdisk.sh $(E2E) $(E2E)/mkcpio $(DEMO)/guest-init $@ -
$(DEMO)/usb.img: $(BUILD)/vmlinuz $(BUILD)/rdroot.img rdroot/mkusb.sh rdroot/mkuki.sh $(BUILD)/.usb-deps
	@mkdir -p $(DEMO) && sh rdroot/mkusb.sh $(BUILD)/vmlinuz $(BUILD)/rdroot.img \
		"console=tty0 console=ttyS0,115200n8 panic=-1 quiet hal.mem=256M" $@ >$(DEMO)/usb.log
demo: all $(BUILD)/.test-deps $(BUILD)/usb.img $(DEMO)/usb.img $(DEMO)/guest.img $(GUEST_OUT)/halctl
	@sh rdroot/demo/demo.sh $(BUILD)
