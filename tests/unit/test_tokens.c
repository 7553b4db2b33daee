/* Unit tests of gateway/tokens.c and gateway/tokencmd.c: parsing and
 * validation of the tokens file, secret and key checks, and the token
 * create / list / revoke commands (atomic rewrite that keeps the rest of
 * the file byte for byte). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gateway/tokencmd.h"
#include "gateway/tokens.h"

#define ED1 "AAAAC3NzaC1lZDI1NTE5AAAAIJTOaExuuzfXtXgfwxuooDHIkj5tO+V8U46GIqpnKTy/"
#define ED2 "AAAAC3NzaC1lZDI1NTE5AAAAIAWgxZpX4zzlc9f3nt+TzbDbSThzxLnu1N5Ftzo1dPa0"
/* a 3072-bit RSA key: the line is far longer than inih's default 200 */
#define RSA "AAAAB3NzaC1yc2EAAAADAQABAAABgQD970nIVzMsg/IjFNIubG7dcMvO7eyYvPioknPged6fpFfQE1vLOwYi" \
	"9zHPmMBU/VMCvRjinsgWDfXhCrkFsQMOkC75JjmkCoNpkzJgN6LqZt+NwL3tFYSlDm34XveyM2vxwmMBFB5R" \
	"xO8myVSAPEDrRWLVW8QYsYf0qDNn/M/EyAgmePFIYwmI1/owNXGnh0uW5SScIL32w1B55DP4TZ31RY2RRbhy" \
	"RO9XkpjunioDH1tASGPoYyVpBvtFcf3pngkmA0/LDPwkrvAuPeBL7CxO3jU6AC+oLLxlJuRJhEvWfh1dfWZ9" \
	"mh+v72YQ3pczwdiPzQa/eFrjtIbZqGvhKsryJlg00ArFUFghb1SCiHxsdlzP/LOaR8gm7t0hzzM+0nuAgNtl" \
	"hs0oWxC6RISaOUvYeSsvodkQU79ESos9/sI4yJv1P5snbbmpwhhnenMeTOezD4Hv1jHgQVsC6jHUDyZp5/JH" \
	"Wx3wGLWzpWYUgKm9V95AF8+UGUs0CH/jbMGdXBk="
#define P521 "AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBACrEmhiXVshCuno9OxkDOqaXKqLGPVB" \
	"VRWRSen41LmR7WxWgK4o5jD2F174ey1o9ElwZUioMuEejBmP3FJGzWn9mQDaKP+szEknHQhJLopfoc2udUpk" \
	"S6HmA/qBW9t0h+2Gnx6WIWL2tkFnsDR2fFXlQm8NmKRu3WBptXSx8gJdpI25Lw=="

/* an arbitrary well-formed hash */
#define H1 "sha256:0a4ec5d2c11a4a2ec1a2dcc1bc2e3e4e0d1bd3e3bc9e5e9f7a1b0e6c0f8d9a10"
static char tmpdir[] = "/tmp/sg-test-tokens.XXXXXX";

static int parse(const char *text, struct sg_tokens **t, char **err)
{
	*t = NULL;
	*err = NULL;
	return sg_tokens_parse("tok.conf", text, strlen(text), t, err);
}

static void expect_error(const char *text, const char *expect)
{
	struct sg_tokens *t;
	char *err;
	int r = parse(text, &t, &err);

	if (r == 0 || !err || strcmp(err, expect) != 0)
		fail_msg("for:\n%s\nexpected: %s\n     got: %s (r=%d)", text, expect,
			 err ? err : "(none)", r);
	assert_null(t);
	free(err);
}

static struct sg_tokens *parse_ok(const char *text)
{
	struct sg_tokens *t;
	char *err;
	int r = parse(text, &t, &err);

	if (r != 0)
		fail_msg("for:\n%s\nunexpected error: %s (r=%d)", text, err ? err : "(none)", r);
	return t;
}

/* "hash = sha256:..." of text, in a static buffer (one at a time). */
static const char *hash_of(const char *text)
{
	static char buf[SG_TOKENS_HASH_FIELD_LEN + 1];

	assert_int_equal(sg_tokens_hash_text(text, buf, sizeof(buf)), 0);
	return buf;
}

