/* Unit tests for secrets/ca.c: a CA is created in a fresh folder under
 * /tmp and loaded again; hand-made key/certificate pairs that are not
 * acceptable CAs (mismatched, not CA, keyUsage or criticality missing,
 * expired, encrypted, garbage), bad modes, a symlinked key and half a CA
 * are refused; minted leaves verify against the CA with X509_verify_cert
 * (purpose sslserver, host checked) and carry exactly the extensions,
 * SAN, serials and dates promised; the cache reuses, evicts (LRU) and
 * expires; invalid names are refused. Every folder is removed at the end. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "secrets/ca.h"

#define DAY 86400

static char base[] = "/tmp/sg-test-ca-XXXXXX";
static unsigned counter;

/* A new, not yet existing folder path under base (caller frees). */
static char *
new_dir(void)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/ca%u", base, counter++) > 0);
	return p;
}

static char *
path_in(const char *dir, const char *name)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	/* folders made read-only by a test must be emptied too */
	chmod(path, 0700);
	return remove(path);
}

static int
group_setup(void **state)
{
	(void)state;
	if (mkdtemp(base) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	/* depth first, so that children go before their folder */
	return nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static time_t
asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return timegm(&tm);
}

static size_t
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *f = fopen(from, "rb");
	FILE *g;
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	g = fopen(to, "wb");
	assert_non_null(g);
	assert_int_equal(fwrite(buf, 1, n, g), n);
	assert_int_equal(fclose(g), 0);
}

static struct sp_ca *
make_ca(char **ret_dir)
{
	struct sp_ca *ca = NULL;
	char *dir = new_dir();
	char *err = NULL;

	assert_int_equal(sp_ca_load_or_create(dir, &ca, &err), 0);
	assert_null(err);
	if (ret_dir != NULL)
		*ret_dir = dir;
	else
		free(dir);
	return ca;
}

/* Loads dir expecting code want, and a message holding each of the
 * given words. */
static void
expect_refusal(const char *dir, int want, const char *word1,
    const char *word2)
{
	struct sp_ca *ca = NULL;
	char *err = NULL;
	int r;

	r = sp_ca_load_or_create(dir, &ca, &err);
	if (r != want)
		print_error("load %s: %d, wanted %d (%s)\n", dir, r, want,
		    err ? err : "no message");
	assert_int_equal(r, want);
	assert_null(ca);
	assert_non_null(err);
	if (word1 != NULL && strstr(err, word1) == NULL)
		fail_msg("message without \"%s\": %s", word1, err);
	if (word2 != NULL && strstr(err, word2) == NULL)
		fail_msg("message without \"%s\": %s", word2, err);
	assert_null(strstr(err, "PRIVATE"));
	free(err);
}

/* Writes an EC key and a self-signed certificate with the given
 * basicConstraints and keyUsage (NULL: none) valid until now plus
 * days_left into a new folder (key mode 0600). enc: the key PEM is
 * encrypted. */
