/* Unit tests for the names and credentials of exposed ports
 * (common/explink.c): labels round-trip through the host parser and
 * every malformed host is -ENOENT; a link and a cookie are valid for
 * their exposure only, until they expire, and each forged, truncated,
 * re-kinded or re-bound credential is refused; the cookie walker finds
 * only our pair and the stripper leaves every other pair; the bearer
 * reader takes sandgate tokens only. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/explink.h"

static const uint8_t key[SG_EXPLINK_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t key2[SG_EXPLINK_KEY_LEN] = { 9 };

static int
host(const char *h, const char *domain, uint16_t *port, char *sbx, char *tag)
{
	return sg_explink_host_parse(h, strlen(h), domain, port, sbx, tag);
}

static void
test_tag(void **state)
{
	char a[SG_EXPLINK_TAG_LEN + 1], b[SG_EXPLINK_TAG_LEN + 1];

	(void)state;
	assert_int_equal(sg_explink_tag(key, "ci-bot", a), 0);
	assert_int_equal(strlen(a), SG_EXPLINK_TAG_LEN);
	assert_int_equal(strspn(a, "0123456789abcdef"), SG_EXPLINK_TAG_LEN);
	assert_int_equal(sg_explink_tag(key, "ci-bot", b), 0);
	assert_string_equal(a, b);
	assert_int_equal(sg_explink_tag(key, "ci-bot2", b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(sg_explink_tag(key2, "ci-bot", b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(sg_explink_tag(key, "", b), -EINVAL);
}

static void
test_label_roundtrip(void **state)
{
	static const struct { uint16_t port; const char *sbx; } v[] = {
		{ 1, "a" }, { 8000, "work" }, { 65535, "0123456789ab" },
		{ 80, "my-app--2-" }, { 443, "abcdefghijklmnopqrstuvwxyz012345" },
	};
	char label[SG_EXPLINK_LABEL_MAX], h[256], sbx[SG_EXPLINK_SBX_MAX + 1];
	char tag[SG_EXPLINK_TAG_LEN + 1];
	uint16_t port;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(sg_explink_label(v[i].port, v[i].sbx,
		    "0a1b2c3d", label), 0);
		assert_true(strlen(label) <= 63);
		snprintf(h, sizeof(h), "%s.sandgate.localhost", label);
		assert_int_equal(host(h, "sandgate.localhost", &port, sbx,
		    tag), 0);
		assert_int_equal(port, v[i].port);
		assert_string_equal(sbx, v[i].sbx);
		assert_string_equal(tag, "0a1b2c3d");
	}
}

static void
test_label_bad(void **state)
{
	char label[SG_EXPLINK_LABEL_MAX];

	(void)state;
	assert_int_equal(sg_explink_label(0, "work", "0a1b2c3d", label),
	    -EINVAL);
	assert_int_equal(sg_explink_label(80, "", "0a1b2c3d", label), -EINVAL);
	assert_int_equal(sg_explink_label(80, "-work", "0a1b2c3d", label),
	    -EINVAL);
	assert_int_equal(sg_explink_label(80, "Work", "0a1b2c3d", label),
	    -EINVAL);
	assert_int_equal(sg_explink_label(80,
	    "abcdefghijklmnopqrstuvwxyz0123456", "0a1b2c3d", label), -EINVAL);
	assert_int_equal(sg_explink_label(80, "work", "0A1B2C3D", label),
	    -EINVAL);
	assert_int_equal(sg_explink_label(80, "work", "0a1b2c3", label),
	    -EINVAL);
}

static void
test_host_bad(void **state)
{
	static const char *bad[] = {
		"",
		"sandgate.localhost",
		".sandgate.localhost",
		"8000-work-0a1b2c3d.sandgate.localhost.evil",
		"8000-work-0a1b2c3d.xsandgate.localhost",
		"8000-work-0a1b2c3dsandgate.localhost",
		"a.8000-work-0a1b2c3d.sandgate.localhost",
		"8000-work-0a1b2c3d.a.sandgate.localhost",
		"08000-work-0a1b2c3d.sandgate.localhost",
		"0-work-0a1b2c3d.sandgate.localhost",
		"65536-work-0a1b2c3d.sandgate.localhost",
		"100000-work-0a1b2c3d.sandgate.localhost",
		"-work-0a1b2c3d.sandgate.localhost",
		"8000work-0a1b2c3d.sandgate.localhost",
		"8000--work-0a1b2c3d.sandgate.localhost",
		"8000-work-0a1b2c3.sandgate.localhost",
		"8000-work-0a1b2c3dd.sandgate.localhost",
		"8000-work-0A1B2C3D.sandgate.localhost",
		"8000-work0a1b2c3d.sandgate.localhost",
		"8000--0a1b2c3d.sandgate.localhost",
		"8000-0a1b2c3d.sandgate.localhost",
		"8000-w_rk-0a1b2c3d.sandgate.localhost",
		("8000-abcdefghijklmnopqrstuvwxyz0123456-0a1b2c3d"
		    ".sandgate.localhost"),
	};
	char sbx[SG_EXPLINK_SBX_MAX + 1], tag[SG_EXPLINK_TAG_LEN + 1];
	uint16_t port;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (host(bad[i], "sandgate.localhost", &port, sbx, tag) !=
		    -ENOENT)
			fail_msg("accepted %s", bad[i]);
	}
	assert_int_equal(host("8000-work-0a1b2c3d.sandgate.localhost", "",
	    &port, sbx, tag), -ENOENT);
}

static void
test_url(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(sg_explink_url("8000-work-0a1b2c3d", "example.com",
	    443, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "https://8000-work-0a1b2c3d.example.com/");
	assert_int_equal(sg_explink_url("8000-work-0a1b2c3d", "example.com",
	    8443, "12.ab", out, sizeof(out)), 0);
	assert_string_equal(out, "https://8000-work-0a1b2c3d.example.com:8443"
	    "/__sandgate/link?t=12.ab");
	assert_int_equal(sg_explink_url("8000-work-0a1b2c3d", "example.com",
	    443, NULL, out, 20), -ENOBUFS);
}

static const struct sg_explink_grant grant = {
	.label = "8000-work-0a1b2c3d", .id = "0123456789ab", .nonce = 42,
};

static int
check(const uint8_t *k, enum sg_explink_kind kind,
    const struct sg_explink_grant *g, const char *cred, int64_t now)
{
	return sg_explink_check(k, kind, g, cred, strlen(cred), now, NULL);
}

static void
test_cred(void **state)
{
	char link[SG_EXPLINK_CRED_MAX], cookie[SG_EXPLINK_CRED_MAX];
	char forged[SG_EXPLINK_CRED_MAX];
	struct sg_explink_grant g;
	int64_t exp = 0;
	size_t n;

	(void)state;
	assert_int_equal(sg_explink_make(key, SG_EXPLINK_LINK, &grant,
	    2000000000, link), 0);
	assert_int_equal(sg_explink_make(key, SG_EXPLINK_COOKIE_CRED, &grant,
	    2000000000, cookie), 0);
	assert_string_not_equal(link, cookie);
	assert_int_equal(strncmp(link, "2000000000.", 11), 0);
	assert_int_equal(strlen(link), 11 + 22);

	assert_int_equal(sg_explink_check(key, SG_EXPLINK_LINK, &grant, link,
	    strlen(link), 1999999999, &exp), 0);
	assert_int_equal(exp, 2000000000);
	assert_int_equal(check(key, SG_EXPLINK_COOKIE_CRED, &grant, cookie,
	    1999999999), 0);
	/* expired at its second */
	assert_int_equal(check(key, SG_EXPLINK_LINK, &grant, link,
	    2000000000), -EKEYEXPIRED);
	/* the other kind, the other key */
	assert_int_equal(check(key, SG_EXPLINK_COOKIE_CRED, &grant, link, 1),
	    -EACCES);
	assert_int_equal(check(key, SG_EXPLINK_LINK, &grant, cookie, 1),
	    -EACCES);
	assert_int_equal(check(key2, SG_EXPLINK_LINK, &grant, link, 1),
	    -EACCES);
	/* another exposure: label, id, nonce */
	g = grant;
	g.label = "8001-work-0a1b2c3d";
	assert_int_equal(check(key, SG_EXPLINK_LINK, &g, link, 1), -EACCES);
	g = grant;
	g.id = "0123456789ac";
	assert_int_equal(check(key, SG_EXPLINK_LINK, &g, link, 1), -EACCES);
	g = grant;
	g.nonce = 43;
	assert_int_equal(check(key, SG_EXPLINK_LINK, &g, link, 1), -EACCES);
	/* a later expiry with the old mac */
	snprintf(forged, sizeof(forged), "2000000001%s", link + 10);
	assert_int_equal(check(key, SG_EXPLINK_LINK, &grant, forged, 1),
	    -EACCES);
	/* each byte of the mac changed */
	n = strlen(link);
	for (size_t i = 11; i < n; i++) {
		memcpy(forged, link, n + 1);
		forged[i] = forged[i] == 'A' ? 'B' : 'A';
		assert_int_equal(check(key, SG_EXPLINK_LINK, &grant, forged, 1),
		    -EACCES);
	}
	/* truncated at every length (a bounds test under ASan), one byte
	 * more */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sg_explink_check(key, SG_EXPLINK_LINK, &grant,
		    link, i, 1, NULL), -EACCES);
	snprintf(forged, sizeof(forged), "%sA", link);
	assert_int_equal(check(key, SG_EXPLINK_LINK, &grant, forged, 1),
	    -EACCES);
	/* leading zero, sign, no dot, huge */
	snprintf(forged, sizeof(forged), "0%s", link);
	assert_int_equal(check(key, SG_EXPLINK_LINK, &grant, forged, 1),
	    -EACCES);
	snprintf(forged, sizeof(forged), "-%s", link);
	assert_int_equal(check(key, SG_EXPLINK_LINK, &grant, forged, 1),
	    -EACCES);
	/* the latest expiry is made and accepted; one more is not made,
	 * and a credential that says so is refused whatever its mac */
	assert_int_equal(sg_explink_make(key, SG_EXPLINK_LINK, &grant,
	    SG_EXPLINK_EXPIRES_MAX, forged), 0);
	assert_int_equal(check(key, SG_EXPLINK_LINK, &grant, forged, 1), 0);
	snprintf(forged, sizeof(forged), "%lld%s",
	    (long long)SG_EXPLINK_EXPIRES_MAX + 1, strchr(link, '.'));
	assert_int_equal(check(key, SG_EXPLINK_LINK, &grant, forged, 1),
	    -EACCES);
	assert_int_equal(check(key, SG_EXPLINK_LINK, &grant,
	    "99999999999999.AAAAAAAAAAAAAAAAAAAAAA", 1), -EACCES);
	assert_int_equal(check(key, SG_EXPLINK_LINK, &grant, "", 1), -EACCES);
	/* bad expiries and grants are not made */
	assert_int_equal(sg_explink_make(key, SG_EXPLINK_LINK, &grant, 0,
	    forged), -EINVAL);
	assert_int_equal(sg_explink_make(key, SG_EXPLINK_LINK, &grant,
	    SG_EXPLINK_EXPIRES_MAX + 1, forged), -EINVAL);
	g = grant;
	g.id = "";
	assert_int_equal(sg_explink_make(key, SG_EXPLINK_LINK, &g, 5, forged),
	    -EINVAL);
}

