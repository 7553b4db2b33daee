/* nptool: drives netpolicy's np_nft_* and np_tap_* from the command line,
 * for tests/integration/netpolicy-host.sh.
 *
 *   nptool [options] setup | teardown
 *   nptool [options] add TAP GUEST HOST [all] [ADDR[/LEN][:PORT]...]
 *   nptool [options] allow TAP ADDR PORT TIMEOUT_S      (PORT 0: any port)
 *   nptool [options] del TAP
 *   nptool [options] counters [TAP]      prints "PACKETS BYTES" (dropped)
 *   nptool [options] reason REASON       the same for one drop reason
 *   nptool [options] list                taps in the table, one a line
 *   nptool tap-create NAME ADDR/LEN | tap-delete NAME | tap-list PREFIX
 *   nptool ct-flush ADDR/LEN | ct-count ADDR/LEN
 *                   connection tracking entries with an address in the
 *                   network: deleted (their count printed) or counted
 * options:
 *   -t TABLE        nftables table (default sandgate)
 *   -p PREFIX       tap prefix (default sg-)
 *   -n POOL/LEN     sandbox pool (default 10.200.0.0/16)
 *   -P PORT         proxy port (default 0: none)
 * Exit status 0 on success, 1 on failure (the message on stderr), 2 on
 * usage errors. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netpolicy/ct.h"
#include "netpolicy/nft.h"
#include "common/strv.h"
#include "netpolicy/tap.h"

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr,
		"usage: nptool [-t TABLE] [-p PREFIX] [-n POOL/LEN] [-P PORT] COMMAND ...\n"
		"commands: setup, teardown, add TAP GUEST HOST [all] [ADDR[/LEN][:PORT]...],\n"
		"  allow TAP ADDR PORT TIMEOUT_S, del TAP, counters [TAP], reason REASON,\n"
		"  list, tap-create NAME ADDR/LEN, tap-delete NAME, tap-list PREFIX,\n"
		"  ct-flush ADDR/LEN, ct-count ADDR/LEN\n");
	exit(2);
}

/* Unsigned decimal in [lo, hi]. */
static int
parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *ret)
{
	unsigned long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int
parse_ip4(const char *s, uint32_t *ret)
{
	struct in_addr in;

	if (inet_pton(AF_INET, s, &in) != 1)
		return -EINVAL;
	*ret = ntohl(in.s_addr);
	return 0;
}

/* ADDR[/LEN][:PORT]; LEN defaults to 32 and PORT to 0 (any). */
static int
parse_lit(const char *s, struct np_nft_lit *ret)
{
	char buf[64], *colon, *slash;
	unsigned long v;
	struct np_nft_lit l = { .prefix = 32 };

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, strlen(s) + 1);
	colon = strchr(buf, ':');
	if (colon != NULL) {
		*colon = '\0';
		if (parse_uint(colon + 1, 1, 65535, &v) < 0)
			return -EINVAL;
		l.port = (uint16_t)v;
	}
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (parse_uint(slash + 1, 0, 32, &v) < 0)
			return -EINVAL;
		l.prefix = (unsigned)v;
	}
	if (parse_ip4(buf, &l.net) < 0)
		return -EINVAL;
	*ret = l;
	return 0;
}

static int
fail(const char *msg, int r)
{
	fprintf(stderr, "nptool: %s\n", msg != NULL ? msg : strerror(-r));
	return 1;
}

static int
ct_cmd(int argc, char **argv)
{
	char *msg = NULL, *slash;
	unsigned long len;
	uint32_t addr;
	size_t n = 0;
	int r;

	if (argc != 2 || (slash = strchr(argv[1], '/')) == NULL)
		usage();
	*slash = '\0';
	if (parse_ip4(argv[1], &addr) < 0 || parse_uint(slash + 1, 1, 32, &len) < 0)
		usage();
	if (strcmp(argv[0], "ct-flush") == 0)
		r = np_ct_flush(addr, (unsigned)len, &n, &msg);
	else if (strcmp(argv[0], "ct-count") == 0)
		r = np_ct_count(addr, (unsigned)len, &n, &msg);
	else
		usage();
	if (r < 0) {
		r = fail(msg, r);
		free(msg);
		return r;
	}
	printf("%zu\n", n);
	return 0;
}

