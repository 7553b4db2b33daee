/* sp_redact: secret values out of upstream bytes. See redact.h.
 *
 * How: every form of every value (the raw bytes, and the base64
 * characters that carry it at each alignment and in each alphabet) is a
 * string in one Aho-Corasick automaton, built once per set. Each view
 * decodes the raw stream on the fly (percent, JSON, HTML escapes) into
 * decoded bytes that remember the raw range they came from, and runs the
 * automaton over them. A match becomes a span of raw offsets to replace;
 * spans of all views are merged. Bytes are emitted as soon as no view
 * can still start a match before them: the automaton's depth says how
 * long the current partial match is, and a decoder in the middle of an
 * escape says where the escape began. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/text.h"
#include "secrets/acmatch.h"
#include "secrets/redact.h"

#define PH_MAX		256		/* longest placeholder */
#define SPANS_MAX	4096		/* spans held at once */
#define CRLF_RUN	2		/* CR/LF skipped in a row, at most */
#define CRLF_RAW	3		/* raw bytes of a CR/LF skipped, at most */
/* raw bytes behind one decoded byte, at most: an HTML reference of 12
 * bytes, and two CR/LF skipped before it */
#define RAW_PER_BYTE	(12 + CRLF_RUN * CRLF_RAW)

enum pat_kind { PAT_RAW, PAT_B64 };

/* One string of the automaton: a form of a value. */
struct pat {
	uint16_t value;		/* index in the set */
	uint8_t kind;		/* enum pat_kind */
	uint8_t align;		/* PAT_B64: the value's byte offset mod 3 */
	uint8_t url;		/* PAT_B64: the URL-safe alphabet */
	uint8_t lead, trail;	/* PAT_B64: a partial character before, after */
	uint32_t len;
};

struct sp_redact_set {
	unsigned refs;
	size_t nvalues;
	char *ph[SP_REDACT_MAX];	/* placeholders */
	size_t ph_len[SP_REDACT_MAX];
	size_t value_len[SP_REDACT_MAX];
	struct pat *pats;	/* by the automaton's ids */
	size_t npats;
	struct sp_ac *ac;
	size_t maxlen;		/* longest pattern */
	int form;		/* a value holds a space: the form view runs */
};

enum view_kind { V_PLAIN, V_PCT, V_FORM, V_JSON, V_HTML, V_COUNT };

/* One view: a decoder and the automaton's position over its output. */
struct view {
	uint8_t kind;
	uint8_t synced;		/* the same as the plain view: not run */
	uint8_t st;		/* decoder state; 0: between escapes */
	uint8_t ntok;
	uint8_t crlf;		/* CR/LF skipped in a row */
	uint8_t tok[12];	/* the escape read so far (after its lead byte) */
	uint64_t tok_start;	/* raw offset of the escape's first byte */
	uint32_t cp;		/* \u: code point being read */
	uint32_t hi;		/* \u: a high surrogate waiting, or 0 */
	uint64_t hi_start;
	uint32_t node;
	uint64_t n;		/* decoded bytes seen */
	uint64_t *rstart;	/* ring: raw start of decoded byte i */
	uint8_t *rbyte;		/* ring: decoded byte i */
	uint32_t trail;		/* id of the span waiting for its trailing
				 * character */
	int has_trail;
};

struct span {
	uint64_t start, end;	/* raw offsets, end exclusive */
	uint32_t id;
	uint32_t pat;
	uint8_t lead_bits;	/* foreign bits of the leading character */
};

struct sp_redact {
	struct sp_redact_set *set;
	const uint32_t *root;	/* the automaton's root transitions */
	struct view v[V_COUNT];
	size_t nviews;
	size_t ring;		/* power of two */
	uint64_t *ring_mem;
	uint8_t *ring_bytes;
	uint8_t *hold;		/* raw bytes from emitted to pos */
	size_t hold_cap, hold_max;
	uint64_t emitted;	/* raw offset of hold[0] */
	uint64_t pos;		/* raw bytes looked at */
	uint64_t fill;		/* raw bytes in hold: fed, pos or more */
	uint64_t drop_end;	/* bytes before it that a span covers: dropped */
	struct span *spans;
	size_t nspans, spans_cap;
	uint32_t next_id;
	uint64_t found;
	int failed;
};

/* --- base64 helpers --- */

