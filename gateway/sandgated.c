/* sandgated: the SSH gateway (sandgated(8)).
 *
 * Parses the command line and sandgate.conf, then runs the monitor, which
 * forks the per-connection workers (docs/architecture.md); or, with -t,
 * checks what a start would check (gateway/preflight.h) and, with -T,
 * prints the effective configuration. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libssh/libssh.h>

#include "common/log.h"
#include "gateway/conf.h"
#include "gateway/monitor.h"
#include "gateway/poolspec.h"
#include "gateway/preflight.h"
#include "netpolicy/resolver.h"

#define SG_MAX_OVERRIDES 256

#define DEFAULT_CONFIG SG_SYSCONFDIR "/sandgate/sandgate.conf"

enum mode {
	MODE_RUN,
	MODE_TEST,      /* -t: check, print problems, start nothing */
	MODE_PRINT,     /* -T: print the effective configuration */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: sandgated [--config FILE] [--foreground] [--debug]\n"
	    "       sandgated -t|--test [--config FILE]\n"
	    "       sandgated -T|--print-config [--config FILE]\n");
}

/* Fills mc from conf; the strings stay conf's. ov and shim hold what
 * lives in main's static storage. Returns 0 or -ENAMETOOLONG. */
static int
mon_cfg_from_conf(const struct sg_conf *conf, const char *config,
    struct sg_mon_cfg *mc, struct np_res_override *ov, char *shim,
    size_t shim_size)
{
	static const char *dtypes[] = { "auto", "kvm", "qemu" };
	static const char *transports[] = { "auto", "vsock", "virtio-serial" };
	size_t nov = 0, i;
	int r;

	memset(mc, 0, sizeof(*mc));
	mc->config_path = config;
	mc->listen = sg_conf_str(conf, SG_CONF_LISTEN);
	mc->host_key = sg_conf_str(conf, SG_CONF_HOST_KEY);
	mc->tokens = sg_conf_str(conf, SG_CONF_TOKENS);
	mc->state_dir = sg_conf_str(conf, SG_CONF_STATE_DIR);
	mc->control_socket = sg_conf_str(conf, SG_CONF_CONTROL_SOCKET);
	mc->metrics = sg_conf_str(conf, SG_CONF_METRICS);
	mc->max_snapshots = (unsigned)sg_conf_num(conf, SG_CONF_MAX_SNAPSHOTS);
	mc->snapshot_quota_gb = sg_conf_num(conf, SG_CONF_SNAPSHOT_QUOTA_GB);
	mc->hibernate_after_s = sg_conf_num(conf, SG_CONF_HIBERNATE_AFTER);
	mc->max_hibernated_s = sg_conf_num(conf, SG_CONF_MAX_HIBERNATED);
	mc->max_volumes = (unsigned)sg_conf_num(conf, SG_CONF_MAX_VOLUMES);
	mc->volume_quota_gb = sg_conf_num(conf, SG_CONF_VOLUME_QUOTA_GB);
	{
		/* checked when the file was read */
		static struct sg_poolspec_ent pool[SG_POOLSPEC_IMAGES];
		char why[160];

		if (sg_poolspec_parse(sg_conf_str(conf, SG_CONF_WARM_POOL),
		    pool, &mc->npool, why, sizeof(why)) < 0)
			mc->npool = 0;
		mc->pool = pool;
	}
	mc->audit_log = sg_conf_str(conf, SG_CONF_AUDIT_LOG);
	mc->libvirt_uri = sg_conf_str(conf, SG_CONF_LIBVIRT_URI);
	mc->domain_type = dtypes[sg_conf_domain_type(conf)];
	mc->image = sg_conf_str(conf, SG_CONF_IMAGE);
	mc->image_dir = sg_conf_str(conf, SG_CONF_IMAGE_DIR);
	mc->memory_mb = (unsigned)sg_conf_num(conf, SG_CONF_MEMORY_MB);
	mc->vcpus = (unsigned)sg_conf_num(conf, SG_CONF_VCPUS);
	mc->disk_gb = (unsigned)sg_conf_num(conf, SG_CONF_DISK_GB);
	mc->max_lifetime_s = sg_conf_num(conf, SG_CONF_MAX_LIFETIME);
	mc->idle_timeout_s = sg_conf_num(conf, SG_CONF_IDLE_TIMEOUT);
	mc->boot_timeout_s = sg_conf_num(conf, SG_CONF_BOOT_TIMEOUT);
	mc->transport = transports[sg_conf_transport(conf)];
	mc->max_sandboxes = (unsigned)sg_conf_num(conf, SG_CONF_MAX_SANDBOXES);
	mc->user = sg_conf_str(conf, SG_CONF_USER);
	mc->control_user = sg_conf_str(conf, SG_CONF_CONTROL_USER);
	mc->uid_first = sg_conf_uid_first(conf);
	mc->uid_last = sg_conf_uid_last(conf);
	/* the same path sandgated -t checks (a build tree's fallback) */
	r = sg_preflight_shim_program(conf, shim, shim_size);
	if (r < 0)
		return r;
	mc->shim_program = shim;
	mc->auth_delay_ms = sg_conf_num(conf, SG_CONF_AUTH_DELAY) * 1000;
	sg_conf_startups(conf, &mc->startups_start, &mc->startups_rate,
	    &mc->startups_full);
	mc->per_source_max = (unsigned)sg_conf_num(conf,
	    SG_CONF_PER_SOURCE_MAX_STARTUPS);
	sg_conf_net_block(conf, &mc->block_v4, &mc->block_v6);
	mc->kex_timeout_s = (unsigned)sg_conf_num(conf, SG_CONF_KEX_TIMEOUT);
	mc->login_grace_s = (unsigned)sg_conf_num(conf, SG_CONF_LOGIN_GRACE_TIME);
	mc->pool_net = sg_conf_pool_addr(conf);
	mc->pool_prefix = sg_conf_pool_prefix(conf);
	mc->dns = sg_conf_str(conf, SG_CONF_DNS);
	mc->nft_table = sg_conf_str(conf, SG_CONF_NFT_TABLE);
	for (i = 0; i < sg_conf_resolve_count(conf) && nov < SG_MAX_OVERRIDES; i++) {
		if (inet_pton(AF_INET, sg_conf_resolve_addr(conf, i),
		    &ov[nov].addr) != 1)
			continue;	/* IPv6: no IPv6 in sandboxes yet */
		ov[nov].name = sg_conf_resolve_name(conf, i);
		nov++;
	}
	mc->ov = ov;
	mc->nov = nov;
	mc->proxy_port = (uint16_t)sg_conf_num(conf, SG_CONF_PROXY_PORT);
	mc->proxy_user = sg_conf_str(conf, SG_CONF_PROXY_USER);
	mc->proxy_program = sg_conf_str(conf, SG_CONF_PROXY_PROGRAM);
	mc->proxy_max_conns = (unsigned)sg_conf_num(conf, SG_CONF_PROXY_MAX_CONNS);
	mc->expose_host = sg_conf_expose_host(conf);
	mc->expose_port = sg_conf_expose_port(conf);
	mc->expose_domain = sg_conf_str(conf, SG_CONF_EXPOSE_DOMAIN);
	mc->expose_cert = sg_conf_str(conf, SG_CONF_EXPOSE_CERT);
	mc->expose_key = sg_conf_str(conf, SG_CONF_EXPOSE_KEY);
	mc->expose_user = sg_conf_str(conf, SG_CONF_EXPOSE_USER);
	mc->expose_program = sg_conf_str(conf, SG_CONF_EXPOSE_PROGRAM);
	mc->expose_max_conns = (unsigned)sg_conf_num(conf, SG_CONF_EXPOSE_MAX_CONNS);
	mc->expose_max_ports = (unsigned)sg_conf_num(conf, SG_CONF_EXPOSE_MAX_PORTS);
	mc->extra_ca = sg_conf_str(conf, SG_CONF_EXTRA_CA);
	return 0;
}