static char *
write_pair(const char *bc, const char *ku, long days_left, int enc)
{
	char *dir = new_dir();
	char *kp = path_in(dir, "ca.key"), *cp = path_in(dir, "ca.crt");
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	FILE *f;
	int fd;

	assert_int_equal(mkdir(dir, 0700), 0);
	assert_non_null(k);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 4242), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)"test CA", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), -30, 0, NULL));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), (int)days_left,
	    0, NULL));
	assert_int_equal(X509_set_pubkey(x, k), 1);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (bc != NULL) {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, bc);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	if (ku != NULL) {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, ku);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);

	fd = open(kp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	if (enc)
		assert_int_equal(PEM_write_PrivateKey(f, k, EVP_aes_128_cbc(),
		    (const unsigned char *)"pass", 4, NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL,
		    NULL), 1);
	assert_int_equal(fclose(f), 0);
	f = fopen(cp, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(fclose(f), 0);

	X509_free(x);
	EVP_PKEY_free(k);
	free(kp);
	free(cp);
	return dir;
}

/* ---- creation and loading ---- */

static void
test_create_then_load(void **state)
{
	struct sp_ca *ca = NULL, *ca2 = NULL;
	char *dir = new_dir(), *kp, *cp, *err = NULL;
	const ASN1_OCTET_STRING *ski, *aki;
	BASIC_CONSTRAINTS *bc;
	ASN1_BIT_STRING *ku;
	X509 *cert;
	BIGNUM *serial;
	char cn[128];
	struct stat st;
	time_t now = time(NULL);
	mode_t old;
	int crit = -1;
	FILE *f;
	char line[64];

	(void)state;
	/* a strict umask must not make ca.crt unreadable to sandgated */
	old = umask(077);
	assert_int_equal(sp_ca_load_or_create(dir, &ca, &err), 0);
	umask(old);
	assert_null(err);
	assert_int_equal(sp_ca_created(ca), 1);

	/* the folder, the files and their modes; no temporary file left */
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	kp = path_in(dir, "ca.key");
	cp = path_in(dir, "ca.crt");
	assert_int_equal(lstat(kp, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(lstat(cp, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(count_entries(dir), 2);
	f = fopen(kp, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof line, f));
	fclose(f);
	assert_string_equal(line, "-----BEGIN PRIVATE KEY-----\n");

	/* the certificate */
	cert = sp_ca_cert(ca);
	assert_int_equal(X509_check_ca(cert), 1);
	assert_int_equal(X509_self_signed(cert, 1), 1);
	bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_int_equal(crit, 1);
	assert_non_null(bc->pathlen);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	ku = X509_get_ext_d2i(cert, NID_key_usage, &crit, NULL);
	assert_non_null(ku);
	assert_int_equal(crit, 1);
	assert_int_equal(X509_get_key_usage(cert), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ASN1_BIT_STRING_free(ku);
	ski = X509_get0_subject_key_id(cert);
	aki = X509_get0_authority_key_id(cert);
	assert_non_null(ski);
	assert_non_null(aki);
	assert_int_equal(ASN1_OCTET_STRING_cmp(ski, aki), 0);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, sizeof cn) > 0);
	assert_int_equal(strncmp(cn, "sandgate sandbox CA ", 20), 0);
	assert_true(strlen(cn) > 20 && strlen(cn) <= 64);
	assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(cert)),
	    EVP_PKEY_EC);
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	assert_non_null(serial);
	assert_false(BN_is_negative(serial));
	assert_true(BN_num_bits(serial) > 64 && BN_num_bits(serial) <= 128);
	BN_free(serial);
	assert_true(labs((long)(asn1_time(X509_get0_notBefore(cert)) -
	    (now - 2 * DAY))) < 120);
	assert_true(labs((long)(asn1_time(X509_get0_notAfter(cert)) -
	    (now + 3650L * DAY))) < 120);
	assert_int_equal(strncmp(sp_ca_cert_pem(ca),
	    "-----BEGIN CERTIFICATE-----\n", 28), 0);
	assert_null(strstr(sp_ca_cert_pem(ca), "PRIVATE"));
	assert_int_equal(strlen(sp_ca_fingerprint(ca)), 64);

	/* loaded again: the same CA */
	assert_int_equal(sp_ca_load_or_create(dir, &ca2, &err), 0);
	assert_null(err);
	assert_int_equal(sp_ca_created(ca2), 0);
	assert_int_equal(X509_cmp(sp_ca_cert(ca), sp_ca_cert(ca2)), 0);
	assert_string_equal(sp_ca_cert_pem(ca), sp_ca_cert_pem(ca2));
	assert_string_equal(sp_ca_fingerprint(ca), sp_ca_fingerprint(ca2));
	assert_int_equal(count_entries(dir), 2);

	sp_ca_free(ca);
	sp_ca_free(ca2);
	sp_ca_free(NULL);
	free(kp);
	free(cp);
	free(dir);
}

static void
test_refuse_mismatch(void **state)
{
	char *a, *b, *ac, *bc;
	struct sp_ca *ca = NULL;

	(void)state;
	sp_ca_free(make_ca(&a));
	sp_ca_free(make_ca(&b));
	ac = path_in(a, "ca.crt");
	bc = path_in(b, "ca.crt");
	copy_file(bc, ac);
	expect_refusal(a, -EKEYREJECTED, "ca.crt", "remove both");
	/* b, whose certificate it was, still loads */
	assert_int_equal(sp_ca_load_or_create(b, &ca, NULL), 0);
	sp_ca_free(ca);
	free(a);
	free(b);
	free(ac);
	free(bc);
}

static void
test_refuse_non_ca(void **state)
{
	static const char good_ku[] = "critical,keyCertSign,cRLSign";
	struct sp_ca *ca = NULL;
	char *dir, *err = NULL;

	(void)state;
	dir = write_pair("critical,CA:FALSE", good_ku, 365, 0);
	expect_refusal(dir, -EKEYREJECTED, "not a CA", "basicConstraints");
	free(dir);
	dir = write_pair("CA:TRUE", good_ku, 365, 0);         /* not critical */
	expect_refusal(dir, -EKEYREJECTED, "ca.crt", "critical");
	free(dir);
	dir = write_pair(NULL, good_ku, 365, 0);
	expect_refusal(dir, -EKEYREJECTED, "ca.crt", "basicConstraints");
	free(dir);
	dir = write_pair("critical,CA:TRUE", "critical,digitalSignature", 365, 0);
	expect_refusal(dir, -EKEYREJECTED, "ca.crt", "keyCertSign");
	free(dir);
	dir = write_pair("critical,CA:TRUE", "keyCertSign,cRLSign", 365, 0);
	expect_refusal(dir, -EKEYREJECTED, "ca.crt", "keyUsage");
	free(dir);
	dir = write_pair("critical,CA:TRUE", "critical,keyCertSign", 365, 0);
	expect_refusal(dir, -EKEYREJECTED, "ca.crt", "cRLSign");
	free(dir);
	dir = write_pair("critical,CA:TRUE", good_ku, -1, 0);  /* expired */
	expect_refusal(dir, -EKEYEXPIRED, "ca.crt", "expired");
	free(dir);
	dir = write_pair("critical,CA:TRUE", good_ku, 365, 1);
	expect_refusal(dir, -EBADMSG, "ca.key", "encrypted");
	free(dir);

	/* an operator's own CA that meets the rules is accepted, and
	 * leaves it mints verify against it */
	dir = write_pair("critical,CA:TRUE", good_ku, 365, 0);
	assert_int_equal(sp_ca_load_or_create(dir, &ca, &err), 0);
	assert_null(err);
	assert_int_equal(sp_ca_created(ca), 0);
	sp_ca_free(ca);
	free(dir);
}

static void
test_refuse_key_mode_and_owner(void **state)
{
	struct sp_ca *ca = NULL;
	char *dir, *kp, *err = NULL;

	(void)state;
	sp_ca_free(make_ca(&dir));
	kp = path_in(dir, "ca.key");

	assert_int_equal(chmod(kp, 0644), 0);
	expect_refusal(dir, -EACCES, "ca.key", "chmod 600");
	assert_int_equal(chmod(kp, 0640), 0);
	expect_refusal(dir, -EACCES, "ca.key", "mode 0640");
	assert_int_equal(chmod(kp, 0604), 0);
	expect_refusal(dir, -EACCES, "ca.key", "chmod 600");
	assert_int_equal(chmod(kp, 0620), 0);
	expect_refusal(dir, -EACCES, "ca.key", "group or others");
	/* read-only for the owner is fine */
	assert_int_equal(chmod(kp, 0400), 0);
	assert_int_equal(sp_ca_load_or_create(dir, &ca, &err), 0);
	sp_ca_free(ca);
	ca = NULL;
	assert_int_equal(chmod(kp, 0600), 0);

	/* owned by someone else: only root can arrange that */
	if (geteuid() == 0) {
		assert_int_equal(chown(kp, 65534, 65534), 0);
		expect_refusal(dir, -EACCES, "owned by uid 65534", "chown");
		assert_int_equal(chown(kp, 0, 0), 0);
	} else {
		print_message("owner check skipped: not running as root\n");
	}
	assert_int_equal(sp_ca_load_or_create(dir, &ca, &err), 0);
	sp_ca_free(ca);
	free(kp);
	free(dir);
}

static void
test_refuse_files(void **state)
{
	char *dir, *kp, *cp, *real;
	FILE *f;

	(void)state;
	sp_ca_free(make_ca(&dir));
	kp = path_in(dir, "ca.key");
	cp = path_in(dir, "ca.crt");
	real = path_in(dir, "real.key");

	/* half a CA */
	assert_int_equal(rename(cp, real), 0);
	expect_refusal(dir, -ENOENT, "ca.crt does not", "remove ca.key");
	assert_int_equal(count_entries(dir), 2);   /* nothing created */
	assert_int_equal(rename(real, cp), 0);
	assert_int_equal(rename(kp, real), 0);
	expect_refusal(dir, -ENOENT, "ca.key does not", "remove ca.crt");

	/* a symlinked key */
	assert_int_equal(symlink("real.key", kp), 0);
	expect_refusal(dir, -ELOOP, "ca.key", "symbolic link");
	assert_int_equal(unlink(kp), 0);
	/* a dangling symlink also counts as present */
	assert_int_equal(symlink("nowhere", kp), 0);
	expect_refusal(dir, -ELOOP, "ca.key", "symbolic link");
	assert_int_equal(unlink(kp), 0);
	/* a folder instead of a file */
	assert_int_equal(mkdir(kp, 0700), 0);
	expect_refusal(dir, -EBADMSG, "ca.key", "not a regular file");
	assert_int_equal(rmdir(kp), 0);

	/* garbage in the key, then in the certificate */
	f = fopen(kp, "w");
	assert_non_null(f);
	fputs("-----BEGIN PRIVATE KEY-----\nnot base64\n"
	    "-----END PRIVATE KEY-----\n", f);
	fclose(f);
	assert_int_equal(chmod(kp, 0600), 0);
	expect_refusal(dir, -EBADMSG, "ca.key", "no PEM private key");
	assert_int_equal(rename(real, kp), 0);
	f = fopen(cp, "w");
	assert_non_null(f);
	fputs("hello\n", f);
	fclose(f);
	expect_refusal(dir, -EBADMSG, "ca.crt", "no PEM certificate");

	free(kp);
	free(cp);
	free(real);
	free(dir);
}

static void
test_create_fails_cleanly(void **state)
{
	struct sp_ca *ca = NULL;
	char *dir, *err = NULL, *missing;

	(void)state;
	/* the parent folder is missing */
	assert_true(asprintf(&missing, "%s/nope/ca", base) > 0);
	assert_int_equal(sp_ca_load_or_create(missing, &ca, &err), -ENOENT);
	assert_non_null(err);
	assert_non_null(strstr(err, missing));
	free(err);
	err = NULL;
	free(missing);

	/* a write that fails half way (a file size limit): first the key,
	 * then the certificate after the key was written; nothing left */
	{
		static const rlim_t limits[] = { 100, 400 };
		struct rlimit old, lim;
		void (*oldsig)(int);
		size_t i;

		assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
		oldsig = signal(SIGXFSZ, SIG_IGN);
		for (i = 0; i < 2; i++) {
			dir = new_dir();
			lim = old;
			lim.rlim_cur = limits[i];
			assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
			assert_int_equal(sp_ca_load_or_create(dir, &ca, &err),
			    -EFBIG);
			assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
			assert_null(ca);
			assert_non_null(err);
			assert_non_null(strstr(err, i == 0 ? "ca.key" : "ca.crt"));
			free(err);
			err = NULL;
			assert_int_equal(count_entries(dir), 0);
			/* and it works once the limit is gone */
			assert_int_equal(sp_ca_load_or_create(dir, &ca, NULL), 0);
			sp_ca_free(ca);
			ca = NULL;
			assert_int_equal(count_entries(dir), 2);
			free(dir);
		}
		signal(SIGXFSZ, oldsig);
	}

	if (geteuid() == 0) {
		print_message("read-only folder case skipped: running as root\n");
		return;
	}
	/* a folder the user cannot write: an error, and nothing left */
	dir = new_dir();
	assert_int_equal(mkdir(dir, 0500), 0);
	assert_int_equal(sp_ca_load_or_create(dir, &ca, &err), -EACCES);
	assert_null(ca);
	assert_non_null(err);
	assert_non_null(strstr(err, "writable"));
	free(err);
	assert_int_equal(count_entries(dir), 0);
	assert_int_equal(chmod(dir, 0700), 0);
	free(dir);
}

/* ---- leaves ---- */

static struct sp_ca *shared_ca;

static void
ensure_ca(void)
{
	if (shared_ca == NULL)
		shared_ca = make_ca(NULL);
}

/* Verifies leaf against ca as a TLS client would for host. */
static int
verify_leaf(X509 *ca_cert, X509 *leaf, const char *host)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int ok;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, ca_cert), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx,
	    X509_PURPOSE_SSL_SERVER), 1);
	param = X509_STORE_CTX_get0_param(ctx);
	assert_int_equal(X509_VERIFY_PARAM_set1_host(param, host, 0), 1);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		print_message("verify %s: %s\n", host,
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}

