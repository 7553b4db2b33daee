/* Unit tests of gateway/vm.c and gateway/kvmprobe.c without libvirt: the
 * domain XML (escaping, required and forbidden elements), the metadata
 * writer and its strict reader, the vsock CID reader, image.conf, the
 * validators; and the KVM probe's guest under TCG (skipped when
 * qemu-system-x86_64 is not installed). */
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

#include "gateway/kvmprobe.h"
#include "gateway/vm.h"

/* A temporary image folder with image.conf and empty image files. */
struct fixture {
	char dir[256];
	struct sg_vm_image *img;
};

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0644), 0);
}

static void remove_dir(const char *dir)
{
	static const char *const names[] = {
		"image.conf", "vmlinuz", "initrd.img", "rootfs.qcow2",
	};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* Makes an image folder whose path holds every XML special character. */
static void make_image_dir(char *dir, size_t size, const char *conf)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, size, "%s/sg vm&'<\">.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	write_file(dir, "vmlinuz", "k");
	write_file(dir, "initrd.img", "i");
	write_file(dir, "rootfs.qcow2", "r");
	write_file(dir, "image.conf", conf);
}

static const char good_conf[] =
	"# written by a test\n"
	"[image]\n"
	"name = minimal\n"
	"kernel = vmlinuz\n"
	"initrd = initrd.img\n"
	"rootfs = rootfs.qcow2\n"
	"cmdline = console=ttyS0 panic=-1 x=<&>'\"\n"
	"built = 2024-01-01T00:00:00Z\n"
	"[other]\n"
	"anything = goes\n";

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char *err = NULL;

	if (!fx)
		return -1;
	make_image_dir(fx->dir, sizeof(fx->dir), good_conf);
	if (sg_vm_image_load(fx->dir, &fx->img, &err) < 0) {
		fprintf(stderr, "image load: %s\n", err ? err : "?");
		free(err);
		remove_dir(fx->dir);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	sg_vm_image_free(fx->img);
	remove_dir(fx->dir);
	free(fx);
	return 0;
}

static struct sg_vm_spec base_spec(void)
{
	struct sg_vm_spec s = {
		.id = "0123456789ab",
		.token = "ci-bot",
		.name = "dev-box",
		.image_dir = "/var/lib/sandgate/images/minimal",
		.image = "minimal",
		.memory_mb = 1024,
		.vcpus = 2,
		.disk_gb = 10,
		.domain_type = SG_VM_QEMU,
		.transport = SG_VM_VIRTIO_SERIAL,
		.state_dir = "/var/lib/sandgate",
		.created = 1700000000,
		.expires = 1700001800,
		.owner_pid = 4242,
	};
	return s;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
		n++;
	return n;
}

