/* sp_coding: content codings decoded with zlib, brotli and zstd. See
 * coding.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "secrets/coding.h"

#define ZSTD_WINDOW_LOG_MAX	23	/* 8 MiB */

struct sp_coding {
	enum sp_coding_kind kind;
	uint8_t *in;		/* compressed bytes waiting */
	size_t nin, cap;
	int started;		/* the first bytes were looked at */
	int ended;		/* the coded stream ended */
	z_stream z;
	int z_init;
	BrotliDecoderState *br;
	ZSTD_DCtx *zs;
	int zs_mid;		/* inside a zstd frame */
};

static const struct {
	const char *name;
	enum sp_coding_kind kind;
} names[] = {
	{ "gzip", SP_CODING_GZIP },
	{ "x-gzip", SP_CODING_GZIP },
	{ "deflate", SP_CODING_DEFLATE },
	{ "br", SP_CODING_BR },
	{ "zstd", SP_CODING_ZSTD },
	{ "identity", SP_CODING_IDENTITY },
};

int
sp_coding_parse(const char *v, size_t n, enum sp_coding_kind *ret_kind,
    char *what, size_t whatsz)
{
	enum sp_coding_kind found = SP_CODING_IDENTITY, k;
	size_t i = 0, s, e, j, len;
	int known;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == n)
			break;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		len = e - s;
		known = 0;
		k = SP_CODING_IDENTITY;
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if (strlen(names[j].name) == len &&
			    strncasecmp(names[j].name, v + s, len) == 0) {
				known = 1;
				k = names[j].kind;
				break;
			}
		if (!known || (k != SP_CODING_IDENTITY &&
		    found != SP_CODING_IDENTITY)) {
			if (whatsz > 0) {
				if (len >= whatsz)
					len = whatsz - 1;
				memcpy(what, v + s, len);
				what[len] = '\0';
			}
			return -ENOTSUP;
		}
		if (k != SP_CODING_IDENTITY)
			found = k;
	}
	*ret_kind = found;
	return 0;
}

const char *
sp_coding_name(enum sp_coding_kind kind)
{
	switch (kind) {
	case SP_CODING_GZIP: return "gzip";
	case SP_CODING_DEFLATE: return "deflate";
	case SP_CODING_BR: return "br";
	case SP_CODING_ZSTD: return "zstd";
	default: return "identity";
	}
}

int
sp_coding_new(enum sp_coding_kind kind, struct sp_coding **ret)
{
	struct sp_coding *c;

	if (kind != SP_CODING_GZIP && kind != SP_CODING_DEFLATE &&
	    kind != SP_CODING_BR && kind != SP_CODING_ZSTD)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->kind = kind;
	if (kind == SP_CODING_BR) {
		c->br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
		if (c->br == NULL)
			goto fail;
	} else if (kind == SP_CODING_ZSTD) {
		c->zs = ZSTD_createDCtx();
		if (c->zs == NULL || ZSTD_isError(ZSTD_DCtx_setParameter(c->zs,
		    ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX)))
			goto fail;
	}
	*ret = c;
	return 0;
fail:
	sp_coding_free(c);
	return -ENOMEM;
}

void
sp_coding_free(struct sp_coding *c)
{
	if (c == NULL)
		return;
	if (c->z_init)
		inflateEnd(&c->z);
	if (c->br != NULL)
		BrotliDecoderDestroyInstance(c->br);
	if (c->zs != NULL)
		ZSTD_freeDCtx(c->zs);
	if (c->in != NULL) {
		explicit_bzero(c->in, c->cap);
		free(c->in);
	}
	free(c);
}

int
sp_coding_put(struct sp_coding *c, const void *p, size_t n)
{
	uint8_t *nb;
	size_t cap;

	if (n == 0)
		return 0;
	if (c->nin + n > SP_CODING_PENDING_MAX)
		return -ENOBUFS;
	if (c->nin + n > c->cap) {
		cap = c->cap ? c->cap : 4096;
		while (cap < c->nin + n)
			cap *= 2;
		nb = malloc(cap);
		if (nb == NULL)
			return -ENOMEM;
		if (c->nin > 0)
			memcpy(nb, c->in, c->nin);
		if (c->in != NULL) {
			explicit_bzero(c->in, c->cap);
			free(c->in);
		}
		c->in = nb;
		c->cap = cap;
	}
	memcpy(c->in + c->nin, p, n);
	c->nin += n;
	return 0;
}

size_t
sp_coding_pending(const struct sp_coding *c)
{
	return c->nin;
}

int
sp_coding_done(const struct sp_coding *c)
{
	return c->ended && c->nin == 0;
}

static void
consume(struct sp_coding *c, size_t used)
{
	if (used == 0)
		return;		/* also when nothing was ever put */
	memmove(c->in, c->in + used, c->nin - used);
	explicit_bzero(c->in + c->nin - used, used);
	c->nin -= used;
}

