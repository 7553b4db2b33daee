/* sg_hostkey: see hostkey.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "common/log.h"
#include "common/text.h"
#include "gateway/hostkey.h"

int
sg_hostkey_public_line(ssh_key key, char *out, size_t size)
{
	char *b64 = NULL;
	int n;

	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return -EIO;
	n = snprintf(out, size, "%s %s",
	    ssh_key_type_to_char(ssh_key_type(key)), b64);
	ssh_string_free_char(b64);
	return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

int
sg_hostkey_fingerprint(ssh_key key, char *out, size_t size)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp;
	int n;

	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) != SSH_OK)
		return -EIO;
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	if (fp == NULL)
		return -EIO;
	n = snprintf(out, size, "%s", fp);
	ssh_string_free_char(fp);
	return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

const char *
sg_hostkey_type(ssh_key key)
{
	switch (ssh_key_type(key)) {
	case SSH_KEYTYPE_ED25519: return "ED25519";
	case SSH_KEYTYPE_ECDSA_P256:
	case SSH_KEYTYPE_ECDSA_P384:
	case SSH_KEYTYPE_ECDSA_P521: return "ECDSA";
	case SSH_KEYTYPE_RSA: return "RSA";
	default: return "UNKNOWN";
	}
}

/* Makes the directories above path (0755) that do not exist. */
static void
make_parents(const char *path)
{
	char dir[4096];
	char *p;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return;
	for (p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		(void)mkdir(dir, 0755);
		*p = '/';
	}
}

/* PATH.pub, written when missing or different, through a temporary file
 * renamed into place. */
static int
write_public(ssh_key key, const char *path, char **ret_err)
{
	char line[8192], old[8192], pub[4096], tmp[4200];
	ssize_t n = -1;
	int fd, r;

	r = sg_hostkey_public_line(key, line, sizeof(line) - 16);
	if (r < 0)
		return sg_fail(ret_err, r, "cannot encode the host key's public "
		    "half");
	strcat(line, " sandgate\n");
	if (snprintf(pub, sizeof(pub), "%s.pub", path) >= (int)sizeof(pub) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", pub) >= (int)sizeof(tmp))
		return sg_fail(ret_err, -ENAMETOOLONG, "%s: path too long", path);
	fd = open(pub, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, old, sizeof(old) - 1);
		close(fd);
		if (n >= 0) {
			old[n] = '\0';
			if (strcmp(old, line) == 0)
				return 0;
		}
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd < 0)
		return sg_fail(ret_err, -errno, "cannot write %s: %s", tmp,
		    strerror(errno));
	n = write(fd, line, strlen(line));
	r = (n == (ssize_t)strlen(line) && fchmod(fd, 0644) == 0 &&
	    fsync(fd) == 0) ? 0 : -(errno ? errno : EIO);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, pub) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return sg_fail(ret_err, r, "cannot write %s: %s", pub,
		    strerror(-r));
	}
	return 0;
}

int
sg_hostkey_load(const char *path, ssh_key *ret_key, int *ret_created,
    char **ret_err)
{
	ssh_key key = NULL;
	char *err = NULL;
	mode_t old;
	int r;

	*ret_created = 0;
	if (access(path, F_OK) != 0) {
		make_parents(path);
		if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
			return sg_fail(ret_err, -EIO, "cannot generate an "
			    "ed25519 host key");
		old = umask(077);
		r = ssh_pki_export_privkey_file(key, NULL, NULL, NULL, path);
		umask(old);
		if (r != SSH_OK) {
			ssh_key_free(key);
			return sg_fail(ret_err, -EIO, "cannot write the host key "
			    "%s: check that its directory is writable by root",
			    path);
		}
		*ret_created = 1;
	} else if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL,
	    &key) != SSH_OK) {
		return sg_fail(ret_err, -EIO, "cannot read the host key %s: "
		    "check [gateway] host_key, or remove the file to have a "
		    "new key made", path);
	}
	/* a key the operator keeps read-only still serves */
	if (write_public(key, path, &err) < 0) {
		sg_warn("%s", err ? err : "cannot write the .pub file");
		free(err);
	}
	*ret_key = key;
	return 0;
}

int
sg_hostkey_read_public(const char *path, ssh_key *ret_key, char **ret_err)
{
	char pub[4096];
	ssh_key key = NULL;

	if (access(path, R_OK) == 0 &&
	    ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) == SSH_OK) {
		*ret_key = key;
		return 0;
	}
	if (snprintf(pub, sizeof(pub), "%s.pub", path) >= (int)sizeof(pub))
		return sg_fail(ret_err, -ENAMETOOLONG, "%s: path too long", path);
	if (ssh_pki_import_pubkey_file(pub, &key) == SSH_OK) {
		*ret_key = key;
		return 0;
	}
	return sg_fail(ret_err, -ENOENT, "cannot read the host key %s or %s: "
	    "sandgated makes them at its first start (check [gateway] "
	    "host_key)", path, pub);
}
