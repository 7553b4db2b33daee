/* sg_vm, its pure part: names and paths, the domain XML written for
 * libvirt and the strict reader of what comes back (vmint.h, vm.h).
 * Nothing here touches libvirt or the file system. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/text.h"
#include "gateway/vm.h"
#include "gateway/vmint.h"

#define ATTR_VALUE_MAX 4096         /* one decoded attribute value */
#define TAG_ATTRS_MAX 16

/* ---- messages and validation ---- */

/* libvirt's last error message, never NULL. */
static int valid_chars(const char *s, size_t max, const char *extra)
{
	size_t i;

	if (!s || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (i >= max)
			return 0;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (!strchr(extra, c))
			return 0;
	}
	return 1;
}

int sg_vm_valid_id(const char *s)
{
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < SG_VM_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[SG_VM_ID_LEN] == '\0';
}

int sg_vm_valid_name(const char *s) { return valid_chars(s, SG_VM_NAME_MAX, "-"); }
int sg_vm_valid_token(const char *s) { return valid_chars(s, SG_VM_TOKEN_MAX, "_-"); }
int sg_vm_valid_image(const char *s) { return valid_chars(s, SG_VM_IMAGE_MAX, "._-"); }

const char *sg_vm_transport_name(int transport)
{
	switch (transport) {
	case SG_VM_VIRTIO_SERIAL:
		return "virtio-serial";
	case SG_VM_VSOCK:
		return "vsock";
	default:
		return NULL;
	}
}

int sg_vm_transport_from_name(const char *s)
{
	if (s && strcmp(s, "virtio-serial") == 0)
		return SG_VM_VIRTIO_SERIAL;
	if (s && strcmp(s, "vsock") == 0)
		return SG_VM_VSOCK;
	return -EINVAL;
}

/* An absolute path without control characters (they cannot go into XML or
 * a QEMU command line), at most PATH_MAX - 64 bytes so files fit inside. */
int vm_valid_path(const char *p)
{
	size_t i;

	if (!p || p[0] != '/')
		return 0;
	for (i = 0; p[i]; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || i >= PATH_MAX - 64)
			return 0;
	return 1;
}

