/* Confinement of the threads that run guest-driven code (docs/security.md):
 * each vCPU thread and each device I/O thread installs a seccomp-BPF
 * allow-list of the system calls (and, for ioctl, the requests) it needs
 * once the VM runs. Anything else stops hal at once with a message naming
 * the call; the guest cannot get a compromised device model to open files,
 * sockets or processes. */
#ifndef SECCOMP_H
#define SECCOMP_H
#include <stdbool.h>

#include "core/hal.h"

/* Off with --no-sandbox, and by default in sanitizer builds (their runtime
 * makes calls no list can foresee, and an ASan report must not be cut). */
extern bool sandbox_enabled;
/* Called by the denial handler before hal dies: give the terminal and the
 * text console back (async-signal-safe, and only calls the lists allow). */
extern void (*sandbox_fatal_hook)(void);

/* Installs the filter for a thread of this kind on the calling thread
 * (all the thread's capabilities dropped and PR_SET_NO_NEW_PRIVS first): HAL_THREAD_VCPU runs KVM_RUN and the device
 * models' exits, HAL_THREAD_IO a disk's or NIC's I/O. 0, or -1 after a
 * message. */
int sandbox_thread(enum hal_thread kind);
/* The calling thread gives up every capability (the others keep theirs).
 * 0, or -1 after a message. */
int sandbox_drop_caps(void);
/* The name of syscall nr ("socket"), or NULL: for the denial message. */
const char *sandbox_syscall_name(long nr);
#endif
