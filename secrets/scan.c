/* sp_scan: streaming placeholder detector, see scan.h.
 *
 * Layout. Each input byte goes to three decoders that keep at most a few
 * bytes of state: plain (the byte itself), percent and json. Each of
 * their output streams goes to a matcher and to a base64 group; a group
 * runs four base64 decoders, one per character offset modulo 4 at which
 * the encoded string may start inside the current run of base64
 * characters, and each of those feeds a matcher of its own. That makes 15
 * matchers, each a small state machine: how much of the prefix it has
 * seen (KMP over "SANDGATE_SECRET_"), then the hex digits collected so
 * far. A decoder signals "the decoded stream is interrupted here" by
 * emitting a NUL byte, which no placeholder holds.
 *
 * Nothing depends on where the feeds are cut: every step consumes one byte
 * and the state it leaves is the same whether the next byte comes in the
 * same feed or the next one. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "secrets/scan.h"

#define HEX_DIGITS (SP_SCAN_LEN - SP_SCAN_PREFIX_LEN)   /* 32 */
#define VAL_LEN    (HEX_DIGITS / 2)                     /* 16 */

static const char prefix[SP_SCAN_PREFIX_LEN + 1] = SP_SCAN_PREFIX;
/* KMP failure function of the prefix: after a mismatch with j bytes
 * matched, j bytes become fail[j - 1] ("SANDGATE_S" falls back to "S"). */
static const uint8_t fail[SP_SCAN_PREFIX_LEN] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0
};

struct matcher {
	uint8_t pre;              /* prefix bytes matched, 0..16 */
	uint8_t nhex;             /* hex digits collected after it */
	uint8_t val[VAL_LEN];
};

struct b64 {
	uint32_t acc;
	uint8_t cnt;              /* characters of the current quartet */
	uint8_t skip;             /* characters still to skip in this run */
};

struct b64group {
	struct b64 d[4];
	struct matcher m[4];
	uint8_t inrun;            /* the last byte was a base64 character */
	uint8_t enc;
};

struct sp_scan {
	size_t n;
	uint8_t ph[SP_SCAN_MAX][VAL_LEN];

	struct matcher m_plain, m_pct, m_json;
	struct b64group g_plain, g_pct, g_json;
	uint8_t pct_state;        /* 0, 1 after '%', 2 after '%' and a digit */
	uint8_t pct_hi;
	uint8_t json_state;       /* 0, 1 after '\', 2..5 after "\u" + digits */
	uint16_t json_code;
	/* The percent (json) view is "in sync" while it has decoded nothing
	 * and stands in the same state as the plain view; it is then not
	 * stepped at all, see sp_scan_feed. */
	uint8_t pct_sync, json_sync;

	uint64_t matched;
	int have_match;
	size_t match_index;
	unsigned match_enc;
	int have_foreign;
	unsigned foreign_enc;
};