static void
test_mint_verifies(void **state)
{
	struct sp_ca_leaf *leaf = NULL;
	struct sp_ca *other;
	BASIC_CONSTRAINTS *bc;
	ASN1_BIT_STRING *ku;
	X509 *x;
	char cn[128];
	char *err = NULL;
	int crit = -1;

	(void)state;
	ensure_ca();
	assert_int_equal(sp_ca_mint(shared_ca, "api.example.com", &leaf, &err), 0);
	assert_null(err);
	x = sp_ca_leaf_cert(leaf);
	assert_string_equal(sp_ca_leaf_name(leaf), "api.example.com");

	assert_int_equal(verify_leaf(sp_ca_cert(shared_ca), x,
	    "api.example.com"), 1);
	assert_int_equal(X509_check_host(x, "api.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "API.Example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "example.com", 0, 0, NULL), 0);
	assert_int_equal(X509_check_host(x, "x.api.example.com", 0, 0, NULL), 0);
	assert_int_equal(X509_check_host(x, "evil.com", 0, 0, NULL), 0);
	assert_int_not_equal(verify_leaf(sp_ca_cert(shared_ca), x,
	    "other.example.com"), 1);
	assert_int_equal(X509_check_private_key(x, sp_ca_leaf_key(leaf)), 1);

	/* not valid under another CA */
	other = make_ca(NULL);
	assert_int_not_equal(verify_leaf(sp_ca_cert(other), x,
	    "api.example.com"), 1);
	sp_ca_free(other);

	/* the extensions promised */
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_check_ca(x), 0);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_false(bc->ca);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
	assert_non_null(ku);
	assert_int_equal(crit, 1);
	ASN1_BIT_STRING_free(ku);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
	    X509_get0_subject_key_id(sp_ca_cert(shared_ca))), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_subject_name(sp_ca_cert(shared_ca))), 0);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof cn) > 0);
	assert_string_equal(cn, "api.example.com");
	assert_int_equal(EVP_PKEY_get_base_id(sp_ca_leaf_key(leaf)), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(sp_ca_leaf_key(leaf)), 256);

	/* the leaf outlives a reference dropped elsewhere */
	assert_ptr_equal(sp_ca_leaf_ref(leaf), leaf);
	sp_ca_leaf_unref(leaf);
	assert_int_equal(X509_check_private_key(x, sp_ca_leaf_key(leaf)), 1);
	sp_ca_leaf_unref(leaf);
	sp_ca_leaf_unref(NULL);
	assert_null(sp_ca_leaf_ref(NULL));
}