/* Checks every field of s; returns 0 or -EINVAL with a message. */
int vm_spec_check(const struct sg_vm_spec *s, char **ret_err)
{
	if (!s)
		return sg_fail(ret_err, -EINVAL, "no sandbox specification");
	if (!sg_vm_valid_id(s->id))
		return sg_fail(ret_err, -EINVAL, "invalid sandbox id: expected 12 lowercase hex digits");
	/* "": a member of the warm pool, no token's yet */
	if (!s->token || (s->token[0] && !sg_vm_valid_token(s->token)))
		return sg_fail(ret_err, -EINVAL, "invalid token name for sandbox %s", s->id);
	if (!s->name || (s->name[0] && !sg_vm_valid_name(s->name)))
		return sg_fail(ret_err, -EINVAL, "invalid sandbox name for sandbox %s", s->id);
	if (!sg_vm_valid_image(s->image))
		return sg_fail(ret_err, -EINVAL, "invalid image name for sandbox %s", s->id);
	if (s->memory_mb < 64 || s->memory_mb > 1048576)
		return sg_fail(ret_err, -EINVAL, "memory_mb = %u is out of range", s->memory_mb);
	if (s->vcpus < 1 || s->vcpus > 256)
		return sg_fail(ret_err, -EINVAL, "vcpus = %u is out of range", s->vcpus);
	if (s->tap != NULL) {
		size_t i, n = strlen(s->tap);

		for (i = 0; i < n; i++)
			if (!((s->tap[i] >= 'a' && s->tap[i] <= 'z') ||
			    (s->tap[i] >= '0' && s->tap[i] <= '9') || s->tap[i] == '-'))
				break;
		if (n == 0 || n > 15 || i < n)
			return sg_fail(ret_err, -EINVAL, "tap name \"%s\" is not valid", s->tap);
	}
	if (s->disk_gb > 65536)
		return sg_fail(ret_err, -EINVAL, "disk_gb = %u is out of range", s->disk_gb);
	if (s->domain_type != SG_VM_QEMU && s->domain_type != SG_VM_KVM)
		return sg_fail(ret_err, -EINVAL, "invalid domain type %d", s->domain_type);
	if (!sg_vm_transport_name(s->transport))
		return sg_fail(ret_err, -EINVAL, "invalid transport %d", s->transport);
	if (!vm_valid_path(s->state_dir))
		return sg_fail(ret_err, -EINVAL, "state_dir must be an absolute path without "
				"control characters");
	if (s->owner_pid < 0 || s->created < 0 || s->expires < 0)
		return sg_fail(ret_err, -EINVAL, "invalid times or owner pid for sandbox %s", s->id);
	if (s->nvolumes > SG_VM_VOLUMES_MAX || (s->nvolumes > 0 && !s->volumes))
		return sg_fail(ret_err, -EINVAL, "sandbox %s: more than %d volumes", s->id,
			       SG_VM_VOLUMES_MAX);
	for (size_t i = 0; i < s->nvolumes; i++) {
		const char *se = s->volumes[i].serial;

		if (!vm_valid_path(s->volumes[i].file) || !se || !se[0] || strlen(se) > 20 ||
		    strspn(se, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(se))
			return sg_fail(ret_err, -EINVAL, "sandbox %s: volume %zu is not valid",
				       s->id, i);
	}
	return 0;
}

/* ---- paths ---- */

/* "<state_dir>/sandboxes" or "<state_dir>/sandboxes/<id>[/<file>]" into
 * a new string. Returns NULL when out of memory. */
char *vm_sb_path(const char *state_dir, const char *id, const char *file)
{
	char *p = NULL;
	int n;

	if (!id)
		n = asprintf(&p, "%s/sandboxes", state_dir);
	else if (!file)
		n = asprintf(&p, "%s/sandboxes/%s", state_dir, id);
	else
		n = asprintf(&p, "%s/sandboxes/%s/%s", state_dir, id, file);
	return n < 0 ? NULL : p;
}

int sg_vm_agent_path(const char *state_dir, const char *id, char *buf, size_t size)
{
	int n;

	if (!sg_vm_valid_id(id) || !vm_valid_path(state_dir))
		return -EINVAL;
	n = snprintf(NULL, 0, "%s/sandboxes/%s/agent.sock", state_dir, id);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	snprintf(buf, size, "%s/sandboxes/%s/agent.sock", state_dir, id);
	return 0;
}

/* ---- XML out ---- */

/* Appends s with the five XML specials escaped. Control characters are
 * refused (-EINVAL): XML 1.0 cannot carry most of them. */
static int put_esc(struct sg_buf *b, const char *s)
{
	int r = 0;

	for (; *s && r >= 0; s++) {
		switch (*s) {
		case '&': r = sg_buf_put(b, "&amp;", 5); break;
		case '<': r = sg_buf_put(b, "&lt;", 4); break;
		case '>': r = sg_buf_put(b, "&gt;", 4); break;
		case '"': r = sg_buf_put(b, "&quot;", 6); break;
		case '\'': r = sg_buf_put(b, "&apos;", 6); break;
		default:
			if ((unsigned char)*s < 0x20 || *s == 0x7f)
				return -EINVAL;
			r = sg_buf_put(b, s, 1);
		}
	}
	return r;
}

/* Appends pre, escaped val, post. */
static int put3(struct sg_buf *b, const char *pre, const char *val, const char *post)
{
	int r = sg_buf_put(b, pre, strlen(pre));

	if (r >= 0)
		r = put_esc(b, val);
	if (r >= 0)
		r = sg_buf_put(b, post, strlen(post));
	return r;
}

/* Copies the buffer into a NUL-terminated string. */
int vm_buf_to_str(struct sg_buf *b, char **ret)
{
	size_t n = sg_buf_len(b);
	char *s = malloc(n + 1);

	if (!s)
		return -ENOMEM;
	memcpy(s, sg_buf_data(b), n);
	s[n] = '\0';
	*ret = s;
	return 0;
}

/* Appends the metadata element for v; with_ns declares our namespace and
 * prefix (inside a domain XML), without it the element is unprefixed (for
 * virDomainSetMetadata, which adds the namespace itself). */
int vm_put_metadata(struct sg_buf *b, const struct sg_vm_info *v, int with_ns)
{
	int r;

	if ((v->token[0] && !sg_vm_valid_token(v->token)) ||
	    (v->name[0] && !sg_vm_valid_name(v->name)) ||
	    !sg_vm_valid_image(v->image) || !sg_vm_transport_name(v->transport) ||
	    v->created < 0 || v->expires < 0 || v->owner_pid < 0)
		return -EINVAL;
	if (with_ns)
		r = sg_buf_putf(b, "<%s:sandbox xmlns:%s='%s'", SG_VM_XMLNS_PREFIX,
				SG_VM_XMLNS_PREFIX, SG_VM_XMLNS);
	else
		r = sg_buf_putf(b, "<sandbox");
	if (r >= 0)
		r = put3(b, " token='", v->token, "'");
	if (r >= 0)
		r = put3(b, " name='", v->name, "'");
	if (r >= 0)
		r = put3(b, " image='", v->image, "'");
	if (r >= 0)
		r = put3(b, " transport='", sg_vm_transport_name(v->transport), "'");
	if (r >= 0)
		r = sg_buf_putf(b, " created='%" PRId64 "' expires='%" PRId64 "' owner_pid='%d'/>",
				v->created, v->expires, v->owner_pid);
	return r;
}

static void info_from_spec(const struct sg_vm_spec *s, struct sg_vm_info *v)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "%s", s->id);
	snprintf(v->token, sizeof(v->token), "%s", s->token);
	snprintf(v->name, sizeof(v->name), "%s", s->name);
	snprintf(v->image, sizeof(v->image), "%s", s->image);
	v->transport = s->transport;
	v->created = s->created;
	v->expires = s->expires;
	v->owner_pid = s->owner_pid;
}

