/* The seccomp allow-lists (hal/sandbox/seccomp.c), each in a forked child:
 * an allowed call goes through, a forbidden one stops the process with
 * SIGSYS and a message naming the call. A confined thread has no
 * capabilities left, and the process's other threads keep theirs. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "check.h"
#include "sandbox/seccomp.h"

enum { DO_WRITE, DO_SOCKET, DO_OPEN, DO_EXEC_MAP, DO_RW_MAP, DO_KVM_RUN, DO_BAD_IOCTL, DO_EXECVE, DO_GET_REGS_INT, DO_GETRANDOM, DO_SET_PIT2 };

/* Runs `what` under kind's filter; returns the wait status, the child's
 * stderr in msg. */
static int run(enum hal_thread kind, int what, char *msg, size_t n)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		if (sandbox_thread(kind) < 0)
			_exit(99);
		long r = 0;
		switch (what) {
		case DO_WRITE: r = syscall(SYS_write, 2, "ok", 2); break;
		case DO_SOCKET: r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); break;
		case DO_OPEN: r = syscall(SYS_openat, -100, "/etc/passwd", 0); break;
		case DO_EXEC_MAP: r = (long)syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); break;
		case DO_RW_MAP: r = (long)syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); break;
		case DO_KVM_RUN: r = syscall(SYS_ioctl, -1, KVM_RUN, 0); break; /* EBADF: allowed, no VM needed */
		/* musl's ioctl(int, int, ...): the request arrives sign-extended */
		case DO_GET_REGS_INT: r = syscall(SYS_ioctl, -1, (long)(int)KVM_GET_REGS, 0); break;
		case DO_BAD_IOCTL: r = syscall(SYS_ioctl, 0, TIOCSTI, "x"); break;
		case DO_SET_PIT2: r = syscall(SYS_ioctl, -1, (long)(int)KVM_SET_PIT2, 0); break; /* HPET legacy */
		case DO_GETRANDOM: { char b[16]; r = syscall(SYS_getrandom, b, sizeof(b), 0); break; } /* virtio-rng */
		case DO_EXECVE: r = syscall(SYS_execve, "/bin/sh", (char *[]){ "sh", NULL }, (char *[]){ NULL }); break;
		}
		(void)r;
		syscall(SYS_exit_group, 0);
	}
	close(pfd[1]);
	int st = -1;
	waitpid(pid, &st, 0);
	ssize_t k = read(pfd[0], msg, n - 1);
	msg[k > 0 ? k : 0] = 0;
	close(pfd[0]);
	return st;
}

static bool killed(int st) { return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS; }
static bool clean(int st) { return WIFEXITED(st) && WEXITSTATUS(st) == 0; }

static void test_allowed_calls_pass(void)
{
	char msg[512];
	CHECK(clean(run(HAL_THREAD_VCPU, DO_WRITE, msg, sizeof(msg))));
	CHECK(!strcmp(msg, "ok"));
	CHECK(clean(run(HAL_THREAD_IO, DO_WRITE, msg, sizeof(msg))));
	CHECK(clean(run(HAL_THREAD_IO, DO_GETRANDOM, msg, sizeof(msg))));
	CHECK(clean(run(HAL_THREAD_VCPU, DO_RW_MAP, msg, sizeof(msg))));
	CHECK(clean(run(HAL_THREAD_VCPU, DO_KVM_RUN, msg, sizeof(msg))));
	CHECK(clean(run(HAL_THREAD_VCPU, DO_GET_REGS_INT, msg, sizeof(msg))));
	/* a guest turning on the HPET's legacy replacement stops the PIT from its vCPU */
	CHECK(clean(run(HAL_THREAD_VCPU, DO_SET_PIT2, msg, sizeof(msg))));
}

static void test_forbidden_calls_stop_hal_naming_them(void)
{
	char msg[512];
	CHECK(killed(run(HAL_THREAD_VCPU, DO_SOCKET, msg, sizeof(msg))));
	CHECK(strstr(msg, "system call socket"));
	CHECK(killed(run(HAL_THREAD_IO, DO_OPEN, msg, sizeof(msg))));
	CHECK(strstr(msg, "system call openat"));
	CHECK(killed(run(HAL_THREAD_VCPU, DO_EXECVE, msg, sizeof(msg))));
	CHECK(strstr(msg, "system call execve"));
	CHECK(killed(run(HAL_THREAD_VCPU, DO_EXEC_MAP, msg, sizeof(msg))));
	CHECK(strstr(msg, "system call mmap"));
	CHECK(killed(run(HAL_THREAD_VCPU, DO_BAD_IOCTL, msg, sizeof(msg))));
	CHECK(strstr(msg, "system call ioctl (request 0x00005412)"));
	/* KVM_RUN is the vCPU thread's alone */
	CHECK(killed(run(HAL_THREAD_IO, DO_KVM_RUN, msg, sizeof(msg))));
}

/* A confined thread blocked in poll that is stopped and continued (Ctrl-Z
 * and fg, a debugger), or woken by io_uring's task work (a disk's ring
 * completing), resumes through restart_syscall, which the kernel makes for
 * it: that must not be taken for a forbidden call (it was, and killed hal
 * in the middle of a disk benchmark). */
static void test_interrupted_poll_resumes(void)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (sandbox_thread(HAL_THREAD_IO) < 0)
			_exit(99);
		struct pollfd p = { efd, POLLIN, 0 };
		long r = syscall(SYS_poll, &p, 1, -1);
		syscall(SYS_exit_group, r == 1 ? 0 : 3);
	}
	usleep(200000); /* the child is in poll by now */
	kill(pid, SIGSTOP);
	usleep(100000);
	kill(pid, SIGCONT);
	usleep(100000);
	uint64_t one = 1;
	CHECK(write(efd, &one, sizeof(one)) == sizeof(one));
	int st = -1;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(clean(st));
	close(efd);
}

/* CapEff of a task (/proc/self/task/TID/status), as hex; ~0 when unreadable */
static unsigned long long cap_eff(pid_t tid)
{
	char path[64], line[256];
	unsigned long long v = ~0ULL;
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "CapEff:", 7) == 0)
			v = strtoull(line + 7, NULL, 16);
	fclose(f);
	return v;
}

/* Drops its capabilities and returns its CapEff afterwards (~0: failed). */
static void *dropper(void *arg)
{
	unsigned long long *after = arg;
	if (sandbox_drop_caps() == 0)
		*after = cap_eff((pid_t)syscall(SYS_gettid));
	return NULL;
}

/* The thread that drops is left with none; the main thread, which removes
 * the tap at exit, keeps its own (as root; without capabilities to start
 * with only the first half shows). */
static void test_confined_thread_has_no_capabilities(void)
{
	unsigned long long before = cap_eff((pid_t)syscall(SYS_gettid)), after = ~0ULL;
	pthread_t t;
	CHECK(before != ~0ULL);
	CHECK(pthread_create(&t, NULL, dropper, &after) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(after == 0);
	CHECK(cap_eff((pid_t)syscall(SYS_gettid)) == before);
	if (before == 0)
		printf("  (no capabilities to start with: as root this also shows the main thread keeps them)\n");
}

int main(void)
{
	RUN(test_allowed_calls_pass);
	RUN(test_forbidden_calls_stop_hal_naming_them);
	RUN(test_confined_thread_has_no_capabilities);
	RUN(test_interrupted_poll_resumes);
	return 0;
}
