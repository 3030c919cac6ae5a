# Integration-test guests (included by tests/tests.mk). Freestanding code
# built with the host's gcc/binutils; see tests/guest/run.sh for what each
# guest checks.
#   payload64.bzimage  bzImage, XLF_KERNEL_64: 64-bit entry at pm+0x200
#   payload32.bzimage  bzImage, 32-bit entry at code32_start
#   (both also have a real-mode entry at setup+0x200 for QEMU -kernel)
#   flatfw.bin         64 KiB firmware for hal --firmware, reset vector
#   crc32, halctl, ptyrun  helpers run by tests/guest/run.sh: static musl, so
#                      the same binaries run on the host and in the nested bed
#   mkbzimage          build-time host tool

GUEST_SRC := tests/guest
GUEST_OUT := $(BUILD)/guest
GUEST_CC      ?= gcc
GUEST_LD      ?= ld
GUEST_OBJCOPY ?= objcopy

GUEST_BINS := $(GUEST_OUT)/payload64.bzimage $(GUEST_OUT)/payload32.bzimage \
              $(GUEST_OUT)/flatfw.bin $(GUEST_OUT)/crc32 $(GUEST_OUT)/halctl $(GUEST_OUT)/ptyrun \
              $(GUEST_OUT)/jrnlcheck

GUEST_CFLAGS := -std=c11 -Os -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector \
                -mno-red-zone -mgeneral-regs-only -fno-strict-aliasing -fno-builtin \
                -fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none \
                -Wall -Wextra -Werror -I$(GUEST_SRC)
GUEST_LDFLAGS := -nostdlib -static -z noexecstack --no-warn-rwx-segments --build-id=none
GUEST_DEPS := $(GUEST_SRC)/gio.h $(GUEST_SRC)/vblk.h $(GUEST_SRC)/payload.h $(GUEST_SRC)/pattern.h $(GUEST_SRC)/guest.mk

$(GUEST_OUT)/.dir:
	@mkdir -p $(GUEST_OUT) && touch $@

# --- host helpers -------------------------------------------------------------
$(GUEST_OUT)/crc32 $(GUEST_OUT)/ptyrun $(GUEST_OUT)/jrnlcheck: $(GUEST_OUT)/%: $(GUEST_SRC)/%.c $(BUILD)/.deps | $(GUEST_OUT)/.dir
	$(MUSLCC) -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -static -s -o $@ $<
$(GUEST_OUT)/halctl: $(GUEST_SRC)/halctl.c $(GUEST_SRC)/pattern.h $(BUILD)/.deps | $(GUEST_OUT)/.dir
	$(MUSLCC) -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I$(GUEST_SRC) -static -s -o $@ $<
