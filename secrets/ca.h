/* sp_ca: the certificate authority of sandgate-proxy.
 *
 * The proxy terminates the guest's TLS with a leaf certificate minted for
 * the name the guest asked for (SNI) and signed by sandgate's own CA, whose
 * certificate the agent installs into the guest's trust store. This module
 * keeps that CA on disk, mints the leaves and caches them.
 *
 * On disk (one folder, the proxy user's): ca.key, the CA's private key
 * (PEM, PKCS#8, unencrypted, mode 0600, owned by the user running the
 * proxy) and ca.crt, its self-signed certificate (PEM, mode 0644; the
 * proxy sends it to sandgated in READY, which installs it into guests). A new CA gets an ECDSA P-256 key, a
 * random positive 128-bit serial, the subject
 * CN="sandgate sandbox CA <hostname>" (a random id when the host has no
 * usable name), validity from two days ago to ten years ahead,
 * basicConstraints critical CA:TRUE pathlen:0, keyUsage critical
 * keyCertSign cRLSign, and subject/authority key identifiers. An existing
 * CA may also hold an RSA (2048 bits or more) or another EC key: an
 * operator can bring their own.
 *
 * Leaves: one DNS name each, given as subjectAltName dNSName (and as the
 * subject CN when it fits in 64 bytes; otherwise the subject is empty and
 * the SAN critical), a random positive 128-bit serial, notBefore two days
 * before the minting time (guest clocks drift), notAfter 90 days after it
 * but never after the CA's own notAfter, basicConstraints critical CA:FALSE,
 * keyUsage critical digitalSignature, extendedKeyUsage serverAuth, subject
 * and authority key identifiers, signed with SHA-256.
 *
 * Leaf keys: ONE ECDSA P-256 key per struct sp_ca, generated in memory
 * when the CA is loaded, never written anywhere, and shared by every leaf
 * the instance mints. A key per leaf would buy nothing: every leaf key
 * lives in the same process as the CA key, and whoever can read one can
 * read the CA key and mint any leaf. Sharing it makes a cache miss cost one
 * signature instead of a key generation plus a signature (the proxy mints
 * on the path of a guest's first connection to a name), and a restart of
 * the proxy rolls it.
 *
 * Secrets: no function here logs or prints anything. Key bytes read from
 * or written to ca.key pass only through buffers that are wiped
 * (OPENSSL_cleanse) before they are freed; the keys themselves live in
 * OpenSSL objects. The proxy should call CRYPTO_secure_malloc_init() before
 * sp_ca_load_or_create() so that OpenSSL keeps private key numbers in its
 * locked secure heap, out of swap and out of core dumps.
 *
 * Errors: functions return 0 or a negative errno-style code and fill ret_
 * out-parameters only on success. Where a function takes char **ret_err
 * (NULL allowed), a failure sets it to a one-line message for users,
 * naming the file and what to do, which the caller frees (NULL when out of
 * memory). Codes:
 *   -EINVAL        a name that is not a normalised DNS name (sp_ca_mint);
 *   -EACCES        ca.key readable by group or others, or owned by another
 *                  user;
 *   -ENOENT        one of ca.key and ca.crt exists without the other;
 *   -EBADMSG       a file that is not a PEM key / certificate, an
 *                  encrypted key, an unsupported key type;
 *   -EKEYREJECTED  key and certificate do not match, or the certificate
 *                  is not a CA certificate usable for sandgate;
 *   -EKEYEXPIRED   the CA certificate has expired (or is not yet valid);
 *   -EEXIST        another process created the CA at the same time;
 *   -ENOMEM, -EIO (an OpenSSL failure), or -errno of a system call.
 *
 * Threads: a struct sp_ca and a struct sp_ca_cache belong to one thread;
 * leaves (struct sp_ca_leaf) may be shared, their reference count is
 * atomic. */
#ifndef SP_CA_H
#define SP_CA_H

#include <stddef.h>
#include <time.h>

#include <openssl/types.h>

/* Validity of a minted leaf and how far it is backdated. */
#define SP_CA_LEAF_DAYS       90
#define SP_CA_BACKDATE_SECS   (2 * 86400)
/* Validity of a new CA. */
#define SP_CA_CA_DAYS         3650
/* A cached leaf is used for at most this long after it was minted (and at
 * most half of its remaining lifetime), well before its notAfter. */
#define SP_CA_CACHE_TTL_SECS  (7 * 86400)
/* The longest name a leaf is minted for. */
#define SP_CA_NAME_MAX        253

struct sp_ca;
struct sp_ca_leaf;
struct sp_ca_cache;

