/* The KVM virtual machine: irqchip, PIT, memory slots, interrupt lines. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "core/hal.h"

struct vm *the_vm;


static int slot_ioctl(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva, uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		err("KVM_SET_USER_MEMORY_REGION 0x%llx+0x%llx: %s", (unsigned long long)gpa,
		    (unsigned long long)size, strerror(errno));
		return -1;
	}
	return 0;
}


static int set_slot(struct vm *vm, uint64_t gpa, uint64_t size, void *hva, uint32_t flags)
{
	if (vm->nslots == VM_MAX_SLOTS || slot_ioctl(vm, (uint32_t)vm->nslots, gpa, size, hva, flags) < 0)
		return -1;
	vm->slot_present[vm->nslots] = true;
	return vm->nslots++;
}

int vm_ram_slot(uint64_t gpa, uint64_t size, void *hva, bool dirty_log)
{
	return set_slot(the_vm, gpa, size, hva, dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0);
}

static int slot_move(int slot, uint64_t gpa, uint64_t size, void *hva, uint32_t flags, bool present)
{
	if (slot < 0 || slot >= the_vm->nslots)
		return -1;
	/* KVM moves a slot by deleting it (size 0) and adding it again; deleting
	 * one that is not there is an error. */
	if (the_vm->slot_present[slot]) {
		if (slot_ioctl(the_vm, (uint32_t)slot, 0, 0, hva, 0) < 0)
			return -1;
		the_vm->slot_present[slot] = false;
	}
	if (!present)
		return 0;
	if (slot_ioctl(the_vm, (uint32_t)slot, gpa, size, hva, flags) < 0)
		return -1;
	the_vm->slot_present[slot] = true;
	return 0;
}

int vm_ram_slot_move(int slot, uint64_t gpa, uint64_t size, void *hva, bool dirty_log, bool present)
{
	return slot_move(slot, gpa, size, hva, dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0, present);
}

int vm_rom_slot(int slot, uint64_t gpa, uint64_t size, void *hva, bool present)
{
	if (slot < 0)
		return present ? set_slot(the_vm, gpa, size, hva, KVM_MEM_READONLY) : -1;
	return slot_move(slot, gpa, size, hva, KVM_MEM_READONLY, present) < 0 ? -1 : slot;
}

int vm_dirty_log(int slot, uint64_t *bitmap)
{
	struct kvm_dirty_log d = { .slot = (uint32_t)slot, .dirty_bitmap = bitmap };
	return ioctl(the_vm->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0 ? -1 : 0;
}


int vm_add_rom(uint64_t gpa, const void *data, uint64_t size)
{
	/* A private read-only copy: guest writes exit as MMIO and are dropped, so
	 * the image stays pristine across resets (SeaBIOS re-copies from it). */
	uint64_t map = (size + 4095) & ~4095ULL;
	struct vm *vm = the_vm;
	if (vm->nroms == VM_MAX_ROMS) {
		err("more than %d ROM images", VM_MAX_ROMS);
		return -1;
	}
	void *p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		err("cannot map ROM: %s", strerror(errno));
		return -1;
	}
	memcpy(p, data, size);
	mprotect(p, map, PROT_READ);
	vm->roms[vm->nroms].p = p;
	vm->roms[vm->nroms++].size = map;
	return set_slot(vm, gpa, map, p, KVM_MEM_READONLY) < 0 ? -1 : 0;
}