/* Base64 character value for both alphabets, -1 for others. */
static const int8_t b64val[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26,
	['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31,
	['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41,
	['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46,
	['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51,
	['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61,
	['9'] = 62, ['+'] = 63, ['-'] = 63, ['/'] = 64, ['_'] = 64,
};	/* stored plus one so that the zero default means "not base64" */

static void
note_foreign(struct sp_scan *s, unsigned enc)
{
	if (!s->have_foreign) {
		s->have_foreign = 1;
		s->foreign_enc = enc;
	}
}

static void
note_value(struct sp_scan *s, const uint8_t *val, unsigned enc)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (memcmp(s->ph[i], val, VAL_LEN) != 0)
			continue;
		s->matched |= (uint64_t)1 << i;
		if (!s->have_match) {
			s->have_match = 1;
			s->match_index = i;
			s->match_enc = enc;
		}
		return;
	}
	note_foreign(s, enc);
}

/* One byte of a decoded stream into its matcher. */
static inline void
match_step(struct sp_scan *s, struct matcher *m, unsigned enc, uint8_t c)
{
	if (m->pre == 0 && c != (uint8_t)prefix[0])
		return;                 /* the common case */
	if (m->pre == SP_SCAN_PREFIX_LEN) {
		/* only lowercase hex continues a placeholder */
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
			unsigned v = (unsigned)sg_hexval(c);

			if (m->nhex % 2 == 0)
				m->val[m->nhex / 2] = (uint8_t)(v << 4);
			else
				m->val[m->nhex / 2] |= (uint8_t)v;
			if (++m->nhex < HEX_DIGITS)
				return;
			note_value(s, m->val, enc);
			m->pre = 0;
			return;
		}
		/* cut short: foreign; c may start the next prefix */
		note_foreign(s, enc);
		m->pre = 0;
	}
	while (m->pre > 0 && c != (uint8_t)prefix[m->pre])
		m->pre = fail[m->pre - 1];
	if (c == (uint8_t)prefix[m->pre])
		m->pre++;
	if (m->pre == SP_SCAN_PREFIX_LEN)
		m->nhex = 0;
}

static void
match_break(struct sp_scan *s, struct matcher *m, unsigned enc)
{
	if (m->pre == SP_SCAN_PREFIX_LEN)
		note_foreign(s, enc);
	m->pre = 0;
}

static void
b64_reset(struct sp_scan *s, struct b64group *g)
{
	unsigned k;

	for (k = 0; k < 4; k++) {
		g->d[k].acc = 0;
		g->d[k].cnt = 0;
		g->d[k].skip = (uint8_t)k;
		match_break(s, &g->m[k], g->enc);
	}
	g->inrun = 0;
}

/* One byte of a stream into its base64 group. */
static void
b64_step(struct sp_scan *s, struct b64group *g, uint8_t c)
{
	int v = b64val[c] - 1;
	unsigned k;

	if (v < 0) {
		if (c == '\r' || c == '\n')
			return;         /* line breaks inside base64 */
		if (g->inrun)
			b64_reset(s, g);
		return;
	}
	g->inrun = 1;
	for (k = 0; k < 4; k++) {
		struct b64 *d = &g->d[k];

		if (d->skip > 0) {
			d->skip--;
			continue;
		}
		d->acc = d->acc << 6 | (uint32_t)v;
		d->cnt++;
		if (d->cnt == 2)
			match_step(s, &g->m[k], g->enc,
			    (uint8_t)(d->acc >> 4));
		else if (d->cnt == 3)
			match_step(s, &g->m[k], g->enc,
			    (uint8_t)(d->acc >> 2));
		else if (d->cnt == 4) {
			match_step(s, &g->m[k], g->enc, (uint8_t)d->acc);
			d->cnt = 0;
			d->acc = 0;
		}
	}
}

/* A byte of the percent or json view: to its matcher and base64 group. */
static void
emit_pct(struct sp_scan *s, uint8_t c)
{
	match_step(s, &s->m_pct, SP_SCAN_ENC_PERCENT, c);
	b64_step(s, &s->g_pct, c);
}

static void
emit_json(struct sp_scan *s, uint8_t c)
{
	match_step(s, &s->m_json, SP_SCAN_ENC_JSON, c);
	b64_step(s, &s->g_json, c);
}

static void
pct_step(struct sp_scan *s, uint8_t c)
{
	int v;

	switch (s->pct_state) {
	case 1:
		v = sg_hexval(c);
		if (v >= 0) {
			s->pct_hi = (uint8_t)v;
			s->pct_state = 2;
			return;
		}
		break;
	case 2:
		v = sg_hexval(c);
		if (v >= 0) {
			s->pct_state = 0;
			emit_pct(s, (uint8_t)(s->pct_hi << 4 | v));
			return;
		}
		break;
	default:
		if (c == '%')
			s->pct_state = 1;
		else
			emit_pct(s, c);
		return;
	}
	/* a '%' that starts no escape is a literal '%', which no placeholder
	 * holds; c is read afresh */
	s->pct_state = 0;
	emit_pct(s, 0);
	pct_step(s, c);
}

static void
json_step(struct sp_scan *s, uint8_t c)
{
	int v;

	switch (s->json_state) {
	case 0:
		if (c == '\\')
			s->json_state = 1;
		else
			emit_json(s, c);
		return;
	case 1:
		s->json_state = 0;
		switch (c) {
		case 'u':
			s->json_state = 2;
			s->json_code = 0;
			return;
		case 'b': emit_json(s, '\b'); return;
		case 'f': emit_json(s, '\f'); return;
		case 'n': emit_json(s, '\n'); return;
		case 'r': emit_json(s, '\r'); return;
		case 't': emit_json(s, '\t'); return;
		default:
			/* \/ \" \\ and, as in JavaScript, any other byte */
			emit_json(s, c);
			return;
		}
	default:
		v = sg_hexval(c);
		if (v < 0) {
			/* "\u" cut short: not a string a decoder takes */
			s->json_state = 0;
			emit_json(s, 0);
			json_step(s, c);
			return;
		}
		s->json_code = (uint16_t)(s->json_code << 4 | v);
		if (++s->json_state < 6)
			return;
		s->json_state = 0;
		/* past ASCII nothing can be part of a placeholder */
		emit_json(s, s->json_code < 0x80 ? (uint8_t)s->json_code : 0);
		return;
	}
}

/* Is a view at rest: no prefix begun, no base64 run going? Two views at
 * rest are in the same state, whatever bytes led there. */
static int
at_rest(const struct matcher *m, const struct b64group *g)
{
	return m->pre == 0 && !g->inrun && g->m[0].pre == 0 &&
	    g->m[1].pre == 0 && g->m[2].pre == 0 && g->m[3].pre == 0;
}

/* While a decoding view is in sync with the plain view, a byte that is
 * not an escape would take it exactly where it takes the plain view, and
 * anything it found the plain view has found first (the plain view steps
 * first and only the first finding of each kind is kept): so it is left
 * alone. An escape byte starts it from a copy of the plain view's state;
 * it is back in sync when both are at rest with no escape pending. */
int
sp_scan_feed(struct sp_scan *s, const void *vp, size_t len)
{
	const uint8_t *p = vp;
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (s->pct_sync && c == '%') {
			s->m_pct = s->m_plain;
			memcpy(s->g_pct.d, s->g_plain.d, sizeof(s->g_pct.d));
			memcpy(s->g_pct.m, s->g_plain.m, sizeof(s->g_pct.m));
			s->g_pct.inrun = s->g_plain.inrun;
			s->pct_sync = 0;
		}
		if (s->json_sync && c == '\\') {
			s->m_json = s->m_plain;
			memcpy(s->g_json.d, s->g_plain.d, sizeof(s->g_json.d));
			memcpy(s->g_json.m, s->g_plain.m, sizeof(s->g_json.m));
			s->g_json.inrun = s->g_plain.inrun;
			s->json_sync = 0;
		}
		match_step(s, &s->m_plain, SP_SCAN_ENC_PLAIN, c);
		b64_step(s, &s->g_plain, c);
		if (!s->pct_sync) {
			pct_step(s, c);
			if (s->pct_state == 0 && at_rest(&s->m_pct, &s->g_pct) &&
			    at_rest(&s->m_plain, &s->g_plain))
				s->pct_sync = 1;
		}
		if (!s->json_sync) {
			json_step(s, c);
			if (s->json_state == 0 &&
			    at_rest(&s->m_json, &s->g_json) &&
			    at_rest(&s->m_plain, &s->g_plain))
				s->json_sync = 1;
		}
	}
	return sp_scan_result(s, NULL, NULL);
}

void
sp_scan_break(struct sp_scan *s)
{
	match_break(s, &s->m_plain, SP_SCAN_ENC_PLAIN);
	match_break(s, &s->m_pct, SP_SCAN_ENC_PERCENT);
	match_break(s, &s->m_json, SP_SCAN_ENC_JSON);
	b64_reset(s, &s->g_plain);
	b64_reset(s, &s->g_pct);
	b64_reset(s, &s->g_json);
	s->pct_state = 0;
	s->json_state = 0;
	s->json_code = 0;
	/* all views are at rest now */
	s->pct_sync = 1;
	s->json_sync = 1;
}

void
sp_scan_reset(struct sp_scan *s)
{
	struct matcher zero = { 0 };

	s->m_plain = zero;
	s->m_pct = zero;
	s->m_json = zero;
	sp_scan_break(s);
	s->matched = 0;
	s->have_match = 0;
	s->match_index = 0;
	s->match_enc = 0;
	s->have_foreign = 0;
	s->foreign_enc = 0;
}

static int
valid_placeholder(const char *p, uint8_t *ret_val)
{
	size_t i;

	if (p == NULL || strlen(p) != SP_SCAN_LEN ||
	    memcmp(p, prefix, SP_SCAN_PREFIX_LEN) != 0)
		return 0;
	memset(ret_val, 0, VAL_LEN);
	for (i = 0; i < HEX_DIGITS; i++) {
		uint8_t c = (uint8_t)p[SP_SCAN_PREFIX_LEN + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
		ret_val[i / 2] |= (uint8_t)(sg_hexval(c) << (i % 2 ? 0 : 4));
	}
	return 1;
}

int
sp_scan_new(const char *const *placeholders, size_t n,
    struct sp_scan **ret_s)
{
	struct sp_scan *s = NULL;
	size_t i;
	int r;

	if (n > SP_SCAN_MAX || (n > 0 && placeholders == NULL))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!valid_placeholder(placeholders[i], s->ph[i])) {
			r = -EINVAL;
			goto fail;
		}
	}
	s->n = n;
	s->g_plain.enc = SP_SCAN_ENC_BASE64;
	s->g_pct.enc = SP_SCAN_ENC_PERCENT | SP_SCAN_ENC_BASE64;
	s->g_json.enc = SP_SCAN_ENC_JSON | SP_SCAN_ENC_BASE64;
	sp_scan_reset(s);
	*ret_s = s;
	return 0;
fail:
	sp_scan_free(s);
	return r;
}

