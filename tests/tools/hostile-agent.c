/* hostile-agent: a guest agent that a compromised guest could run, for
 * tests/resilience/hostile-guest.sh. PID 1 of a test image made from the
 * minimal one; never installed.
 *
 * It boots as the real agent does (agent/init.c: mounts, modules; the
 * same transport search, agent/xport.c), answers HELLO and CONFIG
 * correctly so that its sandbox becomes ready, and then, when the host
 * opens the first channel, misbehaves as the CONFIG entry
 * env SG_HOSTILE=MODE says:
 *   random     256 KiB of random bytes
 *   oversized  a frame header announcing more than SG_PROTO_MAX_PAYLOAD
 *   truncated  the first 20 bytes of a DATA frame of 1000, then silence
 *   state      frames of a state that does not allow them: HELLO_ACK
 *              again, OPEN_OK, DATA and EXIT for channels never opened
 *   channels   OPEN_OK for 5000 channels the host never opened
 *   flood      DATA on the opened channel far beyond its credit
 * and then idles (answering nothing) until it is powered off. Without
 * SG_HOSTILE it answers the channel with OPEN_FAIL (a control). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "agent/init.h"
#include "agent/poll.h"
#include "agent/xport.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/proto.h"

static struct sg_buf *in, *out;
static char mode[32];

/* Writes out to fd, waiting as needed; gives up after 10 s. */
static void
flush(int fd)
{
	int64_t until = sg_mono_ms() + 10000;

	while (sg_buf_len(out) > 0 && sg_mono_ms() < until) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t k = sg_buf_write_fd(out, fd);

		if (k < 0 && k != -EAGAIN)
			return;
		if (sg_buf_len(out) > 0)
			(void)poll(&p, 1, 100);
	}
}

static void
raw(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t k = write(fd, b, n);

		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return;
		if (k > 0) {
			b += k;
			n -= (size_t)k;
		} else {
			struct pollfd q = { .fd = fd, .events = POLLOUT };

			(void)poll(&q, 1, 100);
		}
	}
}

static void
misbehave(int fd, uint32_t chan)
{
	uint8_t junk[4096];
	size_t i;

	sg_info("hostile-agent: misbehaving: %s", mode[0] ? mode : "(none)");
	if (strcmp(mode, "random") == 0) {
		for (i = 0; i < 64; i++) {
			if (getrandom(junk, sizeof(junk), 0) < 0)
				memset(junk, 0xa5, sizeof(junk));
			raw(fd, junk, sizeof(junk));
		}
	} else if (strcmp(mode, "oversized") == 0) {
		uint8_t h[SG_PROTO_HDR_LEN] = { 0x53, 0x47, SG_MSG_DATA, 1,
		    0, 0, 0, 1, 0xff, 0xff, 0xff, 0xf0 };

		raw(fd, h, sizeof(h));
	} else if (strcmp(mode, "truncated") == 0) {
		memset(junk, 'x', 1000);
		(void)sg_proto_put_data(out, chan, SG_STREAM_STDOUT, junk, 1000);
		raw(fd, sg_buf_data(out), 20);
		sg_buf_reset(out);
	} else if (strcmp(mode, "state") == 0) {
		(void)sg_proto_put_hello_ack(out, SG_PROTO_VERSION, 1, "x");
		(void)sg_proto_put_open_ok(out, chan + 100, 65536, 1);
		(void)sg_proto_put_data(out, chan + 101, SG_STREAM_STDOUT, "x", 1);
		(void)sg_proto_put_exit(out, chan + 102, SG_EXIT_CODE, 0, 0);
		flush(fd);
	} else if (strcmp(mode, "channels") == 0) {
		for (i = 0; i < 5000; i++) {
			if (sg_proto_put_open_ok(out, chan + 1 + (uint32_t)i,
			    65536, 1) < 0) {
				flush(fd);
				i--;
			}
		}
		flush(fd);
	} else if (strcmp(mode, "flood") == 0) {
		memset(junk, 'f', sizeof(junk));
		(void)sg_proto_put_open_ok(out, chan, 65536, 1);
		for (i = 0; i < 4096; i++) {
			if (sg_proto_put_data(out, chan, SG_STREAM_STDOUT, junk,
			    sizeof(junk)) < 0)
				flush(fd);
		}
		flush(fd);
	} else {
		(void)sg_proto_put_open_fail(out, chan, EPERM, "hostile-agent "
		    "control: no SG_HOSTILE");
		flush(fd);
	}
}

/* Reads what the host sends and answers the handshake; returns when the
 * host opens its first channel (its id). */
static uint32_t
serve(int fd)
{
	struct sg_config *cfg;
	struct sg_msg m;
	uint16_t vmin, vmax;
	uint64_t nonce;
	size_t i;
	int k;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		(void)poll(&p, 1, 1000);
		if (sg_buf_read_fd(in, fd, 0) == 0) {
			/* the port before the host opens it */
			usleep(100000);
			continue;
		}
		for (;;) {
			k = sg_proto_peek(sg_buf_data(in), sg_buf_len(in), &m);
			if (k < 0) {
				sg_buf_consume(in, 1);
				continue;
			}
			if (k == 0)
				break;
			switch (m.type) {
			case SG_MSG_HELLO:
				if (sg_proto_get_hello(&m, &vmin, &vmax,
				    &nonce) == 0)
					(void)sg_proto_put_hello_ack(out,
					    sg_proto_version_pick(vmin, vmax),
					    nonce, "hostile");
				break;
			case SG_MSG_CONFIG:
				if (sg_proto_get_config(&m, &cfg) == 0) {
					for (i = 0; i < sg_config_count(cfg); i++)
						if (strcmp(sg_config_key(cfg, i),
						    "env") == 0 && strncmp(
						    sg_config_value(cfg, i),
						    "SG_HOSTILE=", 11) == 0)
							snprintf(mode,
							    sizeof(mode), "%s",
							    sg_config_value(cfg,
							    i) + 11);
					sg_config_free(cfg);
				}
				(void)sg_proto_put_config_ack(out, 0, NULL);
				break;
			case SG_MSG_PING:
				if (sg_proto_get_u64(&m, &nonce) == 0)
					(void)sg_proto_put_ping(out,
					    SG_MSG_PONG, nonce);
				break;
			case SG_MSG_OPEN:
				return m.chan;
			default:
				break;
			}
			sg_buf_consume(in, SG_PROTO_HDR_LEN + m.len);
		}
		flush(fd);
	}
}

int
main(void)
{
	struct ag_xport_opts xo = { NULL, NULL, 1 };
	struct ag_xport *x = NULL;
	struct ag_poll *p = NULL;
	uint32_t chan;
	int fd;

	sg_log_init("hostile-agent", SG_LOG_INFO);
	if (getpid() == 1)
		ag_init_system();
	in = sg_buf_new(SG_PROTO_MAX_FRAME * 4);
	out = sg_buf_new(SG_PROTO_MAX_FRAME * 4);
	if (in == NULL || out == NULL || ag_poll_new(&p) < 0 ||
	    ag_xport_new(&xo, &x) < 0)
		ag_init_poweroff("hostile-agent cannot start");
	while ((fd = ag_xport_current(x)) < 0) {
		ag_poll_reset(p);
		(void)ag_xport_poll(x, p);
		(void)ag_poll_wait(p);
		(void)ag_xport_run(x, p, sg_mono_ms());
	}
	chan = serve(fd);
	misbehave(fd, chan);
	for (;;)
		pause();
}
