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
