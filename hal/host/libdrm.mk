# libdrm, static, built with musl-gcc from Debian's source package
# (docs/display-host.md). Debian's own libdrm.a is compiled against glibc
# with _FORTIFY_SOURCE and does not link with musl, so the build fetches the
# source package of the release this machine runs and builds only the core
# library: every GPU sub-library, the tests, man pages, valgrind and cairo
# are off. Nothing is vendored.
#
# The source comes through deb_source (Makefile): no change to the machine's
# apt configuration, works without root.
#
# Outputs: $(LIBDRM_A) and the headers under $(LIBDRM_PREFIX)/include.
# Included by the top-level Makefile.

LIBDRM_DEPS   := meson ninja-build pkg-config dpkg-dev
LIBDRM_DIR    := $(BUILD)/libdrm
LIBDRM_PREFIX := $(abspath $(LIBDRM_DIR)/prefix)
LIBDRM_A      := $(LIBDRM_DIR)/prefix/lib/libdrm.a
LIBDRM_CFLAGS := -isystem $(LIBDRM_DIR)/prefix/include -isystem $(LIBDRM_DIR)/prefix/include/libdrm

# libdrm's meson options that exist in the source at hand are switched off
# (the list changes between releases; unknown options would be an error).
LIBDRM_OFF := intel radeon amdgpu nouveau vmwgfx omap exynos freedreno tegra vc4 etnaviv \
              cairo-tests man-pages valgrind
LIBDRM_FALSE := freedreno-kgsl install-test-programs udev tests

$(BUILD)/.libdrm-deps: | $(BUILD)/.deps
	$(call need_pkgs,$(LIBDRM_DEPS))
	@touch $@

$(LIBDRM_DIR)/src/.stamp: $(BUILD)/.libdrm-deps
	$(call deb_source,libdrm,$(LIBDRM_DIR))

$(LIBDRM_A): $(LIBDRM_DIR)/src/.stamp $(UAPI)/.stamp
	@echo "  MESON   libdrm (static, musl)"
	@set -e; src=$(LIBDRM_DIR)/src; opts=; \
	for o in $(LIBDRM_OFF); do grep -q "'$$o'" $$src/meson_options.txt && opts="$$opts -D$$o=disabled"; done; \
	for o in $(LIBDRM_FALSE); do grep -q "'$$o'" $$src/meson_options.txt && opts="$$opts -D$$o=false"; done; \
	rm -rf $(LIBDRM_DIR)/build $(LIBDRM_DIR)/prefix; \
	CC="$(MUSLCC) -isystem $(abspath $(UAPI))" meson setup $(LIBDRM_DIR)/build $$src \
		--prefix=$(LIBDRM_PREFIX) --libdir=lib -Ddefault_library=static -Dbuildtype=release $$opts \
		>$(LIBDRM_DIR)/meson.log 2>&1 || { cat $(LIBDRM_DIR)/meson.log; exit 1; }; \
	ninja -C $(LIBDRM_DIR)/build install >>$(LIBDRM_DIR)/meson.log 2>&1 || { tail -n 40 $(LIBDRM_DIR)/meson.log; exit 1; }; \
	touch $@

libdrm: $(LIBDRM_A)
.PHONY: libdrm

# Only the backends include libdrm's headers; hal links the archive.
$(BUILD)/musl/hal/host/kms.o: $(LIBDRM_A)
$(BUILD)/musl/hal/host/kms.o: MUSL_CFLAGS += $(LIBDRM_CFLAGS) -DHAL_LIBDRM
$(BUILD)/hal: $(LIBDRM_A)

# tests/e2e/display.sh's test program links the backends with libdrm.
-include tests/e2e/display.mk
