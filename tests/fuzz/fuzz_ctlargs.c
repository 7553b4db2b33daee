/* libFuzzer harness for the control interface's command line
 * (gateway/ctlargs.c): the bytes are a command string as a token holder's
 * SSH exec request brings it. Split, then parse as a token holder and as
 * root. Checks: every word respects the limits and holds no control
 * byte; a parse that succeeds names a valid sandbox where it names one;
 * a failure always has a message. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/ctlargs.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **argv = NULL, *err = NULL;
	struct sg_ctla *q;
	size_t argc = 0, i, k;
	int r, root;

	r = sg_ctla_split((const char *)data, size, &argv, &argc, &err);
	if (r < 0) {
		CHECK(r == -ENOMEM || err != NULL);
		free(err);
		return 0;
	}
	CHECK(err == NULL && argc <= SG_CTLA_WORDS_MAX && argv[argc] == NULL);
	for (i = 0; i < argc; i++) {
		CHECK(strlen(argv[i]) <= SG_CTLA_WORD_MAX);
		for (k = 0; argv[i][k] != '\0'; k++)
			CHECK((unsigned char)argv[i][k] >= 0x20 &&
			    argv[i][k] != 0x7f);
	}
	for (root = 0; root < 2; root++) {
		q = NULL;
		r = sg_ctla_parse(argc, argv, root, &q, &err);
		if (r < 0) {
			CHECK(q == NULL && (r == -ENOMEM || err != NULL));
			free(err);
			err = NULL;
			continue;
		}
		CHECK(q != NULL && err == NULL);
		if (q->cmd == SG_CTLA_CREATE)
			CHECK(sg_ctla_valid_name(q->name));
		CHECK(q->nenv <= SG_CTLA_ENV_MAX);
		CHECK(q->nallow <= SG_CTLA_ALLOW_MAX);
		CHECK(root || q->token == NULL);
		/* volumes: names and mount paths as the guest gets them */
		CHECK(q->nvols <= SG_CTLA_VOLUMES_MAX);
		for (i = 0; i < q->nvols; i++)
			CHECK(sg_ctla_valid_volume(q->vols[i].name) &&
			    sg_ctla_valid_mount(q->vols[i].path) &&
			    strchr(q->vols[i].path, ' ') == NULL);
		if (q->cmd == SG_CTLA_VOLUME_CREATE)
			CHECK(sg_ctla_valid_volume(q->vol) &&
			    q->vol_bytes >= SG_CTLA_VOLUME_MIN &&
			    q->vol_bytes <= SG_CTLA_VOLUME_MAX &&
			    q->vol_bytes % (1u << 20) == 0);
		if (q->cmd == SG_CTLA_VOLUME_RM)
			CHECK(sg_ctla_valid_volume(q->vol));
		if (q->cmd == SG_CTLA_HIBERNATE)
			CHECK(q->name != NULL);
		sg_ctla_free(q);
	}
	sg_ctla_free_words(argv, argc);
	return 0;
}
