/* Unit tests for agent/vol.c: the CONFIG "volume" value and finding a disk
 * by its serial in a sysfs-like tree. */
#include "config.h"

#include <errno.h>
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

#include "agent/vol.h"

static void
test_parse(void **state)
{
	char serial[32], path[256];
	int ro = -1;
	(void)state;

	assert_int_equal(ag_vol_parse("sgvol0 rw /data", serial, sizeof(serial),
	    &ro, path, sizeof(path)), 0);
	assert_string_equal(serial, "sgvol0");
	assert_int_equal(ro, 0);
	assert_string_equal(path, "/data");
	assert_int_equal(ag_vol_parse("sgvol7 ro /root/a.b/c", serial,
	    sizeof(serial), &ro, path, sizeof(path)), 0);
	assert_int_equal(ro, 1);
	assert_string_equal(path, "/root/a.b/c");

	static const char *const bad[] = {
		"", "sgvol0", "sgvol0 rw", "sgvol0 rw ", "sgvol0 rx /data",
		"sgvol0 rwx /data", "SGVOL rw /data", "sg-vol rw /data",
		"a23456789012345678901 rw /data", " rw /data", "sgvol0 rw data",
		"sgvol0 rw /", "sgvol0 rw /a/../b", "sgvol0 rw /a//b",
		"sgvol0 rw /a/", "sgvol0 rw /a/.", "sgvol0  rw /a",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (ag_vol_parse(bad[i], serial, sizeof(serial), &ro, path,
		    sizeof(path)) != -EINVAL)
			print_error("'%s' was accepted\n", bad[i]);
		assert_int_equal(ag_vol_parse(bad[i], serial, sizeof(serial),
		    &ro, path, sizeof(path)), -EINVAL);
	}
	/* too long for the caller's buffers */
	assert_int_equal(ag_vol_parse("sgvol0 rw /data", serial, 4, &ro, path,
	    sizeof(path)), -EINVAL);
	assert_int_equal(ag_vol_parse("sgvol0 rw /data", serial, sizeof(serial),
	    &ro, path, 5), -EINVAL);
}

static void
put(const char *dir, const char *dev, const char *serial)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, dev);
	assert_int_equal(mkdir(p, 0755), 0);
	if (serial == NULL)
		return;
	snprintf(p, sizeof(p), "%s/%s/serial", dir, dev);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(serial, f);
	fclose(f);
}

static void
test_find(void **state)
{
	char dir[] = "/tmp/sgagentvol.XXXXXX", dev[64];
	char cmd[128];
	(void)state;

	assert_non_null(mkdtemp(dir));
	put(dir, "vda", "");
	put(dir, "vdb", "sgvol0\n");
	put(dir, "vdc", "sgvol10\n");
	put(dir, "loop0", NULL);
	assert_int_equal(ag_vol_find(dir, "sgvol0", dev, sizeof(dev)), 0);
	assert_string_equal(dev, "/dev/vdb");
	assert_int_equal(ag_vol_find(dir, "sgvol10", dev, sizeof(dev)), 0);
	assert_string_equal(dev, "/dev/vdc");
	assert_int_equal(ag_vol_find(dir, "sgvol1", dev, sizeof(dev)), -ENOENT);
	assert_int_equal(ag_vol_find(dir, "sgvol", dev, sizeof(dev)), -ENOENT);
	assert_int_equal(ag_vol_find("/nonexistent/sgagentvol", "sgvol0", dev,
	    sizeof(dev)), -ENOENT);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests_name("agentvol", tests, NULL, NULL);
}
