/* sp_ca: the certificate authority of sandgate-proxy, see ca.h.
 *
 * Files are reached through a descriptor of the CA folder (openat and
 * friends), never followed through symlinks, and checked on the descriptor
 * that is then read (fstat), so what is checked is what is used. A new CA
 * is written to temporary files that are renamed into place with
 * RENAME_NOREPLACE (or link + unlink where the file system lacks it): two
 * proxies starting at once cannot overwrite each other, and a crash leaves
 * either nothing, a stray temporary file, or ca.key alone (which the next
 * start refuses with instructions). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/hostname.h"
#include "common/text.h"
#include "secrets/ca.h"

#define KEY_FILE      "ca.key"
#define CRT_FILE      "ca.crt"
#define KEY_FILE_MAX  (16 * 1024)
#define CRT_FILE_MAX  (64 * 1024)
#define CN_PREFIX     "sandgate sandbox CA "
#define CN_MAX        64              /* ub-common-name, RFC 5280 */
#define SERIAL_BYTES  16
#define DAY           86400

struct sp_ca {
	EVP_PKEY *key;          /* the CA key */
	X509 *cert;             /* its self-signed certificate */
	EVP_PKEY *leaf_key;     /* the key of every leaf, see ca.h */
	char *pem;              /* cert as PEM, NUL-terminated */
	char fingerprint[2 * 32 + 1];
	time_t not_after;
	int created;
};

struct sp_ca_leaf {
	atomic_uint refs;
	X509 *cert;
	EVP_PKEY *key;
	time_t not_after;
	char name[SP_CA_NAME_MAX + 1];
};

/* The reason of the most recent OpenSSL error, for a message (OpenSSL's
 * reason strings hold no key material), and an emptied error queue. The
 * string is static. */
static const char *
ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *s = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return s != NULL ? s : "unknown OpenSSL error";
}

static time_t
asn1_to_time(const ASN1_TIME *t, int *ret_ok)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		*ret_ok = 0;
		return 0;
	}
	*ret_ok = 1;
	return timegm(&tm);
}

static void
hex(char *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- names ---- */

/* A name is minted for only in its normal form (common/hostname.h). */
int
sp_ca_check_name(const char *name)
{
	char norm[SG_NAME_MAX];

	if (name == NULL || strnlen(name, SP_CA_NAME_MAX + 1) > SP_CA_NAME_MAX ||
	    sg_name_normalise(name, norm, sizeof(norm)) < 0 ||
	    strcmp(norm, name) != 0)
		return -EINVAL;
	return 0;
}

/* ---- certificate building blocks ---- */

/* A random positive serial of SERIAL_BYTES * 8 bits (not zero). */
static int
set_random_serial(X509 *x)
{
	unsigned char b[SERIAL_BYTES];
	BIGNUM *bn = NULL;
	int r = -EIO;
	size_t i;
	int zero;

	do {
		if (RAND_bytes(b, sizeof b) != 1)
			goto out;
		zero = 1;
		for (i = 0; i < sizeof b; i++)
			if (b[i] != 0)
				zero = 0;
	} while (zero);
	/* BN_bin2bn reads an unsigned number: the serial is positive, and
	 * DER adds a leading zero byte when the top bit is set (17 bytes at
	 * most, under RFC 5280's 20) */
	bn = BN_bin2bn(b, sizeof b, NULL);
	if (bn == NULL)
		goto out;
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	r = 0;
out:
	BN_free(bn);
	return r;
}

/* Adds one extension given in OpenSSL's configuration syntax (constant
 * strings only: nothing from outside reaches this syntax). */
static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (ext == NULL)
		return -EIO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -EIO;
}

/* subjectAltName with one dNSName, built as a structure rather than
 * through the configuration syntax, so the name is taken literally. */
static int
add_san(X509 *x, const char *name, int critical)
{
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;
	int r = -ENOMEM;

	gens = sk_GENERAL_NAME_new_null();
	gn = GENERAL_NAME_new();
	ia5 = ASN1_IA5STRING_new();
	if (gens == NULL || gn == NULL || ia5 == NULL)
		goto out;
	if (ASN1_STRING_set(ia5, name, (int)strlen(name)) != 1)
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	ia5 = NULL;
	if (sk_GENERAL_NAME_push(gens, gn) <= 0)
		goto out;
	gn = NULL;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical,
	    X509V3_ADD_DEFAULT) != 1) {
		r = -EIO;
		goto out;
	}
	r = 0;
