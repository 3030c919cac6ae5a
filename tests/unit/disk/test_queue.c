/* Requests in flight together on a file (disk.h's disk_queue): on the
 * io_uring (hal/disk/uring.c) and, with it turned off as on a kernel
 * without one, on the worker threads (hal/disk/pool.c): reads and writes,
 * each reaped once with its own result; what does not queue; both under
 * the I/O threads' seccomp filter; the ring refuses to be changed. */
#include <errno.h>
#include <linux/io_uring.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/hal.h"
#include "disk/backend.h"
#include "sandbox/seccomp.h"

#define SIZE (4u << 20)
#define BLK 65536

static char dir[64], img[128];

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 13 + (i >> 10)); }

static void make_image(void)
{
	static uint8_t buf[SIZE];
	for (uint64_t i = 0; i < SIZE; i++)
		buf[i] = pattern(i);
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, SIZE) != (ssize_t)SIZE) {
		printf("cannot make %s\n", img);
		exit(1);
	}
	close(fd);
}

static bool is_pattern(const uint8_t *p, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern(off + i))
			return false;
	return true;
}

static int open_spec(struct disk *d, const char *opts)
{
	char spec[192], why[256];
	snprintf(spec, sizeof(spec), "%s%s", img, opts);
	int r = disk_open(d, spec, why, sizeof(why));
	if (r)
		printf("  %s\n", why);
	return r;
}

/* DISK_QUEUE requests at once, reads and writes taking turns over
 * scattered buffers: each tag comes back once, the reads have the file's
 * bytes, the writes are in the file; a full queue takes no more. */
static void reads_and_writes_in_flight(void)
{
	make_image();
	struct disk d;
	char why[256];
	CHECK_EQ(open_spec(&d, ""), 0);
	static uint8_t b[DISK_QUEUE][BLK];
	struct iovec one = { b[0], BLK };
	CHECK(!disk_can_queue(&d, false, &one, 1, 0)); /* not before disk_start_queue */
	CHECK_EQ(disk_start_queue(&d, why, sizeof(why)), 0);
	CHECK_EQ(disk_start_queue(&d, why, sizeof(why)), 0); /* again: nothing new */
	memset(b, 0xee, sizeof(b));
	for (unsigned i = 0; i < DISK_QUEUE; i++) {
		bool wr = i & 1;
		if (wr)
			memset(b[i], 0x30 + (int)i, BLK);
		struct iovec v[3] = { { b[i], 512 }, { b[i] + 512, 3584 }, { b[i] + 4096, BLK - 4096 } };
		CHECK(disk_can_queue(&d, wr, v, 3, (uint64_t)i * BLK));
		CHECK_EQ(disk_queue(&d, wr, v, 3, (uint64_t)i * BLK, 300 + i), 0);
	}
	CHECK_EQ(disk_queued(&d), DISK_QUEUE);
	CHECK(!disk_can_queue(&d, false, &one, 1, 0)); /* full */
	errno = 0;
	CHECK(disk_queue(&d, false, &one, 1, 0, 1) < 0 && errno == EINVAL);
	unsigned seen = 0, tag;
	for (unsigned n = 0; n < DISK_QUEUE; n++) {
		CHECK_EQ(disk_reap(&d, &tag), 0);
		CHECK(tag >= 300 && tag < 300 + DISK_QUEUE);
		seen |= 1u << ((tag - 300) % 32);
	}
	CHECK_EQ(seen, (1u << DISK_QUEUE) - 1);
	CHECK_EQ(disk_queued(&d), 0);
	CHECK(!disk_reap_ready(&d));
	int fd = open(img, O_RDONLY | O_CLOEXEC);
	static uint8_t back[BLK];
	for (unsigned i = 0; i < DISK_QUEUE; i++) {
		if (i & 1) {
			CHECK(pread(fd, back, BLK, (off_t)i * BLK) == BLK);
			CHECK(!memcmp(back, b[i], BLK));
		} else {
			CHECK(is_pattern(b[i], (uint64_t)i * BLK, BLK));
		}
	}
	close(fd);
	CHECK_EQ(disk_flush(&d), 0);
	disk_close(&d);
}

/* What is refused at once, and a host failure that comes back with the
 * request it belongs to. */
static void errors_come_back_with_their_request(void)
{
	make_image();
	struct disk d;
	char why[256];
	static uint8_t b[BLK];
	struct iovec v = { b, BLK };
	CHECK_EQ(open_spec(&d, ",ro"), 0);
	CHECK_EQ(disk_start_queue(&d, why, sizeof(why)), 0);
	errno = 0;
	CHECK(disk_queue(&d, true, &v, 1, 0, 1) < 0 && errno == EROFS);
	errno = 0;
	CHECK(disk_queue(&d, false, &v, 1, SIZE - 512, 1) < 0 && errno == EINVAL); /* past the end */
	struct iovec big = { b, 2u << 20 };
	CHECK(!disk_can_queue(&d, false, &big, 1, 0)); /* more than 1 MiB: the caller does it itself */
	/* the image shrinks under the disk: the read there fails (EIO), the one before it does not */
	CHECK_EQ(truncate(img, SIZE / 2), 0);
	static uint8_t c[BLK];
	struct iovec w = { c, BLK };
	CHECK_EQ(disk_queue(&d, false, &v, 1, SIZE - BLK, 7), 0);
	CHECK_EQ(disk_queue(&d, false, &w, 1, 0, 8), 0);
	int res[2] = { 99, 99 }, errs[2] = { 0, 0 };
	for (int n = 0; n < 2; n++) {
		unsigned tag = 0;
		errno = 0;
		int r = disk_reap(&d, &tag);
		CHECK(tag == 7 || tag == 8);
		res[tag - 7] = r;
		errs[tag - 7] = errno;
	}
	CHECK(res[0] < 0 && errs[0] == EIO);
	CHECK_EQ(res[1], 0);
	CHECK(is_pattern(c, 0, BLK));
	disk_close(&d);
	/* a snapshot layer never queues */
	make_image();
	CHECK_EQ(open_spec(&d, ",snapshot"), 0);
	CHECK_EQ(disk_start_queue(&d, why, sizeof(why)), 0);
	CHECK(!disk_can_queue(&d, false, &v, 1, 0));
	disk_close(&d);
}

