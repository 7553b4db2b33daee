/* libFuzzer harness for the strict reader of what libvirt gives back
 * (gateway/vmxml.c): the bytes are a metadata element and a live domain
 * XML, as a changed or hostile libvirt could send them. Checks: a parse
 * that succeeds gives a record whose every field is valid, and that
 * record written again (sg_vm_metadata_xml) parses back to itself; a CID
 * found is a guest CID. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/vm.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const struct sg_vm_info *v)
{
	struct sg_vm_spec s;
	struct sg_vm_info back;
	char *xml = NULL;
	const char *el;

	memset(&s, 0, sizeof(s));
	s.id = v->id;
	s.token = v->token;
	s.name = v->name;
	s.image = v->image;
	s.image_dir = "/var/lib/sandgate/images/x";
	s.state_dir = "/var/lib/sandgate";
	s.memory_mb = 768;
	s.vcpus = 1;
	s.transport = v->transport;
	s.created = v->created;
	s.expires = v->expires;
	s.owner_pid = v->owner_pid;
	if (sg_vm_metadata_xml(&s, &xml) != 0)
		return;	/* a record the writer refuses (e.g. times) */
	memset(&back, 0, sizeof(back));
	memcpy(back.id, v->id, sizeof(back.id));
	/* what libvirt hands back: the element, namespace declared */
	el = xml;
	CHECK(sg_vm_metadata_parse(el, &back) == 0);
	CHECK(strcmp(back.id, v->id) == 0 && strcmp(back.token, v->token) == 0 &&
	    strcmp(back.name, v->name) == 0 && strcmp(back.image, v->image) == 0 &&
	    back.created == v->created && back.expires == v->expires &&
	    back.owner_pid == v->owner_pid && back.transport == v->transport);
	free(xml);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_vm_info v;
	uint32_t cid;
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&v, 0, sizeof(v));
	/* the id is the domain's name, not in the metadata */
	memcpy(v.id, "0a1b2c3d4e5f", sizeof("0a1b2c3d4e5f"));
	if (sg_vm_metadata_parse(s, &v) == 0) {
		CHECK(strcmp(v.id, "0a1b2c3d4e5f") == 0);
		/* "" is a warm pool member's (sg_vm_spec) */
		CHECK(v.token[0] == '\0' || sg_vm_valid_token(v.token));
		CHECK(v.name[0] == '\0' || sg_vm_valid_name(v.name));
		CHECK(sg_vm_valid_image(v.image));
		CHECK(sg_vm_transport_name(v.transport) != NULL);
		round_trip(&v);
	}
	if (sg_vm_parse_vsock_cid(s, &cid) == 0)
		CHECK(cid >= 3);
	free(s);
	return 0;
}
