/* sgprobe: a host-side test client for sandgate-agent.
 *
 *   sgprobe --socket PATH [--timeout SEC] [--config KEY=VALUE]...
 *           [--pty ROWSxCOLS] [--resize ROWSxCOLS] [--term TERM]
 *           [--env NAME=VALUE]... [--cmd STRING | --subsystem NAME |
 *           --tcp HOST:PORT] [--signal SIGNO] [--pid-file FILE]
 *           [--channels N] [--wait-ready] [--] [ARGV...]
 *
 * Connects to the unix socket (retrying while it is missing or refuses,
 * up to the timeout), says HELLO every 250 ms until the matching
 * HELLO_ACK, sends CONFIG and opens a channel: stdin goes to it within the
 * agent's credit, its stdout and stderr come to ours, and credit is
 * granted back as we write. Exits with the remote exit status (128 + the
 * signal for a signal), 255 for a protocol or connection failure.
 * --wait-ready stops at HELLO_ACK and prints the milliseconds since start.
 * --channels N runs N copies of the process at once (output of all goes
 * to our stdout/stderr; the status is the first non-zero one). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/proto.h"

#define PROBE_WINDOW	(256u << 10)	/* credit we give the agent */
#define PROBE_MAX_CHANS	64

struct probe_chan {
	uint32_t id;
	int open;		/* OPEN_OK received */
	int done;		/* CLOSE received */
	uint32_t credit;	/* bytes the agent lets us send */
	uint32_t ungranted;	/* bytes written out, not granted back */
	int have_exit;
	int status;		/* exit code or 128 + signal */
};

struct probe {
	const char *socket;
	int timeout_ms;
	struct sg_config *cfg;
	struct sg_open open;
	const char *pid_file;
	uint16_t resize_rows, resize_cols;
	int signo;
	int wait_ready;
	int nchans;
	struct probe_chan chans[PROBE_MAX_CHANS];

	int fd;
	struct sg_buf *in, *out;
	uint64_t nonce;
	int ready;
	int64_t start;
	int stdin_eof;
	int raw;
	struct termios saved_tio;
};


static void __attribute__((noreturn, format(printf, 2, 3)))
die(struct probe *p, const char *fmt, ...)
{
	va_list ap;

	if (p != NULL && p->raw)
		tcsetattr(0, TCSAFLUSH, &p->saved_tio);
	fputs("sgprobe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(255);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sgprobe --socket PATH [--timeout SEC] [--config K=V]...\n"
	    "               [--pty ROWSxCOLS] [--resize ROWSxCOLS] [--term T]\n"
	    "               [--env N=V]... [--cmd STRING | --subsystem NAME |\n"
	    "               --tcp HOST:PORT] [--signal SIGNO] [--pid-file F]\n"
	    "               [--channels N] [--wait-ready] [--] [ARGV...]\n");
	exit(2);
}

static long
parse_num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "sgprobe: bad %s \"%s\"\n", what, s);
		exit(2);
	}
	return v;
}

static void
parse_size(const char *s, uint16_t *rows, uint16_t *cols)
{
	char buf[32], *x;

	if (strlen(s) >= sizeof(buf))
		usage();
	memcpy(buf, s, strlen(s) + 1);
	x = strchr(buf, 'x');
	if (x == NULL)
		usage();
	*x = '\0';
	*rows = (uint16_t)parse_num(buf, 1, 65535, "rows");
	*cols = (uint16_t)parse_num(x + 1, 1, 65535, "columns");
}

static char **
push(char **v, size_t *n, char *s)
{
	char **nv = realloc(v, (*n + 2) * sizeof(*nv));

	if (nv == NULL)
		die(NULL, "out of memory");
	nv[(*n)++] = s;
	nv[*n] = NULL;
	return nv;
}