out:
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gens);
	return r;
}

/* The CN of a new CA: the prefix and this host's name (characters
 * outside [A-Za-z0-9.-_] dropped, cut to fit 64 bytes), or a random id. */
static int
ca_common_name(char *out, size_t outsz)
{
	char host[256];
	char id[2 * 8 + 1];
	unsigned char rnd[8];
	size_t room = CN_MAX - (sizeof CN_PREFIX - 1);
	size_t i, n = 0;

	if (gethostname(host, sizeof host) == 0) {
		host[sizeof host - 1] = '\0';
		for (i = 0; host[i] != '\0' && n < room; i++) {
			char c = host[i];

			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
			    c == '_')
				host[n++] = c;
		}
	}
	host[n] = '\0';
	if (n == 0 || strcmp(host, "localhost") == 0 ||
	    strcmp(host, "(none)") == 0) {
		if (RAND_bytes(rnd, sizeof rnd) != 1)
			return -EIO;
		hex(id, rnd, sizeof rnd);
		snprintf(host, sizeof host, "%s", id);
	}
	if ((size_t)snprintf(out, outsz, "%s%s", CN_PREFIX, host) >= outsz)
		return -EIO;
	return 0;
}

/* A new self-signed CA certificate for key, valid from now minus the
 * backdate to now plus SP_CA_CA_DAYS. */
static int
ca_build(EVP_PKEY *key, time_t now, X509 **ret)
{
	char cn[CN_MAX + 1];
	X509 *x = NULL;
	X509_NAME *subj;
	X509V3_CTX ctx;
	int r;

	r = ca_common_name(cn, sizeof cn);
	if (r < 0)
		return r;
	r = -EIO;
	x = X509_new();
	if (x == NULL)
		goto out;
	if (X509_set_version(x, X509_VERSION_3) != 1)
		goto out;
	if (set_random_serial(x) < 0)
		goto out;
	subj = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1)
		goto out;
	if (X509_set_issuer_name(x, subj) != 1)
		goto out;
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, -SP_CA_BACKDATE_SECS,
	    &now) == NULL)
		goto out;
	if (X509_time_adj_ex(X509_getm_notAfter(x), SP_CA_CA_DAYS, 0,
	    &now) == NULL)
		goto out;
	if (X509_set_pubkey(x, key) != 1)
		goto out;
	/* the issuer is the certificate itself: the authority key id is
	 * taken from the subject key id added just before it */
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0)
		goto out;
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		goto out;
	*ret = x;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	return r;
}

/* ---- files ---- */

struct pass_cb_state {
	int asked;
};

/* PEM password callback: the CA key must not be encrypted, and no prompt
 * may ever appear on a terminal; remember that one was asked for. */
static int
no_password(char *buf, int size, int rwflag, void *u)
{
	struct pass_cb_state *s = u;

	(void)buf;
	(void)size;
	(void)rwflag;
	if (s != NULL)
		s->asked = 1;
	return -1;
}

/* Opens dir/name (dfd) without following a symlink, checks it (a regular
 * file; for the key also owner and mode) and reads at most max bytes of it
 * into a new buffer (*ret, NUL-terminated, *ret_len bytes). Key buffers
 * are to be wiped by the caller; this function wipes what it frees. */