/* Whether c is a base64 character of either alphabet: the characters
 * next to a form (which carry a few of its bits) are taken whichever
 * alphabet the form's pattern was kept for (the two are one pattern
 * when the form has neither 62 nor 63). */
static int
b64_any(uint8_t c)
{
	return sg_b64_value(c, SG_B64_STD | SG_B64_URL) >= 0;
}

static int
b64_val(uint8_t c)
{
	return sg_b64_value(c, SG_B64_STD | SG_B64_URL);
}

/* b64url of p[0..n) without padding, into out (SG_B64URL_LEN(n) + 1),
 * turned into the standard alphabet unless url. */
static int
b64_text(const uint8_t *p, size_t n, int url, char *out, size_t outsz)
{
	size_t i;

	if (sg_b64url_encode(p, n, out, outsz) < 0)
		return -ENOBUFS;
	if (!url)
		for (i = 0; out[i] != '\0'; i++) {
			if (out[i] == '-')
				out[i] = '+';
			else if (out[i] == '_')
				out[i] = '/';
		}
	return 0;
}

/* --- the set: every form of every value in one automaton --- */

/* Adds one form of a value; an exact duplicate of one added before is
 * skipped: the first value with that form wins. */
static int
b_add(struct sp_redact_set *s, struct sp_ac_build *b, const char *str,
    size_t len, const struct pat *p)
{
	struct pat *np;
	int r;

	np = reallocarray(s->pats, s->npats + 1, sizeof(*np));
	if (np == NULL)
		return -ENOMEM;
	s->pats = np;
	r = sp_ac_build_add(b, str, len, (uint32_t)s->npats);
	if (r != 0)
		return r < 0 ? r : 0;
	s->pats[s->npats] = *p;
	s->pats[s->npats].len = (uint32_t)len;
	s->npats++;
	return 0;
}

/* The base64 forms of value v: the characters that carry only bits of
 * v, at each alignment a, in both alphabets. */
static int
b_add_b64(struct sp_redact_set *s, struct sp_ac_build *bd, const char *v,
    size_t len, uint16_t idx)
{
	uint8_t *buf;
	char *txt;
	size_t tlen = SG_B64URL_LEN(len + 4) + 1, first, last;
	struct pat p;
	unsigned a;
	int url, r = 0;

	buf = calloc(1, len + 4);
	txt = malloc(tlen);
	if (buf == NULL || txt == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (a = 0; a < 3 && r == 0; a++) {
		memset(buf, 0, len + 4);
		memcpy(buf + a, v, len);
		first = (8 * a + 5) / 6;		/* ceil(8a / 6) */
		last = (8 * (a + len)) / 6;		/* one past */
		for (url = 0; url < 2 && r == 0; url++) {
			if ((r = b64_text(buf, a + len + 2, url, txt, tlen)) < 0)
				break;
			memset(&p, 0, sizeof(p));
			p.value = idx;
			p.kind = PAT_B64;
			p.align = (uint8_t)a;
			p.url = (uint8_t)url;
			p.lead = a != 0;
			p.trail = (a + len) % 3 != 0;
			r = b_add(s, bd, txt + first, last - first, &p);
		}
	}
out:
	if (buf != NULL) {
		explicit_bzero(buf, len + 4);
		free(buf);
	}
	if (txt != NULL) {
		explicit_bzero(txt, tlen);
		free(txt);
	}
	return r;
}

static void
set_free(struct sp_redact_set *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nvalues; i++) {
		if (s->ph[i] != NULL)
			free(s->ph[i]);
	}
	sp_ac_free(s->ac);	/* it spells out the values: wiped */
	free(s->pats);
	free(s);
}

int
sp_redact_set_new(const struct sp_redact_value *v, size_t n,
    struct sp_redact_set **ret)
{
	struct sp_redact_set *s;
	struct sp_ac_build *bd = NULL;
	struct pat p;
	size_t i;
	int r;