static void test_validators(void **state)
{
	(void)state;
	assert_true(sg_vm_valid_id("0123456789ab"));
	assert_false(sg_vm_valid_id("0123456789AB"));
	assert_false(sg_vm_valid_id("0123456789a"));
	assert_false(sg_vm_valid_id("0123456789abc"));
	assert_false(sg_vm_valid_id("0123456789ag"));
	assert_false(sg_vm_valid_id(""));
	assert_false(sg_vm_valid_id(NULL));

	assert_true(sg_vm_valid_name("a"));
	assert_true(sg_vm_valid_name("dev-box-1"));
	assert_true(sg_vm_valid_name("0123456789abcdef0123456789abcdef"));
	assert_false(sg_vm_valid_name("0123456789abcdef0123456789abcdef0"));
	assert_false(sg_vm_valid_name("-dev"));
	assert_false(sg_vm_valid_name("Dev"));
	assert_false(sg_vm_valid_name("dev_box"));
	assert_false(sg_vm_valid_name("a&b"));
	assert_false(sg_vm_valid_name(""));
	assert_false(sg_vm_valid_name("../x"));

	assert_true(sg_vm_valid_token("ci-bot_2"));
	assert_false(sg_vm_valid_token("_ci"));
	assert_false(sg_vm_valid_token("ci bot"));
	assert_false(sg_vm_valid_token("ci'bot"));
	assert_true(sg_vm_valid_token("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(sg_vm_valid_token("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"));

	assert_true(sg_vm_valid_image("default"));
	assert_true(sg_vm_valid_image("debian-12.1_x"));
	assert_false(sg_vm_valid_image(".hidden"));
	assert_false(sg_vm_valid_image("a/b"));

	assert_string_equal(sg_vm_transport_name(SG_VM_VSOCK), "vsock");
	assert_string_equal(sg_vm_transport_name(SG_VM_VIRTIO_SERIAL), "virtio-serial");
	assert_null(sg_vm_transport_name(7));
	assert_int_equal(sg_vm_transport_from_name("vsock"), SG_VM_VSOCK);
	assert_int_equal(sg_vm_transport_from_name("virtio-serial"), SG_VM_VIRTIO_SERIAL);
	assert_int_equal(sg_vm_transport_from_name("auto"), -EINVAL);
}

static void test_image_paths(void **state)
{
	struct fixture *fx = *state;
	char want[600];
	char *real = realpath(fx->dir, NULL);

	assert_non_null(real);
	snprintf(want, sizeof(want), "%s/vmlinuz", real);
	assert_string_equal(sg_vm_image_kernel(fx->img), want);
	snprintf(want, sizeof(want), "%s/initrd.img", real);
	assert_string_equal(sg_vm_image_initrd(fx->img), want);
	snprintf(want, sizeof(want), "%s/rootfs.qcow2", real);
	assert_string_equal(sg_vm_image_rootfs(fx->img), want);
	assert_string_equal(sg_vm_image_cmdline(fx->img), "console=ttyS0 panic=-1 x=<&>'\"");
	free(real);
}

static void test_domain_xml_virtio_serial(void **state)
{
	struct fixture *fx = *state;
	struct sg_vm_spec s = base_spec();
	char *xml = NULL;

	assert_int_equal(sg_vm_domain_xml(&s, fx->img, 64055, 64055, &xml), 0);
	assert_non_null(xml);
	assert_non_null(strstr(xml, "<domain type='qemu'>"));
	assert_non_null(strstr(xml, "<name>sandgate-0123456789ab</name>"));
	assert_non_null(strstr(xml, "<type arch='x86_64' machine='q35'>hvm</type>"));
	assert_non_null(strstr(xml, "<memory unit='MiB'>1024</memory>"));
	assert_non_null(strstr(xml, ">2</vcpu>"));
	assert_non_null(strstr(xml, "<on_poweroff>destroy</on_poweroff>"));
	assert_non_null(strstr(xml, "<on_reboot>destroy</on_reboot>"));
	assert_non_null(strstr(xml, "<on_crash>destroy</on_crash>"));
	assert_non_null(strstr(xml, "<controller type='usb' model='none'/>"));
	assert_non_null(strstr(xml, "<memballoon model='none'/>"));
	assert_non_null(strstr(xml, "<rng model='virtio'>"));
	assert_non_null(strstr(xml, "<backend model='random'>/dev/urandom</backend>"));
	assert_non_null(strstr(xml, "<driver name='qemu' type='qcow2'"));
	assert_non_null(strstr(xml, "<source file='/var/lib/sandgate/sandboxes/0123456789ab/disk.qcow2'/>"));
	assert_non_null(strstr(xml, "<target dev='vda' bus='virtio'/>"));
	assert_non_null(strstr(xml, "<serial type='file'>"));
	assert_non_null(strstr(xml, "<console type='file'>"));
	assert_int_equal(count(xml, "<source path='/var/lib/sandgate/sandboxes/0123456789ab/console.log'/>"), 2);
	assert_non_null(strstr(xml, "<channel type='unix'>"));
	assert_non_null(strstr(xml, "<source mode='bind' path='/var/lib/sandgate/sandboxes/0123456789ab/agent.sock'/>"));
	assert_non_null(strstr(xml, "<target type='virtio' name='org.sandgate.agent.0'/>"));
	assert_non_null(strstr(xml, "<seclabel type='static' model='dac' relabel='no'>"));
	assert_non_null(strstr(xml, "<label>+64055:+64055</label>"));
	assert_non_null(strstr(xml, "<acpi/>"));
	/* metadata in our namespace */
	assert_non_null(strstr(xml, "<sandgate:sandbox xmlns:sandgate='" SG_VM_XMLNS "' token='ci-bot' "
			       "name='dev-box' image='minimal' transport='virtio-serial' "
			       "created='1700000000' expires='1700001800' owner_pid='4242'/>"));
	/* fail closed and small: no NIC, graphics, balloon, USB, vsock */
	assert_null(strstr(xml, "<interface"));
	assert_null(strstr(xml, "<graphics"));
	assert_null(strstr(xml, "<video"));
	assert_null(strstr(xml, "<vsock"));
	assert_int_equal(count(xml, "<memballoon"), 1);
	assert_int_equal(count(xml, "<controller"), 1);
	assert_null(strstr(xml, "host-passthrough"));
	free(xml);

	/* -1: libvirt picks QEMU's user */
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), 0);
	assert_null(strstr(xml, "<seclabel"));
	free(xml);
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, 5, -1, &xml), -EINVAL);
}