int sg_vm_metadata_xml(const struct sg_vm_spec *s, char **ret_xml)
{
	struct sg_vm_info v;
	struct sg_buf *b = NULL;
	int r;

	r = vm_spec_check(s, NULL);
	if (r < 0)
		return r;
	info_from_spec(s, &v);
	b = sg_buf_new(XML_MAX);
	if (!b)
		return -ENOMEM;
	r = vm_put_metadata(b, &v, 1);
	if (r >= 0)
		r = vm_buf_to_str(b, ret_xml);
	sg_buf_free(b);
	return r < 0 ? (r == -ENOBUFS ? -EINVAL : r) : 0;
}

int sg_vm_domain_xml(const struct sg_vm_spec *s, const struct sg_vm_image *img,
		     long qemu_uid, long qemu_gid, char **ret_xml)
{
	struct sg_vm_info v;
	struct sg_buf *b = NULL;
	char *dir = NULL;
	int r;

	r = vm_spec_check(s, NULL);
	if (r < 0)
		return r;
	if (!img || !vm_valid_path(img->kernel) || !vm_valid_path(img->initrd) || !img->cmdline ||
	    (qemu_uid >= 0) != (qemu_gid >= 0) || qemu_uid > UINT32_MAX - 1 ||
	    qemu_gid > UINT32_MAX - 1)
		return -EINVAL;
	dir = vm_sb_path(s->state_dir, s->id, NULL);
	b = sg_buf_new(XML_MAX);
	if (!dir || !b) {
		r = -ENOMEM;
		goto out;
	}
	info_from_spec(s, &v);

	r = sg_buf_putf(b, "<domain type='%s'>\n"
			"  <name>" SG_VM_DOMAIN_PREFIX "%s</name>\n"
			"  <metadata>\n    ",
			s->domain_type == SG_VM_KVM ? "kvm" : "qemu", s->id);
	if (r >= 0)
		r = vm_put_metadata(b, &v, 1);
	if (r >= 0)
		r = sg_buf_putf(b, "\n  </metadata>\n"
				"  <memory unit='MiB'>%u</memory>\n"
				"  <vcpu placement='static'>%u</vcpu>\n"
				"  <os>\n"
				"    <type arch='x86_64' machine='q35'>hvm</type>\n",
				s->memory_mb, s->vcpus);
	if (r >= 0)
		r = put3(b, "    <kernel>", img->kernel, "</kernel>\n");
	if (r >= 0)
		r = put3(b, "    <initrd>", img->initrd, "</initrd>\n");
	if (r >= 0)
		r = put3(b, "    <cmdline>", img->cmdline, "</cmdline>\n");
	/* ACPI lets the guest power off (on_poweroff then ends the domain). */
	if (r >= 0)
		r = sg_buf_putf(b, "  </os>\n"
				"  <features>\n    <acpi/>\n  </features>\n"
				"%s"
				"  <clock offset='utc'/>\n"
				"  <on_poweroff>destroy</on_poweroff>\n"
				"  <on_reboot>destroy</on_reboot>\n"
				"  <on_crash>destroy</on_crash>\n",
				s->domain_type == SG_VM_KVM ?
				"  <cpu mode='host-passthrough'/>\n" : "");
	if (r >= 0)
		r = sg_buf_putf(b, "  <devices>\n"
				"    <disk type='file' device='disk'>\n");
	/* The overlay dies with the sandbox and a host crash takes the guest
	 * with it, so guest flushes need not reach the host disk: unsafe. */
	if (r >= 0)
		r = sg_buf_putf(b, "      <driver name='qemu' type='qcow2' cache='unsafe' "
				"discard='unmap'/>\n");
	if (r >= 0)
		r = put3(b, "      <source file='", dir, "/disk.qcow2'/>\n");
	if (r >= 0)
		r = sg_buf_putf(b, "      <target dev='vda' bus='virtio'/>\n"
				"    </disk>\n");
	/* Volumes outlive the sandbox: guest flushes reach the host disk. */
	for (size_t i = 0; r >= 0 && i < s->nvolumes; i++) {
		r = sg_buf_putf(b, "    <disk type='file' device='disk'>\n"
				"      <driver name='qemu' type='raw' cache='writeback'%s/>\n",
				s->volumes[i].ro ? "" : " discard='unmap'");
		if (r >= 0)
			r = put3(b, "      <source file='", s->volumes[i].file, "'/>\n");
		if (r >= 0)
			r = sg_buf_putf(b, "      <target dev='vd%c' bus='virtio'/>\n"
					"      <serial>%s</serial>\n%s"
					"    </disk>\n", (char)('b' + i), s->volumes[i].serial,
					s->volumes[i].ro ? "      <readonly/>\n" : "");
	}
	if (r >= 0)
		r = sg_buf_putf(b, "    <controller type='usb' model='none'/>\n"
				"    <serial type='file'>\n");
	if (r >= 0)
		r = put3(b, "      <source path='", dir, "/console.log'/>\n");
	if (r >= 0)
		r = sg_buf_putf(b, "      <target port='0'/>\n"
				"    </serial>\n"
				"    <console type='file'>\n");
	if (r >= 0)
		r = put3(b, "      <source path='", dir, "/console.log'/>\n");
	if (r >= 0)
		r = sg_buf_putf(b, "      <target type='serial' port='0'/>\n"
				"    </console>\n");
	if (r >= 0 && s->transport == SG_VM_VIRTIO_SERIAL) {
		r = sg_buf_putf(b, "    <channel type='unix'>\n");
		if (r >= 0)
			r = put3(b, "      <source mode='bind' path='", dir, "/agent.sock'/>\n");
		if (r >= 0)
			r = sg_buf_putf(b, "      <target type='virtio' name='%s'/>\n"
					"    </channel>\n", SG_VM_AGENT_CHANNEL);
	} else if (r >= 0) {
		r = sg_buf_putf(b, "    <vsock model='virtio'>\n"
				"      <cid auto='yes'/>\n"
				"    </vsock>\n");
	}
	/* The NIC is the tap the network policy made and filters (libvirt
	 * opens it and touches nothing else: managed='no'). Without a tap,
	 * no NIC: no egress at all. No graphics, no balloon. The MAC is
	 * derived from the id, locally administered. */
	if (r >= 0 && s->tap != NULL)
		r = sg_buf_putf(b, "    <interface type='ethernet'>\n"
				"      <mac address='52:54:00:%c%c:%c%c:%c%c'/>\n"
				"      <target dev='%s' managed='no'/>\n"
				"      <model type='virtio'/>\n"
				"    </interface>\n",
				s->id[6], s->id[7], s->id[8], s->id[9], s->id[10],
				s->id[11], s->tap);
	if (r >= 0)
		r = sg_buf_putf(b, "    <rng model='virtio'>\n"
				"      <backend model='random'>/dev/urandom</backend>\n"
				"    </rng>\n"
				"    <memballoon model='none'/>\n"
				"  </devices>\n");
	/* QEMU's user, without relabelling: libvirt would otherwise chown the
	 * shared kernel, initrd and base image to the user every QEMU runs
	 * as (and never give the base back), so one escaped guest could
	 * rewrite the disk of every later sandbox. The overlay is given to
	 * QEMU by sg_vm_create() instead. */
	if (r >= 0 && qemu_uid >= 0)
		r = sg_buf_putf(b, "  <seclabel type='static' model='dac' relabel='no'>\n"
				"    <label>+%ld:+%ld</label>\n"
				"  </seclabel>\n", qemu_uid, qemu_gid);
	if (r >= 0)
		r = sg_buf_putf(b, "</domain>\n");
	if (r >= 0)
		r = vm_buf_to_str(b, ret_xml);
out:
	sg_buf_free(b);
	free(dir);
	if (r == -ENOBUFS)
		r = -EINVAL;
	return r < 0 ? r : 0;
}