	if (n > SP_REDACT_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!sg_secret_value_ok(v[i].value, v[i].value_len, NULL) ||
		    v[i].placeholder_len == 0 || v[i].placeholder_len > PH_MAX)
			return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->refs = 1;
	if ((r = sp_ac_build_new(&bd)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		s->ph[i] = malloc(v[i].placeholder_len);
		if (s->ph[i] == NULL) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(s->ph[i], v[i].placeholder, v[i].placeholder_len);
		s->ph_len[i] = v[i].placeholder_len;
		s->value_len[i] = v[i].value_len;
		s->nvalues = i + 1;
		if (memchr(v[i].value, ' ', v[i].value_len) != NULL)
			s->form = 1;
		memset(&p, 0, sizeof(p));
		p.value = (uint16_t)i;
		p.kind = PAT_RAW;
		if ((r = b_add(s, bd, v[i].value, v[i].value_len, &p)) < 0 ||
		    (r = b_add_b64(s, bd, v[i].value, v[i].value_len,
		    (uint16_t)i)) < 0)
			goto out;
	}
	r = sp_ac_build_finish(bd, &s->ac);
	bd = NULL;
	if (r == 0)
		s->maxlen = sp_ac_max_len(s->ac);
out:
	sp_ac_build_free(bd);
	if (r < 0) {
		set_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct sp_redact_set *
sp_redact_set_ref(struct sp_redact_set *s)
{
	s->refs++;
	return s;
}

void
sp_redact_set_unref(struct sp_redact_set *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	set_free(s);
}

size_t
sp_redact_set_count(const struct sp_redact_set *s)
{
	return s->nvalues;
}

const char *
sp_redact_set_placeholder(const struct sp_redact_set *s, size_t i,
    size_t *ret_len)
{
	if (i >= s->nvalues)
		return NULL;
	*ret_len = s->ph_len[i];
	return s->ph[i];
}

/* --- streams --- */

const struct sp_redact_set *
sp_redact_stream_set(const struct sp_redact *r)
{
	return r->set;
}

int
sp_redact_new(struct sp_redact_set *set, struct sp_redact **ret)
{
	struct sp_redact *r;
	size_t i, k;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->set = sp_redact_set_ref(set);
	r->root = sp_ac_root(set->ac);
	r->ring = 16;
	while (r->ring < set->maxlen + 2)
		r->ring *= 2;
	r->nviews = 0;
	for (k = 0; k < V_COUNT; k++) {
		if (k == V_FORM && !set->form)
			continue;
		r->v[r->nviews++].kind = (uint8_t)k;
	}
	r->ring_mem = reallocarray(NULL, r->ring * r->nviews, sizeof(uint64_t));
	r->ring_bytes = malloc(r->ring * r->nviews);
	r->hold_max = RAW_PER_BYTE * (set->maxlen + 2) + 64;
	r->hold_cap = 256;
	r->hold = malloc(r->hold_cap);
	if (r->ring_mem == NULL || r->ring_bytes == NULL || r->hold == NULL) {
		sp_redact_free(r);
		return -ENOMEM;
	}
	for (i = 0; i < r->nviews; i++) {
		r->v[i].rstart = r->ring_mem + i * r->ring;
		r->v[i].rbyte = r->ring_bytes + i * r->ring;
	}
	sp_redact_reset(r);
	*ret = r;
	return 0;
}

void
sp_redact_free(struct sp_redact *r)
{
	if (r == NULL)
		return;
	if (r->hold != NULL) {
		explicit_bzero(r->hold, r->hold_cap);
		free(r->hold);
	}
	if (r->ring_bytes != NULL) {
		explicit_bzero(r->ring_bytes, r->ring * r->nviews);
		free(r->ring_bytes);
	}
	free(r->ring_mem);
	free(r->spans);
	sp_redact_set_unref(r->set);
	free(r);
}

void
sp_redact_reset(struct sp_redact *r)
{
	size_t i;
	struct view *v;

	for (i = 0; i < r->nviews; i++) {
		v = &r->v[i];
		v->st = 0;
		v->ntok = 0;
		v->crlf = 0;
		v->hi = 0;
		v->node = 0;
		v->n = 0;
		v->has_trail = 0;
		v->synced = v->kind != V_PLAIN;
		v->cp = 0;
		explicit_bzero(v->tok, sizeof(v->tok));
	}
	explicit_bzero(r->hold, (size_t)(r->fill - r->emitted));
	r->emitted = r->pos = r->fill = r->drop_end = 0;
	r->nspans = 0;
	r->next_id = 0;
	r->found = 0;
	r->failed = 0;
}

size_t
sp_redact_held(const struct sp_redact *r)
{
	return (size_t)(r->pos - r->emitted);
}

uint64_t
sp_redact_found(const struct sp_redact *r)
{
	return r->found;
}

static struct span *
span_by_id(struct sp_redact *r, uint32_t id)
{
	size_t i;

	for (i = 0; i < r->nspans; i++)
		if (r->spans[i].id == id)
			return &r->spans[i];
	return NULL;
}

static int
add_span(struct sp_redact *r, uint64_t start, uint64_t end, uint32_t pat,
    uint8_t lead_bits, uint32_t *ret_id)
{
	struct span *ns;
	size_t i, cap;

	if (start < r->emitted)
		start = r->emitted;	/* cannot happen: held back */
	for (i = 0; i < r->nspans; i++)
		if (r->spans[i].start == start && r->spans[i].end == end &&
		    r->spans[i].pat == pat) {
			*ret_id = r->spans[i].id;
			return 0;	/* found by another view too */
		}
	if (r->nspans == r->spans_cap) {
		if (r->spans_cap >= SPANS_MAX)
			return -ENOBUFS;
		cap = r->spans_cap ? r->spans_cap * 2 : 8;
		ns = reallocarray(r->spans, cap, sizeof(*ns));
		if (ns == NULL)
			return -ENOBUFS;
		r->spans = ns;
		r->spans_cap = cap;
	}
	r->spans[r->nspans].start = start;
	r->spans[r->nspans].end = end;
	r->spans[r->nspans].pat = pat;
	r->spans[r->nspans].lead_bits = lead_bits;
	r->spans[r->nspans].id = r->next_id;
	*ret_id = r->next_id++;
	r->nspans++;
	return 0;
}

/* The decoded byte b of view v came from raw [start, end). */
static int
view_byte(struct sp_redact *r, struct view *v, uint8_t b, uint64_t start,
    uint64_t end)
{
	const struct sp_redact_set *s = r->set;
	const struct pat *p;
	uint64_t i, mstart;
	uint32_t node, m;
	size_t mask = r->ring - 1;
	struct span *sp;
	uint32_t si;
	uint8_t lead_bits;
	int e;

	if ((b == '\r' || b == '\n') && v->crlf < CRLF_RUN &&
	    end - start <= CRLF_RAW) {
		v->crlf++;
		return 0;	/* a line break inside a value or base64 */
	}
	v->crlf = 0;
	if (v->has_trail) {
		/* the character after a base64 form carries bits of it */
		v->has_trail = 0;
		sp = span_by_id(r, v->trail);
		if (sp != NULL && b64_any(b) && sp->end <= start)
			sp->end = end;
	}
	v->rstart[v->n & mask] = start;
	v->rbyte[v->n & mask] = b;
	v->n++;
	node = v->node;
	if (node == 0 && r->root[b] == 0)
		return 0;	/* most bytes: nothing starts here */
	v->node = sp_ac_step_match(s->ac, node, b, &m);
	for (; m != SP_AC_NONE; m = sp_ac_match_next(s->ac, m)) {
		p = &s->pats[sp_ac_match_id(s->ac, m)];
		i = v->n - p->len;	/* the match's first decoded byte */
		mstart = v->rstart[i & mask];
		lead_bits = 0;
		if (p->kind == PAT_B64 && p->lead && i > 0 &&
		    b64_any(v->rbyte[(i - 1) & mask])) {
			e = b64_val(v->rbyte[(i - 1) & mask]);
			mstart = v->rstart[(i - 1) & mask];
			/* alignment 1: 2 bits of the byte before; 2: 4 bits */
			lead_bits = (uint8_t)(e >> (p->align == 1 ? 4 : 2));
		}
		if (add_span(r, mstart, end, sp_ac_match_id(s->ac, m), lead_bits,
		    &si) < 0)
			return -ENOBUFS;
		r->found |= UINT64_C(1) << p->value;
		if (p->kind == PAT_B64 && p->trail) {
			v->has_trail = 1;
			v->trail = si;
		}
	}
	return 0;
}

/* Code point cp as UTF-8 decoded bytes, all from raw [start, end). */
static int
view_cp(struct sp_redact *r, struct view *v, uint32_t cp, uint64_t start,
    uint64_t end)
{
	uint8_t u[4];
	size_t n, i;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	for (i = 0; i < n; i++)
		if (view_byte(r, v, u[i], start, end) < 0)
			return -ENOBUFS;
	return 0;
}

/* The escape read so far was not one: its bytes count as themselves. */
static int
view_literal(struct sp_redact *r, struct view *v, uint8_t lead)
{
	uint64_t o = v->tok_start;
	uint8_t i;

	v->st = 0;
	if (view_byte(r, v, lead, o, o + 1) < 0)
		return -ENOBUFS;
	for (i = 0; i < v->ntok; i++)
		if (view_byte(r, v, v->tok[i], o + 1 + i, o + 2 + i) < 0)
			return -ENOBUFS;
	v->ntok = 0;
	return 0;
}

/* A high surrogate that no low one follows is U+FFFD, as a JSON
 * decoder makes it: a decoded character, not nothing. */
static int
json_lone(struct sp_redact *r, struct view *v)
{
	if (v->hi == 0)
		return 0;
	v->hi = 0;
	return view_cp(r, v, 0xfffd, v->hi_start, v->hi_start + 6);
}

static int
json_escape(struct sp_redact *r, struct view *v, uint8_t c, uint64_t o)
{
	static const char from[] = "bfnrt";
	static const char to[] = "\b\f\n\r\t";
	const char *e;

	v->st = 0;
	if (c == 'u') {
		v->st = 2;
		v->cp = 0;
		v->ntok = 0;
		return 0;
	}
	if (json_lone(r, v) < 0)
		return -ENOBUFS;
	e = c != '\0' ? strchr(from, c) : NULL;
	return view_byte(r, v, e != NULL ? (uint8_t)to[e - from] : c,
	    v->tok_start, o + 1);
}

static int
json_cp_done(struct sp_redact *r, struct view *v, uint64_t o)
{
	uint32_t cp = v->cp;

	v->st = 0;
	v->ntok = 0;
	if (cp >= 0xdc00 && cp <= 0xdfff && v->hi != 0) {
		cp = 0x10000 + ((v->hi - 0xd800) << 10) + (cp - 0xdc00);
		v->hi = 0;
		return view_cp(r, v, cp, v->hi_start, o + 1);
	}
	if (json_lone(r, v) < 0)
		return -ENOBUFS;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		v->hi = cp;	/* wait for the low half */
		v->hi_start = v->tok_start;
		return 0;
	}
	if (cp >= 0xdc00 && cp <= 0xdfff)
		cp = 0xfffd;	/* a lone low surrogate */
	return view_cp(r, v, cp, v->tok_start, o + 1);
}

/* An HTML character reference, "&" tok ";", or -1. */
static int32_t
html_ref(const uint8_t *t, size_t n)
{
	static const struct {
		const char *name;
		int32_t cp;
	} named[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
		{ "apos", '\'' },
	};
	uint32_t cp = 0;
	size_t i, k;
	int h;

	/* n is at most 10: no overflow below */
	if (n >= 2 && t[0] == '#' && (t[1] == 'x' || t[1] == 'X')) {
		if (n == 2)
			return -1;
		for (i = 2; i < n; i++) {
			if ((h = sg_hexval(t[i])) < 0)
				return -1;
			cp = cp << 4 | (uint32_t)h;
		}
	} else if (n >= 1 && t[0] == '#') {
		if (n == 1)
			return -1;
		for (i = 1; i < n; i++) {
			if (t[i] < '0' || t[i] > '9')
				return -1;
			cp = cp * 10 + (uint32_t)(t[i] - '0');
		}
	} else {
		for (k = 0; k < sizeof(named) / sizeof(named[0]); k++)
			if (strlen(named[k].name) == n &&
			    memcmp(named[k].name, t, n) == 0)
				return named[k].cp;
		return -1;
	}
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	return (int32_t)cp;
}

/* One raw byte at offset o through view v's decoder. */
static int
view_feed(struct sp_redact *r, struct view *v, uint8_t c, uint64_t o)
{
	int h, again;
	int32_t cp;

	do {
		again = 0;
		switch (v->kind) {
		case V_PLAIN:
			return view_byte(r, v, c, o, o + 1);
		case V_PCT:
		case V_FORM:
			if (v->st == 0) {
				if (c == '%') {
					v->st = 1;
					v->ntok = 0;
					v->tok_start = o;
					return 0;
				}
				if (c == '+' && v->kind == V_FORM)
					c = ' ';
				return view_byte(r, v, c, o, o + 1);
			}
			if ((h = sg_hexval(c)) >= 0 && v->ntok == 1) {
				v->st = 0;
				v->ntok = 0;
				return view_byte(r, v, (uint8_t)(sg_hexval(v->tok[0])
				    << 4 | h), v->tok_start, o + 1);
			}
			if (h >= 0) {
				v->tok[v->ntok++] = c;
				return 0;
			}
			if (view_literal(r, v, '%') < 0)
				return -ENOBUFS;
			again = 1;
			break;
		case V_JSON:
			if (v->st == 0) {
				if (c == '\\') {
					v->st = 1;
					v->tok_start = o;
					return 0;
				}
				if (json_lone(r, v) < 0)
					return -ENOBUFS;
				return view_byte(r, v, c, o, o + 1);
			}
			if (v->st == 1)
				return json_escape(r, v, c, o);
			/* st 2: \u and v->ntok hex digits */
			if ((h = sg_hexval(c)) >= 0) {
				v->tok[v->ntok++] = c;
				v->cp = v->cp << 4 | (uint32_t)h;
				if (v->ntok == 4)
					return json_cp_done(r, v, o);
				return 0;
			}
			/* not \uXXXX: "u" and the digits as they are */
			{
				uint8_t k, n = v->ntok;

				v->st = 0;
				if (json_lone(r, v) < 0 ||
				    view_byte(r, v, 'u', v->tok_start,
				    v->tok_start + 2) < 0)
					return -ENOBUFS;
				for (k = 0; k < n; k++)
					if (view_byte(r, v, v->tok[k],
					    v->tok_start + 2 + k,
					    v->tok_start + 3 + k) < 0)
						return -ENOBUFS;
				v->ntok = 0;
			}
			again = 1;
			break;
		case V_HTML:
			if (v->st == 0) {
				if (c == '&') {
					v->st = 1;
					v->ntok = 0;
					v->tok_start = o;
					return 0;
				}
				return view_byte(r, v, c, o, o + 1);
			}
			if (c == ';') {
				cp = html_ref(v->tok, v->ntok);
				if (cp >= 0) {
					v->st = 0;
					v->ntok = 0;
					return view_cp(r, v, (uint32_t)cp,
					    v->tok_start, o + 1);
				}
				if (view_literal(r, v, '&') < 0)
					return -ENOBUFS;
				return view_byte(r, v, c, o, o + 1);
			}
			if (v->ntok < 10 && ((c >= '0' && c <= '9') ||
			    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    c == '#')) {
				v->tok[v->ntok++] = c;
				return 0;
			}
			if (view_literal(r, v, '&') < 0)
				return -ENOBUFS;
			again = 1;
			break;
		default:
			return 0;
		}
	} while (again);
	return 0;
}

/* At the end of the part: escapes cut short count as themselves. */
static int
view_end(struct sp_redact *r, struct view *v)
{
	int ret = 0;

	/* a high surrogate waiting comes before what follows it */
	if (!v->synced && v->kind == V_JSON && json_lone(r, v) < 0)
		return -ENOBUFS;

	if (!v->synced && v->st != 0) {
		switch (v->kind) {
		case V_PCT:
		case V_FORM:
			ret = view_literal(r, v, '%');
			break;
		case V_HTML:
			ret = view_literal(r, v, '&');
			break;
		case V_JSON:
			if (v->st == 1) {
				ret = view_byte(r, v, '\\', v->tok_start,
				    v->tok_start + 1);
			} else {
				v->tok_start++;	/* the backslash: dropped */
				ret = view_literal(r, v, 'u');
			}
			break;
		default:
			break;
		}
	}
	v->st = 0;
	v->has_trail = 0;
	return ret;
}

/* The earliest raw offset view v may still start a match at. */
static uint64_t
view_hold(const struct sp_redact *r, const struct view *v)
{
	uint64_t h = r->pos, d;
	size_t mask = r->ring - 1;

	if (v->synced)
		return h;	/* the plain view's hold is its own */
	if (v->st != 0 && v->tok_start < h)
		h = v->tok_start;
	if (v->hi != 0 && v->hi_start < h)
		h = v->hi_start;
	d = sp_ac_depth(r->set->ac, v->node);
	/* the byte before a match may be its leading base64 character */
	if (d < v->n && b64_any(v->rbyte[(v->n - d - 1) & mask]))
		d++;
	if (d > 0 && d <= v->n && v->rstart[(v->n - d) & mask] < h)
		h = v->rstart[(v->n - d) & mask];
	if (v->has_trail) {
		const struct span *sp;
		size_t i;

		for (i = 0; i < r->nspans; i++) {
			sp = &r->spans[i];
			if (sp->id == v->trail && sp->start < h)
				h = sp->start;
		}
	}
	return h;
}

static int
span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;	/* longest first */
	return 0;
}

/* The text that replaces span sp. */
static int
put_replacement(struct sp_redact *r, const struct span *sp,
    struct sg_buf *out)
{
	const struct sp_redact_set *s = r->set;
	const struct pat *p = &s->pats[sp->pat];
	uint8_t buf[PH_MAX + 4];
	char txt[SG_B64URL_LEN(PH_MAX + 4) + 1];
	size_t plen = s->ph_len[p->value];
	int ret;

