# The display test bed's programs (tests/e2e/display.sh). Included by
# hal/host/libdrm.mk, after tests/e2e/e2e.mk (E2E) and the libdrm rules.
$(E2E)/kmstest: tests/e2e/kmstest.c $(BUILD)/musl/hal/host/kms.o $(BUILD)/musl/hal/host/fbdev.o \
		$(BUILD)/musl/hal/host/console.o $(BUILD)/musl/hal/core/util.o $(LIBDRM_A)
	@mkdir -p $(E2E)
	$(MUSLCC) $(MUSL_CFLAGS) $(MUSL_LDFLAGS) -o $@ $^
# halctl (tests/guest/halctl.c) for L1: the control-socket client that takes
# the GRUB screendumps and presses keys; static, so the host can run it too.
$(E2E)/halctl: tests/guest/halctl.c tests/guest/pattern.h $(UAPI)/.stamp
	@mkdir -p $(E2E)
	$(MUSLCC) $(MUSL_CFLAGS) -Itests/guest $(MUSL_LDFLAGS) -o $@ $<