static int vm_open(struct vm *vm, int ncpus)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = -1;
	vm->ncpus = ncpus;
	pthread_mutex_init(&vm->lock, NULL);
	the_vm = vm;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		err("cannot open /dev/kvm: %s%s", strerror(errno),
		    errno == ENOENT ? " (is the kvm-intel or kvm-amd module loaded?)" :
		    errno == EACCES ? " (are you in the kvm group?)" : "");
		return -1;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		err("unsupported KVM API version");
		return -1;
	}
	static const struct { int cap; const char *name; } need[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" }, { KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" }, { KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" }, { KVM_CAP_READONLY_MEM, "KVM_CAP_READONLY_MEM" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" }, { KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			err("this KVM lacks %s", need[i].name);
			return -1;
		}
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && ncpus > max) {
		err("--cpus %d: this KVM allows at most %d", ncpus, max);
		return -1;
	}
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		err("KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ KVM_IDMAP_ADDR }) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0) {
		err("KVM_SET_TSS_ADDR: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		err("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -1;
	}
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		err("KVM_CREATE_PIT2: %s", strerror(errno));
		return -1;
	}

	int n = 256;
	for (;;) {
		vm->cpuid = calloc(1, sizeof(*vm->cpuid) + n * sizeof(struct kvm_cpuid_entry2));
		if (!vm->cpuid)
			return -1;
		vm->cpuid->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid) == 0)
			break;
		free(vm->cpuid);
		vm->cpuid = NULL;
		if (errno != E2BIG || n > 4096) {
			err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
			return -1;
		}
		n *= 2;
	}
	vm->phys_bits = host_phys_bits();
	return 0;
}

int vm_create(struct vm *vm, int ncpus)
{
	if (vm_open(vm, ncpus) == 0)
		return 0;
	vm_destroy(vm);
	return -1;
}

/* Closing the VM drops every memory slot; the memory behind them is freed
 * after that: RAM by vm_ram_exit before, ROM copies here. */
void vm_destroy(struct vm *vm)
{
	free(vm->cpuid);
	vm->cpuid = NULL;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	vm->nslots = 0;
	memset(vm->slot_present, 0, sizeof(vm->slot_present));
	while (vm->nroms > 0) {
		vm->nroms--;
		munmap(vm->roms[vm->nroms].p, vm->roms[vm->nroms].size);
	}
	pthread_mutex_destroy(&vm->lock);
}

int vm_ram_init(struct vm *vm, uint64_t ram_size)
{
	if (mem_init(&vm->mem, ram_size) < 0)
		return -1;
	for (int i = 0; i < vm->mem.nregions; i++) {
		struct mem_region *r = &vm->mem.regions[i];
		if (set_slot(vm, r->gpa, r->size, r->hva, 0) < 0) {
			mem_exit(&vm->mem);
			return -1;
		}
	}
	return 0;
}

/* Slots go with the VM; the RAM's host mapping is released here, so this
 * runs only once no vCPU can touch it. */
void vm_ram_exit(struct vm *vm)
{
	mem_exit(&vm->mem);
}

/* HPET legacy replacement: KVM's PIT stops (or resumes) driving IRQ 0;
 * its channels keep their state, as QEMU's in-kernel PIT does it. */
int vm_pit_hpet_legacy(bool on)
{
	struct kvm_pit_state2 ps;
	if (ioctl(the_vm->vm_fd, KVM_GET_PIT2, &ps) < 0) {
		warnx("KVM_GET_PIT2: %s", strerror(errno));
		return -1;
	}
	ps.flags = on ? ps.flags | KVM_PIT_FLAGS_HPET_LEGACY : ps.flags & ~(uint32_t)KVM_PIT_FLAGS_HPET_LEGACY;
	if (ioctl(the_vm->vm_fd, KVM_SET_PIT2, &ps) < 0) {
		warnx("KVM_SET_PIT2 (HPET legacy %s): %s", on ? "on" : "off", strerror(errno));
		return -1;
	}
	return 0;
}

