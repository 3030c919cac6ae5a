# Test layers (docs/testing.md):
#   unit         host, no KVM, ASan+UBSan: tests/unit/<layer>/test_*.c
#   integration  /dev/kvm, small guests the project builds: tests/guest/
#   e2e          QEMU TCG + nested SVM, Debian's kernel: tests/e2e/
# Every test prints "PASS name" / "FAIL name: why" / "SKIP name: why";
# tests/report.sh adds them up into "N passed, N failed".

HOST_CFLAGS := $(CSTD) -g -O1 $(WARN) -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer -Ihal -Iinit -I$(BUILD)/gen -DHAL_VERSION='"test"'
HOST_HAL_OBJS  := $(filter-out %/main.o,$(HAL_SRCS:%.c=$(BUILD)/host/%.o))
HOST_INIT_OBJS := $(filter-out %/main.o,$(INIT_SRCS:%.c=$(BUILD)/host/%.o))
# tests/unit/<layer>/test_*.c, one binary each: $(BUILD)/unit/test_*
UNIT_SRCS  := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BINS  := $(addprefix $(BUILD)/unit/,$(notdir $(UNIT_SRCS:.c=)))

$(BUILD)/host/%.o: %.c $(BUILD)/gen/dsdt.hex $(HAL_HDRS) $(wildcard init/*.h)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	@$(HOSTCC) $(HOST_CFLAGS) -c $< -o $@

vpath test_%.c $(sort $(dir $(UNIT_SRCS)))
$(BUILD)/unit/%: %.c tests/unit/check.h $(HOST_HAL_OBJS) $(HOST_INIT_OBJS)
	@mkdir -p $(dir $@)
	@echo "  HOSTLD  $@"
	@$(HOSTCC) $(HOST_CFLAGS) -Itests/unit -o $@ $< $(HOST_HAL_OBJS) $(HOST_INIT_OBJS) -lpthread

include tests/fuzz/fuzz.mk
-include tests/guest/guest.mk
-include tests/e2e/e2e.mk
-include tests/bench/bench.mk

unit: $(UNIT_BINS) $(BUILD)/bench/fbbench
	@sh tests/layout.sh
	@for t in $(UNIT_BINS); do $$t || echo "FAIL $$(basename $$t): exited $$?"; done
	@if $(BUILD)/bench/fbbench 2 >/dev/null; then echo "PASS bench-fb-runs"; \
	else echo "FAIL bench-fb-runs: make bench-fb's program exited $$? (tests/bench/fbbench.c out of date?)"; fi

test: all $(BUILD)/.test-deps $(UNIT_BINS) $(GUEST_BINS) $(BED_QEMU)
	@$(MAKE) --no-print-directory fuzz-bins
	@BUILD=$(BUILD) tests/run.sh

.PHONY: unit

# hal itself with ASan+UBSan (glibc, dynamic: sanitizers do not exist for
# static musl), for the shutdown test (tests/guest/run.sh, "shutdown"); the
# nested test bed copies it into L1 with the libraries ldd names.
$(BUILD)/hal-asan: $(HOST_HAL_OBJS) $(BUILD)/host/hal/pc/main.o
	@echo "  HOSTLD  $@"
	@$(HOSTCC) $(HOST_CFLAGS) -o $@ $^ -lpthread