static void test_domain_xml_vsock_kvm(void **state)
{
	struct fixture *fx = *state;
	struct sg_vm_spec s = base_spec();
	char *xml = NULL;

	s.transport = SG_VM_VSOCK;
	s.domain_type = SG_VM_KVM;
	s.name = "";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), 0);
	assert_non_null(strstr(xml, "<domain type='kvm'>"));
	assert_non_null(strstr(xml, "<cpu mode='host-passthrough'/>"));
	assert_non_null(strstr(xml, "<vsock model='virtio'>"));
	assert_non_null(strstr(xml, "<cid auto='yes'/>"));
	assert_null(strstr(xml, "<channel"));
	assert_null(strstr(xml, "agent.sock"));
	assert_null(strstr(xml, "<interface"));
	assert_non_null(strstr(xml, " name='' "));
	assert_non_null(strstr(xml, "transport='vsock'"));
	free(xml);
}

static void test_domain_xml_volumes(void **state)
{
	struct fixture *fx = *state;
	struct sg_vm_spec s = base_spec();
	struct sg_vm_volume v[2] = {
		{ "/var/lib/sandgate/volumes/ci/data/volume.img", "sgvol0", 0 },
		{ "/var/lib/sandgate/volumes/ci/deps/volume.img", "sgvol1", 1 },
	};
	char *xml = NULL;
	const char *a, *b;

	s.volumes = v;
	s.nvolumes = 2;
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), 0);
	a = strstr(xml, "<source file='/var/lib/sandgate/volumes/ci/data/volume.img'/>");
	b = strstr(xml, "<source file='/var/lib/sandgate/volumes/ci/deps/volume.img'/>");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_non_null(strstr(a, "<target dev='vdb' bus='virtio'/>\n"
				  "      <serial>sgvol0</serial>\n    </disk>"));
	assert_non_null(strstr(b, "<target dev='vdc' bus='virtio'/>\n"
				  "      <serial>sgvol1</serial>\n      <readonly/>\n"));
	assert_non_null(strstr(xml, "type='raw' cache='writeback' discard='unmap'/>"));
	assert_non_null(strstr(xml, "type='raw' cache='writeback'/>"));
	free(xml);

	/* bad serials, paths and counts are refused */
	v[0].serial = "sg-vol";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	v[0].serial = "a23456789012345678901";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	v[0].serial = "sgvol0";
	v[0].file = "relative/volume.img";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	v[0].file = "/v/a\nb";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	v[0].file = v[1].file;
	s.nvolumes = SG_VM_VOLUMES_MAX + 1;
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s.volumes = NULL;
	s.nvolumes = 1;
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
}

static void test_domain_xml_escaping(void **state)
{
	struct fixture *fx = *state;
	struct sg_vm_spec s = base_spec();
	char *xml = NULL, *real = realpath(fx->dir, NULL);
	const char *p;

	assert_non_null(real);
	s.state_dir = "/srv/a&b'c<d>e\"f";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), 0);
	assert_non_null(strstr(xml, "<cmdline>console=ttyS0 panic=-1 x=&lt;&amp;&gt;&apos;&quot;</cmdline>"));
	assert_non_null(strstr(xml, "/srv/a&amp;b&apos;c&lt;d&gt;e&quot;f/sandboxes/0123456789ab/disk.qcow2"));
	assert_non_null(strstr(xml, "sg vm&amp;&apos;&lt;&quot;&gt;."));
	assert_null(strstr(xml, real));          /* never raw */
	assert_null(strstr(xml, "a&b"));
	/* every '&' starts one of the five entities */
	for (p = strchr(xml, '&'); p; p = strchr(p + 1, '&'))
		assert_true(strncmp(p, "&amp;", 5) == 0 || strncmp(p, "&lt;", 4) == 0 ||
			    strncmp(p, "&gt;", 4) == 0 || strncmp(p, "&apos;", 6) == 0 ||
			    strncmp(p, "&quot;", 6) == 0);
	free(xml);

	/* control characters cannot go into XML: refused, not escaped */
	s.state_dir = "/srv/a\nb";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	free(real);
}

