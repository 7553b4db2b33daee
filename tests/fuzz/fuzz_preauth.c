/* libFuzzer harness for the worker before authentication: what any
 * client on the network can send.
 *
 * As Dropbear's fuzz harness does, the SSH server is fed from a buffer:
 * the input is the client's whole byte stream, written into a socketpair
 * whose far end is then shut, and a libssh server session set up as the
 * worker sets it up (gateway/worker.c: an ssh_bind holding an ed25519 host
 * key, ssh_bind_accept_fd, ssh_handle_key_exchange, then the message loop
 * that answers every request with the default reply) reads it to its end.
 * The server's own output goes into the socketpair's buffer and is
 * dropped.
 *
 * libssh comes from Debian and is not instrumented, so libFuzzer cannot
 * see its branches. The harness gives it two coarse signals instead, as
 * edges of its own: how much the server answered (its banner, KEXINIT
 * and key exchange reply: 64-byte steps) and which error the session
 * ended with (a hash of libssh's message, 47 buckets). An input that gets the parser
 * further, or out by another path, is kept. AddressSanitizer sees libssh's
 * allocations through its interceptors (double or invalid frees, leaks);
 * crashes and hangs are seen whatever the build.
 *
 * The client cannot finish a key exchange from a fixed buffer (the
 * server's ephemeral key is random), so this covers the version exchange,
 * KEXINIT negotiation, the key exchange's first message and the packet
 * layer before encryption: the whole surface open before any secret.
 *
 * `SG_FUZZ_PREAUTH_SEEDS=DIR tests/fuzz/fuzz_preauth` writes the seeds
 * (tests/fuzz/corpus/preauth) into DIR and exits; with SG_FUZZ_VERBOSE
 * set, each run says how far the server read and how it ended. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#define MAX_INPUT	(64u * 1024)

static ssh_bind the_bind;

/* --- seeds --- */

static size_t
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

static size_t
put_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	put_u32(p, (uint32_t)n);
	memcpy(p + 4, s, n);
	return 4 + n;
}

/* An unencrypted binary packet (RFC 4253, 6) around payload. */
static size_t
packet(uint8_t *out, const uint8_t *payload, size_t n)
{
	size_t pad = 8 - (5 + n) % 8;

	if (pad < 4)
		pad += 8;
	put_u32(out, (uint32_t)(1 + n + pad));
	out[4] = (uint8_t)pad;
	memcpy(out + 5, payload, n);
	memset(out + 5 + n, 0, pad);
	return 5 + n + pad;
}

static size_t
kexinit(uint8_t *out, const char *kex, const char *hostkey,
    const char *cipher, const char *mac)
{
	uint8_t p[2048];
	size_t k = 0;

	p[k++] = 20;		/* SSH_MSG_KEXINIT */
	memset(p + k, 0x5a, 16);	/* cookie */
	k += 16;
	k += put_str(p + k, kex);
	k += put_str(p + k, hostkey);
	k += put_str(p + k, cipher);
	k += put_str(p + k, cipher);
	k += put_str(p + k, mac);
	k += put_str(p + k, mac);
	k += put_str(p + k, "none");
	k += put_str(p + k, "none");
	k += put_str(p + k, "");
	k += put_str(p + k, "");
	p[k++] = 0;		/* first_kex_packet_follows */
	k += put_u32(p + k, 0);
	return packet(out, p, k);
}

static size_t
ecdh_init(uint8_t *out)
{
	uint8_t p[64];
	size_t k = 0;

	p[k++] = 30;		/* SSH_MSG_KEX_ECDH_INIT */
	k += put_u32(p + k, 32);
	memset(p + k, 9, 32);	/* a curve25519 public key's shape */
	k += 32;
	return packet(out, p, k);
}

static void
write_seed(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "fuzz_preauth: cannot write %s\n", path);
		exit(1);
	}
}

