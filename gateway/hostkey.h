/* sg_hostkey: the gateway's SSH host key and its fingerprint.
 *
 * The key lives in [gateway] host_key; sandgated makes an ed25519 key
 * there at its first start, and keeps PATH.pub beside it (the public key
 * in OpenSSH's one-line form) so that anyone can read what clients must
 * see. The fingerprint is OpenSSH's: "SHA256:" and the unpadded base64
 * of the SHA-256 of the key blob, as `ssh-keygen -lf` and `ssh` show it. */
#ifndef SG_HOSTKEY_H
#define SG_HOSTKEY_H

#include <stddef.h>

#include <libssh/libssh.h>

/* Loads the private key at path, making a new ed25519 key (mode 0600,
 * its directory created) when the file does not exist, then writes
 * PATH.pub (mode 0644, atomically) when it is missing or differs (a
 * failure there is a warning: a read-only key still serves).
 * *ret_created is set to 1 when the key is new. Returns 0 and *ret_key
 * (the caller frees it with ssh_key_free), or a negative errno and a
 * message in *ret_err (the caller frees it) that says what to do. */
int sg_hostkey_load(const char *path, ssh_key *ret_key, int *ret_created,
    char **ret_err);

/* Reads the public half of the key at path: PATH itself when readable
 * (root), else PATH.pub. Returns 0 and *ret_key, or a negative errno and
 * *ret_err. */
int sg_hostkey_read_public(const char *path, ssh_key *ret_key, char **ret_err);

/* Writes "SHA256:..." into out. Returns 0, -ENOBUFS or -EIO. */
int sg_hostkey_fingerprint(ssh_key key, char *out, size_t size);

/* The key's type as ssh-keygen prints it in parentheses: "ED25519",
 * "ECDSA", "RSA"; static storage. */
const char *sg_hostkey_type(ssh_key key);

/* The public key line "ssh-ed25519 AAAA..." in out. Returns 0, -ENOBUFS
 * or -EIO. */
int sg_hostkey_public_line(ssh_key key, char *out, size_t size);

#endif