static void test_domain_xml_bad_spec(void **state)
{
	struct fixture *fx = *state;
	struct sg_vm_spec s;
	char *xml = NULL;

	s = base_spec(); s.id = "0123456789AB";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.id = "0123456789ab/../x";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.name = "Dev'box";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.name = NULL;
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.token = "ci<bot>";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.image = "../etc";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.memory_mb = 0;
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.vcpus = 0;
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.transport = 9;
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.domain_type = 9;
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.state_dir = "relative/dir";
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec(); s.expires = -1;
	assert_int_equal(sg_vm_domain_xml(&s, fx->img, -1, -1, &xml), -EINVAL);
	s = base_spec();
	assert_int_equal(sg_vm_domain_xml(&s, NULL, -1, -1, &xml), -EINVAL);
	assert_null(xml);
}

static void test_metadata_roundtrip(void **state)
{
	struct sg_vm_spec s = base_spec();
	struct sg_vm_info v;
	char *xml = NULL;

	(void)state;
	assert_int_equal(sg_vm_metadata_xml(&s, &xml), 0);
	memset(&v, 0, sizeof(v));
	assert_int_equal(sg_vm_metadata_parse(xml, &v), 0);
	assert_string_equal(v.token, "ci-bot");
	assert_string_equal(v.name, "dev-box");
	assert_string_equal(v.image, "minimal");
	assert_int_equal(v.transport, SG_VM_VIRTIO_SERIAL);
	assert_int_equal(v.created, 1700000000);
	assert_int_equal(v.expires, 1700001800);
	assert_int_equal(v.owner_pid, 4242);
	free(xml);
	xml = NULL;
	/* a warm pool member: no token yet, no name */
	s.token = "";
	s.name = "";
	assert_int_equal(sg_vm_metadata_xml(&s, &xml), 0);
	assert_non_null(strstr(xml, " token=''"));
	memset(&v, 0x5a, sizeof(v));
	assert_int_equal(sg_vm_metadata_parse(xml, &v), 0);
	assert_string_equal(v.token, "");
	assert_string_equal(v.name, "");
	free(xml);
}

static void test_metadata_libvirt_forms(void **state)
{
	struct sg_vm_info v;

	(void)state;
	/* what virDomainGetMetadata() returns on libvirt 9.0 */
	memset(&v, 0, sizeof(v));
	assert_int_equal(sg_vm_metadata_parse(
		"<sandbox token=\"test-token\" name=\"\" image=\"test\" transport=\"vsock\" "
		"created=\"1795371499\" expires=\"2000000000\" owner_pid=\"26134\"/>", &v), 0);
	assert_string_equal(v.token, "test-token");
	assert_string_equal(v.name, "");
	assert_int_equal(v.transport, SG_VM_VSOCK);
	assert_int_equal(v.expires, 2000000000);
	assert_int_equal(v.owner_pid, 26134);
	/* prefixed with its declaration, open and close tags, whitespace */
	assert_int_equal(sg_vm_metadata_parse(
		"\n  <sg:sandbox xmlns:sg='" SG_VM_XMLNS "'\n token = 'a' name='b' image='c' "
		"transport='virtio-serial' created='0' expires='1' owner_pid='0' "
		"future='ignored'>  </sg:sandbox>\n", &v), 0);
	assert_string_equal(v.token, "a");
	assert_string_equal(v.name, "b");
	assert_string_equal(v.image, "c");
	assert_int_equal(v.expires, 1);
	assert_int_equal(sg_vm_metadata_parse(
		"<sandbox xmlns='" SG_VM_XMLNS "' token='a' name='b' image='c' "
		"transport='vsock' created='0' expires='1' owner_pid='0'/>", &v), 0);
}