static void test_full_token(void **state)
{
	struct sg_tokens *t;
	const struct sg_token *tok;
	char text[4096];

	(void)state;
	snprintf(text, sizeof(text),
		 "# tokens\n"
		 "[ci-bot]\n"
		 "hash = %s\n"
		 "authorized_key = ssh-ed25519 " ED1 " alice@laptop\n"
		 "authorized_key = ssh-rsa " RSA "   ci key  \n"
		 "authorized_key = ecdsa-sha2-nistp521 " P521 "\n"
		 "allow_net = api.openai.com, *.anthropic.com,db.example.com:5432\n"
		 "allow_net = 192.0.2.7, [2001:db8::1]\n"
		 "secret.OPENAI_API_KEY = env:OPENAI_API_KEY\n"
		 "secret.OPENAI_API_KEY.hosts = api.openai.com\n"
		 "secret.GH.hosts = api.github.com, github.com\n"
		 "secret.GH = hunter2 with spaces\n"
		 "secret.GH.allow_http = yes\n"
		 "secret.GH.in = header\n"
		 "secret.CERT = file:/etc/sandgate/cert.pem\n"
		 "image = minimal\n"
		 "memory_mb = 2048\n"
		 "vcpus = 4\n"
		 "max_lifetime = 2h\n"
		 "max_sandboxes = 7\n"
		 "idle_timeout = 15m\n"
		 "\n"
		 "[k_only]\n"
		 "authorized_key = ssh-ed25519 " ED2 "\n",
		 hash_of("secret-one"));
	t = parse_ok(text);
	assert_int_equal(sg_tokens_count(t), 2);
	assert_string_equal(sg_tokens_file(t), "tok.conf");
	tok = sg_tokens_find(t, "ci-bot");
	assert_non_null(tok);
	assert_ptr_equal(tok, sg_tokens_at(t, 0));
	assert_string_equal(sg_tokens_name(tok), "ci-bot");
	assert_int_equal(sg_tokens_line(tok), 2);
	assert_int_equal(sg_tokens_has_hash(tok), 1);
	assert_int_equal(sg_tokens_key_count(tok), 3);
	assert_string_equal(sg_tokens_key_type(tok, 0), "ssh-ed25519");
	assert_string_equal(sg_tokens_key_base64(tok, 0), ED1);
	assert_string_equal(sg_tokens_key_comment(tok, 0), "alice@laptop");
	assert_string_equal(sg_tokens_key_type(tok, 1), "ssh-rsa");
	assert_string_equal(sg_tokens_key_base64(tok, 1), RSA);
	assert_string_equal(sg_tokens_key_comment(tok, 1), "ci key");
	assert_string_equal(sg_tokens_key_comment(tok, 2), "");
	assert_null(sg_tokens_key_type(tok, 3));
	assert_string_equal(sg_tokens_allow_net(tok), "api.openai.com, *.anthropic.com, "
			    "db.example.com:5432, 192.0.2.7, [2001:db8::1]");
	assert_int_equal(sg_tokens_allow_net_count(tok), 5);
	assert_string_equal(sg_tokens_allow_net_at(tok, 2), "db.example.com:5432");
	assert_string_equal(sg_tokens_allow_net_at(tok, 4), "[2001:db8::1]");
	assert_int_equal(sg_tokens_secret_count(tok), 3);
	assert_string_equal(sg_tokens_secret_name(tok, 0), "OPENAI_API_KEY");
	assert_int_equal(sg_tokens_secret_kind(tok, 0), SG_TOKENS_SECRET_ENV);
	assert_string_equal(sg_tokens_secret_source(tok, 0), "OPENAI_API_KEY");
	assert_string_equal(sg_tokens_secret_hosts(tok, 0), "api.openai.com");
	assert_null(sg_tokens_secret_in(tok, 0));
	assert_int_equal(sg_tokens_secret_allow_http(tok, 0), 0);
	assert_string_equal(sg_tokens_secret_name(tok, 1), "GH");
	assert_int_equal(sg_tokens_secret_kind(tok, 1), SG_TOKENS_SECRET_VALUE);
	assert_string_equal(sg_tokens_secret_source(tok, 1), "hunter2 with spaces");
	assert_string_equal(sg_tokens_secret_hosts(tok, 1), "api.github.com, github.com");
	assert_string_equal(sg_tokens_secret_in(tok, 1), "header");
	assert_int_equal(sg_tokens_secret_allow_http(tok, 1), 1);
	assert_int_equal(sg_tokens_secret_kind(tok, 2), SG_TOKENS_SECRET_FILE);
	assert_string_equal(sg_tokens_secret_source(tok, 2), "/etc/sandgate/cert.pem");
	assert_string_equal(sg_tokens_image(tok), "minimal");
	assert_int_equal(sg_tokens_memory_mb(tok), 2048);
	assert_int_equal(sg_tokens_vcpus(tok), 4);
	assert_int_equal(sg_tokens_max_lifetime(tok), 7200);
	assert_int_equal(sg_tokens_max_sandboxes(tok), 7);
	assert_int_equal(sg_tokens_idle_timeout(tok), 900);

	tok = sg_tokens_find(t, "k_only");
	assert_non_null(tok);
	assert_int_equal(sg_tokens_line(tok), 23);
	assert_int_equal(sg_tokens_has_hash(tok), 0);
	assert_null(sg_tokens_image(tok));
	assert_int_equal(sg_tokens_memory_mb(tok), 0);
	assert_int_equal(sg_tokens_vcpus(tok), 0);
	assert_int_equal(sg_tokens_max_lifetime(tok), 0);
	assert_int_equal(sg_tokens_max_sandboxes(tok), 0);
	assert_int_equal(sg_tokens_idle_timeout(tok), 0);
	assert_null(sg_tokens_allow_net(tok));
	assert_int_equal(sg_tokens_allow_net_count(tok), 0);
	assert_null(sg_tokens_find(t, "nope"));
	assert_null(sg_tokens_at(t, 2));

	/* a process that must not hold secret values can drop them */
	sg_tokens_forget_secrets(t);
	tok = sg_tokens_find(t, "ci-bot");
	assert_null(sg_tokens_secret_source(tok, 1));
	assert_string_equal(sg_tokens_secret_source(tok, 0), "OPENAI_API_KEY");
	assert_string_equal(sg_tokens_secret_name(tok, 1), "GH");
	sg_tokens_free(t);
	sg_tokens_free(NULL);
}

