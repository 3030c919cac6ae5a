/* seccomp-BPF allow-lists, written directly (Documentation/userspace-api/
 * seccomp_filter.rst): a filter is a few dozen instructions, smaller and
 * easier to read than libseccomp's builder, and hal stays one static binary
 * without another library. Denied calls trap (SECCOMP_RET_TRAP): the SIGSYS
 * handler names the call, gives the terminal and the text console back and
 * kills hal with SIGSYS. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kd.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/vhost.h>

#include "core/hal.h"
#include "sandbox/seccomp.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
bool sandbox_enabled = false;
#else
bool sandbox_enabled = true;
#endif
void (*sandbox_fatal_hook)(void);

#define X32_SYSCALL_BIT 0x40000000u

/* What every guest-facing thread does: memory (no executable mappings),
 * locks, signals for kicks and stop, logging, the clock, eventfds, the
 * disks' and flash's file I/O, the interrupt and BAR-move ioctls. */
static const long common[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64, SYS_preadv, SYS_pwritev,
	SYS_preadv2, SYS_pwritev2, SYS_lseek, SYS_fdatasync, SYS_fsync, SYS_fallocate,
	SYS_futex, SYS_sched_yield, SYS_nanosleep, SYS_clock_nanosleep, SYS_clock_gettime, SYS_gettimeofday,
	SYS_brk, SYS_munmap, SYS_mremap, SYS_madvise,
	SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_tkill, SYS_tgkill, SYS_getpid, SYS_gettid,
	SYS_timerfd_settime, SYS_exit, SYS_exit_group,
	/* the kernel's own resumption of an interrupted poll, sleep or timed
	 * futex wait (after a stop and continue, or io_uring's task work) */
	SYS_restart_syscall,
};
/* I/O threads also wait and use sockets (NBD disks: disk/nbd.c) */
static const long io_only[] = { SYS_poll, SYS_ppoll, SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg,
				 SYS_getrandom /* virtio-rng */,
				 SYS_io_uring_enter /* disk/uring.c: a ring restricted to READV/WRITEV on the disk */ };

static const unsigned long common_ioctls[] = {
	KVM_IRQ_LINE, KVM_SIGNAL_MSI, KVM_IOEVENTFD, KVM_SET_USER_MEMORY_REGION,
	KVM_IRQFD, KVM_SET_GSI_ROUTING, /* vhost-net's interrupts straight to the guest (virtio/net.c) */
	TUNSETOFFLOAD,
	VHOST_SET_FEATURES, VHOST_SET_MEM_TABLE, VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE, VHOST_GET_VRING_BASE,
	VHOST_SET_VRING_ADDR, VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_NET_SET_BACKEND,
	TCGETS, TCSETS, TCSETSW, TCSETSF, KDSETMODE, /* the denial handler's restore */
};
/* KVM_GET/SET_PIT2: the guest's write of the HPET's LEG_RT_CNF (board.c) */
static const unsigned long vcpu_ioctls[] = { KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS, KVM_SET_REGS, KVM_SET_SREGS,
					     KVM_GET_PIT2, KVM_SET_PIT2 };

#define MAX_INSNS 256
struct prog {
	struct sock_filter f[MAX_INSNS];
	unsigned n;
	bool overflow;
};

static unsigned emit(struct prog *p, struct sock_filter ins)
{
	if (p->n == MAX_INSNS) {
		p->overflow = true;
		return p->n - 1;
	}
	p->f[p->n] = ins;
	return p->n++;
}

#define LD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))

/* "if A == k return ALLOW" */
static void allow_if(struct prog *p, uint32_t k)
{
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 1));
	emit(p, (struct sock_filter)RET(SECCOMP_RET_ALLOW));
}

/* "if A == k goto later block": returns the ja to patch. */
static unsigned goto_if(struct prog *p, uint32_t k)
{
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 1));
	return emit(p, (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0));
}

static void land(struct prog *p, unsigned ja)
{
	p->f[ja].k = p->n - ja - 1;
}

