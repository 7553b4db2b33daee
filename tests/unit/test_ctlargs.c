/* Unit tests for gateway/ctlargs.c: the control interface's word
 * splitting (quotes, escapes, limits, control bytes) and its commands and
 * options, including every bad input docs/control.md names. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/ctlargs.h"

static size_t
split(const char *line, char ***argv)
{
	char *err = NULL;
	size_t n = 0;
	int r = sg_ctla_split(line, strlen(line), argv, &n, &err);

	if (r != 0)
		print_error("split '%s': %s\n", line, err ? err : "?");
	assert_int_equal(r, 0);
	assert_null(err);
	return n;
}

static void
split_fails(const char *line, size_t len, const char *want)
{
	char **argv = NULL, *err = NULL;
	size_t n = 0;

	assert_int_equal(sg_ctla_split(line, len, &argv, &n, &err), -EINVAL);
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		print_error("message '%s' lacks '%s'\n", err, want);
	assert_non_null(strstr(err, want));
	free(err);
}

static void
test_split(void **state)
{
	char **v;
	size_t n;
	(void)state;

	n = split("  ls   --json ", &v);
	assert_int_equal(n, 2);
	assert_string_equal(v[0], "ls");
	assert_string_equal(v[1], "--json");
	assert_null(v[2]);
	sg_ctla_free_words(v, n);

	n = split("create 'a b' \"c \\\"d\\\" \\$e\" f\\ g '' x'y'z", &v);
	assert_int_equal(n, 6);
	assert_string_equal(v[1], "a b");
	assert_string_equal(v[2], "c \"d\" $e");
	assert_string_equal(v[3], "f g");
	assert_string_equal(v[4], "");
	assert_string_equal(v[5], "xyz");
	sg_ctla_free_words(v, n);

	/* metacharacters are plain bytes: nothing runs */
	n = split("kill $(reboot);rm\t-rf|x>y `id`", &v);
	assert_int_equal(n, 4);
	assert_string_equal(v[1], "$(reboot);rm");
	assert_string_equal(v[2], "-rf|x>y");
	assert_string_equal(v[3], "`id`");
	sg_ctla_free_words(v, n);

	n = split("", &v);
	assert_int_equal(n, 0);
	sg_ctla_free_words(v, n);

	n = split("'it''s' \"a\\b\"", &v);
	assert_int_equal(n, 2);
	assert_string_equal(v[0], "its");
	assert_string_equal(v[1], "a\\b");
	sg_ctla_free_words(v, n);
}

static void
test_split_bad(void **state)
{
	char big[SG_CTLA_LINE_MAX + 2], word[SG_CTLA_WORD_MAX + 8];
	char many[SG_CTLA_WORDS_MAX * 2 + 8];
	size_t i;
	(void)state;

	split_fails("ls 'oops", 8, "unfinished single quote");
	split_fails("ls \"oops", 8, "unfinished double quote");
	split_fails("ls \\", 4, "backslash");
	split_fails("ls \x01", 4, "control bytes");
	split_fails("ls a\x7f", 5, "0x7f");
	split_fails("ls \0x", 5, "0x00");
	split_fails("ls '\x1b[2J'", 8, "control bytes");
	split_fails("ls 'a\tb'", 8, "control bytes");
	split_fails("ls \"a\nb\"", 8, "control bytes");
	memset(big, 'a', sizeof(big));
	split_fails(big, SG_CTLA_LINE_MAX + 1, "longer than 8192");
	memset(word, 'a', sizeof(word));
	split_fails(word, SG_CTLA_WORD_MAX + 1, "longer than 2048");
	for (i = 0; i < SG_CTLA_WORDS_MAX + 1; i++) {
		many[2 * i] = 'a';
		many[2 * i + 1] = ' ';
	}
	split_fails(many, 2 * (SG_CTLA_WORDS_MAX + 1), "more than 128 words");
}

static struct sg_ctla *
parse(const char *line, int root)
{
	struct sg_ctla *q = NULL;
	char **v, *err = NULL;
	size_t n = split(line, &v);
	int r = sg_ctla_parse(n, v, root, &q, &err);

	if (r != 0)
		print_error("parse '%s': %s\n", line, err ? err : "?");
	assert_int_equal(r, 0);
	sg_ctla_free_words(v, n);
	return q;
}

