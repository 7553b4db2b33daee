/* libFuzzer harness for the monitor's decoding of worker requests
 * (common/mpipe.c): a worker is untrusted, so whatever it sends must be
 * rejected cleanly or decode to fields that re-encode to the same bytes.
 * The first input byte is the message type, the rest its payload.
 *
 * The same payload also goes to the decoders of the shim messages: the
 * monitor's of SHIM_STATE (a shim's guest may have taken it over) and the
 * shim's of SHIM_INIT, and to the monitor's of LOG lines. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mpipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The encoding in b (type byte first) must be type and then p, from byte
 * skip of p on (the bytes before are a field the encoder sets itself). */
static void
same_payload(const struct sg_buf *b, uint8_t type, const uint8_t *p,
    size_t n, size_t skip)
{
	if (sg_buf_len(b) != 1 + n || sg_buf_data(b)[0] != type ||
	    memcmp(sg_buf_data(b) + 1 + skip, p + skip, n - skip) != 0)
		abort();	/* decode and encode disagree */
}

/* SHIM_STATE: the version is the caller's to judge, so any decodes; the
 * encoder writes its own. */
static void
shim_state(const uint8_t *p, size_t n)
{
	struct sg_mp_shim_state st;
	struct sg_buf *b;

	if (sg_mp_parse_shim_state(p, n, &st) != 0)
		return;
	if (st.id == NULL || st.why == NULL || st.agent > SG_MP_AGENT_DOWN ||
	    st.ephemeral > 1 || n < 4)
		abort();
	b = sg_buf_new(n + 1 > SG_MP_MAX ? n + 1 : SG_MP_MAX);
	if (b == NULL || sg_mp_put_shim_state(b, &st) != 0)
		abort();
	same_payload(b, SG_MP_SHIM_STATE, p, n,
	    st.version == SG_MP_SHIM_VERSION ? 0 : 4);
	sg_buf_free(b);
	sg_mp_shim_state_clear(&st);
}

/* LOG (worker or shim): a line decodes to printable text within bounds
 * and a level the monitor's log knows. */
static void
log_line(const uint8_t *p, size_t n)
{
	char text[SG_MP_LOG_MAX + 1];
	int level = -1;
	size_t i, len;

	if (sg_mp_parse_log(p, n, &level, text) != 0)
		return;
	len = strlen(text);
	if (len > SG_MP_LOG_MAX || n != 5 + len ||
	    level < SG_LOG_ERR || level > SG_LOG_DEBUG)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			abort();
}

/* SHIM_INIT: only the current version decodes; it re-encodes whole. */
static void
shim_init(const uint8_t *p, size_t n)
{
	struct sg_mp_shim_init si;
	struct sg_buf *b;

	if (sg_mp_parse_shim_init(p, n, &si) != 0)
		return;
	if (si.id == NULL || si.root == NULL || si.dns == NULL ||
	    si.cfg == NULL || si.ephemeral > 1 || si.nov > 256)
		abort();
	b = sg_buf_new(n + 1 > SG_MP_MAX ? n + 1 : SG_MP_MAX);
	if (b == NULL || sg_mp_put_shim_init(b, &si) != 0)
		abort();
	same_payload(b, SG_MP_SHIM_INIT, p, n, 0);
	sg_buf_free(b);
	sg_mp_shim_init_clear(&si);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_mp_auth a;
	struct sg_buf *b;
	char *user = NULL;

	if (size < 1)
		return 0;
	if (sg_mp_parse_auth(data[0], data + 1, size - 1, &a) == 0) {
		b = sg_buf_new(SG_MP_MAX);
		if (b == NULL)
			abort();
		if (sg_mp_put_auth(b, &a) != 0 || sg_buf_len(b) != size ||
		    memcmp(sg_buf_data(b), data, size) != 0)
			abort();	/* decode and encode disagree */
		sg_buf_free(b);
		sg_mp_auth_clear(&a);
	}
	if (sg_mp_parse_start(data + 1, size - 1, &user) == 0) {
		if (strlen(user) + 4 != size - 1)
			abort();
		free(user);
	}
	shim_state(data + 1, size - 1);
	shim_init(data + 1, size - 1);
	log_line(data + 1, size - 1);
	return 0;
}