/* Connects to the socket, retrying while it is not there yet. */
static void
probe_connect(struct probe *p)
{
	struct sockaddr_un sa;
	int64_t end = p->start + p->timeout_ms;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(p->socket) >= sizeof(sa.sun_path))
		die(p, "socket path too long: %s", p->socket);
	memcpy(sa.sun_path, p->socket, strlen(p->socket));
	for (;;) {
		p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (p->fd < 0)
			die(p, "socket: %s", strerror(errno));
		if (connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (errno != ENOENT && errno != ECONNREFUSED)
			die(p, "cannot connect to %s: %s", p->socket,
			    strerror(errno));
		close(p->fd);
		if (sg_mono_ms() >= end)
			die(p, "cannot connect to %s: %s (gave up after %d s)",
			    p->socket, strerror(errno), p->timeout_ms / 1000);
		usleep(20000);
	}
	if (fcntl(p->fd, F_SETFL, O_NONBLOCK) < 0)
		die(p, "fcntl: %s", strerror(errno));
}

static void
put_ok(struct probe *p, int r, const char *what)
{
	if (r < 0)
		die(p, "cannot encode %s: %s", what, strerror(-r));
}

static struct probe_chan *
find_chan(struct probe *p, uint32_t id)
{
	if (id == 0 || id > (uint32_t)p->nchans)
		return NULL;
	return &p->chans[id - 1];
}

/* Writes all of buf to fd (blocking). */
static void
write_all(struct probe *p, int fd, const uint8_t *buf, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die(p, "write to fd %d: %s", fd, strerror(errno));
		buf += w;
		n -= (size_t)w;
	}
}

static void
send_opens(struct probe *p)
{
	int i;

	/* Like the host: CONFIG after every handshake, then the OPENs
	 * (pipelined; the agent handles frames in order). */
	put_ok(p, sg_proto_put_config(p->out, p->cfg), "CONFIG");
	for (i = 0; i < p->nchans; i++) {
		p->chans[i].id = (uint32_t)i + 1;
		put_ok(p, sg_proto_put_open(p->out, p->chans[i].id, &p->open),
		    "OPEN");
	}
}

/* Looks for our HELLO_ACK in the input, skipping anything before it.
 * Returns 1 once found (and consumed). */
static int
find_ack(struct probe *p)
{
	static const uint8_t pat[8] = { 0x53, 0x47, SG_MSG_HELLO_ACK, 0,
	    0, 0, 0, 0 };
	struct sg_msg m;
	uint16_t version;
	uint64_t nonce;
	const uint8_t *d;
	size_t n, off;
	int r;

	for (;;) {
		d = sg_buf_data(p->in);
		n = sg_buf_len(p->in);
		for (off = 0; off < n; off++)
			if (memcmp(d + off, pat, n - off < 8 ? n - off : 8) == 0)
				break;
		sg_buf_consume(p->in, off);
		d = sg_buf_data(p->in);
		n = sg_buf_len(p->in);
		if (n == 0)
			return 0;
		r = sg_proto_peek(d, n, &m);
		if (r == 0)
			return 0;
		if (r < 0 || sg_proto_get_hello_ack(&m, &version, &nonce) < 0 ||
		    nonce != p->nonce) {
			sg_buf_consume(p->in, 1);
			continue;
		}
		sg_buf_consume(p->in, SG_PROTO_HDR_LEN + m.len);
		if (version < SG_PROTO_VERSION_MIN ||
		    version > SG_PROTO_VERSION)
			die(p, "the agent speaks protocol version %u", version);
		return 1;
	}
}

