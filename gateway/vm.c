/* sg_vm: sandbox virtual machines on libvirt, see vm.h. This file is the
 * libvirt side (the connection, each sandbox's lifecycle); the domain XML
 * is vmxml.c's and the files vmdisk.c's (vmint.h). */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vm_sockets.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/ini.h"
#include "common/text.h"
#include "common/buf.h"
#include "gateway/conf.h"
#include "gateway/vm.h"
#include "gateway/vmint.h"

const char *vm_lv_msg(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

int vm_lv_code(void)
{
	virErrorPtr e = virGetLastError();

	return e ? e->code : VIR_ERR_OK;
}

/* Keeps libvirt from printing errors on stderr; we report them ourselves. */
static void lv_quiet(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

/* Reads the user and group QEMU runs as from libvirt's capabilities:
 * <secmodel><model>dac</model>...<baselabel type='qemu'>+64055:+64055<...
 * and the user's supplementary groups. */
static void read_qemu_ids(struct sg_vm_host *h)
{
	static const char *types[2] = { "qemu", "kvm" };
	char *caps = virConnectGetCapabilities(h->conn);
	const char *p, *end;
	int i;

	for (i = 0; i < 2; i++) {
		h->qemu[i].uid = geteuid();
		h->qemu[i].gid = getegid();
		h->qemu[i].groups[0] = getegid();
		h->qemu[i].ngroups = 1;
	}
	if (!caps)
		return;
	p = strstr(caps, "<model>dac</model>");
	end = p ? strstr(p, "</secmodel>") : NULL;
	for (i = 0; p && end && i < 2; i++) {
		struct qemu_id *q = &h->qemu[i];
		struct passwd *pw;
		char pat[64];
		const char *c;
		unsigned long u, g;
		char *e;

		snprintf(pat, sizeof(pat), "<baselabel type='%s'>+", types[i]);
		c = strstr(p, pat);
		if (!c || c > end)
			continue;
		c += strlen(pat);
		if (!isdigit((unsigned char)*c))
			continue;
		errno = 0;
		u = strtoul(c, &e, 10);
		if (errno || e[0] != ':' || e[1] != '+' || !isdigit((unsigned char)e[2]) ||
		    u > UINT32_MAX - 1)
			continue;
		g = strtoul(e + 2, &e, 10);
		if (errno || *e != '<' || g > UINT32_MAX - 1)
			continue;
		q->uid = (uid_t)u;
		q->gid = (gid_t)g;
		q->groups[0] = q->gid;
		q->ngroups = 1;
		q->have_dac = 1;
		pw = getpwuid(q->uid);
		if (pw) {
			int n = (int)(sizeof(q->groups) / sizeof(q->groups[0]));

			/* as libvirt does: the groups of the user's passwd entry
			 * (QEMU runs with those plus q->gid); too many: none */
			if (getgrouplist(pw->pw_name, pw->pw_gid, q->groups, &n) >= 0) {
				q->ngroups = n;
			} else {
				q->groups[0] = q->gid;
				q->ngroups = 1;
			}
		}
	}
	free(caps);
}

/* ---- connection ---- */

int sg_vm_connect(const char *uri, struct sg_vm_host **ret, char **ret_err)
{
	struct sg_vm_host *h;

	if (!uri)
		return sg_fail(ret_err, -EINVAL, "no libvirt URI");
	virSetErrorFunc(NULL, lv_quiet);
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->uri = strdup(uri);
	if (!h->uri) {
		free(h);
		return -ENOMEM;
	}
	h->conn = virConnectOpen(uri);
	if (!h->conn) {
		int r = sg_fail(ret_err, -ECONNREFUSED, "cannot connect to libvirt at %s: %s; is "
				 "libvirtd running? (systemctl start libvirtd)", uri, vm_lv_msg());
		sg_vm_host_free(h);
		return r;
	}
	virConnSetErrorFunc(h->conn, NULL, lv_quiet);
	read_qemu_ids(h);
	*ret = h;
	return 0;
}

void sg_vm_host_free(struct sg_vm_host *h)
{
	if (!h)
		return;
	if (h->conn)
		virConnectClose(h->conn);
	free(h->uri);
	free(h);
}

int sg_vm_host_alive(struct sg_vm_host *h)
{
	unsigned long v;

	if (!h || !h->conn || virConnectIsAlive(h->conn) != 1)
		return 0;
	/* Without an event loop the client learns that libvirtd went away
	 * (restarted) only from a call that fails: make a cheap one, so the
	 * caller's own call is not the one that fails. */
	if (virConnectGetLibVersion(h->conn, &v) < 0) {
		virResetLastError();
		return 0;
	}
	return 1;
}

/* ---- lifecycle ---- */

int sg_vm_create(struct sg_vm_host *h, const struct sg_vm_spec *s, char **ret_err)
{
	struct sg_vm_image *img = NULL;
	char *sbdir = NULL, *dir = NULL, *disk = NULL, *xml = NULL, *imgerr = NULL;
	virDomainPtr dom = NULL;
	const struct qemu_id *q;
	int r, made_dir = 0;

	r = vm_spec_check(s, ret_err);
	if (r < 0)
		return r;
	if (!h || !h->conn)
		return sg_fail(ret_err, -ENOTCONN, "not connected to libvirt");
	if (!vm_valid_path(s->image_dir))
		return sg_fail(ret_err, -EINVAL, "image_dir must be an absolute path");
	q = &h->qemu[s->domain_type == SG_VM_KVM ? 1 : 0];

	r = sg_vm_image_load(s->image_dir, &img, &imgerr);
	if (r < 0) {
		r = sg_fail(ret_err, r, "image %s: %s", s->image, imgerr ? imgerr : strerror(-r));
		goto fail;
	}
	r = vm_qemu_can_reach(q, img->dir, "image folder", ret_err);
	if (r >= 0)
		r = vm_qemu_can_read(q, img->kernel, ret_err);
	if (r >= 0)
		r = vm_qemu_can_read(q, img->initrd, ret_err);
	if (r >= 0)
		r = vm_qemu_can_read(q, img->rootfs, ret_err);
	if (r < 0)
		goto fail;
	sbdir = vm_sb_path(s->state_dir, NULL, NULL);
	dir = vm_sb_path(s->state_dir, s->id, NULL);
	disk = vm_sb_path(s->state_dir, s->id, "disk.qcow2");
	if (!sbdir || !dir || !disk) {
		r = -ENOMEM;
		goto fail;
	}
	r = vm_qemu_can_reach(q, s->state_dir, "state_dir", ret_err);
	if (r < 0)
		goto fail;
	r = vm_make_dir(sbdir, q->gid, 0);
	if (r < 0) {
		r = sg_fail(ret_err, r, "cannot create %s: %s", sbdir, strerror(-r));
		goto fail;
	}
	r = vm_make_dir(dir, q->gid, !s->reuse_disk);
	if (r < 0) {
		r = sg_fail(ret_err, r, r == -EEXIST ? "sandbox id %s is already in use (%s exists)"
			     : "cannot create the folder of sandbox %s: %s", s->id,
			     r == -EEXIST ? dir : strerror(-r));
		goto fail;
	}
	if (s->reuse_disk) {
		struct stat st;

		if (stat(disk, &st) < 0) {
			r = sg_fail(ret_err, -ENOENT, "sandbox %s has no disk to boot from",
				    s->id);
			goto fail;
		}
	} else {
		made_dir = 1;
		r = vm_make_overlay(img->rootfs, disk, s->disk_gb, ret_err);
		if (r < 0)
			goto fail;
	}
	/* the overlay belongs to QEMU's user (libvirt does not relabel) */
	if (chown(disk, q->uid, q->gid) < 0 || chmod(disk, 0600) < 0) {
		r = sg_fail(ret_err, -errno, "cannot hand %s to QEMU's user: %s", disk,
			     strerror(errno));
		goto fail;
	}
	/* its volumes too, for as long as it runs (the caller takes them back) */
	for (size_t i = 0; i < s->nvolumes; i++) {
		r = sg_vm_volume_hand(h, s->volumes[i].file, s->volumes[i].ro ? 1 : 2,
				      s->domain_type, ret_err);
		if (r < 0)
			goto fail;
	}
	r = sg_vm_domain_xml(s, img, q->have_dac ? (long)q->uid : -1,
			     q->have_dac ? (long)q->gid : -1, &xml);
	if (r < 0) {
		r = sg_fail(ret_err, r, "cannot describe sandbox %s to libvirt: %s", s->id,
			     strerror(-r));
		goto fail;
	}
	dom = virDomainCreateXML(h->conn, xml, VIR_DOMAIN_NONE);
	if (!dom) {
		int code = vm_lv_code();

		if (code == VIR_ERR_OPERATION_FAILED && strstr(vm_lv_msg(), "already exists"))
			r = -EEXIST;
		else if (code == VIR_ERR_SYSTEM_ERROR || code == VIR_ERR_RPC ||
			 code == VIR_ERR_NO_CONNECT)
			r = -ECONNREFUSED;
		else
			r = -EIO;
		r = sg_fail(ret_err, r, "libvirt refused to start the sandbox: %s", vm_lv_msg());
		goto fail;
	}
	virDomainFree(dom);
	r = 0;
	goto out;
fail:
	if (made_dir)
		vm_remove_sandbox_dir(s->state_dir, s->id);
out:
	sg_vm_image_free(img);
	free(imgerr);
	free(sbdir);
	free(dir);
	free(disk);
	free(xml);
	return r;
}

/* Looks up the domain of sandbox id. Returns 0 and *ret, -ENOENT when
 * libvirt knows no such domain, or another negative errno (message set). */
int vm_lookup(struct sg_vm_host *h, const char *id, virDomainPtr *ret, char **ret_err)
{
	char name[sizeof(SG_VM_DOMAIN_PREFIX) + SG_VM_ID_LEN];
	virDomainPtr dom;

	if (!sg_vm_valid_id(id))
		return sg_fail(ret_err, -EINVAL, "invalid sandbox id: expected 12 lowercase hex digits");
	if (!h || !h->conn)
		return sg_fail(ret_err, -ENOTCONN, "not connected to libvirt");
	snprintf(name, sizeof(name), SG_VM_DOMAIN_PREFIX "%s", id);
	dom = virDomainLookupByName(h->conn, name);
	if (!dom) {
		if (vm_lv_code() == VIR_ERR_NO_DOMAIN)
			return sg_fail(ret_err, -ENOENT, "no sandbox %s", id);
		return sg_fail(ret_err, -EIO, "cannot look up sandbox %s in libvirt: %s", id,
				vm_lv_msg());
	}
	*ret = dom;
	return 0;
}

int sg_vm_destroy(struct sg_vm_host *h, const char *id, const char *state_dir, char **ret_err)
{
	virDomainPtr dom = NULL;
	int r, r2;

	if (!sg_vm_valid_id(id) || !vm_valid_path(state_dir))
		return sg_fail(ret_err, -EINVAL, "invalid sandbox id or state_dir");
	r = vm_lookup(h, id, &dom, ret_err);
	if (r == -ENOENT) {
		if (ret_err) {
			free(*ret_err);
			*ret_err = NULL;
		}
		r = 0;
	} else if (r == 0) {
		if (virDomainDestroy(dom) < 0) {
			int code = vm_lv_code();

			/* gone or stopped meanwhile: that is what we wanted */
			if (code != VIR_ERR_NO_DOMAIN && code != VIR_ERR_OPERATION_INVALID)
				r = sg_fail(ret_err, -EIO, "libvirt could not stop sandbox %s: %s",
					     id, vm_lv_msg());
		}
		virDomainFree(dom);
	}
	/* a domain that runs on keeps its folder: the next start adopts it
	 * (without it, nothing would find that QEMU again) */
	if (r < 0)
		return r;
	r2 = vm_remove_sandbox_dir(state_dir, id);
	if (r2 < 0 && r == 0) {
		r = sg_fail(ret_err, r2, "cannot remove the files of sandbox %s in %s/sandboxes: %s",
			     id, state_dir, strerror(-r2));
	}
	return r;
}

int sg_vm_wait_gone(struct sg_vm_host *h, const char *id, int ms)
{
	virDomainPtr dom = NULL;
	int r, st, reason, waited;

	for (waited = 0;; waited += 50) {
		r = vm_lookup(h, id, &dom, NULL);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		st = VIR_DOMAIN_NOSTATE;
		if (virDomainGetState(dom, &st, &reason, 0) < 0)
			st = VIR_DOMAIN_SHUTOFF;	/* gone meanwhile */
		virDomainFree(dom);
		if (st == VIR_DOMAIN_SHUTOFF || st == VIR_DOMAIN_CRASHED)
			return 0;
		if (waited >= ms)
			return -ETIMEDOUT;
		usleep(50 * 1000);
	}
}

void sg_vm_info_free(struct sg_vm_info *v)
{
	free(v);
}

static const char *state_name(int st)
{
	switch (st) {
	case VIR_DOMAIN_RUNNING: return "running";
	case VIR_DOMAIN_BLOCKED: return "blocked";
	case VIR_DOMAIN_PAUSED: return "paused";
	case VIR_DOMAIN_SHUTDOWN: return "shutdown";
	case VIR_DOMAIN_SHUTOFF: return "shutoff";
	case VIR_DOMAIN_CRASHED: return "crashed";
	case VIR_DOMAIN_PMSUSPENDED: return "suspended";
	default: return "unknown";
	}
}

int sg_vm_list(struct sg_vm_host *h, struct sg_vm_info **ret, size_t *ret_n, char **ret_err)
{
	virDomainPtr *doms = NULL;
	struct sg_vm_info *v = NULL;
	size_t n = 0;
	int nd, i, r = 0;

	if (!h || !h->conn)
		return sg_fail(ret_err, -ENOTCONN, "not connected to libvirt");
	nd = virConnectListAllDomains(h->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (nd < 0)
		return sg_fail(ret_err, -EIO, "cannot list libvirt domains: %s", vm_lv_msg());
	if (nd > 0) {
		v = calloc((size_t)nd, sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < nd; i++) {
		const char *name = virDomainGetName(doms[i]);
		char *md;
		int st, reason;

		if (!name || strncmp(name, SG_VM_DOMAIN_PREFIX, strlen(SG_VM_DOMAIN_PREFIX)) != 0 ||
		    !sg_vm_valid_id(name + strlen(SG_VM_DOMAIN_PREFIX)))
			continue;
		md = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT, SG_VM_XMLNS,
					  VIR_DOMAIN_AFFECT_LIVE);
		if (!md)
			continue;   /* not ours, or gone meanwhile */
		memset(&v[n], 0, sizeof(v[n]));
		if (sg_vm_metadata_parse(md, &v[n]) < 0) {
			free(md);
			continue;
		}
		free(md);
		snprintf(v[n].id, sizeof(v[n].id), "%s", name + strlen(SG_VM_DOMAIN_PREFIX));
		if (virDomainGetState(doms[i], &st, &reason, 0) < 0)
			st = VIR_DOMAIN_NOSTATE;
		v[n].running = st == VIR_DOMAIN_RUNNING;
		snprintf(v[n].state, sizeof(v[n].state), "%s", state_name(st));
		n++;
	}
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*ret = v;
	*ret_n = n;
	v = NULL;
out:
	free(v);
	for (i = 0; i < nd; i++)
		virDomainFree(doms[i]);
	free(doms);
	return r;
}

/* What a metadata rewrite changes: the expiry, and for a claim of a pool
 * member (which must have no token yet) its owner and times too. */
struct meta_change {
	int64_t expires;
	const char *token;	/* NULL: not a claim */
	const char *name;
	int64_t created;
};

static int meta_rewrite(struct sg_vm_host *h, const char *id, const struct meta_change *c,
			char **ret_err)
{
	struct sg_vm_info v = { 0 };
	virDomainPtr dom = NULL;
	struct sg_buf *b = NULL;
	char *md = NULL, *xml = NULL;
	int r;

	if (c->expires < 0 || c->created < 0)
		return sg_fail(ret_err, -EINVAL, "invalid time");
	if (c->token && (!sg_vm_valid_token(c->token) || !c->name ||
			 (c->name[0] && !sg_vm_valid_name(c->name))))
		return sg_fail(ret_err, -EINVAL, "invalid token or sandbox name");
	r = vm_lookup(h, id, &dom, ret_err);
	if (r < 0)
		return r;
	md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, SG_VM_XMLNS,
				  VIR_DOMAIN_AFFECT_LIVE);
	if (!md) {
		r = vm_lv_code() == VIR_ERR_NO_DOMAIN ?
			sg_fail(ret_err, -ENOENT, "no sandbox %s", id) :
			sg_fail(ret_err, -EIO, "cannot read the metadata of sandbox %s: %s", id,
				 vm_lv_msg());
		goto out;
	}
	r = sg_vm_metadata_parse(md, &v);
	if (r < 0) {
		r = sg_fail(ret_err, r, "sandbox %s carries metadata sandgate cannot read", id);
		goto out;
	}
	if (c->token && v.token[0]) {
		r = sg_fail(ret_err, -EINVAL, "sandbox %s is not a pool member (token %s)", id,
			    v.token);
		goto out;
	}
	v.expires = c->expires;
	if (c->token) {
		snprintf(v.token, sizeof(v.token), "%s", c->token);
		snprintf(v.name, sizeof(v.name), "%s", c->name);
		v.created = c->created;
	}
	b = sg_buf_new(XML_MAX);
	if (!b) {
		r = -ENOMEM;
		goto out;
	}
	r = vm_put_metadata(b, &v, 0);
	if (r >= 0)
		r = vm_buf_to_str(b, &xml);
	if (r < 0)
		goto out;
	if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, SG_VM_XMLNS_PREFIX,
				 SG_VM_XMLNS, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		r = vm_lv_code() == VIR_ERR_NO_DOMAIN || vm_lv_code() == VIR_ERR_OPERATION_INVALID ?
			sg_fail(ret_err, -ENOENT, "sandbox %s is not running", id) :
			sg_fail(ret_err, -EIO, "libvirt could not update sandbox %s: %s", id,
				 vm_lv_msg());
		goto out;
	}
	/* a claimed pool member runs again, as its new owner's */
	if (c->token && virDomainResume(dom) < 0) {
		r = vm_lv_code() == VIR_ERR_NO_DOMAIN ?
			sg_fail(ret_err, -ENOENT, "sandbox %s is gone", id) :
			sg_fail(ret_err, -EIO, "cannot resume sandbox %s: %s", id, vm_lv_msg());
		goto out;
	}
	r = 0;
out:
	sg_buf_free(b);
	free(xml);
	free(md);
	if (dom)
		virDomainFree(dom);
	return r;
}

int sg_vm_set_expires(struct sg_vm_host *h, const char *id, int64_t expires, char **ret_err)
{
	struct meta_change c = { .expires = expires };

	return meta_rewrite(h, id, &c, ret_err);
}

int sg_vm_claim(struct sg_vm_host *h, const char *id, const char *token, const char *name,
		int64_t created, int64_t expires, char **ret_err)
{
	struct meta_change c = { .expires = expires, .token = token, .name = name,
				 .created = created };

	if (!token)
		return sg_fail(ret_err, -EINVAL, "no token");
	return meta_rewrite(h, id, &c, ret_err);
}

static int vm_pause(struct sg_vm_host *h, const char *id, int pause, char **ret_err)
{
	virDomainPtr dom = NULL;
	int r;

	r = vm_lookup(h, id, &dom, ret_err);
	if (r < 0)
		return r;
	r = 0;
	if ((pause ? virDomainSuspend(dom) : virDomainResume(dom)) < 0 &&
	    (pause || vm_lv_code() != VIR_ERR_OPERATION_INVALID))	/* running */
		r = vm_lv_code() == VIR_ERR_NO_DOMAIN ?
			sg_fail(ret_err, -ENOENT, "sandbox %s is gone", id) :
			sg_fail(ret_err, -EIO, "cannot %s sandbox %s: %s", pause ? "pause" : "resume",
				id, vm_lv_msg());
	virDomainFree(dom);
	return r;
}

int sg_vm_pause(struct sg_vm_host *h, const char *id, char **ret_err)
{
	return vm_pause(h, id, 1, ret_err);
}

int sg_vm_unpause(struct sg_vm_host *h, const char *id, char **ret_err)
{
	return vm_pause(h, id, 0, ret_err);
}

int sg_vm_cleanup_leftovers(struct sg_vm_host *h, const char *state_dir, char **ret_err)
{
	char *sbdir = NULL;
	struct dirent *de;
	DIR *d = NULL;
	int removed = 0, r = 0;

	if (!vm_valid_path(state_dir))
		return sg_fail(ret_err, -EINVAL, "invalid state_dir");
	sbdir = vm_sb_path(state_dir, NULL, NULL);
	if (!sbdir)
		return -ENOMEM;
	d = opendir(sbdir);
	if (!d) {
		r = errno == ENOENT ? 0 : sg_fail(ret_err, -errno, "cannot read %s: %s", sbdir,
						   strerror(errno));
		goto out;
	}
	while ((errno = 0, de = readdir(d))) {
		virDomainPtr dom = NULL;
		char id[SG_VM_ID_LEN + 1];
		int k;

		if (!sg_vm_valid_id(de->d_name))
			continue;
		memcpy(id, de->d_name, sizeof(id));   /* valid: exactly 12 + NUL */
		if (vm_has_hib(sbdir, id)) {
			(void)vm_hibernated_settle(h, state_dir, id);
			continue;	/* hibernated, or running: not a leftover */
		}
		k = vm_lookup(h, id, &dom, ret_err);
		if (k == 0) {
			virDomainFree(dom);
			continue;
		}
		if (k != -ENOENT) {
			r = k;
			goto out;
		}
		if (ret_err) {
			free(*ret_err);
			*ret_err = NULL;
		}
		k = vm_remove_sandbox_dir(state_dir, id);
		if (k < 0) {
			r = sg_fail(ret_err, k, "cannot remove %s/%s: %s", sbdir, id, strerror(-k));
			goto out;
		}
		removed++;
	}
	if (errno) {
		r = sg_fail(ret_err, -errno, "cannot read %s: %s", sbdir, strerror(errno));
		goto out;
	}
	r = removed;
out:
	if (d)
		closedir(d);
	free(sbdir);
	return r;
}

int sg_vm_agent_cid(struct sg_vm_host *h, const char *id, uint32_t *ret_cid, char **ret_err)
{
	virDomainPtr dom = NULL;
	char *xml = NULL;
	uint32_t cid;
	int r;

	if (!sg_vm_valid_id(id))
		return sg_fail(ret_err, -EINVAL, "invalid sandbox id");
	r = vm_lookup(h, id, &dom, ret_err);
	if (r < 0)
		return r;
	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml) {
		r = sg_fail(ret_err, vm_lv_code() == VIR_ERR_NO_DOMAIN ? -ENOENT : -EIO,
			     "cannot read the description of sandbox %s: %s", id, vm_lv_msg());
		goto out;
	}
	r = sg_vm_parse_vsock_cid(xml, &cid);
	if (r < 0) {
		r = sg_fail(ret_err, r, "sandbox %s has no vsock address in libvirt", id);
		goto out;
	}
	*ret_cid = cid;
	r = 0;
out:
	free(xml);
	virDomainFree(dom);
	return r;
}

