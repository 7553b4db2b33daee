/* sg_tokens: the tokens file (sandgate-tokens(5)).
 *
 * One inih section per token, named [a-z0-9][a-z0-9_-]{0,63}:
 *
 *   [ci-bot]
 *   hash = sha256:<64 hex digits: SHA-256 of the token text>
 *   authorized_key = ssh-ed25519 AAAA... comment    ; repeatable
 *   allow_net = api.openai.com, *.anthropic.com     ; repeatable, adds
 *   secret.NAME = value | env:VAR | file:/PATH
 *   secret.NAME.hosts = api.openai.com              ; also .in, .allow_http
 *   image = default
 *   memory_mb = 2048        ; 768..4096, unset: [sandbox] memory_mb
 *   vcpus = 2               ; 1..64
 *   max_lifetime = 30m
 *   max_sandboxes = 5       ; 1..1000
 *   idle_timeout = 10m
 *   hibernate_after = 5m    ; idle named sandboxes are hibernated
 *
 * Token text: "sg_" followed by 32 random bytes in base64url without
 * padding (43 characters, 256 bits), 46 characters in all. The file stores
 * only its SHA-256; any text whose hash is listed is accepted, so a hand-
 * made token works too (hash = sha256:$(printf %s "$TOKEN" | sha256sum)).
 *
 * Every token needs a hash or at least one authorized_key. A hash or a
 * public key may belong to one token only. Errors name file, line, token
 * and key: "FILE:LINE: [token] key = value: what is wrong"; the value of a
 * secret.NAME key is never repeated in messages.
 *
 * The loaded set is read-only; tokens are returned as
 * const struct sg_token pointers that live as long as the set. */
#ifndef SG_TOKENS_H
#define SG_TOKENS_H

#include <stddef.h>
#include <stdint.h>

struct sg_tokens;
struct sg_token;

#define SG_TOKENS_SECRET_BYTES 32
/* strlen of a generated token text: "sg_" + base64url(32 bytes) */
#define SG_TOKENS_TEXT_LEN 46
/* longest token text sg_tokens_check_secret() hashes */
#define SG_TOKENS_TEXT_MAX 1024
/* strlen of "sha256:" + 64 hex digits */
#define SG_TOKENS_HASH_FIELD_LEN 71

enum sg_tokens_secret_kind {
	SG_TOKENS_SECRET_VALUE,  /* the value itself */
	SG_TOKENS_SECRET_ENV,    /* env:VAR, the variable's name */
	SG_TOKENS_SECRET_FILE,   /* file:/PATH, the absolute path */
};

/* Loads the tokens file at path. The file must be a regular file not
 * writable by group or others and owned by root or the caller.
 * On success *ret is a new set the caller frees with sg_tokens_free().
 * On failure returns -ENOENT (no file), -EACCES, -EINVAL (bad content),
 * -ENOMEM or -EIO and sets *ret_err (when not NULL) to a one-line message
 * the caller frees (NULL after -ENOMEM). */
int sg_tokens_load(const char *path, struct sg_tokens **ret, char **ret_err);

/* Same on len bytes of text at data; label names the text in messages. */
int sg_tokens_parse(const char *label, const char *data, size_t len,
		    struct sg_tokens **ret, char **ret_err);

/* Frees t, wiping secret values first; NULL is accepted. */
void sg_tokens_free(struct sg_tokens *t);

/* Wipes and drops the literal secret values (kind SG_TOKENS_SECRET_VALUE,
 * whose source then reads NULL), keeping names, hosts and the rest: for a
 * process that must not hold secret values. */
void sg_tokens_forget_secrets(struct sg_tokens *t);

/* The file or label t was read from. */
const char *sg_tokens_file(const struct sg_tokens *t);

/* Checks a presented token text. Its SHA-256 is compared with the hash of
 * every token, in constant time and without stopping at a match, so the
 * time taken depends only on the number of tokens and the length of text.
 * Returns 0 and the token's name in *ret_name (owned by t), -EACCES when
 * no token matches, -EINVAL when text is NULL or longer than
 * SG_TOKENS_TEXT_MAX. */
int sg_tokens_check_secret(const struct sg_tokens *t, const char *token_text, const char **ret_name);

/* Checks a public key offered by a client: keytype as in SSH
 * ("ssh-ed25519") and the key blob in standard base64 (as
 * ssh_pki_export_pubkey_base64() gives it). Returns 0 and the name of the
 * token listing this key in *ret_name (owned by t), -ENOENT when none
 * does, -EINVAL when the base64 is malformed. */
