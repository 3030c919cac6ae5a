# The nested test bed's QEMU (docs/testing.md, "The bed's QEMU"): Debian's
# qemu source package for the release this machine runs, with
# patches/qemu/*.patch applied on top of Debian's own, configured with only
# what the bed needs (x86_64-softmmu, TCG, fdt, slirp; no other default
# features, no docs, no user mode), built once and cached under $(BUILD)/qemu.
# slirp (libslirp-dev) gives -netdev user: the netboot bed's DHCP and TFTP
# server (tests/e2e/netboot.sh) lives inside QEMU, so nothing leaves the host.
#
#   make qemu     build $(BED_QEMU)
#
# Why: Debian's QEMU 7.2 (and bookworm-backports' 10.0) abort when OVMF runs
# under hal in L1 (patches/qemu/0001-*.patch says why), and lose L1's
# interrupts now and then, which stops L1 for good (0002-*.patch). The binary finds its
# firmware in Debian's seabios, qemu-system-data and ipxe-qemu directories
# (--firmwarepath), so it needs no -L. Every full-system test runs it through
# $QEMU (tests/e2e/bedlib.sh). Included by the top-level Makefile.

QEMU_DIR      := $(BUILD)/qemu
BED_QEMU      := $(QEMU_DIR)/bin/qemu-system-x86_64
QEMU_DEPS     := libglib2.0-dev libpixman-1-dev libfdt-dev libslirp-dev meson ninja-build pkg-config python3 dpkg-dev
QEMU_PATCHES  := $(sort $(wildcard patches/qemu/*.patch))
QEMU_FWPATH   := /usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu

# qemu.mk itself: a new package in QEMU_DEPS (libslirp-dev) is installed
# before a build configured for it.
$(BUILD)/.qemu-deps: patches/qemu/qemu.mk | $(BUILD)/.deps
	$(call need_pkgs,$(QEMU_DEPS))
	@touch $@

# A new or changed patch unpacks the source anew and rebuilds.
$(QEMU_DIR)/src/.patched: $(QEMU_PATCHES) | $(BUILD)/.qemu-deps
	$(call deb_source,qemu,$(QEMU_DIR))
	@set -e; cd $(QEMU_DIR)/src; for p in $(QEMU_PATCHES:%=$(CURDIR)/%); do \
		echo "  PATCH   qemu: $$(basename $$p)"; patch -s -p1 --no-backup-if-mismatch <$$p; done
	@touch $@

# qemu.mk itself: a changed configure line (e.g. --enable-slirp) rebuilds.
$(BED_QEMU): $(QEMU_DIR)/src/.patched patches/qemu/qemu.mk
	@echo "  BUILD   qemu-system-x86_64 (TCG only; about 10 minutes on 2 cores, once)"
	@set -e; t0=$$(date +%s); src=$(QEMU_DIR)/src; rm -rf $$src/build; \
	(cd $$src && ./configure --target-list=x86_64-softmmu --without-default-features \
		--enable-tcg --enable-fdt=system --enable-slirp --disable-docs --disable-user --disable-werror \
		--firmwarepath=$(QEMU_FWPATH)) >$(QEMU_DIR)/configure.log 2>&1 \
		|| { tail -n 30 $(QEMU_DIR)/configure.log; exit 1; }; \
	ninja -C $$src/build qemu-system-x86_64 >$(QEMU_DIR)/build.log 2>&1 \
		|| { tail -n 40 $(QEMU_DIR)/build.log; exit 1; }; \
	mkdir -p $(dir $@); cp $$src/build/qemu-system-x86_64 $@.tmp; mv $@.tmp $@; \
	echo "qemu: built $$($@ --version | head -n 1) in $$(($$(date +%s) - t0)) s"

qemu: $(BED_QEMU)
.PHONY: qemu