	if (p->kind == PAT_RAW)
		return sg_buf_put(out, s->ph[p->value], plen) < 0 ? -ENOBUFS : 0;
	memset(buf, 0, sizeof(buf));
	if (p->align == 1)
		buf[0] = sp->lead_bits & 3;
	else if (p->align == 2)
		buf[1] = sp->lead_bits & 15;
	memcpy(buf + p->align, s->ph[p->value], plen);
	if (b64_text(buf, p->align + plen, p->url, txt, sizeof(txt)) < 0)
		return -ENOBUFS;
	/* from the leading character (index align) on */
	ret = sg_buf_put(out, txt + p->align, strlen(txt + p->align));
	return ret < 0 ? -ENOBUFS : 0;
}

/* Drops span i from the list (kept in start order). */
static void
span_remove(struct sp_redact *r, size_t i)
{
	memmove(&r->spans[i], &r->spans[i + 1],
	    (r->nspans - i - 1) * sizeof(r->spans[0]));
	r->nspans--;
}

/* Emits the raw bytes up to limit. A span that starts before limit is
 * replaced by its text at its start, and every byte it or a span
 * overlapping it covers is dropped (r->drop_end), also past limit: so
 * matches that overlap without end (a value that overlaps itself,
 * repeated) never hold bytes back. The result does not depend on how
 * often this runs: a span that could still start before limit cannot
 * exist (view_hold), so a group's first span is final once it is here. */
static int
emit(struct sp_redact *r, uint64_t limit, struct sg_buf *out, int *ret_n)
{
	uint64_t at = r->emitted;
	size_t k;
	int n = 0;

	if (r->nspans > 1)
		qsort(r->spans, r->nspans, sizeof(r->spans[0]), span_cmp);
	while (at < limit) {
		/* spans that start inside the dropped part extend it */
		while (r->nspans > 0 && r->spans[0].start < limit &&
		    r->spans[0].start < r->drop_end && r->drop_end > at) {
			if (r->spans[0].end > r->drop_end)
				r->drop_end = r->spans[0].end;
			span_remove(r, 0);
		}
		if (r->drop_end > at) {
			at = r->drop_end < limit ? r->drop_end : limit;
			continue;
		}
		if (r->nspans > 0 && r->spans[0].start < limit) {
			if (sg_buf_put(out, r->hold + (at - r->emitted),
			    (size_t)(r->spans[0].start - at)) < 0 ||
			    put_replacement(r, &r->spans[0], out) < 0)
				return -ENOBUFS;
			n++;
			at = r->spans[0].start;
			r->drop_end = r->spans[0].end;
			span_remove(r, 0);
			continue;
		}
		if (sg_buf_put(out, r->hold + (at - r->emitted),
		    (size_t)(limit - at)) < 0)
			return -ENOBUFS;
		at = limit;
	}
	/* drop what was emitted from the hold */
	k = (size_t)(at - r->emitted);
	memmove(r->hold, r->hold + k, (size_t)(r->fill - at));
	explicit_bzero(r->hold + (r->fill - at), k);
	r->emitted = at;
	*ret_n = n;
	return 0;
}

/* Whether c makes view kind decode something else than c. */
static int
special(uint8_t kind, uint8_t c)
{
	switch (kind) {
	case V_PCT:
		return c == '%';
	case V_FORM:
		return c == '%' || c == '+';
	case V_JSON:
		return c == '\\';
	case V_HTML:
		return c == '&';
	default:
		return 0;
	}
}

/* A view that decoded nothing but the bytes themselves since it last
 * matched the plain view is in the plain view's state: it starts
 * running from a copy of it at its first escape. */
static void
view_clone(const struct sp_redact *r, struct view *v, const struct view *p)
{
	size_t mask = r->ring - 1;
	uint64_t d, i;

	v->synced = 0;
	v->node = p->node;
	v->n = p->n;
	v->crlf = p->crlf;
	v->has_trail = p->has_trail;
	v->trail = p->trail;
	/* only what can still be read: the partial match, the byte before
	 * it (a leading base64 character) and the one before that
	 * (view_hold); not the whole ring at every escape */
	d = sp_ac_depth(r->set->ac, p->node) + 2;
	if (d > p->n)
		d = p->n;
	for (i = p->n - d; i < p->n; i++) {
		v->rstart[i & mask] = p->rstart[i & mask];
		v->rbyte[i & mask] = p->rbyte[i & mask];
	}
}

/* Whether a running view is back in the plain view's state for what is
 * to come: no escape, no partial match, the same line-break count, and
 * a last byte that cannot lead a base64 form. */
static int
view_resync(const struct sp_redact *r, const struct view *v,
    const struct view *p)
{
	size_t mask = r->ring - 1;

	if (v->st != 0 || v->hi != 0 || v->has_trail || p->has_trail ||
	    v->node != 0 || p->node != 0 || v->crlf != p->crlf)
		return 0;
	if (v->n > 0 && b64_any(v->rbyte[(v->n - 1) & mask]))
		return 0;
	if (p->n > 0 && b64_any(p->rbyte[(p->n - 1) & mask]))
		return 0;
	return 1;
}

int
sp_redact_feed(struct sp_redact *r, const void *p, size_t n, int final,
    struct sg_buf *out)
{
	const uint8_t *b = p;
	struct view *v;
	uint8_t *nh;
	uint64_t limit, h;
	size_t i, k, need, cap;
	int cnt = 0;