int sg_tokens_check_key(const struct sg_tokens *t, const char *keytype,
			const char *base64_blob, const char **ret_name);

/* Tokens in file order, and by name (NULL when there is no such token). */
size_t sg_tokens_count(const struct sg_tokens *t);
const struct sg_token *sg_tokens_at(const struct sg_tokens *t, size_t i);
const struct sg_token *sg_tokens_find(const struct sg_tokens *t, const char *name);

/* Getters of one token. Unset limits read 0 and image NULL: use the
 * global value from sandgate.conf. Durations are in seconds. */
const char *sg_tokens_name(const struct sg_token *tok);
unsigned sg_tokens_line(const struct sg_token *tok);          /* of [name] */
int sg_tokens_has_hash(const struct sg_token *tok);
/* The hash in hex (64 digits and a NUL); zeros, which no token hashes
 * to, for a token without one (keys only). */
void sg_tokens_hash_hex(const struct sg_token *tok, char out[65]);
const char *sg_tokens_image(const struct sg_token *tok);
unsigned sg_tokens_memory_mb(const struct sg_token *tok);
unsigned sg_tokens_vcpus(const struct sg_token *tok);
uint64_t sg_tokens_max_lifetime(const struct sg_token *tok);
unsigned sg_tokens_max_sandboxes(const struct sg_token *tok);
uint64_t sg_tokens_idle_timeout(const struct sg_token *tok);
/* 0: unset ([sandbox] hibernate_after applies). */
uint64_t sg_tokens_hibernate_after(const struct sg_token *tok);

/* authorized_key entries; i below sg_tokens_key_count(). */
size_t sg_tokens_key_count(const struct sg_token *tok);
const char *sg_tokens_key_type(const struct sg_token *tok, size_t i);
const char *sg_tokens_key_base64(const struct sg_token *tok, size_t i);
const char *sg_tokens_key_comment(const struct sg_token *tok, size_t i);   /* "" if none */

/* At most this many allow_net entries per token (all lines together),
 * and this many bytes of entries: a sandbox's policy, placeholders
 * included, goes to the shim and to the proxy in one message each. */
#define SG_TOKENS_ALLOW_MAX 256
#define SG_TOKENS_ALLOW_BYTES_MAX 6144
/* Token and secret names: 1 to this many characters. */
#define SG_TOKENS_NAME_MAX 64
/* At most this many secrets per token: each sandbox gets a placeholder
 * for each, and the proxy's feed carries that many (SG_FEED_MAX_SECRETS). */
#define SG_TOKENS_SECRETS_MAX 64

/* allow_net: all entries joined with ", " (NULL when unset: no egress at
 * all), and one by one, trimmed. Validated only lightly (non-empty,
 * printable, no spaces inside an entry). */
const char *sg_tokens_allow_net(const struct sg_token *tok);
size_t sg_tokens_allow_net_count(const struct sg_token *tok);
const char *sg_tokens_allow_net_at(const struct sg_token *tok, size_t i);

/* secret.NAME entries in file order; i below sg_tokens_secret_count().
 * source is the literal value, the variable name or the path according to
 * kind. hosts and in are the raw lists (NULL when unset); allow_http is
 * 0 or 1 (0 when unset). Resolving env: and file: is the caller's job. */
size_t sg_tokens_secret_count(const struct sg_token *tok);
const char *sg_tokens_secret_name(const struct sg_token *tok, size_t i);
enum sg_tokens_secret_kind sg_tokens_secret_kind(const struct sg_token *tok, size_t i);
const char *sg_tokens_secret_source(const struct sg_token *tok, size_t i);
const char *sg_tokens_secret_hosts(const struct sg_token *tok, size_t i);
const char *sg_tokens_secret_in(const struct sg_token *tok, size_t i);
int sg_tokens_secret_allow_http(const struct sg_token *tok, size_t i);

/* 1 when name is a valid token name: [a-z0-9][a-z0-9_-]{0,63}. */
int sg_tokens_valid_name(const char *name);

/* Makes a new random token. On success *ret_text is the token text
 * (SG_TOKENS_TEXT_LEN characters) and *ret_hash its "sha256:<hex>" field,
 * both new strings the caller frees (wipe the text with explicit_bzero
 * first). Returns 0 or a negative errno. */
int sg_tokens_generate(char **ret_text, char **ret_hash);

/* Writes "sha256:<hex of SHA-256 of text>" into out (at least
 * SG_TOKENS_HASH_FIELD_LEN + 1 bytes). Returns 0, -ENOBUFS or -EIO. */
int sg_tokens_hash_text(const char *text, char *out, size_t out_size);

#endif