/* Handles one frame after the handshake. */
static void
handle(struct probe *p, const struct sg_msg *m)
{
	struct probe_chan *c = find_chan(p, m->chan);
	uint32_t status, err, pid, credit;
	uint8_t kind, value, core;
	const char *msg;
	size_t len;
	FILE *f;
	int r;

	switch (m->type) {
	case SG_MSG_HELLO_ACK:
	case SG_MSG_PONG:
		return;
	case SG_MSG_CONFIG_ACK:
		if (sg_proto_get_config_ack(m, &status, &msg, &len) < 0)
			die(p, "malformed CONFIG_ACK");
		if (status != 0)
			die(p, "CONFIG failed: %s: %.*s", strerror((int)status),
			    (int)len, msg);
		return;
	case SG_MSG_PING:
		return;
	default:
		break;
	}
	if (c == NULL)
		die(p, "%s for unknown channel %u", sg_proto_type_name(m->type),
		    m->chan);
	switch (m->type) {
	case SG_MSG_OPEN_OK:
		if (sg_proto_get_open_ok(m, &credit, &pid) < 0)
			die(p, "malformed OPEN_OK");
		c->open = 1;
		c->credit = credit;
		if (p->open.kind == SG_OPEN_TCP) {
			/* No EXIT on a TCP channel: CLOSE ends it well. */
			c->have_exit = 1;
			c->status = 0;
		}
		if (p->pid_file != NULL && c->id == 1) {
			f = fopen(p->pid_file, "we");
			if (f == NULL)
				die(p, "cannot write %s: %s", p->pid_file,
				    strerror(errno));
			fprintf(f, "%" PRIu32 "\n", pid);
			fclose(f);
		}
		if (p->resize_rows != 0)
			put_ok(p, sg_proto_put_resize(p->out, c->id,
			    p->resize_rows, p->resize_cols, 0, 0), "RESIZE");
		if (p->signo != 0)
			put_ok(p, sg_proto_put_signal(p->out, c->id,
			    (uint8_t)p->signo), "SIGNAL");
		if (p->stdin_eof)
			put_ok(p, sg_proto_put_eof(p->out, c->id, 0), "EOF");
		return;
	case SG_MSG_OPEN_FAIL:
		if (sg_proto_get_open_fail(m, &err, &msg, &len) < 0)
			die(p, "malformed OPEN_FAIL");
		fprintf(stderr, "sgprobe: OPEN_FAIL %s: %.*s\n",
		    strerror((int)err), (int)len, msg);
		c->done = 1;
		c->have_exit = 1;
		c->status = 254;
		return;
	case SG_MSG_DATA:
		if (!c->open || m->stream == 0)
			die(p, "unexpected DATA");
		write_all(p, m->stream == 2 ? 2 : 1, m->payload, m->len);
		c->ungranted += m->len;
		if (c->ungranted > PROBE_WINDOW)
			die(p, "the agent sent more than its credit");
		return;
	case SG_MSG_EOF:
		return;
	case SG_MSG_CREDIT:
		r = sg_proto_get_u32(m, &credit);
		if (r < 0)
			die(p, "malformed CREDIT");
		c->credit += credit;
		return;
	case SG_MSG_EXIT:
		if (sg_proto_get_exit(m, &kind, &value, &core) < 0)
			die(p, "malformed EXIT");
		c->have_exit = 1;
		c->status = kind == SG_EXIT_SIGNAL ? 128 + value : value;
		return;
	case SG_MSG_CLOSE:
		put_ok(p, sg_proto_put_close(p->out, c->id), "CLOSE");
		c->done = 1;
		return;
	default:
		die(p, "unexpected %s", sg_proto_type_name(m->type));
	}
}

/* Sends our stdin to channel 1 (to every channel with --channels: the
 * same bytes, within the smallest credit). */
static void
read_stdin(struct probe *p)
{
	static uint8_t buf[SG_PROTO_DATA_CHUNK];
	uint32_t want = SG_PROTO_DATA_CHUNK;
	ssize_t n;
	int i;

	for (i = 0; i < p->nchans; i++)
		if (!p->chans[i].done && p->chans[i].credit < want)
			want = p->chans[i].credit;
	if (want == 0)
		return;
	n = read(0, buf, want);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		p->stdin_eof = 1;
		for (i = 0; i < p->nchans; i++)
			if (!p->chans[i].done)
				put_ok(p, sg_proto_put_eof(p->out,
				    p->chans[i].id, 0), "EOF");
		return;
	}
	for (i = 0; i < p->nchans; i++) {
		if (p->chans[i].done)
			continue;
		put_ok(p, sg_proto_put_data(p->out, p->chans[i].id, 0, buf,
		    (size_t)n), "DATA");
		p->chans[i].credit -= (uint32_t)n;
	}
}

