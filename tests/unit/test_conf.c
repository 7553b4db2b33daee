/* Unit tests of gateway/conf.c: defaults, every validation error (with
 * file, line and key), unknown and repeated keys and sections, the ini
 * reader (long lines, comments, indentation), file checks, and
 * sg_conf_print's round trip. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/ini.h"
#include "gateway/conf.h"

static char tmpdir[] = "/tmp/sg-test-conf.XXXXXX";

/* Parses text (its strlen) labelled "t.conf"; returns the result code and
 * the error message in *err (or NULL). */
static int parse(const char *text, struct sg_conf **c, char **err)
{
	*c = NULL;
	*err = NULL;
	return sg_conf_parse("t.conf", text, strlen(text), c, err);
}

/* Asserts that text fails to load with exactly the message expect. */
static void expect_error(const char *text, const char *expect)
{
	struct sg_conf *c;
	char *err;
	int r = parse(text, &c, &err);

	if (r == 0 || !err || strcmp(err, expect) != 0)
		fail_msg("for:\n%s\nexpected: %s\n     got: %s (r=%d)", text, expect,
			 err ? err : "(none)", r);
	assert_null(c);
	free(err);
}

/* Asserts that text fails with a message starting with prefix. */
static void expect_error_prefix(const char *text, const char *prefix)
{
	struct sg_conf *c;
	char *err;
	int r = parse(text, &c, &err);

	if (r == 0 || !err || strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("for:\n%s\nexpected prefix: %s\n            got: %s (r=%d)", text, prefix,
			 err ? err : "(none)", r);
	free(err);
}

static struct sg_conf *parse_ok(const char *text)
{
	struct sg_conf *c;
	char *err;
	int r = parse(text, &c, &err);

	if (r != 0)
		fail_msg("for:\n%s\nunexpected error: %s (r=%d)", text, err ? err : "(none)", r);
	assert_non_null(c);
	return c;
}

/* [gateway] max_startups and the rest of the accept limits, unset. */
static void check_limit_defaults(const struct sg_conf *c)
{
	unsigned a = 0, b = 0, f = 0;

	sg_conf_startups(c, &a, &b, &f);
	assert_int_equal(a, 10);
	assert_int_equal(b, 30);
	assert_int_equal(f, 100);
	assert_string_equal(sg_conf_str(c, SG_CONF_MAX_STARTUPS), "10:30:100");
	assert_int_equal(sg_conf_num(c, SG_CONF_PER_SOURCE_MAX_STARTUPS), 10);
	sg_conf_net_block(c, &a, &b);
	assert_int_equal(a, 32);
	assert_int_equal(b, 64);
	assert_string_equal(sg_conf_str(c, SG_CONF_PER_SOURCE_NET_BLOCK), "32:64");
	assert_int_equal(sg_conf_num(c, SG_CONF_KEX_TIMEOUT), 30);
	assert_int_equal(sg_conf_num(c, SG_CONF_LOGIN_GRACE_TIME), 60);
	assert_int_equal(sg_conf_line(c, SG_CONF_MAX_STARTUPS), 0);
}

static void check_defaults(const struct sg_conf *c)
{
	assert_string_equal(sg_conf_str(c, SG_CONF_LISTEN), "0.0.0.0:2222");
	assert_string_equal(sg_conf_listen_host(c), "0.0.0.0");
	assert_int_equal(sg_conf_listen_port(c), 2222);
	assert_string_equal(sg_conf_str(c, SG_CONF_HOST_KEY),
			    SG_LOCALSTATEDIR "/lib/sandgate/ssh_host_ed25519_key");
	assert_string_equal(sg_conf_str(c, SG_CONF_TOKENS), SG_SYSCONFDIR "/sandgate/tokens.conf");
	assert_string_equal(sg_conf_str(c, SG_CONF_STATE_DIR), SG_LOCALSTATEDIR "/lib/sandgate");
	assert_string_equal(sg_conf_str(c, SG_CONF_CONTROL_SOCKET),
			    SG_RUNSTATEDIR "/sandgate/control.sock");
	assert_string_equal(sg_conf_str(c, SG_CONF_AUDIT_LOG),
			    SG_LOCALSTATEDIR "/log/sandgate/audit.jsonl");
	assert_string_equal(sg_conf_str(c, SG_CONF_USER), "sandgate");
	assert_int_equal(sg_conf_num(c, SG_CONF_AUTH_DELAY), 1);
	assert_string_equal(sg_conf_str(c, SG_CONF_LIBVIRT_URI), "qemu:///system");
	assert_int_equal(sg_conf_domain_type(c), SG_CONF_DOMAIN_AUTO);
	assert_string_equal(sg_conf_str(c, SG_CONF_DOMAIN_TYPE), "auto");
	assert_string_equal(sg_conf_str(c, SG_CONF_IMAGE), "default");
	assert_string_equal(sg_conf_str(c, SG_CONF_IMAGE_DIR), SG_LOCALSTATEDIR "/lib/sandgate/images");
	assert_int_equal(sg_conf_num(c, SG_CONF_MEMORY_MB), 1024);
	assert_int_equal(sg_conf_num(c, SG_CONF_VCPUS), 2);
	assert_int_equal(sg_conf_num(c, SG_CONF_DISK_GB), 10);
	assert_int_equal(sg_conf_num(c, SG_CONF_MAX_LIFETIME), 1800);
	assert_int_equal(sg_conf_num(c, SG_CONF_IDLE_TIMEOUT), 600);
	assert_int_equal(sg_conf_transport(c), SG_CONF_TRANSPORT_AUTO);
	assert_int_equal(sg_conf_num(c, SG_CONF_BOOT_TIMEOUT), 60);
	assert_int_equal(sg_conf_num(c, SG_CONF_MAX_SANDBOXES), 5);
	assert_string_equal(sg_conf_str(c, SG_CONF_POOL), "10.200.0.0/16");
	assert_int_equal(sg_conf_pool_addr(c), 0x0ac80000);
	assert_int_equal(sg_conf_pool_prefix(c), 16);
	assert_int_equal(sg_conf_resolve_count(c), 0);
	assert_null(sg_conf_str(c, SG_CONF_EXTRA_CA));
	assert_null(sg_conf_str(c, SG_CONF_RESOLVE));
	assert_int_equal(sg_conf_line(c, SG_CONF_LISTEN), 0);
	check_limit_defaults(c);
}

static void test_defaults_empty(void **state)
{
	struct sg_conf *c;

	(void)state;
	c = parse_ok("");
	check_defaults(c);
	sg_conf_free(c);
	c = parse_ok("# only a comment\n\n; another\n[gateway]\n[sandbox]\n");
	check_defaults(c);
	sg_conf_free(c);
	sg_conf_free(NULL);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_load_files(void **state)
{
	struct sg_conf *c = NULL;
	char path[256], *err = NULL;
	int r;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	r = sg_conf_load(path, 0, &c, &err);
	assert_int_equal(r, 0);
	assert_null(err);
	check_defaults(c);
	assert_string_equal(sg_conf_file(c), "(defaults)");
	sg_conf_free(c);
	c = NULL;

	r = sg_conf_load(path, 1, &c, &err);
	assert_int_equal(r, -ENOENT);
	assert_null(c);
	assert_non_null(err);
	assert_non_null(strstr(err, "cannot read "));
	assert_non_null(strstr(err, "missing.conf: No such file or directory"));
	free(err);
	err = NULL;

	snprintf(path, sizeof(path), "%s/ok.conf", tmpdir);
	write_file(path, "[sandbox]\nvcpus = 4\n", 0644);
	r = sg_conf_load(path, 1, &c, &err);
	assert_int_equal(r, 0);
	assert_int_equal(sg_conf_num(c, SG_CONF_VCPUS), 4);
	assert_int_equal(sg_conf_line(c, SG_CONF_VCPUS), 2);
	assert_string_equal(sg_conf_file(c), path);
	sg_conf_free(c);
	c = NULL;

	write_file(path, "[sandbox]\nvcpus = 99\n", 0644);
	r = sg_conf_load(path, 1, &c, &err);
	assert_int_equal(r, -EINVAL);
	{
		char expect[512];

		snprintf(expect, sizeof(expect), "%s:2: [sandbox] vcpus = 99: must be between 1 and 64", path);
		assert_string_equal(err, expect);
	}
	free(err);
	err = NULL;

	/* writable by others: refused, with the fix */
	write_file(path, "[sandbox]\nvcpus = 4\n", 0666);
	r = sg_conf_load(path, 1, &c, &err);
	assert_int_equal(r, -EACCES);
	assert_non_null(strstr(err, "writable by group or others"));
	assert_non_null(strstr(err, "chmod go-w"));
	free(err);
	err = NULL;
	unlink(path);

	/* a directory is not a configuration file */
	r = sg_conf_load(tmpdir, 1, &c, &err);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	free(err);
}

static void test_full_example(void **state)
{
	struct sg_conf *c;

	(void)state;
	c = parse_ok(
		"# /etc/sandgate/sandgate.conf\n"
		"[gateway]\n"
		"listen = [::1]:2200\n"
		"host_key = /srv/sg/key\n"
		"tokens = /srv/sg/tokens.conf\n"
		"state_dir = /srv/sg/state/\n"
		"control_socket = /run/sg.sock\n"
		"audit_log = /var/log/sg.jsonl\n"
		"user = _sandgate\n"
		"auth_delay = 2s\n"
		"[libvirt]\n"
		"uri = qemu+unix:///system?socket=/run/libvirt/libvirt-sock\n"
		"domain_type = qemu            ; no KVM here\n"
		"[sandbox]\n"
		"image = minimal\n"
		"image_dir = /srv/images\n"
		"memory_mb = 768\n"
		"vcpus = 64\n"
		"disk_gb = 20\n"
		"max_lifetime = 2h\n"
		"idle_timeout = 1d\n"
		"transport = virtio-serial\n"
		"boot_timeout = 90\n"
		"max_sandboxes = 1000\n"
		"[network]\n"
		"pool = 10.0.0.0/8\n"
		"resolve = API.example.com:192.0.2.10\n"
		"resolve = api.example.com:[2001:db8::1]\n"
		"resolve = db.example.com:2001:db8::2\n"
		"[proxy]\n"
		"extra_ca = /etc/ssl/test-ca.pem\n");
	assert_string_equal(sg_conf_listen_host(c), "::1");
	assert_int_equal(sg_conf_listen_port(c), 2200);
	assert_string_equal(sg_conf_str(c, SG_CONF_HOST_KEY), "/srv/sg/key");
	assert_string_equal(sg_conf_str(c, SG_CONF_STATE_DIR), "/srv/sg/state");
	assert_string_equal(sg_conf_str(c, SG_CONF_IMAGE_DIR), "/srv/images");
	assert_string_equal(sg_conf_str(c, SG_CONF_USER), "_sandgate");
	assert_int_equal(sg_conf_num(c, SG_CONF_AUTH_DELAY), 2);
	assert_string_equal(sg_conf_str(c, SG_CONF_LIBVIRT_URI),
			    "qemu+unix:///system?socket=/run/libvirt/libvirt-sock");
	assert_int_equal(sg_conf_domain_type(c), SG_CONF_DOMAIN_QEMU);
	assert_string_equal(sg_conf_str(c, SG_CONF_DOMAIN_TYPE), "qemu");
	assert_string_equal(sg_conf_str(c, SG_CONF_IMAGE), "minimal");
	assert_int_equal(sg_conf_num(c, SG_CONF_MEMORY_MB), 768);
	assert_int_equal(sg_conf_num(c, SG_CONF_VCPUS), 64);
	assert_int_equal(sg_conf_num(c, SG_CONF_DISK_GB), 20);
	assert_int_equal(sg_conf_num(c, SG_CONF_MAX_LIFETIME), 7200);
	assert_int_equal(sg_conf_num(c, SG_CONF_IDLE_TIMEOUT), 86400);
	assert_int_equal(sg_conf_transport(c), SG_CONF_TRANSPORT_VIRTIO_SERIAL);
	assert_int_equal(sg_conf_num(c, SG_CONF_BOOT_TIMEOUT), 90);
	assert_int_equal(sg_conf_num(c, SG_CONF_MAX_SANDBOXES), 1000);
	assert_int_equal(sg_conf_pool_addr(c), 0x0a000000);
	assert_int_equal(sg_conf_pool_prefix(c), 8);
	assert_int_equal(sg_conf_resolve_count(c), 3);
	assert_string_equal(sg_conf_resolve_name(c, 0), "api.example.com");
	assert_string_equal(sg_conf_resolve_addr(c, 0), "192.0.2.10");
	assert_int_equal(sg_conf_resolve_family(c, 0), AF_INET);
	assert_string_equal(sg_conf_resolve_name(c, 1), "api.example.com");
	assert_string_equal(sg_conf_resolve_addr(c, 1), "2001:db8::1");
	assert_int_equal(sg_conf_resolve_family(c, 1), AF_INET6);
	assert_string_equal(sg_conf_resolve_addr(c, 2), "2001:db8::2");
	assert_null(sg_conf_resolve_name(c, 3));
	assert_int_equal(sg_conf_line(c, SG_CONF_RESOLVE), 27);
	assert_int_equal(sg_conf_line(c, SG_CONF_LISTEN), 3);
	assert_string_equal(sg_conf_str(c, SG_CONF_EXTRA_CA), "/etc/ssl/test-ca.pem");
	assert_string_equal(sg_conf_file(c), "t.conf");
	assert_string_equal(sg_conf_key_name(SG_CONF_MEMORY_MB), "[sandbox] memory_mb");
	sg_conf_free(c);
}

static void test_derived_defaults(void **state)
{
	struct sg_conf *c;

	(void)state;
	c = parse_ok("[gateway]\nstate_dir = /srv/sg//\n");
	assert_string_equal(sg_conf_str(c, SG_CONF_STATE_DIR), "/srv/sg");
	assert_string_equal(sg_conf_str(c, SG_CONF_HOST_KEY), "/srv/sg/ssh_host_ed25519_key");
	assert_string_equal(sg_conf_str(c, SG_CONF_IMAGE_DIR), "/srv/sg/images");
	sg_conf_free(c);
	c = parse_ok("[gateway]\nstate_dir = /\n");
	assert_string_equal(sg_conf_str(c, SG_CONF_HOST_KEY), "/ssh_host_ed25519_key");
	sg_conf_free(c);
}

static void test_listen(void **state)
{
	struct sg_conf *c;

	(void)state;
	c = parse_ok("[gateway]\nlisten = [::]:22\n");
	assert_string_equal(sg_conf_listen_host(c), "::");
	assert_int_equal(sg_conf_listen_port(c), 22);
	sg_conf_free(c);
	c = parse_ok("[gateway]\nlisten = 127.0.0.1:65535\n");
	assert_string_equal(sg_conf_listen_host(c), "127.0.0.1");
	assert_int_equal(sg_conf_listen_port(c), 65535);
	sg_conf_free(c);
	/* the monitor listens on an address: a name is refused at load */
	expect_error("[gateway]\nlisten = localhost:2222\n",
		     "t.conf:2: [gateway] listen = localhost:2222: \"localhost\" is not an IPv4 "
		     "address: give the address to listen on, e.g. 127.0.0.1:2222, 0.0.0.0:2222 "
		     "or [::]:2222");

	expect_error("[gateway]\nlisten = 0.0.0.0\n",
		     "t.conf:2: [gateway] listen = 0.0.0.0: expected ADDRESS:PORT, e.g. 0.0.0.0:2222 "
		     "or [::]:2222");
	expect_error("[gateway]\nlisten = 0.0.0.0:0\n",
		     "t.conf:2: [gateway] listen = 0.0.0.0:0: the port must be a number between "
		     "1 and 65535");
	expect_error("[gateway]\nlisten = 0.0.0.0:65536\n",
		     "t.conf:2: [gateway] listen = 0.0.0.0:65536: the port must be a number "
		     "between 1 and 65535");
	expect_error("[gateway]\nlisten = 0.0.0.0:ssh\n",
		     "t.conf:2: [gateway] listen = 0.0.0.0:ssh: the port must be a number "
		     "between 1 and 65535");
	expect_error("[gateway]\nlisten = ::1:22\n",
		     "t.conf:2: [gateway] listen = ::1:22: put an IPv6 address in brackets, "
		     "e.g. [::]:2222");
	expect_error("[gateway]\nlisten = [::1]22\n",
		     "t.conf:2: [gateway] listen = [::1]22: expected [IPv6]:PORT, e.g. [::]:2222");
	expect_error("[gateway]\nlisten = [1.2.3.4]:22\n",
		     "t.conf:2: [gateway] listen = [1.2.3.4]:22: \"1.2.3.4\" is not an IPv6 address");
	expect_error("[gateway]\nlisten = bad!host:22\n",
		     "t.conf:2: [gateway] listen = bad!host:22: \"bad!host\" is not an IPv4 "
		     "address: give the address to listen on, e.g. 127.0.0.1:2222, 0.0.0.0:2222 "
		     "or [::]:2222");
	expect_error("[gateway]\nlisten = :22\n",
		     "t.conf:2: [gateway] listen = :22: \"\" is not an IPv4 address: give the "
		     "address to listen on, e.g. 127.0.0.1:2222, 0.0.0.0:2222 or [::]:2222");
}

static void test_numbers(void **state)
{
	(void)state;
	expect_error("[sandbox]\nmemory_mb = 99999\n",
		     "t.conf:2: [sandbox] memory_mb = 99999: must be between 768 and 4096");
	expect_error("[sandbox]\nmemory_mb = 767\n",
		     "t.conf:2: [sandbox] memory_mb = 767: must be between 768 and 4096");
	expect_error("[sandbox]\nmemory_mb = 1G\n",
		     "t.conf:2: [sandbox] memory_mb = 1G: must be a whole number between 768 and 4096");
	expect_error("[sandbox]\nvcpus = 0\n", "t.conf:2: [sandbox] vcpus = 0: must be between 1 and 64");
	expect_error("[sandbox]\nvcpus = 65\n", "t.conf:2: [sandbox] vcpus = 65: must be between 1 and 64");
	expect_error("[sandbox]\nwarm_pool = 2, 3\n", "t.conf:2: [sandbox] warm_pool = 2, 3: "
		     "the configured image (a bare N) appears twice");
	expect_error("[sandbox]\nwarm_pool = Py:1\n", "t.conf:2: [sandbox] warm_pool = Py:1: "
		     "\"Py\" is not an image name ([a-z0-9][a-z0-9._-]{0,63})");
	expect_error("[sandbox]\ndisk_gb = 0\n",
		     "t.conf:2: [sandbox] disk_gb = 0: must be between 1 and 1024");
	expect_error("[sandbox]\nmax_sandboxes = 0\n",
		     "t.conf:2: [sandbox] max_sandboxes = 0: must be between 1 and 1000");
	expect_error("[sandbox]\nmax_sandboxes = -1\n",
		     "t.conf:2: [sandbox] max_sandboxes = -1: must be a whole number between 1 and 1000");
}

static void test_durations(void **state)
{
	struct sg_conf *c;

	(void)state;
	c = parse_ok("[sandbox]\nmax_lifetime = 45\nidle_timeout = 365d\nboot_timeout = 1h\n"
		     "[gateway]\nauth_delay = 1m\n");
	assert_int_equal(sg_conf_num(c, SG_CONF_MAX_LIFETIME), 45);
	assert_int_equal(sg_conf_num(c, SG_CONF_IDLE_TIMEOUT), 365 * 86400);
	assert_int_equal(sg_conf_num(c, SG_CONF_BOOT_TIMEOUT), 3600);
	assert_int_equal(sg_conf_num(c, SG_CONF_AUTH_DELAY), 60);
	assert_string_equal(sg_conf_str(c, SG_CONF_MAX_LIFETIME), "45");
	sg_conf_free(c);
	c = parse_ok("[sandbox]\nmax_lifetime = 1h30m\nidle_timeout = 364d23h59m59s\n"
		     "boot_timeout = 59m60s\n");
	assert_int_equal(sg_conf_num(c, SG_CONF_MAX_LIFETIME), 5400);
	assert_int_equal(sg_conf_num(c, SG_CONF_IDLE_TIMEOUT), 365 * 86400 - 1);
	assert_int_equal(sg_conf_num(c, SG_CONF_BOOT_TIMEOUT), 3600);
	sg_conf_free(c);
	expect_error("[sandbox]\nmax_lifetime = 30m1h\n",
		     "t.conf:2: [sandbox] max_lifetime = 30m1h: must be a duration: a number with a "
		     "unit s, m, h or d, or several from the largest unit down (e.g. 30s, 10m, "
		     "1h30m, 2d), or seconds alone");
	expect_error("[sandbox]\nboot_timeout = 1h1s\n",
		     "t.conf:2: [sandbox] boot_timeout = 1h1s: must be between 1s and 1h");
	expect_error("[sandbox]\nmax_lifetime = 365d1s\n",
		     "t.conf:2: [sandbox] max_lifetime = 365d1s: must be between 1s and 365d");

	expect_error("[sandbox]\nmax_lifetime = 0\n",
		     "t.conf:2: [sandbox] max_lifetime = 0: must be between 1s and 365d");
	expect_error("[sandbox]\nmax_lifetime = 0s\n",
		     "t.conf:2: [sandbox] max_lifetime = 0s: must be between 1s and 365d");
	expect_error("[sandbox]\nmax_lifetime = 366d\n",
		     "t.conf:2: [sandbox] max_lifetime = 366d: must be between 1s and 365d");
	expect_error("[sandbox]\nmax_lifetime = 10x\n",
		     "t.conf:2: [sandbox] max_lifetime = 10x: must be a duration: a number with a "
		     "unit s, m, h or d, or several from the largest unit down (e.g. 30s, 10m, "
		     "1h30m, 2d), or seconds alone");
	expect_error("[sandbox]\nidle_timeout = -1m\n",
		     "t.conf:2: [sandbox] idle_timeout = -1m: must be a duration: a number with a "
		     "unit s, m, h or d, or several from the largest unit down (e.g. 30s, 10m, "
		     "1h30m, 2d), or seconds alone");
	expect_error("[sandbox]\nboot_timeout = 2h\n",
		     "t.conf:2: [sandbox] boot_timeout = 2h: must be between 1s and 1h");
	expect_error("[gateway]\nauth_delay = 61\n",
		     "t.conf:2: [gateway] auth_delay = 61: must be between 1s and 1m");
	expect_error("[gateway]\nauth_delay = 99999999999999999999999d\n",
		     "t.conf:2: [gateway] auth_delay = 99999999999999999999999d: must be between "
		     "1s and 1m");
}

static void test_accept_limits(void **state)
{
	static const struct {
		const char *text;
		unsigned start, rate, full, v4, v6;
	} ok[] = {
		{ "max_startups = 1:100:1\n", 1, 100, 1, 32, 64 },
		{ "max_startups = 5:1:10000\n", 5, 1, 10000, 32, 64 },
		{ "max_startups = 10000:50:10000\n", 10000, 50, 10000, 32, 64 },
		{ "max_startups = 20:30:60   ; sshd's own\n", 20, 30, 60, 32, 64 },
		{ "per_source_net_block = 24:48\n", 10, 30, 100, 24, 48 },
		{ "per_source_net_block = 1:1\n", 10, 30, 100, 1, 1 },
		{ "per_source_net_block = 32:128\n", 10, 30, 100, 32, 128 },
	};
	unsigned a, b, f;
	struct sg_conf *c;
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[gateway]\n%s", ok[i].text);
		c = parse_ok(text);
		sg_conf_startups(c, &a, &b, &f);
		if (a != ok[i].start || b != ok[i].rate || f != ok[i].full)
			fail_msg("for %s: startups %u:%u:%u", ok[i].text, a, b, f);
		sg_conf_net_block(c, &a, &b);
		if (a != ok[i].v4 || b != ok[i].v6)
			fail_msg("for %s: net block %u:%u", ok[i].text, a, b);
		sg_conf_free(c);
	}

	c = parse_ok("[gateway]\nlisten = 0.0.0.0:22\nmax_startups = 3:50:9\n"
		     "per_source_max_startups = 1\nper_source_net_block = 24:56\n"
		     "kex_timeout = 1s\nlogin_grace_time = 2m\n");
	sg_conf_startups(c, &a, &b, &f);
	assert_int_equal(a, 3);
	assert_int_equal(b, 50);
	assert_int_equal(f, 9);
	assert_string_equal(sg_conf_str(c, SG_CONF_MAX_STARTUPS), "3:50:9");
	assert_int_equal(sg_conf_line(c, SG_CONF_MAX_STARTUPS), 3);
	assert_int_equal(sg_conf_num(c, SG_CONF_PER_SOURCE_MAX_STARTUPS), 1);
	sg_conf_net_block(c, &a, &b);
	assert_int_equal(a, 24);
	assert_int_equal(b, 56);
	assert_int_equal(sg_conf_num(c, SG_CONF_KEX_TIMEOUT), 1);
	assert_int_equal(sg_conf_num(c, SG_CONF_LOGIN_GRACE_TIME), 120);
	assert_int_equal(sg_conf_line(c, SG_CONF_LOGIN_GRACE_TIME), 7);
	assert_string_equal(sg_conf_key_name(SG_CONF_KEX_TIMEOUT), "[gateway] kex_timeout");
	sg_conf_free(c);

	/* the upper bounds */
	c = parse_ok("[gateway]\nper_source_max_startups = 10000\nkex_timeout = 10m\n"
		     "login_grace_time = 1h\n");
	assert_int_equal(sg_conf_num(c, SG_CONF_PER_SOURCE_MAX_STARTUPS), 10000);
	assert_int_equal(sg_conf_num(c, SG_CONF_KEX_TIMEOUT), 600);
	assert_int_equal(sg_conf_num(c, SG_CONF_LOGIN_GRACE_TIME), 3600);
	sg_conf_free(c);

	/* one key set leaves the others at their defaults */
	c = parse_ok("[gateway]\nkex_timeout = 30\n");
	assert_int_equal(sg_conf_num(c, SG_CONF_KEX_TIMEOUT), 30);
	assert_int_equal(sg_conf_num(c, SG_CONF_LOGIN_GRACE_TIME), 60);
	sg_conf_startups(c, &a, &b, &f);
	assert_int_equal(a, 10);
	assert_int_equal(f, 100);
	sg_conf_free(c);
}

#define STARTUPS_WHY ": must be START:RATE:FULL with 1 <= START <= FULL <= 10000 " \
	"and RATE a percentage 1..100 (e.g. 10:30:100)"
#define NETBLOCK_WHY ": must be V4:V6 prefix lengths, 1..32 and 1..128 (e.g. 32:64)"

static void test_accept_limits_bad(void **state)
{
	static const char *const startups[] = {
		"10:30", "10:0:100", "10:101:100", "100:30:10", "a:b:c", "10:30:100:5",
		"0:30:100", "0:30:0", "10:30:10001", "10::100", ":30:100", "10:30:",
		"10:30:100:", "-1:30:100", "+10:30:100", "10:30:1e3", "10 : 30 : 100",
		"10", "::", "10,30,100", "99999999999999999999:30:100",
		"10:30:100000", "010:30:100",
	};
	static const char *const blocks[] = {
		"33:64", "24:129", "24", "0:64", "24:0", "24:64:1", "a:64", "24:", ":64",
		"24/64", "24:0x40",
	};
	char text[256], expect[512];
	size_t i;

	(void)state;
	/* each names file, line, key and value, and what is allowed */
	for (i = 0; i < sizeof(startups) / sizeof(startups[0]); i++) {
		snprintf(text, sizeof(text), "[gateway]\nmax_startups = %s\n", startups[i]);
		snprintf(expect, sizeof(expect), "t.conf:2: [gateway] max_startups = %s"
			 STARTUPS_WHY, startups[i]);
		expect_error(text, expect);
	}
	for (i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		snprintf(text, sizeof(text), "[gateway]\nper_source_net_block = %s\n", blocks[i]);
		snprintf(expect, sizeof(expect), "t.conf:2: [gateway] per_source_net_block = %s"
			 NETBLOCK_WHY, blocks[i]);
		expect_error(text, expect);
	}
	/* the line of the bad key, not of the section */
	expect_error("[gateway]\nlisten = 0.0.0.0:22\n\nmax_startups = 10:30\n",
		     "t.conf:4: [gateway] max_startups = 10:30" STARTUPS_WHY);
	expect_error("[gateway]\nper_source_max_startups = 0\n",
		     "t.conf:2: [gateway] per_source_max_startups = 0: must be between 1 and 10000");
	expect_error("[gateway]\nper_source_max_startups = 10001\n",
		     "t.conf:2: [gateway] per_source_max_startups = 10001: must be between 1 "
		     "and 10000");
	expect_error("[gateway]\nper_source_max_startups = ten\n",
		     "t.conf:2: [gateway] per_source_max_startups = ten: must be a whole number "
		     "between 1 and 10000");
	expect_error("[gateway]\nkex_timeout = 0s\n",
		     "t.conf:2: [gateway] kex_timeout = 0s: must be between 1s and 10m");
	expect_error("[gateway]\nkex_timeout = 601\n",
		     "t.conf:2: [gateway] kex_timeout = 601: must be between 1s and 10m");
	expect_error("[gateway]\nkex_timeout = soon\n",
		     "t.conf:2: [gateway] kex_timeout = soon: must be a duration: a number with a "
		     "unit s, m, h or d, or several from the largest unit down (e.g. 30s, 10m, "
		     "1h30m, 2d), or seconds alone");
	expect_error("[gateway]\nlogin_grace_time = 0\n",
		     "t.conf:2: [gateway] login_grace_time = 0: must be between 1s and 1h");
	expect_error("[gateway]\nlogin_grace_time = 61m\n",
		     "t.conf:2: [gateway] login_grace_time = 61m: must be between 1s and 1h");
	expect_error("[gateway]\nmax_startups =\n",
		     "t.conf:2: [gateway] max_startups: empty value: give a value or remove the "
		     "line to use the default");
	expect_error("[gateway]\nmax_startups = 10:30:100\nmax_startups = 10:30:100\n",
		     "t.conf:3: [gateway] max_startups: set twice (first at line 2): keep one");
	expect_error("[sandbox]\nkex_timeout = 10s\n",
		     "t.conf:2: [sandbox] kex_timeout: unknown key in [sandbox]: kex_timeout "
		     "belongs in [gateway]");
	/* '#' is no comment: the value is wrong, and the message says why */
	expect_error_prefix("[gateway]\nmax_startups = 10:30:100 # sshd\n",
			    "t.conf:2: [gateway] max_startups = 10:30:100 # sshd: must be "
			    "START:RATE:FULL");
	/* a misspelt key lists the keys of [gateway], the new ones too */
	{
		static const char head[] = "t.conf:2: [gateway] maxstartups: unknown key "
			"(the keys of [gateway] are: ";
		struct sg_conf *c;
		char *err;

		assert_int_equal(parse("[gateway]\nmaxstartups = 10:30:100\n", &c, &err),
				 -EINVAL);
		assert_null(c);
		assert_non_null(err);
		if (strncmp(err, head, sizeof(head) - 1) != 0 ||
		    !strstr(err, ", max_startups, per_source_max_startups, "
			    "per_source_net_block, kex_timeout, login_grace_time"))
			fail_msg("got: %s", err);
		free(err);
	}
}

static void test_enums_and_names(void **state)
{
	char text[512];

	(void)state;
	expect_error("[libvirt]\ndomain_type = xen\n",
		     "t.conf:2: [libvirt] domain_type = xen: must be one of auto, kvm, qemu");
	expect_error("[libvirt]\ndomain_type = KVM\n",
		     "t.conf:2: [libvirt] domain_type = KVM: must be one of auto, kvm, qemu");
	expect_error("[sandbox]\ntransport = tcp\n",
		     "t.conf:2: [sandbox] transport = tcp: must be one of auto, vsock, virtio-serial");
	expect_error("[libvirt]\nuri = qemu system\n",
		     "t.conf:2: [libvirt] uri = qemu system: must be a libvirt URI such as qemu:///system");
	expect_error("[libvirt]\nuri = system\n",
		     "t.conf:2: [libvirt] uri = system: must be a libvirt URI such as qemu:///system");
	expect_error("[gateway]\nuser = Root\n",
		     "t.conf:2: [gateway] user = Root: must be a user name: [a-z_][a-z0-9_-]{0,31}");
	expect_error("[sandbox]\nimage = Default\n",
		     "t.conf:2: [sandbox] image = Default: must be an image name: "
		     "[a-z0-9][a-z0-9._-]{0,63} (a folder under image_dir)");
	expect_error("[sandbox]\nimage = ../etc\n",
		     "t.conf:2: [sandbox] image = ../etc: must be an image name: "
		     "[a-z0-9][a-z0-9._-]{0,63} (a folder under image_dir)");
	expect_error("[sandbox]\nimage = a/b\n",
		     "t.conf:2: [sandbox] image = a/b: must be an image name: "
		     "[a-z0-9][a-z0-9._-]{0,63} (a folder under image_dir)");
	/* 65 characters */
	snprintf(text, sizeof(text), "[sandbox]\nimage = %s\n",
		 "a1234567890123456789012345678901234567890123456789012345678901234");
	expect_error_prefix(text, "t.conf:2: [sandbox] image = a123");
	assert_int_equal(sg_conf_valid_image("a123456789012345678901234567890123456789012345678901234567890123"), 1);
	assert_int_equal(sg_conf_valid_image("minimal"), 1);
	assert_int_equal(sg_conf_valid_image("debian-12.1_x"), 1);
	assert_int_equal(sg_conf_valid_image(".x"), 0);
	assert_int_equal(sg_conf_valid_image(""), 0);
}

static void test_paths(void **state)
{
	char text[512];

	(void)state;
	expect_error("[gateway]\nhost_key = key\n",
		     "t.conf:2: [gateway] host_key = key: must be an absolute path (starting with /) "
		     "without control characters");
	expect_error("[gateway]\ntokens = ./tokens.conf\n",
		     "t.conf:2: [gateway] tokens = ./tokens.conf: must be an absolute path "
		     "(starting with /) without control characters");
	expect_error("[gateway]\nstate_dir = ~/sg\n",
		     "t.conf:2: [gateway] state_dir = ~/sg: must be an absolute path (starting "
		     "with /) without control characters");
	expect_error("[gateway]\naudit_log = audit.jsonl\n",
		     "t.conf:2: [gateway] audit_log = audit.jsonl: must be an absolute path "
		     "(starting with /) without control characters");
	expect_error("[sandbox]\nimage_dir = images\n",
		     "t.conf:2: [sandbox] image_dir = images: must be an absolute path (starting "
		     "with /) without control characters");
	expect_error("[proxy]\nextra_ca = ca.pem\n",
		     "t.conf:2: [proxy] extra_ca = ca.pem: must be an absolute path (starting "
		     "with /) without control characters");
	expect_error("[gateway]\ncontrol_socket = run/sock\n",
		     "t.conf:2: [gateway] control_socket = run/sock: must be an absolute path "
		     "(starting with /) without control characters");
	snprintf(text, sizeof(text), "[gateway]\ncontrol_socket = /%0120d\n", 0);
	expect_error_prefix(text, "t.conf:2: [gateway] control_socket = /000");
	{
		struct sg_conf *c;
		char *err;

		assert_int_equal(parse(text, &c, &err), -EINVAL);
		assert_non_null(strstr(err, "too long for a unix socket path (at most 107 bytes)"));
		/* long values are cut in messages */
		assert_non_null(strstr(err, "000...: too long"));
		free(err);
	}
}

static void test_network(void **state)
{
	(void)state;
	expect_error("[network]\npool = 10.200.0.0/31\n",
		     "t.conf:2: [network] pool = 10.200.0.0/31: the prefix must be between /8 and "
		     "/30 (each sandbox takes a /30)");
	expect_error("[network]\npool = 10.0.0.0/7\n",
		     "t.conf:2: [network] pool = 10.0.0.0/7: the prefix must be between /8 and /30 "
		     "(each sandbox takes a /30)");
	expect_error("[network]\npool = 10.200.0.1/16\n",
		     "t.conf:2: [network] pool = 10.200.0.1/16: host bits are set: did you mean "
		     "10.200.0.0/16?");
	expect_error("[network]\npool = 300.1.1.0/24\n",
		     "t.conf:2: [network] pool = 300.1.1.0/24: \"300.1.1.0\" is not an IPv4 address");
	expect_error("[network]\npool = 10.0.0.0\n",
		     "t.conf:2: [network] pool = 10.0.0.0: expected an IPv4 network ADDRESS/PREFIX, "
		     "e.g. 10.200.0.0/16");
	expect_error("[network]\npool = fd00::/64\n",
		     "t.conf:2: [network] pool = fd00::/64: \"fd00::\" is not an IPv4 address");
	expect_error("[network]\nresolve = example.com\n",
		     "t.conf:2: [network] resolve = example.com: expected NAME:ADDRESS, e.g. "
		     "api.example.com:192.0.2.10");
	expect_error("[network]\nresolve = example.com:192.0.2.999\n",
		     "t.conf:2: [network] resolve = example.com:192.0.2.999: \"192.0.2.999\" is not "
		     "an IPv4 or IPv6 address");
	expect_error("[network]\nresolve = bad-.name:192.0.2.1\n",
		     "t.conf:2: [network] resolve = bad-.name:192.0.2.1: \"bad-.name\" is not a host name");
	expect_error("[network]\nresolve = -x.com:192.0.2.1\n",
		     "t.conf:2: [network] resolve = -x.com:192.0.2.1: \"-x.com\" is not a host name");
	expect_error("[network]\nresolve = a.com:192.0.2.1\nresolve = A.com:192.0.2.1\n",
		     "t.conf:3: [network] resolve = A.com:192.0.2.1: this entry is listed twice: "
		     "remove one");
}

static void test_unknown_and_repeated(void **state)
{
	(void)state;
	expect_error("[sandbx]\nvcpus = 2\n",
		     "t.conf:1: [sandbx]: unknown section (sandgate.conf has [gateway], [libvirt], "
		     "[sandbox], [network] and [proxy])");
	expect_error("[gateway]\n[tokens]\n",
		     "t.conf:2: [tokens]: unknown section (sandgate.conf has [gateway], [libvirt], "
		     "[sandbox], [network] and [proxy])");
	expect_error("[sandbox]\nmemroy_mb = 1024\n",
		     "t.conf:2: [sandbox] memroy_mb: unknown key (the keys of [sandbox] are: image, "
		     "image_dir, memory_mb, vcpus, disk_gb, max_lifetime, idle_timeout, transport, "
		     "boot_timeout, max_sandboxes, max_snapshots, snapshot_quota_gb, hibernate_after, max_hibernated, max_volumes, volume_quota_gb, warm_pool)");
	expect_error("[sandbox]\nlisten = 0.0.0.0:22\n",
		     "t.conf:2: [sandbox] listen: unknown key in [sandbox]: listen belongs in [gateway]");
	expect_error("listen = 0.0.0.0:22\n",
		     "t.conf:1: listen: key outside of any section: put it under [gateway]");
	expect_error("frobnicate = 1\n", "t.conf:1: frobnicate: unknown key outside of any section");
	expect_error("[sandbox]\nvcpus = 2\nmemory_mb = 1024\nvcpus = 3\n",
		     "t.conf:4: [sandbox] vcpus: set twice (first at line 2): keep one");
	expect_error("[sandbox]\nvcpus = 2\n[gateway]\n[sandbox]\n",
		     "t.conf:4: [sandbox]: section written twice (first at line 1): merge them");
	expect_error("[sandbox]\nvcpus =\n",
		     "t.conf:2: [sandbox] vcpus: empty value: give a value or remove the line to "
		     "use the default");
	/* the first error wins */
	expect_error("[sandbox]\nvcpus = 0\nmemory_mb = 1\n",
		     "t.conf:2: [sandbox] vcpus = 0: must be between 1 and 64");
}

static void test_syntax(void **state)
{
	struct sg_conf *c;
	char *err, *big;
	size_t n;

	(void)state;
	expect_error("[gateway]\nthis is not ini\n",
		     "t.conf:2: cannot parse this line: expected [section], key = value, or a comment");
	expect_error("[gateway\nlisten = 1.2.3.4:5\n",
		     "t.conf:1: cannot parse this line: expected [section], key = value, or a comment");
	/* a syntax error before a value error is reported first */
	expect_error("[sandbox]\nnonsense\nvcpus = 0\n",
		     "t.conf:2: cannot parse this line: expected [section], key = value, or a comment");
	/* '#' is not an inline comment: say so */
	expect_error("[sandbox]\nvcpus = 2 # two\n",
		     "t.conf:2: [sandbox] vcpus = 2 # two: must be a whole number between 1 and 64 "
		     "(note: inline comments start with \" ;\", not \"#\")");
	/* a NUL byte */
	assert_int_equal(sg_conf_parse("t.conf", "[sandbox]\nvcpus = 2\0\n", 20, &c, &err), -EINVAL);
	assert_string_equal(err, "t.conf:2: the line contains a NUL byte: is this a text file?");
	free(err);

	/* inline ';' comments, indentation, CRLF, a UTF-8 BOM, "key: value" */
	c = parse_ok("\xEF\xBB\xBF[sandbox]\r\n   vcpus = 3   ; three\r\n\tmemory_mb: 2048\r\n"
		     "  # indented comment\n  [gateway]\n listen = 127.0.0.1:22\n");
	assert_int_equal(sg_conf_num(c, SG_CONF_VCPUS), 3);
	assert_int_equal(sg_conf_num(c, SG_CONF_MEMORY_MB), 2048);
	assert_int_equal(sg_conf_listen_port(c), 22);
	assert_int_equal(sg_conf_line(c, SG_CONF_LISTEN), 6);
	sg_conf_free(c);

	/* a long line (past inih's default of 200) works */
	n = 3000;
	big = malloc(n + 64);
	assert_non_null(big);
	memcpy(big, "[proxy]\nextra_ca = /", 20);
	memset(big + 20, 'a', n);
	memcpy(big + 20 + n, "\n[sandbox]\nvcpus = 7\n", 22);
	c = parse_ok(big);
	assert_int_equal(strlen(sg_conf_str(c, SG_CONF_EXTRA_CA)), n + 1);
	assert_int_equal(sg_conf_num(c, SG_CONF_VCPUS), 7);
	assert_int_equal(sg_conf_line(c, SG_CONF_VCPUS), 4);
	sg_conf_free(c);
	free(big);

	/* too long a line */
	n = SG_INI_LINE_MAX + 10;
	big = malloc(n + 64);
	assert_non_null(big);
	memcpy(big, "[proxy]\nextra_ca = /", 20);
	memset(big + 20, 'a', n);
	memcpy(big + 20 + n, "\n", 2);
	assert_int_equal(parse(big, &c, &err), -EINVAL);
	assert_string_equal(err, "t.conf:2: the line is longer than 65000 bytes");
	free(err);
	free(big);
}

/* ---- sg_conf_print ---- */

/* c printed into a new string. */
static char *print_conf(const struct sg_conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(sg_conf_print(c, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static int is_duration(enum sg_conf_key k)
{
	return k == SG_CONF_AUTH_DELAY || k == SG_CONF_KEX_TIMEOUT ||
	       k == SG_CONF_LOGIN_GRACE_TIME || k == SG_CONF_MAX_LIFETIME ||
	       k == SG_CONF_IDLE_TIMEOUT || k == SG_CONF_BOOT_TIMEOUT ||
	       k == SG_CONF_HIBERNATE_AFTER || k == SG_CONF_MAX_HIBERNATED;
}

/* Asserts that a and b hold the same configuration. Durations are
 * compared as seconds: "90" prints as "1m30s". */
static void assert_same_conf(const struct sg_conf *a, const struct sg_conf *b)
{
	unsigned x[3], y[3];
	size_t k, i;

	for (k = 0; k < SG_CONF_KEY_COUNT_; k++) {
		const char *sa = sg_conf_str(a, (enum sg_conf_key)k);
		const char *sb = sg_conf_str(b, (enum sg_conf_key)k);

		assert_int_equal(sg_conf_num(a, (enum sg_conf_key)k),
				 sg_conf_num(b, (enum sg_conf_key)k));
		if (is_duration((enum sg_conf_key)k))
			continue;
		if (!sa || !sb)
			assert_ptr_equal(sa, sb);
		else
			assert_string_equal(sa, sb);
	}
	assert_string_equal(sg_conf_listen_host(a), sg_conf_listen_host(b));
	assert_int_equal(sg_conf_listen_port(a), sg_conf_listen_port(b));
	if (!sg_conf_expose_host(a) || !sg_conf_expose_host(b))
		assert_ptr_equal(sg_conf_expose_host(a), sg_conf_expose_host(b));
	else
		assert_string_equal(sg_conf_expose_host(a), sg_conf_expose_host(b));
	assert_int_equal(sg_conf_expose_port(a), sg_conf_expose_port(b));
	assert_int_equal(sg_conf_pool_addr(a), sg_conf_pool_addr(b));
	assert_int_equal(sg_conf_pool_prefix(a), sg_conf_pool_prefix(b));
	assert_int_equal(sg_conf_uid_first(a), sg_conf_uid_first(b));
	assert_int_equal(sg_conf_uid_last(a), sg_conf_uid_last(b));
	sg_conf_startups(a, &x[0], &x[1], &x[2]);
	sg_conf_startups(b, &y[0], &y[1], &y[2]);
	assert_memory_equal(x, y, sizeof(x));
	sg_conf_net_block(a, &x[0], &x[1]);
	sg_conf_net_block(b, &y[0], &y[1]);
	assert_memory_equal(x, y, 2 * sizeof(x[0]));
	assert_int_equal(sg_conf_resolve_count(a), sg_conf_resolve_count(b));
	for (i = 0; i < sg_conf_resolve_count(a); i++) {
		assert_string_equal(sg_conf_resolve_name(a, i), sg_conf_resolve_name(b, i));
		assert_string_equal(sg_conf_resolve_addr(a, i), sg_conf_resolve_addr(b, i));
		assert_int_equal(sg_conf_resolve_family(a, i), sg_conf_resolve_family(b, i));
	}
}

/* Prints text's configuration, loads the print and prints that: the
 * same values, the same text. Returns the text printed (free it). */
static char *round_trip(const char *text)
{
	struct sg_conf *a = parse_ok(text), *b;
	char *pa = print_conf(a), *pb;

	b = parse_ok(pa);
	assert_same_conf(a, b);
	pb = print_conf(b);
	assert_string_equal(pa, pb);
	free(pb);
	sg_conf_free(a);
	sg_conf_free(b);
	return pa;
}

static void assert_has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("expected \"%s\" in:\n%s", want, text);
}

static void test_print_defaults(void **state)
{
	char *t;
	const char *g, *l, *s, *n, *p;

	(void)state;
	t = round_trip("");
	assert_has(t, "[gateway]\nlisten = 0.0.0.0:2222\nhost_key = " SG_LOCALSTATEDIR
		   "/lib/sandgate/ssh_host_ed25519_key\n");
	assert_has(t, "\nimage_dir = " SG_LOCALSTATEDIR "/lib/sandgate/images\n");
	assert_has(t, "\nmax_lifetime = 30m\nidle_timeout = 10m\n");
	assert_has(t, "\nauth_delay = 1s\n");
	assert_has(t, "\nlogin_grace_time = 1m\n");
	assert_has(t, "\nboot_timeout = 1m\n");
	assert_has(t, "\n# resolve is unset\n# dns is unset\ntable = sandgate\n");
	assert_has(t, "\n[proxy]\n# extra_ca is unset\nport = 3128\n");
	assert_has(t, "\nmax_startups = 10:30:100\n");
	assert_has(t, "\nuid_range = " SG_CONF_UID_RANGE_DEFAULT "\n");
	/* sections in the order of the key enum, each once */
	g = strstr(t, "[gateway]\n");
	l = strstr(t, "\n\n[libvirt]\n");
	s = strstr(t, "\n\n[sandbox]\n");
	n = strstr(t, "\n\n[network]\n");
	p = strstr(t, "\n\n[proxy]\n");
	assert_true(g == t && g < l && l < s && s < n && n < p);
	assert_null(strstr(g + 1, "[gateway]"));
	assert_int_equal(t[strlen(t) - 1], '\n');
	free(t);
}

static void test_print_full(void **state)
{
	char *t;

	(void)state;
	t = round_trip(
		"[proxy]\n"
		"extra_ca = /etc/ssl/test-ca.pem\n"
		"port = 0\n"
		"user = px\n"
		"program = /opt/sg/proxy\n"
		"max_connections = 4096\n"
		"[gateway]\n"
		"listen = [::1]:2200\n"
		"host_key = /srv/sg/key\n"
		"tokens = /srv/sg/tokens.conf\n"
		"state_dir = /srv/sg/state/\n"
		"control_socket = /run/sg.sock\n"
		"audit_log = /var/log/sg.jsonl\n"
		"user = _sandgate\n"
		"auth_delay = 59\n"
		"uid_range = 100000-100015\n"
		"shim_program = /opt/sg/shim\n"
		"control_user = ctl\n"
		"max_startups = 1:100:1\n"
		"per_source_max_startups = 3\n"
		"per_source_net_block = 24:48\n"
		"kex_timeout = 90\n"
		"login_grace_time = 59m60s\n"
		"[libvirt]\n"
		"uri = qemu+unix:///system?socket=/run/libvirt/libvirt-sock\n"
		"domain_type = qemu            ; no KVM here\n"
		"[sandbox]\n"
		"image = minimal\n"
		"image_dir = /srv/images\n"
		"memory_mb = 768\n"
		"vcpus = 64\n"
		"disk_gb = 20\n"
		"max_lifetime = 90061\n"
		"idle_timeout = 1d\n"
		"transport = virtio-serial\n"
		"boot_timeout = 3599\n"
		"max_sandboxes = 1000\n"
		"[network]\n"
		"pool = 10.0.0.0/8\n"
		"resolve = API.example.com:192.0.2.10\n"
		"resolve = api.example.com:[2001:db8::1]\n"
		"resolve = db.example.com:2001:db8::2\n"
		"dns = 192.0.2.53, 192.0.2.54:5353\n"
		"table = sg_test\n"
		"[expose]\n"
		"listen = [::]:8443\n"
		"domain = Sandbox.Example.COM.\n"
		"cert = /etc/sg/wild.pem\n"
		"key = /etc/sg/wild.key\n"
		"user = fr\n"
		"program = /opt/sg/front\n"
		"max_connections = 7\n"
		"max_ports = 64\n");
	assert_has(t, "[gateway]\nlisten = [::1]:2200\nhost_key = /srv/sg/key\n");
	assert_has(t, "\n[expose]\nlisten = [::]:8443\ndomain = sandbox.example.com\n"
		   "cert = /etc/sg/wild.pem\nkey = /etc/sg/wild.key\nuser = fr\n"
		   "program = /opt/sg/front\nmax_connections = 7\nmax_ports = 64\n");
	assert_has(t, "\nstate_dir = /srv/sg/state\n");
	assert_has(t, "\nauth_delay = 59s\n");
	assert_has(t, "\nkex_timeout = 1m30s\nlogin_grace_time = 1h\n");
	assert_has(t, "\ndomain_type = qemu\n");
	assert_has(t, "\nmax_lifetime = 1d1h1m1s\nidle_timeout = 1d\n");
	assert_has(t, "\nboot_timeout = 59m59s\n");
	assert_has(t, "\nresolve = api.example.com:192.0.2.10\n"
		   "resolve = api.example.com:[2001:db8::1]\n"
		   "resolve = db.example.com:[2001:db8::2]\n"
		   "dns = 192.0.2.53, 192.0.2.54:5353\n");
	assert_has(t, "\n[proxy]\nextra_ca = /etc/ssl/test-ca.pem\nport = 0\nuser = px\n");
	assert_null(strstr(t, "unset"));
	free(t);
}

/* [expose]: off unless listen is set; listen needs domain, cert and key;
 * a domain is a name of two labels or more, kept in its normal form. */
static void test_expose(void **state)
{
	struct sg_conf *c;

	(void)state;
	c = parse_ok("");
	assert_null(sg_conf_expose_host(c));
	assert_int_equal(sg_conf_expose_port(c), 0);
	assert_string_equal(sg_conf_str(c, SG_CONF_EXPOSE_USER), "sandgate-front");
	assert_int_equal(sg_conf_num(c, SG_CONF_EXPOSE_MAX_PORTS), 8);
	sg_conf_free(c);
	c = parse_ok("[expose]\nlisten = 127.0.0.1:8443\ndomain = sandgate.localhost\n"
		     "cert = /c.pem\nkey = /k.pem\n");
	assert_string_equal(sg_conf_expose_host(c), "127.0.0.1");
	assert_int_equal(sg_conf_expose_port(c), 8443);
	/* [gateway] listen is its own */
	assert_int_equal(sg_conf_listen_port(c), 2222);
	assert_string_equal(sg_conf_str(c, SG_CONF_EXPOSE_DOMAIN), "sandgate.localhost");
	sg_conf_free(c);
	/* domain, cert and key without listen: kept, unused */
	c = parse_ok("[expose]\ndomain = a.example\n");
	assert_int_equal(sg_conf_expose_port(c), 0);
	sg_conf_free(c);
	expect_error("[expose]\nlisten = 127.0.0.1:8443\ncert = /c.pem\nkey = /k.pem\n",
		     "t.conf:2: [expose] listen is set: set [expose] domain too (domain, cert "
		     "and key: see sandgate.conf(5))");
	expect_error("[expose]\nlisten = 127.0.0.1:8443\ndomain = a.example\nkey = /k.pem\n",
		     "t.conf:2: [expose] listen is set: set [expose] cert too (domain, cert "
		     "and key: see sandgate.conf(5))");
	expect_error_prefix("[expose]\nlisten = 127.0.0.1\n",
			    "t.conf:2: [expose] listen = 127.0.0.1: expected ADDRESS:PORT");
	expect_error_prefix("[expose]\ndomain = localhost\n",
			    "t.conf:2: [expose] domain = localhost: must be a host name with at "
			    "least two labels");
	expect_error_prefix("[expose]\ndomain = *.example.com\n",
			    "t.conf:2: [expose] domain = *.example.com: must be a host name");
	expect_error_prefix("[expose]\ndomain = 10.0.0.1\n",
			    "t.conf:2: [expose] domain = 10.0.0.1: must be a host name");
	expect_error_prefix("[expose]\nmax_ports = 65\n", "t.conf:2: [expose] max_ports = 65:");
	expect_error_prefix("[expose]\nmax_connections = 0\n",
			    "t.conf:2: [expose] max_connections = 0:");
}

static void test_print_derived(void **state)
{
	char *t;

	(void)state;
	/* host_key and image_dir follow state_dir when unset, and print
	 * as their values */
	t = round_trip("[gateway]\nstate_dir = /srv/sg//\n");
	assert_has(t, "\nhost_key = /srv/sg/ssh_host_ed25519_key\n");
	assert_has(t, "\nstate_dir = /srv/sg\n");
	assert_has(t, "\nimage_dir = /srv/sg/images\n");
	free(t);
}

static void test_print_write_error(void **state)
{
	struct sg_conf *c = parse_ok("");
	FILE *f;

	(void)state;
	f = fopen("/dev/full", "w");
	if (!f) {
		sg_conf_free(c);
		skip();
	}
	assert_int_equal(sg_conf_print(c, f), -EIO);
	fclose(f);
	sg_conf_free(c);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_empty),
		cmocka_unit_test(test_load_files),
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_derived_defaults),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_accept_limits),
		cmocka_unit_test(test_accept_limits_bad),
		cmocka_unit_test(test_enums_and_names),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_network),
		cmocka_unit_test(test_unknown_and_repeated),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_print_defaults),
		cmocka_unit_test(test_print_full),
		cmocka_unit_test(test_expose),
		cmocka_unit_test(test_print_derived),
		cmocka_unit_test(test_print_write_error),
	};

	umask(022);
	return cmocka_run_group_tests(tests, setup, teardown);
}