/* ---- XML in: a strict reader for single start tags ---- */

struct tag {
	char qname[64];
	int empty;                 /* ended with "/>" */
	size_t n;
	struct {
		char name[64];
		char *value;       /* decoded, owned */
	} attr[TAG_ATTRS_MAX];
};

static void tag_clear(struct tag *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->attr[i].value);
	memset(t, 0, sizeof(*t));
}

static int is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == ':' || c == '-' || c == '.';
}

/* Reads an XML name at *pp into buf (size bytes). */
static int read_name(const char **pp, char *buf, size_t size)
{
	const char *p = *pp;
	size_t n = 0;

	while (is_name_char(p[n]))
		n++;
	if (n == 0 || n >= size)
		return -EINVAL;
	memcpy(buf, p, n);
	buf[n] = '\0';
	*pp = p + n;
	return 0;
}

/* Decodes a quoted attribute value at *pp (starting at the quote). Accepts
 * the five predefined entities only. */
static int read_value(const char **pp, char **ret)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' },
	};
	const char *p = *pp;
	char q = *p++, *out;
	size_t n = 0, i;

	if (q != '\'' && q != '"')
		return -EINVAL;
	out = malloc(ATTR_VALUE_MAX + 1);
	if (!out)
		return -ENOMEM;
	while (*p != q) {
		char c = *p;

		if (c == '\0' || c == '<' || n >= ATTR_VALUE_MAX)
			goto bad;
		if (c == '&') {
			for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
				if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0)
					break;
			if (i == sizeof(ents) / sizeof(ents[0]))
				goto bad;
			out[n++] = ents[i].c;
			p += strlen(ents[i].ent);
			continue;
		}
		out[n++] = c;
		p++;
	}
	out[n] = '\0';
	*pp = p + 1;
	*ret = out;
	return 0;
