/* ag_conf: see conf.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include <linux/random.h>
#include <unistd.h>

#include "agent/conf.h"
#include "agent/net.h"
#include "agent/vol.h"
#include "common/log.h"
#include "common/proto.h"

#define CONF_ENV_MAX	(SG_PROTO_MAX_ITEMS + 16)
#define CONF_DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CONF_DEFAULT_HOME	"/root"
#define CONF_DEFAULT_SHELL	"/bin/sh"

struct ag_conf {
	int system;
	char *home;
	char *shell;
	char **env;	/* locked environment, NULL-terminated */
	size_t envc;
};

void
ag_conf_env_free(char **env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* Length of the NAME part of "NAME=VALUE" (the whole string when there
 * is no '='). */
static size_t
env_name_len(const char *s)
{
	return strcspn(s, "=");
}

/* Index of the entry of env[0..n) with the same name as s, or n. */
static size_t
env_find(char *const *env, size_t n, const char *s)
{
	size_t k = env_name_len(s), i;

	for (i = 0; i < n; i++)
		if (env_name_len(env[i]) == k && memcmp(env[i], s, k) == 0)
			return i;
	return n;
}

/* Sets s (copied) in env, which has room for max entries plus the NULL,
 * replacing an entry of the same name. */
static int
env_set(char **env, size_t *n, size_t max, const char *s)
{
	size_t i = env_find(env, *n, s);
	char *d = strdup(s);

	if (d == NULL)
		return -ENOMEM;
	if (i < *n) {
		free(env[i]);
		env[i] = d;
		return 0;
	}
	if (*n >= max) {
		free(d);
		return -E2BIG;
	}
	env[(*n)++] = d;
	env[*n] = NULL;
	return 0;
}

static int
env_setf(char **env, size_t *n, size_t max, const char *name,
    const char *value)
{
	char *s;
	int r;

	if (asprintf(&s, "%s=%s", name, value) < 0)
		return -ENOMEM;
	r = env_set(env, n, max, s);
	free(s);
	return r;
}

/* Reads root's login shell (the first uid 0 entry) from /etc/passwd. */
static char *
conf_read_shell(void)
{
	char line[1024], *f[7], *p;
	char *shell = NULL;
	FILE *fp;
	int i;

	fp = fopen("/etc/passwd", "re");
	if (fp == NULL)
		goto out;
	while (shell == NULL && fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		p = line;
		for (i = 0; i < 7; i++) {
			f[i] = p;
			p = strchr(p, ':');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		if (i < 6 || strcmp(f[2], "0") != 0 || f[6][0] != '/')
			continue;
		if (access(f[6], X_OK) == 0)
			shell = strdup(f[6]);
	}
	fclose(fp);
out:
	return shell != NULL ? shell : strdup(CONF_DEFAULT_SHELL);
}

/* Builds the default locked environment for home into a new array. */
static int
conf_base_env(const char *home, const char *shell, char ***ret,
    size_t *ret_n)
{
	char **env;
	size_t n = 0;
	int r = 0;

	env = calloc(CONF_ENV_MAX + 1, sizeof(*env));
	if (env == NULL)
		return -ENOMEM;
	if (r == 0)
		r = env_set(env, &n, CONF_ENV_MAX, "PATH=" CONF_DEFAULT_PATH);
	if (r == 0)
		r = env_setf(env, &n, CONF_ENV_MAX, "HOME", home);
	if (r == 0)
		r = env_set(env, &n, CONF_ENV_MAX, "USER=root");
	if (r == 0)
		r = env_set(env, &n, CONF_ENV_MAX, "LOGNAME=root");
	if (r == 0)
		r = env_setf(env, &n, CONF_ENV_MAX, "SHELL", shell);
	if (r < 0) {
		ag_conf_env_free(env);
		return r;
	}
	*ret = env;
	*ret_n = n;
	return 0;
}

int
ag_conf_new(int system, struct ag_conf **ret)
{
	struct ag_conf *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->system = system;
	c->home = strdup(CONF_DEFAULT_HOME);
	c->shell = conf_read_shell();
	if (c->home == NULL || c->shell == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	r = conf_base_env(c->home, c->shell, &c->env, &c->envc);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	ag_conf_free(c);
	return r;
}

void
ag_conf_free(struct ag_conf *c)
{
	if (c == NULL)
		return;
	free(c->home);
	free(c->shell);
	ag_conf_env_free(c->env);
	free(c);
}

const char *
ag_conf_home(const struct ag_conf *c)
{
	return c->home;
}

const char *
ag_conf_shell(const struct ag_conf *c)
{
	return c->shell;
}

/* Creates directory path and its missing parents (mode 0755 for parents,
 * mode for the last). Returns 0 or -errno. */
static int
conf_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path), i;

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (i = 1; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Records the first failure: its errno and message. */
static void
conf_fail(int *first, char *msg, size_t msglen, int err, const char *fmt,
    ...) __attribute__((format(printf, 5, 6)));

static void
conf_fail(int *first, char *msg, size_t msglen, int err, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sg_warn("config: %s", line);
	if (*first != 0)
		return;
	*first = err;
	snprintf(msg, msglen, "%s", line);
}

/* Parses "SECONDS[.FRACTION]" into a timespec. */
static int
conf_parse_time(const char *s, struct timespec *ret)
{
	unsigned long long sec = 0;
	long nsec = 0, scale = 100000000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (sec > (unsigned long long)INT64_MAX / 10 - 10)
			return -EINVAL;
		sec = sec * 10 + (unsigned)(*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			nsec += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p != '\0' || (time_t)sec < 0)
		return -EINVAL;
	ret->tv_sec = (time_t)sec;
	ret->tv_nsec = nsec;
	return 0;
}

/* Writes data to path through a temporary file and rename. */
static int
conf_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[256];
	const char *p = data;
	ssize_t w;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.sandgate-tmp", path) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = -errno;
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* Adds the CA to the system bundle when the image has one and it does not
 * hold it yet, so curl, git and python trust the proxy. */
static int
conf_append_bundle(const char *pem, size_t len)
{
	char *have = NULL;
	size_t cap = 0, n = 0;
	ssize_t k;
	int fd, r = 0;

	fd = open(AG_CONF_CA_BUNDLE, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	for (;;) {
		if (n == cap) {
			char *nh;

			if (cap >= (64u << 20)) {
				r = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			nh = realloc(have, cap + 1);
			if (nh == NULL) {
				r = -ENOMEM;
				goto out;
			}
			have = nh;
		}
		k = read(fd, have + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	have[n] = '\0';
	if (memmem(have, n, pem, len) != NULL)
		goto out;
	errno = 0;
	if ((n > 0 && have[n - 1] != '\n' && write(fd, "\n", 1) != 1) ||
	    write(fd, pem, len) != (ssize_t)len ||
	    (pem[len - 1] != '\n' && write(fd, "\n", 1) != 1))
		r = errno != 0 ? -errno : -EIO;
out:
	free(have);
	close(fd);
	return r;
}

static int
conf_install_ca(const char *pem)
{
	size_t len = strlen(pem);
	int r;

	if (len == 0 || strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL)
		return -EINVAL;
	if (mkdir("/etc/sandgate", 0755) < 0 && errno != EEXIST)
		return -errno;
	r = conf_write_file(AG_CONF_CA_FILE, pem, len, 0644);
	if (r < 0)
		return r;
	return conf_append_bundle(pem, len);
}

/* Points the TLS clients of the image at the bundle that holds the
 * proxy's CA: the system bundle when the image has one (the CA was
 * appended to it), else the CA alone. Locked like every CONFIG env. */
static int
conf_ca_env(char **env, size_t *n)
{
	static const char *const vars[] = {
		"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
		"CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "DENO_CERT",
	};
	const char *bundle = access(AG_CONF_CA_BUNDLE, R_OK) == 0 ?
	    AG_CONF_CA_BUNDLE : AG_CONF_CA_FILE;
	size_t i;
	int r;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if ((r = env_setf(env, n, CONF_ENV_MAX, vars[i], bundle)) < 0)
			return r;
	return 0;
}

/* Mixes the bytes of hex into the kernel's pool (a write to /dev/urandom:
 * no credit, but a guest resumed from a save no longer repeats what it
 * would have drawn). */
static int
conf_add_entropy(const char *hex)
{
	unsigned char buf[256];
	size_t n = strlen(hex), i;
	int fd, r = 0;

	if (n == 0 || n % 2 != 0 || n / 2 > sizeof(buf))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char ch = hex[i];
		unsigned v = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0') :
		    ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10) : 16;

		if (v == 16)
			return -EINVAL;
		buf[i / 2] = (unsigned char)(i % 2 ? buf[i / 2] | v : v << 4);
	}
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	else if (write(fd, buf, n / 2) != (ssize_t)(n / 2))
		r = -EIO;
#ifdef RNDRESEEDCRNG
	/* and what the pool holds now reseeds the generator at once */
	if (r == 0 && ioctl(fd, RNDRESEEDCRNG) < 0)
		sg_debug("RNDRESEEDCRNG: %s", strerror(errno));
#endif
	if (fd >= 0)
		close(fd);
	memset(buf, 0, sizeof(buf));
	return r;
}

/* Applies one system key (the machine, not the environment). */
static void
conf_apply_system(const char *key, const char *value, int *first, char *msg,
    size_t msglen)
{
	struct timespec ts;
	int r;

	if (strcmp(key, "hostname") == 0) {
		if (sethostname(value, strlen(value)) < 0)
			conf_fail(first, msg, msglen, errno,
			    "cannot set the hostname to \"%s\": %s", value,
			    strerror(errno));
	} else if (strcmp(key, "time") == 0) {
		r = conf_parse_time(value, &ts);
		if (r == 0 && clock_settime(CLOCK_REALTIME, &ts) < 0)
			r = -errno;
		if (r < 0)
			conf_fail(first, msg, msglen, -r,
			    "cannot set the clock to \"%s\": %s", value,
			    strerror(-r));
	} else if (strcmp(key, "ip") == 0 || strcmp(key, "gateway") == 0) {
		if (!ag_net_has_link(AG_CONF_IFACE))
			return;	/* a sandbox without a network */
		r = key[0] == 'i' ? ag_net_set_addr(AG_CONF_IFACE, value) :
		    ag_net_set_gateway(AG_CONF_IFACE, value);
		if (r < 0)
			conf_fail(first, msg, msglen, -r,
			    "cannot set %s %s on %s: %s", key, value,
			    AG_CONF_IFACE, strerror(-r));
	} else if (strcmp(key, "dns") == 0) {
		r = ag_net_write_resolv(AG_CONF_RESOLV, value);
		if (r < 0)
			conf_fail(first, msg, msglen, -r,
			    "cannot write %s for \"%s\": %s", AG_CONF_RESOLV,
			    value, strerror(-r));
	} else if (strcmp(key, "entropy") == 0) {
		r = conf_add_entropy(value);
		if (r < 0)
			conf_fail(first, msg, msglen, -r,
			    "cannot add entropy: %s", strerror(-r));
	} else if (strcmp(key, "volume") == 0) {
		char vmsg[400];

		r = ag_vol_mount(value, vmsg, sizeof(vmsg));
		if (r < 0)
			conf_fail(first, msg, msglen, -r, "%s", vmsg);
	} else if (strcmp(key, "ca") == 0) {
		r = conf_install_ca(value);
		if (r < 0)
			conf_fail(first, msg, msglen, -r,
			    "cannot install the proxy CA: %s", strerror(-r));
	}
}

int
ag_conf_apply(struct ag_conf *c, const struct sg_config *cfg, char *msg,
    size_t msglen)
{
	const char *sandbox = "?", *image = "?";
	char **env = NULL;
	char *home = NULL;
	const char *key, *value;
	size_t i, n = 0;
	int first = 0, r;

	if (msglen > 0)
		msg[0] = '\0';
	/* The new home first: HOME in the base environment follows it. */
	for (i = 0; i < sg_config_count(cfg); i++) {
		if (strcmp(sg_config_key(cfg, i), "home") != 0)
			continue;
		value = sg_config_value(cfg, i);
		if (value[0] != '/') {
			conf_fail(&first, msg, msglen, EINVAL,
			    "home \"%s\" is not an absolute path", value);
			continue;
		}
		free(home);
		home = strdup(value);
		if (home == NULL) {
			r = -ENOMEM;
			goto fail;
		}
	}
	if (home == NULL) {
		home = strdup(CONF_DEFAULT_HOME);
		if (home == NULL) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = conf_base_env(home, c->shell, &env, &n);
	if (r < 0)
		goto fail;
	for (i = 0; i < sg_config_count(cfg); i++) {
		key = sg_config_key(cfg, i);
		value = sg_config_value(cfg, i);
		if (strcmp(key, "env") == 0) {
			if (env_name_len(value) == 0 || value[env_name_len(value)] != '=') {
				conf_fail(&first, msg, msglen, EINVAL,
				    "env entry is not NAME=VALUE");
				continue;
			}
			r = env_set(env, &n, CONF_ENV_MAX, value);
			if (r == -ENOMEM)
				goto fail;
			if (r < 0)
				conf_fail(&first, msg, msglen, -r,
				    "too many env entries");
		} else if (strcmp(key, "home") == 0) {
			continue;
		} else if (strcmp(key, "sandbox_id") == 0) {
			sandbox = value;
		} else if (strcmp(key, "image") == 0) {
			image = value;
		} else if (!c->system) {
			sg_info("config: %s skipped (not PID 1)", key);
		} else {
			conf_apply_system(key, value, &first, msg, msglen);
		}
	}
	for (i = 0; i < sg_config_count(cfg); i++)
		if (strcmp(sg_config_key(cfg, i), "ca") == 0)
			break;
	if (c->system && i < sg_config_count(cfg)) {
		r = conf_ca_env(env, &n);
		if (r == -ENOMEM)
			goto fail;
		if (r < 0)
			conf_fail(&first, msg, msglen, -r,
			    "too many env entries");
	}
	r = c->system ? conf_mkdir_p(home, 0700) : 0;
	if (r < 0)
		conf_fail(&first, msg, msglen, -r, "home: cannot create %s: %s",
		    home, strerror(-r));
	free(c->home);
	c->home = home;
	ag_conf_env_free(c->env);
	c->env = env;
	c->envc = n;
	sg_info("configured sandbox %s (image %s): %zu environment entries, "
	    "home %s%s", sandbox, image, n, home, first ? "; with errors" : "");
	return -first;
fail:
	free(home);
	ag_conf_env_free(env);
	snprintf(msg, msglen, "out of memory applying the configuration");
	return r;
}

int
ag_conf_env(const struct ag_conf *c, char *const *extra, size_t nextra,
    const char *term, char ***ret)
{
	size_t max = c->envc + nextra + 1, n = 0, i;
	char **env;
	int r = 0;

	env = calloc(max + 1, sizeof(*env));
	if (env == NULL)
		return -ENOMEM;
	for (i = 0; i < c->envc && r == 0; i++)
		r = env_set(env, &n, max, c->env[i]);
	for (i = 0; i < nextra && r == 0; i++) {
		if (env_find(c->env, c->envc, extra[i]) < c->envc)
			continue;	/* locked: the client cannot change it */
		if (term != NULL && env_name_len(extra[i]) == 4 &&
		    memcmp(extra[i], "TERM", 4) == 0)
			continue;	/* the pty's TERM wins */
		r = env_set(env, &n, max, extra[i]);
	}
	if (r == 0 && term != NULL &&
	    env_find(c->env, c->envc, "TERM") == c->envc)
		r = env_setf(env, &n, max, "TERM", term);
	if (r < 0) {
		ag_conf_env_free(env);
		return r;
	}
	*ret = env;
	return 0;
}