$(GUEST_OUT)/mkbzimage: $(GUEST_SRC)/mkbzimage.c | $(GUEST_OUT)/.dir
	$(HOSTCC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $<

# --- real-mode setup area (xloadflags differs) ------------------------------
$(GUEST_OUT)/setup64.o: $(GUEST_SRC)/setup.S $(GUEST_DEPS) | $(GUEST_OUT)/.dir
	$(GUEST_CC) -m32 $(GUEST_CFLAGS) -DXLF=1 -c -o $@ $<
$(GUEST_OUT)/setup32.o: $(GUEST_SRC)/setup.S $(GUEST_DEPS) | $(GUEST_OUT)/.dir
	$(GUEST_CC) -m32 $(GUEST_CFLAGS) -DXLF=0 -c -o $@ $<
$(GUEST_OUT)/setup%.bin: $(GUEST_OUT)/setup%.o
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -Ttext=0 -e _start -o $@.elf $<
	$(GUEST_OBJCOPY) -O binary -j .text $@.elf $@

# --- checker, 32- and 64-bit ---------------------------------------------------
$(GUEST_OUT)/checker32.o: $(GUEST_SRC)/checker.c $(GUEST_DEPS) | $(GUEST_OUT)/.dir
	$(GUEST_CC) -m32 $(GUEST_CFLAGS) -c -o $@ $<
$(GUEST_OUT)/checker64.o: $(GUEST_SRC)/checker.c $(GUEST_DEPS) | $(GUEST_OUT)/.dir
	$(GUEST_CC) -m64 -mcmodel=small $(GUEST_CFLAGS) -c -o $@ $<
$(GUEST_OUT)/head32.o: $(GUEST_SRC)/head32.S $(GUEST_DEPS) | $(GUEST_OUT)/.dir
	$(GUEST_CC) -m32 $(GUEST_CFLAGS) -c -o $@ $<
$(GUEST_OUT)/head64.o: $(GUEST_SRC)/head64.S $(GUEST_OUT)/blob32.bin $(GUEST_DEPS)
	$(GUEST_CC) -m64 $(GUEST_CFLAGS) -DBLOB32='"$(GUEST_OUT)/blob32.bin"' -c -o $@ $<

# payload32's protected-mode part at 0x100000; the same objects at 0x110000
# become the 32-bit half of payload64.
$(GUEST_OUT)/pm32.elf: $(GUEST_OUT)/head32.o $(GUEST_OUT)/checker32.o $(GUEST_SRC)/payload.ld
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -T $(GUEST_SRC)/payload.ld --defsym PM_BASE=0x100000 -o $@ $(filter %.o,$^)
$(GUEST_OUT)/blob32.elf: $(GUEST_OUT)/head32.o $(GUEST_OUT)/checker32.o $(GUEST_SRC)/payload.ld
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -T $(GUEST_SRC)/payload.ld --defsym PM_BASE=0x110000 -o $@ $(filter %.o,$^)
$(GUEST_OUT)/pm64.elf: $(GUEST_OUT)/head64.o $(GUEST_OUT)/checker64.o $(GUEST_SRC)/payload.ld
	$(GUEST_LD) -m elf_x86_64 $(GUEST_LDFLAGS) -T $(GUEST_SRC)/payload.ld --defsym PM_BASE=0x100000 -o $@ $(filter %.o,$^)
$(GUEST_OUT)/pm32.bin $(GUEST_OUT)/blob32.bin $(GUEST_OUT)/pm64.bin: $(GUEST_OUT)/%.bin: $(GUEST_OUT)/%.elf
	$(GUEST_OBJCOPY) -O binary $< $@

$(GUEST_OUT)/payload%.bzimage: $(GUEST_OUT)/setup%.bin $(GUEST_OUT)/pm%.bin $(GUEST_OUT)/mkbzimage
	$(GUEST_OUT)/mkbzimage $(GUEST_OUT)/setup$*.bin $(GUEST_OUT)/pm$*.bin $@

# --- flat firmware -------------------------------------------------------------
$(GUEST_OUT)/flatfw.o: $(GUEST_SRC)/flatfw.S $(GUEST_DEPS) | $(GUEST_OUT)/.dir
	$(GUEST_CC) -m32 $(GUEST_CFLAGS) -c -o $@ $<
$(GUEST_OUT)/flatfw.bin: $(GUEST_OUT)/flatfw.o
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -Ttext=0 -e _start -o $@.elf $<
	$(GUEST_OBJCOPY) -O binary -j .text $@.elf $@
	@test $$(stat -c %s $@) = 65536 || { echo "$@: not 64 KiB"; rm -f $@; exit 1; }

.PHONY: guests
guests: $(GUEST_BINS)
.SECONDARY: $(GUEST_OUT)/setup32.bin $(GUEST_OUT)/setup64.bin $(GUEST_OUT)/pm32.bin $(GUEST_OUT)/pm64.bin $(GUEST_OUT)/blob32.bin

# --- boot disk for the BIOS path (SeaBIOS + virtio-blk) -----------------------
#   bootdisk.img   1 MiB raw disk: MBR (hello, INT 13h extensions, LBA read),
#                  second stage at LBA 1, pattern at LBA 2-4 (bootdisk.S)
#   crash.bzimage  setup32 + a 32-bit part that triple-faults (crash.S)
GUEST_BINS += $(GUEST_OUT)/bootdisk.img $(GUEST_OUT)/crash.bzimage
guests: $(GUEST_OUT)/bootdisk.img $(GUEST_OUT)/crash.bzimage

$(GUEST_OUT)/bootdisk.o: $(GUEST_SRC)/bootdisk.S $(GUEST_SRC)/guest.mk | $(GUEST_OUT)/.dir
	$(GUEST_CC) -m32 $(GUEST_CFLAGS) -c -o $@ $<
$(GUEST_OUT)/bootdisk.img: $(GUEST_OUT)/bootdisk.o
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -Ttext=0x7c00 -e _start -o $@.elf $<
	$(GUEST_OBJCOPY) -O binary -j .text $@.elf $@.tmp
	@test $$(stat -c %s $@.tmp) = 2560 || { echo "$@: boot code is not 5 sectors"; rm -f $@.tmp; exit 1; }
	@test "$$(od -An -tx1 -j510 -N2 $@.tmp | tr -d ' ')" = 55aa || { echo "$@: no 0x55AA"; rm -f $@.tmp; exit 1; }
	truncate -s 1M $@.tmp && chmod 644 $@.tmp && mv $@.tmp $@

$(GUEST_OUT)/crash.o: $(GUEST_SRC)/crash.S $(GUEST_DEPS) | $(GUEST_OUT)/.dir
	$(GUEST_CC) -m32 $(GUEST_CFLAGS) -c -o $@ $<
$(GUEST_OUT)/crashpm.bin: $(GUEST_OUT)/crash.o
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -Ttext=0x100000 -e _start -o $@.elf $<
	$(GUEST_OBJCOPY) -O binary -j .text $@.elf $@
$(GUEST_OUT)/crash.bzimage: $(GUEST_OUT)/setup32.bin $(GUEST_OUT)/crashpm.bin $(GUEST_OUT)/mkbzimage
	$(GUEST_OUT)/mkbzimage $(GUEST_OUT)/setup32.bin $(GUEST_OUT)/crashpm.bin $@
.SECONDARY: $(GUEST_OUT)/crashpm.bin

# --- disks of the firmware-choice tests (tests/guest/mkfwdisk.sh) -------------
#   fw-esp.img fw-hybrid.img fw-mbr-esp.img fw-noesp.img   4 MiB each
FW_DISKS := $(GUEST_OUT)/fw-esp.img $(GUEST_OUT)/fw-hybrid.img $(GUEST_OUT)/fw-mbr-esp.img $(GUEST_OUT)/fw-noesp.img
GUEST_BINS += $(FW_DISKS)
guests: $(FW_DISKS)
$(GUEST_OUT)/fw-%.img: $(GUEST_SRC)/mkfwdisk.sh | $(GUEST_OUT)/.dir
	sh $(GUEST_SRC)/mkfwdisk.sh $* $@

# --- guests that run one loop until hal is stopped or killed ------------------
#   busy.bzimage     busy.c: keeps every device busy (run.sh, "shutdown")
#   journal.bzimage  journal.c: numbered records, FLUSH, "jrnl: N" once N
#                    are durable (run.sh, "journal")
#   chaos.bzimage    chaos.c: random port, MMIO, PCI config, virtqueue and
#                    fw_cfg DMA operations from a seed (run.sh, "chaos")
# each setup32 + head32 + NAME.c, 32-bit entry, linked at 1 MiB
LOOP_GUESTS := busy journal chaos
GUEST_BINS += $(LOOP_GUESTS:%=$(GUEST_OUT)/%.bzimage)
guests: $(LOOP_GUESTS:%=$(GUEST_OUT)/%.bzimage)
$(LOOP_GUESTS:%=$(GUEST_OUT)/%32.o): $(GUEST_OUT)/%32.o: $(GUEST_SRC)/%.c $(GUEST_DEPS) | $(GUEST_OUT)/.dir
	$(GUEST_CC) -m32 $(GUEST_CFLAGS) -c -o $@ $<
$(LOOP_GUESTS:%=$(GUEST_OUT)/%pm.elf): $(GUEST_OUT)/%pm.elf: $(GUEST_OUT)/head32.o $(GUEST_OUT)/%32.o $(GUEST_SRC)/payload.ld
	$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -T $(GUEST_SRC)/payload.ld --defsym PM_BASE=0x100000 -o $@ $(filter %.o,$^)
$(LOOP_GUESTS:%=$(GUEST_OUT)/%pm.bin): $(GUEST_OUT)/%pm.bin: $(GUEST_OUT)/%pm.elf
	$(GUEST_OBJCOPY) -O binary $< $@
$(LOOP_GUESTS:%=$(GUEST_OUT)/%.bzimage): $(GUEST_OUT)/%.bzimage: $(GUEST_OUT)/setup32.bin $(GUEST_OUT)/%pm.bin $(GUEST_OUT)/mkbzimage
	$(GUEST_OUT)/mkbzimage $(GUEST_OUT)/setup32.bin $(GUEST_OUT)/$*pm.bin $@
.SECONDARY: $(LOOP_GUESTS:%=$(GUEST_OUT)/%pm.bin)
