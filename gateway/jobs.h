/* sg_jobs: slow calls off the monitor's loop.
 *
 * The monitor's poll loop must never wait (a libvirt call, qemu-img, a
 * domain that takes seconds to start): such work runs as a job in one of
 * a few threads, and its completion runs back on the loop when the
 * descriptor of sg_jobs_fd() is readable and sg_jobs_complete() is
 * called. A job's run function touches only what its argument holds (and
 * thread-safe libraries: libvirt); done gets the same argument on the
 * loop thread and owns it. Jobs start in the order submitted, up to the
 * pool's size at once. */
#ifndef SG_JOBS_H
#define SG_JOBS_H

struct sg_jobs;

int sg_jobs_new(unsigned threads, struct sg_jobs **ret);
/* Waits for the jobs that run to finish (their done is not called) and
 * drops those not started (done is called with cancelled = 1). */
void sg_jobs_free(struct sg_jobs *j);

int sg_jobs_fd(const struct sg_jobs *j);
/* Queues a job. Returns 0 or -ENOMEM (nothing was queued). */
int sg_jobs_submit(struct sg_jobs *j, void (*run)(void *arg),
    void (*done)(void *arg, int cancelled), void *arg);
/* Runs done for every finished job. */
void sg_jobs_complete(struct sg_jobs *j);
/* Jobs queued or running. */
unsigned sg_jobs_busy(const struct sg_jobs *j);

#endif