static void
parse_fails(const char *line, int root, const char *want)
{
	struct sg_ctla *q = NULL;
	char **v, *err = NULL;
	size_t n = split(line, &v);

	assert_int_equal(sg_ctla_parse(n, v, root, &q, &err), -EINVAL);
	assert_null(q);
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		print_error("'%s': message '%s' lacks '%s'\n", line, err, want);
	assert_non_null(strstr(err, want));
	free(err);
	sg_ctla_free_words(v, n);
}

static void
test_parse(void **state)
{
	struct sg_ctla *q;
	(void)state;

	q = parse("ls --json", 0);
	assert_int_equal(q->cmd, SG_CTLA_LS);
	assert_int_equal(q->json, 1);
	sg_ctla_free(q);

	q = parse("create web --image default --memory=1024 --vcpus 2 "
	    "--lifetime 2h --idle-timeout 90s --allow-net 'a.test:443, *.b.test' "
	    "--allow-net c.test --secret K1,K2 --env A=1 --env 'B=x y' --json", 0);
	assert_int_equal(q->cmd, SG_CTLA_CREATE);
	assert_string_equal(q->name, "web");
	assert_string_equal(q->image, "default");
	assert_int_equal(q->memory_mb, 1024);
	assert_int_equal(q->vcpus, 2);
	assert_int_equal(q->has_lifetime, 1);
	assert_int_equal(q->lifetime_s, 7200);
	assert_int_equal(q->idle_s, 90);
	assert_int_equal(q->nallow, 3);
	assert_string_equal(q->allow[1], "*.b.test");
	assert_int_equal(q->nsecrets, 2);
	assert_int_equal(q->nenv, 2);
	assert_string_equal(q->env[1], "B=x y");
	assert_int_equal(q->json, 1);
	sg_ctla_free(q);

	q = parse("create x --secret ''", 0);
	assert_int_equal(q->has_secrets, 1);
	assert_int_equal(q->nsecrets, 0);
	assert_int_equal(q->has_allow, 0);
	sg_ctla_free(q);

	q = parse("extend web 30m", 0);
	assert_int_equal(q->duration_s, 1800);
	sg_ctla_free(q);

	q = parse("kill 0123456789ab", 1);
	assert_string_equal(q->name, "0123456789ab");
	sg_ctla_free(q);
	q = parse("kill --token ci", 1);
	assert_null(q->name);
	assert_string_equal(q->token, "ci");
	sg_ctla_free(q);
	q = parse("create w --token ci", 1);
	sg_ctla_free(q);
	q = parse("help", 0);
	sg_ctla_free(q);
}

static void
test_parse_bad(void **state)
{
	(void)state;

	parse_fails("frobnicate", 0, "unknown command 'frobnicate'");
	parse_fails("ls --all", 0, "unknown option '--all'");
	parse_fails("ls --token ci", 0, "unknown option '--token'");
	parse_fails("ls extra", 0, "usage: ls");
	parse_fails("create", 0, "usage: create NAME");
	parse_fails("create Web", 0, "not a sandbox name");
	parse_fails("create sandbox", 0, "not a sandbox name");
	parse_fails("create my_box", 0, "not a sandbox name");
	parse_fails("create a23456789012345678901234567890123", 0, "not a sandbox name");
	parse_fails("create 'a;reboot'", 0, "not a sandbox name");
	parse_fails("info -x", 0, "unknown option");
	parse_fails("create w --memory lots", 0, "--memory 'lots'");
	parse_fails("create w --memory", 0, "--memory needs a value");
	parse_fails("create w --vcpus 0", 0, "--vcpus '0'");
	parse_fails("create w --lifetime forever", 0, "--lifetime 'forever'");
	parse_fails("create w --lifetime 0", 0, "--lifetime '0'");
	parse_fails("create w --allow-net 'foo..com'", 0, "--allow-net");
	parse_fails("create w --secret 'a b'", 0, "not a secret name");
	parse_fails("create w --env NOEQUALS", 0, "KEY=VALUE");
	parse_fails("create w --env 1A=x", 0, "KEY=VALUE");
	parse_fails("create w --env SANDGATE_X=1", 0, "set by sandgate");
	parse_fails("create w --image ../etc", 0, "not an image name");
	parse_fails("extend w", 0, "usage: extend");
	parse_fails("extend w soon", 0, "'soon'");
	parse_fails("kill", 0, "usage: kill");
	parse_fails("kill --token ci", 0, "unknown option");
	parse_fails("create w", 1, "--token T");
	parse_fails("info w --json --json x", 0, "usage: info");
}

