/* np_nft: sandgate's nftables ruleset, see nft.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "common/buf.h"
#include "common/text.h"
#include "netpolicy/nft.h"
#include "common/strv.h"

/* A generated script never comes near this; it bounds a mistake. */
#define SCRIPT_MAX (4u << 20)

struct np_nft {
	struct nft_ctx *ctx;
	char table[NP_NFT_TABLE_MAX + 1];
	char prefix[NP_NFT_IFNAME_MAX + 1];
	uint32_t pool_net;
	unsigned pool_prefix;
	uint16_t proxy_port;
	int64_t front_uid;
};

const char *const np_nft_reasons[] = {
	"ipv6",     /* IPv6 from a tap */
	"spoof",    /* source not the tap's guest address, or tap unknown */
	"host",     /* to the host itself, other than DNS/ping to its address */
	"sandbox",  /* to the pool or another tap */
	"inbound",  /* new connections toward a tap */
	"local",    /* new connections from the host itself into a tap */
	"udp",      /* UDP leaving (port 443 is rejected, not dropped) */
	"icmp",     /* ICMP leaving */
	"tcp",      /* TCP to a destination not allowed */
	"web",      /* TCP 80/443 without a proxy (reset) */
	"other",    /* any other protocol */
	NULL,
};

int
np_nft_table_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= NP_NFT_TABLE_MAX)
			return 0;
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return 0;
	}
	return 1;
}

/* [a-z0-9-]{1,max} */
static int
ifchars_valid(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max)
			return 0;
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-'))
			return 0;
	}
	return 1;
}

int np_nft_tap_valid(const char *s) { return ifchars_valid(s, NP_NFT_IFNAME_MAX); }
/* One character is left for the tap's own part. */
int np_nft_prefix_valid(const char *s) { return ifchars_valid(s, NP_NFT_IFNAME_MAX - 1); }