/* The single dNSName of x, which must be the only SAN entry. */
static void
assert_san_is(X509 *x, const char *name, int want_crit)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *gn;
	const ASN1_IA5STRING *ia5;
	int crit = -1;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(gens);
	assert_int_equal(crit, want_crit);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	gn = sk_GENERAL_NAME_value(gens, 0);
	assert_int_equal(gn->type, GEN_DNS);
	ia5 = gn->d.dNSName;
	assert_int_equal(ASN1_STRING_length(ia5), (int)strlen(name));
	assert_memory_equal(ASN1_STRING_get0_data(ia5), name, strlen(name));
	GENERAL_NAMES_free(gens);
}

static void
test_mint_san_serial_dates(void **state)
{
	struct sp_ca_leaf *a = NULL, *b = NULL, *c = NULL;
	BIGNUM *sa, *sb;
	time_t now = time(NULL), ca_na;
	char longname[200];
	char cn[128];
	char *err = NULL;

	(void)state;
	ensure_ca();
	assert_int_equal(sp_ca_mint(shared_ca, "git.example.org", &a, NULL), 0);
	assert_int_equal(sp_ca_mint(shared_ca, "git.example.org", &b, NULL), 0);
	assert_san_is(sp_ca_leaf_cert(a), "git.example.org", 0);

	/* random, positive, distinct serials */
	sa = ASN1_INTEGER_to_BN(X509_get0_serialNumber(sp_ca_leaf_cert(a)), NULL);
	sb = ASN1_INTEGER_to_BN(X509_get0_serialNumber(sp_ca_leaf_cert(b)), NULL);
	assert_non_null(sa);
	assert_non_null(sb);
	assert_false(BN_is_negative(sa));
	assert_false(BN_is_negative(sb));
	assert_true(BN_num_bits(sa) > 64 && BN_num_bits(sa) <= 128);
	assert_true(BN_num_bits(sb) > 64 && BN_num_bits(sb) <= 128);
	assert_int_not_equal(BN_cmp(sa, sb), 0);
	BN_free(sa);
	BN_free(sb);

	/* two days back, 90 days ahead */
	assert_true(labs((long)(asn1_time(X509_get0_notBefore(sp_ca_leaf_cert(a)))
	    - (now - 2 * DAY))) < 120);
	assert_true(labs((long)(asn1_time(X509_get0_notAfter(sp_ca_leaf_cert(a)))
	    - (now + 90 * DAY))) < 120);
	assert_int_equal(sp_ca_leaf_not_after(a),
	    asn1_time(X509_get0_notAfter(sp_ca_leaf_cert(a))));
	sp_ca_leaf_unref(a);
	sp_ca_leaf_unref(b);

	/* never past the CA's notAfter */
	ca_na = asn1_time(X509_get0_notAfter(sp_ca_cert(shared_ca)));
	assert_int_equal(sp_ca_mint_at(shared_ca, "late.example", ca_na - 30 * DAY,
	    &c, NULL), 0);
	assert_int_equal(asn1_time(X509_get0_notAfter(sp_ca_leaf_cert(c))), ca_na);
	assert_int_equal(asn1_time(X509_get0_notBefore(sp_ca_leaf_cert(c))),
	    ca_na - 32 * DAY);
	sp_ca_leaf_unref(c);
	c = NULL;
	assert_int_equal(sp_ca_mint_at(shared_ca, "late.example", ca_na, &c, &err),
	    -EKEYEXPIRED);
	assert_null(c);
	assert_non_null(strstr(err, "expired"));
	free(err);

	/* a name longer than a CN may be: no CN, a critical SAN */
	memset(longname, 'a', sizeof longname);
	memcpy(longname + 60, ".", 1);
	memcpy(longname + 120, ".", 1);
	memcpy(longname + 180, ".example", 9);
	assert_int_equal(sp_ca_mint(shared_ca, longname, &c, NULL), 0);
	assert_san_is(sp_ca_leaf_cert(c), longname, 1);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(
	    sp_ca_leaf_cert(c)), NID_commonName, cn, sizeof cn) < 0);
	assert_int_equal(verify_leaf(sp_ca_cert(shared_ca), sp_ca_leaf_cert(c),
	    longname), 1);
	sp_ca_leaf_unref(c);
}

