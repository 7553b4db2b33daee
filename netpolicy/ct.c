/* np_ct: conntrack entries of a sandbox's network. See ct.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netfilter/ct.h>
#include <netlink/netfilter/nfnl.h>
#include <netlink/socket.h>

#include "common/text.h"
#include "netpolicy/ct.h"

struct walk {
	struct nl_sock *sk;
	uint32_t net, mask;
	int del;		/* delete, or only count */
	size_t n;
	int err;		/* the first error of a delete */
};

static int
in_net(const struct walk *w, struct nl_addr *a)
{
	uint32_t v;

	if (a == NULL || nl_addr_get_family(a) != AF_INET ||
	    nl_addr_get_len(a) != 4)
		return 0;
	memcpy(&v, nl_addr_get_binary_addr(a), 4);
	return (ntohl(v) & w->mask) == w->net;
}

static void
one(struct nl_object *obj, void *arg)
{
	struct nfnl_ct *ct = (struct nfnl_ct *)obj;
	struct walk *w = arg;
	int r;

	if (nfnl_ct_get_family(ct) != AF_INET)
		return;
	if (!in_net(w, nfnl_ct_get_src(ct, 0)) &&
	    !in_net(w, nfnl_ct_get_dst(ct, 0)) &&
	    !in_net(w, nfnl_ct_get_src(ct, 1)) &&
	    !in_net(w, nfnl_ct_get_dst(ct, 1)))
		return;
	if (w->del) {
		r = nfnl_ct_del(w->sk, ct, 0);
		/* gone meanwhile (it timed out or closed): as good */
		if (r < 0 && r != -NLE_OBJ_NOTFOUND) {
			if (w->err == 0)
				w->err = r;
			return;
		}
	}
	w->n++;
}

static int
walk(uint32_t net, unsigned prefix, int del, size_t *ret_n, char **ret_msg)
{
	struct nl_cache *cache = NULL;
	struct walk w;
	int r;

	if (prefix < 1 || prefix > 32) {
		sg_msg(ret_msg, "bad prefix /%u", prefix);
		return -EINVAL;
	}
	memset(&w, 0, sizeof(w));
	w.mask = ~UINT32_C(0) << (32 - prefix);
	w.net = net & w.mask;
	w.del = del;
	w.sk = nl_socket_alloc();
	if (w.sk == NULL)
		return -ENOMEM;
	r = nfnl_connect(w.sk);
	if (r == 0)
		r = nfnl_ct_alloc_cache(w.sk, &cache);
	if (r == 0) {
		nl_cache_foreach(cache, one, &w);
		r = w.err;
	}
	if (r < 0) {
		int e = r == -NLE_PERM ? -EPERM : -EIO;

		sg_msg(ret_msg, "connection tracking: %s%s", nl_geterror(r),
		    e == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		r = e;
	}
	nl_cache_free(cache);
	nl_socket_free(w.sk);
	if (r == 0 && ret_n != NULL)
		*ret_n = w.n;
	return r;
}

int
np_ct_flush(uint32_t net, unsigned prefix, size_t *ret_n, char **ret_msg)
{
	return walk(net, prefix, 1, ret_n, ret_msg);
}

int
np_ct_count(uint32_t net, unsigned prefix, size_t *ret_n, char **ret_msg)
{
	return walk(net, prefix, 0, ret_n, ret_msg);
}