void vm_irq_line(int irq, int level)
{
	struct kvm_irq_level l = { .irq = (uint32_t)irq, .level = (uint32_t)level };
	if (ioctl(the_vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		warnx("KVM_IRQ_LINE %d: %s", irq, strerror(errno));
}

int vm_ioeventfd(uint64_t addr, uint32_t len, bool pio, int fd, bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = addr, .len = len, .fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};
	if (ioctl(the_vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		warnx("KVM_IOEVENTFD 0x%llx: %s", (unsigned long long)addr, strerror(errno));
		return -1;
	}
	return 0;
}

int vm_signal_msi(uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data };
	return ioctl(the_vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -1 : 0;
}

/* MSI routes for irqfds. KVM_SET_GSI_ROUTING replaces the whole table, so
 * it is sent with KVM's own default entries first (GSI 0-15 on the PIC and
 * the IOAPIC pin of the same number, 16-23 on the IOAPIC only, as
 * KVM_CREATE_IRQCHIP set them up; hal's IRQ lines stay where they were),
 * then one MSI entry per route in use at GSI 24 + its index. Not sent at
 * all until the first route: a machine without irqfds keeps KVM's table. */
#define IRQCHIP_GSIS 24
#define MSI_ROUTES 16
static pthread_mutex_t routes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { bool used; uint64_t addr; uint32_t data; } msi_routes[MSI_ROUTES];

static int routes_commit(void)
{
	/* struct kvm_irq_routing ends in a flexible array: room for ours after it */
	static _Alignas(struct kvm_irq_routing_entry) uint8_t buf[sizeof(struct kvm_irq_routing) +
							     (IRQCHIP_GSIS + 16 + MSI_ROUTES) *
								     sizeof(struct kvm_irq_routing_entry)];
	struct kvm_irq_routing *r = (struct kvm_irq_routing *)buf;
	struct kvm_irq_routing_entry *e = r->entries;
	unsigned n = 0;
	memset(buf, 0, sizeof(buf));
	for (unsigned gsi = 0; gsi < IRQCHIP_GSIS; gsi++) {
		e[n++] = (struct kvm_irq_routing_entry){ .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
							   .u.irqchip = { KVM_IRQCHIP_IOAPIC, gsi } };
		if (gsi < 16)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8 } };
	}
	for (unsigned i = 0; i < MSI_ROUTES; i++)
		if (msi_routes[i].used)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = IRQCHIP_GSIS + i, .type = KVM_IRQ_ROUTING_MSI,
				.u.msi = { .address_lo = (uint32_t)msi_routes[i].addr,
					   .address_hi = (uint32_t)(msi_routes[i].addr >> 32), .data = msi_routes[i].data } };
	r->nr = n;
	return ioctl(the_vm->vm_fd, KVM_SET_GSI_ROUTING, r);
}

int vm_irqfd_msi(int fd, int *gsi, uint64_t addr, uint32_t data, bool assign)
{
	int r = 0;
	pthread_mutex_lock(&routes_lock);
	if (!assign) {
		if (*gsi >= IRQCHIP_GSIS) {
			struct kvm_irqfd f = { .fd = (uint32_t)fd, .gsi = (uint32_t)*gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN };
			r = ioctl(the_vm->vm_fd, KVM_IRQFD, &f);
			msi_routes[*gsi - IRQCHIP_GSIS].used = false;
		}
		*gsi = -1;
		pthread_mutex_unlock(&routes_lock);
		return r < 0 ? -1 : 0;
	}
	bool fresh = *gsi < IRQCHIP_GSIS;
	unsigned i = fresh ? 0 : (unsigned)(*gsi - IRQCHIP_GSIS);
	while (fresh && i < MSI_ROUTES && msi_routes[i].used)
		i++;
	if (i == MSI_ROUTES) {
		pthread_mutex_unlock(&routes_lock);
		errno = ENOSPC;
		return -1;
	}
	msi_routes[i].used = true;
	msi_routes[i].addr = addr;
	msi_routes[i].data = data;
	r = routes_commit();
	if (r == 0 && fresh) {
		struct kvm_irqfd f = { .fd = (uint32_t)fd, .gsi = IRQCHIP_GSIS + i };
		r = ioctl(the_vm->vm_fd, KVM_IRQFD, &f);
	}
	if (r < 0 && fresh)
		msi_routes[i].used = false;
	else
		*gsi = IRQCHIP_GSIS + (int)i;
	pthread_mutex_unlock(&routes_lock);
	return r < 0 ? -1 : 0;
}
