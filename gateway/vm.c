/* sg_vm: sandbox virtual machines on libvirt, see vm.h. */
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

#ifndef SG_QEMU_IMG
#define SG_QEMU_IMG "/usr/bin/qemu-img"
#endif

#define XML_MAX (256u * 1024)      /* generated XML and what we accept back */
#define ATTR_VALUE_MAX 4096         /* one decoded attribute value */
#define TAG_ATTRS_MAX 16

/* The user QEMU runs as (from libvirt's DAC baselabel) and its groups;
 * have_dac is 0 when libvirt has no DAC model (QEMU keeps our ids). */
struct qemu_id {
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int ngroups;
	int have_dac;
};

struct sg_vm_host {
	virConnectPtr conn;
	char *uri;
	/* who QEMU runs as, per domain type: [0] qemu, [1] kvm */
	struct qemu_id qemu[2];
};

struct sg_vm_image {
	char *dir;
	char *kernel;
	char *initrd;
	char *rootfs;
	char *cmdline;
};

/* ---- messages and validation ---- */

/* libvirt's last error message, never NULL. */
static const char *lv_msg(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

static int lv_code(void)
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
static int valid_path(const char *p)
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
static int spec_check(const struct sg_vm_spec *s, char **ret_err)
{
	if (!s)
		return sg_fail(ret_err, -EINVAL, "no sandbox specification");
	if (!sg_vm_valid_id(s->id))
		return sg_fail(ret_err, -EINVAL, "invalid sandbox id: expected 12 lowercase hex digits");
	if (!sg_vm_valid_token(s->token))
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
	if (!valid_path(s->state_dir))
		return sg_fail(ret_err, -EINVAL, "state_dir must be an absolute path without "
				"control characters");
	if (s->owner_pid < 0 || s->created < 0 || s->expires < 0)
		return sg_fail(ret_err, -EINVAL, "invalid times or owner pid for sandbox %s", s->id);
	return 0;
}

/* ---- paths ---- */

/* "<state_dir>/sandboxes" or "<state_dir>/sandboxes/<id>[/<file>]" into
 * a new string. Returns NULL when out of memory. */
static char *sb_path(const char *state_dir, const char *id, const char *file)
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

	if (!sg_vm_valid_id(id) || !valid_path(state_dir))
		return -EINVAL;
	n = snprintf(NULL, 0, "%s/sandboxes/%s/agent.sock", state_dir, id);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	snprintf(buf, size, "%s/sandboxes/%s/agent.sock", state_dir, id);
	return 0;
}

/* ---- images ---- */

void sg_vm_image_free(struct sg_vm_image *img)
{
	if (!img)
		return;
	free(img->dir);
	free(img->kernel);
	free(img->initrd);
	free(img->rootfs);
	free(img->cmdline);
	free(img);
}

const char *sg_vm_image_kernel(const struct sg_vm_image *img) { return img->kernel; }
const char *sg_vm_image_initrd(const struct sg_vm_image *img) { return img->initrd; }
const char *sg_vm_image_rootfs(const struct sg_vm_image *img) { return img->rootfs; }
const char *sg_vm_image_cmdline(const struct sg_vm_image *img) { return img->cmdline; }

