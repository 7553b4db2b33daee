/* sandgatectl: administer sandgated (sandgatectl(8)).
 *
 * token create|list|revoke edit the tokens file directly (sandgated picks
 * the change up at once); images reads the image directory; hostkey the
 * host key (or its .pub); every other
 * command (ls, info, create, extend, kill, whoami, help) goes to the
 * running sandgated over its control socket, which runs it as it runs a
 * token holder's `ssh sandgate@host COMMAND` (docs/control.md). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "gateway/conf.h"
#include "gateway/hostkey.h"
#include "gateway/tokencmd.h"

#define DEFAULT_CONFIG SG_SYSCONFDIR "/sandgate/sandgate.conf"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: sandgatectl [--config FILE] COMMAND [ARGS] [--json]\n"
	    "commands:\n"
	    "  token create NAME     make a token; prints it as the only stdout line\n"
	    "  token list [--json]   list tokens (never their secrets)\n"
	    "  token revoke NAME     remove a token; takes effect at once\n"
	    "  images [--json]       list the installed guest images\n"
	    "  hostkey [--json]      the SSH host key's fingerprint and public key\n"
	    "  ls [--token T]        list the sandboxes (list is the same)\n"
	    "  info ID|NAME [--token T]\n"
	    "  create NAME --token T [--image I] [--memory MB] [--vcpus N]\n"
	    "        [--lifetime D] [--idle-timeout D] [--allow-net LIST]\n"
	    "        [--secret NAME,...] [--env KEY=VALUE] [--snapshot SNAP]\n"
	    "        [--volume VOL:/path[:ro]]...\n"
	    "  extend ID|NAME DURATION [--token T]   (e.g. 30m, 2h)\n"
	    "  kill ID|NAME [--token T] | kill --token T\n"
	    "  whoami [--token T]    a token's limits and what is in use\n"
	    "  snapshot ID|NAME SNAP [--token T]   save its disk as SNAP\n"
	    "  snapshot ls [--token T] | snapshot rm SNAP --token T\n"
	    "  hibernate ID|NAME [--token T]   save it with its memory\n"
	    "  volume create VOL SIZE --token T [--from SNAP]   a disk that lasts\n"
	    "  volume ls [--token T] | volume rm VOL --token T\n"
	    "add --json to those run by sandgated for one JSON document\n"
	    "(docs/control.md, sandgate-ssh(7))\n");
}

/* The words as one command line, each in single quotes ('\'' for a
 * quote), which sandgated splits as a shell would. Control bytes are
 * refused here as sandgated would refuse them. */
static int
quote_words(int argc, char **argv, char *out, size_t size)
{
	size_t o = 0;
	int i;
	const char *p;

	for (i = 0; i < argc; i++) {
		if (o + 2 >= size)
			return -1;
		if (i > 0)
			out[o++] = ' ';
		out[o++] = '\'';
		for (p = argv[i]; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return -1;
			if (o + 6 >= size)
				return -1;
			if (*p == '\'') {
				memcpy(out + o, "'\\''", 4);
				o += 4;
			} else {
				out[o++] = *p;
			}
		}
		out[o++] = '\'';
	}
	if (o + 2 >= size)
		return -1;
	out[o++] = '\n';
	out[o] = '\0';
	return 0;
}

/* Reads "KEY N\n" and N bytes into f. Returns 0 or -1. */
static int
read_part(FILE *in, const char *key, FILE *f)
{
	char head[64];
	unsigned long n;
	char *end;
	int ch;

	if (fgets(head, sizeof(head), in) == NULL ||
	    strncmp(head, key, strlen(key)) != 0 || head[strlen(key)] != ' ')
		return -1;
	n = strtoul(head + strlen(key) + 1, &end, 10);
	if (*end != '\n')
		return -1;
	while (n-- > 0) {
		if ((ch = fgetc(in)) == EOF)
			return -1;
		fputc(ch, f);
	}
	return 0;
}

/* Sends one command line to the control socket; prints the answer's
 * stdout and stderr parts where they belong. Returns its exit status. */
static int
control(const char *path, const char *req)
{
	struct sockaddr_un sa;
	char tail[64], *end;
	long st;
	FILE *in;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sandgatectl: control socket path too long: %s\n", path);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "sandgatectl: cannot reach sandgated at %s: %s "
		    "(is sandgated running, and are you root?)\n", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "sandgatectl: cannot send the request: %s\n",
		    strerror(errno));
		close(fd);
		return 1;
	}
	in = fdopen(fd, "r");
	if (in == NULL) {
		close(fd);
		return 1;
	}
	if (read_part(in, "out", stdout) < 0 || read_part(in, "err", stderr) < 0 ||
	    fgets(tail, sizeof(tail), in) == NULL ||
	    strncmp(tail, "exit ", 5) != 0 ||
	    (st = strtol(tail + 5, &end, 10)) < 0 || st > 255 || *end != '\n') {
		fflush(stdout);
		fprintf(stderr, "sandgatectl: sandgated's answer was cut short "
		    "(did it stop?)\n");
		fclose(in);
		return 1;
	}
	fclose(in);
	return (int)st;
}

/* The value of "built = ..." in an image's image.conf, or "?". */
static void
image_built(const char *dir, const char *name, char *out, size_t size)
{
	char path[4096], line[256];
	FILE *f;

	snprintf(out, size, "?");
	snprintf(path, sizeof(path), "%s/%s/image.conf", dir, name);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "built", 5) == 0 && strchr(line, '=')) {
			char *v = strchr(line, '=') + 1;

			while (*v == ' ')
				v++;
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, size, "%s", v);
		}
	fclose(f);
}

