/* Requests in flight together on a file or block device (disk.h,
 * disk_queue): DISK_THREADS worker threads do the preadv/pwritev of a
 * batch while the front end's I/O thread takes the next requests from the
 * guest, as QEMU's aio=threads pool does. One request is one job; a worker
 * takes the oldest waiting job, does all of it (disk_fd_xfer) and marks it
 * done; disk_reap hands back done jobs, oldest first. The workers are made
 * by disk_start_queue on the unconfined main thread and confine themselves
 * as I/O threads (seccomp: the file I/O and futex they use) before they
 * take a job; disk_start_queue waits for that, so a disk either queues on
 * confined threads or fails to start. Only the thread that queues and
 * reaps (the front end's I/O thread) calls in; disk_close ends the
 * workers, after the front end has reaped everything. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hal.h"
#include "disk/backend.h"

enum { FREE, WAITING, RUNNING, DONE };

struct job {
	int state;
	bool wr;
	int err;          /* DONE: 0, or the errno it failed with */
	unsigned tag, n;
	unsigned long seq; /* when it was queued: the oldest goes first */
	uint64_t off;
	struct iovec iov[DISK_SEGS];
};

struct disk_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;  /* a job is waiting, or quit */
	pthread_cond_t done;  /* a job is done, or a worker started */
	bool quit;
	unsigned started, confined, nthreads, nq;
	unsigned long seq;
	int fd;
	pthread_t thread[DISK_THREADS];
	struct job job[DISK_QUEUE];
};

/* The oldest job in state s, or NULL. Under the lock. */
static struct job *oldest(struct disk_pool *p, int s)
{
	struct job *o = NULL;
	for (unsigned i = 0; i < DISK_QUEUE; i++)
		if (p->job[i].state == s && (!o || p->job[i].seq < o->seq))
			o = &p->job[i];
	return o;
}

static void *worker(void *arg)
{
	struct disk_pool *p = arg;
	bool ok = hal_confine(HAL_THREAD_IO) == 0;
	pthread_mutex_lock(&p->lock);
	p->started++;
	p->confined += ok;
	pthread_cond_broadcast(&p->done);
	while (ok) {
		struct job *j = NULL;
		while (!p->quit && !(j = oldest(p, WAITING)))
			pthread_cond_wait(&p->work, &p->lock);
		if (p->quit)
			break;
		j->state = RUNNING;
		pthread_mutex_unlock(&p->lock);
		int r = disk_fd_xfer(p->fd, j->iov, j->n, j->off, j->wr);
		int e = r < 0 ? (errno ? errno : EIO) : 0;
		pthread_mutex_lock(&p->lock);
		j->err = e;
		j->state = DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void pool_stop(struct disk *d)
{
	struct disk_pool *p = d->pool;
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->thread[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
	d->pool = NULL;
}

int pool_start(struct disk *d, char *why, size_t whylen)
{
	struct disk_pool *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(why, whylen, "--disk %s: out of memory", d->path);
		return -1;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->fd = d->fd;
	d->pool = p;
	for (; p->nthreads < DISK_THREADS; p->nthreads++) {
		int e = pthread_create(&p->thread[p->nthreads], NULL, worker, p);
		if (e) {
			snprintf(why, whylen, "--disk %s: I/O worker thread: %s", d->path, strerror(e));
			pool_stop(d);
			return -1;
		}
	}
	pthread_mutex_lock(&p->lock);
	while (p->started < p->nthreads)
		pthread_cond_wait(&p->done, &p->lock);
	bool ok = p->confined == p->nthreads;
	pthread_mutex_unlock(&p->lock);
	if (!ok) {
		snprintf(why, whylen, "--disk %s: an I/O worker thread could not be confined", d->path);
		pool_stop(d);
		return -1;
	}
	return 0;
}

unsigned pool_queued(const struct disk *d)
{
	return d->pool ? d->pool->nq : 0; /* only the queueing thread changes nq */
}

int pool_queue(struct disk *d, bool wr, const struct iovec *iov, unsigned n, uint64_t off, unsigned tag)
{
	struct disk_pool *p = d->pool;
	if (!p || p->nq == DISK_QUEUE || n > DISK_SEGS) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	struct job *j = oldest(p, FREE); /* nq < DISK_QUEUE: there is one */
	j->state = WAITING;
	j->wr = wr;
	j->tag = tag;
	j->n = n;
	j->off = off;
	j->seq = ++p->seq;
	memcpy(j->iov, iov, n * sizeof(*iov));
	p->nq++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

bool pool_ready(struct disk *d)
{
	struct disk_pool *p = d->pool;
	if (!p || !p->nq)
		return false;
	pthread_mutex_lock(&p->lock);
	bool r = oldest(p, DONE) != NULL;
	pthread_mutex_unlock(&p->lock);
	return r;
}

int pool_reap(struct disk *d, unsigned *tag)
{
	struct disk_pool *p = d->pool;
	if (!p || !p->nq) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	struct job *j;
	while (!(j = oldest(p, DONE)))
		pthread_cond_wait(&p->done, &p->lock);
	j->state = FREE;
	p->nq--;
	*tag = j->tag;
	int e = j->err;
	pthread_mutex_unlock(&p->lock);
	errno = e;
	return e ? -1 : 0;
}
