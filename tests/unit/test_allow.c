/* Unit tests for common/allow.c: allow_net syntax (valid and invalid,
 * with the messages), name matching at label boundaries, case and trailing
 * dots, ports, IPv4 and IPv6 literals and networks, '*', and the internal
 * address classes of the DNS rebinding defence. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/allow.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct sg_allow *
parse_ok_v(const char *const *v, size_t n)
{
	struct sg_allow *a = NULL;
	char *msg = NULL;
	int r = sg_allow_parse(v, n, &a, &msg);

	if (r != 0)
		print_error("unexpected failure: %s\n", msg ? msg : "(no message)");
	assert_int_equal(r, 0);
	assert_non_null(a);
	assert_null(msg);
	return a;
}

static struct sg_allow *
parse_ok(const char *e)
{
	return parse_ok_v(&e, 1);
}

/* e must fail with a message that names it (when shown verbatim) and
 * contains want. Returns nothing; frees the message. */
static void
parse_bad(const char *e, const char *want)
{
	struct sg_allow *a = (struct sg_allow *)&a;	/* must stay untouched */
	char *msg = NULL, head[128];
	int r = sg_allow_parse(&e, 1, &a, &msg);

	if (r != -EINVAL)
		print_error("entry '%s' was accepted\n", e);
	assert_int_equal(r, -EINVAL);
	assert_ptr_equal(a, (struct sg_allow *)&a);
	assert_non_null(msg);
	if (!strstr(msg, want))
		print_error("entry '%s': message \"%s\" lacks \"%s\"\n", e, msg, want);
	assert_non_null(strstr(msg, want));
	assert_null(strchr(msg, '\n'));
	snprintf(head, sizeof(head), "allow_net entry '%s': ", e);
	if (strlen(e) <= 80 && strspn(e, " !\"#$%&'()*+,-./0123456789:;<=>?@"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") == strlen(e))
		assert_true(strncmp(msg, head, strlen(head)) == 0);
	else
		assert_true(strncmp(msg, "allow_net entry '", 17) == 0);
	free(msg);
}

static int
fam(const char *s)
{
	return strchr(s, ':') ? AF_INET6 : AF_INET;
}

/* addr is an IPv4 or IPv6 address in text */
static int
addr_ok(const struct sg_allow *a, const char *s, uint16_t port)
{
	uint8_t buf[16];

	assert_int_equal(inet_pton(fam(s), s, buf), 1);
	return sg_allow_addr_port(a, fam(s), buf, port);
}

static int
range_ok(const struct sg_allow *a, const char *s)
{
	uint8_t buf[16];

	assert_int_equal(inet_pton(fam(s), s, buf), 1);
	return sg_allow_names_range(a, fam(s), buf);
}

static int
internal(const char *s)
{
	uint8_t buf[16];

	assert_int_equal(inet_pton(fam(s), s, buf), 1);
	return sg_addr_is_internal(fam(s), buf);
}

static char *
repeat(char *out, char ch, size_t n)
{
	memset(out, ch, n);
	out[n] = '\0';
	return out;
}

static void
test_empty_list(void **state)
{
	struct sg_allow *a = NULL;
	uint16_t ports[4];

	assert_int_equal(sg_allow_parse(NULL, 0, &a, NULL), 0);
	assert_non_null(a);
	assert_true(sg_allow_is_empty(a));
	assert_false(sg_allow_all(a));
	assert_false(sg_allow_name(a, "example.com"));
	assert_false(sg_allow_name_port(a, "example.com", 443));
	assert_int_equal(sg_allow_name_ports(a, "example.com", ports, N(ports)), 0);
	assert_false(addr_ok(a, "192.0.2.7", 443));
	assert_false(addr_ok(a, "2001:db8::1", 443));
	assert_false(range_ok(a, "10.0.0.1"));
	assert_int_equal(sg_allow_v4_count(a), 0);
	assert_int_equal(sg_allow_v6_count(a), 0);
	sg_allow_free(a);
	sg_allow_free(NULL);
}

static void
test_star(void **state)
{
	struct sg_allow *a = parse_ok("*");

	assert_false(sg_allow_is_empty(a));
	assert_true(sg_allow_all(a));
	assert_true(sg_allow_name(a, "anything.example"));
	assert_true(sg_allow_name(a, "localhost"));
	assert_true(sg_allow_name_port(a, "x.y", 1));
	assert_true(sg_allow_name_ports(a, "x.y", NULL, 0) == SG_ALLOW_ANY_PORT);
	/* not a name: refused even by '*' */
	assert_false(sg_allow_name(a, "a..b"));
	assert_false(sg_allow_name(a, "a b"));
	assert_false(sg_allow_name(a, ""));
	assert_false(sg_allow_name_port(a, "x.y", 0));
	assert_true(addr_ok(a, "8.8.8.8", 53));
	assert_true(addr_ok(a, "10.0.0.1", 22));
	assert_true(addr_ok(a, "2001:db8::1", 443));
	assert_false(addr_ok(a, "8.8.8.8", 0));
	/* '*' names no range: the rebinding defence stays on */
	assert_false(range_ok(a, "10.0.0.1"));
	assert_false(range_ok(a, "8.8.8.8"));
	assert_int_equal(sg_allow_v4_count(a), 0);
	sg_allow_free(a);

	parse_bad("*:443", "takes no port");
	parse_bad("**", "'*' may only");
	parse_bad("*foo.com", "'*' may only");
	parse_bad("foo*.com", "'*' may only");
	parse_bad("foo.*.com", "'*' may only");
	parse_bad("foo.*", "'*' may only");
	parse_bad("*.*.example.com", "'*' may only");
	parse_bad("*.", "must be followed by a domain");
	parse_bad("*..", "must be followed by a domain");
	parse_bad("*.:443", "must be followed by a domain");
	parse_bad(":443", "nothing before ':'");
	parse_bad(":", "nothing before ':'");
}

static void
test_host_any_port(void **state)
{
	struct sg_allow *a = parse_ok("api.openai.com");

	assert_false(sg_allow_is_empty(a));
	assert_false(sg_allow_all(a));
	assert_true(sg_allow_name(a, "api.openai.com"));
	assert_true(sg_allow_name(a, "API.OpenAI.COM"));
	assert_true(sg_allow_name(a, "api.openai.com."));
	assert_true(sg_allow_name_port(a, "api.openai.com", 1));
	assert_true(sg_allow_name_port(a, "api.openai.com", 65535));
	assert_true(sg_allow_name_ports(a, "api.openai.com", NULL, 0) == SG_ALLOW_ANY_PORT);
	assert_false(sg_allow_name(a, "openai.com"));
	assert_false(sg_allow_name(a, "xapi.openai.com"));
	assert_false(sg_allow_name(a, "a.api.openai.com"));
	assert_false(sg_allow_name(a, "api.openai.com.evil.example"));
	assert_false(sg_allow_name(a, "api.openai.co"));
	assert_false(sg_allow_name(a, "api.openai.com.."));
	/* names do not allow addresses */
	assert_false(addr_ok(a, "192.0.2.7", 443));
	assert_int_equal(sg_allow_v4_count(a), 0);
	sg_allow_free(a);

	/* single labels, underscores, digits, inner hyphens */
	a = parse_ok("localhost");
	assert_true(sg_allow_name(a, "LOCALHOST."));
	sg_allow_free(a);
	a = parse_ok("_acme-challenge.a-b.c0m");
	assert_true(sg_allow_name(a, "_ACME-challenge.a-b.c0m"));
	sg_allow_free(a);
	a = parse_ok("123.example.com");
	assert_true(sg_allow_name(a, "123.example.com"));
	sg_allow_free(a);
	a = parse_ok("ab--cd.example");
	assert_true(sg_allow_name(a, "ab--cd.example"));
	sg_allow_free(a);
}

static void
test_host_port(void **state)
{
	static const char *const list[] = {
		"h.example:443", "h.example:80", "H.example.:443", "h.example:8080",
		"other.example:22",
	};
	struct sg_allow *a = parse_ok("db.example.com:5432");
	uint16_t ports[4] = { 0 };

	assert_true(sg_allow_name(a, "db.example.com"));
	assert_true(sg_allow_name_port(a, "db.example.com", 5432));
	assert_false(sg_allow_name_port(a, "db.example.com", 5433));
	assert_false(sg_allow_name_port(a, "db.example.com", 0));
	assert_int_equal(sg_allow_name_ports(a, "DB.example.com.", ports, N(ports)), 1);
	assert_int_equal(ports[0], 5432);
	assert_int_equal(sg_allow_name_ports(a, "example.com", ports, N(ports)), 0);
	sg_allow_free(a);

	a = parse_ok_v(list, N(list));
	memset(ports, 0, sizeof(ports));
	assert_int_equal(sg_allow_name_ports(a, "h.example", ports, N(ports)), 3);
	assert_int_equal(ports[0], 80);
	assert_int_equal(ports[1], 443);
	assert_int_equal(ports[2], 8080);
	assert_int_equal(ports[3], 0);
	/* cut short: the count still says how many there are */
	memset(ports, 0, sizeof(ports));
	assert_int_equal(sg_allow_name_ports(a, "h.example", ports, 2), 3);
	assert_int_equal(ports[0], 80);
	assert_int_equal(ports[1], 443);
	assert_int_equal(ports[2], 0);
	assert_int_equal(sg_allow_name_ports(a, "h.example", NULL, 0), 3);
	assert_true(sg_allow_name_port(a, "h.example", 8080));
	assert_false(sg_allow_name_port(a, "h.example", 22));
	assert_true(sg_allow_name_port(a, "other.example", 22));
	sg_allow_free(a);

	/* ports edges */
	a = parse_ok("h.example:1");
	assert_true(sg_allow_name_port(a, "h.example", 1));
	sg_allow_free(a);
	a = parse_ok("h.example:65535");
	assert_true(sg_allow_name_port(a, "h.example", 65535));
	assert_false(sg_allow_name_port(a, "h.example", 1));
	sg_allow_free(a);

	parse_bad("host:", "':' is not followed by a port");
	parse_bad("host:0", "'0' is not a port");
	parse_bad("host:99999", "'99999' is not a port");
	parse_bad("host:65536", "'65536' is not a port");
	parse_bad("host:123456", "is not a port");
	parse_bad("host:080", "leading zeros");
	parse_bad("host:+80", "is not a port");
	parse_bad("host:-1", "is not a port");
	parse_bad("host:8o", "is not a port");
	parse_bad("host:4294967377", "is not a port");	/* 2^32 + 81 */
	parse_bad("host:443:1", "brackets");
	parse_bad("a:b:c", "brackets");
}

static void
test_host_and_port_mixed(void **state)
{
	/* an any-port entry wins over port entries of the same name */
	static const char *const list[] = { "h.example:443", "H.EXAMPLE" };
	static const char *const wl[] = { "*.example:443", "a.example:80" };
	struct sg_allow *a = parse_ok_v(list, N(list));
	uint16_t ports[4];

	assert_true(sg_allow_name_ports(a, "h.example", ports, N(ports)) == SG_ALLOW_ANY_PORT);
	assert_true(sg_allow_name_port(a, "h.example", 22));
	sg_allow_free(a);

	/* ports from a wildcard and an exact entry add up */
	a = parse_ok_v(wl, N(wl));
	assert_int_equal(sg_allow_name_ports(a, "a.example", ports, N(ports)), 2);
	assert_int_equal(ports[0], 80);
	assert_int_equal(ports[1], 443);
	assert_int_equal(sg_allow_name_ports(a, "b.example", ports, N(ports)), 1);
	assert_int_equal(ports[0], 443);
	assert_int_equal(sg_allow_name_ports(a, "example", ports, N(ports)), 0);
	sg_allow_free(a);
}

static void
test_wildcard(void **state)
{
	static const char *const both[] = { "*.example.com", "example.com:443" };
	struct sg_allow *a = parse_ok("*.example.com");

	assert_true(sg_allow_name(a, "a.example.com"));
	assert_true(sg_allow_name(a, "a.b.example.com"));
	assert_true(sg_allow_name(a, "A.EXAMPLE.COM."));
	assert_true(sg_allow_name(a, "_x.example.com"));
	assert_true(sg_allow_name_ports(a, "a.example.com", NULL, 0) == SG_ALLOW_ANY_PORT);
	assert_false(sg_allow_name(a, "example.com"));
	assert_false(sg_allow_name(a, "example.com."));
	assert_false(sg_allow_name(a, "badexample.com"));
	assert_false(sg_allow_name(a, "a.badexample.com"));
	assert_false(sg_allow_name(a, ".example.com"));
	assert_false(sg_allow_name(a, "a.example.com.evil"));
	assert_false(sg_allow_name(a, "a.example.co"));
	assert_false(sg_allow_name(a, "com"));
	sg_allow_free(a);

	a = parse_ok("*.Example.COM.:443");
	assert_true(sg_allow_name_port(a, "x.example.com", 443));
	assert_false(sg_allow_name_port(a, "x.example.com", 80));
	assert_false(sg_allow_name(a, "example.com"));
	sg_allow_free(a);

	/* the domain and the names below it together */
	a = parse_ok_v(both, N(both));
	assert_true(sg_allow_name_port(a, "example.com", 443));
	assert_false(sg_allow_name_port(a, "example.com", 80));
	assert_true(sg_allow_name_port(a, "www.example.com", 80));
	sg_allow_free(a);

	/* a whole top-level domain */
	a = parse_ok("*.com");
	assert_true(sg_allow_name(a, "example.com"));
	assert_false(sg_allow_name(a, "com"));
	assert_false(sg_allow_name(a, "example.org"));
	sg_allow_free(a);
}

static void
test_trailing_dot_and_case(void **state)
{
	struct sg_allow *a = parse_ok("API.Example.COM.");

	assert_true(sg_allow_name(a, "api.example.com"));
	assert_true(sg_allow_name(a, "api.example.com."));
	assert_true(sg_allow_name(a, "Api.Example.Com"));
	assert_false(sg_allow_name(a, "api.example.com.."));
	sg_allow_free(a);

	a = parse_ok("api.example.com.:8443");
	assert_true(sg_allow_name_port(a, "API.example.com.", 8443));
	sg_allow_free(a);

	parse_bad("example.com..", "empty label");
	parse_bad(".", "no name");
	parse_bad("..", "empty label");
}

static void
test_name_errors(void **state)
{
	struct sg_allow *a = (struct sg_allow *)&a;
	const char *e = "foo..com";
	char buf[600], *msg = NULL;

	/* the exact message of the brief's example */
	assert_int_equal(sg_allow_parse(&e, 1, &a, &msg), -EINVAL);
	assert_string_equal(msg, "allow_net entry 'foo..com': empty label; write names like "
			    "api.example.com");
	free(msg);
	/* no message wanted */
	assert_int_equal(sg_allow_parse(&e, 1, &a, NULL), -EINVAL);
	assert_ptr_equal(a, (struct sg_allow *)&a);

	parse_bad("", "empty entry");
	parse_bad(".foo.com", "empty label");
	parse_bad("foo.com..", "empty label");
	parse_bad("-foo.com", "label '-foo' starts or ends with '-'");
	parse_bad("foo-.com", "label 'foo-' starts or ends with '-'");
	parse_bad("foo.-", "starts or ends with '-'");
	parse_bad("a!b.com", "'!' cannot appear in a name");
	parse_bad("a,b.com", "',' cannot appear");
	parse_bad("foo bar", "space");
	parse_bad("foo\tbar", "space or control");
	parse_bad("foo\x01" "bar", "control");
	parse_bad("foo\x7f", "control");
	parse_bad("https://api.example.com", "without 'scheme://'");
	parse_bad("api.example.com/v1", "without a path");
	parse_bad("api.example.com?x", "without a path");
	parse_bad("user@api.example.com", "without user@");
	parse_bad("/8", "without a path");
	parse_bad("foo.123", "the last label is a number");
	parse_bad("foo.0x1f", "the last label is a number");
	parse_bad("foo.0X", "the last label is a number");
	parse_bad("0x7f.0.0.1", "the last label is a number");
	parse_bad("0x7f000001", "the last label is a number");
	parse_bad("1.2.3.0x4", "the last label is a number");
	parse_bad("2001:db8::1", "IPv6 addresses go in brackets");
	parse_bad("::1", "IPv6 addresses go in brackets");

	/* labels of 63 and 64 bytes */
	repeat(buf, 'a', 63);
	strcat(buf, ".example");
	a = parse_ok(buf);
	assert_true(sg_allow_name(a, buf));
	sg_allow_free(a);
	repeat(buf, 'a', 64);
	strcat(buf, ".example");
	parse_bad(buf, "is 64 bytes long; a label has at most 63");

	/* names of 253 and 254 bytes: 4 labels of 63 and one of 1 (253) */
	snprintf(buf, sizeof(buf), "%.63s.%.63s.%.63s.%.61s",
		 repeat(buf + 300, 'b', 63), buf + 300, buf + 300, buf + 300);
	assert_int_equal(strlen(buf), 253);
	a = parse_ok(buf);
	assert_true(sg_allow_name(a, buf));
	strcat(buf, ".");	/* trailing dot does not count */
	assert_true(sg_allow_name(a, buf));
	sg_allow_free(a);
	a = parse_ok(buf);
	sg_allow_free(a);
	buf[253] = 'c';		/* 254 bytes */
	buf[254] = '\0';
	parse_bad(buf, "the name is 254 bytes long; a name has at most 253");
	/* *.DOMAIN where DOMAIN leaves no room for a label */
	snprintf(buf, sizeof(buf), "*.%.63s.%.63s.%.63s.%.60s",
		 repeat(buf + 300, 'd', 63), buf + 300, buf + 300, buf + 300);
	assert_int_equal(strlen(buf), 2 + 252);
	parse_bad(buf, "after '*.' is 252 bytes long");
	buf[strlen(buf) - 1] = '\0';
	a = parse_ok(buf);	/* 251 is fine */
	sg_allow_free(a);

	/* overlong entries are refused without parsing; the quote is cut */
	repeat(buf, 'e', 513);
	parse_bad(buf, "513 bytes long; no valid entry is longer than 512");
	e = buf;
	assert_int_equal(sg_allow_parse(&e, 1, &a, &msg), -EINVAL);
	assert_non_null(strstr(msg, "eee...': "));
	free(msg);
}

static void
test_idna(void **state)
{
	struct sg_allow *a = parse_ok("xn--bcher-kva.de");
	const char *e = "b\303\274cher.de";
	char *msg = NULL;

	assert_true(sg_allow_name(a, "XN--BCHER-KVA.DE."));
	assert_true(sg_allow_name(a, "xn--bcher-kva.de"));
	assert_false(sg_allow_name(a, "b\303\274cher.de"));
	assert_false(sg_allow_name(a, "bcher-kva.de"));
	sg_allow_free(a);

	a = parse_ok("*.xn--p1ai");
	assert_true(sg_allow_name(a, "xn--80akhbyknj4f.xn--p1ai"));
	assert_false(sg_allow_name(a, "xn--p1ai"));
	sg_allow_free(a);

	/* UTF-8: refused with the punycode hint, bytes escaped in the quote */
	parse_bad(e, "punycode (xn--)");
	assert_int_equal(sg_allow_parse(&e, 1, &a, &msg), -EINVAL);
	assert_string_equal(msg, "allow_net entry 'b\\xc3\\xbccher.de': the name is not ASCII; "
			    "write an internationalised name in its punycode (xn--) form, which "
			    "`idn2 NAME` prints");
	free(msg);
	parse_bad("*.\xd1\x80\xd1\x84", "punycode");
	parse_bad("caf\xc3\xa9.example:443", "punycode");
}

static void
test_normalise(void **state)
{
	char out[SG_NAME_MAX], small[4], name[300];
	static const char *const bad[] = {
		"", ".", "..", "a..b", ".a", "*.a", "*", "a b", "a/b", "-a", "a-", "1.2.3.4",
		"foo.123", "b\303\274cher.de", "a:443", "[::1]",
	};
	size_t i;

	assert_int_equal(sg_name_normalise("Foo.Bar.", out, sizeof(out)), 0);
	assert_string_equal(out, "foo.bar");
	assert_int_equal(sg_name_normalise("XN--P1AI", out, sizeof(out)), 0);
	assert_string_equal(out, "xn--p1ai");
	assert_int_equal(sg_name_normalise("_dmarc.Example.com", out, sizeof(out)), 0);
	assert_string_equal(out, "_dmarc.example.com");
	/* in place */
	strcpy(name, "WWW.Example.ORG.");
	assert_int_equal(sg_name_normalise(name, name, sizeof(name)), 0);
	assert_string_equal(name, "www.example.org");
	/* the buffer must hold the result and its NUL */
	assert_int_equal(sg_name_normalise("abc", small, sizeof(small)), 0);
	assert_string_equal(small, "abc");
	assert_int_equal(sg_name_normalise("abcd", small, sizeof(small)), -ENOBUFS);
	assert_int_equal(sg_name_normalise("abc.", small, sizeof(small)), 0);
	assert_int_equal(sg_name_normalise("a", small, 0), -ENOBUFS);
	for (i = 0; i < N(bad); i++) {
		if (sg_name_normalise(bad[i], out, sizeof(out)) != -EINVAL)
			print_error("'%s' was accepted\n", bad[i]);
		assert_int_equal(sg_name_normalise(bad[i], out, sizeof(out)), -EINVAL);
	}
	assert_int_equal(sg_name_normalise(NULL, out, sizeof(out)), -EINVAL);
	repeat(name, 'a', 64);
	assert_int_equal(sg_name_normalise(name, out, sizeof(out)), -EINVAL);
	repeat(name, 'a', 63);
	assert_int_equal(sg_name_normalise(name, out, sizeof(out)), 0);
}

static void
test_ipv4(void **state)
{
	struct sg_allow *a = parse_ok("192.0.2.7");
	uint32_t net;
	unsigned prefix;
	uint16_t port;
	uint8_t m6[16];

	assert_true(addr_ok(a, "192.0.2.7", 443));
	assert_true(addr_ok(a, "192.0.2.7", 1));
	assert_false(addr_ok(a, "192.0.2.7", 0));
	assert_false(addr_ok(a, "192.0.2.8", 443));
	assert_false(addr_ok(a, "192.0.2.6", 443));
	/* an IPv4-mapped IPv6 query is its IPv4 address */
	assert_true(addr_ok(a, "::ffff:192.0.2.7", 443));
	assert_false(addr_ok(a, "::192.0.2.7", 443));
	assert_true(range_ok(a, "192.0.2.7"));
	assert_false(range_ok(a, "192.0.2.8"));
	/* an address entry allows no name, not even its text */
	assert_false(sg_allow_name(a, "192.0.2.7"));
	assert_int_equal(sg_allow_v4_count(a), 1);
	sg_allow_v4_at(a, 0, &net, &prefix, &port);
	assert_int_equal(net, 0xc0000207);
	assert_int_equal(prefix, 32);
	assert_int_equal(port, 0);
	/* other families and NULL */
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7", m6), 1);
	assert_false(sg_allow_addr_port(a, AF_UNIX, m6, 443));
	assert_false(sg_allow_addr_port(a, AF_INET, NULL, 443));
	assert_false(sg_allow_names_range(a, AF_UNIX, m6));
	sg_allow_free(a);

	a = parse_ok("10.0.0.0/8:5432");
	assert_true(addr_ok(a, "10.1.2.3", 5432));
	assert_true(addr_ok(a, "10.0.0.0", 5432));
	assert_true(addr_ok(a, "10.255.255.255", 5432));
	assert_false(addr_ok(a, "10.1.2.3", 5433));
	assert_false(addr_ok(a, "11.0.0.0", 5432));
	assert_false(addr_ok(a, "9.255.255.255", 5432));
	assert_true(range_ok(a, "10.9.9.9"));	/* any port */
	sg_allow_v4_at(a, 0, &net, &prefix, &port);
	assert_int_equal(net, 0x0a000000);
	assert_int_equal(prefix, 8);
	assert_int_equal(port, 5432);
	sg_allow_free(a);

	/* /0 and /32 */
	a = parse_ok("0.0.0.0/0");
	assert_true(addr_ok(a, "8.8.8.8", 53));
	assert_true(addr_ok(a, "255.255.255.255", 1));
	assert_true(addr_ok(a, "0.0.0.0", 1));
	assert_true(range_ok(a, "10.0.0.1"));
	assert_false(addr_ok(a, "2001:db8::1", 443));
	assert_false(sg_allow_all(a));
	sg_allow_v4_at(a, 0, &net, &prefix, &port);
	assert_int_equal(net, 0);
	assert_int_equal(prefix, 0);
	sg_allow_free(a);
	a = parse_ok("198.51.100.1/32:443");
	assert_true(addr_ok(a, "198.51.100.1", 443));
	assert_false(addr_ok(a, "198.51.100.0", 443));
	sg_allow_free(a);
	a = parse_ok("255.255.255.255");
	assert_true(addr_ok(a, "255.255.255.255", 9));
	sg_allow_free(a);
	a = parse_ok("192.168.4.0/22");
	assert_true(addr_ok(a, "192.168.7.255", 1));
	assert_false(addr_ok(a, "192.168.8.0", 1));
	assert_false(addr_ok(a, "192.168.3.255", 1));
	sg_allow_free(a);

	/* host bits: the message says what the network is */
	parse_bad("10.0.0.1/8", "host bits are set after /8; the network is 10.0.0.0/8");
	parse_bad("192.168.1.1/24:80", "the network is 192.168.1.0/24");
	parse_bad("10.0.0.1/0", "the network is 0.0.0.0/0");
	parse_bad("192.168.4.0/21", "the network is 192.168.0.0/21");
	parse_bad("10.0.0.0/33", "'/33' is not a prefix length");
	parse_bad("10.0.0.0/", "'/' is not a prefix length");
	parse_bad("10.0.0.0/08", "is not a prefix length");
	parse_bad("10.0.0.0/-1", "is not a prefix length");
	parse_bad("10.0.0.0/8/8", "is not a prefix length");
	parse_bad("10.0.0/8", "is not an IPv4 address");
	parse_bad("1.2.3", "'1.2.3' is not an IPv4 address");
	parse_bad("1.2.3.4.5", "is not an IPv4 address");
	parse_bad("256.1.1.1", "is not an IPv4 address");
	parse_bad("1.2.3.1000", "is not an IPv4 address");
	parse_bad("1..2.3", "is not an IPv4 address");
	parse_bad("1.2.3.4.", "is not an IPv4 address");
	parse_bad("2130706433", "is not an IPv4 address");
	parse_bad("010.0.0.1", "leading zero");
	parse_bad("10.0.0.01", "leading zero");
	parse_bad("1.2.3.4:0", "'0' is not a port");
	parse_bad("1.2.3.4:", "not followed by a port");
}

static void
test_ipv6(void **state)
{
	struct sg_allow *a = parse_ok("[2001:db8::1]");
	uint8_t net[16], want[16];
	unsigned prefix;
	uint16_t port;
	uint32_t net4;

	assert_true(addr_ok(a, "2001:db8::1", 443));
	assert_true(addr_ok(a, "2001:db8:0:0:0:0:0:1", 22));
	assert_false(addr_ok(a, "2001:db8::2", 443));
	assert_false(addr_ok(a, "2001:db8::1", 0));
	assert_true(range_ok(a, "2001:db8::1"));
	assert_false(sg_allow_name(a, "2001:db8::1"));
	assert_int_equal(sg_allow_v4_count(a), 0);
	assert_int_equal(sg_allow_v6_count(a), 1);
	sg_allow_v6_at(a, 0, net, &prefix, &port);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", want), 1);
	assert_memory_equal(net, want, 16);
	assert_int_equal(prefix, 128);
	assert_int_equal(port, 0);
	sg_allow_free(a);

	a = parse_ok("[2001:DB8::1]:443");
	assert_true(addr_ok(a, "2001:db8::1", 443));
	assert_false(addr_ok(a, "2001:db8::1", 80));
	sg_allow_free(a);

	a = parse_ok("[2001:db8::/32]");
	assert_true(addr_ok(a, "2001:db8:ffff::1", 1));
	assert_true(addr_ok(a, "2001:db8::", 1));
	assert_false(addr_ok(a, "2001:db9::", 1));
	assert_false(addr_ok(a, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 1));
	sg_allow_free(a);

	a = parse_ok("[2001:db8:8000::/33]:8443");
	assert_true(addr_ok(a, "2001:db8:8000::1", 8443));
	assert_true(addr_ok(a, "2001:db8:ffff::1", 8443));
	assert_false(addr_ok(a, "2001:db8:7fff::1", 8443));
	assert_false(addr_ok(a, "2001:db8:8000::1", 443));
	sg_allow_v6_at(a, 0, net, &prefix, &port);
	assert_int_equal(prefix, 33);
	assert_int_equal(port, 8443);
	sg_allow_free(a);

	/* [::/0] is every IPv6 address, not IPv4 through mapped ones */
	a = parse_ok("[::/0]");
	assert_true(addr_ok(a, "2001:db8::1", 1));
	assert_true(addr_ok(a, "::1", 1));
	assert_false(addr_ok(a, "::ffff:192.0.2.7", 1));
	assert_false(addr_ok(a, "192.0.2.7", 1));
	sg_allow_free(a);

	a = parse_ok("[::1/128]");
	assert_true(addr_ok(a, "::1", 1));
	assert_false(addr_ok(a, "::2", 1));
	sg_allow_free(a);

	/* IPv4-mapped entries are IPv4 entries */
	a = parse_ok("[::ffff:192.0.2.7]");
	assert_int_equal(sg_allow_v6_count(a), 0);
	assert_int_equal(sg_allow_v4_count(a), 1);
	sg_allow_v4_at(a, 0, &net4, &prefix, &port);
	assert_int_equal(net4, 0xc0000207);
	assert_int_equal(prefix, 32);
	assert_true(addr_ok(a, "192.0.2.7", 443));
	assert_true(addr_ok(a, "::ffff:192.0.2.7", 443));
	sg_allow_free(a);
	a = parse_ok("[::ffff:10.0.0.0/104]:22");
	sg_allow_v4_at(a, 0, &net4, &prefix, &port);
	assert_int_equal(net4, 0x0a000000);
	assert_int_equal(prefix, 8);
	assert_int_equal(port, 22);
	assert_true(addr_ok(a, "10.2.3.4", 22));
	sg_allow_free(a);

	parse_bad("[2001:db8::1", "'[' without ']'");
	parse_bad("[2001:db8::1]x", "unexpected text after ']'");
	parse_bad("[2001:db8::1]]", "unexpected text after ']'");
	parse_bad("[2001:db8::1]:", "not followed by a port");
	parse_bad("[2001:db8::1]:0", "'0' is not a port");
	parse_bad("[2001:db8::1]:65536", "'65536' is not a port");
	parse_bad("[]", "nothing between '[' and ']'");
	parse_bad("[]:443", "nothing between '[' and ']'");
	parse_bad("[fe80::1%eth0]", "zone ids");
	parse_bad("[192.0.2.7]", "IPv4 addresses go without brackets; write 192.0.2.7");
	parse_bad("[2001:db8::1/129]", "'/129' is not a prefix length");
	parse_bad("[2001:db8::/]", "'/' is not a prefix length");
	parse_bad("[2001:db8::/032]", "is not a prefix length");
	parse_bad("[/64]", "not an IPv6 address");
	parse_bad("[gggg::1]", "'gggg::1' is not an IPv6 address");
	parse_bad("[2001:db8::1::2]", "is not an IPv6 address");
	parse_bad("[example.com]", "is not an IPv6 address");
	parse_bad("[2001:db8::1/64]", "host bits are set after /64; the network is "
		  "[2001:db8::/64]");
	parse_bad("[::1/0]", "the network is [::/0]");
	parse_bad("[2001:db8:ffff::/33]", "the network is [2001:db8:8000::/33]");
	parse_bad("[::ffff:10.0.0.1/104]", "the network is [::ffff:10.0.0.0/104]");
}

static void
test_design_example_and_duplicates(void **state)
{
	static const char *const list[] = {
		"api.openai.com", "*.anthropic.com", "db.example.com:5432", "192.0.2.7",
		"[2001:db8::1]",
	};
	static const char *const dup[] = {
		"1.2.3.4", "1.2.3.4", "[::ffff:1.2.3.4]", "1.2.3.4:80", "[2001:db8::1]",
		"[2001:DB8:0::1]", "a.example", "A.example.",
	};
	static const char *const second_bad[] = { "ok.example", "bad..example", "1.2.3.4" };
	struct sg_allow *a = parse_ok_v(list, N(list));
	struct sg_allow *keep = (struct sg_allow *)&keep;
	uint16_t ports[2];
	char *msg = NULL;

	assert_true(sg_allow_name(a, "api.openai.com"));
	assert_true(sg_allow_name(a, "console.anthropic.com"));
	assert_false(sg_allow_name(a, "anthropic.com"));
	assert_int_equal(sg_allow_name_ports(a, "db.example.com", ports, N(ports)), 1);
	assert_int_equal(ports[0], 5432);
	assert_true(addr_ok(a, "192.0.2.7", 443));
	assert_true(addr_ok(a, "2001:db8::1", 443));
	assert_false(addr_ok(a, "192.0.2.8", 443));
	assert_false(sg_allow_name(a, "example.com"));
	assert_int_equal(sg_allow_v4_count(a), 1);
	assert_int_equal(sg_allow_v6_count(a), 1);
	sg_allow_free(a);

	a = parse_ok_v(dup, N(dup));
	assert_int_equal(sg_allow_v4_count(a), 2);
	assert_int_equal(sg_allow_v6_count(a), 1);
	assert_true(sg_allow_name(a, "a.example"));
	sg_allow_free(a);

	/* one bad entry fails the whole list and names that entry */
	assert_int_equal(sg_allow_parse(second_bad, N(second_bad), &keep, &msg), -EINVAL);
	assert_ptr_equal(keep, (struct sg_allow *)&keep);
	assert_string_equal(msg, "allow_net entry 'bad..example': empty label; write names like "
			    "api.example.com");
	free(msg);
}

static void
test_names_range(void **state)
{
	static const char *const list[] = {
		"10.0.0.0/8:5432", "[fd00::/8]", "*", "api.example.com", "169.254.169.254:80",
	};
	struct sg_allow *a = parse_ok_v(list, N(list));

	assert_true(range_ok(a, "10.1.1.1"));
	assert_true(range_ok(a, "::ffff:10.2.3.4"));
	assert_true(range_ok(a, "fd00::1"));
	assert_true(range_ok(a, "fd00:ec2::254"));
	assert_true(range_ok(a, "169.254.169.254"));
	assert_false(range_ok(a, "169.254.169.253"));
	assert_false(range_ok(a, "fc00::1"));
	assert_false(range_ok(a, "192.168.1.1"));	/* '*' names no range */
	assert_false(range_ok(a, "127.0.0.1"));
	sg_allow_free(a);
}

static void
test_internal(void **state)
{
	static const struct {
		const char *addr;
		int internal;
	} t[] = {
		{ "0.0.0.0", 1 }, { "0.255.255.255", 1 }, { "1.0.0.0", 0 },
		{ "9.255.255.255", 0 }, { "10.0.0.0", 1 }, { "10.255.255.255", 1 },
		{ "11.0.0.0", 0 },
		{ "100.63.255.255", 0 }, { "100.64.0.0", 1 }, { "100.127.255.255", 1 },
		{ "100.128.0.0", 0 },
		{ "126.255.255.255", 0 }, { "127.0.0.1", 1 }, { "127.255.255.255", 1 },
		{ "128.0.0.0", 0 },
		{ "169.253.255.255", 0 }, { "169.254.0.0", 1 }, { "169.254.169.254", 1 },
		{ "169.254.255.255", 1 }, { "169.255.0.0", 0 },
		{ "172.15.255.255", 0 }, { "172.16.0.0", 1 }, { "172.31.255.255", 1 },
		{ "172.32.0.0", 0 },
		{ "191.255.255.255", 0 }, { "192.0.0.0", 1 }, { "192.0.0.8", 1 },
		{ "192.0.0.255", 1 }, { "192.0.1.0", 0 }, { "192.0.2.7", 0 },
		{ "192.167.255.255", 0 }, { "192.168.0.0", 1 }, { "192.168.255.255", 1 },
		{ "192.169.0.0", 0 },
		{ "198.17.255.255", 0 }, { "198.18.0.0", 1 }, { "198.19.255.255", 1 },
		{ "198.20.0.0", 0 }, { "198.51.100.1", 0 }, { "203.0.113.1", 0 },
		{ "223.255.255.255", 0 }, { "224.0.0.0", 1 }, { "239.255.255.255", 1 },
		{ "240.0.0.0", 1 }, { "255.255.255.254", 1 }, { "255.255.255.255", 1 },
		{ "8.8.8.8", 0 }, { "1.1.1.1", 0 }, { "93.184.216.34", 0 },

		{ "::", 1 }, { "::1", 1 }, { "::2", 1 }, { "::10.0.0.1", 1 },
		{ "::ffff:10.0.0.1", 1 }, { "::ffff:8.8.8.8", 0 },
		{ "::ffff:169.254.169.254", 1 }, { "::ffff:100.63.255.255", 0 },
		{ "::ffff:100.64.0.0", 1 }, { "::ffff:0.0.0.0", 1 },
		/* 0:0:0:0:0:fffe:808:808: outside ::/96 and ::ffff:0:0/96 */
		{ "::fffe:8.8.8.8", 0 },
		{ "64:ff9b::8.8.8.8", 0 }, { "64:ff9b::10.0.0.1", 1 },
		{ "64:ff9b::127.0.0.1", 1 }, { "64:ff9b:1::1", 1 }, { "64:ff9b:1:ffff::1", 1 },
		{ "64:ff9b:2::1", 0 },
		{ "2002:a00:1::1", 1 }, { "2002:a9fe:a9fe::", 1 }, { "2002:808:808::1", 0 },
		{ "fbff:ffff::1", 0 }, { "fc00::", 1 }, { "fc00::1", 1 }, { "fd00:ec2::254", 1 },
		{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1 }, { "fe00::1", 0 },
		{ "fe7f:ffff::1", 0 }, { "fe80::", 1 }, { "fe80::1", 1 }, { "febf::1", 1 },
		{ "fec0::1", 1 }, { "feff::1", 1 }, { "ff00::", 1 }, { "ff02::1", 1 },
		{ "2001:db8::1", 0 }, { "2606:4700:4700::1111", 0 }, { "2a00:1450::1", 0 },
	};
	uint8_t buf[16] = { 0 };
	size_t i;

	for (i = 0; i < N(t); i++) {
		int want = t[i].internal;

		if (internal(t[i].addr) != want)
			print_error("%s: want %d\n", t[i].addr, want);
		assert_int_equal(internal(t[i].addr), want);
	}
	/* unknown families and no address are internal: fail closed */
	assert_int_equal(sg_addr_is_internal(AF_UNIX, buf), 1);
	assert_int_equal(sg_addr_is_internal(AF_INET, NULL), 1);
}

/* A sandbox's list must lie inside its token's. */
static int
within(const char *inner, const char *const *outer, size_t n)
{
	struct sg_allow *i = parse_ok(inner), *o = parse_ok_v(outer, n);
	int r = sg_allow_within(i, o);

	sg_allow_free(i);
	sg_allow_free(o);
	return r;
}

static void
test_within(void **state)
{
	static const char *const tok[] = { "api.example.com:443", "*.corp.test",
	    "10.1.0.0/16:8080", "[2001:db8::/32]", "plain.test" };
	static const char *const star[] = { "*" };
	(void)state;

	assert_int_equal(within("api.example.com:443", tok, N(tok)), 1);
	assert_int_equal(within("api.example.com", tok, N(tok)), 0);	/* every port */
	assert_int_equal(within("api.example.com:80", tok, N(tok)), 0);
	assert_int_equal(within("x.api.example.com:443", tok, N(tok)), 0);
	assert_int_equal(within("a.corp.test", tok, N(tok)), 1);
	assert_int_equal(within("a.corp.test:22", tok, N(tok)), 1);
	assert_int_equal(within("corp.test", tok, N(tok)), 0);
	assert_int_equal(within("*.corp.test:443", tok, N(tok)), 1);
	assert_int_equal(within("*.b.corp.test", tok, N(tok)), 1);
	assert_int_equal(within("*.test", tok, N(tok)), 0);
	assert_int_equal(within("*.xcorp.test", tok, N(tok)), 0);
	assert_int_equal(within("plain.test:1", tok, N(tok)), 1);
	assert_int_equal(within("PLAIN.test.", tok, N(tok)), 1);
	assert_int_equal(within("10.1.2.0/24:8080", tok, N(tok)), 1);
	assert_int_equal(within("10.1.2.3:8080", tok, N(tok)), 1);
	assert_int_equal(within("10.1.2.3", tok, N(tok)), 0);
	assert_int_equal(within("10.0.0.0/8:8080", tok, N(tok)), 0);
	assert_int_equal(within("10.2.0.1:8080", tok, N(tok)), 0);
	assert_int_equal(within("[2001:db8:1::1]:443", tok, N(tok)), 1);
	assert_int_equal(within("[2001:db9::1]", tok, N(tok)), 0);
	assert_int_equal(within("*", tok, N(tok)), 0);
	assert_int_equal(within("*", star, 1), 1);
	assert_int_equal(within("10.0.0.0/8", star, 1), 1);
	assert_int_equal(within("*.anything.test:1", star, 1), 1);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_list),
		cmocka_unit_test(test_star),
		cmocka_unit_test(test_host_any_port),
		cmocka_unit_test(test_host_port),
		cmocka_unit_test(test_host_and_port_mixed),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_trailing_dot_and_case),
		cmocka_unit_test(test_name_errors),
		cmocka_unit_test(test_idna),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_design_example_and_duplicates),
		cmocka_unit_test(test_names_range),
		cmocka_unit_test(test_internal),
		cmocka_unit_test(test_within),
	};

	return cmocka_run_group_tests_name("allow", tests, NULL, NULL);
}