static int
read_checked(int dfd, const char *dir, const char *name, size_t max,
    int is_key, unsigned char **ret, size_t *ret_len, char **ret_err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd = -1, r;
	ssize_t n;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP)
			sg_fail(ret_err, r, "%s/%s is a symbolic link: sandgate "
			    "does not follow links for its CA files; put the "
			    "file itself there", dir, name);
		else
			sg_fail(ret_err, r, "cannot open %s/%s: %s", dir, name,
			    strerror(-r));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		sg_fail(ret_err, r, "cannot stat %s/%s: %s", dir, name,
		    strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = sg_fail(ret_err, -EBADMSG, "%s/%s is not a regular file: "
		    "remove it, or put the CA file itself there", dir, name);
		goto out;
	}
	if (is_key && st.st_uid != geteuid()) {
		r = sg_fail(ret_err, -EACCES, "%s/%s is owned by uid %u, not by "
		    "the user running sandgate-proxy (uid %u): chown it to that "
		    "user, or remove ca.key and ca.crt to create a new CA",
		    dir, name, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (is_key && (st.st_mode & 077) != 0) {
		r = sg_fail(ret_err, -EACCES, "%s/%s is accessible to group or "
		    "others (mode %04o): run chmod 600 %s/%s, and if others "
		    "may have read it, remove ca.key and ca.crt to create a "
		    "new CA", dir, name, (unsigned)(st.st_mode & 07777), dir,
		    name);
		goto out;
	}
	if ((uintmax_t)st.st_size > max) {
		r = sg_fail(ret_err, -EFBIG, "%s/%s is larger than %zu bytes: "
		    "it is not a CA %s", dir, name, max,
		    is_key ? "key" : "certificate");
		goto out;
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		sg_fail(ret_err, r, "out of memory reading %s/%s", dir, name);
		goto out;
	}
	/* read to the end, bounded: the size may change under us */
	for (;;) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			sg_fail(ret_err, r, "cannot read %s/%s: %s", dir, name,
			    strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = sg_fail(ret_err, -EFBIG, "%s/%s is larger than %zu "
			    "bytes: it is not a CA %s", dir, name, max,
			    is_key ? "key" : "certificate");
			goto out;
		}
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, max + 1);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

static int
parse_key(const unsigned char *buf, size_t len, const char *dir,
    EVP_PKEY **ret, char **ret_err)
{
	struct pass_cb_state pcs = { 0 };
	EVP_PKEY *k = NULL;
	BIO *b = NULL;
	int r, id, bits;

	b = BIO_new_mem_buf(buf, (int)len);
	if (b == NULL)
		return sg_fail(ret_err, -ENOMEM, "out of memory");
	k = PEM_read_bio_PrivateKey(b, NULL, no_password, &pcs);
	if (k == NULL) {
		const char *why = ossl_reason();

		if (pcs.asked)
			r = sg_fail(ret_err, -EBADMSG, "%s/%s is encrypted: "
			    "sandgate-proxy needs it unencrypted (protected by "
			    "its mode 0600 and owner); decrypt it, e.g. openssl "
			    "pkey -in ca.key -out ca.key.new, and move it into "
			    "place with mode 0600", dir, KEY_FILE);
		else
			r = sg_fail(ret_err, -EBADMSG, "%s/%s holds no PEM "
			    "private key (%s): restore it, or remove ca.key and "
			    "ca.crt to create a new CA", dir, KEY_FILE, why);
		goto out;
	}
	id = EVP_PKEY_get_base_id(k);
	bits = EVP_PKEY_get_bits(k);
	if (!(id == EVP_PKEY_EC || (id == EVP_PKEY_RSA && bits >= 2048))) {
		r = sg_fail(ret_err, -EBADMSG, "%s/%s holds a %s key of %d bits: "
		    "sandgate signs with ECDSA or RSA (2048 bits or more); "
		    "replace ca.key and ca.crt, or remove both to create a new "
		    "CA", dir, KEY_FILE, OBJ_nid2sn(id), bits);
		goto out;
	}
	*ret = k;
	k = NULL;
	r = 0;
out:
	EVP_PKEY_free(k);
	BIO_free(b);
	ERR_clear_error();
	return r;
}

static int
parse_cert(const unsigned char *buf, size_t len, const char *dir,
    X509 **ret, char **ret_err)
{
	X509 *x;
	BIO *b;

	b = BIO_new_mem_buf(buf, (int)len);
	if (b == NULL)
		return sg_fail(ret_err, -ENOMEM, "out of memory");
	x = PEM_read_bio_X509(b, NULL, no_password, NULL);
	BIO_free(b);
	if (x == NULL)
		return sg_fail(ret_err, -EBADMSG, "%s/%s holds no PEM "
		    "certificate (%s): restore it, or remove ca.key and ca.crt "
		    "to create a new CA", dir, CRT_FILE, ossl_reason());
	*ret = x;
	return 0;
}

/* Is cert a CA certificate for key, usable now? */
static int
check_ca(X509 *cert, EVP_PKEY *key, time_t now, const char *dir,
    char **ret_err)
{
	BASIC_CONSTRAINTS *bc = NULL;
	ASN1_BIT_STRING *ku = NULL;
	int crit = -1, r;
	const char *fix = "replace ca.key and ca.crt with a matching CA pair, "
	    "or remove both to create a new CA";

	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		r = sg_fail(ret_err, -EKEYREJECTED, "%s/%s is not the "
		    "certificate of the key in %s/%s: %s", dir, CRT_FILE, dir,
		    KEY_FILE, fix);
		goto out;
	}
	if (X509_self_signed(cert, 1) != 1) {
		ERR_clear_error();
		r = sg_fail(ret_err, -EKEYREJECTED, "%s/%s is not self-signed "
		    "by its key: sandgate needs its own root CA; %s", dir,
		    CRT_FILE, fix);
		goto out;
	}
	if (X509_get_extension_flags(cert) & EXFLAG_INVALID) {
		r = sg_fail(ret_err, -EKEYREJECTED, "%s/%s has malformed or "
		    "duplicate extensions: %s", dir, CRT_FILE, fix);
		goto out;
	}
	bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
	if (bc == NULL || !bc->ca || crit != 1) {
		r = sg_fail(ret_err, -EKEYREJECTED, "%s/%s is not a CA "
		    "certificate (it needs basicConstraints CA:TRUE, marked "
		    "critical): %s", dir, CRT_FILE, fix);
		goto out;
	}
	crit = -1;
	ku = X509_get_ext_d2i(cert, NID_key_usage, &crit, NULL);
	/* bit 5 keyCertSign, bit 6 cRLSign (RFC 5280 4.2.1.3) */
	if (ku == NULL || crit != 1 || !ASN1_BIT_STRING_get_bit(ku, 5) ||
	    !ASN1_BIT_STRING_get_bit(ku, 6)) {
		r = sg_fail(ret_err, -EKEYREJECTED, "%s/%s is not a CA "
		    "certificate sandgate accepts (it needs keyUsage "
		    "keyCertSign and cRLSign, marked critical): %s", dir,
		    CRT_FILE, fix);
		goto out;
	}
	if (X509_cmp_time(X509_get0_notAfter(cert), &now) <= 0) {
		r = sg_fail(ret_err, -EKEYEXPIRED, "%s/%s has expired (or its "
		    "notAfter cannot be read): remove ca.key and ca.crt to "
		    "create a new CA (guests trust it from their next boot)",
		    dir, CRT_FILE);
		goto out;
	}
	if (X509_cmp_time(X509_get0_notBefore(cert), &now) >= 0) {
		r = sg_fail(ret_err, -EKEYEXPIRED, "%s/%s is not valid yet (its "
		    "notBefore is in the future): check this host's clock, or "
		    "remove ca.key and ca.crt to create a new CA", dir,
		    CRT_FILE);
		goto out;
	}
	r = 0;
out:
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	ERR_clear_error();
	return r;
}

