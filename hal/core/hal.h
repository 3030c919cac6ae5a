/* hal: shared types of the VMM. See docs/architecture.md. */
#ifndef HAL_H
#define HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

#define HAL_MAX_CPUS 64

#include "core/exitcode.h"

/* ---- guest physical memory map (mem.c) ------------------------------------ */

#define LOWMEM_LIMIT   0x80000000ULL /* RAM below 4 GiB stops here: PCI MMIO above (dsdt.asl) */
#define HIGHMEM_BASE   0x100000000ULL
#define EBDA_START     0x9FC00ULL
#define VGA_HOLE_START 0xA0000ULL
#define ROM_START      0xC0000ULL /* 0xC0000-0xFFFFF: option ROMs and BIOS, RAM-backed */
#define HIMEM_START    0x100000ULL
#define KVM_IDMAP_ADDR 0xFEFFC000ULL /* KVM_SET_IDENTITY_MAP_ADDR: 1 page */
#define KVM_TSS_ADDR   0xFEFFD000ULL /* KVM_SET_TSS_ADDR: 3 pages */

enum e820_type { E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3 };

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

#define MAX_REGIONS 4
struct mem_region {
	uint64_t gpa, size;
	uint8_t *hva;
};

struct guest_mem {
	uint64_t ram_size;  /* what the user asked for */
	uint64_t low_end;   /* end of RAM below 4 GiB */
	uint64_t high_size; /* RAM above 4 GiB */
	uint8_t *base;      /* host mapping of all guest RAM, 2 MiB aligned */
	struct mem_region regions[MAX_REGIONS];
	int nregions;
};

int mem_init(struct guest_mem *m, uint64_t ram_size);
void mem_exit(struct guest_mem *m);
/* Host pointer for [gpa, gpa+len) if it lies wholly inside one RAM region,
 * else NULL. Every guest-supplied address goes through here. */
void *gpa_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);
int mem_e820(const struct guest_mem *m, struct e820_entry *out, int max);
int mem_e820_fw(const struct guest_mem *m, struct e820_entry *out, int max);

/* ---- I/O dispatch (bus.c) --------------------------------------------------
 * One signature for port and MMIO traps. `data` holds `len` bytes, little
 * endian; a read handler fills it. */