static void
test_snapshot(void **state)
{
	struct sg_ctla *q;
	(void)state;

	q = parse("snapshot web with-deps --json", 0);
	assert_int_equal(q->cmd, SG_CTLA_SNAPSHOT);
	assert_string_equal(q->name, "web");
	assert_string_equal(q->snap, "with-deps");
	assert_int_equal(q->json, 1);
	sg_ctla_free(q);
	q = parse("snapshot ls", 0);
	assert_int_equal(q->cmd, SG_CTLA_SNAPSHOT_LS);
	assert_null(q->name);
	sg_ctla_free(q);
	q = parse("snapshot rm s1", 0);
	assert_int_equal(q->cmd, SG_CTLA_SNAPSHOT_RM);
	assert_string_equal(q->snap, "s1");
	assert_null(q->name);
	sg_ctla_free(q);
	/* a sandbox named ls is snapshotted: two words after it */
	q = parse("snapshot ls s1", 0);
	assert_int_equal(q->cmd, SG_CTLA_SNAPSHOT);
	assert_string_equal(q->name, "ls");
	sg_ctla_free(q);
	q = parse("snapshot 0123456789ab s1 --token ci", 1);
	assert_string_equal(q->name, "0123456789ab");
	assert_string_equal(q->token, "ci");
	sg_ctla_free(q);
	q = parse("snapshot rm s1 --token ci", 1);
	assert_string_equal(q->token, "ci");
	sg_ctla_free(q);
	q = parse("create w --snapshot with-deps", 0);
	assert_string_equal(q->from_snap, "with-deps");
	assert_null(q->image);
	sg_ctla_free(q);

	parse_fails("snapshot", 0, "usage: snapshot NAME SNAP");
	parse_fails("snapshot web", 0, "usage: snapshot NAME SNAP");
	parse_fails("snapshot rm", 0, "usage: snapshot NAME SNAP");
	parse_fails("snapshot ls extra more", 0, "usage");
	parse_fails("snapshot web Bad_Name", 0, "'Bad_Name' is not a snapshot name");
	parse_fails("snapshot web a23456789012345678901234567890123", 0, "not a snapshot name");
	parse_fails("snapshot rm ../x", 0, "not a snapshot name");
	parse_fails("snapshot Web s1", 0, "not a sandbox name");
	parse_fails("snapshot ls --token ci", 0, "unknown option '--token'");
	parse_fails("snapshot web s1 --image x", 0, "unknown option '--image'");
	parse_fails("create w --snapshot 'a b'", 0, "--snapshot 'a b'");
	parse_fails("create w --snapshot s1 --image default", 0, "--image and --snapshot");
}