static void
test_names(void **state)
{
	static const char *const good[] = {
		"a", "localhost", "example.com", "api.github.com",
		"xn--bcher-kva.example", "1a.com", "a.b-c.d", "a1.2b.c3",
		"my_host.example.com", "1.2.3.com", "0x1.example",
		"123.a",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	};
	static const char *const bad[] = {
		"", ".", "..", "a..b", ".a", "a.", "example.com.", "-a.com",
		"a-.com", "a.-b.c", "Example.com", "EXAMPLE.COM", "*.example.com",
		"a b.com", "a/b", "a:443", "1.2.3.4", "127.1", "0x7f000001",
		"10.0.0.010", "1.2.3.0x", "::1", "[::1]", "fe80::1%eth0",
		"caf\xc3\xa9.fr", "a\nb.com", "host.123",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	};
	char big[300];
	struct sp_ca_leaf *leaf = NULL;
	char *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		if (sp_ca_check_name(good[i]) != 0)
			fail_msg("refused good name %s", good[i]);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (sp_ca_check_name(bad[i]) != -EINVAL)
			fail_msg("accepted bad name %zu", i);
	assert_int_equal(sp_ca_check_name(NULL), -EINVAL);

	/* 253 bytes is the limit, 254 is over */
	memset(big, 'a', sizeof big);
	for (i = 63; i < sizeof big; i += 64)
		big[i] = '.';
	big[253] = '\0';
	assert_int_equal(sp_ca_check_name(big), 0);
	big[253] = 'a';
	big[254] = '\0';
	assert_int_equal(sp_ca_check_name(big), -EINVAL);

	/* mint and get check again */
	ensure_ca();
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(sp_ca_mint(shared_ca, bad[i], &leaf, &err), -EINVAL);
		assert_null(leaf);
		assert_non_null(err);
		free(err);
		err = NULL;
	}
	assert_int_equal(sp_ca_mint(shared_ca, NULL, &leaf, NULL), -EINVAL);
	assert_int_equal(sp_ca_mint(shared_ca, big, &leaf, NULL), -EINVAL);
}