static int
tap_cmd(int argc, char **argv)
{
	char *msg = NULL, **v = NULL;
	size_t n = 0, i;
	unsigned long len;
	uint32_t addr;
	char *slash;
	int r;

	if (strcmp(argv[0], "tap-create") == 0) {
		if (argc != 3)
			usage();
		slash = strchr(argv[2], '/');
		if (slash == NULL)
			usage();
		*slash = '\0';
		if (parse_ip4(argv[2], &addr) < 0 || parse_uint(slash + 1, 1, 32, &len) < 0)
			usage();
		r = np_tap_create(argv[1], addr, (unsigned)len, &msg);
	} else if (strcmp(argv[0], "tap-delete") == 0) {
		if (argc != 2)
			usage();
		r = np_tap_delete(argv[1], &msg);
	} else {
		if (argc != 2)
			usage();
		r = np_tap_list(argv[1], &v, &n, &msg);
		if (r == 0) {
			for (i = 0; i < n; i++)
				printf("%s\n", v[i]);
			sg_strv_free(v, n);
		}
	}
	if (r < 0) {
		r = fail(msg, r);
		free(msg);
		return r;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct np_nft_cfg cfg = {
		.pool_net = 0x0ac80000u, .pool_prefix = 16,	/* 10.200.0.0/16 */
	};
	struct np_nft *n = NULL;
	struct np_nft_lit *lits = NULL;
	char *msg = NULL, **v = NULL, *slash;
	uint64_t pk = 0, by = 0;
	unsigned long ul, ul2;
	uint32_t a1, a2;
	size_t nl = 0, nv = 0, i;
	int c, r = 0, all = 0, status = 0;

	while ((c = getopt(argc, argv, "+t:p:n:P:")) != -1) {
		switch (c) {
		case 't':
			cfg.table = optarg;
			break;
		case 'p':
			cfg.tap_prefix = optarg;
			break;
		case 'n':
			slash = strchr(optarg, '/');
			if (slash == NULL)
				usage();
			*slash = '\0';
			if (parse_ip4(optarg, &cfg.pool_net) < 0 ||
			    parse_uint(slash + 1, 1, 32, &ul) < 0)
				usage();
			cfg.pool_prefix = (unsigned)ul;
			break;
		case 'P':
			if (parse_uint(optarg, 0, 65535, &ul) < 0)
				usage();
			cfg.proxy_port = (uint16_t)ul;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strncmp(argv[0], "ct-", 3) == 0)
		return ct_cmd(argc, argv);
	if (strncmp(argv[0], "tap-", 4) == 0)
		return tap_cmd(argc, argv);

	r = np_nft_open(&cfg, &n, &msg);
	if (r < 0)
		goto out;
	if (strcmp(argv[0], "setup") == 0 && argc == 1) {
		r = np_nft_setup(n, &msg);
	} else if (strcmp(argv[0], "teardown") == 0 && argc == 1) {
		r = np_nft_teardown(n, &msg);
	} else if (strcmp(argv[0], "add") == 0 && argc >= 4) {
		if (parse_ip4(argv[2], &a1) < 0 || parse_ip4(argv[3], &a2) < 0)
			usage();
		i = 4;
		if (argc > 4 && strcmp(argv[4], "all") == 0) {
			all = 1;
			i++;
		}
		if ((size_t)argc > i) {
			lits = calloc((size_t)argc - i, sizeof(*lits));
			if (lits == NULL) {
				r = -ENOMEM;
				goto out;
			}
		}
		for (; i < (size_t)argc; i++)
			if (parse_lit(argv[i], &lits[nl++]) < 0)
				usage();
		r = np_nft_add_sandbox(n, argv[1], a1, a2, all, lits, nl, &msg);
	} else if (strcmp(argv[0], "allow") == 0 && argc == 5) {
		if (parse_ip4(argv[2], &a1) < 0 || parse_uint(argv[3], 0, 65535, &ul) < 0 ||
		    parse_uint(argv[4], 0, UINT32_MAX, &ul2) < 0)
			usage();
		r = np_nft_allow(n, argv[1], a1, (uint16_t)ul, (uint32_t)ul2, &msg);
	} else if (strcmp(argv[0], "del") == 0 && argc == 2) {
		r = np_nft_del_sandbox(n, argv[1], &msg);
	} else if (strcmp(argv[0], "counters") == 0 && argc <= 2) {
		r = np_nft_counters(n, argc == 2 ? argv[1] : NULL, &pk, &by, &msg);
		if (r == 0)
			printf("%" PRIu64 " %" PRIu64 "\n", pk, by);
	} else if (strcmp(argv[0], "reason") == 0 && argc == 2) {
		r = np_nft_reason_counters(n, argv[1], &pk, &by, &msg);
		if (r == 0)
			printf("%" PRIu64 " %" PRIu64 "\n", pk, by);
	} else if (strcmp(argv[0], "list") == 0 && argc == 1) {
		r = np_nft_list_taps(n, &v, &nv, &msg);
		if (r == 0) {
			for (i = 0; i < nv; i++)
				printf("%s\n", v[i]);
			sg_strv_free(v, nv);
		}
	} else {
		np_nft_close(n);
		usage();
	}
out:
	if (r < 0)
		status = fail(msg, r);
	free(msg);
	free(lits);
	np_nft_close(n);
	return status;
}