/* -t: every problem on stderr, one line each; nothing on success. */
static int
run_test(const struct sg_conf *conf)
{
	unsigned n;

	ssh_init();
	n = sg_preflight_run(conf, stderr);
	ssh_finalize();
	return n ? 1 : 0;
}

/* -T: the effective configuration on stdout. */
static int
run_print(const struct sg_conf *conf)
{
	if (sg_conf_print(conf, stdout) < 0) {
		fprintf(stderr, "sandgated: cannot write the configuration: %s\n",
		    strerror(errno));
		return 1;
	}
	return 0;
}

static int
run(const struct sg_conf *conf, const char *config, int foreground)
{
	static struct np_res_override ov[SG_MAX_OVERRIDES];
	static char shim[PATH_MAX];
	struct sg_mon_cfg mc;
	int r;

	if (geteuid() != 0) {
		sg_err("sandgated must start as root (it drops privileges for "
		    "everything that talks to clients and guests)");
		return 1;
	}
	if (mon_cfg_from_conf(conf, config, &mc, ov, shim, sizeof(shim)) < 0) {
		sg_err("[gateway] shim_program: the path is too long");
		return 1;
	}
	mc.detach = !foreground;
	ssh_init();
	r = sg_mon_run(&mc);
	ssh_finalize();
	return r < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "test", no_argument, NULL, 't' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "print-config", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG;
	int foreground = 0, level = SG_LOG_INFO, c, r;
	enum mode mode = MODE_RUN, want = MODE_RUN;
	struct sg_conf *conf = NULL;
	char *err = NULL;

	while ((c = getopt_long(argc, argv, "c:fdtCTh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; continue;
		case 'f': foreground = 1; continue;
		case 'd': level = SG_LOG_DEBUG; continue;
		case 't': case 'C': want = MODE_TEST; break;
		case 'T': want = MODE_PRINT; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		/* -t and -T do different things: one of them */
		if (mode != MODE_RUN && mode != want) {
			usage(stderr);
			return 2;
		}
		mode = want;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	sg_log_init("sandgated", level);
	/* The default file may be absent (all defaults); a named one not. */
	r = sg_conf_load(config, strcmp(config, DEFAULT_CONFIG) != 0, &conf, &err);
	if (r < 0) {
		/* -t and -T: the FILE:LINE: line alone, as the checks write */
		if (mode == MODE_RUN)
			sg_err("%s", err ? err : strerror(-r));
		else
			fprintf(stderr, "%s\n", err ? err : strerror(-r));
		free(err);
		return 1;
	}
	if (mode == MODE_TEST)
		r = run_test(conf);
	else if (mode == MODE_PRINT)
		r = run_print(conf);
	else
		r = run(conf, config, foreground);
	sg_conf_free(conf);
	return r;
}