/* Loads the CA from dir/ca.key and dir/ca.crt, or creates both when
 * neither exists (dir itself is created, mode 0700, when missing; its
 * parent must exist). A new key is written to a temporary file created
 * with O_EXCL|O_NOFOLLOW, mode 0600, then renamed into place without ever
 * replacing an existing file; the certificate likewise with mode 0644.
 * Nothing is left behind on failure. An existing CA is accepted only if
 * ca.key is a regular file (not a symlink) owned by the effective user and
 * not readable or writable by group or others, ca.crt a regular file, the
 * key unencrypted and of a supported type, the certificate self-signed by
 * that key, currently valid, with basicConstraints CA:TRUE and keyUsage
 * keyCertSign and cRLSign, both marked critical.
 * On success *ret holds the CA (free it with sp_ca_free). */
int sp_ca_load_or_create(const char *dir, struct sp_ca **ret, char **ret_err);

/* Frees ca (wiping its keys); NULL is accepted. Leaves minted by it stay
 * usable: they hold their own references. */
void sp_ca_free(struct sp_ca *ca);

/* Whether sp_ca_load_or_create created this CA just now (1) or loaded it
 * (0), for a log line. */
int sp_ca_created(const struct sp_ca *ca);

/* The CA certificate, PEM-encoded, NUL-terminated, owned by ca: what the
 * agent installs into guests. */
const char *sp_ca_cert_pem(const struct sp_ca *ca);

/* The CA certificate, owned by ca (X509_up_ref() to keep it longer), e.g.
 * for SSL_CTX_add1_chain_cert. */
X509 *sp_ca_cert(const struct sp_ca *ca);

/* The SHA-256 fingerprint of the CA certificate as 64 lowercase hex
 * digits, owned by ca, for logs and for operators to compare. */
const char *sp_ca_fingerprint(const struct sp_ca *ca);

/* Returns 0 when name is a DNS name this module mints for, -EINVAL
 * otherwise: 1..SP_CA_NAME_MAX bytes, already normalised (lowercase, no
 * trailing dot), labels of 1..63 bytes of a-z 0-9 '-' '_' (the same
 * characters sp_ch_parse() accepts in SNI) without a hyphen at either end,
 * and a last label that is not a number (decimal, octal or 0x hex), which
 * would make it an IPv4 literal. No wildcards, no IPv6 literals. */
int sp_ca_check_name(const char *name);

/* Mints a new leaf for name (checked with sp_ca_check_name again even
 * though the caller has normalised it) at the current time, or at now for
 * sp_ca_mint_at. On success *ret holds a new leaf with one reference
 * (sp_ca_leaf_unref). The leaf does not depend on ca afterwards. */
int sp_ca_mint(struct sp_ca *ca, const char *name, struct sp_ca_leaf **ret,
    char **ret_err);
int sp_ca_mint_at(struct sp_ca *ca, const char *name, time_t now,
    struct sp_ca_leaf **ret, char **ret_err);

/* Reference counting; both accept NULL (ref returns its argument). */
struct sp_ca_leaf *sp_ca_leaf_ref(struct sp_ca_leaf *leaf);
void sp_ca_leaf_unref(struct sp_ca_leaf *leaf);

/* The leaf's certificate and private key, owned by the leaf: hand them to
 * SSL_use_certificate / SSL_use_PrivateKey (or the SSL_CTX_ variants),
 * which take their own references, while holding a reference to leaf. */
X509 *sp_ca_leaf_cert(const struct sp_ca_leaf *leaf);
EVP_PKEY *sp_ca_leaf_key(const struct sp_ca_leaf *leaf);
/* The name it was minted for, and its notAfter. */
const char *sp_ca_leaf_name(const struct sp_ca_leaf *leaf);
time_t sp_ca_leaf_not_after(const struct sp_ca_leaf *leaf);

/* A cache of leaves by name, least recently used evicted beyond capacity
 * entries (1..SP_CA_CACHE_MAX). The cache borrows ca, which must outlive
 * it. Lookups hash the name with a per-cache random seed; whatever names
 * a guest sends, a lookup compares at most capacity names. */
#define SP_CA_CACHE_MAX (1u << 20)
int sp_ca_cache_new(struct sp_ca *ca, size_t capacity,
    struct sp_ca_cache **ret);
/* Frees c and drops its references to leaves; NULL is accepted. */
void sp_ca_cache_free(struct sp_ca_cache *c);

/* Returns in *ret a new reference to the leaf for name: the cached one
 * when it was minted less than SP_CA_CACHE_TTL_SECS (and less than half
 * its lifetime) before now and not more than a day after now (the clock
 * went back), otherwise a new one minted at now with sp_ca_mint_at, which
 * replaces it in the cache. now is the caller's clock, time(NULL). Errors
 * as sp_ca_mint_at; a failure leaves the cache as it was. */
int sp_ca_get(struct sp_ca_cache *c, const char *name, time_t now,
    struct sp_ca_leaf **ret, char **ret_err);

/* How many leaves are cached. */
size_t sp_ca_cache_count(const struct sp_ca_cache *c);

#endif