/* Writes len bytes to a new file .NAME.tmp-RANDOM in dfd (O_EXCL,
 * O_NOFOLLOW, the given mode whatever the umask), synced. On success
 * *ret_tmp holds its name (free it); on failure nothing is left. */
static int
write_tmp(int dfd, const char *dir, const char *name, const void *p,
    size_t len, mode_t mode, char **ret_tmp, char **ret_err)
{
	unsigned char rnd[8];
	char id[2 * sizeof rnd + 1];
	char *tmp = NULL;
	size_t off = 0;
	ssize_t n;
	int fd = -1, r;

	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return sg_fail(ret_err, -EIO, "no random bytes: %s",
		    ossl_reason());
	hex(id, rnd, sizeof rnd);
	if (asprintf(&tmp, ".%s.tmp-%s", name, id) < 0)
		return sg_fail(ret_err, -ENOMEM, "out of memory");
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_NOCTTY | O_CLOEXEC, mode);
	if (fd < 0) {
		r = -errno;
		sg_fail(ret_err, r, "cannot create a file in %s: %s (the folder "
		    "must be writable by the user running sandgate-proxy)",
		    dir, strerror(-r));
		free(tmp);
		return r;
	}
	if (fchmod(fd, mode) < 0)
		goto fail_errno;
	while (off < len) {
		n = write(fd, (const char *)p + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_errno;
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail_errno;
	if (close(fd) < 0) {
		fd = -1;
		goto fail_errno;
	}
	*ret_tmp = tmp;
	return 0;

fail_errno:
	r = -errno;
	sg_fail(ret_err, r, "cannot write %s/%s: %s", dir, name, strerror(-r));
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	free(tmp);
	return r;
}

/* Moves tmp to name in dfd, failing with -EEXIST rather than replacing
 * an existing name. */
static int
install(int dfd, const char *tmp, const char *name)
{
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	/* no RENAME_NOREPLACE on this file system: link fails on EEXIST */
	if (linkat(dfd, tmp, dfd, name, 0) < 0)
		return -errno;
	unlinkat(dfd, tmp, 0);
	return 0;
}

/* Creates a new CA key and certificate and writes them to dfd. */
static int
ca_create(int dfd, const char *dir, time_t now, EVP_PKEY **ret_key,
    X509 **ret_cert, char **ret_err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	BIO *kb = NULL, *cb = NULL;
	char *kdata, *cdata;
	long klen, clen;
	char *ktmp = NULL, *ctmp = NULL;
	int key_installed = 0, r;

	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		r = sg_fail(ret_err, -EIO, "cannot generate the CA key: %s",
		    ossl_reason());
		goto out;
	}
	r = ca_build(key, now, &cert);
	if (r < 0) {
		sg_fail(ret_err, r, "cannot build the CA certificate: %s",
		    ossl_reason());
		goto out;
	}
	/* the PEM key goes through a secure-memory BIO, which wipes its
	 * buffer when freed */
	kb = BIO_new(BIO_s_secmem());
	cb = BIO_new(BIO_s_mem());
	if (kb == NULL || cb == NULL) {
		r = sg_fail(ret_err, -ENOMEM, "out of memory");
		goto out;
	}
	if (PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cb, cert) != 1) {
		r = sg_fail(ret_err, -EIO, "cannot encode the CA: %s",
		    ossl_reason());
		goto out;
	}
	klen = BIO_get_mem_data(kb, &kdata);
	clen = BIO_get_mem_data(cb, &cdata);
	if (klen <= 0 || clen <= 0) {
		r = sg_fail(ret_err, -EIO, "cannot encode the CA");
		goto out;
	}
	r = write_tmp(dfd, dir, KEY_FILE, kdata, (size_t)klen, 0600, &ktmp,
	    ret_err);
	if (r < 0)
		goto out;
	r = write_tmp(dfd, dir, CRT_FILE, cdata, (size_t)clen, 0644, &ctmp,
	    ret_err);
	if (r < 0)
		goto out;
	r = install(dfd, ktmp, KEY_FILE);
	if (r == 0) {
		key_installed = 1;
		r = install(dfd, ctmp, CRT_FILE);
	}
	if (r == -EEXIST) {
		sg_fail(ret_err, r, "%s/%s or %s appeared while sandgate-proxy "
		    "was creating the CA: is another sandgate-proxy using %s? "
		    "Start only one", dir, KEY_FILE, CRT_FILE, dir);
		goto out;
	}
	if (r < 0) {
		sg_fail(ret_err, r, "cannot put the new CA in place in %s: %s",
		    dir, strerror(-r));
		goto out;
	}
	if (fsync(dfd) < 0) {
		/* both files are in place and complete; a lost rename is
		 * found by the next start */
	}
	*ret_key = key;
	*ret_cert = cert;
	key = NULL;
	cert = NULL;
	r = 0;
