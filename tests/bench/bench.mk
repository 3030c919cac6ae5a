# hal vs QEMU benchmark (docs/benchmarks.md). Include from tests/tests.mk:
#   -include tests/bench/bench.mk
# then: make bench [N=5]

.PHONY: bench
bench: $(BUILD)/hal $(BUILD)/bench/vmmbench $(BUILD)/guest/payload64.bzimage $(BUILD)/.test-deps
	@BUILD=$(BUILD) N=$(or $(N),5) sh tests/bench/bench.sh

$(BUILD)/bench/vmmbench: tests/bench/vmmbench.c | $(BUILD)/.dir
	@mkdir -p $(dir $@)
	$(HOSTCC) -O2 -Wall -Wextra -Werror -o $@ $<

# The same benchmark inside the nested test bed (QEMU TCG, -cpu EPYC, kvm-amd
# in L1; see docs/testing.md): hal and QEMU both run on hardware-style (SVM)
# virtualization there. Takes a few minutes.
.PHONY: bench-nested
bench-nested: $(BUILD)/bench/l1bench.cpio.gz
	@sh tests/bench/nested.sh $(BUILD)

$(BUILD)/bench/vmmbench.static: tests/bench/vmmbench.c $(UAPI)/.stamp
	@mkdir -p $(dir $@)
	$(MUSLCC) $(MUSL_CFLAGS) -static -s -o $@ $<

$(BUILD)/bench/l1bench.cpio.gz: $(BUILD)/e2e/kver $(BUILD)/e2e/mkcpio $(BUILD)/hal \
		$(BUILD)/bench/vmmbench.static $(BUILD)/guest/payload64.bzimage \
		tests/bench/mkl1bench.sh tests/bench/l1bench.sh tests/bench/bench.sh $(BUILD)/.test-deps
	sh tests/bench/mkl1bench.sh $(BUILD)/e2e $(BUILD)/e2e/mkcpio $(BUILD)/hal \
		$(BUILD)/bench/vmmbench.static $(BUILD)/guest/payload64.bzimage $@

# Framebuffer core CPU time per frame (docs/benchmarks.md, "Display").
FBBENCH_SRCS := tests/bench/fbbench.c hal/display/fb.c hal/display/png.c hal/display/vgatext.c hal/core/loop.c hal/core/util.c
.PHONY: bench-fb
bench-fb: $(BUILD)/bench/fbbench
	@sh tests/bench/fb.sh $(BUILD)
$(BUILD)/bench/fbbench: $(FBBENCH_SRCS) $(BUILD)/gen/font8x16.h hal/display/fb.h hal/display/display.h | $(BUILD)/.dir
	@mkdir -p $(dir $@)
	$(HOSTCC) $(CSTD) -O2 $(WARN) -Ihal -I$(BUILD)/gen -o $@ $(FBBENCH_SRCS)

# virtio-net throughput, hal vs QEMU, in the network test bed: both VMMs in
# L1 on the same bridge, with and without vhost-net (docs/benchmarks.md,
# "Network"). About 10 minutes.
.PHONY: bench-net
bench-net: $(BUILD)/hal $(BUILD)/.test-deps $(BED_QEMU)
	@NET_BENCH=1 BUILD=$(BUILD) sh tests/e2e/net.sh

# virtio-blk speed, hal vs QEMU, in the nested test bed: fio in the same L2
# guest on the same raw image under both VMMs (docs/benchmarks.md, "Disk").
# About 9 minutes (3 rounds); DISK_NBD=1 adds hal's NBD client against QEMU's (about
# 16). The images are prerequisites, not built by disk.sh through $(MAKE),
# so that `make -n bench-disk` does not boot the bed.
BENCH_DISK_DEPS := fio
$(BUILD)/.bench-disk-deps: tests/bench/bench.mk | $(BUILD)/.test-deps
	$(call need_pkgs,$(BENCH_DISK_DEPS))
	@touch $@
$(E2E)/l2disk.cpio: $(BUILD)/.bench-disk-deps
.PHONY: bench-disk
bench-disk: $(BUILD)/hal $(BUILD)/.test-deps $(BED_QEMU) e2e-images $(E2E)/l2disk.cpio
	@BUILD=$(BUILD) sh tests/e2e/disk.sh