static uint32_t
prefix_mask(unsigned prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

/* Formats a host-order IPv4 address into a (16 bytes). */
static void
fmt_ip4(char a[INET_ADDRSTRLEN], uint32_t addr)
{
	struct in_addr in = { .s_addr = htonl(addr) };

	if (inet_ntop(AF_INET, &in, a, INET_ADDRSTRLEN) == NULL)
		abort();	/* cannot happen with this buffer */
}

static int
in_pool(const struct np_nft *n, uint32_t addr)
{
	return (addr & prefix_mask(n->pool_prefix)) == n->pool_net;
}

/* Maps the first error line of libnftables to an errno. */
static int
nft_errno(const char *err)
{
	static const struct { const char *text; int e; } map[] = {
		{ "No such file or directory", ENOENT },
		{ "Operation not permitted", EPERM },
		{ "File exists", EEXIST },
		{ "Device or resource busy", EBUSY },
		{ "Operation not supported", EOPNOTSUPP },
		{ "Cannot allocate memory", ENOMEM },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strstr(err, map[i].text) != NULL)
			return -map[i].e;
	return -EIO;
}

/* Copies the first line of libnftables' error output that says what went
 * wrong ("Error: ..."), without the prefix, into a new string. */
static char *
nft_first_error(const char *err)
{
	const char *p = err, *e;
	size_t len;
	char *s;

	if (err == NULL || err[0] == '\0')
		return strdup("no reason given");
	e = strstr(err, "Error: ");
	if (e != NULL)
		p = e + strlen("Error: ");
	len = strcspn(p, "\n");
	/* drop nft's guesses at a similar name: they mislead more than help */
	e = strstr(p, "; did you mean");
	if (e != NULL && (size_t)(e - p) < len)
		len = (size_t)(e - p);
	s = strndup(p, len);
	return s;
}

/* Runs one script (one transaction). On success and when ret_out is not
 * NULL, *ret_out gets a copy of the output. On failure, sets ret_msg to
 * "<what>: <reason> (table inet T)". */
static int
nft_run(struct np_nft *n, const char *script, const char *what, char **ret_out,
	char **ret_msg)
{
	const char *out, *err;
	char *first = NULL, *copy = NULL;
	int r;

	/* reading the buffers rewinds them: start from empty ones */
	(void)nft_ctx_get_output_buffer(n->ctx);
	(void)nft_ctx_get_error_buffer(n->ctx);
	r = nft_run_cmd_from_buffer(n->ctx, script);
	out = nft_ctx_get_output_buffer(n->ctx);
	err = nft_ctx_get_error_buffer(n->ctx);
	if (r != 0) {
		r = nft_errno(err != NULL ? err : "");
		first = nft_first_error(err);
		if (r == -EPERM)
			sg_msg(ret_msg, "%s: %s (table inet %s): run as root or with "
				"CAP_NET_ADMIN", what, first ? first : "refused", n->table);
		else
			sg_msg(ret_msg, "%s: nftables refused it: %s (table inet %s)",
				what, first ? first : "no reason given", n->table);
		free(first);
		return r;
	}
	if (ret_out != NULL) {
		copy = strdup(out != NULL ? out : "");
		if (copy == NULL) {
			sg_msg(ret_msg, "%s: out of memory", what);
			return -ENOMEM;
		}
		*ret_out = copy;
	}
	return 0;
}

/* Appends a NUL so the buffer can be handed to libnftables as a string. */
static int
script_end(struct sg_buf *b)
{
	return sg_buf_put_u8(b, 0);
}

int
np_nft_open(const struct np_nft_cfg *cfg, struct np_nft **ret, char **ret_msg)
{
	const char *table, *prefix;
	struct np_nft *n = NULL;
	int r;

	table = cfg->table != NULL ? cfg->table : NP_NFT_TABLE_DEFAULT;
	prefix = cfg->tap_prefix != NULL ? cfg->tap_prefix : NP_NFT_TAP_PREFIX_DEFAULT;
	if (!np_nft_table_valid(table)) {
		sg_msg(ret_msg, "invalid nftables table name \"%.40s\": use 1 to %d "
			"characters a-z, 0-9, _ starting with a letter",
			table, NP_NFT_TABLE_MAX);
		return -EINVAL;
	}
	if (!np_nft_prefix_valid(prefix)) {
		sg_msg(ret_msg, "invalid tap prefix \"%.40s\": use 1 to %d characters "
			"a-z, 0-9, -", prefix, NP_NFT_IFNAME_MAX - 1);
		return -EINVAL;
	}
	if (cfg->pool_prefix < 1 || cfg->pool_prefix > 30) {
		sg_msg(ret_msg, "invalid sandbox pool prefix length /%u: use 1 to 30",
			cfg->pool_prefix);
		return -EINVAL;
	}
	if ((cfg->pool_net & ~prefix_mask(cfg->pool_prefix)) != 0) {
		char a[INET_ADDRSTRLEN];

		fmt_ip4(a, cfg->pool_net);
		sg_msg(ret_msg, "invalid sandbox pool %s/%u: the address has bits set "
			"past the prefix length", a, cfg->pool_prefix);
		return -EINVAL;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(n->table, table, strlen(table) + 1);
	memcpy(n->prefix, prefix, strlen(prefix) + 1);
	n->pool_net = cfg->pool_net;
	n->pool_prefix = cfg->pool_prefix;
	n->proxy_port = cfg->proxy_port;
	n->front_uid = cfg->has_front ? (int64_t)cfg->front_uid : -1;
	n->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (n->ctx == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if (nft_ctx_buffer_output(n->ctx) != 0 || nft_ctx_buffer_error(n->ctx) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = n;
	return 0;
fail:
	sg_msg(ret_msg, "cannot open a libnftables context: out of memory");
	np_nft_close(n);
	return r;
}

void
np_nft_close(struct np_nft *n)
{
	if (n == NULL)
		return;
	if (n->ctx != NULL)
		nft_ctx_free(n->ctx);
	free(n);
}

/* The global part of the table; see nft.h for what each chain does. */
static int
put_setup(struct sg_buf *b, const struct np_nft *n)
{
	static const char *const bases[][2] = {
		{ "raw_pre", "type filter hook prerouting priority raw" },
		{ "nat_pre", "type nat hook prerouting priority dstnat" },
		{ "filt_in", "type filter hook input priority filter" },
		{ "filt_fwd", "type filter hook forward priority filter" },
		{ "filt_out", "type filter hook output priority filter" },
		{ "nat_post", "type nat hook postrouting priority srcnat" },
	};
	static const char *const maps[] = { "pre_map", "in_map", "fwd_map" };
	const char *t = n->table, *p = n->prefix;
	char pool[INET_ADDRSTRLEN];
	size_t i;
	int r = 0;

	fmt_ip4(pool, n->pool_net);
#define PUT(...) do { r = sg_buf_putf(b, __VA_ARGS__); if (r < 0) return r; } while (0)
	PUT("add table inet %s\n", t);
	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		PUT("add chain inet %s %s { %s; policy accept; }\n", t, bases[i][0],
		    bases[i][1]);
	PUT("add chain inet %s count\n", t);
	for (i = 0; np_nft_reasons[i] != NULL; i++)
		PUT("add chain inet %s drop_%s\n", t, np_nft_reasons[i]);
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		PUT("add map inet %s %s { type ifname : verdict; }\n", t, maps[i]);
	PUT("add map inet %s dropctr { type ifname : counter; }\n", t);
	PUT("add set inet %s taps { type ifname; }\n", t);
	PUT("add set inet %s exposed { type ifname . inet_service; }\n", t);
	PUT("add counter inet %s d_total\n", t);
	for (i = 0; np_nft_reasons[i] != NULL; i++)
		PUT("add counter inet %s d_%s\n", t, np_nft_reasons[i]);

	/* count: the total and the sandbox's own counter (the map lookup
	 * fails for other interfaces, which ends only that rule) */
	PUT("flush chain inet %s count\n", t);
	PUT("add rule inet %s count counter name \"d_total\"\n", t);
	PUT("add rule inet %s count counter name iifname map @dropctr\n", t);
	for (i = 0; np_nft_reasons[i] != NULL; i++) {
		const char *why = np_nft_reasons[i];

		PUT("flush chain inet %s drop_%s\n", t, why);
		PUT("add rule inet %s drop_%s counter name \"d_%s\" jump count\n", t, why, why);
		if (strcmp(why, "udp") == 0)
			PUT("add rule inet %s drop_udp udp dport 443 "
			    "reject with icmpx type port-unreachable\n", t);
		else if (strcmp(why, "web") == 0)
			PUT("add rule inet %s drop_web meta l4proto tcp reject with tcp reset\n", t);
		else if (strcmp(why, "local") == 0)
			/* leaving the host: the tap is the output interface */
			PUT("add rule inet %s drop_local counter name oifname map "
			    "@dropctr\n", t);
		PUT("add rule inet %s drop_%s drop\n", t, why);
	}

	/* Every rule matches @taps, this table's taps, never the prefix: a
	 * second sandgated on the host, with a table and taps of its own
	 * under the same prefix, is neither filtered, redirected nor counted
	 * by this one (such rules once dropped its DNS). A guest of the
	 * other one is kept from these guests by drop_inbound here.
	 * raw prerouting: before conntrack, so dropped packets leave no
	 * state. */
	PUT("flush chain inet %s raw_pre\n", t);
	PUT("add rule inet %s raw_pre iifname @taps meta nfproto ipv6 goto drop_ipv6\n", t);
	PUT("add rule inet %s raw_pre iifname @taps iifname vmap @pre_map\n", t);
	PUT("add rule inet %s raw_pre iifname @taps goto drop_spoof\n", t);

	PUT("flush chain inet %s nat_pre\n", t);
	if (n->proxy_port != 0)
		PUT("add rule inet %s nat_pre iifname @taps tcp dport { 80, 443 } "
		    "redirect to :%u\n", t, (unsigned)n->proxy_port);

	PUT("flush chain inet %s filt_in\n", t);
	PUT("add rule inet %s filt_in iifname @taps ct state established,related accept\n", t);
	if (n->proxy_port != 0) {
		/* only connections nat_pre redirected reach the proxy */
		PUT("add rule inet %s filt_in iifname @taps tcp dport %u ct status dnat "
		    "ct original proto-dst 80 accept\n", t, (unsigned)n->proxy_port);
		PUT("add rule inet %s filt_in iifname @taps tcp dport %u ct status dnat "
		    "ct original proto-dst 443 accept\n", t, (unsigned)n->proxy_port);
	} else {
		PUT("add rule inet %s filt_in iifname @taps tcp dport { 80, 443 } "
		    "goto drop_web\n", t);
	}
	PUT("add rule inet %s filt_in iifname @taps iifname vmap @in_map\n", t);
	PUT("add rule inet %s filt_in iifname @taps goto drop_host\n", t);

	PUT("flush chain inet %s filt_fwd\n", t);
	PUT("add rule inet %s filt_fwd iifname @taps ip daddr %s/%u goto drop_sandbox\n",
	    t, pool, n->pool_prefix);
	PUT("add rule inet %s filt_fwd iifname @taps oifname \"%s*\" goto drop_sandbox\n",
	    t, p);
	PUT("add rule inet %s filt_fwd oifname @taps ct state established,related accept\n", t);
	PUT("add rule inet %s filt_fwd oifname @taps goto drop_inbound\n", t);
	PUT("add rule inet %s filt_fwd iifname @taps ct state established,related accept\n", t);
	PUT("add rule inet %s filt_fwd iifname @taps meta l4proto udp goto drop_udp\n", t);
	if (n->proxy_port == 0)
		PUT("add rule inet %s filt_fwd iifname @taps tcp dport { 80, 443 } "
		    "goto drop_web\n", t);
	PUT("add rule inet %s filt_fwd iifname @taps meta l4proto tcp iifname vmap @fwd_map\n",
	    t);
	PUT("add rule inet %s filt_fwd iifname @taps meta l4proto tcp goto drop_tcp\n", t);
	PUT("add rule inet %s filt_fwd iifname @taps meta l4proto icmp goto drop_icmp\n", t);
	PUT("add rule inet %s filt_fwd iifname @taps goto drop_other\n", t);

	/* output: nothing on the host opens a connection into a tap; what
	 * goes out of one answers the guest (the proxy, the DNS resolver,
	 * the host's ICMP errors and resets) */
	PUT("flush chain inet %s filt_out\n", t);
	PUT("add rule inet %s filt_out oifname @taps ct state established,related "
	    "accept\n", t);
	if (n->front_uid >= 0)
		PUT("add rule inet %s filt_out oifname @taps meta skuid %lld "
		    "meta l4proto tcp oifname . tcp dport @exposed accept\n", t,
		    (long long)n->front_uid);
	PUT("add rule inet %s filt_out oifname @taps goto drop_local\n", t);

	PUT("flush chain inet %s nat_post\n", t);
	PUT("add rule inet %s nat_post ip saddr %s/%u oifname != \"%s*\" masquerade\n",
	    t, pool, n->pool_prefix, p);
#undef PUT
	return r;
}

/* Ends the script in b and runs it as one transaction; r is what writing
 * the script returned (a failure there is reported instead). */
static int
build_and_run(struct np_nft *n, struct sg_buf *b, int r, const char *what,
	      char **ret_out, char **ret_msg)
{
	if (r == 0)
		r = script_end(b);
	if (r < 0) {
		sg_msg(ret_msg, "%s: %s", what, r == -ENOMEM ? "out of memory" :
			"the nftables script grew too large");
		return r;
	}
	return nft_run(n, (const char *)sg_buf_data(b), what, ret_out, ret_msg);
}

int
np_nft_setup(struct np_nft *n, char **ret_msg)
{
	struct sg_buf *b = sg_buf_new(SCRIPT_MAX);
	char **taps = NULL;
	size_t ntaps = 0, i;
	int r;

	if (b == NULL) {
		sg_msg(ret_msg, "cannot set up nftables table: out of memory");
		return -ENOMEM;
	}
	/* A table of an earlier sandgated: the taps it filters stay in
	 * @taps through the same transaction that puts the rules in. */
	r = np_nft_list_taps(n, &taps, &ntaps, ret_msg);
	if (r < 0) {
		sg_buf_free(b);
		return r;
	}
	r = put_setup(b, n);
	for (i = 0; r == 0 && i < ntaps; i++)
		if (np_nft_tap_valid(taps[i]))
			r = sg_buf_putf(b, "add element inet %s taps { \"%s\" }\n",
			    n->table, taps[i]);
	r = build_and_run(n, b, r, "cannot set up the nftables table", NULL, ret_msg);
	sg_buf_free(b);
	sg_strv_free(taps, ntaps);
	return r;
}

int
np_nft_teardown(struct np_nft *n, char **ret_msg)
{
	struct sg_buf *b = sg_buf_new(SCRIPT_MAX);
	int r;

	if (b == NULL) {
		sg_msg(ret_msg, "cannot delete the nftables table: out of memory");
		return -ENOMEM;
	}
	/* adding first makes the delete succeed when the table is absent */
	r = sg_buf_putf(b, "add table inet %s\ndelete table inet %s\n", n->table, n->table);
	r = build_and_run(n, b, r, "cannot delete the nftables table", NULL, ret_msg);
	sg_buf_free(b);
	return r;
}

/* Declares every per-sandbox object (a no-op for those that exist). */
static int
put_sandbox_objects(struct sg_buf *b, const char *t, const char *tap)
{
	int r;

	r = sg_buf_putf(b,
		"add chain inet %s pre_%s\n"
		"add chain inet %s in_%s\n"
		"add chain inet %s fwd_%s\n"
		"add set inet %s dyn_%s { type ipv4_addr . inet_service; flags timeout; }\n"
		"add set inet %s dynany_%s { type ipv4_addr; flags timeout; }\n"
		"add counter inet %s c_%s\n",
		t, tap, t, tap, t, tap, t, tap, t, tap, t, tap);
	if (r < 0)
		return r;
	return sg_buf_putf(b,
		"add element inet %s pre_map { \"%s\" : jump pre_%s }\n"
		"add element inet %s in_map { \"%s\" : jump in_%s }\n"
		"add element inet %s fwd_map { \"%s\" : jump fwd_%s }\n"
		"add element inet %s dropctr { \"%s\" : \"c_%s\" }\n"
		"add element inet %s taps { \"%s\" }\n",
		t, tap, tap, t, tap, tap, t, tap, tap, t, tap, tap, t, tap);
}

/* Replaces the message of an -ENOENT from nftables with a clearer one. */
static void
no_sandbox(const struct np_nft *n, const char *tap, const char *what, char **ret_msg)
{
	if (ret_msg == NULL)
		return;
	free(*ret_msg);
	*ret_msg = NULL;
	if (tap == NULL)
		sg_msg(ret_msg, "%s: the table inet %s is not set up", what, n->table);
	else
		sg_msg(ret_msg, "%s: no sandbox on tap %s in table inet %s (or the "
			"table is not set up)", what, tap, n->table);
}

static int
check_tap(const struct np_nft *n, const char *tap, int need_prefix, const char *what,
	  char **ret_msg)
{
	if (!np_nft_tap_valid(tap)) {
		sg_msg(ret_msg, "%s: invalid tap name \"%.40s\": use 1 to %d characters "
			"a-z, 0-9, -", what, tap ? tap : "(null)", NP_NFT_IFNAME_MAX);
		return -EINVAL;
	}
	if (need_prefix && (strncmp(tap, n->prefix, strlen(n->prefix)) != 0 ||
			    strlen(tap) == strlen(n->prefix))) {
		sg_msg(ret_msg, "%s: tap name \"%s\" does not start with the tap prefix "
			"\"%s\" followed by a name", what, tap, n->prefix);
		return -EINVAL;
	}
	return 0;
}

int
np_nft_add_sandbox(struct np_nft *n, const char *tap, uint32_t guest_addr,
		   uint32_t host_addr, int allow_all, const struct np_nft_lit *lits,
		   size_t nlits, char **ret_msg)
{
	static const char what[] = "cannot install the sandbox's network policy";
	const char *t = n->table;
	char g[INET_ADDRSTRLEN], h[INET_ADDRSTRLEN], a[INET_ADDRSTRLEN];
	struct sg_buf *b = NULL;
	size_t i;
	int r;

	r = check_tap(n, tap, 1, what, ret_msg);
	if (r < 0)
		return r;
	fmt_ip4(g, guest_addr);
	fmt_ip4(h, host_addr);
	if (!in_pool(n, guest_addr) || !in_pool(n, host_addr) || guest_addr == host_addr) {
		sg_msg(ret_msg, "%s: guest address %s and host address %s must be two "
			"different addresses in the sandbox pool", what, g, h);
		return -EINVAL;
	}
	if (nlits > NP_NFT_LITS_MAX || (nlits > 0 && lits == NULL)) {
		sg_msg(ret_msg, "%s: too many literal allow_net entries (%zu, at most %d)",
			what, nlits, NP_NFT_LITS_MAX);
		return -EINVAL;
	}
	for (i = 0; i < nlits; i++) {
		if (lits[i].prefix > 32) {
			sg_msg(ret_msg, "%s: invalid prefix length /%u in allow_net entry %zu",
				what, lits[i].prefix, i + 1);
			return -EINVAL;
		}
	}
	b = sg_buf_new(SCRIPT_MAX);
	if (b == NULL) {
		sg_msg(ret_msg, "%s: out of memory", what);
		return -ENOMEM;
	}
#define PUT(...) do { r = sg_buf_putf(b, __VA_ARGS__); if (r < 0) goto run; } while (0)
	r = put_sandbox_objects(b, t, tap);
	if (r < 0)
		goto run;
	/* only the guest's own address passes raw_pre */
	PUT("flush chain inet %s pre_%s\n", t, tap);
	PUT("add rule inet %s pre_%s ip saddr %s accept\n", t, tap, g);
	/* to the host: DNS and ping to this tap's address only */
	PUT("flush chain inet %s in_%s\n", t, tap);
	PUT("add rule inet %s in_%s ip daddr %s udp dport 53 accept\n", t, tap, h);
	PUT("add rule inet %s in_%s ip daddr %s tcp dport 53 accept\n", t, tap, h);
	PUT("add rule inet %s in_%s ip daddr %s icmp type echo-request accept\n", t, tap, h);
	/* forwarded TCP (the pool is refused before this chain) */
	PUT("flush chain inet %s fwd_%s\n", t, tap);
	if (allow_all)
		PUT("add rule inet %s fwd_%s meta l4proto tcp accept\n", t, tap);
	PUT("add rule inet %s fwd_%s ip daddr . tcp dport @dyn_%s accept\n", t, tap, tap);
	PUT("add rule inet %s fwd_%s ip daddr @dynany_%s meta l4proto tcp accept\n", t, tap, tap);
	for (i = 0; i < nlits; i++) {
		uint32_t net = lits[i].net & prefix_mask(lits[i].prefix);

		fmt_ip4(a, net);
		if (lits[i].prefix == 0 && lits[i].port == 0)
			PUT("add rule inet %s fwd_%s meta l4proto tcp accept\n", t, tap);
		else if (lits[i].prefix == 0)
			PUT("add rule inet %s fwd_%s tcp dport %u accept\n", t, tap,
			    (unsigned)lits[i].port);
		else if (lits[i].port == 0)
			PUT("add rule inet %s fwd_%s ip daddr %s/%u meta l4proto tcp accept\n",
			    t, tap, a, lits[i].prefix);
		else
			PUT("add rule inet %s fwd_%s ip daddr %s/%u tcp dport %u accept\n",
			    t, tap, a, lits[i].prefix, (unsigned)lits[i].port);
	}
#undef PUT
run:
	r = build_and_run(n, b, r, what, NULL, ret_msg);
	sg_buf_free(b);
	return r;
}

int
np_nft_set_exposed(struct np_nft *n, const char *const *taps,
		   const uint16_t *ports, size_t count, char **ret_msg)
{
	static const char what[] = "cannot set the exposed ports";
	struct sg_buf *b;
	size_t i;
	int r;

	for (i = 0; i < count; i++) {
		if (!np_nft_tap_valid(taps[i]) || ports[i] == 0) {
			sg_msg(ret_msg, "%s: invalid tap or port", what);
			return -EINVAL;
		}
	}
	b = sg_buf_new(SCRIPT_MAX);
	if (b == NULL) {
		sg_msg(ret_msg, "%s: out of memory", what);
		return -ENOMEM;
	}
	r = sg_buf_putf(b, "flush set inet %s exposed\n", n->table);
	for (i = 0; r == 0 && i < count; i++)
		r = sg_buf_putf(b, "add element inet %s exposed { \"%s\" . %u }\n",
		    n->table, taps[i], (unsigned)ports[i]);
	r = build_and_run(n, b, r, what, NULL, ret_msg);
	sg_buf_free(b);
	return r;
}

int
np_nft_allow(struct np_nft *n, const char *tap, uint32_t addr, uint16_t port,
	     uint32_t timeout_s, char **ret_msg)
{
	static const char what[] = "cannot allow the destination";
	char a[INET_ADDRSTRLEN], elem[64];
	struct sg_buf *b = NULL;
	const char *set;
	int r;

	r = check_tap(n, tap, 0, what, ret_msg);
	if (r < 0)
		return r;
	if (timeout_s < 1 || timeout_s > NP_NFT_TIMEOUT_MAX) {
		sg_msg(ret_msg, "%s: invalid timeout %" PRIu32 " s: use 1 to %u",
			what, timeout_s, NP_NFT_TIMEOUT_MAX);
		return -EINVAL;
	}
	fmt_ip4(a, addr);
	if (port != 0) {
		set = "dyn";
		r = snprintf(elem, sizeof(elem), "%s . %u", a, (unsigned)port);
	} else {
		set = "dynany";
		r = snprintf(elem, sizeof(elem), "%s", a);
	}
	if (r < 0 || (size_t)r >= sizeof(elem))
		abort();	/* cannot happen: an address and a port */
	b = sg_buf_new(SCRIPT_MAX);
	if (b == NULL) {
		sg_msg(ret_msg, "%s: out of memory", what);
		return -ENOMEM;
	}
	/* add (a no-op if present), delete, add: the element ends up with the
	 * new timeout whether it existed or not, in one transaction */
	r = sg_buf_putf(b,
		"add element inet %s %s_%s { %s timeout %" PRIu32 "s }\n"
		"delete element inet %s %s_%s { %s }\n"
		"add element inet %s %s_%s { %s timeout %" PRIu32 "s }\n",
		n->table, set, tap, elem, timeout_s,
		n->table, set, tap, elem,
		n->table, set, tap, elem, timeout_s);
	r = build_and_run(n, b, r, what, NULL, ret_msg);
	sg_buf_free(b);
	if (r == -ENOENT)
		no_sandbox(n, tap, what, ret_msg);
	return r;
}

int
np_nft_del_sandbox(struct np_nft *n, const char *tap, char **ret_msg)
{
	static const char what[] = "cannot remove the sandbox's network policy";
	const char *t = n->table;
	struct sg_buf *b = NULL;
	int r;

	r = check_tap(n, tap, 0, what, ret_msg);
	if (r < 0)
		return r;
	b = sg_buf_new(SCRIPT_MAX);
	if (b == NULL) {
		sg_msg(ret_msg, "%s: out of memory", what);
		return -ENOMEM;
	}
	/* declaring everything first makes the deletes succeed when some or
	 * all of it is absent; map elements go before what they refer to */
	r = put_sandbox_objects(b, t, tap);
	if (r == 0)
		r = sg_buf_putf(b,
			"delete element inet %s pre_map { \"%s\" }\n"
			"delete element inet %s in_map { \"%s\" }\n"
			"delete element inet %s fwd_map { \"%s\" }\n"
			"delete element inet %s dropctr { \"%s\" }\n"
			"delete element inet %s taps { \"%s\" }\n"
			"flush chain inet %s pre_%s\n"
			"flush chain inet %s in_%s\n"
			"flush chain inet %s fwd_%s\n"
			"delete chain inet %s pre_%s\n"
			"delete chain inet %s in_%s\n"
			"delete chain inet %s fwd_%s\n"
			"delete set inet %s dyn_%s\n"
			"delete set inet %s dynany_%s\n"
			"delete counter inet %s c_%s\n",
			t, tap, t, tap, t, tap, t, tap, t, tap,
			t, tap, t, tap, t, tap,
			t, tap, t, tap, t, tap,
			t, tap, t, tap, t, tap);
	r = build_and_run(n, b, r, what, NULL, ret_msg);
	sg_buf_free(b);
	return r;
}

/* Reads "packets N bytes M" from the listing of one named counter. */
static int
read_counter(struct np_nft *n, const char *name, const char *what,
	     uint64_t *ret_packets, uint64_t *ret_bytes, char **ret_msg)
{
	char script[160], *out = NULL;
	const char *p;
	uint64_t pk, by;
	int r;

	r = snprintf(script, sizeof(script), "list counter inet %s %s\n", n->table, name);
	if (r < 0 || (size_t)r >= sizeof(script))
		abort();	/* cannot happen: both names are bounded */
	r = nft_run(n, script, what, &out, ret_msg);
	if (r < 0)
		return r;
	/* the shape is "counter NAME {\n\t\tpackets N bytes M\n\t}" */
	p = strstr(out, "packets ");
	if (p == NULL || sscanf(p, "packets %" SCNu64 " bytes %" SCNu64, &pk, &by) != 2) {
		sg_msg(ret_msg, "%s: unexpected output from nftables", what);
		free(out);
		return -EIO;
	}
	free(out);
	*ret_packets = pk;
	*ret_bytes = by;
	return 0;
}

int
np_nft_counters(struct np_nft *n, const char *tap, uint64_t *ret_packets,
		uint64_t *ret_bytes, char **ret_msg)
{
	static const char what[] = "cannot read the drop counter";
	char name[NP_NFT_IFNAME_MAX + 3];
	int r;

	if (tap == NULL) {
		r = read_counter(n, "d_total", what, ret_packets, ret_bytes, ret_msg);
		if (r == -ENOENT)
			no_sandbox(n, NULL, what, ret_msg);
		return r;
	}
	r = check_tap(n, tap, 0, what, ret_msg);
	if (r < 0)
		return r;
	r = snprintf(name, sizeof(name), "c_%s", tap);
	if (r < 0 || (size_t)r >= sizeof(name))
		abort();	/* cannot happen: the tap name is checked */
	r = read_counter(n, name, what, ret_packets, ret_bytes, ret_msg);
	if (r == -ENOENT)
		no_sandbox(n, tap, what, ret_msg);
	return r;
}

int
np_nft_reason_counters(struct np_nft *n, const char *reason, uint64_t *ret_packets,
		       uint64_t *ret_bytes, char **ret_msg)
{
	static const char what[] = "cannot read the drop counter";
	char name[32];
	size_t i;
	int r;

	for (i = 0; np_nft_reasons[i] != NULL; i++)
		if (reason != NULL && strcmp(reason, np_nft_reasons[i]) == 0)
			break;
	if (np_nft_reasons[i] == NULL) {
		sg_msg(ret_msg, "%s: unknown drop reason \"%.40s\"", what,
			reason ? reason : "(null)");
		return -EINVAL;
	}
	if ((size_t)snprintf(name, sizeof(name), "d_%s", np_nft_reasons[i]) >= sizeof(name))
		abort();	/* cannot happen: the reasons are short */
	r = read_counter(n, name, what, ret_packets, ret_bytes, ret_msg);
	if (r == -ENOENT)
		no_sandbox(n, NULL, what, ret_msg);
	return r;
}

/* If line (without leading blanks) is "<kind> <pfx><tap> {", returns a
 * copy of the tap name in *ret (NULL if the line is something else). */
static int
tap_of_line(const char *line, size_t len, char **ret)
{
	static const struct { const char *kind, *pfx; } objs[] = {
		{ "chain ", "pre_" }, { "chain ", "in_" }, { "chain ", "fwd_" },
		{ "set ", "dyn_" }, { "set ", "dynany_" }, { "counter ", "c_" },
	};
	char name[NP_NFT_IFNAME_MAX + 1];
	size_t i, kl, pl, nl;

	*ret = NULL;
	for (i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		kl = strlen(objs[i].kind);
		pl = strlen(objs[i].pfx);
		if (len < kl + pl + 3 || memcmp(line, objs[i].kind, kl) != 0 ||
		    memcmp(line + kl, objs[i].pfx, pl) != 0 ||
		    memcmp(line + len - 2, " {", 2) != 0)
			continue;
		nl = len - kl - pl - 2;
		if (nl > NP_NFT_IFNAME_MAX)
			continue;
		memcpy(name, line + kl + pl, nl);
		name[nl] = '\0';
		if (!np_nft_tap_valid(name))
			continue;
		*ret = strdup(name);
		return *ret == NULL ? -ENOMEM : 0;
	}
	return 0;
}

int
np_nft_list_taps(struct np_nft *n, char ***ret, size_t *ret_n, char **ret_msg)
{
	static const char what[] = "cannot list the sandboxes in the nftables table";
	char script[96], *out = NULL, **v = NULL, **nv, *tap;
	const char *line, *end;
	size_t nv_len = 0, cap = 0, i, j, len;
	unsigned flags;
	int r;

	if ((size_t)snprintf(script, sizeof(script), "list table inet %s\n", n->table) >=
	    sizeof(script))
		abort();	/* cannot happen: the table name is checked */
	/* terse: without set elements, which can be many */
	flags = nft_ctx_output_get_flags(n->ctx);
	nft_ctx_output_set_flags(n->ctx, flags | NFT_CTX_OUTPUT_TERSE);
	r = nft_run(n, script, what, &out, ret_msg);
	nft_ctx_output_set_flags(n->ctx, flags);
	if (r == -ENOENT) {
		/* no table: nothing to clean up */
		if (ret_msg != NULL) {
			free(*ret_msg);
			*ret_msg = NULL;
		}
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (r < 0)
		return r;
	for (line = out; *line != '\0'; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		while (line < end && (*line == '\t' || *line == ' '))
			line++;
		len = (size_t)(end - line);
		r = tap_of_line(line, len, &tap);
		if (r < 0)
			goto nomem;
		if (tap == NULL)
			continue;
		if (nv_len == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(tap);
				r = -ENOMEM;
				goto nomem;
			}
			v = nv;
		}
		v[nv_len++] = tap;
	}
	free(out);
	out = NULL;
	if (nv_len > 0)
		sg_strv_sort(v, nv_len);
	/* each tap owns several objects: keep one of each */
	for (i = 0, j = 0; i < nv_len; i++) {
		if (j > 0 && strcmp(v[j - 1], v[i]) == 0) {
			free(v[i]);
			continue;
		}
		v[j++] = v[i];
	}
	*ret = v;
	*ret_n = j;
	return 0;
nomem:
	sg_msg(ret_msg, "%s: out of memory", what);
	sg_strv_free(v, nv_len);
	free(out);
	return r;
}
