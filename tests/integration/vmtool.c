/* vmtool: drives gateway/libsgvm.a for tests/integration/vm-lifecycle.sh.
 *
 *   vmtool create URI STATE_DIR IMAGE_DIR ID [virtio-serial|vsock] [NAME]
 *   vmtool list URI                 one line per sandbox (key=value ...)
 *   vmtool set-expires URI ID UNIXTIME
 *   vmtool connect URI STATE_DIR ID [virtio-serial|vsock]
 *   vmtool destroy URI STATE_DIR ID
 *   vmtool cleanup URI STATE_DIR    prints the number of folders removed
 *   vmtool probe ACCEL TIMEOUT_MS   exit 0 when the probe guest ran
 *   vmtool kvm TIMEOUT_MS           exit 0 when KVM is usable
 *
 * Exit status 0 on success, 1 on failure (the message on stderr), 2 on
 * usage errors. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/kvmprobe.h"
#include "gateway/vm.h"

static int usage(void)
{
	fprintf(stderr, "usage: vmtool create|list|set-expires|connect|destroy|cleanup|probe|kvm ...\n");
	return 2;
}

static int fail(const char *what, int r, char *err)
{
	fprintf(stderr, "vmtool: %s: %s\n", what, err ? err : strerror(-r));
	free(err);
	return 1;
}

static int parse_int(const char *s, long long *ret)
{
	char *end;

	errno = 0;
	*ret = strtoll(s, &end, 10);
	return errno || end == s || *end ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	struct sg_vm_host *h = NULL;
	char *err = NULL;
	long long n;
	int r, rc = 1;

	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "probe") == 0 || strcmp(argv[1], "kvm") == 0) {
		int want = strcmp(argv[1], "probe") == 0 ? 4 : 3;

		if (argc != want || parse_int(argv[want - 1], &n) < 0 || n <= 0 || n > 600000)
			return usage();
		r = want == 4 ? sg_kvm_probe_accel(argv[2], (int)n, &err) : sg_kvm_usable((int)n, &err);
		if (r == 1) {
			printf("usable\n");
			return 0;
		}
		printf("not usable: %s\n", err ? err : strerror(-r));
		free(err);
		return 1;
	}
	if (argc < 3)
		return usage();
	r = sg_vm_connect(argv[2], &h, &err);
	if (r < 0)
		return fail("connect", r, err);

	if (strcmp(argv[1], "create") == 0 && (argc == 6 || argc == 7 || argc == 8)) {
		struct sg_vm_spec s = {
			.id = argv[5], .token = "test-token", .name = argc == 8 ? argv[7] : "",
			.image_dir = argv[4], .image = "test", .memory_mb = 768, .vcpus = 1,
			.disk_gb = 0, .domain_type = SG_VM_QEMU, .transport = SG_VM_VIRTIO_SERIAL,
			.state_dir = argv[3], .created = time(NULL), .expires = time(NULL) + 1800,
			.owner_pid = getpid(),
		};

		if (argc >= 7) {
			r = sg_vm_transport_from_name(argv[6]);
			if (r < 0) {
				rc = usage();
				goto out;
			}
			s.transport = r;
		}
		r = sg_vm_create(h, &s, &err);
		if (r < 0) {
			rc = fail("create", r, err);
			goto out;
		}
		rc = 0;
	} else if (strcmp(argv[1], "list") == 0 && argc == 3) {
		struct sg_vm_info *v = NULL;
		size_t cnt = 0, i;

		r = sg_vm_list(h, &v, &cnt, &err);
		if (r < 0) {
			rc = fail("list", r, err);
			goto out;
		}
		for (i = 0; i < cnt; i++)
			printf("id=%s token=%s name=%s image=%s transport=%s created=%" PRId64
			       " expires=%" PRId64 " owner_pid=%d state=%s\n", v[i].id, v[i].token,
			       v[i].name, v[i].image, sg_vm_transport_name(v[i].transport),
			       v[i].created, v[i].expires, v[i].owner_pid, v[i].state);
		sg_vm_info_free(v);
		rc = 0;
	} else if (strcmp(argv[1], "set-expires") == 0 && argc == 5) {
		if (parse_int(argv[4], &n) < 0) {
			rc = usage();
			goto out;
		}
		r = sg_vm_set_expires(h, argv[3], n, &err);
		if (r < 0) {
			rc = fail("set-expires", r, err);
			goto out;
		}
		rc = 0;
	} else if (strcmp(argv[1], "connect") == 0 && (argc == 5 || argc == 6)) {
		int fd, t = SG_VM_VIRTIO_SERIAL;

		if (argc == 6) {
			t = sg_vm_transport_from_name(argv[5]);
			if (t < 0) {
				rc = usage();
				goto out;
			}
		}
		r = sg_vm_connect_agent(h, argv[4], argv[3], t, &fd, &err);
		if (r < 0) {
			rc = fail("connect", r, err);
			goto out;
		}
		printf("connected\n");
		close(fd);
		rc = 0;
	} else if (strcmp(argv[1], "destroy") == 0 && argc == 5) {
		r = sg_vm_destroy(h, argv[4], argv[3], &err);
		if (r < 0) {
			rc = fail("destroy", r, err);
			goto out;
		}
		rc = 0;
	} else if (strcmp(argv[1], "cleanup") == 0 && argc == 4) {
		r = sg_vm_cleanup_leftovers(h, argv[3], &err);
		if (r < 0) {
			rc = fail("cleanup", r, err);
			goto out;
		}
		printf("%d\n", r);
		rc = 0;
	} else {
		rc = usage();
	}
out:
	sg_vm_host_free(h);
	return rc;
}