bad:
	free(out);
	return -EINVAL;
}

/* Parses one start tag at *pp: "<qname a='v' b=\"w\"/>" or "...>".
 * Fills *t (tag_clear it afterwards) and moves *pp past the tag. */
static int tag_parse(const char **pp, struct tag *t)
{
	const char *p = *pp;
	size_t i;
	int r;

	memset(t, 0, sizeof(*t));
	if (*p++ != '<')
		return -EINVAL;
	r = read_name(&p, t->qname, sizeof(t->qname));
	if (r < 0)
		return r;
	for (;;) {
		int sp = 0;

		while (is_xml_space(*p)) {
			p++;
			sp = 1;
		}
		if (p[0] == '/' && p[1] == '>') {
			t->empty = 1;
			p += 2;
			break;
		}
		if (p[0] == '>') {
			p++;
			break;
		}
		if (!sp || t->n >= TAG_ATTRS_MAX)
			return -EINVAL;
		r = read_name(&p, t->attr[t->n].name, sizeof(t->attr[t->n].name));
		if (r < 0)
			return r;
		for (i = 0; i < t->n; i++)
			if (strcmp(t->attr[i].name, t->attr[t->n].name) == 0)
				return -EINVAL;
		while (is_xml_space(*p))
			p++;
		if (*p++ != '=')
			return -EINVAL;
		while (is_xml_space(*p))
			p++;
		r = read_value(&p, &t->attr[t->n].value);
		if (r < 0)
			return r;
		t->n++;
	}
	*pp = p;
	return 0;
}

static const char *tag_attr(const struct tag *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->attr[i].name, name) == 0)
			return t->attr[i].value;
	return NULL;
}