static void test_metadata_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"sandbox",
		"<sandbox/>",
		/* wrong element or namespace */
		"<box token='a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sg:sandbox token='a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sg:sandbox xmlns:sg='urn:other' token='a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox xmlns='urn:other' token='a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		/* missing, duplicate, malformed attributes */
		"<sandbox name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='a' token='a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='a' name='' image='c' transport='vsock' created='0' expires='1'/>",
		"<sandbox token='a'name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token=a name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='a\" name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'",
		/* values: invalid after decoding, unknown entities, bad numbers */
		"<sandbox token='a&lt;' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='&#97;' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='a&amp' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='a' name='B' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='-a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='A' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='a' name='' image='c' transport='tcp' created='0' expires='1' owner_pid='0'/>",
		"<sandbox token='a' name='' image='c' transport='vsock' created='-1' expires='1' owner_pid='0'/>",
		"<sandbox token='a' name='' image='c' transport='vsock' created='0' expires='1x' owner_pid='0'/>",
		"<sandbox token='a' name='' image='c' transport='vsock' created='0' expires='99999999999999999999' owner_pid='0'/>",
		"<sandbox token='a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='4294967296'/>",
		"<sandbox token='a' name='' image='c' transport='vsock' created='0' expires=' 1' owner_pid='0'/>",
		/* trailing content */
		"<sandbox token='a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'/><x/>",
		"<sandbox token='a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'><x/></sandbox>",
		"<sandbox token='a' name='' image='c' transport='vsock' created='0' expires='1' owner_pid='0'></sandboxx>",
	};
	struct sg_vm_info v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&v, 0x5a, sizeof(v));
		if (sg_vm_metadata_parse(bad[i], &v) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(v.owner_pid, 0x5a5a5a5a);   /* untouched */
	}
	assert_int_equal(sg_vm_metadata_parse(NULL, &v), -EINVAL);
}

static void test_vsock_cid(void **state)
{
	uint32_t cid = 0;

	(void)state;
	assert_int_equal(sg_vm_parse_vsock_cid(
		"<domain type='kvm' id='4'>\n  <devices>\n"
		"    <vsock model='virtio'>\n      <cid auto='yes' address='3'/>\n"
		"      <alias name='vsock0'/>\n"
		"      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>\n"
		"    </vsock>\n  </devices>\n</domain>\n", &cid), 0);
	assert_int_equal(cid, 3);
	assert_int_equal(sg_vm_parse_vsock_cid(
		"<domain><vsock model='virtio'><cid address=\"4294967294\" auto=\"yes\"/></vsock></domain>",
		&cid), 0);
	assert_int_equal(cid, 4294967294u);
	/* no vsock, no address yet, cid outside the vsock element */
	assert_int_equal(sg_vm_parse_vsock_cid("<domain><devices/></domain>", &cid), -ENOENT);
	assert_int_equal(sg_vm_parse_vsock_cid(
		"<domain><vsock model='virtio'><cid auto='yes'/></vsock></domain>", &cid), -ENOENT);
	assert_int_equal(sg_vm_parse_vsock_cid(
		"<domain><vsock model='virtio'></vsock><cid auto='yes' address='7'/></domain>", &cid),
		-ENOENT);
	assert_int_equal(sg_vm_parse_vsock_cid(
		"<domain><vsockx/><cid address='7'/></domain>", &cid), -ENOENT);
	/* reserved or malformed addresses */
	assert_int_equal(sg_vm_parse_vsock_cid(
		"<domain><vsock><cid auto='yes' address='2'/></vsock></domain>", &cid), -EINVAL);
	assert_int_equal(sg_vm_parse_vsock_cid(
		"<domain><vsock><cid auto='yes' address='4294967295'/></vsock></domain>", &cid), -EINVAL);
	assert_int_equal(sg_vm_parse_vsock_cid(
		"<domain><vsock><cid auto='yes' address='3x'/></vsock></domain>", &cid), -EINVAL);
	assert_int_equal(cid, 4294967294u);
}