int sg_vm_connect_agent(struct sg_vm_host *h, const char *id, const char *state_dir,
			int transport, int *ret_fd, char **ret_err)
{
	int fd = -1, r;

	if (!sg_vm_valid_id(id) || !vm_valid_path(state_dir))
		return sg_fail(ret_err, -EINVAL, "invalid sandbox id or state_dir");
	if (transport == SG_VM_VIRTIO_SERIAL) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		r = sg_vm_agent_path(state_dir, id, sa.sun_path, sizeof(sa.sun_path));
		if (r < 0)
			return sg_fail(ret_err, r, "the agent socket path of sandbox %s is longer "
					"than %zu bytes: choose a shorter state_dir", id,
					sizeof(sa.sun_path) - 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return sg_fail(ret_err, -errno, "socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			r = sg_fail(ret_err, -errno, "cannot connect to the agent of sandbox %s "
				     "(%s): %s", id, sa.sun_path, strerror(errno));
			goto fail;
		}
	} else if (transport == SG_VM_VSOCK) {
		struct sockaddr_vm sv = { .svm_family = AF_VSOCK, .svm_port = SG_VM_VSOCK_PORT };
		uint32_t cid;

		r = sg_vm_agent_cid(h, id, &cid, ret_err);
		if (r < 0)
			return r;
		sv.svm_cid = cid;
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = sg_fail(ret_err, -errno, "cannot open a vsock socket: %s (is the "
				     "vhost_vsock module loaded?)", strerror(errno));
			goto fail;
		}
		if (connect(fd, (struct sockaddr *)&sv, sizeof(sv)) < 0) {
			r = sg_fail(ret_err, -errno, "cannot connect to the agent of sandbox %s "
				     "(vsock %u:%u): %s", id, cid, SG_VM_VSOCK_PORT, strerror(errno));
			goto fail;
		}
	} else {
		return sg_fail(ret_err, -EINVAL, "invalid transport %d", transport);
	}
	*ret_fd = fd;
	fd = -1;
	r = 0;