void
sp_scan_free(struct sp_scan *s)
{
	free(s);
}

/* Is a prefix still waiting for its digits? Gives the view of the first
 * such matcher, in feed order, in *ret_enc. */
static int
pending(const struct sp_scan *s, unsigned *ret_enc)
{
	const struct b64group *groups[3] = { &s->g_plain, &s->g_pct,
		&s->g_json };
	unsigned g, k;

	if (s->m_plain.pre == SP_SCAN_PREFIX_LEN) {
		*ret_enc = SP_SCAN_ENC_PLAIN;
		return 1;
	}
	if (s->m_pct.pre == SP_SCAN_PREFIX_LEN) {
		*ret_enc = SP_SCAN_ENC_PERCENT;
		return 1;
	}
	if (s->m_json.pre == SP_SCAN_PREFIX_LEN) {
		*ret_enc = SP_SCAN_ENC_JSON;
		return 1;
	}
	for (g = 0; g < 3; g++) {
		for (k = 0; k < 4; k++) {
			if (groups[g]->m[k].pre == SP_SCAN_PREFIX_LEN) {
				*ret_enc = groups[g]->enc;
				return 1;
			}
		}
	}
	return 0;
}

int
sp_scan_result(const struct sp_scan *s, size_t *ret_index,
    unsigned *ret_encoding)
{
	unsigned enc;

	if (s->have_match) {
		if (ret_index != NULL)
			*ret_index = s->match_index;
		if (ret_encoding != NULL)
			*ret_encoding = s->match_enc;
		return SP_SCAN_MATCH;
	}
	if (s->have_foreign)
		enc = s->foreign_enc;
	else if (!pending(s, &enc))
		return SP_SCAN_CLEAN;
	if (ret_index != NULL)
		*ret_index = SP_SCAN_NO_INDEX;
	if (ret_encoding != NULL)
		*ret_encoding = enc;
	return SP_SCAN_FOREIGN;
}

uint64_t sp_scan_matched(const struct sp_scan *s) { return s->matched; }

int
sp_scan_foreign(const struct sp_scan *s)
{
	unsigned enc;

	return s->have_foreign || pending(s, &enc);
}

int
sp_scan_foreign_seen(const struct sp_scan *s)
{
	return s->have_foreign;
}

const char *
sp_scan_encoding_name(unsigned encoding)
{
	switch (encoding) {
	case SP_SCAN_ENC_PLAIN:
		return "plain";
	case SP_SCAN_ENC_PERCENT:
		return "percent";
	case SP_SCAN_ENC_JSON:
		return "json";
	case SP_SCAN_ENC_BASE64:
		return "base64";
	case SP_SCAN_ENC_PERCENT | SP_SCAN_ENC_BASE64:
		return "percent+base64";
	case SP_SCAN_ENC_JSON | SP_SCAN_ENC_BASE64:
		return "json+base64";
	default:
		return "unknown";
	}
}
