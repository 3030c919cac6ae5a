/* vCPU threads: creation, the boot register state, and the exit loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "core/hal.h"

static void kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN */
}

/* ---- run control ------------------------------------------------------------ */

void vm_request_stop(int exit_code)
{
	struct vm *vm = the_vm;
	pthread_mutex_lock(&vm->lock);
	if (!vm->stopping) {
		vm->stopping = true;
		vm->exit_code = exit_code;
		uint64_t one = 1;
		if (vm->stop_fd >= 0 && write(vm->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot happen for an eventfd below its maximum */
		}
	}
	pthread_mutex_unlock(&vm->lock);
	vcpus_stop(vm);
}

/* ---- creation ------------------------------------------------------------------ */

static int vcpus_open(struct vm *vm)
{
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->vcpus = calloc((size_t)vm->ncpus, sizeof(*vm->vcpus));
	if (vm->stop_fd < 0 || !vm->vcpus)
		return -1;
	struct sigaction sa = { .sa_handler = kick_handler };
	sigaction(SIGUSR1, &sa, NULL);

	size_t cpuid_size = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(cpuid_size);
	if (!c)
		return -1;
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->vm = vm;
		v->id = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0) {
			err("KVM_CREATE_VCPU %d: %s", i, strerror(errno));
			goto fail;
		}
		v->run = mmap(NULL, (size_t)vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			err("mmap vcpu %d: %s", i, strerror(errno));
			goto fail;
		}
		memcpy(c, vm->cpuid, cpuid_size);
		cpuid_fixup(c, i, vm->ncpus, vm->phys_bits);
		if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
			err("KVM_SET_CPUID2 %d: %s", i, strerror(errno));
			goto fail;
		}
	}
	free(c);
	return 0;
fail:
	free(c);
	return -1;
}

int vcpus_create(struct vm *vm)
{
	if (vcpus_open(vm) == 0)
		return 0;
	vcpus_join_destroy(vm);
	return -1;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type, .present = 1,
		.dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64, .g = 1,
	};
}

/* Protected or long mode with flat 0x10/0x18 segments, as the Linux boot
 * protocol requires. Page tables (long mode) are built by x86/boot.c in guest
 * RAM; the GDT at br->gdt is written here so a kernel may reload segments. */