static int
all_open(const struct probe *p)
{
	int i;

	for (i = 0; i < p->nchans; i++)
		if (!p->chans[i].open || p->chans[i].done)
			return 0;
	return 1;
}

static int
all_done(const struct probe *p)
{
	int i;

	for (i = 0; i < p->nchans; i++)
		if (!p->chans[i].done)
			return 0;
	return 1;
}

static int
loop(struct probe *p)
{
	int64_t next_hello = 0, now;
	struct pollfd pfd[2];
	struct sg_msg m;
	ssize_t n;
	int i, r, timeout, status = 0;

	for (;;) {
		now = sg_mono_ms();
		timeout = -1;
		if (!p->ready) {
			if (now - p->start > p->timeout_ms)
				die(p, "no HELLO_ACK after %d s",
				    p->timeout_ms / 1000);
			if (now >= next_hello) {
				put_ok(p, sg_proto_put_hello(p->out, p->nonce),
				    "HELLO");
				next_hello = now + 250;
			}
			timeout = (int)(next_hello - now);
		}
		pfd[0].fd = p->fd;
		pfd[0].events = POLLIN;
		if (sg_buf_len(p->out) > 0)
			pfd[0].events |= POLLOUT;
		pfd[1].fd = -1;
		pfd[1].events = POLLIN;
		if (p->ready && !p->stdin_eof && all_open(p) &&
		    sg_buf_len(p->out) < (512u << 10))
			pfd[1].fd = 0;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			die(p, "poll: %s", strerror(errno));
		if (pfd[0].revents & POLLOUT) {
			n = sg_buf_write_fd(p->out, p->fd);
			if (n < 0 && n != -EAGAIN)
				die(p, "write to the agent: %s", strerror((int)-n));
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = sg_buf_read_fd(p->in, p->fd, 0);
			if (n == 0)
				die(p, "the agent closed the connection");
			if (n < 0 && n != -EAGAIN)
				die(p, "read from the agent: %s",
				    strerror((int)-n));
		}
		if (!p->ready && find_ack(p)) {
			p->ready = 1;
			if (p->wait_ready) {
				printf("%" PRId64 "\n", sg_mono_ms() - p->start);
				return 0;
			}
			send_opens(p);
		}
		while (p->ready) {
			r = sg_proto_peek(sg_buf_data(p->in), sg_buf_len(p->in),
			    &m);
			if (r < 0)
				die(p, "framing error from the agent");
			if (r == 0)
				break;
			handle(p, &m);
			sg_buf_consume(p->in, SG_PROTO_HDR_LEN + m.len);
		}
		if (pfd[1].fd == 0 && (pfd[1].revents & (POLLIN | POLLHUP |
		    POLLERR)))
			read_stdin(p);
		for (i = 0; i < p->nchans; i++) {
			if (p->chans[i].ungranted == 0 || p->chans[i].done)
				continue;
			put_ok(p, sg_proto_put_credit(p->out, p->chans[i].id,
			    p->chans[i].ungranted), "CREDIT");
			p->chans[i].ungranted = 0;
		}
		if (p->ready && all_done(p)) {
			/* Let our last CLOSE reach the agent. */
			while (sg_buf_len(p->out) > 0 &&
			    sg_buf_write_fd(p->out, p->fd) > 0)
				;
			for (i = 0; i < p->nchans; i++)
				if (status == 0)
					status = p->chans[i].have_exit ?
					    p->chans[i].status : 255;
			return status;
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'c' },
		{ "pty", required_argument, NULL, 'p' },
		{ "resize", required_argument, NULL, 'r' },
		{ "term", required_argument, NULL, 'T' },
		{ "env", required_argument, NULL, 'e' },
		{ "cmd", required_argument, NULL, 'C' },
		{ "subsystem", required_argument, NULL, 'S' },
		{ "tcp", required_argument, NULL, 'n' },
		{ "signal", required_argument, NULL, 'k' },
		{ "pid-file", required_argument, NULL, 'P' },
		{ "channels", required_argument, NULL, 'N' },
		{ "wait-ready", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	static struct probe pr;
	struct probe *p = &pr;
	struct termios raw;
	char *eq, *colon;
	int c, r;

	p->start = sg_mono_ms();
	p->timeout_ms = 30000;
	p->nchans = 1;
	p->open.kind = SG_OPEN_PROCESS;
	p->open.credit = PROBE_WINDOW;
	p->cfg = sg_config_new();
	p->in = sg_buf_new(2 * SG_PROTO_MAX_FRAME);
	p->out = sg_buf_new(4u << 20);
	if (p->cfg == NULL || p->in == NULL || p->out == NULL)
		die(p, "out of memory");
	for (;;) {
		c = getopt_long(argc, argv, "+", opts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 's':
			p->socket = optarg;
			break;
		case 't':
			p->timeout_ms = (int)parse_num(optarg, 1, 3600,
			    "timeout") * 1000;
			break;
		case 'c':
			eq = strchr(optarg, '=');
			if (eq == NULL)
				usage();
			*eq = '\0';
			if (sg_config_add(p->cfg, optarg, eq + 1) < 0)
				die(p, "bad --config %s", optarg);
			break;
		case 'p':
			p->open.flags |= SG_OPEN_F_PTY;
			parse_size(optarg, &p->open.rows, &p->open.cols);
			break;
		case 'r':
			parse_size(optarg, &p->resize_rows, &p->resize_cols);
			break;
		case 'T':
			p->open.term = optarg;
			break;
		case 'e':
			p->open.env = push(p->open.env, &p->open.envc, optarg);
			break;
		case 'C':
			p->open.cmd = optarg;
			break;
		case 'S':
			p->open.kind = SG_OPEN_SUBSYSTEM;
			p->open.subsystem = optarg;
			break;
		case 'n':
			colon = strrchr(optarg, ':');
			if (colon == NULL)
				usage();
			*colon = '\0';
			p->open.kind = SG_OPEN_TCP;
			p->open.host = optarg;
			p->open.port = (uint16_t)parse_num(colon + 1, 1, 65535,
			    "port");
			break;
		case 'k':
			p->signo = (int)parse_num(optarg, 1, 64, "signal");
			break;
		case 'P':
			p->pid_file = optarg;
			break;
		case 'N':
			p->nchans = (int)parse_num(optarg, 1, PROBE_MAX_CHANS,
			    "channel count");
			break;
		case 'w':
			p->wait_ready = 1;
			break;
		default:
			usage();
		}
	}
	if (p->socket == NULL)
		usage();
	for (; optind < argc; optind++)
		p->open.argv = push(p->open.argv, &p->open.argc, argv[optind]);
	if ((p->open.flags & SG_OPEN_F_PTY) && p->open.term == NULL)
		p->open.term = getenv("TERM") != NULL ? getenv("TERM") : "xterm";
	if (getrandom(&p->nonce, sizeof(p->nonce), 0) != sizeof(p->nonce))
		die(p, "getrandom: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	probe_connect(p);
	if ((p->open.flags & SG_OPEN_F_PTY) && !p->wait_ready && isatty(0) &&
	    tcgetattr(0, &p->saved_tio) == 0) {
		raw = p->saved_tio;
		cfmakeraw(&raw);
		if (tcsetattr(0, TCSAFLUSH, &raw) == 0)
			p->raw = 1;
	}
	r = loop(p);
	if (p->raw)
		tcsetattr(0, TCSAFLUSH, &p->saved_tio);
	return r;
}