	if (r->failed)
		return -ENOBUFS;
	need = (size_t)(r->pos - r->emitted) + n;
	if (need > r->hold_cap) {
		cap = r->hold_cap;
		while (cap < need)
			cap *= 2;
		nh = malloc(cap);
		if (nh == NULL)
			goto fail;
		memcpy(nh, r->hold, (size_t)(r->pos - r->emitted));
		explicit_bzero(r->hold, r->hold_cap);
		free(r->hold);
		r->hold = nh;
		r->hold_cap = cap;
	}
	if (n > 0)
		memcpy(r->hold + (r->pos - r->emitted), b, n);
	r->fill = r->pos + n;
	for (i = 0; i < n; i++) {
		/* the plain view (v[0]) last: the others copy its state from
		 * before this byte */
		for (k = 1; k < r->nviews; k++) {
			v = &r->v[k];
			if (v->synced) {
				if (!special(v->kind, b[i]))
					continue;
				view_clone(r, v, &r->v[0]);
			}
			if (view_feed(r, v, b[i], r->pos) < 0)
				goto fail;
		}
		if (view_byte(r, &r->v[0], b[i], r->pos, r->pos + 1) < 0)
			goto fail;
		for (k = 1; k < r->nviews; k++) {
			v = &r->v[k];
			if (!v->synced && view_resync(r, v, &r->v[0]))
				v->synced = 1;
		}
		r->pos++;
		/* bytes emitted as they go, so that a long input does not
		 * grow the hold: every 4 KiB */
		if (!final && (r->pos & 4095) == 0 && i + 1 < n) {
			int c1 = 0;

			limit = r->pos;
			for (k = 0; k < r->nviews; k++) {
				h = view_hold(r, &r->v[k]);
				if (h < limit)
					limit = h;
			}
			if (emit(r, limit, out, &c1) < 0)
				goto fail;
			cnt += c1;
		}
	}
	if (final) {
		for (k = 0; k < r->nviews; k++)
			if (view_end(r, &r->v[k]) < 0)
				goto fail;
		limit = r->pos;
	} else {
		limit = r->pos;
		for (k = 0; k < r->nviews; k++) {
			h = view_hold(r, &r->v[k]);
			if (h < limit)
				limit = h;
		}
	}
	{
		int c2 = 0;

		if (emit(r, limit, out, &c2) < 0)
			goto fail;
		cnt += c2;
	}
	if (r->pos - r->emitted > r->hold_max)
		goto fail;	/* cannot be: every hold is bounded */
	return cnt;
fail:
	r->failed = 1;
	return -ENOBUFS;
}

int
sp_redact_once(struct sp_redact *r, const void *p, size_t n,
    struct sg_buf *out)
{
	sp_redact_reset(r);
	return sp_redact_feed(r, p, n, 1, out);
}
