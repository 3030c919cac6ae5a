# libFuzzer targets (tests/fuzz/fuzz_*.c, docs/security.md): the same hal/
# and init/ sources as the unit tests, compiled by clang with coverage
# instrumentation, ASan and UBSan, each linked with its harness.
#   make fuzz FUZZ_SECONDS=N   build, run each target N s, print the figures
#   make fuzz-bins             build only (make test's smoke runs them)
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(CSTD) -g -O1 $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
                -Ihal -Iinit -I$(BUILD)/gen -DHAL_VERSION='"fuzz"'
FUZZ_OBJS    := $(patsubst $(BUILD)/host/%,$(BUILD)/fuzz/obj/%,$(HOST_HAL_OBJS) $(HOST_INIT_OBJS))
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
# clang and its fuzzer runtime (clang-14, libclang-rt-14-dev): without
# them the targets are not built and the smoke test says SKIP.
FUZZ_HAVE     = $(shell $(FUZZ_CC) -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null | grep -q / && echo yes)

$(BUILD)/fuzz/obj/%.o: %.c $(BUILD)/gen/dsdt.hex $(HAL_HDRS) $(wildcard init/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(BUILD)/fuzz/obj/hal/display/vgatext.o: $(BUILD)/gen/font8x16.h

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(wildcard tests/fuzz/fuzz_*.h) $(FUZZ_OBJS)
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(FUZZ_OBJS) -lpthread

# Recursive so that a clang installed by .test-deps in the same run counts.
fuzz-bins: | $(BUILD)/.deps
	@if [ -n "$(FUZZ_HAVE)" ]; then $(MAKE) --no-print-directory $(FUZZ_BINS); \
	else echo "fuzz: $(FUZZ_CC) with libFuzzer missing: apt-get install clang-14 libclang-rt-14-dev"; fi
fuzz: fuzz-bins
	@BUILD=$(BUILD) sh tests/fuzz/run.sh run $(FUZZ_SECONDS)

.PHONY: fuzz fuzz-bins
.PRECIOUS: $(BUILD)/fuzz/obj/%.o