int vcpu_set_boot_regs(struct vcpu *v, const struct boot_regs *br)
{
	struct kvm_sregs sr;
	struct kvm_regs r = { .rflags = 2, .rip = br->rip, .rsi = br->rsi };
	if (br->mode == BOOT_RESET)
		return 0; /* KVM's reset state is the x86 reset state */
	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -1;

	bool lm = br->mode == BOOT_LONG64;
	uint64_t gdt[] = {
		0, 0,
		lm ? 0x00af9b000000ffffULL : 0x00cf9b000000ffffULL, /* 0x10 code */
		0x00cf93000000ffffULL,                              /* 0x18 data */
		0x00008b000000ffffULL,                              /* 0x20 TSS (busy) */
	};
	void *g = gpa_ptr(&v->vm->mem, br->gdt, sizeof(gdt));
	if (!g)
		return -1;
	memcpy(g, gdt, sizeof(gdt));
	sr.gdt.base = br->gdt;
	sr.gdt.limit = sizeof(gdt) - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;

	seg(&sr.cs, 0x10, 0xb, lm);
	seg(&sr.ds, 0x18, 0x3, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.tr = (struct kvm_segment){ .selector = 0x20, .limit = 0xffff, .type = 0xb, .present = 1 };
	sr.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };

	sr.cr0 = 0x11; /* PE | ET */
	sr.cr4 = 0;
	sr.efer = 0;
	if (lm) {
		sr.cr3 = br->cr3;
		sr.cr4 = 1 << 5;                  /* PAE */
		sr.cr0 |= 1u << 31;               /* PG */
		sr.efer = (1 << 8) | (1 << 10);   /* LME | LMA */
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0 || ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
		err("cannot set the boot registers: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void vcpu_dump(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return;
	fprintf(stderr,
		"hal: vCPU %d registers:\r\n"
		"  rip %016llx  rflags %08llx\r\n"
		"  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\r\n"
		"  rsi %016llx  rdi %016llx  rbp %016llx  rsp %016llx\r\n"
		"  r8  %016llx  r9  %016llx  r10 %016llx  r11 %016llx\r\n"
		"  r12 %016llx  r13 %016llx  r14 %016llx  r15 %016llx\r\n"
		"  cs %04x base %016llx  ss %04x  ds %04x  es %04x\r\n"
		"  cr0 %016llx  cr2 %016llx  cr3 %016llx  cr4 %016llx  efer %llx\r\n"
		"  gdt %016llx/%x  idt %016llx/%x\r\n",
		v->id, r.rip, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9,
		r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cs.selector, s.cs.base, s.ss.selector,
		s.ds.selector, s.es.selector, s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.gdt.base, s.gdt.limit,
		s.idt.base, s.idt.limit);
	/* KVM on AMD (SVM) reinitializes the VMCB on a shutdown intercept, so
	 * after a triple fault there the registers read back as reset state. */
	if (r.rip == 0xfff0 && s.cs.selector == 0xf000 && s.cs.base == 0xffff0000)
		fprintf(stderr, "  (this is the reset state: KVM on AMD SVM reinitializes the vCPU on a "
				"triple fault, the state at the fault is lost)\r\n");
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	/* size, count and data_offset come from KVM, not the guest; the guest
	 * chose port and count (rep ins/outs), and each element is dispatched. */
	uint8_t *p = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;
	for (uint32_t i = 0; i < run->io.count; i++, p += run->io.size)
		bus_access(BUS_PIO, run->io.port, p, run->io.size, write);
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len <= 8 ? run->mmio.len : 8;
	bus_access(BUS_MMIO, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (hal_confine(HAL_THREAD_VCPU) < 0) {
		vm_request_stop(HAL_EXIT_ERROR);
		return NULL;
	}

	for (;;) {
		if (__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			err("KVM_RUN on vCPU %d: %s", v->id, strerror(errno));
			vm_request_stop(HAL_EXIT_ERROR);
			break;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			break;
		case KVM_EXIT_MMIO:
			handle_mmio(v);
			break;
		case KVM_EXIT_SHUTDOWN:
			if (vm->reset_on_triple_fault) {
				/* as on a real board (and SeaBIOS's last-resort reboot) */
				dbg("vCPU %d: triple fault, resetting", v->id);
				vm_request_stop(HAL_EXIT_RESET);
				break;
			}
			err("vCPU %d: triple fault, the guest crashed", v->id);
			vcpu_dump(v);
			vm_request_stop(HAL_EXIT_CRASH);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			if (v->run->system_event.type == KVM_SYSTEM_EVENT_RESET)
				vm_request_stop(HAL_EXIT_RESET);
			else
				vm_request_stop(HAL_EXIT_POWEROFF);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			err("vCPU %d: KVM internal error, suberror %u", v->id, v->run->internal.suberror);
			vcpu_dump(v);
			vm_request_stop(HAL_EXIT_CRASH);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			err("vCPU %d: VM entry failed, reason 0x%llx", v->id,
			    (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
			vcpu_dump(v);
			vm_request_stop(HAL_EXIT_CRASH);
			break;
		case KVM_EXIT_HLT: /* not seen with the in-kernel irqchip */
		case KVM_EXIT_INTR:
			break;
		default:
			err("vCPU %d: unexpected KVM exit %u", v->id, v->run->exit_reason);
			vcpu_dump(v);
			vm_request_stop(HAL_EXIT_CRASH);
			break;
		}
	}
	return NULL;
}

int vcpus_start(struct vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (pthread_create(&v->thread, NULL, vcpu_thread, v) != 0) {
			err("cannot start vCPU thread %d", i);
			vm_request_stop(HAL_EXIT_ERROR);
			return -1;
		}
		__atomic_store_n(&v->started, true, __ATOMIC_RELEASE);
	}
	return 0;
}

/* Kick every vCPU out of KVM_RUN; they see vm->stopping and return. */
void vcpus_stop(struct vm *vm)
{
	for (int i = 0; vm->vcpus && i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->run)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
		if (__atomic_load_n(&v->started, __ATOMIC_ACQUIRE) && !pthread_equal(v->thread, pthread_self()))
			pthread_kill(v->thread, SIGUSR1);
	}
}

void vcpus_join(struct vm *vm)
{
	for (int i = 0; vm->vcpus && i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (__atomic_load_n(&v->started, __ATOMIC_ACQUIRE)) {
			pthread_join(v->thread, NULL);
			__atomic_store_n(&v->started, false, __ATOMIC_RELEASE);
		}
	}
}

void vcpus_join_destroy(struct vm *vm)
{
	vcpus_join(vm);
	for (int i = 0; vm->vcpus && i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run)
			munmap(v->run, (size_t)vm->vcpu_mmap_size);
		if (v->fd > 0)
			close(v->fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	vm->stop_fd = -1;
}