/* ---- the cache ---- */

static void
test_cache(void **state)
{
	struct sp_ca_cache *c = NULL;
	struct sp_ca_leaf *a1, *a2, *a3, *b1, *b2, *cc, *x;
	time_t now = time(NULL);
	char *err = NULL;

	(void)state;
	ensure_ca();
	assert_int_equal(sp_ca_cache_new(shared_ca, 0, &c), -EINVAL);
	assert_int_equal(sp_ca_cache_new(shared_ca, SP_CA_CACHE_MAX + 1, &c),
	    -EINVAL);
	assert_null(c);
	assert_int_equal(sp_ca_cache_new(shared_ca, 2, &c), 0);

	/* the same name gives the same leaf */
	assert_int_equal(sp_ca_get(c, "a.example", now, &a1, NULL), 0);
	assert_int_equal(sp_ca_get(c, "a.example", now + 60, &a2, NULL), 0);
	assert_ptr_equal(a1, a2);
	assert_int_equal(sp_ca_cache_count(c), 1);
	assert_int_equal(verify_leaf(sp_ca_cert(shared_ca), sp_ca_leaf_cert(a1),
	    "a.example"), 1);
	sp_ca_leaf_unref(a2);

	/* LRU: b, then a touched, then cc evicts b, not a */
	assert_int_equal(sp_ca_get(c, "b.example", now, &b1, NULL), 0);
	assert_ptr_not_equal(b1, a1);
	assert_int_equal(sp_ca_get(c, "a.example", now, &a2, NULL), 0);
	assert_ptr_equal(a2, a1);
	sp_ca_leaf_unref(a2);
	assert_int_equal(sp_ca_get(c, "c.example", now, &cc, NULL), 0);
	assert_int_equal(sp_ca_cache_count(c), 2);
	assert_int_equal(sp_ca_get(c, "a.example", now, &a2, NULL), 0);
	assert_ptr_equal(a2, a1);
	sp_ca_leaf_unref(a2);
	assert_int_equal(sp_ca_get(c, "b.example", now, &b2, NULL), 0);
	assert_ptr_not_equal(b2, b1);              /* b was evicted */
	assert_int_equal(sp_ca_cache_count(c), 2);
	/* an evicted leaf still held by a connection stays valid */
	assert_int_equal(verify_leaf(sp_ca_cert(shared_ca), sp_ca_leaf_cert(b1),
	    "b.example"), 1);
	sp_ca_leaf_unref(b1);
	sp_ca_leaf_unref(b2);
	sp_ca_leaf_unref(cc);

	/* expiry well before notAfter: a new leaf after the TTL */
	assert_int_equal(sp_ca_get(c, "a.example", now + SP_CA_CACHE_TTL_SECS - 1,
	    &a2, NULL), 0);
	assert_ptr_equal(a2, a1);
	sp_ca_leaf_unref(a2);
	assert_int_equal(sp_ca_get(c, "a.example", now + SP_CA_CACHE_TTL_SECS,
	    &a3, NULL), 0);
	assert_ptr_not_equal(a3, a1);
	assert_true(sp_ca_leaf_not_after(a3) > sp_ca_leaf_not_after(a1));
	assert_int_equal(sp_ca_cache_count(c), 2);
	/* the clock went back more than a day: minted again */
	assert_int_equal(sp_ca_get(c, "a.example", now - 2 * DAY, &a2, NULL), 0);
	assert_ptr_not_equal(a2, a3);
	sp_ca_leaf_unref(a2);
	sp_ca_leaf_unref(a3);
	sp_ca_leaf_unref(a1);

	/* invalid names never reach the cache */
	x = NULL;
	assert_int_equal(sp_ca_get(c, "1.2.3.4", now, &x, &err), -EINVAL);
	assert_null(x);
	assert_non_null(err);
	free(err);
	assert_int_equal(sp_ca_get(c, "A.example", now, &x, NULL), -EINVAL);
	assert_int_equal(sp_ca_cache_count(c), 2);
	sp_ca_cache_free(c);
	sp_ca_cache_free(NULL);
}

