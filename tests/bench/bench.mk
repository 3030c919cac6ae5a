# hal vs QEMU benchmark (docs/benchmarks.md). Include from tests/tests.mk:
#   -include tests/bench/bench.mk
# then: make bench [N=5]

.PHONY: bench
bench: $(BUILD)/hal $(BUILD)/bench/vmmbench $(BUILD)/guest/payload64.bzimage $(BUILD)/.test-deps
	@BUILD=$(BUILD) N=$(or $(N),5) sh tests/bench/bench.sh

$(BUILD)/bench/vmmbench: tests/bench/vmmbench.c | $(BUILD)/.dir
	@mkdir -p $(dir $@)
	$(HOSTCC) -O2 -Wall -Wextra -Werror -o $@ $<