static void
test_query(void **state)
{
	size_t off, n;

	(void)state;
	assert_int_equal(sg_explink_query("t=12.ab-_", 9, &off, &n), 0);
	assert_int_equal(off, 2);
	assert_int_equal(n, 7);
	assert_int_equal(sg_explink_query("t=", 2, &off, &n), -EINVAL);
	assert_int_equal(sg_explink_query("x=1", 3, &off, &n), -EINVAL);
	assert_int_equal(sg_explink_query("t=1&t=2", 7, &off, &n), -EINVAL);
	assert_int_equal(sg_explink_query("t=1%20", 6, &off, &n), -EINVAL);
	/* the longest credential (SG_EXPLINK_CRED_MAX - 1 bytes) */
	assert_int_equal(sg_explink_query(
	    "t=12345678901234567890123456789012345678901234567", 49, &off,
	    &n), 0);
	assert_int_equal(n, SG_EXPLINK_CRED_MAX - 1);
	assert_int_equal(sg_explink_query(
	    "t=123456789012345678901234567890123456789012345678", 50, &off,
	    &n), -EINVAL);
}

static void
cookies(const char *v, const char **want, size_t nwant)
{
	size_t pos = 0, off, n, k = 0;

	while (sg_explink_cookie_next(v, strlen(v), &pos, &off, &n)) {
		assert_true(k < nwant);
		assert_int_equal(n, strlen(want[k]));
		assert_memory_equal(v + off, want[k], n);
		k++;
	}
	assert_int_equal(k, nwant);
}