out:
	if (r < 0) {
		/* leave nothing behind: our temporary files, and the key we
		 * installed when its certificate could not follow */
		if (ktmp != NULL)
			unlinkat(dfd, ktmp, 0);
		if (ctmp != NULL)
			unlinkat(dfd, ctmp, 0);
		if (key_installed)
			unlinkat(dfd, KEY_FILE, 0);
	}
	free(ktmp);
	free(ctmp);
	BIO_free(kb);
	BIO_free(cb);
	EVP_PKEY_free(key);
	X509_free(cert);
	ERR_clear_error();
	return r;
}

/* ---- the CA ---- */

/* Fills the derived fields of ca from ca->key and ca->cert and makes the
 * leaf key. */
static int
ca_finish(struct sp_ca *ca, char **ret_err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	BIO *b = NULL;
	char *data;
	long len;
	int ok, r = -EIO;

	ca->not_after = asn1_to_time(X509_get0_notAfter(ca->cert), &ok);
	if (!ok)
		goto fail;
	if (X509_digest(ca->cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		goto fail;
	hex(ca->fingerprint, md, mdlen);
	b = BIO_new(BIO_s_mem());
	if (b == NULL || PEM_write_bio_X509(b, ca->cert) != 1)
		goto fail;
	len = BIO_get_mem_data(b, &data);
	if (len <= 0)
		goto fail;
	ca->pem = malloc((size_t)len + 1);
	if (ca->pem == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(ca->pem, data, (size_t)len);
	ca->pem[len] = '\0';
	ca->leaf_key = EVP_EC_gen("P-256");
	if (ca->leaf_key == NULL)
		goto fail;
	BIO_free(b);
	return 0;
fail:
	sg_fail(ret_err, r, "cannot prepare the CA: %s", ossl_reason());
	BIO_free(b);
	return r;
}

int
sp_ca_load_or_create(const char *dir, struct sp_ca **ret, char **ret_err)
{
	struct sp_ca *ca = NULL;
	unsigned char *kbuf = NULL, *cbuf = NULL;
	size_t klen = 0, clen = 0;
	struct stat st;
	int dfd = -1, r, have_key, have_crt;
	time_t now = time(NULL);

	ca = calloc(1, sizeof *ca);
	if (ca == NULL)
		return sg_fail(ret_err, -ENOMEM, "out of memory");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		sg_fail(ret_err, r, "cannot create the CA folder %s: %s", dir,
		    strerror(-r));
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		sg_fail(ret_err, r, "cannot open the CA folder %s: %s", dir,
		    strerror(-r));
		goto out;
	}
	/* anything but "does not exist" counts as present: opening it then
	 * says what is wrong with it */
	have_key = !(fstatat(dfd, KEY_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT);
	have_crt = !(fstatat(dfd, CRT_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT);

	if (!have_key && !have_crt) {
		r = ca_create(dfd, dir, now, &ca->key, &ca->cert, ret_err);
		if (r < 0)
			goto out;
		ca->created = 1;
	} else if (!have_crt) {
		r = sg_fail(ret_err, -ENOENT, "%s/%s exists but %s/%s does not: "
		    "restore ca.crt from a backup, or remove ca.key so that "
		    "sandgate-proxy creates a new CA (guests trust it from "
		    "their next boot)", dir, KEY_FILE, dir, CRT_FILE);
		goto out;
	} else if (!have_key) {
		r = sg_fail(ret_err, -ENOENT, "%s/%s exists but %s/%s does not: "
		    "restore ca.key from a backup, or remove ca.crt so that "
		    "sandgate-proxy creates a new CA (guests trust it from "
		    "their next boot)", dir, CRT_FILE, dir, KEY_FILE);
		goto out;
	} else {
		r = read_checked(dfd, dir, KEY_FILE, KEY_FILE_MAX, 1, &kbuf,
		    &klen, ret_err);
		if (r < 0)
			goto out;
		r = read_checked(dfd, dir, CRT_FILE, CRT_FILE_MAX, 0, &cbuf,
		    &clen, ret_err);
		if (r < 0)
			goto out;
		r = parse_key(kbuf, klen, dir, &ca->key, ret_err);
		if (r < 0)
			goto out;
		r = parse_cert(cbuf, clen, dir, &ca->cert, ret_err);
		if (r < 0)
			goto out;
	}
	/* a new CA is checked too: what is written is what is loaded */
	r = check_ca(ca->cert, ca->key, now, dir, ret_err);
	if (r < 0)
		goto out;
	r = ca_finish(ca, ret_err);
	if (r < 0)
		goto out;
	*ret = ca;
	ca = NULL;
	r = 0;
out:
	if (kbuf != NULL) {
		OPENSSL_cleanse(kbuf, klen);
		free(kbuf);
	}
	free(cbuf);
	if (dfd >= 0)
		close(dfd);
	sp_ca_free(ca);
	return r;
}

void
sp_ca_free(struct sp_ca *ca)
{
	if (ca == NULL)
		return;
	/* EVP_PKEY_free clears the private numbers (BN_clear_free) */
	EVP_PKEY_free(ca->key);
	EVP_PKEY_free(ca->leaf_key);
	X509_free(ca->cert);
	free(ca->pem);
	free(ca);
}

int
sp_ca_created(const struct sp_ca *ca)
{
	return ca->created;
}

const char *
sp_ca_cert_pem(const struct sp_ca *ca)
{
	return ca->pem;
}

X509 *
sp_ca_cert(const struct sp_ca *ca)
{
	return ca->cert;
}

const char *
sp_ca_fingerprint(const struct sp_ca *ca)
{
	return ca->fingerprint;
}

/* ---- leaves ---- */

int
sp_ca_mint_at(struct sp_ca *ca, const char *name, time_t now,
    struct sp_ca_leaf **ret, char **ret_err)
{
	struct sp_ca_leaf *leaf = NULL;
	X509 *x = NULL;
	X509_NAME *subj;
	X509V3_CTX ctx;
	time_t not_after;
	size_t len;
	int r, ok;

	if (sp_ca_check_name(name) < 0)
		return sg_fail(ret_err, -EINVAL, "no certificate minted: the "
		    "name is not a normalised DNS name");
	if (now >= ca->not_after)
		return sg_fail(ret_err, -EKEYEXPIRED, "the sandgate CA "
		    "certificate has expired: remove ca.key and ca.crt and "
		    "restart sandgate-proxy to create a new CA");
	len = strlen(name);
	/* never past the CA's own notAfter */
	if (ca->not_after - now > (time_t)SP_CA_LEAF_DAYS * DAY)
		not_after = now + (time_t)SP_CA_LEAF_DAYS * DAY;
	else
		not_after = ca->not_after;

	r = -ENOMEM;
	leaf = calloc(1, sizeof *leaf);
	if (leaf == NULL)
		goto fail;
	atomic_init(&leaf->refs, 1);
	memcpy(leaf->name, name, len + 1);
	r = -EIO;
	x = X509_new();
	if (x == NULL)
		goto fail;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    set_random_serial(x) < 0)
		goto fail;
	subj = X509_get_subject_name(x);
	/* a CN only when it fits (64 bytes); modern clients read the SAN,
	 * which is critical when the subject is empty (RFC 5280 4.2.1.6) */
	if (len <= CN_MAX &&
	    X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0) != 1)
		goto fail;
	if (X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1)
		goto fail;
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, -SP_CA_BACKDATE_SECS,
	    &now) == NULL)
		goto fail;
	if (X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &not_after) == NULL)
		goto fail;
	if (X509_set_pubkey(x, ca->leaf_key) != 1)
		goto fail;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0)
		goto fail;
	r = add_san(x, name, len > CN_MAX);
	if (r < 0)
		goto fail;
	r = -EIO;
	if (X509_sign(x, ca->key, EVP_sha256()) <= 0)
		goto fail;
	leaf->not_after = asn1_to_time(X509_get0_notAfter(x), &ok);
	if (!ok)
		goto fail;
	if (EVP_PKEY_up_ref(ca->leaf_key) != 1)
		goto fail;
	leaf->key = ca->leaf_key;
	leaf->cert = x;
	*ret = leaf;
	return 0;
