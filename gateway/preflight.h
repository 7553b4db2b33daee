/* sg_preflight: the checks of `sandgated -t` (sandgated(8)).
 *
 * What a start of sandgated would refuse, found without starting it or
 * changing anything: no directory is made, no key written, no socket
 * bound, no libvirt or nftables call, no secret read. Every problem is
 * reported, not only the first, as one line each:
 *
 *   FILE:LINE: [section] key = value: what is wrong and what to do
 *
 * FILE:LINE is where sandgate.conf sets the key; for a key left at its
 * default it is FILE alone and the value is followed by "(the default)".
 * A problem inside the tokens file is the tokens loader's own
 * "TOKENS:LINE: [token] key = value: ..." line.
 *
 * Checked: the tokens file loads (a missing one is an error, as at
 * start) and the images its tokens name exist; the host key is a private
 * key libssh imports, or, when absent, its directory can be made (the
 * gateway writes a new key there); state_dir, the audit log's and the
 * control socket's directories exist or can be made; listen is a
 * numeric address; the default image (image_dir/image) has an
 * image.conf naming a kernel, initrd and rootfs that exist; [gateway]
 * user exists and is outside uid_range; shim_program is executable.
 * With [proxy] port not 0 (the proxy runs): [proxy] user exists and is
 * not root, [proxy] program is executable by root and, when run as
 * root, by that user, and extra_ca is readable. */
#ifndef SG_PREFLIGHT_H
#define SG_PREFLIGHT_H

#include <stddef.h>
#include <stdio.h>

struct sg_conf;

/* The shim program sandgated runs: [gateway] shim_program, except that
 * when it is the built-in default and not installed (a build tree) and
 * a sandgate-shim is executable beside the running sandgated, that one.
 * Writes the path into buf (size bytes). Returns 0 or -ENAMETOOLONG. */
int sg_preflight_shim_program(const struct sg_conf *c, char *buf, size_t size);

/* Runs every check above on c and writes one line per problem to out.
 * Returns the number of problems (0: a start gets past all of them). */
unsigned sg_preflight_run(const struct sg_conf *c, FILE *out);

#endif