static void build(struct prog *p, enum hal_thread role)
{
	p->n = 0;
	p->overflow = false;
	emit(p, (struct sock_filter)LD(offsetof(struct seccomp_data, arch)));
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
	emit(p, (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS));
	emit(p, (struct sock_filter)LD(offsetof(struct seccomp_data, nr)));
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
	emit(p, (struct sock_filter)RET(SECCOMP_RET_TRAP));
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		allow_if(p, (uint32_t)common[i]);
	for (size_t i = 0; role == HAL_THREAD_IO && i < sizeof(io_only) / sizeof(io_only[0]); i++)
		allow_if(p, (uint32_t)io_only[i]);
	unsigned to_ioctl = goto_if(p, SYS_ioctl);
	unsigned to_mmap = goto_if(p, SYS_mmap);
	unsigned to_mprotect = goto_if(p, SYS_mprotect);
	emit(p, (struct sock_filter)RET(SECCOMP_RET_TRAP));

	/* ioctl: the request (argument 1) must be one of the lists. The kernel
	 * reads it as an unsigned int, and musl passes an int that arrives
	 * sign-extended (KVM_GET_REGS is 0xffffffff8090ae81): the low half is
	 * the request. */
	land(p, to_ioctl);
	emit(p, (struct sock_filter)LD(ARG_LO(1)));
	for (size_t i = 0; i < sizeof(common_ioctls) / sizeof(common_ioctls[0]); i++)
		allow_if(p, (uint32_t)common_ioctls[i]);
	for (size_t i = 0; role == HAL_THREAD_VCPU && i < sizeof(vcpu_ioctls) / sizeof(vcpu_ioctls[0]); i++)
		allow_if(p, (uint32_t)vcpu_ioctls[i]);
	emit(p, (struct sock_filter)RET(SECCOMP_RET_TRAP));

	/* mmap, mprotect: never executable (argument 2, prot). */
	land(p, to_mmap);
	land(p, to_mprotect);
	emit(p, (struct sock_filter)LD(ARG_LO(2)));
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1));
	emit(p, (struct sock_filter)RET(SECCOMP_RET_TRAP));
	emit(p, (struct sock_filter)RET(SECCOMP_RET_ALLOW));
}

/* ---- denial ------------------------------------------------------------------------ */

static const struct { long nr; const char *name; } names[] = {
	{ SYS_socket, "socket" }, { SYS_connect, "connect" }, { SYS_bind, "bind" }, { SYS_listen, "listen" },
	{ SYS_accept, "accept" }, { SYS_accept4, "accept4" }, { SYS_open, "open" }, { SYS_openat, "openat" },
	{ SYS_creat, "creat" }, { SYS_execve, "execve" }, { SYS_execveat, "execveat" }, { SYS_fork, "fork" },
	{ SYS_vfork, "vfork" }, { SYS_clone, "clone" }, { SYS_clone3, "clone3" }, { SYS_ptrace, "ptrace" },
	{ SYS_kill, "kill" }, { SYS_mmap, "mmap" }, { SYS_mprotect, "mprotect" }, { SYS_ioctl, "ioctl" },
	{ SYS_unlink, "unlink" }, { SYS_unlinkat, "unlinkat" }, { SYS_rename, "rename" }, { SYS_mount, "mount" },
	{ SYS_setuid, "setuid" }, { SYS_prctl, "prctl" }, { SYS_close, "close" }, { SYS_dup, "dup" },
	{ SYS_dup2, "dup2" }, { SYS_dup3, "dup3" }, { SYS_pipe, "pipe" }, { SYS_pipe2, "pipe2" },
	{ SYS_rt_sigaction, "rt_sigaction" }, { SYS_sendfile, "sendfile" }, { SYS_memfd_create, "memfd_create" },
	{ SYS_poll, "poll" }, { SYS_ppoll, "ppoll" }, { SYS_epoll_wait, "epoll_wait" }, { SYS_sendto, "sendto" },
	{ SYS_recvfrom, "recvfrom" }, { SYS_getrandom, "getrandom" }, { SYS_uname, "uname" }, { SYS_stat, "stat" },
	{ SYS_fstat, "fstat" }, { SYS_newfstatat, "newfstatat" }, { SYS_statx, "statx" }, { SYS_eventfd2, "eventfd2" },
	{ SYS_io_uring_setup, "io_uring_setup" }, { SYS_io_uring_register, "io_uring_register" },
	{ SYS_restart_syscall, "restart_syscall" },
};