fail:
	sg_fail(ret_err, r, "cannot mint a certificate for %s: %s", name,
	    r == -ENOMEM ? "out of memory" : ossl_reason());
	X509_free(x);
	free(leaf);
	ERR_clear_error();
	return r;
}

int
sp_ca_mint(struct sp_ca *ca, const char *name, struct sp_ca_leaf **ret,
    char **ret_err)
{
	return sp_ca_mint_at(ca, name, time(NULL), ret, ret_err);
}

struct sp_ca_leaf *
sp_ca_leaf_ref(struct sp_ca_leaf *leaf)
{
	if (leaf != NULL)
		atomic_fetch_add_explicit(&leaf->refs, 1, memory_order_relaxed);
	return leaf;
}

void
sp_ca_leaf_unref(struct sp_ca_leaf *leaf)
{
	if (leaf == NULL)
		return;
	if (atomic_fetch_sub_explicit(&leaf->refs, 1,
	    memory_order_acq_rel) != 1)
		return;
	X509_free(leaf->cert);
	EVP_PKEY_free(leaf->key);
	free(leaf);
}

X509 *
sp_ca_leaf_cert(const struct sp_ca_leaf *leaf)
{
	return leaf->cert;
}

EVP_PKEY *
sp_ca_leaf_key(const struct sp_ca_leaf *leaf)
{
	return leaf->key;
}