static void
test_volume(void **state)
{
	struct sg_ctla *q;
	uint64_t b = 0;
	(void)state;

	q = parse("volume create data 10G --json", 0);
	assert_int_equal(q->cmd, SG_CTLA_VOLUME_CREATE);
	assert_string_equal(q->vol, "data");
	assert_true(q->vol_bytes == 10ull << 30);
	assert_null(q->from_snap);
	assert_int_equal(q->json, 1);
	sg_ctla_free(q);
	q = parse("volume create deps 512M --from with-deps", 0);
	assert_true(q->vol_bytes == 512ull << 20);
	assert_string_equal(q->from_snap, "with-deps");
	sg_ctla_free(q);
	q = parse("volume create deps 2 --token ci --from=s1", 1);
	assert_true(q->vol_bytes == 2ull << 30);
	assert_string_equal(q->token, "ci");
	sg_ctla_free(q);
	q = parse("volume ls", 0);
	assert_int_equal(q->cmd, SG_CTLA_VOLUME_LS);
	assert_null(q->vol);
	sg_ctla_free(q);
	q = parse("volume rm data --token ci", 1);
	assert_int_equal(q->cmd, SG_CTLA_VOLUME_RM);
	assert_string_equal(q->vol, "data");
	sg_ctla_free(q);
	q = parse("create w --volume data:/data --volume deps:/root/deps:ro "
	    "--volume=x:/srv/x:rw", 0);
	assert_int_equal(q->nvols, 3);
	assert_string_equal(q->vols[0].name, "data");
	assert_string_equal(q->vols[0].path, "/data");
	assert_int_equal(q->vols[0].ro, 0);
	assert_string_equal(q->vols[1].path, "/root/deps");
	assert_int_equal(q->vols[1].ro, 1);
	assert_int_equal(q->vols[2].ro, 0);
	sg_ctla_free(q);

	assert_int_equal(sg_ctla_parse_size("1TiB", &b), 0);
	assert_true(b == 1ull << 40);
	assert_int_equal(sg_ctla_parse_size("16M", &b), 0);
	assert_int_equal(sg_ctla_parse_size("15M", &b), -EINVAL);
	assert_int_equal(sg_ctla_parse_size("0", &b), -EINVAL);
	assert_int_equal(sg_ctla_parse_size("17T", &b), -EINVAL);
	assert_int_equal(sg_ctla_parse_size("99999999999999999999G", &b), -EINVAL);
	assert_int_equal(sg_ctla_parse_size("1.5G", &b), -EINVAL);
	assert_int_equal(sg_ctla_parse_size("-1G", &b), -EINVAL);
	assert_int_equal(sg_ctla_parse_size("G", &b), -EINVAL);
	assert_int_equal(sg_ctla_parse_size("10g", &b), -EINVAL);
	assert_int_equal(sg_ctla_valid_mount("/data"), 1);
	assert_int_equal(sg_ctla_valid_mount("/root/a.b/c-d@e+f"), 1);
	assert_int_equal(sg_ctla_valid_mount("/usrdata"), 1);
	assert_int_equal(sg_ctla_valid_mount("/var/lib/x"), 1);
	assert_int_equal(sg_ctla_valid_mount("/"), 0);
	assert_int_equal(sg_ctla_valid_mount("/etc"), 0);
	assert_int_equal(sg_ctla_valid_mount("/usr/local"), 0);
	assert_int_equal(sg_ctla_valid_mount("/proc/1"), 0);
	assert_int_equal(sg_ctla_valid_mount("/data/"), 0);
	assert_int_equal(sg_ctla_valid_mount("/data//x"), 0);
	assert_int_equal(sg_ctla_valid_mount("/data/../etc"), 0);
	assert_int_equal(sg_ctla_valid_mount("/data/."), 0);
	assert_int_equal(sg_ctla_valid_mount("data"), 0);
	assert_int_equal(sg_ctla_valid_mount("/a b"), 0);
	assert_int_equal(sg_ctla_valid_mount("/a:b"), 0);

	parse_fails("volume", 0, "usage: volume create VOL SIZE");
	parse_fails("volume create data", 0, "usage: volume create");
	parse_fails("volume create data 10G extra", 0, "unexpected argument");
	parse_fails("volume rm", 0, "usage: volume create");
	parse_fails("volume data", 0, "usage");
	parse_fails("volume create Data 1G", 0, "'Data' is not a volume name");
	parse_fails("volume rm ../x", 0, "not a volume name");
	parse_fails("volume create data 10X", 0, "size '10X'");
	parse_fails("volume create data 8M", 0, "from 16M to 16T");
	parse_fails("volume create data 1G --from 'a b'", 0, "--from 'a b'");
	parse_fails("volume ls --from s1", 0, "--from is for volume create");
	parse_fails("volume rm data --from s1", 0, "--from is for volume create");
	parse_fails("volume create data 1G", 1, "--token T");
	parse_fails("volume ls --token ci", 0, "unknown option '--token'");
	parse_fails("create w --from s1", 0, "unknown option '--from'");
	parse_fails("create w --volume data", 0, "write VOL:/path");
	parse_fails("create w --volume data:rel", 0, "write VOL:/path");
	parse_fails("create w --volume Data:/x", 0, "not a volume name");
	parse_fails("create w --volume data:/etc", 0, "cannot be mounted on");
	parse_fails("create w --volume data:/x/../etc", 0, "cannot be mounted on");
	parse_fails("create w --volume data:/x:rx", 0, ":ro or :rw");
	parse_fails("create w --volume data:/x:ro:ro", 0, ":ro or :rw");
	parse_fails("create w --volume a:/x --volume a:/y", 0, "given twice");
	parse_fails("create w --volume a:/x --volume b:/x/y", 0, "overlap");
	parse_fails("create w --volume a:/x/y --volume b:/x", 0, "overlap");
	parse_fails("create w --volume a:/1 --volume b:/2 --volume c:/3 "
	    "--volume d:/4 --volume e:/5 --volume f:/6 --volume g:/7 "
	    "--volume h:/8 --volume i:/9", 0, "more than 8 volumes");
	q = parse("create w --volume a:/x --volume b:/xy", 0);
	assert_int_equal(q->nvols, 2);
	sg_ctla_free(q);
}

