/* sandgatectl: administer sandgated (sandgatectl(8)).
 *
 * token create|list|revoke edit the tokens file directly (sandgated picks
 * the change up at once); list, kill and extend go to the running
 * sandgated over its control socket; images reads the image directory. */
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

#include "common/log.h"
#include "gateway/conf.h"
#include "gateway/tokencmd.h"

#define DEFAULT_CONFIG SG_SYSCONFDIR "/sandgate/sandgate.conf"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: sandgatectl [--config FILE] COMMAND\n"
	    "commands:\n"
	    "  token create NAME     make a token; prints it as the only stdout line\n"
	    "  token list            list tokens (never their secrets)\n"
	    "  token revoke NAME     remove a token; takes effect at once\n"
	    "  list                  list running sandboxes\n"
	    "  kill ID               destroy a sandbox\n"
	    "  extend ID DURATION    push a sandbox's end back (e.g. 30m, 2h)\n"
	    "  images                list the installed guest images\n");
}

/* Sends one request line to the control socket and copies the reply to
 * stdout. The last line is "ok..." or "error: ...". Returns the exit code. */
static int
control(const char *path, const char *req)
{
	struct sockaddr_un sa;
	char buf[4096], last[512] = "";
	size_t lastlen = 0;
	ssize_t n, i;
	int fd, status = 1;

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
	/* Print every line but the status line, which decides the exit. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (lastlen < sizeof(last) - 1)
				last[lastlen++] = buf[i];
			if (buf[i] != '\n')
				continue;
			last[lastlen] = '\0';
			if (strncmp(last, "ok", 2) == 0 &&
			    (last[2] == '\n' || last[2] == ' ')) {
				status = 0;
				if (last[2] == ' ')
					fputs(last + 3, stdout);
			} else if (strncmp(last, "error: ", 7) == 0) {
				fprintf(stderr, "sandgatectl: %s", last + 7);
				status = 1;
			} else {
				fputs(last, stdout);
			}
			lastlen = 0;
		}
	}
	close(fd);
	return status;
}

static int
list_images(const char *dir)
{
	struct dirent **ents = NULL;
	int n, i, found = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "sandgatectl: cannot read the image directory %s: "
		    "%s (build one with images/build-minimal)\n", dir,
		    strerror(errno));
		return 1;
	}
	printf("%-16s  %s\n", "IMAGE", "BUILT");
	for (i = 0; i < n; i++) {
		char path[4096], line[256], built[128] = "?";
		FILE *f;

		if (ents[i]->d_name[0] == '.')
			goto next;
		snprintf(path, sizeof(path), "%s/%s/image.conf", dir, ents[i]->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			goto next;
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "built", 5) == 0 && strchr(line, '=')) {
				char *v = strchr(line, '=') + 1;

				while (*v == ' ')
					v++;
				v[strcspn(v, "\n")] = '\0';
				snprintf(built, sizeof(built), "%s", v);
			}
		fclose(f);
		printf("%-16s  %s\n", ents[i]->d_name, built);
		found++;
next:
		free(ents[i]);
	}
	free(ents);
	if (found == 0)
		fprintf(stderr, "sandgatectl: no images in %s\n", dir);
	return 0;
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
	char *err = NULL, req[512];
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
	} else if (strcmp(cmd, "list") == 0 && argc - optind == 1) {
		status = control(sg_conf_str(conf, SG_CONF_CONTROL_SOCKET), "list\n");
	} else if (strcmp(cmd, "kill") == 0 && argc - optind == 2 &&
	    strlen(argv[optind + 1]) < 64 && strchr(argv[optind + 1], ' ') == NULL) {
		snprintf(req, sizeof(req), "kill %s\n", argv[optind + 1]);
		status = control(sg_conf_str(conf, SG_CONF_CONTROL_SOCKET), req);
	} else if (strcmp(cmd, "extend") == 0 && argc - optind == 3 &&
	    strlen(argv[optind + 1]) < 64 && strlen(argv[optind + 2]) < 64 &&
	    strpbrk(argv[optind + 1], " \n") == NULL &&
	    strpbrk(argv[optind + 2], " \n") == NULL) {
		snprintf(req, sizeof(req), "extend %s %s\n", argv[optind + 1],
		    argv[optind + 2]);
		status = control(sg_conf_str(conf, SG_CONF_CONTROL_SOCKET), req);
	} else if (strcmp(cmd, "images") == 0 && argc - optind == 1) {
		status = list_images(sg_conf_str(conf, SG_CONF_IMAGE_DIR));
	} else {
		usage(stderr);
		status = 2;
	}
	sg_conf_free(conf);
	return status;
}
