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
TEST_DEPS  := qemu-system-x86 seabios busybox-static cpio kmod zstd syslinux syslinux-common mtools dosfstools fdisk tesseract-ocr python3 grub-rescue-pc systemd-boot-efi ovmf

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CSTD    := -std=c11 -D_GNU_SOURCE
# musl-gcc does not search /usr/include, so the Linux uapi headers come from
# a private directory of symlinks into linux-libc-dev.
UAPI    := $(BUILD)/uapi
MUSL_CFLAGS  := $(CSTD) -O2 $(WARN) -isystem $(UAPI) -I$(BUILD)/gen -DHAL_VERSION='"$(VERSION)"'
MUSL_LDFLAGS := -static -s

HAL_SRCS  := $(sort $(wildcard hal/*.c))
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
$(BUILD)/.test-deps: Makefile | $(BUILD)/.dir
	$(call need_pkgs,$(TEST_DEPS))
	@touch $@
deps: $(BUILD)/.deps
test-deps: $(BUILD)/.test-deps

$(BUILD)/.dir:
	@mkdir -p $(BUILD) && touch $@

$(UAPI)/.stamp: $(BUILD)/.deps
	@mkdir -p $(UAPI)
	@ln -sfn /usr/include/linux $(UAPI)/linux
	@ln -sfn /usr/include/asm-generic $(UAPI)/asm-generic
	@ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $(UAPI)/asm
	@touch $@

# --- ACPI DSDT, compiled with iasl into a C array ----------------------------
$(BUILD)/gen/dsdt.hex: hal/dsdt.asl $(BUILD)/.deps
	@mkdir -p $(BUILD)/gen
	iasl -we -vs -tc -p $(BUILD)/gen/dsdt hal/dsdt.asl >$(BUILD)/gen/iasl.log || { cat $(BUILD)/gen/iasl.log; exit 1; }

# --- VGA text font: a Debian console font (console-setup-linux) to a C array
FONT_PSF := /usr/share/consolefonts/Uni2-VGA16.psf.gz
$(BUILD)/gen/mkfont: hal/tools/mkfont.c | $(BUILD)/.dir
	@mkdir -p $(BUILD)/gen
	$(HOSTCC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $<
$(BUILD)/gen/font8x16.h: $(BUILD)/gen/mkfont $(BUILD)/.deps
	gzip -dc $(FONT_PSF) | $(BUILD)/gen/mkfont >$@.tmp && mv $@.tmp $@
$(BUILD)/musl/hal/vgatext.o $(BUILD)/host/hal/vgatext.o: $(BUILD)/gen/font8x16.h

# --- static musl programs ----------------------------------------------------
$(BUILD)/musl/%.o: %.c $(UAPI)/.stamp $(BUILD)/gen/dsdt.hex $(wildcard hal/*.h init/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(MUSLCC) $(MUSL_CFLAGS) -c $< -o $@

$(BUILD)/hal: $(HAL_OBJS)
	@echo "  LD      $@"
	@$(MUSLCC) $(MUSL_LDFLAGS) -o $@ $^ -lpthread

$(BUILD)/init: $(INIT_OBJS)
	@echo "  LD      $@"
	@$(MUSLCC) $(MUSL_LDFLAGS) -o $@ $^

include tests/tests.mk
-include hal/libdrm.mk
-include rdroot/rdroot.mk

clean:
	rm -rf $(BUILD)

# The bundled default guest: the project's own bzImage payload, which prints
# the command line, initrd checksum and memory map hal handed it, then powers
# off. Runs in well under a second on any /dev/kvm.
demo: all $(BUILD)/.test-deps $(GUEST_BINS)
	$(BUILD)/hal --kernel $(BUILD)/guest/payload64.bzimage --initrd README.md \
		--append "console=ttyS0 hal-demo" --mem 256M --cpus 2