/* disk_reap_ready: false while the workers are at it is allowed, but once
 * it says true the reap returns that request without waiting for others. */
static void ready_means_done(void)
{
	make_image();
	struct disk d;
	char why[256];
	CHECK_EQ(open_spec(&d, ""), 0);
	CHECK_EQ(disk_start_queue(&d, why, sizeof(why)), 0);
	static uint8_t b[BLK];
	struct iovec v = { b, BLK };
	CHECK(!disk_reap_ready(&d)); /* nothing in flight */
	CHECK_EQ(disk_queue(&d, false, &v, 1, BLK, 5), 0);
	int t;
	for (t = 0; t < 2000 && !disk_reap_ready(&d); t++)
		usleep(1000);
	CHECK(t < 2000);
	unsigned tag = 0;
	CHECK_EQ(disk_reap(&d, &tag), 0);
	CHECK_EQ(tag, 5);
	CHECK(is_pattern(b, BLK, BLK));
	disk_close(&d);
}

/* In a forked child with hal's filters on (the workers, if any, confine
 * themselves when disk_start_queue makes them, the calling thread as
 * virtio-blk's I/O thread): reads, writes and the flush go through; a call
 * the filter lacks would be SIGSYS. */
static void workers_pass_the_io_sandbox(void)
{
	make_image();
	pid_t pid = fork();
	if (pid == 0) {
		struct disk d;
		char why[256];
		hal_confine_thread = sandbox_thread;
		if (open_spec(&d, "") < 0 || disk_start_queue(&d, why, sizeof(why)) < 0 ||
		    sandbox_thread(HAL_THREAD_IO) < 0)
			syscall(SYS_exit_group, 2);
		static uint8_t b[8][8192];
		int bad = 0;
		for (unsigned i = 0; i < 8; i++) {
			struct iovec v = { b[i], sizeof(b[i]) };
			memset(b[i], 0x61, sizeof(b[i]));
			bad += disk_queue(&d, i & 1, &v, 1, i * 8192, i) < 0;
		}
		unsigned tag;
		for (unsigned i = 0; i < 8; i++)
			bad += disk_reap(&d, &tag) < 0 || (!(tag & 1) && !is_pattern(b[tag], tag * 8192, 8192));
		bad += disk_flush(&d) < 0;
		syscall(SYS_exit_group, bad ? 1 : 0);
	}
	int st = -1;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
}

/* The ring hal made takes no new files or restrictions once enabled (a
 * subverted I/O thread could not point it elsewhere even with
 * io_uring_register, which its filter refuses anyway). */
static void ring_is_locked(void)
{
	make_image();
	struct disk d;
	char why[256];
	CHECK_EQ(open_spec(&d, ""), 0);
	CHECK_EQ(disk_start_queue(&d, why, sizeof(why)), 0);
	int fd = uring_ring_fd(&d);
	if (disk_uring_off) {
		CHECK_EQ(fd, -1);
		disk_close(&d);
		return;
	}
	CHECK(fd >= 0);
	int other = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	errno = 0;
	CHECK(syscall(SYS_io_uring_register, fd, IORING_REGISTER_FILES, &other, 1) < 0 && errno != 0);
	struct io_uring_restriction r = { .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_OPENAT };
	CHECK(syscall(SYS_io_uring_register, fd, IORING_REGISTER_RESTRICTIONS, &r, 1) < 0);
	close(other);
	disk_close(&d);
}

/* ,aio=threads: the worker threads even where an io_uring is to be had;
 * a mode that does not exist is refused, naming the two. */
static void aio_option_picks_threads(void)
{
	make_image();
	struct disk d;
	char why[256], spec[192];
	CHECK_EQ(open_spec(&d, ",aio=threads"), 0);
	CHECK_EQ(disk_start_queue(&d, why, sizeof(why)), 0);
	CHECK_EQ(uring_ring_fd(&d), -1);
	static uint8_t b[BLK];
	struct iovec v = { b, BLK };
	unsigned tag = 0;
	CHECK_EQ(disk_queue(&d, false, &v, 1, 3 * BLK, 4), 0);
	CHECK_EQ(disk_reap(&d, &tag), 0);
	CHECK(tag == 4 && is_pattern(b, 3 * BLK, BLK));
	disk_close(&d);
	snprintf(spec, sizeof(spec), "%s,aio=native", img);
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK(strstr(why, "unknown aio mode 'native'") && strstr(why, "aio=io_uring or aio=threads"));
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/hal-queue-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	for (int pass = 0; pass < 2; pass++) {
		disk_uring_off = pass; /* 0: io_uring where this kernel has it; 1: the worker threads */
		struct disk d;
		char why[256];
		make_image();
		if (open_spec(&d, "") || disk_start_queue(&d, why, sizeof(why)))
			return 1;
		printf("%s:\n", uring_ring_fd(&d) >= 0 ? "io_uring" : "worker threads");
		disk_close(&d);
		RUN(reads_and_writes_in_flight);
		RUN(errors_come_back_with_their_request);
		RUN(ready_means_done);
		RUN(workers_pass_the_io_sandbox);
		RUN(ring_is_locked);
	}
	RUN(aio_option_picks_threads);
	unlink(img);
	rmdir(dir);
	return 0;
}