const char *sandbox_syscall_name(long nr)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].nr == nr)
			return names[i].name;
	return NULL;
}

static void put_str(char *buf, size_t *at, size_t n, const char *s)
{
	while (*s && *at + 1 < n)
		buf[(*at)++] = *s++;
}

static void put_num(char *buf, size_t *at, size_t n, unsigned long v)
{
	char d[24];
	int k = 0;
	do
		d[k++] = (char)('0' + v % 10);
	while ((v /= 10) && k < 23);
	while (k > 0 && *at + 1 < n)
		buf[(*at)++] = d[--k];
}

/* Async-signal-safe: no stdio, no allocation. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	char msg[320];
	size_t at = 0;
	const char *name = sandbox_syscall_name(si->si_syscall);
	put_str(msg, &at, sizeof(msg), "\r\nhal: seccomp: a guest-facing thread made system call ");
	put_str(msg, &at, sizeof(msg), name ? name : "#");
	if (!name)
		put_num(msg, &at, sizeof(msg), (unsigned long)si->si_syscall);
	if (si->si_syscall == SYS_ioctl) {
		put_str(msg, &at, sizeof(msg), " (request 0x");
		unsigned long req = (unsigned long)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSI];
		for (int i = 28; i >= 0; i -= 4)
			msg[at < sizeof(msg) - 1 ? at++ : at] = "0123456789abcdef"[(req >> i) & 15];
		put_str(msg, &at, sizeof(msg), ")");
	}
	put_str(msg, &at, sizeof(msg), ", which its allow-list does not have: stopping hal (a bug in hal, or a device "
					"model the guest subverted; --no-sandbox runs without the lists)\r\n");
	if (write(STDERR_FILENO, msg, at) < 0) {
		/* nothing else to tell it with */
	}
	if (sandbox_fatal_hook)
		sandbox_fatal_hook();
	/* SA_RESETHAND made SIGSYS fatal again: this ends the process. */
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

static struct prog progs[2];
static pthread_once_t progs_once = PTHREAD_ONCE_INIT;

static void build_all(void)
{
	build(&progs[HAL_THREAD_VCPU], HAL_THREAD_VCPU);
	build(&progs[HAL_THREAD_IO], HAL_THREAD_IO);
}

/* Capabilities are per thread (capabilities(7)): the calling thread gives
 * up all of them, permitted included, so it can never take one back. The
 * main thread keeps its own: it removes the tap and brings the machine down
 * at exit. */
int sandbox_drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) < 0) {
		err("sandbox: cannot drop the thread's capabilities: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int sandbox_thread(enum hal_thread role)
{
	pthread_once(&progs_once, build_all);
	struct prog *p = &progs[role];
	if (p->overflow) {
		err("seccomp: the %s allow-list does not fit in %d instructions", role == HAL_THREAD_VCPU ? "vCPU" : "I/O",
		    MAX_INSNS);
		return -1;
	}
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_RESETHAND };
	sigemptyset(&sa.sa_mask);
	struct sock_fprog fp = { .len = (unsigned short)p->n, .filter = p->f };
	if (sandbox_drop_caps() < 0)
		return -1;
	if (sigaction(SIGSYS, &sa, NULL) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0) {
		err("seccomp: cannot install the %s thread's filter: %s (--no-sandbox runs without)",
		    role == HAL_THREAD_VCPU ? "vCPU" : "I/O", strerror(errno));
		return -1;
	}
	return 0;
}