static void test_check_secret(void **state)
{
	struct sg_tokens *t;
	const char *name = NULL;
	char text[4096], *tok_text[3], *hash[3];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(sg_tokens_generate(&tok_text[i], &hash[i]), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(strlen(tok_text[i]), SG_TOKENS_TEXT_LEN);
		assert_int_equal(strncmp(tok_text[i], "sg_", 3), 0);
		assert_int_equal(strspn(tok_text[i] + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
					"qrstuvwxyz0123456789-_"), SG_TOKENS_TEXT_LEN - 3);
		assert_int_equal(strlen(hash[i]), SG_TOKENS_HASH_FIELD_LEN);
		assert_string_equal(hash[i], hash_of(tok_text[i]));
	}
	assert_string_not_equal(tok_text[0], tok_text[1]);
	snprintf(text, sizeof(text),
		 "[first]\nhash = %s\n"
		 "[keyonly]\nauthorized_key = ssh-ed25519 " ED1 "\n"
		 "[second]\nhash = %s\n"
		 "[last]\nhash = %s\n",
		 hash[0], hash[1], hash[2]);
	t = parse_ok(text);
	assert_int_equal(sg_tokens_check_secret(t, tok_text[0], &name), 0);
	assert_string_equal(name, "first");
	assert_int_equal(sg_tokens_check_secret(t, tok_text[1], &name), 0);
	assert_string_equal(name, "second");
	assert_int_equal(sg_tokens_check_secret(t, tok_text[2], &name), 0);
	assert_string_equal(name, "last");

	name = "untouched";
	/* wrong token, near miss, empty, a hash typed as the token */
	assert_int_equal(sg_tokens_check_secret(t, "sg_wrong", &name), -EACCES);
	tok_text[0][10] ^= 1;
	assert_int_equal(sg_tokens_check_secret(t, tok_text[0], &name), -EACCES);
	tok_text[0][10] ^= 1;
	assert_int_equal(sg_tokens_check_secret(t, "", &name), -EACCES);
	assert_int_equal(sg_tokens_check_secret(t, hash[0], &name), -EACCES);
	assert_int_equal(sg_tokens_check_secret(t, NULL, &name), -EINVAL);
	{
		char *long_text = malloc(SG_TOKENS_TEXT_MAX + 2);

		assert_non_null(long_text);
		memset(long_text, 'a', SG_TOKENS_TEXT_MAX + 1);
		long_text[SG_TOKENS_TEXT_MAX + 1] = '\0';
		assert_int_equal(sg_tokens_check_secret(t, long_text, &name), -EINVAL);
		free(long_text);
	}
	assert_string_equal(name, "untouched");
	sg_tokens_free(t);

	/* no tokens at all */
	t = parse_ok("");
	assert_int_equal(sg_tokens_count(t), 0);
	assert_int_equal(sg_tokens_check_secret(t, tok_text[0], &name), -EACCES);
	sg_tokens_free(t);
	for (i = 0; i < 3; i++) {
		free(tok_text[i]);
		free(hash[i]);
	}
}

static void test_check_key(void **state)
{
	struct sg_tokens *t;
	const char *name = NULL;

	(void)state;
	t = parse_ok("[alice]\nauthorized_key = ssh-ed25519 " ED1 " a\n"
		     "[ci]\nauthorized_key = ssh-rsa " RSA "\nauthorized_key = ssh-ed25519 " ED2 "\n");
	assert_int_equal(sg_tokens_check_key(t, "ssh-ed25519", ED1, &name), 0);
	assert_string_equal(name, "alice");
	assert_int_equal(sg_tokens_check_key(t, "ssh-ed25519", ED2, &name), 0);
	assert_string_equal(name, "ci");
	assert_int_equal(sg_tokens_check_key(t, "ssh-rsa", RSA, &name), 0);
	assert_string_equal(name, "ci");
	name = "untouched";
	assert_int_equal(sg_tokens_check_key(t, "ssh-rsa", ED1, &name), -ENOENT);
	assert_int_equal(sg_tokens_check_key(t, "ecdsa-sha2-nistp521", P521, &name), -ENOENT);
	assert_int_equal(sg_tokens_check_key(t, "ssh-ed25519", "not base64!", &name), -EINVAL);
	assert_int_equal(sg_tokens_check_key(t, "ssh-ed25519", "", &name), -EINVAL);
	assert_string_equal(name, "untouched");
	sg_tokens_free(t);
}