static void
test_cookie(void **state)
{
	static const char *one[] = { "1.abc" };
	static const char *two[] = { "1.abc", "2.def" };
	const char *v;
	char out[512];

	(void)state;
	cookies("", NULL, 0);
	cookies("a=b", NULL, 0);
	cookies("__Host-sandgate=1.abc", one, 1);
	cookies("a=b; __Host-sandgate=1.abc;c=d", one, 1);
	cookies("a=b;  __Host-sandgate = \"1.abc\" ; x", one, 1);
	cookies("__Host-sandgate=1.abc; __Host-sandgate=2.def", two, 2);
	/* names that are not ours */
	cookies("__host-sandgate=1.abc; __Host-sandgatex=2; "
	    "x__Host-sandgate=3; __Host-sandgate", NULL, 0);

	assert_int_equal(sg_explink_cookie_strip("a=b; __Host-sandgate=1.abc;"
	    "c=d", 30, out, sizeof(out)), strlen("a=b; c=d"));
	assert_string_equal(out, "a=b; c=d");
	assert_int_equal(sg_explink_cookie_strip("__Host-sandgate=1", 17,
	    out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(sg_explink_cookie_strip(" x ;;y=\"q;", 10, out,
	    sizeof(out)), strlen("x; y=\"q"));
	assert_string_equal(out, "x; y=\"q");
	assert_int_equal(sg_explink_cookie_strip("a=1;b=2;c=3", 11, out,
	    sizeof(out)), strlen("a=1; b=2; c=3"));
	assert_string_equal(out, "a=1; b=2; c=3");
	/* every copy of ours, padded, quoted, first, last */
	v = "__Host-sandgate=1; a=1;  __Host-sandgate = \"2\" ;b=2;"
	    "__Host-sandgate=3";
	assert_int_equal(sg_explink_cookie_strip(v, strlen(v), out,
	    sizeof(out)), strlen("a=1; b=2"));
	assert_string_equal(out, "a=1; b=2");
	/* the output grows ("a;b" -> "a; b"): a short buffer is refused */
	assert_int_equal(sg_explink_cookie_strip("a;b", 3, out, 4), -ENOBUFS);
	assert_string_equal(out, "");
	assert_int_equal(sg_explink_cookie_strip("a;b", 3, out, 5), 4);
}

static void
test_bearer(void **state)
{
	size_t off, n;
	const char *v;

	(void)state;
	v = "Bearer sg_AbC-_9";
	assert_int_equal(sg_explink_bearer(v, strlen(v), &off, &n), 1);
	assert_int_equal(off, 7);
	assert_int_equal(n, 9);
	v = "bearer   sg_x";
	assert_int_equal(sg_explink_bearer(v, strlen(v), &off, &n), 1);
	assert_int_equal(off, 9);
	v = "Basic c2dfeDpw";
	assert_int_equal(sg_explink_bearer(v, strlen(v), &off, &n), 0);
	/* a hand-made token is a bearer too: the owner's hash decides */
	v = "Bearer my.Token+/~_-==";
	assert_int_equal(sg_explink_bearer(v, strlen(v), &off, &n), 1);
	assert_int_equal(n, strlen("my.Token+/~_-=="));
	v = "Bearer ";
	assert_int_equal(sg_explink_bearer(v, strlen(v), &off, &n), 0);
	v = "Bearer sg_a b";
	assert_int_equal(sg_explink_bearer(v, strlen(v), &off, &n), 0);
	v = "Bearer sg_a=b";
	assert_int_equal(sg_explink_bearer(v, strlen(v), &off, &n), 0);
	v = "Bearer =";
	assert_int_equal(sg_explink_bearer(v, strlen(v), &off, &n), 0);
	v = "Bearersg_a";
	assert_int_equal(sg_explink_bearer(v, strlen(v), &off, &n), 0);
	v = "Bearer\tsg_a";
	assert_int_equal(sg_explink_bearer(v, strlen(v), &off, &n), 0);
	{
		char big[1100];

		memcpy(big, "Bearer ", 7);
		memset(big + 7, 'a', 1024);
		assert_int_equal(sg_explink_bearer(big, 7 + 1024, &off, &n), 1);
		big[7 + 1024] = 'a';
		assert_int_equal(sg_explink_bearer(big, 7 + 1025, &off, &n), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_label_roundtrip),
		cmocka_unit_test(test_label_bad),
		cmocka_unit_test(test_host_bad),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_cred),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_bearer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