fail:
	if (fd >= 0)
		close(fd);
	return r;
}


/* ---- snapshots ---- */

int sg_vm_snapshot(struct sg_vm_host *h, const struct sg_vm_snap_spec *s, char **ret_err)
{
	struct sg_vm_image *img = NULL;
	const struct qemu_id *q;
	char *disk = NULL, *tmp = NULL, *out = NULL, *imgerr = NULL, *ferr = NULL;
	virDomainPtr dom = NULL;
	int r, paused = 0, made = 0;

	if (!sg_vm_valid_id(s->id) || !vm_valid_path(s->state_dir) ||
	    !vm_valid_path(s->image_dir) || !vm_valid_path(s->dest))
		return sg_fail(ret_err, -EINVAL, "invalid snapshot request");
	if (!h || !h->conn)
		return sg_fail(ret_err, -ENOTCONN, "not connected to libvirt");
	q = &h->qemu[s->domain_type == SG_VM_KVM ? 1 : 0];
	r = sg_vm_image_load(s->image_dir, &img, &imgerr);
	if (r < 0) {
		r = sg_fail(ret_err, r, "the image sandbox %s was made from: %s", s->id,
			    imgerr ? imgerr : strerror(-r));
		goto out;
	}
	disk = vm_sb_path(s->state_dir, s->id, "disk.qcow2");
	if (!disk || asprintf(&out, "%s.tmp/rootfs.qcow2", s->dest) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = vm_tmp_begin(s->dest, q->gid, &tmp, ret_err);
	if (r < 0)
		goto out;
	made = 1;
	if (s->offline) {
		/* hibernated: no QEMU holds the disk, which is as it was saved */
		r = vm_flatten(disk, out, ret_err);
		if (r < 0)
			goto out;
		goto copied;
	}
	r = vm_lookup(h, s->id, &dom, ret_err);
	if (r < 0)
		goto out;
	/* paused, QEMU has drained and flushed the disk: the copy is what a
	 * power cut would leave (the guest's page cache is not in it) */
	if (virDomainSuspend(dom) < 0) {
		r = sg_fail(ret_err, -EIO, "cannot pause sandbox %s: %s", s->id, vm_lv_msg());
		goto out;
	}
	paused = 1;
	r = vm_flatten(disk, out, ret_err);
	if (virDomainResume(dom) < 0) {
		if (r == 0)
			r = sg_fail(ret_err, -EIO, "cannot resume sandbox %s: %s", s->id,
				    vm_lv_msg());
	} else {
		paused = 0;
	}
	if (r < 0)
		goto out;
copied:
	if (chown(out, 0, q->gid) < 0 || chmod(out, 0640) < 0) {
		r = sg_fail(ret_err, -errno, "cannot hand %s to QEMU's group: %s", out,
			    strerror(errno));
		goto out;
	}
	r = vm_snapshot_files(img, tmp, s->note, &ferr);
	if (r < 0) {
		r = sg_fail(ret_err, r, "%s", ferr ? ferr : strerror(-r));
		goto out;
	}
	r = vm_tmp_done(tmp, s->dest, "snapshot", ret_err);
	if (r < 0)
		goto out;
	made = 0;
out:
	if (paused)
		(void)virDomainResume(dom);
	if (dom)
		virDomainFree(dom);
	if (made)
		(void)vm_remove_flat_dir(tmp);
	sg_vm_image_free(img);
	free(imgerr);
	free(ferr);
	free(disk);
	free(tmp);
	free(out);
	return r;
}