static void
test_cache_bound(void **state)
{
	struct sp_ca_cache *c = NULL;
	struct sp_ca_leaf *first = NULL, *l;
	time_t now = time(NULL);
	char name[64];
	unsigned i;

	(void)state;
	ensure_ca();
	assert_int_equal(sp_ca_cache_new(shared_ca, 1024, &c), 0);
	for (i = 0; i < 1100; i++) {
		snprintf(name, sizeof name, "h%u.example.net", i);
		assert_int_equal(sp_ca_get(c, name, now, &l, NULL), 0);
		if (i == 0)
			first = l;
		else
			sp_ca_leaf_unref(l);
		assert_true(sp_ca_cache_count(c) <= 1024);
	}
	assert_int_equal(sp_ca_cache_count(c), 1024);
	/* the oldest were evicted, the newest are there */
	assert_int_equal(sp_ca_get(c, "h1099.example.net", now, &l, NULL), 0);
	sp_ca_leaf_unref(l);
	assert_int_equal(sp_ca_get(c, "h0.example.net", now, &l, NULL), 0);
	assert_ptr_not_equal(l, first);
	sp_ca_leaf_unref(l);
	sp_ca_leaf_unref(first);
	assert_int_equal(sp_ca_cache_count(c), 1024);
	sp_ca_cache_free(c);
}

static int
free_shared(void **state)
{
	(void)state;
	sp_ca_free(shared_ca);
	shared_ca = NULL;
	return group_teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_then_load),
		cmocka_unit_test(test_refuse_mismatch),
		cmocka_unit_test(test_refuse_non_ca),
		cmocka_unit_test(test_refuse_key_mode_and_owner),
		cmocka_unit_test(test_refuse_files),
		cmocka_unit_test(test_create_fails_cleanly),
		cmocka_unit_test(test_mint_verifies),
		cmocka_unit_test(test_mint_san_serial_dates),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_bound),
	};

	return cmocka_run_group_tests(tests, group_setup, free_shared);
}