struct vcpu;
typedef void io_fn(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

enum bus_kind { BUS_PIO, BUS_MMIO };
int bus_register(enum bus_kind kind, uint64_t base, uint64_t len, io_fn *fn, void *dev);
void bus_unregister(enum bus_kind kind, uint64_t base, void *dev);
void bus_unregister_all(void); /* unit tests: a clean bus */
/* Ranges registered now: 0 after a VM's tear-down, or something leaked. */
int bus_count(void);
/* Returns false when nothing is mapped there (reads then give all ones). */
bool bus_access(enum bus_kind kind, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

/* ---- the VM (kvm.c, vcpu.c) ------------------------------------------------ */

struct vm {
	int kvm_fd, vm_fd;
	int vcpu_mmap_size;
	struct guest_mem mem;
	int ncpus;
	struct vcpu *vcpus;
	struct kvm_cpuid2 *cpuid; /* what KVM supports, shared read-only by vCPUs */
	int phys_bits;

	/* Run control (vcpu.c): the first stop request wins. */
	pthread_mutex_t lock;     /* protects stopping, exit_code */
	bool reset_on_triple_fault; /* firmware boot: a triple fault is a reset */
	bool stopping;
	int exit_code;
	int stop_fd;              /* eventfd, readable once the VM should stop (main loop) */

	/* Memory slots (kvm.c): numbers are handed out in order; a moved or
	 * unmapped slot keeps its number. */
#define VM_MAX_SLOTS 32
	int nslots;
	bool slot_present[VM_MAX_SLOTS];
	/* ROM copies the VM owns, unmapped with it (a reboot must not leak the
	 * firmware image). */
#define VM_MAX_ROMS 4
	struct { void *p; uint64_t size; } roms[VM_MAX_ROMS];
	int nroms;
};

extern struct vm *the_vm;

/* /dev/kvm, the VM with its irqchip and PIT, KVM's CPUID list; on failure
 * nothing is left open. vm_destroy closes the VM, which drops every memory
 * slot, and frees the ROM copies (vm_add_rom). */
int vm_create(struct vm *vm, int ncpus);
void vm_destroy(struct vm *vm);
/* Guest RAM (mem.c) and its memory slots. */
int vm_ram_init(struct vm *vm, uint64_t ram_size);
void vm_ram_exit(struct vm *vm);
void vm_irq_line(int irq, int level);
/* The HPET took IRQ 0 (LegacyReplacement on): the in-kernel PIT stops
 * raising it; off gives it back. Thread safe. */
int vm_pit_hpet_legacy(bool on);
/* Ask every vCPU to stop; the first reason given wins. Thread safe. */
void vm_request_stop(int exit_code);
/* A guest write of `len` bytes at addr (port or MMIO) signals eventfd `fd`
 * in the kernel without an exit to hal. */
int vm_ioeventfd(uint64_t addr, uint32_t len, bool pio, int fd, bool assign);
/* Deliver one MSI (PCI MSI-X message) to the guest. */
int vm_signal_msi(uint64_t addr, uint32_t data);
/* Eventfd fd, when signalled, delivers the MSI (addr, data) in the kernel
 * (KVM_IRQFD on an MSI route), without a wake-up of any hal thread.
 * assign with *gsi < 0: a new route and irqfd, its GSI into *gsi; with a
 * route already (*gsi >= 0): the route changed to (addr, data); !assign:
 * both gone, *gsi -1. 0, or -1 with errno. Thread safe. */
int vm_irqfd_msi(int fd, int *gsi, uint64_t addr, uint32_t data, bool assign);
/* RAM-backed guest memory outside the main RAM (framebuffers): returns a
 * slot number; _move re-places it (present=false unmaps it); dirty pages
 * since the last call come back as one bit per 4 KiB page. */
int vm_ram_slot(uint64_t gpa, uint64_t size, void *hva, bool dirty_log);
int vm_ram_slot_move(int slot, uint64_t gpa, uint64_t size, void *hva, bool dirty_log, bool present);
int vm_dirty_log(int slot, uint64_t *bitmap);
/* A read-only slot over hal's own memory at hva (flash in read-array mode:
 * guest writes exit as MMIO): slot < 0 creates one (returns its number),
 * otherwise maps (present) or unmaps it in place. -1 on failure. */
int vm_rom_slot(int slot, uint64_t gpa, uint64_t size, void *hva, bool present);
/* A read-only memory slot holding a copy of `data` (firmware images). */
int vm_add_rom(uint64_t gpa, const void *data, uint64_t size);

struct vcpu {
	struct vm *vm;
	int id, fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

/* The vCPUs and the stop eventfd; on failure nothing is left. */
int vcpus_create(struct vm *vm);
int vcpus_start(struct vm *vm);
void vcpus_stop(struct vm *vm);
/* Wait until every started vCPU thread has returned (after vm_request_stop). */
void vcpus_join(struct vm *vm);
void vcpus_join_destroy(struct vm *vm);
void vcpu_dump(struct vcpu *v);
/* Register set-up for the boot paths (x86/boot.c): flat 0x10/0x18
 * segments from a GDT written at gdt (guest RAM), paging from cr3 in long
 * mode. BOOT_RESET keeps KVM's reset state. */
struct boot_regs {
	enum { BOOT_RESET, BOOT_PM32, BOOT_LONG64 } mode;
	uint64_t rip, rsi;
	uint64_t gdt, cr3;
};
int vcpu_set_boot_regs(struct vcpu *v, const struct boot_regs *br);

/* CPUID policy: pure function over KVM's supported list (cpuid.c). */
struct kvm_cpuid2;
void cpuid_fixup(struct kvm_cpuid2 *c, int cpu, int ncpus, int phys_bits);
int host_phys_bits(void);

/* ---- confinement -------------------------------------------------------------
 * Threads that run guest-driven code call hal_confine() when they start;
 * pc/main.c points the hook at sandbox/seccomp.c (NULL: none, the tests). */
enum hal_thread { HAL_THREAD_VCPU, HAL_THREAD_IO };
extern int (*hal_confine_thread)(enum hal_thread kind);
static inline int hal_confine(enum hal_thread kind) { return hal_confine_thread ? hal_confine_thread(kind) : 0; }

/* ---- time ------------------------------------------------------------------- */
uint64_t now_ns(void);
extern uint64_t hal_start_ns;

/* ---- files ------------------------------------------------------------------ */
/* A whole regular file or block device of at most max bytes, malloc'd; NULL
 * after a message naming it as `what` ("kernel", "firmware"...). */
uint8_t *hal_read_file(const char *what, const char *path, size_t max, size_t *size);
/* pread all n bytes at off (retrying EINTR and short reads): 0, or -1 with
 * errno (0 at end of file). */
int hal_pread_all(int fd, void *buf, size_t n, uint64_t off);

/* CRC-32 as PNG, zlib and the GPT use it (IEEE 802.3); crc 0 to start. */
uint32_t crc32_ieee(uint32_t crc, const uint8_t *p, size_t n);

/* ---- logging ---------------------------------------------------------------- */
#define err(...) hal_log("error", __VA_ARGS__)
#define warnx(...) hal_log("warning", __VA_ARGS__)
void hal_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern int hal_verbose;
#define dbg(...) do { if (hal_verbose) hal_log("debug", __VA_ARGS__); } while (0)

#endif