const char *
sp_ca_leaf_name(const struct sp_ca_leaf *leaf)
{
	return leaf->name;
}

time_t
sp_ca_leaf_not_after(const struct sp_ca_leaf *leaf)
{
	return leaf->not_after;
}

/* ---- the cache ---- */

struct entry {
	struct entry *hnext;            /* bucket chain */
	struct entry *prev, *next;      /* LRU list, most recent first */
	struct sp_ca_leaf *leaf;        /* the key is leaf->name */
	uint64_t hash;
	time_t minted, expires;
};

struct sp_ca_cache {
	struct sp_ca *ca;
	size_t capacity, count, nbuckets;
	struct entry **buckets;
	struct entry *head, *tail;
	uint64_t seed;
};

/* FNV-1a from a random basis, then a final mix so that every bit of the
 * result depends on every byte. Collisions only cost time, and a chain
 * never holds more than capacity entries. */
static uint64_t
name_hash(const struct sp_ca_cache *c, const char *name)
{
	uint64_t h = c->seed ^ 0xcbf29ce484222325ULL;

	for (; *name != '\0'; name++) {
		h ^= (unsigned char)*name;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

int
sp_ca_cache_new(struct sp_ca *ca, size_t capacity, struct sp_ca_cache **ret)
{
	struct sp_ca_cache *c;
	size_t nb = 16;

	if (ca == NULL || capacity == 0 || capacity > SP_CA_CACHE_MAX)
		return -EINVAL;
	while (nb < capacity)
		nb *= 2;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return -ENOMEM;
	c->buckets = calloc(nb, sizeof *c->buckets);
	if (c->buckets == NULL) {
		free(c);
		return -ENOMEM;
	}
	if (RAND_bytes((unsigned char *)&c->seed, sizeof c->seed) != 1) {
		ERR_clear_error();
		free(c->buckets);
		free(c);
		return -EIO;
	}
	c->ca = ca;
	c->capacity = capacity;
	c->nbuckets = nb;
	*ret = c;
	return 0;
}

static void
lru_unlink(struct sp_ca_cache *c, struct entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push_front(struct sp_ca_cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head != NULL)
		c->head->prev = e;
	else
		c->tail = e;
	c->head = e;
}

static void
entry_remove(struct sp_ca_cache *c, struct entry *e)
{
	struct entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	sp_ca_leaf_unref(e->leaf);
	free(e);
	c->count--;
}

void
sp_ca_cache_free(struct sp_ca_cache *c)
{
	struct entry *e, *next;

	if (c == NULL)
		return;
	for (e = c->head; e != NULL; e = next) {
		next = e->next;
		sp_ca_leaf_unref(e->leaf);
		free(e);
	}
	free(c->buckets);
	free(c);
}

size_t
sp_ca_cache_count(const struct sp_ca_cache *c)
{
	return c->count;
}

/* When a leaf minted at now stops being handed out. */
static time_t
entry_expiry(const struct sp_ca_leaf *leaf, time_t now)
{
	time_t half = (leaf->not_after - now) / 2;

	return now + (half < SP_CA_CACHE_TTL_SECS ? half : SP_CA_CACHE_TTL_SECS);
}

int
sp_ca_get(struct sp_ca_cache *c, const char *name, time_t now,
    struct sp_ca_leaf **ret, char **ret_err)
{
	struct sp_ca_leaf *leaf = NULL;
	struct entry *e;
	uint64_t h;
	int r;

	if (sp_ca_check_name(name) < 0)
		return sg_fail(ret_err, -EINVAL, "no certificate minted: the "
		    "name is not a normalised DNS name");
	h = name_hash(c, name);
	for (e = c->buckets[h & (c->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && strcmp(e->leaf->name, name) == 0)
			break;
	if (e != NULL && now < e->expires && now > e->minted - DAY) {
		lru_unlink(c, e);
		lru_push_front(c, e);
		*ret = sp_ca_leaf_ref(e->leaf);
		return 0;
	}

	r = sp_ca_mint_at(c->ca, name, now, &leaf, ret_err);
	if (r < 0)
		return r;
	if (e != NULL) {
		/* stale: the new leaf takes its place */
		sp_ca_leaf_unref(e->leaf);
		lru_unlink(c, e);
	} else {
		e = calloc(1, sizeof *e);
		if (e == NULL) {
			sp_ca_leaf_unref(leaf);
			return sg_fail(ret_err, -ENOMEM, "out of memory");
		}
		if (c->count >= c->capacity)
			entry_remove(c, c->tail);
		e->hash = h;
		e->hnext = c->buckets[h & (c->nbuckets - 1)];
		c->buckets[h & (c->nbuckets - 1)] = e;
		c->count++;
	}
	e->leaf = leaf;
	e->minted = now;
	e->expires = entry_expiry(leaf, now);
	lru_push_front(c, e);
	*ret = sp_ca_leaf_ref(leaf);
	return 0;
}