/* zlib (gzip and deflate). The zlib wrapper is told from raw deflate
 * by its header check, as browsers do. */
static int
get_zlib(struct sp_coding *c, uint8_t *out, size_t cap, size_t *ret_made)
{
	size_t before;
	int bits, zr;

	if (!c->z_init) {
		if (c->kind == SP_CODING_GZIP) {
			bits = 15 + 16;
		} else {
			if (c->nin < 2)
				return 0;	/* cannot tell yet */
			bits = ((c->in[0] & 0x0f) == 8 &&
			    ((unsigned)c->in[0] << 8 | c->in[1]) % 31 == 0) ?
			    15 : -15;
		}
		memset(&c->z, 0, sizeof(c->z));
		if (inflateInit2(&c->z, bits) != Z_OK)
			return -ENOMEM;
		c->z_init = 1;
	}
	if (c->ended) {
		/* gzip: another member may follow; anything else is not */
		if (c->nin == 0)
			return 1;
		if (c->kind != SP_CODING_GZIP || c->in[0] != 0x1f)
			return -EPROTO;
		if (c->nin < 2)
			return 0;	/* the second magic byte is to come */
		if (c->in[1] != 0x8b || inflateReset(&c->z) != Z_OK)
			return -EPROTO;
		c->ended = 0;
	}
	c->z.next_in = c->in;
	c->z.avail_in = (uInt)c->nin;
	c->z.next_out = out;
	c->z.avail_out = (uInt)cap;
	before = c->nin;
	zr = inflate(&c->z, Z_NO_FLUSH);
	*ret_made = cap - c->z.avail_out;
	consume(c, before - c->z.avail_in);
	if (zr == Z_STREAM_END) {
		c->ended = 1;
		return c->nin == 0 ? 1 : 0;
	}
	if (zr == Z_OK || zr == Z_BUF_ERROR)
		return 0;
	return zr == Z_MEM_ERROR ? -ENOMEM : -EPROTO;
}

static int
get_br(struct sp_coding *c, uint8_t *out, size_t cap, size_t *ret_made)
{
	const uint8_t *nin = c->in;
	uint8_t *nout = out;
	size_t ain = c->nin, aout = cap;
	BrotliDecoderResult br;

	if (c->ended)
		return c->nin == 0 ? 1 : -EPROTO;
	br = BrotliDecoderDecompressStream(c->br, &ain, &nin, &aout, &nout,
	    NULL);
	*ret_made = cap - aout;
	consume(c, c->nin - ain);
	switch (br) {
	case BROTLI_DECODER_RESULT_SUCCESS:
		c->ended = 1;
		return c->nin == 0 ? 1 : -EPROTO;
	case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
	case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
		return 0;
	default:
		return -EPROTO;
	}
}

static int
get_zstd(struct sp_coding *c, uint8_t *out, size_t cap, size_t *ret_made)
{
	ZSTD_inBuffer ib = { c->in, c->nin, 0 };
	ZSTD_outBuffer ob = { out, cap, 0 };
	size_t zr;

	if (c->nin == 0 && !c->zs_mid) {
		*ret_made = 0;
		return c->ended ? 1 : 0;
	}
	zr = ZSTD_decompressStream(c->zs, &ob, &ib);
	*ret_made = ob.pos;
	consume(c, ib.pos);
	if (ZSTD_isError(zr))
		return ZSTD_getErrorCode(zr) == ZSTD_error_memory_allocation ?
		    -ENOMEM : -EPROTO;
	/* 0: a frame ended and everything was flushed; another may follow */
	c->zs_mid = zr != 0;
	c->ended = zr == 0;
	return c->ended && c->nin == 0 ? 1 : 0;
}

static int
get_once(struct sp_coding *c, uint8_t *out, size_t cap, size_t *ret_made)
{
	switch (c->kind) {
	case SP_CODING_GZIP:
	case SP_CODING_DEFLATE:
		return get_zlib(c, out, cap, ret_made);
	case SP_CODING_BR:
		return get_br(c, out, cap, ret_made);
	case SP_CODING_ZSTD:
		return get_zstd(c, out, cap, ret_made);
	default:
		return -EINVAL;
	}
}

int
sp_coding_get(struct sp_coding *c, uint8_t *out, size_t cap,
    size_t *ret_made)
{
	size_t before;
	int r;

	*ret_made = 0;
	if (cap == 0)
		return 0;
	/* a step may make nothing yet use input (the end of a gzip member,
	 * a zstd skippable frame): go on while input goes, so that "nothing
	 * made" means "give me more" */
	do {
		before = c->nin;
		r = get_once(c, out, cap, ret_made);
	} while (r == 0 && *ret_made == 0 && c->nin < before);
	return r;
}