static void
write_seeds(const char *dir)
{
	static const char banner[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
	uint8_t b[8192];
	size_t k;

	k = strlen(banner);
	memcpy(b, banner, k);
	write_seed(dir, "banner", b, k);
	k += kexinit(b + k, "curve25519-sha256,ext-info-c", "ssh-ed25519",
	    "chacha20-poly1305@openssh.com,aes128-ctr", "hmac-sha2-256");
	write_seed(dir, "kexinit", b, k);
	k += ecdh_init(b + k);
	write_seed(dir, "ecdh-init", b, k);
	k = strlen(banner);
	k += kexinit(b + k, "diffie-hellman-group14-sha256",
	    "rsa-sha2-256,ssh-ed25519", "aes256-gcm@openssh.com",
	    "hmac-sha2-512-etm@openssh.com");
	write_seed(dir, "kexinit-dh", b, k);
	k = strlen(banner);
	k += kexinit(b + k, "none-such", "nothing", "rot13", "crc");
	write_seed(dir, "kexinit-nothing-common", b, k);
	k = (size_t)snprintf((char *)b, sizeof(b), "hello\r\nsecond line\r\n%s",
	    banner);
	write_seed(dir, "preamble", b, k);
	k = (size_t)snprintf((char *)b, sizeof(b), "SSH-1.5-old\r\n");
	write_seed(dir, "ssh1", b, k);
}

/* --- coarse signals as edges --- */

/* one edge per bucket: a table of distinct functions */
#define EDGE(n) static void __attribute__((noinline)) edge##n(void) \
	{ __asm__ volatile("" ::: "memory"); }
#define E8(a) EDGE(a##0) EDGE(a##1) EDGE(a##2) EDGE(a##3) \
	EDGE(a##4) EDGE(a##5) EDGE(a##6) EDGE(a##7)
E8(0) E8(1) E8(2) E8(3) E8(4) E8(5) E8(6) E8(7)
#define R8(a) edge##a##0, edge##a##1, edge##a##2, edge##a##3, \
	edge##a##4, edge##a##5, edge##a##6, edge##a##7
static void (*const edges[64])(void) = {
	R8(0), R8(1), R8(2), R8(3), R8(4), R8(5), R8(6), R8(7),
};

/* edges 0..16: how much the server answered, in steps of 64 bytes (its
 * banner, its KEXINIT, its key exchange reply each move it on) */
static void
note_answered(size_t n)
{
	edges[n / 64 < 16 ? n / 64 : 16]();
}

/* edges 17..63: which error the session ended with (socket errors
 * carry a stale errno: they count as one) */
static void
note_error(const char *msg)
{
	uint32_t h = 2166136261u;

	if (msg != NULL && strncmp(msg, "Socket error", 12) == 0)
		msg = "Socket error";
	for (; msg != NULL && *msg != '\0'; msg++)
		h = (h ^ (uint8_t)*msg) * 16777619u;
	edges[17 + h % 47]();
}

/* --- the harness --- */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("SG_FUZZ_PREAUTH_SEEDS");
	ssh_key key = NULL;

	(void)argc;
	(void)argv;
	if (seeds != NULL) {
		write_seeds(seeds);
		exit(0);
	}
	signal(SIGPIPE, SIG_IGN);
	ssh_init();
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
		fprintf(stderr, "fuzz_preauth: cannot make a host key\n");
		exit(1);
	}
	the_bind = ssh_bind_new();
	if (the_bind == NULL || ssh_bind_options_set(the_bind,
	    SSH_BIND_OPTIONS_IMPORT_KEY, key) < 0) {
		fprintf(stderr, "fuzz_preauth: cannot set up the bind\n");
		exit(1);
	}
	return 0;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ssh_session session;
	ssh_message msg;
	int sp[2], buf = 1 << 20, answered = 0, n = 0;
	size_t off = 0;

	if (size > MAX_INPUT)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		abort();
	/* room for the whole input one way and the server's answers the
	 * other, so that neither side waits */
	setsockopt(sp[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	while (off < size) {
		ssize_t w = write(sp[1], data + off, size - off);

		if (w <= 0)
			abort();	/* the buffer was meant to hold it */
		off += (size_t)w;
	}
	shutdown(sp[1], SHUT_WR);
	session = ssh_new();
	if (session == NULL)
		abort();
	if (ssh_bind_accept_fd(the_bind, session, sp[0]) != SSH_OK) {
		ssh_free(session);
		close(sp[0]);
		close(sp[1]);
		return 0;
	}
	if (ssh_handle_key_exchange(session) == SSH_OK) {
		/* not reachable from a fixed buffer today; kept so that a
		 * future deterministic key exchange drives the dialogue */
		while (n++ < 64 && (msg = ssh_message_get(session)) != NULL) {
			ssh_message_reply_default(msg);
			ssh_message_free(msg);
		}
	}
	note_error(ssh_get_error(session));
	if (ioctl(sp[1], FIONREAD, &answered) < 0)
		answered = 0;
	note_answered((size_t)answered);
	if (getenv("SG_FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_preauth: %zu bytes in, %d out: %s\n",
		    size, answered, ssh_get_error(session));
	ssh_disconnect(session);
	ssh_free(session);	/* closes sp[0] */
	close(sp[1]);
	return 0;
}
#pragma GCC diagnostic pop