static void test_errors(void **state)
{
	char text[1024];

	(void)state;
	expect_error("[Bad]\nhash = " H1 "\n",
		     "tok.conf:1: [Bad]: invalid token name: use 1 to 64 of a-z, 0-9, '_' and '-', "
		     "starting with a letter or digit");
	expect_error("[-x]\nhash = " H1 "\n",
		     "tok.conf:1: [-x]: invalid token name: use 1 to 64 of a-z, 0-9, '_' and '-', "
		     "starting with a letter or digit");
	expect_error("[ a ]\nhash = " H1 "\n",
		     "tok.conf:1: [ a ]: invalid token name: use 1 to 64 of a-z, 0-9, '_' and '-', "
		     "starting with a letter or digit");
	/* 65 characters; 64 is fine (and longer than inih's 50-byte section buffer) */
	expect_error("[a1234567890123456789012345678901234567890123456789012345678901234]\n",
		     "tok.conf:1: [a1234567890123456789012345678901234567890123456789012345678901234]: "
		     "invalid token name: use 1 to 64 of a-z, 0-9, '_' and '-', starting with a "
		     "letter or digit");
	{
		struct sg_tokens *t = parse_ok("[a123456789012345678901234567890123456789012345678901234567890123]\n"
					       "hash = " H1 "\n");

		assert_non_null(sg_tokens_find(t, "a123456789012345678901234567890123456789012345678901234567890123"));
		sg_tokens_free(t);
	}
	expect_error("hash = " H1 "\n",
		     "tok.conf:1: hash: key outside of any token: start the token with a [NAME] line");
	expect_error("[a]\nhash = " H1 "\n\n[a]\nimage = x\n",
		     "tok.conf:4: [a]: token written twice (first at line 1): merge the two sections "
		     "or rename one");
	expect_error("[a]\nimage = minimal\n",
		     "tok.conf:1: [a]: the token has neither a hash nor an authorized_key, so nobody "
		     "can use it: add one, or remove the section");
	expect_error("[a]\nhash = " H1 "\n[b]\n",
		     "tok.conf:3: [b]: the token has neither a hash nor an authorized_key, so nobody "
		     "can use it: add one, or remove the section");
	expect_error("[a]\nhash = md5:abc\n",
		     "tok.conf:2: [a] hash = md5:abc: must be \"sha256:\" followed by 64 hex digits "
		     "(sandgatectl token create writes it)");
	expect_error("[a]\nhash = sha256:0a4ec5d2\n",
		     "tok.conf:2: [a] hash = sha256:0a4ec5d2: must be \"sha256:\" followed by 64 hex "
		     "digits (sandgatectl token create writes it)");
	expect_error("[a]\nhash = " H1 "\nhash = " H1 "\n",
		     "tok.conf:3: [a] hash: set twice (first at line 2): keep one");
	expect_error("[a]\nhash = " H1 "\n[b]\nhash = " H1 "\n",
		     "tok.conf:4: [b] hash: the same hash as token [a] (line 2): every token needs "
		     "its own secret");
	expect_error("[a]\nauthorized_key = ssh-dss AAAA\n",
		     "tok.conf:2: [a] authorized_key = ssh-dss AAAA: unknown key type: use one of "
		     "ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, "
		     "ssh-rsa, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com");
	expect_error("[a]\nauthorized_key = from=\"10.0.0.0/8\" ssh-ed25519 " ED1 "\n",
		     "tok.conf:2: [a] authorized_key = from=\"10.0.0.0/8\" ssh-ed25519 "
		     "AAAAC3NzaC1lZDI1NTE5AAAAIJTOaExuuzfXtXgfwxuooDH...: authorized_keys options "
		     "(from=, command=, ...) are not supported: give only \"TYPE BASE64 [COMMENT]\"");
	expect_error("[a]\nauthorized_key = ssh-ed25519\n",
		     "tok.conf:2: [a] authorized_key = ssh-ed25519: the base64 key is missing: paste "
		     "a line of a .pub file, \"TYPE BASE64 [COMMENT]\"");
	expect_error("[a]\nauthorized_key = ssh-ed25519 AAAA!!!! c\n",
		     "tok.conf:2: [a] authorized_key = ssh-ed25519 AAAA!!!! c: the key is not valid "
		     "base64: paste a line of a .pub file, \"TYPE BASE64 [COMMENT]\"");
	expect_error("[a]\nauthorized_key = ssh-rsa " ED1 "\n",
		     "tok.conf:2: [a] authorized_key = ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIJTOaExuuzfX"
		     "tXgfwxuooDHIkj5tO+V8U46GIqpnKTy/: the key data is not a ssh-rsa key (a damaged "
		     "or mismatched line?)");
	expect_error("[a]\nauthorized_key = ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n",
		     "tok.conf:2: [a] authorized_key = ssh-ed25519 AAAAC3NzaC1lZDI1NTE5: the key "
		     "data is not a ssh-ed25519 key (a damaged or mismatched line?)");
	expect_error("[a]\nauthorized_key = ssh-ed25519 " ED1 "\n[b]\nhash = " H1 "\n"
		     "authorized_key = ssh-ed25519 " ED1 " again\n",
		     "tok.conf:5: [b] authorized_key: this key is already listed under token [a] "
		     "(line 2): a key can belong to one token only");
	{
		/* 257 entries over two lines: the bound counts them all */
		char big[8192], *p = big;
		int i;

		p += sprintf(p, "[a]\nhash = %s\nallow_net = ", H1);
		for (i = 0; i < 200; i++)
			p += sprintf(p, "%sh%d.example.com", i ? "," : "", i);
		p += sprintf(p, "\nallow_net = ");
		for (i = 200; i < 257; i++)
			p += sprintf(p, "%sh%d.example.com", i > 200 ? "," : "", i);
		sprintf(p, "\n");
		expect_error(big, "tok.conf:4: [a] allow_net: 257 entries in all; at most 256: "
			     "use wildcards (*.example.com) or CIDR ranges");
	}
	{
		/* 6144 bytes of entries are fine, one more is refused;
		 * 4 lines of 12 entries of 128 bytes */
		char big[8192], *p = big;
		int i;

		p += sprintf(p, "[a]\nhash = %s\n", H1);
		for (i = 0; i < 48; i++)
			p += sprintf(p, "%sh%03d.%059d.%059d.com%s",
			    i % 12 ? "," : "allow_net = ", i, 0, 0, i % 12 == 11 ? "\n" : "");
		sg_tokens_free(parse_ok(big));
		sprintf(p, "allow_net = x\n");
		expect_error(big, "tok.conf:7: [a] allow_net: 6145 bytes of entries in all; at "
			     "most 6144: use wildcards (*.example.com) or CIDR ranges");
	}
	expect_error("[a]\nhash = " H1 "\nallow_net = a.com,,b.com\n",
		     "tok.conf:3: [a] allow_net = a.com,,b.com: entry 2 is empty: remove the extra comma");
	expect_error("[a]\nhash = " H1 "\nallow_net = a.com,\n",
		     "tok.conf:3: [a] allow_net = a.com,: entry 2 is empty: remove the extra comma");
	expect_error("[a]\nhash = " H1 "\nallow_net = a.com b.com\n",
		     "tok.conf:3: [a] allow_net = a.com b.com: entry 1 contains a space: separate "
		     "entries with commas");
	expect_error("[a]\nhash = " H1 "\nallow_net =\n",
		     "tok.conf:3: [a] allow_net: empty value: give a value or remove the line");
	expect_error("[a]\nhash = " H1 "\nimage = Big\n",
		     "tok.conf:3: [a] image = Big: must be an image name: [a-z0-9][a-z0-9._-]{0,63} "
		     "(a folder under image_dir)");
	expect_error("[a]\nhash = " H1 "\nmemory_mb = 99999\n",
		     "tok.conf:3: [a] memory_mb = 99999: must be between 768 and 4096");
	expect_error("[a]\nhash = " H1 "\nvcpus = many\n",
		     "tok.conf:3: [a] vcpus = many: must be a whole number between 1 and 64");
	expect_error("[a]\nhash = " H1 "\nmax_sandboxes = 0\n",
		     "tok.conf:3: [a] max_sandboxes = 0: must be between 1 and 1000");
	expect_error("[a]\nhash = " H1 "\nmax_lifetime = 30 min\n",
		     "tok.conf:3: [a] max_lifetime = 30 min: must be a duration: a number with a "
		     "unit s, m, h or d, or several from the largest unit down (e.g. 30s, 10m, "
		     "1h30m, 2d), or seconds alone");
	/* the composite form */
	{
		struct sg_tokens *t = NULL;
		char *err = NULL;
		const char *f = "[a]\nhash = " H1 "\nmax_lifetime = 1h30m\n";

		assert_int_equal(sg_tokens_parse("tok.conf", f, strlen(f), &t, &err), 0);
		assert_int_equal(sg_tokens_max_lifetime(sg_tokens_at(t, 0)), 5400);
		sg_tokens_free(t);
	}
	expect_error("[a]\nhash = " H1 "\nidle_timeout = 0\n",
		     "tok.conf:3: [a] idle_timeout = 0: must be between 1s and 365d");
	expect_error("[a]\nhash = " H1 "\nvcpus = 2\nvcpus = 2\n",
		     "tok.conf:4: [a] vcpus: set twice (first at line 3): keep one");
	expect_error("[a]\nhash = " H1 "\nmemroy_mb = 2048\n",
		     "tok.conf:3: [a] memroy_mb: unknown key (token keys: hash, authorized_key, "
		     "allow_net, secret.NAME, secret.NAME.hosts, secret.NAME.in, "
		     "secret.NAME.allow_http, image, memory_mb, vcpus, max_lifetime, max_sandboxes, "
		     "idle_timeout, hibernate_after)");
	expect_error("[a]\nhash = " H1 "\nnot a key\n",
		     "tok.conf:3: cannot parse this line: expected [section], key = value, or a comment");

	/* secrets: the value never appears in a message */
	expect_error("[a]\nhash = " H1 "\nsecret.K = hunter2-long\nsecret.K = hunter3-long\n",
		     "tok.conf:4: [a] secret.K: set twice (first at line 3): keep one");
	expect_error("[a]\nhash = " H1 "\nsecret.1K = hunter2\n",
		     "tok.conf:3: [a] secret.1K: invalid secret name: use 1 to 64 of A-Z, a-z, 0-9 "
		     "and '_', not starting with a digit");
	expect_error("[a]\nhash = " H1 "\nsecret.K-2 = hunter2\n",
		     "tok.conf:3: [a] secret.K-2: invalid secret name: use 1 to 64 of A-Z, a-z, 0-9 "
		     "and '_', not starting with a digit");
	/* a value too short to keep out of responses; it is not shown */
	expect_error("[a]\nhash = " H1 "\nsecret.K = hunter2\n",
		     "tok.conf:3: [a] secret.K: the value is shorter than 8 bytes, which the "
		     "proxy could not tell from ordinary text in responses: give the whole "
		     "credential");
	expect_error("[a]\nhash = " H1 "\nsecret.K =\n",
		     "tok.conf:3: [a] secret.K: empty value: give a value or remove the line");
	expect_error("[a]\nhash = " H1 "\nsecret.K = env:\n",
		     "tok.conf:3: [a] secret.K: env: must be followed by an environment variable name");
	expect_error("[a]\nhash = " H1 "\nsecret.K = file:relative\n",
		     "tok.conf:3: [a] secret.K: file: must be followed by an absolute path");
	expect_error("[a]\nhash = " H1 "\nsecret.K = v-long-value\nsecret.K.host = x.com\n",
		     "tok.conf:4: [a] secret.K.host: unknown secret attribute: use secret.K.hosts, "
		     ".in or .allow_http");
	{
		/* 64 secrets are fine, a 65th is refused; attributes of one
		 * already named are not another secret */
		char big[8192], *p = big;
		int i;

		p += sprintf(p, "[a]\nhash = %s\n", H1);
		for (i = 0; i < 64; i++)
			p += sprintf(p, "secret.S%d = value-%02d-long\n", i, i);
		p += sprintf(p, "secret.S0.hosts = a.com\n");
		{
			struct sg_tokens *t = parse_ok(big);

			assert_int_equal(sg_tokens_secret_count(sg_tokens_find(t, "a")), 64);
			sg_tokens_free(t);
		}
		sprintf(p, "secret.S64 = value-64-long\n");
		expect_error(big, "tok.conf:68: [a] secret.S64: more than 64 secrets in one "
			     "token: give the others to another token");
	}
	expect_error("[a]\nhash = " H1 "\nsecret.PATH = v\n",
		     "tok.conf:3: [a] secret.PATH: PATH is set by sandgate in every sandbox: "
		     "name the secret otherwise");
	expect_error("[a]\nhash = " H1 "\nsecret.K = v-long-value\nsecret.K.in = header, cookie\n",
		     "tok.conf:4: [a] secret.K.in = header, cookie: lists where the placeholder "
		     "is replaced: header, query, body");
	expect_error("[a]\nhash = " H1 "\nsecret.K = v-long-value\nsecret.K.hosts = a..com\n",
		     "tok.conf:4: [a] secret.K.hosts = a..com: allow_net entry 'a..com': "
		     "empty label; write names like api.example.com");
	expect_error("[a]\nhash = " H1 "\nsecret.K = v-long-value\nsecret.K.allow_http = maybe\n",
		     "tok.conf:4: [a] secret.K.allow_http = maybe: must be yes or no");
	expect_error("[a]\nhash = " H1 "\nsecret.K = v-long-value\nsecret.K.hosts = a.com\nsecret.K.hosts = b.com\n",
		     "tok.conf:5: [a] secret.K.hosts = b.com: set twice (first at line 4): keep one");
	expect_error("[a]\nhash = " H1 "\nsecret.K.in = header\nsecret.K.hosts = a.com\n",
		     "tok.conf:3: [a] secret.K: attributes are set but the secret itself is not: add "
		     "secret.K = VALUE, env:VAR or file:PATH");
	/* long key names are not cut (inih's own buffer holds 49 bytes) */
	snprintf(text, sizeof(text), "[a]\nhash = " H1 "\nsecret.%s = v-long-value\nsecret.%s.allow_http = yes\n",
		 "A_VERY_LONG_SECRET_NAME_OF_FIFTY_CHARACTERS_XXXXXX",
		 "A_VERY_LONG_SECRET_NAME_OF_FIFTY_CHARACTERS_XXXXXX");
	{
		struct sg_tokens *t = parse_ok(text);
		const struct sg_token *tok = sg_tokens_find(t, "a");

		assert_int_equal(sg_tokens_secret_count(tok), 1);
		assert_string_equal(sg_tokens_secret_name(tok, 0),
				    "A_VERY_LONG_SECRET_NAME_OF_FIFTY_CHARACTERS_XXXXXX");
		assert_int_equal(sg_tokens_secret_allow_http(tok, 0), 1);
		sg_tokens_free(t);
	}
}