/* Prints b on stdout; 0, or 1 when it could not be written. */
static int
put_out(struct sg_buf *b)
{
	if (fwrite(sg_buf_data(b), 1, sg_buf_len(b), stdout) != sg_buf_len(b) ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "sandgatectl: cannot write: %s\n",
		    strerror(errno));
		return 1;
	}
	return 0;
}

static int
list_images(const char *dir, int json)
{
	struct dirent **ents = NULL;
	struct sg_buf *b = sg_buf_new(1 << 20);
	struct stat st;
	int n, i, found = 0, status;

	if (b == NULL)
		return 1;
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "sandgatectl: cannot read the image directory %s: "
		    "%s (build one with sandgate-image build default)\n", dir,
		    strerror(errno));
		sg_buf_free(b);
		return 1;
	}
	if (json)
		sg_buf_putf(b, "[");
	else
		sg_buf_putf(b, "%-16s  %s\n", "IMAGE", "BUILT");
	for (i = 0; i < n; i++) {
		char path[4096], built[128];

		snprintf(path, sizeof(path), "%s/%s/image.conf", dir,
		    ents[i]->d_name);
		if (ents[i]->d_name[0] == '.' || stat(path, &st) < 0)
			goto next;
		image_built(dir, ents[i]->d_name, built, sizeof(built));
		if (json) {
			sg_buf_putf(b, "%s{\"name\": ", found ? ", " : "");
			sg_json_str(b, ents[i]->d_name);
			sg_buf_putf(b, ", \"built\": ");
			sg_json_str(b, strcmp(built, "?") ? built : NULL);
			sg_buf_putf(b, "}");
		} else {
			sg_buf_putf(b, "%-16s  %s\n", ents[i]->d_name, built);
		}
		found++;
next:
		free(ents[i]);
	}
	free(ents);
	if (json)
		sg_buf_putf(b, "]\n");
	status = put_out(b);
	sg_buf_free(b);
	if (found == 0)
		fprintf(stderr, "sandgatectl: no images in %s\n", dir);
	return status;
}

/* hostkey: what clients see at their first connection. */
static int
show_hostkey(const char *path, int json)
{
	char fp[128], pub[8192], *err = NULL;
	struct sg_buf *b;
	ssh_key key = NULL;
	int r, status;

	r = sg_hostkey_read_public(path, &key, &err);
	if (r < 0) {
		fprintf(stderr, "sandgatectl: %s\n", err ? err : strerror(-r));
		free(err);
		return 1;
	}
	b = sg_buf_new(16384);
	if (b == NULL || sg_hostkey_fingerprint(key, fp, sizeof(fp)) < 0 ||
	    sg_hostkey_public_line(key, pub, sizeof(pub)) < 0) {
		fprintf(stderr, "sandgatectl: cannot encode the host key %s\n",
		    path);
		ssh_key_free(key);
		sg_buf_free(b);
		return 1;
	}
	if (json) {
		sg_buf_putf(b, "{\"fingerprint\": ");
		sg_json_str(b, fp);
		sg_buf_putf(b, ", \"type\": ");
		sg_json_str(b, sg_hostkey_type(key));
		sg_buf_putf(b, ", \"public_key\": ");
		sg_json_str(b, pub);
		sg_buf_putf(b, ", \"file\": ");
		sg_json_str(b, path);
		sg_buf_putf(b, "}\n");
	} else {
		sg_buf_putf(b, "%s (%s)\n%s\n", fp, sg_hostkey_type(key), pub);
	}
	status = put_out(b);
	ssh_key_free(key);
	sg_buf_free(b);
	return status;
}

/* A local command's arguments: none, or --json alone. Returns 0/1 for
 * json, -1 for anything else. */
static int
json_only(int argc, char **argv)
{
	if (argc == 0)
		return 0;
	if (argc == 1 && strcmp(argv[0], "--json") == 0)
		return 1;
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG, *cmd;
	struct sg_conf *conf = NULL;
	char *err = NULL, req[8192 + 2];
	int c, r, status = 1;

	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	sg_log_init("sandgatectl", SG_LOG_INFO);
	r = sg_conf_load(config, strcmp(config, DEFAULT_CONFIG) != 0, &conf, &err);
	if (r < 0) {
		fprintf(stderr, "sandgatectl: %s\n", err ? err : strerror(-r));
		free(err);
		return 1;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "token") == 0) {
		status = sg_tokencmd_main(sg_conf_str(conf, SG_CONF_TOKENS),
		    argc - optind - 1, argv + optind + 1);
	} else if (strcmp(cmd, "images") == 0 || strcmp(cmd, "hostkey") == 0) {
		int json = json_only(argc - optind - 1, argv + optind + 1);

		if (json < 0) {
			fprintf(stderr, "sandgatectl: %s takes no argument but "
			    "--json\n", cmd);
			status = 2;
		} else if (cmd[0] == 'i') {
			status = list_images(sg_conf_str(conf,
			    SG_CONF_IMAGE_DIR), json);
		} else {
			status = show_hostkey(sg_conf_str(conf,
			    SG_CONF_HOST_KEY), json);
		}
	} else {
		/* the rest is sandgated's: the same commands as ssh
		 * sandgate@host, over every token */
		if (strcmp(cmd, "list") == 0)
			argv[optind] = (char *)"ls";
		if (quote_words(argc - optind, argv + optind, req,
		    sizeof(req)) < 0) {
			fprintf(stderr, "sandgatectl: the command is too long or "
			    "holds control characters\n");
			status = 2;
		} else {
			status = control(sg_conf_str(conf,
			    SG_CONF_CONTROL_SOCKET), req);
		}
	}
	sg_conf_free(conf);
	return status;
}