/* inih callback for image.conf: keeps the four keys of [image]. */
static int image_on_key(void *user, unsigned line, const char *section, const char *key,
			const char *value, char **ret_msg)
{
	struct sg_vm_image *img = user;
	char **slot;
	size_t i;

	(void)line;
	if (strcmp(section, "image") != 0)
		return 0;
	if (strcmp(key, "kernel") == 0)
		slot = &img->kernel;
	else if (strcmp(key, "initrd") == 0)
		slot = &img->initrd;
	else if (strcmp(key, "rootfs") == 0)
		slot = &img->rootfs;
	else if (strcmp(key, "cmdline") == 0)
		slot = &img->cmdline;
	else
		return 0;   /* build facts (name, built, kernel_version, ...) */
	if (*slot)
		return sg_ini_msg(ret_msg, "%s is set twice", key);
	for (i = 0; value[i]; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
			return sg_ini_msg(ret_msg, "%s contains a control character", key);
	if (slot != &img->cmdline && value[0] == '\0')
		return sg_ini_msg(ret_msg, "%s is empty", key);
	if (slot == &img->cmdline && strlen(value) > 2048)
		return sg_ini_msg(ret_msg, "cmdline is longer than 2048 bytes");
	if (slot != &img->cmdline && value[0] != '/') {
		if (asprintf(slot, "%s/%s", img->dir, value) < 0) {
			*slot = NULL;
			*ret_msg = NULL;
			return -ENOMEM;
		}
	} else {
		*slot = strdup(value);
		if (!*slot) {
			*ret_msg = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/* Checks that path (named key in conf) is a regular file; sets ret_err. */
static int image_file_check(const char *conf, const char *key, const char *path,
			    char **ret_err)
{
	struct stat st;

	if (!valid_path(path))
		return sg_fail(ret_err, -EINVAL, "%s: %s: the path is too long or contains "
				"control characters", conf, key);
	if (stat(path, &st) < 0)
		return sg_fail(ret_err, -errno, "%s: %s = %s: %s (rebuild the image)", conf,
				key, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return sg_fail(ret_err, -EINVAL, "%s: %s = %s is not a regular file", conf, key,
				path);
	return 0;
}

int sg_vm_image_load(const char *image_dir, struct sg_vm_image **ret, char **ret_err)
{
	static const struct sg_ini_ops ops = { .on_key = image_on_key };
	struct sg_vm_image *img = NULL;
	char *conf = NULL;
	FILE *f = NULL;
	int r;

	img = calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	img->dir = realpath(image_dir, NULL);
	if (!img->dir) {
		r = sg_fail(ret_err, -errno, "cannot open the image folder %s: %s (build the "
			     "image, or fix image_dir in sandgate.conf)", image_dir, strerror(errno));
		goto fail;
	}
	if (!valid_path(img->dir)) {
		r = sg_fail(ret_err, -EINVAL, "image folder %s: the path is too long or contains "
			     "control characters", image_dir);
		goto fail;
	}
	if (asprintf(&conf, "%s/image.conf", img->dir) < 0) {
		conf = NULL;
		r = -ENOMEM;
		goto fail;
	}
	r = sg_ini_open(conf, &f, ret_err);
	if (r < 0)
		goto fail;
	r = sg_ini_parse(f, conf, &ops, img, ret_err);
	if (r < 0)
		goto fail;
	if (!img->kernel || !img->initrd || !img->rootfs) {
		r = sg_fail(ret_err, -EINVAL, "%s: [image] needs kernel, initrd and rootfs "
			     "(rebuild the image)", conf);
		goto fail;
	}
	if (!img->cmdline) {
		img->cmdline = strdup("console=ttyS0");
		if (!img->cmdline) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = image_file_check(conf, "kernel", img->kernel, ret_err);
	if (r >= 0)
		r = image_file_check(conf, "initrd", img->initrd, ret_err);
	if (r >= 0)
		r = image_file_check(conf, "rootfs", img->rootfs, ret_err);
	if (r < 0)
		goto fail;
	fclose(f);
	free(conf);
	*ret = img;
	return 0;
fail:
	if (f)
		fclose(f);
	free(conf);
	sg_vm_image_free(img);
	return r;
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
static int buf_to_str(struct sg_buf *b, char **ret)
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
static int put_metadata(struct sg_buf *b, const struct sg_vm_info *v, int with_ns)
{
	int r;

	if (!sg_vm_valid_token(v->token) || (v->name[0] && !sg_vm_valid_name(v->name)) ||
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

	r = spec_check(s, NULL);
	if (r < 0)
		return r;
	info_from_spec(s, &v);
	b = sg_buf_new(XML_MAX);
	if (!b)
		return -ENOMEM;
	r = put_metadata(b, &v, 1);
	if (r >= 0)
		r = buf_to_str(b, ret_xml);
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

	r = spec_check(s, NULL);
	if (r < 0)
		return r;
	if (!img || !valid_path(img->kernel) || !valid_path(img->initrd) || !img->cmdline ||
	    (qemu_uid >= 0) != (qemu_gid >= 0) || qemu_uid > UINT32_MAX - 1 ||
	    qemu_gid > UINT32_MAX - 1)
		return -EINVAL;
	dir = sb_path(s->state_dir, s->id, NULL);
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
		r = put_metadata(b, &v, 1);
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
				"    </disk>\n"
				"    <controller type='usb' model='none'/>\n"
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
		r = buf_to_str(b, ret_xml);
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
	if (!sg_vm_valid_token(val))
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
				 "libvirtd running? (systemctl start libvirtd)", uri, lv_msg());
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

/* ---- files ---- */

/* Returns 1 when q may use st with the permission bit perm (S_IXOTH or
 * S_IROTH), by the usual rule: owner bits for the owner, else group bits
 * for a member, else the other bits. */
static int qemu_may(const struct qemu_id *q, const struct stat *st, mode_t perm)
{
	int i;

	if (q->uid == 0)
		return 1;
	if (st->st_uid == q->uid)
		return (st->st_mode & (perm << 6)) != 0;
	if (st->st_gid == q->gid)
		return (st->st_mode & (perm << 3)) != 0;
	for (i = 0; i < q->ngroups; i++)
		if (st->st_gid == q->groups[i])
			return (st->st_mode & (perm << 3)) != 0;
	return (st->st_mode & perm) != 0;
}

/* Checks that QEMU can search every directory from / down to and
 * including dir, so it can open the files libvirt hands it; what names
 * the setting for the message. */
static int qemu_can_reach(const struct qemu_id *q, const char *dir, const char *what,
			  char **ret_err)
{
	char *p = strdup(dir);
	struct stat st;
	size_t i, n;
	int r = 0;

	if (!p)
		return -ENOMEM;
	n = strlen(p);
	/* each prefix of dir that ends a component, then "/" itself */
	for (i = 1; i <= n + 1; i++) {
		const char *path = p;
		char save = 0;

		if (i == n + 1) {
			path = "/";
		} else if ((i < n && p[i] != '/') || p[i - 1] == '/') {
			continue;
		} else {
			save = p[i];
			p[i] = '\0';
		}
		if (stat(path, &st) < 0) {
			r = sg_fail(ret_err, -errno, "cannot use the %s %s: %s", what, path,
				     strerror(errno));
			goto out;
		}
		if (S_ISDIR(st.st_mode) && !qemu_may(q, &st, S_IXOTH)) {
			r = sg_fail(ret_err, -EACCES, "QEMU runs as uid %u and cannot enter %s "
				     "(mode %04o) to reach the %s %s: run chmod o+x %s, or choose "
				     "another %s", (unsigned)q->uid, path,
				     (unsigned)(st.st_mode & 07777), what, dir, path, what);
			goto out;
		}
		if (path == p)
			p[i] = save;
	}
out:
	free(p);
	return r;
}

/* Checks that QEMU may read the file path. */
static int qemu_can_read(const struct qemu_id *q, const char *path, char **ret_err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return sg_fail(ret_err, -errno, "cannot use %s: %s", path, strerror(errno));
	if (qemu_may(q, &st, S_IROTH))
		return 0;
	return sg_fail(ret_err, -EACCES, "QEMU runs as uid %u and cannot read %s (mode %04o): "
			"run chmod a+r %s", (unsigned)q->uid, path, (unsigned)(st.st_mode & 07777),
			path);
}

/* Makes (or fixes) directory path: ours, mode 0710, group gid. With excl,
 * an existing directory is -EEXIST. */
static int make_dir(const char *path, gid_t gid, int excl)
{
	struct stat st;
	int fd, r = 0;

	if (mkdir(path, 0700) < 0) {
		if (errno != EEXIST || excl)
			return -errno;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (st.st_uid != geteuid()) {
		r = -EPERM;
		goto out;
	}
	if (st.st_gid != gid && fchown(fd, (uid_t)-1, gid) < 0) {
		r = -errno;
		goto out;
	}
	if ((st.st_mode & 07777) != 0710 && fchmod(fd, 0710) < 0)
		r = -errno;
out:
	close(fd);
	return r;
}

/* Removes <state_dir>/sandboxes/<id> and the files in it (not following
 * symlinks; subdirectories are not ours and make this fail with
 * -ENOTEMPTY). A missing folder is success. */
static int remove_sandbox_dir(const char *state_dir, const char *id)
{
	char *parent = sb_path(state_dir, NULL, NULL);
	struct dirent *de;
	DIR *d = NULL;
	int pfd = -1, fd = -1, r = 0;

	if (!parent)
		return -ENOMEM;
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		r = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	fd = openat(pfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		goto out;
	}
	fd = -1;
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0)
			r = -errno;
	}
	if (errno && r == 0)
		r = -errno;
	if (unlinkat(pfd, id, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
out:
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	free(parent);
	return r;
}

/* Runs qemu-img to create overlay backed by base (both absolute), with
 * virtual size disk_gb GiB (0: the base's). No shell. */
static int make_overlay(const char *base, const char *overlay, unsigned disk_gb,
			char **ret_err)
{
	char size[32], errbuf[2048], *nl;
	const char *argv[12];
	size_t n = 0, got = 0;
	int pfd[2] = { -1, -1 }, status, r = 0, argc = 0;
	sigset_t all;
	pid_t pid;

	argv[argc++] = SG_QEMU_IMG;
	argv[argc++] = "create";
	argv[argc++] = "-q";
	argv[argc++] = "-f";
	argv[argc++] = "qcow2";
	argv[argc++] = "-F";
	argv[argc++] = "qcow2";
	argv[argc++] = "-b";
	argv[argc++] = base;
	argv[argc++] = overlay;
	if (disk_gb) {
		snprintf(size, sizeof(size), "%uG", disk_gb);
		argv[argc++] = size;
	}
	argv[argc] = NULL;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return sg_fail(ret_err, -errno, "cannot run qemu-img: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		r = sg_fail(ret_err, -errno, "cannot run qemu-img: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	for (;;) {
		ssize_t k = read(pfd[0], errbuf + got, sizeof(errbuf) - 1 - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got == sizeof(errbuf) - 1) {
			/* keep draining so qemu-img never blocks on us */
			char sink[512];

			while ((k = read(pfd[0], sink, sizeof(sink))) > 0 || (k < 0 && errno == EINTR))
				;
			break;
		}
	}
	errbuf[got] = '\0';
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		goto out;
	/* the first line of qemu-img's complaint */
	for (n = 0; n < got && (errbuf[n] == '\n' || errbuf[n] == ' '); n++)
		;
	nl = strchr(errbuf + n, '\n');
	if (nl)
		*nl = '\0';
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127 && !errbuf[n])
		r = sg_fail(ret_err, -ENOENT, "cannot run %s: install the Debian package qemu-utils",
			     SG_QEMU_IMG);
	else
		r = sg_fail(ret_err, -EIO, "cannot create the sandbox disk %s: %s", overlay,
			     errbuf[n] ? errbuf + n : "qemu-img failed");
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return r;
}

/* ---- lifecycle ---- */

int sg_vm_create(struct sg_vm_host *h, const struct sg_vm_spec *s, char **ret_err)
{
	struct sg_vm_image *img = NULL;
	char *sbdir = NULL, *dir = NULL, *disk = NULL, *xml = NULL, *imgerr = NULL;
	virDomainPtr dom = NULL;
	const struct qemu_id *q;
	int r, made_dir = 0;

	r = spec_check(s, ret_err);
	if (r < 0)
		return r;
	if (!h || !h->conn)
		return sg_fail(ret_err, -ENOTCONN, "not connected to libvirt");
	if (!valid_path(s->image_dir))
		return sg_fail(ret_err, -EINVAL, "image_dir must be an absolute path");
	q = &h->qemu[s->domain_type == SG_VM_KVM ? 1 : 0];

	r = sg_vm_image_load(s->image_dir, &img, &imgerr);
	if (r < 0) {
		r = sg_fail(ret_err, r, "image %s: %s", s->image, imgerr ? imgerr : strerror(-r));
		goto fail;
	}
	r = qemu_can_reach(q, img->dir, "image folder", ret_err);
	if (r >= 0)
		r = qemu_can_read(q, img->kernel, ret_err);
	if (r >= 0)
		r = qemu_can_read(q, img->initrd, ret_err);
	if (r >= 0)
		r = qemu_can_read(q, img->rootfs, ret_err);
	if (r < 0)
		goto fail;
	sbdir = sb_path(s->state_dir, NULL, NULL);
	dir = sb_path(s->state_dir, s->id, NULL);
	disk = sb_path(s->state_dir, s->id, "disk.qcow2");
	if (!sbdir || !dir || !disk) {
		r = -ENOMEM;
		goto fail;
	}
	r = qemu_can_reach(q, s->state_dir, "state_dir", ret_err);
	if (r < 0)
		goto fail;
	r = make_dir(sbdir, q->gid, 0);
	if (r < 0) {
		r = sg_fail(ret_err, r, "cannot create %s: %s", sbdir, strerror(-r));
		goto fail;
	}
	r = make_dir(dir, q->gid, 1);
	if (r < 0) {
		r = sg_fail(ret_err, r, r == -EEXIST ? "sandbox id %s is already in use (%s exists)"
			     : "cannot create the folder of sandbox %s: %s", s->id,
			     r == -EEXIST ? dir : strerror(-r));
		goto fail;
	}
	made_dir = 1;
	r = make_overlay(img->rootfs, disk, s->disk_gb, ret_err);
	if (r < 0)
		goto fail;
	/* the overlay belongs to QEMU's user (libvirt does not relabel) */
	if (chown(disk, q->uid, q->gid) < 0 || chmod(disk, 0600) < 0) {
		r = sg_fail(ret_err, -errno, "cannot hand %s to QEMU's user: %s", disk,
			     strerror(errno));
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
		int code = lv_code();

		if (code == VIR_ERR_OPERATION_FAILED && strstr(lv_msg(), "already exists"))
			r = -EEXIST;
		else if (code == VIR_ERR_SYSTEM_ERROR || code == VIR_ERR_RPC ||
			 code == VIR_ERR_NO_CONNECT)
			r = -ECONNREFUSED;
		else
			r = -EIO;
		r = sg_fail(ret_err, r, "libvirt refused to start the sandbox: %s", lv_msg());
		goto fail;
	}
	virDomainFree(dom);
	r = 0;
	goto out;
fail:
	if (made_dir)
		remove_sandbox_dir(s->state_dir, s->id);
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
static int lookup(struct sg_vm_host *h, const char *id, virDomainPtr *ret, char **ret_err)
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
		if (lv_code() == VIR_ERR_NO_DOMAIN)
			return sg_fail(ret_err, -ENOENT, "no sandbox %s", id);
		return sg_fail(ret_err, -EIO, "cannot look up sandbox %s in libvirt: %s", id,
				lv_msg());
	}
	*ret = dom;
	return 0;
}

int sg_vm_destroy(struct sg_vm_host *h, const char *id, const char *state_dir, char **ret_err)
{
	virDomainPtr dom = NULL;
	int r, r2;

	if (!sg_vm_valid_id(id) || !valid_path(state_dir))
		return sg_fail(ret_err, -EINVAL, "invalid sandbox id or state_dir");
	r = lookup(h, id, &dom, ret_err);
	if (r == -ENOENT) {
		if (ret_err) {
			free(*ret_err);
			*ret_err = NULL;
		}
		r = 0;
	} else if (r == 0) {
		if (virDomainDestroy(dom) < 0) {
			int code = lv_code();

			/* gone or stopped meanwhile: that is what we wanted */
			if (code != VIR_ERR_NO_DOMAIN && code != VIR_ERR_OPERATION_INVALID)
				r = sg_fail(ret_err, -EIO, "libvirt could not stop sandbox %s: %s",
					     id, lv_msg());
		}
		virDomainFree(dom);
	}
	r2 = remove_sandbox_dir(state_dir, id);
	if (r2 < 0 && r == 0) {
		r = sg_fail(ret_err, r2, "cannot remove the files of sandbox %s in %s/sandboxes: %s",
			     id, state_dir, strerror(-r2));
	}
	return r;
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
		return sg_fail(ret_err, -EIO, "cannot list libvirt domains: %s", lv_msg());
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

int sg_vm_set_expires(struct sg_vm_host *h, const char *id, int64_t expires, char **ret_err)
{
	struct sg_vm_info v = { 0 };
	virDomainPtr dom = NULL;
	struct sg_buf *b = NULL;
	char *md = NULL, *xml = NULL;
	int r;

	if (expires < 0)
		return sg_fail(ret_err, -EINVAL, "invalid expiry time");
	r = lookup(h, id, &dom, ret_err);
	if (r < 0)
		return r;
	md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, SG_VM_XMLNS,
				  VIR_DOMAIN_AFFECT_LIVE);
	if (!md) {
		r = lv_code() == VIR_ERR_NO_DOMAIN ?
			sg_fail(ret_err, -ENOENT, "no sandbox %s", id) :
			sg_fail(ret_err, -EIO, "cannot read the metadata of sandbox %s: %s", id,
				 lv_msg());
		goto out;
	}
	r = sg_vm_metadata_parse(md, &v);
	if (r < 0) {
		r = sg_fail(ret_err, r, "sandbox %s carries metadata sandgate cannot read", id);
		goto out;
	}
	v.expires = expires;
	b = sg_buf_new(XML_MAX);
	if (!b) {
		r = -ENOMEM;
		goto out;
	}
	r = put_metadata(b, &v, 0);
	if (r >= 0)
		r = buf_to_str(b, &xml);
	if (r < 0)
		goto out;
	if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, SG_VM_XMLNS_PREFIX,
				 SG_VM_XMLNS, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		r = lv_code() == VIR_ERR_NO_DOMAIN || lv_code() == VIR_ERR_OPERATION_INVALID ?
			sg_fail(ret_err, -ENOENT, "sandbox %s is not running", id) :
			sg_fail(ret_err, -EIO, "libvirt could not update sandbox %s: %s", id,
				 lv_msg());
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

int sg_vm_cleanup_leftovers(struct sg_vm_host *h, const char *state_dir, char **ret_err)
{
	char *sbdir = NULL;
	struct dirent *de;
	DIR *d = NULL;
	int removed = 0, r = 0;

	if (!valid_path(state_dir))
		return sg_fail(ret_err, -EINVAL, "invalid state_dir");
	sbdir = sb_path(state_dir, NULL, NULL);
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
		k = lookup(h, id, &dom, ret_err);
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
		k = remove_sandbox_dir(state_dir, id);
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
	r = lookup(h, id, &dom, ret_err);
	if (r < 0)
		return r;
	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml) {
		r = sg_fail(ret_err, lv_code() == VIR_ERR_NO_DOMAIN ? -ENOENT : -EIO,
			     "cannot read the description of sandbox %s: %s", id, lv_msg());
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

	if (!sg_vm_valid_id(id) || !valid_path(state_dir))
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
