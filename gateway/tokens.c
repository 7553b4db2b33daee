/* sg_tokens: loading and checking the tokens file. See tokens.h. */
#include "gateway/tokens.h"
#include "common/ini.h"
#include "common/allow.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "common/base64.h"
#include "common/secretval.h"
#include "common/text.h"
#include "gateway/conf.h"
#include "common/util.h"

#define HASH_LEN 32

struct key {
	char *type;
	char *b64;
	uint8_t *blob;
	size_t blob_len;
	char *comment;
	unsigned line;
};

struct secret {
	char *name;
	enum sg_tokens_secret_kind kind;
	char *source;           /* wiped before free */
	char *hosts;
	char *in;
	int allow_http;
	unsigned line;          /* of secret.NAME; 0 while only attributes are set */
	unsigned attr_line[3];  /* of .hosts, .in, .allow_http */
};

/* keys that may appear once per token */
enum once {
	ONCE_HASH, ONCE_IMAGE, ONCE_MEMORY_MB, ONCE_VCPUS, ONCE_MAX_LIFETIME,
	ONCE_MAX_SANDBOXES, ONCE_IDLE_TIMEOUT, ONCE_HIBERNATE_AFTER, ONCE_COUNT_
};

static const char *const once_names[ONCE_COUNT_] = {
	"hash", "image", "memory_mb", "vcpus", "max_lifetime", "max_sandboxes", "idle_timeout",
	"hibernate_after",
};

struct sg_token {
	char *name;
	unsigned line;
	unsigned once_line[ONCE_COUNT_];
	int has_hash;           /* 0 or 1 */
	uint8_t hash[HASH_LEN];
	struct key *keys;
	size_t n_keys;
	char **allow;
	size_t n_allow;
	char *allow_joined;
	struct secret *secrets;
	size_t n_secrets;
	char *image;
	unsigned memory_mb;
	unsigned vcpus;
	uint64_t max_lifetime;
	unsigned max_sandboxes;
	uint64_t idle_timeout;
	uint64_t hibernate_after;
};

struct sg_tokens {
	char *file;
	struct sg_token **tokens;
	size_t n;
	struct sg_token *cur;   /* while parsing */
};

static const char *const key_types[] = {
	"ssh-ed25519",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"ssh-rsa",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
	NULL
};

static void secret_wipe_value(struct secret *s)
{
	if (s->source) {
		explicit_bzero(s->source, strlen(s->source));
		free(s->source);
		s->source = NULL;
	}
}

static void token_free(struct sg_token *tok)
{
	size_t i;

	if (!tok)
		return;
	for (i = 0; i < tok->n_keys; i++) {
		free(tok->keys[i].type);
		free(tok->keys[i].b64);
		free(tok->keys[i].blob);
		free(tok->keys[i].comment);
	}
	free(tok->keys);
	for (i = 0; i < tok->n_allow; i++)
		free(tok->allow[i]);
	free(tok->allow);
	free(tok->allow_joined);
	for (i = 0; i < tok->n_secrets; i++) {
		secret_wipe_value(&tok->secrets[i]);
		free(tok->secrets[i].name);
		free(tok->secrets[i].hosts);
		free(tok->secrets[i].in);
	}
	free(tok->secrets);
	free(tok->image);
	free(tok->name);
	explicit_bzero(tok->hash, sizeof(tok->hash));
	free(tok);
}

void sg_tokens_free(struct sg_tokens *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		token_free(t->tokens[i]);
	free(t->tokens);
	free(t->file);
	free(t);
}

void sg_tokens_forget_secrets(struct sg_tokens *t)
{
	size_t i, j;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		for (j = 0; j < t->tokens[i]->n_secrets; j++)
			if (t->tokens[i]->secrets[j].kind == SG_TOKENS_SECRET_VALUE)
				secret_wipe_value(&t->tokens[i]->secrets[j]);
}