static void expect_image_error(const char *conf, const char *fragment)
{
	char dir[256], *err = NULL;
	struct sg_vm_image *img = NULL;

	make_image_dir(dir, sizeof(dir), conf);
	assert_true(sg_vm_image_load(dir, &img, &err) < 0);
	assert_null(img);
	assert_non_null(err);
	if (!strstr(err, fragment))
		fail_msg("message \"%s\" lacks \"%s\"", err, fragment);
	free(err);
	remove_dir(dir);
}

static void test_image_conf(void **state)
{
	char dir[256], big[3000], *err = NULL;
	struct sg_vm_image *img = NULL;

	(void)state;
	expect_image_error("[image]\nkernel = vmlinuz\ninitrd = initrd.img\n", "needs kernel, initrd and rootfs");
	expect_image_error("[image]\nkernel = vmlinuz\nkernel = vmlinuz\n", "kernel is set twice");
	expect_image_error("[image]\nkernel = nope\ninitrd = initrd.img\nrootfs = rootfs.qcow2\n",
			   "kernel = ");
	expect_image_error("[image]\nkernel = vmlinuz\ninitrd = initrd.img\nrootfs = rootfs.qcow2\n"
			   "cmdline = a\x01" "b\n", "control character");
	expect_image_error("[image]\nkernel = .\ninitrd = initrd.img\nrootfs = rootfs.qcow2\n",
			   "not a regular file");

	/* long lines of keys we ignore are fine; no cmdline gives a default */
	snprintf(big, sizeof(big), "[image]\nkernel = vmlinuz\ninitrd = initrd.img\n"
		 "rootfs = rootfs.qcow2\nmodules = %02000d\n", 0);
	make_image_dir(dir, sizeof(dir), big);
	assert_int_equal(sg_vm_image_load(dir, &img, &err), 0);
	assert_string_equal(sg_vm_image_cmdline(img), "console=ttyS0");
	sg_vm_image_free(img);
	remove_dir(dir);

	assert_true(sg_vm_image_load("/nonexistent/sandgate/image", &img, &err) < 0);
	assert_non_null(strstr(err, "cannot open the image folder"));
	free(err);
	sg_vm_image_free(NULL);
}

static void test_agent_path(void **state)
{
	char buf[108], longdir[200];

	(void)state;
	assert_int_equal(sg_vm_agent_path("/var/lib/sandgate", "0123456789ab", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/var/lib/sandgate/sandboxes/0123456789ab/agent.sock");
	assert_int_equal(sg_vm_agent_path("/var/lib/sandgate", "../../etc/x", buf, sizeof(buf)), -EINVAL);
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	assert_int_equal(sg_vm_agent_path(longdir, "0123456789ab", buf, sizeof(buf)), -ENAMETOOLONG);
}

static int have_qemu(void)
{
	return system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
}

static void test_probe_tcg(void **state)
{
	char *why = NULL;
	int r;

	(void)state;
	if (!have_qemu())
		skip();
	/* the probe guest itself is sound: under TCG it exits with 99 */
	r = sg_kvm_probe_accel("tcg", 60000, &why);
	if (r != 1)
		fail_msg("tcg probe failed: %s", why ? why : "?");
	/* a QEMU that fails says why */
	r = sg_kvm_probe_accel("no-such-accel", 60000, &why);
	assert_int_equal(r, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "no-such-accel"));
	free(why);
	why = NULL;
	/* a guest that cannot finish in time is stopped and reported */
	r = sg_kvm_probe_accel("tcg", 1, &why);
	assert_int_equal(r, 0);
	assert_non_null(strstr(why, "did not finish within 1 ms"));
	free(why);
	assert_int_equal(sg_kvm_probe_accel("tcg,x=1", 1000, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validators),
		cmocka_unit_test_setup_teardown(test_image_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_xml_virtio_serial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_xml_volumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_xml_vsock_kvm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_xml_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_xml_bad_spec, setup, teardown),
		cmocka_unit_test(test_metadata_roundtrip),
		cmocka_unit_test(test_metadata_libvirt_forms),
		cmocka_unit_test(test_metadata_bad),
		cmocka_unit_test(test_vsock_cid),
		cmocka_unit_test(test_image_conf),
		cmocka_unit_test(test_agent_path),
		cmocka_unit_test(test_probe_tcg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