static void
test_hibernate(void **state)
{
	struct sg_ctla *q;
	(void)state;

	q = parse("hibernate web --json", 0);
	assert_int_equal(q->cmd, SG_CTLA_HIBERNATE);
	assert_string_equal(q->name, "web");
	sg_ctla_free(q);
	q = parse("hibernate 0123456789ab --token ci", 1);
	assert_string_equal(q->name, "0123456789ab");
	sg_ctla_free(q);
	parse_fails("hibernate", 0, "usage: hibernate NAME");
	parse_fails("hibernate a b", 0, "usage: hibernate NAME");
	parse_fails("hibernate Web", 0, "not a sandbox name");
	parse_fails("hibernate web --token ci", 0, "unknown option");
}

static void
test_expose(void **state)
{
	struct sg_ctla *q;
	(void)state;

	q = parse("expose web 8000", 0);
	assert_int_equal(q->cmd, SG_CTLA_EXPOSE);
	assert_string_equal(q->name, "web");
	assert_int_equal(q->port, 8000);
	assert_int_equal(q->public, 0);
	assert_int_equal(q->ttl_s, 0);
	sg_ctla_free(q);
	q = parse("expose web 1 --public --ttl 1h --json", 0);
	assert_int_equal(q->port, 1);
	assert_int_equal(q->public, 1);
	assert_int_equal(q->ttl_s, 3600);
	assert_int_equal(q->json, 1);
	sg_ctla_free(q);
	q = parse("expose --ttl=365d 0123456789ab 65535 --token ci", 1);
	assert_string_equal(q->name, "0123456789ab");
	assert_int_equal(q->port, 65535);
	assert_int_equal(q->ttl_s, 365ull * 86400);
	sg_ctla_free(q);
	q = parse("unexpose web 8000", 0);
	assert_int_equal(q->cmd, SG_CTLA_UNEXPOSE);
	assert_int_equal(q->port, 8000);
	sg_ctla_free(q);
	parse_fails("expose web", 0, "usage: expose NAME PORT");
	parse_fails("expose web 8000 9000", 0, "unexpected argument");
	parse_fails("expose web 0", 0, "port '0'");
	parse_fails("expose web 65536", 0, "port '65536'");
	parse_fails("expose web 080", 0, "port '080'");
	parse_fails("expose web http", 0, "from 1 to 65535");
	parse_fails("expose web 8000 --ttl 0", 0, "--ttl '0'");
	parse_fails("expose web 8000 --ttl 366d", 0, "at most 365d");
	parse_fails("expose Web 8000", 0, "not a sandbox name");
	parse_fails("expose web 8000 --token ci", 0, "unknown option");
	parse_fails("unexpose web 8000 --public", 0, "unknown option");
	parse_fails("unexpose web 8000 --ttl 1h", 0, "unknown option");
	parse_fails("unexpose web", 0, "usage: unexpose NAME PORT");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_bad),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_volume),
		cmocka_unit_test(test_hibernate),
		cmocka_unit_test(test_expose),
	};

	return cmocka_run_group_tests_name("ctlargs", tests, NULL, NULL);
}