/* Parses a decimal integer within [min, max]; digits with an optional '-'. */
static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int sg_vm_metadata_parse(const char *xml, struct sg_vm_info *ret)
{
	struct sg_vm_info v = { 0 };
	struct tag t;
	const char *p = xml, *colon, *local, *ns, *val;
	char nsattr[80];
	int64_t n;
	int r = -EINVAL, tr;

	if (!xml || strlen(xml) > XML_MAX)
		return -EINVAL;
	while (is_xml_space(*p))
		p++;
	r = tag_parse(&p, &t);
	if (r < 0)
		goto out;
	r = -EINVAL;
	colon = strchr(t.qname, ':');
	local = colon ? colon + 1 : t.qname;
	if (strcmp(local, "sandbox") != 0)
		goto out;
	if (colon)
		snprintf(nsattr, sizeof(nsattr), "xmlns:%.*s", (int)(colon - t.qname), t.qname);
	else
		snprintf(nsattr, sizeof(nsattr), "xmlns");
	/* virDomainGetMetadata() finds the element by our namespace and
	 * returns it without the declaration; a declaration must be ours */
	ns = tag_attr(&t, nsattr);
	if ((colon && !ns) || (ns && strcmp(ns, SG_VM_XMLNS) != 0))
		goto out;
	if (!t.empty) {
		/* "<x ...></x>" */
		size_t ql = strlen(t.qname);

		while (is_xml_space(*p))
			p++;
		if (strncmp(p, "</", 2) != 0 || strncmp(p + 2, t.qname, ql) != 0)
			goto out;
		p += 2 + ql;
		while (is_xml_space(*p))
			p++;
		if (*p++ != '>')
			goto out;
	}
	while (is_xml_space(*p))
		p++;
	if (*p)
		goto out;

	val = tag_attr(&t, "token");
	if (!val || (val[0] && !sg_vm_valid_token(val)))
		goto out;
	snprintf(v.token, sizeof(v.token), "%s", val);
	val = tag_attr(&t, "name");
	if (!val || (val[0] && !sg_vm_valid_name(val)))
		goto out;
	snprintf(v.name, sizeof(v.name), "%s", val);
	val = tag_attr(&t, "image");
	if (!sg_vm_valid_image(val))
		goto out;
	snprintf(v.image, sizeof(v.image), "%s", val);
	tr = sg_vm_transport_from_name(tag_attr(&t, "transport"));
	if (tr < 0)
		goto out;
	v.transport = tr;
	if (parse_i64(tag_attr(&t, "created"), 0, INT64_MAX, &v.created) < 0 ||
	    parse_i64(tag_attr(&t, "expires"), 0, INT64_MAX, &v.expires) < 0 ||
	    parse_i64(tag_attr(&t, "owner_pid"), 0, INT_MAX, &n) < 0)
		goto out;
	v.owner_pid = (int)n;

	memcpy(ret->token, v.token, sizeof(v.token));
	memcpy(ret->name, v.name, sizeof(v.name));
	memcpy(ret->image, v.image, sizeof(v.image));
	ret->transport = v.transport;
	ret->created = v.created;
	ret->expires = v.expires;
	ret->owner_pid = v.owner_pid;
	r = 0;
out:
	tag_clear(&t);
	return r;
}

/* Finds "<name" followed by a space, '>' or '/' in s, or NULL. */
static const char *find_tag(const char *s, const char *name)
{
	size_t n = strlen(name);

	for (s = strchr(s, '<'); s; s = strchr(s + 1, '<'))
		if (strncmp(s + 1, name, n) == 0 &&
		    (is_xml_space(s[1 + n]) || s[1 + n] == '>' || s[1 + n] == '/'))
			return s;
	return NULL;
}

int sg_vm_parse_vsock_cid(const char *domain_xml, uint32_t *ret_cid)
{
	const char *p, *end;
	struct tag t;
	int64_t cid;
	int r;

	if (!domain_xml || strlen(domain_xml) > 16 * XML_MAX)
		return -EINVAL;
	p = find_tag(domain_xml, "vsock");
	if (!p)
		return -ENOENT;
	end = strstr(p, "</vsock>");
	p = find_tag(p, "cid");
	if (!p || !end || p > end)
		return -ENOENT;
	r = tag_parse(&p, &t);
	if (r < 0)
		goto out;
	/* CIDs 0-2 are reserved (hypervisor, local, host) */
	r = parse_i64(tag_attr(&t, "address"), 3, UINT32_MAX - 1, &cid);
	if (r < 0) {
		r = tag_attr(&t, "address") ? -EINVAL : -ENOENT;
		goto out;
	}
	*ret_cid = (uint32_t)cid;
	r = 0;
out:
	tag_clear(&t);
	return r;
}

