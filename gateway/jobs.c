/* sg_jobs: see jobs.h. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gateway/jobs.h"

struct job {
	struct job *next;
	void (*run)(void *arg);
	void (*done)(void *arg, int cancelled);
	void *arg;
};

struct sg_jobs {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *queue, **qtail;	/* not started */
	struct job *finished;		/* run, done not yet called */
	pthread_t *threads;
	unsigned nthreads, max, idle, busy;
	int efd;
	int stop;
};

static void *
worker(void *arg)
{
	struct sg_jobs *j = arg;
	struct job *jb;
	uint64_t one = 1;

	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (j->queue == NULL && !j->stop) {
			j->idle++;
			pthread_cond_wait(&j->cond, &j->lock);
			j->idle--;
		}
		if (j->stop)
			break;
		jb = j->queue;
		j->queue = jb->next;
		if (j->queue == NULL)
			j->qtail = &j->queue;
		pthread_mutex_unlock(&j->lock);
		jb->run(jb->arg);
		pthread_mutex_lock(&j->lock);
		jb->next = j->finished;
		j->finished = jb;
		if (write(j->efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow in practice */
		}
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

int
sg_jobs_new(unsigned threads, struct sg_jobs **ret)
{
	struct sg_jobs *j;

	if (threads == 0)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->threads = calloc(threads, sizeof(*j->threads));
	if (j->threads == NULL) {
		free(j);
		return -ENOMEM;
	}
	j->max = threads;
	j->qtail = &j->queue;
	j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->efd < 0) {
		int r = -errno;

		free(j->threads);
		free(j);
		return r;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	*ret = j;
	return 0;
}

int
sg_jobs_fd(const struct sg_jobs *j)
{
	return j->efd;
}

int
sg_jobs_submit(struct sg_jobs *j, void (*run)(void *arg),
    void (*done)(void *arg, int cancelled), void *arg)
{
	struct job *jb = calloc(1, sizeof(*jb));
	int r = 0;

	if (jb == NULL)
		return -ENOMEM;
	jb->run = run;
	jb->done = done;
	jb->arg = arg;
	pthread_mutex_lock(&j->lock);
	*j->qtail = jb;
	j->qtail = &jb->next;
	j->busy++;
	/* Threads are made as the load needs them, up to max; they run
	 * with every signal blocked (the loop takes signals by signalfd). */
	if (j->idle == 0 && j->nthreads < j->max) {
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&j->threads[j->nthreads], NULL, worker, j) == 0)
			j->nthreads++;
		else if (j->nthreads == 0)
			r = -EAGAIN;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (r == 0)
		pthread_cond_signal(&j->cond);
	else {
		/* no thread at all: take it back */
		struct job **pp;

		for (pp = &j->queue; *pp != jb; pp = &(*pp)->next)
			;
		*pp = NULL;
		j->qtail = pp;
		j->busy--;
		free(jb);
	}
	pthread_mutex_unlock(&j->lock);
	return r;
}

void
sg_jobs_complete(struct sg_jobs *j)
{
	struct job *list, *jb, *rev = NULL;
	uint64_t v;

	if (read(j->efd, &v, sizeof(v)) < 0) {
		/* nothing counted: look anyway */
	}
	pthread_mutex_lock(&j->lock);
	list = j->finished;
	j->finished = NULL;
	pthread_mutex_unlock(&j->lock);
	/* in the order they finished */
	while ((jb = list) != NULL) {
		list = jb->next;
		jb->next = rev;
		rev = jb;
	}
	while ((jb = rev) != NULL) {
		rev = jb->next;
		pthread_mutex_lock(&j->lock);
		j->busy--;
		pthread_mutex_unlock(&j->lock);
		jb->done(jb->arg, 0);
		free(jb);
	}
}

unsigned
sg_jobs_busy(const struct sg_jobs *j)
{
	return j->busy;
}

void
sg_jobs_free(struct sg_jobs *j)
{
	struct job *jb;
	unsigned i;

	if (j == NULL)
		return;
	pthread_mutex_lock(&j->lock);
	j->stop = 1;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	for (i = 0; i < j->nthreads; i++)
		pthread_join(j->threads[i], NULL);
	while ((jb = j->queue) != NULL) {
		j->queue = jb->next;
		jb->done(jb->arg, 1);
		free(jb);
	}
	while ((jb = j->finished) != NULL) {
		j->finished = jb->next;
		jb->done(jb->arg, 1);
		free(jb);
	}
	close(j->efd);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j->threads);
	free(j);
}