int sg_tokens_valid_name(const char *name)
{
	size_t i;

	if (!name || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return 0;
	for (i = 1; name[i]; i++) {
		char ch = name[i];

		if (i >= SG_TOKENS_NAME_MAX)
			return 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* 1 when s is a secret or variable name: [A-Za-z_][A-Za-z0-9_]{0,63}. */
static int valid_var(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > SG_TOKENS_NAME_MAX || isdigit((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* "[token] key = value: reason", without the value when value is NULL. */
static int tok_bad(char **ret_msg, const struct sg_token *tok, const char *key,
		   const char *value, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int tok_bad(char **ret_msg, const struct sg_token *tok, const char *key,
		   const char *value, const char *fmt, ...)
{
	char *reason = NULL, *qk = sg_ini_quote(key), *qv = value ? sg_ini_quote(value) : NULL;
	va_list ap;
	int r = -ENOMEM;

	va_start(ap, fmt);
	sg_vmsg(&reason, fmt, ap);
	va_end(ap);
	*ret_msg = NULL;
	if (reason && qk && (qv || !value)) {
		if (value)
			r = sg_ini_msg(ret_msg, "[%s] %s = %s: %s", tok->name, qk, qv, reason);
		else
			r = sg_ini_msg(ret_msg, "[%s] %s: %s", tok->name, qk, reason);
	}
	free(reason);
	free(qk);
	free(qv);
	return r;
}

/* Splits a comma-separated list into trimmed entries appended to
 * *items / *n. Returns 0, -EINVAL with *ret_msg, or -ENOMEM. */
static int split_list(const struct sg_token *tok, const char *key, const char *value,
		      int show_value, char ***items, size_t *n, char **ret_msg)
{
	const char *p = value, *shown = show_value ? value : NULL;
	size_t count = 1, k = 0, i;
	char **arr;

	for (i = 0; value[i]; i++)
		if (value[i] == ',')
			count++;
	arr = reallocarray(*items, *n + count, sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	*items = arr;
	for (;;) {
		const char *e = strchr(p, ','), *s = p, *end;

		if (!e)
			e = p + strlen(p);
		end = e;
		while (s < end && isspace((unsigned char)*s))
			s++;
		while (end > s && isspace((unsigned char)end[-1]))
			end--;
		k++;
		if (s == end)
			goto empty;
		for (i = 0; s + i < end; i++) {
			unsigned char ch = (unsigned char)s[i];

			if (isspace(ch))
				return tok_bad(ret_msg, tok, key, shown, "entry %zu contains a space: "
					       "separate entries with commas", k);
			if (ch < 0x21 || ch > 0x7e)
				return tok_bad(ret_msg, tok, key, shown, "entry %zu contains a character "
					       "that is not printable ASCII", k);
		}
		arr[*n] = strndup(s, (size_t)(end - s));
		if (!arr[*n])
			return -ENOMEM;
		(*n)++;
		if (!*e)
			break;
		p = e + 1;
	}
	return 0;
empty:
	return tok_bad(ret_msg, tok, key, shown, "entry %zu is empty: remove the extra comma", k);
}

static char *join_list(char **items, size_t n)
{
	size_t len = 1, i;
	char *s, *p;

	for (i = 0; i < n; i++)
		len += strlen(items[i]) + 2;
	s = malloc(len);
	if (!s)
		return NULL;
	p = s;
	for (i = 0; i < n; i++) {
		size_t l = strlen(items[i]);

		if (i) {
			memcpy(p, ", ", 2);
			p += 2;
		}
		memcpy(p, items[i], l);
		p += l;
	}
	*p = '\0';
	return s;
}

static int tokens_on_section(void *user, unsigned line, const char *section, char **ret_msg)
{
	struct sg_tokens *t = user;
	struct sg_token *tok, **arr;
	char *q;
	size_t i;
	int r;

	t->cur = NULL;
	if (!sg_tokens_valid_name(section)) {
		q = sg_ini_quote(section);
		if (!q)
			return -ENOMEM;
		r = sg_ini_msg(ret_msg, "[%s]: invalid token name: use 1 to 64 of a-z, 0-9, '_' "
				"and '-', starting with a letter or digit", q);
		free(q);
		return r;
	}
	for (i = 0; i < t->n; i++)
		if (strcmp(t->tokens[i]->name, section) == 0)
			return sg_ini_msg(ret_msg, "[%s]: token written twice (first at line %u): "
					   "merge the two sections or rename one", section,
					   t->tokens[i]->line);
	tok = calloc(1, sizeof(*tok));
	if (!tok)
		return -ENOMEM;
	tok->name = strdup(section);
	arr = reallocarray(t->tokens, t->n + 1, sizeof(*arr));
	if (!tok->name || !arr) {
		if (arr)
			t->tokens = arr;
		token_free(tok);
		return -ENOMEM;
	}
	t->tokens = arr;
	tok->line = line;
	t->tokens[t->n++] = tok;
	t->cur = tok;
	return 0;
}

static int parse_hash(struct sg_tokens *t, struct sg_token *tok, const char *value, char **ret_msg)
{
	size_t i;

	if (strncmp(value, "sha256:", 7) != 0 || sg_util_hex_decode(value + 7, tok->hash, HASH_LEN) < 0)
		return tok_bad(ret_msg, tok, "hash", value, "must be \"sha256:\" followed by 64 hex "
			       "digits (sandgatectl token create writes it)");
	for (i = 0; i < t->n; i++) {
		const struct sg_token *o = t->tokens[i];

		if (o != tok && o->has_hash && memcmp(o->hash, tok->hash, HASH_LEN) == 0)
			return tok_bad(ret_msg, tok, "hash", NULL, "the same hash as token [%s] "
				       "(line %u): every token needs its own secret", o->name,
				       o->once_line[ONCE_HASH]);
	}
	tok->has_hash = 1;
	return 0;
}

static int parse_key(struct sg_tokens *t, struct sg_token *tok, unsigned line,
		     const char *value, char **ret_msg)
{
	const char *p = value, *type, *b64;
	size_t type_len, b64_len, i, j, blob_len = 0, tl;
	uint8_t *blob = NULL;
	struct key *k;
	int r;

	type = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	type_len = (size_t)(p - type);
	while (isspace((unsigned char)*p))
		p++;
	b64 = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	b64_len = (size_t)(p - b64);
	while (isspace((unsigned char)*p))
		p++;

	for (i = 0; key_types[i]; i++)
		if (strlen(key_types[i]) == type_len && memcmp(key_types[i], type, type_len) == 0)
			break;
	if (!key_types[i]) {
		if (memchr(type, '=', type_len) || memchr(type, ',', type_len) ||
		    (type_len == 8 && memcmp(type, "restrict", 8) == 0))
			return tok_bad(ret_msg, tok, "authorized_key", value, "authorized_keys options "
				       "(from=, command=, ...) are not supported: give only "
				       "\"TYPE BASE64 [COMMENT]\"");
		return tok_bad(ret_msg, tok, "authorized_key", value, "unknown key type: use one of "
			       "ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, "
			       "ecdsa-sha2-nistp521, ssh-rsa, sk-ssh-ed25519@openssh.com, "
			       "sk-ecdsa-sha2-nistp256@openssh.com");
	}
	if (b64_len == 0)
		return tok_bad(ret_msg, tok, "authorized_key", value, "the base64 key is missing: "
			       "paste a line of a .pub file, \"TYPE BASE64 [COMMENT]\"");
	r = sg_b64_decode(b64, b64_len, &blob, &blob_len);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return tok_bad(ret_msg, tok, "authorized_key", value, "the key is not valid base64: "
			       "paste a line of a .pub file, \"TYPE BASE64 [COMMENT]\"");
	/* the blob starts with its own type as an SSH string */
	tl = blob_len >= 4 ? ((size_t)blob[0] << 24 | (size_t)blob[1] << 16 |
			      (size_t)blob[2] << 8 | blob[3]) : 0;
	if (blob_len < 4 || tl != type_len || blob_len - 4 < tl || memcmp(blob + 4, type, type_len) != 0 ||
	    blob_len == 4 + tl) {
		free(blob);
		return tok_bad(ret_msg, tok, "authorized_key", value, "the key data is not a %.*s key "
			       "(a damaged or mismatched line?)", (int)type_len, type);
	}
	for (i = 0; i < t->n; i++)
		for (j = 0; j < t->tokens[i]->n_keys; j++) {
			const struct key *o = &t->tokens[i]->keys[j];

			if (o->blob_len == blob_len && memcmp(o->blob, blob, blob_len) == 0) {
				free(blob);
				return tok_bad(ret_msg, tok, "authorized_key", NULL, "this key is already "
					       "listed under token [%s] (line %u): a key can belong "
					       "to one token only", t->tokens[i]->name, o->line);
			}
		}
	k = reallocarray(tok->keys, tok->n_keys + 1, sizeof(*k));
	if (!k) {
		free(blob);
		return -ENOMEM;
	}
	tok->keys = k;
	k = &tok->keys[tok->n_keys];
	memset(k, 0, sizeof(*k));
	k->type = strndup(type, type_len);
	k->b64 = strndup(b64, b64_len);
	k->comment = strdup(p);
	k->blob = blob;
	k->blob_len = blob_len;
	k->line = line;
	tok->n_keys++;   /* freed by token_free even when a copy failed */
	if (!k->type || !k->b64 || !k->comment)
		return -ENOMEM;
	return 0;
}

static int parse_allow_net(struct sg_token *tok, const char *value, char **ret_msg)
{
	char *joined;
	int r;

	struct sg_allow *a = NULL;
	char *why = NULL;

	r = split_list(tok, "allow_net", value, 1, &tok->allow, &tok->n_allow, ret_msg);
	if (r < 0)
		return r;
	/* The list travels to the shim and to the proxy in one message each
	 * and each literal is a firewall rule: bounds keep all working. */
	if (tok->n_allow > SG_TOKENS_ALLOW_MAX)
		return tok_bad(ret_msg, tok, "allow_net", NULL, "%zu entries in all; at most %d: "
			       "use wildcards (*.example.com) or CIDR ranges", tok->n_allow,
			       SG_TOKENS_ALLOW_MAX);
	{
		size_t i, bytes = 0;

		for (i = 0; i < tok->n_allow; i++)
			bytes += strlen(tok->allow[i]);
		if (bytes > SG_TOKENS_ALLOW_BYTES_MAX)
			return tok_bad(ret_msg, tok, "allow_net", NULL, "%zu bytes of entries in "
				       "all; at most %d: use wildcards (*.example.com) or CIDR "
				       "ranges", bytes, SG_TOKENS_ALLOW_BYTES_MAX);
	}
	/* Every entry so far (the key may be repeated), with the message
	 * naming the bad entry and how to write it. */
	r = sg_allow_parse((const char *const *)tok->allow, tok->n_allow, &a, &why);
	sg_allow_free(a);
	if (r == -EINVAL) {
		r = tok_bad(ret_msg, tok, "allow_net", value, "%s", why ? why : "invalid entry");
		free(why);
		return r;
	}
	free(why);
	if (r < 0)
		return r;
	joined = join_list(tok->allow, tok->n_allow);
	if (!joined)
		return -ENOMEM;
	free(tok->allow_joined);
	tok->allow_joined = joined;
	return 0;
}

static struct secret *secret_get(struct sg_token *tok, const char *name, size_t len)
{
	struct secret *s;
	size_t i;

	for (i = 0; i < tok->n_secrets; i++)
		if (strlen(tok->secrets[i].name) == len && memcmp(tok->secrets[i].name, name, len) == 0)
			return &tok->secrets[i];
	s = reallocarray(tok->secrets, tok->n_secrets + 1, sizeof(*s));
	if (!s)
		return NULL;
	tok->secrets = s;
	s = &tok->secrets[tok->n_secrets];
	memset(s, 0, sizeof(*s));
	s->name = strndup(name, len);
	if (!s->name)
		return NULL;
	tok->n_secrets++;
	return s;
}

/* Environment variables every sandbox gets from the agent or sandgated. */
static const char *const reserved_env[] = {
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "SANDGATE_SANDBOX_ID",
	"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
	"CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "DENO_CERT", NULL,
};

/* secret.NAME, secret.NAME.hosts, secret.NAME.in, secret.NAME.allow_http.
 * The value of secret.NAME never appears in a message. */
static int parse_secret(struct sg_token *tok, unsigned line, const char *key,
			const char *value, char **ret_msg)
{
	static const char *const attrs[] = { "hosts", "in", "allow_http" };
	const char *name = key + 7, *dot = strchr(name, '.');
	size_t len = dot ? (size_t)(dot - name) : strlen(name), a = 0;
	struct secret *s;
	char **items = NULL;
	size_t n_items = 0, i;
	const char *bad = NULL;
	int r;

	if (!valid_var(name, len))
		return tok_bad(ret_msg, tok, key, NULL, "invalid secret name: use 1 to 64 of A-Z, a-z, "
			       "0-9 and '_', not starting with a digit");
	/* The placeholder is set in the environment under this name, which
	 * must not replace one the agent or sandgated sets. */
	for (i = 0; reserved_env[i] != NULL; i++)
		if (strlen(reserved_env[i]) == len && !strncmp(name, reserved_env[i], len))
			return tok_bad(ret_msg, tok, key, NULL, "%s is set by sandgate in "
				       "every sandbox: name the secret otherwise", reserved_env[i]);
	if (dot) {
		for (a = 0; a < 3; a++)
			if (strcmp(dot + 1, attrs[a]) == 0)
				break;
		if (a == 3)
			return tok_bad(ret_msg, tok, key, NULL, "unknown secret attribute: use "
				       "secret.%.*s.hosts, .in or .allow_http", (int)len, name);
	}
	for (i = 0; i < tok->n_secrets; i++)
		if (strlen(tok->secrets[i].name) == len && !memcmp(tok->secrets[i].name, name, len))
			break;
	if (i == tok->n_secrets && tok->n_secrets >= SG_TOKENS_SECRETS_MAX)
		return tok_bad(ret_msg, tok, key, NULL, "more than %d secrets in one token: "
			       "give the others to another token", SG_TOKENS_SECRETS_MAX);
	s = secret_get(tok, name, len);
	if (!s)
		return -ENOMEM;
	if (!dot) {
		enum sg_tokens_secret_kind kind = SG_TOKENS_SECRET_VALUE;
		const char *src = value;

		if (s->line)
			return tok_bad(ret_msg, tok, key, NULL, "set twice (first at line %u): keep one",
				       s->line);
		if (strncmp(value, "env:", 4) == 0) {
			kind = SG_TOKENS_SECRET_ENV;
			src = value + 4;
			if (!valid_var(src, strlen(src)))
				return tok_bad(ret_msg, tok, key, NULL, "env: must be followed by an "
					       "environment variable name");
		} else if (strncmp(value, "file:", 5) == 0) {
			kind = SG_TOKENS_SECRET_FILE;
			src = value + 5;
			if (!sg_conf_valid_path(src))
				return tok_bad(ret_msg, tok, key, NULL, "file: must be followed by an "
					       "absolute path");
		} else if (!sg_secret_value_ok(value, strlen(value), &bad)) {
			/* the value itself is never shown */
			return tok_bad(ret_msg, tok, key, NULL, "the value is %s: give the whole "
				       "credential", bad);
		}
		s->source = strdup(src);
		if (!s->source)
			return -ENOMEM;
		s->kind = kind;
		s->line = line;
		return 0;
	}
	if (s->attr_line[a])
		return tok_bad(ret_msg, tok, key, value, "set twice (first at line %u): keep one",
			       s->attr_line[a]);
	if (a == 2) {
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "on") ||
		    !strcmp(value, "1"))
			s->allow_http = 1;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "off") ||
			 !strcmp(value, "0"))
			s->allow_http = 0;
		else
			return tok_bad(ret_msg, tok, key, value, "must be yes or no");
		s->attr_line[a] = line;
		return 0;
	}
	r = split_list(tok, key, value, 1, &items, &n_items, ret_msg);
	if (r < 0)
		goto out;
	if (a == 0) {
		/* the proxy matches them as allow_net entries */
		struct sg_allow *al = NULL;
		char *why = NULL;

		r = sg_allow_parse((const char *const *)items, n_items, &al, &why);
		sg_allow_free(al);
		if (r == -EINVAL)
			r = tok_bad(ret_msg, tok, key, value, "%s",
				    why ? why : "invalid entry");
		free(why);
		if (r < 0)
			goto out;
	} else {
		for (i = 0; i < n_items; i++)
			if (strcmp(items[i], "header") && strcmp(items[i], "query") &&
			    strcmp(items[i], "body")) {
				r = tok_bad(ret_msg, tok, key, value, "lists where the "
					    "placeholder is replaced: header, query, body");
				goto out;
			}
	}
	if (a == 0) {
		s->hosts = join_list(items, n_items);
		r = s->hosts ? 0 : -ENOMEM;
	} else {
		s->in = join_list(items, n_items);
		r = s->in ? 0 : -ENOMEM;
	}
	s->attr_line[a] = line;
out:
	for (i = 0; i < n_items; i++)
		free(items[i]);
	free(items);
	return r;
}

static int parse_number(struct sg_token *tok, const char *key, const char *value,
			uint64_t min, uint64_t max, uint64_t *ret, char **ret_msg)
{
	int r = sg_util_parse_uint(value, min, max, ret);

	if (r < 0)
		return tok_bad(ret_msg, tok, key, value, "must be %sbetween %llu and %llu",
			       r == -ERANGE ? "" : "a whole number ", (unsigned long long)min,
			       (unsigned long long)max);
	return 0;
}

static int parse_dur(struct sg_token *tok, const char *key, const char *value,
		     uint64_t *ret, char **ret_msg)
{
	char hi[32];
	int r = sg_util_parse_duration(value, ret);

	if (sg_util_format_duration(SG_CONF_LIFETIME_MAX, hi, sizeof(hi)) < 0)
		return -EINVAL;
	if (r == -EINVAL)
		return tok_bad(ret_msg, tok, key, value, "must be a duration: %s",
			       SG_UTIL_DURATION_HINT);
	if (r < 0 || *ret == 0 || *ret > SG_CONF_LIFETIME_MAX)
		return tok_bad(ret_msg, tok, key, value, "must be between 1s and %s", hi);
	return 0;
}

static int tokens_on_key(void *user, unsigned line, const char *section, const char *key,
			 const char *value, char **ret_msg)
{
	struct sg_tokens *t = user;
	struct sg_token *tok = t->cur;
	uint64_t v;
	size_t i;
	int r;

	if (!tok) {
		char *qk = sg_ini_quote(key);

		if (!qk)
			return -ENOMEM;
		r = sg_ini_msg(ret_msg, "%s: key outside of any token: start the token with "
				"a [NAME] line", qk);
		free(qk);
		return r;
	}
	if (strncmp(key, "secret.", 7) == 0) {
		if (value[0] == '\0')
			return tok_bad(ret_msg, tok, key, NULL, "empty value: give a value or remove "
				       "the line");
		return parse_secret(tok, line, key, value, ret_msg);
	}
	for (i = 0; i < ONCE_COUNT_; i++)
		if (strcmp(key, once_names[i]) == 0)
			break;
	if (i < ONCE_COUNT_ && tok->once_line[i])
		return tok_bad(ret_msg, tok, key, NULL, "set twice (first at line %u): keep one",
			       tok->once_line[i]);
	if (value[0] == '\0' && (i < ONCE_COUNT_ || !strcmp(key, "authorized_key") ||
				 !strcmp(key, "allow_net")))
		return tok_bad(ret_msg, tok, key, NULL, "empty value: give a value or remove the line");

	switch (i) {
	case ONCE_HASH:
		r = parse_hash(t, tok, value, ret_msg);
		break;
	case ONCE_IMAGE:
		if (!sg_conf_valid_image(value))
			return tok_bad(ret_msg, tok, key, value, "must be an image name: "
				       "[a-z0-9][a-z0-9._-]{0,63} (a folder under image_dir)");
		tok->image = strdup(value);
		r = tok->image ? 0 : -ENOMEM;
		break;
	case ONCE_MEMORY_MB:
		r = parse_number(tok, key, value, SG_CONF_MEMORY_MB_MIN, SG_CONF_MEMORY_MB_MAX, &v, ret_msg);
		tok->memory_mb = (unsigned)v;
		break;
	case ONCE_VCPUS:
		r = parse_number(tok, key, value, SG_CONF_VCPUS_MIN, SG_CONF_VCPUS_MAX, &v, ret_msg);
		tok->vcpus = (unsigned)v;
		break;
	case ONCE_MAX_SANDBOXES:
		r = parse_number(tok, key, value, 1, SG_CONF_MAX_SANDBOXES_MAX, &v, ret_msg);
		tok->max_sandboxes = (unsigned)v;
		break;
	case ONCE_MAX_LIFETIME:
		r = parse_dur(tok, key, value, &tok->max_lifetime, ret_msg);
		break;
	case ONCE_IDLE_TIMEOUT:
		r = parse_dur(tok, key, value, &tok->idle_timeout, ret_msg);
		break;
	case ONCE_HIBERNATE_AFTER:
		r = parse_dur(tok, key, value, &tok->hibernate_after, ret_msg);
		break;
	default:
		if (!strcmp(key, "authorized_key"))
			return parse_key(t, tok, line, value, ret_msg);
		if (!strcmp(key, "allow_net"))
			return parse_allow_net(tok, value, ret_msg);
		return tok_bad(ret_msg, tok, key, NULL, "unknown key (token keys: hash, "
			       "authorized_key, allow_net, secret.NAME, secret.NAME.hosts, "
			       "secret.NAME.in, secret.NAME.allow_http, image, memory_mb, vcpus, "
			       "max_lifetime, max_sandboxes, idle_timeout, hibernate_after)");
	}
	if (r < 0)
		return r;
	tok->once_line[i] = line;
	return 0;
}

static const struct sg_ini_ops tokens_ops = {
	.on_section = tokens_on_section,
	.on_key = tokens_on_key,
};

/* Checks what needs the whole token: a way to log in, secrets with a
 * value. Returns 0 or -EINVAL with *ret_err "LABEL:LINE: ...". */
static int tokens_finish(struct sg_tokens *t, char **ret_err)
{
	size_t i, j;
	int r = 0;

	for (i = 0; i < t->n && r == 0; i++) {
		const struct sg_token *tok = t->tokens[i];

		if (!tok->has_hash && tok->n_keys == 0) {
			r = -EINVAL;
			if (asprintf(ret_err, "%s:%u: [%s]: the token has neither a hash nor an "
				     "authorized_key, so nobody can use it: add one, or remove the "
				     "section", t->file, tok->line, tok->name) < 0)
				*ret_err = NULL;
			break;
		}
		for (j = 0; j < tok->n_secrets; j++) {
			const struct secret *s = &tok->secrets[j];
			unsigned at = s->attr_line[0];

			if (s->line)
				continue;
			if (!at || (s->attr_line[1] && s->attr_line[1] < at))
				at = s->attr_line[1];
			if (!at || (s->attr_line[2] && s->attr_line[2] < at))
				at = s->attr_line[2];
			r = -EINVAL;
			if (asprintf(ret_err, "%s:%u: [%s] secret.%s: attributes are set but the secret "
				     "itself is not: add secret.%s = VALUE, env:VAR or file:PATH",
				     t->file, at, tok->name, s->name, s->name) < 0)
				*ret_err = NULL;
			break;
		}
	}
	return r;
}

static int tokens_parse_file(FILE *f, const char *label, struct sg_tokens **ret, char **ret_err)
{
	struct sg_tokens *t;
	char *err = NULL;
	int r;

	t = calloc(1, sizeof(*t));
	if (!t) {
		r = -ENOMEM;
		goto fail;
	}
	t->file = strdup(label);
	if (!t->file) {
		r = -ENOMEM;
		goto fail;
	}
	if (f) {
		r = sg_ini_parse(f, label, &tokens_ops, t, &err);
		if (r < 0)
			goto fail;
	}
	r = tokens_finish(t, &err);
	if (r < 0)
		goto fail;
	t->cur = NULL;
	*ret = t;
	return 0;
fail:
	sg_tokens_free(t);
	if (ret_err)
		*ret_err = err;
	else
		free(err);
	return r;
}

/* A file that holds literal secret values must be readable by its owner
 * only, as sshd insists for private keys. Returns 0 or -EACCES with
 * *ret_err naming the first such value. */
static int tokens_check_mode(const struct sg_tokens *t, mode_t mode, char **ret_err)
{
	size_t i, j;

	if (!(mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)))
		return 0;
	for (i = 0; i < t->n; i++)
		for (j = 0; j < t->tokens[i]->n_secrets; j++) {
			const struct secret *s = &t->tokens[i]->secrets[j];

			if (s->kind != SG_TOKENS_SECRET_VALUE)
				continue;
			if (ret_err && asprintf(ret_err, "%s:%u: [%s] secret.%s: refusing the file: "
						"it holds secret values and others can read it "
						"(mode %03o): run chmod 600 %s, or give the values "
						"as env:VAR or file:PATH", t->file, s->line,
						t->tokens[i]->name, s->name, (unsigned)(mode & 0777),
						t->file) < 0)
				*ret_err = NULL;
			return -EACCES;
		}
	return 0;
}

int sg_tokens_load(const char *path, struct sg_tokens **ret, char **ret_err)
{
	FILE *f = NULL;
	char *iobuf = NULL;
	size_t iobuf_size = 4096;
	struct stat st;
	int r;

	r = sg_ini_open(path, &f, ret_err);
	if (r < 0)
		return r;
	if (fstat(fileno(f), &st) < 0) {
		r = -errno;
		if (ret_err && asprintf(ret_err, "cannot read %s: %s", path, strerror(-r)) < 0)
			*ret_err = NULL;
		fclose(f);
		return r;
	}
	/* our own stdio buffer, so that it can be wiped: the file holds
	 * secret values */
	iobuf = malloc(iobuf_size);
	if (iobuf)
		setvbuf(f, iobuf, _IOFBF, iobuf_size);
	r = tokens_parse_file(f, path, ret, ret_err);
	fclose(f);
	if (iobuf) {
		explicit_bzero(iobuf, iobuf_size);
		free(iobuf);
	}
	if (r == 0 && (r = tokens_check_mode(*ret, st.st_mode, ret_err)) < 0) {
		sg_tokens_free(*ret);
		*ret = NULL;
	}
	return r;
}

int sg_tokens_parse(const char *label, const char *data, size_t len,
		    struct sg_tokens **ret, char **ret_err)
{
	FILE *f;
	int r;

	if (len == 0)
		return tokens_parse_file(NULL, label, ret, ret_err);
	f = fmemopen((void *)data, len, "r");
	if (!f) {
		if (ret_err)
			*ret_err = NULL;
		return -ENOMEM;
	}
	r = tokens_parse_file(f, label, ret, ret_err);
	fclose(f);
	return r;
}

const char *sg_tokens_file(const struct sg_tokens *t)
{
	return t->file;
}

static int sha256(const void *p, size_t n, uint8_t out[HASH_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != HASH_LEN)
		return -EIO;
	return 0;
}

int sg_tokens_check_secret(const struct sg_tokens *t, const char *token_text, const char **ret_name)
{
	uint8_t h[HASH_LEN];
	size_t len, i, found = 0;
	int r;

	if (!t || !token_text)
		return -EINVAL;
	len = strnlen(token_text, SG_TOKENS_TEXT_MAX + 1);
	if (len > SG_TOKENS_TEXT_MAX)
		return -EINVAL;
	r = sha256(token_text, len, h);
	if (r < 0)
		return r;
	/* every token is compared, matching or not, and the result is
	 * folded in without a branch; at most one can match (hashes are
	 * unique). Tokens without a hash compare against zeros and are
	 * masked out. */
	for (i = 0; i < t->n; i++) {
		const struct sg_token *tok = t->tokens[i];
		size_t eq = (size_t)sg_util_ct_equal(h, tok->hash, HASH_LEN) & (size_t)tok->has_hash;

		found |= (0 - eq) & (i + 1);
	}
	explicit_bzero(h, sizeof(h));
	if (found == 0)
		return -EACCES;
	*ret_name = t->tokens[found - 1]->name;
	return 0;
}

int sg_tokens_check_key(const struct sg_tokens *t, const char *keytype,
			const char *base64_blob, const char **ret_name)
{
	uint8_t *blob = NULL;
	size_t blob_len = 0, i, j;
	int r;

	if (!t || !keytype || !base64_blob)
		return -EINVAL;
	r = sg_b64_decode(base64_blob, strlen(base64_blob), &blob, &blob_len);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (i = 0; i < t->n && r < 0; i++)
		for (j = 0; j < t->tokens[i]->n_keys; j++) {
			const struct key *k = &t->tokens[i]->keys[j];

			if (strcmp(k->type, keytype) == 0 && k->blob_len == blob_len &&
			    memcmp(k->blob, blob, blob_len) == 0) {
				*ret_name = t->tokens[i]->name;
				r = 0;
				break;
			}
		}
	free(blob);
	return r;
}

int sg_tokens_hash_text(const char *text, char *out, size_t out_size)
{
	uint8_t h[HASH_LEN];
	int r;

	if (out_size < SG_TOKENS_HASH_FIELD_LEN + 1)
		return -ENOBUFS;
	r = sha256(text, strlen(text), h);
	if (r < 0)
		return r;
	memcpy(out, "sha256:", 7);
	r = sg_util_hex_encode(h, HASH_LEN, out + 7, out_size - 7);
	explicit_bzero(h, sizeof(h));
	return r;
}

int sg_tokens_generate(char **ret_text, char **ret_hash)
{
	uint8_t raw[SG_TOKENS_SECRET_BYTES];
	char *text = NULL, *hash = NULL;
	int r;

	text = malloc(SG_TOKENS_TEXT_LEN + 1);
	hash = malloc(SG_TOKENS_HASH_FIELD_LEN + 1);
	if (!text || !hash) {
		r = -ENOMEM;
		goto fail;
	}
	r = sg_util_random(raw, sizeof(raw));
	if (r < 0)
		goto fail;
	memcpy(text, "sg_", 3);
	r = sg_b64url_encode(raw, sizeof(raw), text + 3, SG_TOKENS_TEXT_LEN + 1 - 3);
	if (r < 0)
		goto fail;
	r = sg_tokens_hash_text(text, hash, SG_TOKENS_HASH_FIELD_LEN + 1);
	if (r < 0)
		goto fail;
	explicit_bzero(raw, sizeof(raw));
	*ret_text = text;
	*ret_hash = hash;
	return 0;
fail:
	explicit_bzero(raw, sizeof(raw));
	if (text) {
		explicit_bzero(text, SG_TOKENS_TEXT_LEN + 1);
		free(text);
	}
	free(hash);
	return r;
}

size_t sg_tokens_count(const struct sg_tokens *t)
{
	return t ? t->n : 0;
}

const struct sg_token *sg_tokens_at(const struct sg_tokens *t, size_t i)
{
	return t && i < t->n ? t->tokens[i] : NULL;
}

const struct sg_token *sg_tokens_find(const struct sg_tokens *t, const char *name)
{
	size_t i;

	if (!t || !name)
		return NULL;
	for (i = 0; i < t->n; i++)
		if (strcmp(t->tokens[i]->name, name) == 0)
			return t->tokens[i];
	return NULL;
}

const char *sg_tokens_name(const struct sg_token *tok) { return tok->name; }
unsigned sg_tokens_line(const struct sg_token *tok) { return tok->line; }
int sg_tokens_has_hash(const struct sg_token *tok) { return tok->has_hash; }

void sg_tokens_hash_hex(const struct sg_token *tok, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < HASH_LEN; i++) {
		out[2 * i] = tok->has_hash ? hex[tok->hash[i] >> 4] : '0';
		out[2 * i + 1] = tok->has_hash ? hex[tok->hash[i] & 15] : '0';
	}
	out[2 * HASH_LEN] = '\0';
}
const char *sg_tokens_image(const struct sg_token *tok) { return tok->image; }
unsigned sg_tokens_memory_mb(const struct sg_token *tok) { return tok->memory_mb; }
unsigned sg_tokens_vcpus(const struct sg_token *tok) { return tok->vcpus; }
uint64_t sg_tokens_max_lifetime(const struct sg_token *tok) { return tok->max_lifetime; }
unsigned sg_tokens_max_sandboxes(const struct sg_token *tok) { return tok->max_sandboxes; }
uint64_t sg_tokens_idle_timeout(const struct sg_token *tok) { return tok->idle_timeout; }
uint64_t sg_tokens_hibernate_after(const struct sg_token *tok) { return tok->hibernate_after; }

size_t sg_tokens_key_count(const struct sg_token *tok) { return tok->n_keys; }

const char *sg_tokens_key_type(const struct sg_token *tok, size_t i)
{
	return i < tok->n_keys ? tok->keys[i].type : NULL;
}

const char *sg_tokens_key_base64(const struct sg_token *tok, size_t i)
{
	return i < tok->n_keys ? tok->keys[i].b64 : NULL;
}

const char *sg_tokens_key_comment(const struct sg_token *tok, size_t i)
{
	return i < tok->n_keys ? tok->keys[i].comment : NULL;
}

const char *sg_tokens_allow_net(const struct sg_token *tok) { return tok->allow_joined; }
size_t sg_tokens_allow_net_count(const struct sg_token *tok) { return tok->n_allow; }

const char *sg_tokens_allow_net_at(const struct sg_token *tok, size_t i)
{
	return i < tok->n_allow ? tok->allow[i] : NULL;
}

size_t sg_tokens_secret_count(const struct sg_token *tok) { return tok->n_secrets; }

const char *sg_tokens_secret_name(const struct sg_token *tok, size_t i)
{
	return i < tok->n_secrets ? tok->secrets[i].name : NULL;
}

enum sg_tokens_secret_kind sg_tokens_secret_kind(const struct sg_token *tok, size_t i)
{
	return i < tok->n_secrets ? tok->secrets[i].kind : SG_TOKENS_SECRET_VALUE;
}

const char *sg_tokens_secret_source(const struct sg_token *tok, size_t i)
{
	return i < tok->n_secrets ? tok->secrets[i].source : NULL;
}

const char *sg_tokens_secret_hosts(const struct sg_token *tok, size_t i)
{
	return i < tok->n_secrets ? tok->secrets[i].hosts : NULL;
}

const char *sg_tokens_secret_in(const struct sg_token *tok, size_t i)
{
	return i < tok->n_secrets ? tok->secrets[i].in : NULL;
}

int sg_tokens_secret_allow_http(const struct sg_token *tok, size_t i)
{
	return i < tok->n_secrets ? tok->secrets[i].allow_http : 0;
}