/* ---- token create / list / revoke ---- */

/* Runs sg_tokencmd_main with stdout captured into *out (may be NULL). */
static int run(const char *path, char **out, int argc, ...)
{
	char *argv[8], outpath[256];
	va_list ap;
	int i, saved, fd, rc;
	FILE *f;

	va_start(ap, argc);
	for (i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	argv[argc] = NULL;
	va_end(ap);
	snprintf(outpath, sizeof(outpath), "%s/stdout", tmpdir);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(outpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	rc = sg_tokencmd_main(path, argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	if (out) {
		size_t cap = 0;
		ssize_t n;

		*out = NULL;
		f = fopen(outpath, "re");
		assert_non_null(f);
		n = getdelim(out, &cap, '\0', f);
		if (n < 0) {
			free(*out);
			*out = strdup("");
		}
		fclose(f);
	}
	unlink(outpath);
	return rc;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	if (getdelim(&s, &cap, '\0', f) < 0) {
		free(s);
		s = strdup("");
	}
	fclose(f);
	return s;
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_create_roundtrip(void **state)
{
	char path[512], dir[256], *out = NULL, *out2 = NULL, *content, *err = NULL;
	struct sg_tokens *t = NULL;
	const char *name = NULL;
	struct stat st;

	(void)state;
	/* neither the file nor its directory exist yet */
	snprintf(dir, sizeof(dir), "%s/etc/sandgate", tmpdir);
	snprintf(path, sizeof(path), "%s/tokens.conf", dir);
	assert_int_equal(run(path, &out, 2, "create", "demo"), 0);
	assert_int_equal(strlen(out), SG_TOKENS_TEXT_LEN + 1);   /* only the token and \n */
	assert_int_equal(out[SG_TOKENS_TEXT_LEN], '\n');
	out[SG_TOKENS_TEXT_LEN] = '\0';
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	assert_int_equal(sg_tokens_load(path, &t, &err), 0);
	assert_int_equal(sg_tokens_count(t), 1);
	assert_int_equal(sg_tokens_check_secret(t, out, &name), 0);
	assert_string_equal(name, "demo");
	sg_tokens_free(t);
	/* the file holds the hash, never the token */
	content = slurp(path);
	assert_null(strstr(content, out));
	assert_non_null(strstr(content, "[demo]\nhash = sha256:"));
	free(content);

	/* a second token; both work */
	assert_int_equal(run(path, &out2, 2, "create", "second_one"), 0);
	out2[SG_TOKENS_TEXT_LEN] = '\0';
	assert_string_not_equal(out, out2);
	assert_int_equal(sg_tokens_load(path, &t, &err), 0);
	assert_int_equal(sg_tokens_check_secret(t, out, &name), 0);
	assert_string_equal(name, "demo");
	assert_int_equal(sg_tokens_check_secret(t, out2, &name), 0);
	assert_string_equal(name, "second_one");
	sg_tokens_free(t);
	free(out2);
	out2 = NULL;

	/* existing and invalid names fail; nothing on stdout; file unchanged */
	content = slurp(path);
	assert_int_equal(run(path, &out2, 2, "create", "demo"), 1);
	assert_string_equal(out2, "");
	free(out2);
	assert_int_equal(run(path, &out2, 2, "create", "Bad Name"), 1);
	assert_string_equal(out2, "");
	free(out2);
	{
		char *now = slurp(path);

		assert_string_equal(now, content);
		free(now);
	}
	free(content);

	/* usage errors */
	assert_int_equal(run(path, NULL, 1, "create"), 2);
	assert_int_equal(run(path, NULL, 3, "create", "a", "b"), 2);
	assert_int_equal(run(path, NULL, 1, "frobnicate"), 2);
	assert_int_equal(run(path, NULL, 0), 2);
	assert_int_equal(run(path, NULL, 2, "list", "x"), 2);

	/* revoke: the token stops working, the other stays */
	assert_int_equal(run(path, NULL, 2, "revoke", "demo"), 0);
	assert_int_equal(sg_tokens_load(path, &t, &err), 0);
	assert_int_equal(sg_tokens_count(t), 1);
	assert_int_equal(sg_tokens_check_secret(t, out, &name), -EACCES);
	assert_non_null(sg_tokens_find(t, "second_one"));
	sg_tokens_free(t);
	assert_int_equal(run(path, NULL, 2, "revoke", "demo"), 1);
	free(out);

	unlink(path);
	rmdir(dir);
	snprintf(dir, sizeof(dir), "%s/etc", tmpdir);
	rmdir(dir);
}

static void test_revoke_keeps_the_rest(void **state)
{
	static const char before[] =
		"# sandgate tokens, maintained by hand\n"
		"; and by sandgatectl\n"
		"\n"
		"[first]\n"
		"hash = " H1 "   ; inline comment\n"
		"   image = minimal\n"
		"\n"
		"# the CI bot\n"
		"# (two comment lines)\n"
		"[ci]\n"
		"authorized_key = ssh-ed25519 " ED1 " ci@example\n"
		"allow_net = api.openai.com\n"
		"\n"
		"\n"
		"# alice's laptop\n"
		"[alice]\n"
		"authorized_key = ssh-ed25519 " ED2 "\n"
		"# trailing comment of alice\n"
		"\n"
		"[last]\n"
		"hash = sha256:1111111111111111111111111111111111111111111111111111111111111111\n";
	char path[256], *now, *out = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/tokens.conf", tmpdir);
	put(path, before);

	assert_int_equal(run(path, &out, 1, "list"), 0);
	assert_string_equal(out, "first\t0\tminimal\t-\n"
			    "ci\t1\t-\tapi.openai.com\n"
			    "alice\t1\t-\t-\n"
			    "last\t0\t-\t-\n");
	free(out);

	/* a middle section goes with its own comments, not its neighbours' */
	assert_int_equal(run(path, NULL, 2, "revoke", "ci"), 0);
	now = slurp(path);
	assert_string_equal(now,
		"# sandgate tokens, maintained by hand\n"
		"; and by sandgatectl\n"
		"\n"
		"[first]\n"
		"hash = " H1 "   ; inline comment\n"
		"   image = minimal\n"
		"\n"
		"# alice's laptop\n"
		"[alice]\n"
		"authorized_key = ssh-ed25519 " ED2 "\n"
		"# trailing comment of alice\n"
		"\n"
		"[last]\n"
		"hash = sha256:1111111111111111111111111111111111111111111111111111111111111111\n");
	free(now);

	/* the last section, with the blank lines before it */
	assert_int_equal(run(path, NULL, 2, "revoke", "last"), 0);
	now = slurp(path);
	assert_string_equal(now,
		"# sandgate tokens, maintained by hand\n"
		"; and by sandgatectl\n"
		"\n"
		"[first]\n"
		"hash = " H1 "   ; inline comment\n"
		"   image = minimal\n"
		"\n"
		"# alice's laptop\n"
		"[alice]\n"
		"authorized_key = ssh-ed25519 " ED2 "\n"
		"# trailing comment of alice\n");
	free(now);

	/* the first section; the file's header comment stays */
	assert_int_equal(run(path, NULL, 2, "revoke", "first"), 0);
	now = slurp(path);
	assert_string_equal(now,
		"# sandgate tokens, maintained by hand\n"
		"; and by sandgatectl\n"
		"\n"
		"# alice's laptop\n"
		"[alice]\n"
		"authorized_key = ssh-ed25519 " ED2 "\n"
		"# trailing comment of alice\n");
	free(now);

	/* unknown name: exit 1, nothing changes */
	assert_int_equal(run(path, NULL, 2, "revoke", "nobody"), 1);
	now = slurp(path);
	assert_non_null(strstr(now, "[alice]"));
	free(now);

	/* create appends after a blank line and keeps everything else */
	assert_int_equal(run(path, &out, 2, "create", "bob"), 0);
	free(out);
	now = slurp(path);
	{
		static const char prefix[] =
			"# sandgate tokens, maintained by hand\n"
			"; and by sandgatectl\n"
			"\n"
			"# alice's laptop\n"
			"[alice]\n"
			"authorized_key = ssh-ed25519 " ED2 "\n"
			"# trailing comment of alice\n"
			"\n"
			"# created by sandgatectl on ";

		assert_int_equal(strncmp(now, prefix, strlen(prefix)), 0);
	}
	assert_non_null(strstr(now, "Z\n[bob]\nhash = sha256:"));
	free(now);

	/* create then revoke gives back the same bytes */
	now = slurp(path);
	assert_int_equal(run(path, &out, 2, "create", "tmp"), 0);
	free(out);
	assert_int_equal(run(path, NULL, 2, "revoke", "tmp"), 0);
	{
		char *again = slurp(path);

		assert_string_equal(again, now);
		free(again);
	}
	free(now);
	unlink(path);
}

static void test_create_edge_cases(void **state)
{
	char path[256], *now, *out = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/tokens.conf", tmpdir);

	/* no newline at the end of the file: one is added, nothing else moves */
	put(path, "[a]\nhash = " H1);
	assert_int_equal(run(path, &out, 2, "create", "b"), 0);
	free(out);
	now = slurp(path);
	assert_int_equal(strncmp(now, "[a]\nhash = " H1 "\n\n# created by sandgatectl on ",
				 strlen("[a]\nhash = " H1 "\n\n# created by sandgatectl on ")), 0);
	free(now);

	/* a broken file is never rewritten */
	put(path, "[a]\nhash = " H1 "\nvcpus = 999\n");
	assert_int_equal(run(path, &out, 2, "create", "c"), 1);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(run(path, NULL, 2, "revoke", "a"), 1);
	now = slurp(path);
	assert_string_equal(now, "[a]\nhash = " H1 "\nvcpus = 999\n");
	free(now);
	/* and list reports it */
	assert_int_equal(run(path, &out, 1, "list"), 1);
	assert_string_equal(out, "");
	free(out);

	/* revoking the only token leaves an empty, valid file */
	put(path, "[a]\nhash = " H1 "\n");
	assert_int_equal(run(path, NULL, 2, "revoke", "a"), 0);
	now = slurp(path);
	assert_string_equal(now, "");
	free(now);
	unlink(path);

	/* list without a file: nothing, success */
	assert_int_equal(run(path, &out, 1, "list"), 0);
	assert_string_equal(out, "");
	free(out);
	/* revoke without a file */
	assert_int_equal(run(path, NULL, 2, "revoke", "a"), 1);

	/* a symbolic link is followed, not replaced */
	{
		char target[256];
		struct stat st;

		snprintf(target, sizeof(target), "%s/real.conf", tmpdir);
		put(target, "[a]\nhash = " H1 "\n");
		assert_int_equal(symlink(target, path), 0);
		assert_int_equal(run(path, &out, 2, "create", "b"), 0);
		free(out);
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISLNK(st.st_mode));
		now = slurp(target);
		assert_non_null(strstr(now, "[b]\nhash = sha256:"));
		free(now);
		unlink(target);
		unlink(path);
	}
}

static void test_load_checks(void **state)
{
	char path[256], *err = NULL;
	struct sg_tokens *t = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/tokens.conf", tmpdir);
	assert_int_equal(sg_tokens_load(path, &t, &err), -ENOENT);
	assert_non_null(err);
	free(err);
	err = NULL;
	put(path, "[a]\nhash = " H1 "\n");
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(sg_tokens_load(path, &t, &err), -EACCES);
	assert_non_null(strstr(err, "writable by group or others"));
	free(err);
	err = NULL;
	assert_int_equal(chmod(path, 0600), 0);
	put(path, "[a]\nhash = " H1 "\nmemory_mb = 1\n");
	assert_int_equal(sg_tokens_load(path, &t, &err), -EINVAL);
	{
		char expect[512];

		snprintf(expect, sizeof(expect), "%s:3: [a] memory_mb = 1: must be between 768 and 4096",
			 path);
		assert_string_equal(err, expect);
	}
	free(err);
	err = NULL;
	/* literal values: the owner alone may read the file (as sshd wants
	 * of private keys); values from env: and file: do not count */
	put(path, "[a]\nhash = " H1 "\nsecret.K = sk-literal-value\n");
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(sg_tokens_load(path, &t, &err), -EACCES);
	{
		char expect[1024];

		snprintf(expect, sizeof(expect), "%s:3: [a] secret.K: refusing the file: it holds "
			 "secret values and others can read it (mode 644): run chmod 600 %s, or give "
			 "the values as env:VAR or file:PATH", path, path);
		assert_string_equal(err, expect);
		assert_null(strstr(err, "sk-literal-value"));
	}
	assert_null(t);
	free(err);
	err = NULL;
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(sg_tokens_load(path, &t, &err), -EACCES);
	free(err);
	err = NULL;
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(sg_tokens_load(path, &t, &err), 0);
	sg_tokens_free(t);
	t = NULL;
	put(path, "[a]\nhash = " H1 "\nsecret.K = env:SOME_VAR\n");
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(sg_tokens_load(path, &t, &err), 0);
	sg_tokens_free(t);
	unlink(path);
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
		cmocka_unit_test(test_full_token),
		cmocka_unit_test(test_check_secret),
		cmocka_unit_test(test_check_key),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_create_roundtrip),
		cmocka_unit_test(test_revoke_keeps_the_rest),
		cmocka_unit_test(test_create_edge_cases),
		cmocka_unit_test(test_load_checks),
	};

	umask(022);
	return cmocka_run_group_tests(tests, setup, teardown);
}
