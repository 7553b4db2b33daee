/* sp_ac: Aho-Corasick over bytes. See acmatch.h.
 *
 * Built as a trie with per-node sorted children, then compacted into one
 * edge array (each node's edges contiguous and sorted, looked up by a
 * short scan or a binary search), with failure links and "dictionary"
 * links (the nearest state on the failure chain where a string ends)
 * computed breadth first. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secrets/acmatch.h"

struct node {
	uint32_t fail;
	uint32_t dict;		/* nearest state on the fail chain with out */
	uint32_t out;		/* id of the string ending here, or NONE */
	uint32_t edge;		/* first edge */
	uint32_t depth;
	uint16_t nedges;
};

struct sp_ac {
	struct node *nodes;
	size_t nnodes;
	uint8_t *ec;		/* edge bytes */
	uint32_t *et;		/* edge targets */
	size_t nedges;
	uint32_t root[256];	/* the root's transitions, dense */
	size_t maxlen;
};

/* A node under construction: children in a sorted array. */
struct bnode {
	uint8_t *c;
	uint32_t *t;
	uint16_t n, cap;
};

struct sp_ac_build {
	struct sp_ac *a;	/* nodes grow here */
	struct bnode *b;
	size_t nb;		/* nodes made (b[0..nb) to free) */
	size_t cap;		/* of nodes and b */
	char **text;		/* the strings, for duplicates; wiped */
	size_t *tlen;
	size_t ntext;
};

static uint32_t
b_child(const struct bnode *b, uint8_t c)
{
	uint16_t i;

	for (i = 0; i < b->n; i++)
		if (b->c[i] == c)
			return b->t[i];
	return SP_AC_NONE;
}

static int
b_new_node(struct sp_ac_build *bd, uint32_t depth, uint32_t *ret)
{
	struct sp_ac *a = bd->a;
	struct node *nn;
	struct bnode *nb;
	size_t cap;

	if (a->nnodes == bd->cap) {
		cap = bd->cap ? bd->cap * 2 : 256;
		if (cap > UINT32_MAX / 2)
			return -ENOMEM;
		nn = reallocarray(a->nodes, cap, sizeof(*nn));
		if (nn == NULL)
			return -ENOMEM;
		a->nodes = nn;
		nb = reallocarray(bd->b, cap, sizeof(*nb));
		if (nb == NULL)
			return -ENOMEM;
		bd->b = nb;
		bd->cap = cap;
	}
	memset(&a->nodes[a->nnodes], 0, sizeof(a->nodes[0]));
	memset(&bd->b[a->nnodes], 0, sizeof(bd->b[0]));
	a->nodes[a->nnodes].out = SP_AC_NONE;
	a->nodes[a->nnodes].depth = depth;
	*ret = (uint32_t)a->nnodes++;
	bd->nb = a->nnodes;
	return 0;
}

static int
b_add_child(struct sp_ac_build *bd, uint32_t from, uint8_t c, uint32_t to)
{
	struct bnode *b = &bd->b[from];
	uint8_t *nc;
	uint32_t *nt;
	uint16_t i, cap;

	if (b->n == b->cap) {
		cap = b->cap ? (uint16_t)(b->cap * 2) : 2;
		if (cap > 256)
			cap = 256;
		nc = realloc(b->c, cap);
		if (nc == NULL)
			return -ENOMEM;
		b->c = nc;
		nt = reallocarray(b->t, cap, sizeof(*nt));
		if (nt == NULL)
			return -ENOMEM;
		b->t = nt;
		b->cap = cap;
	}
	i = b->n;
	while (i > 0 && b->c[i - 1] > c) {
		b->c[i] = b->c[i - 1];
		b->t[i] = b->t[i - 1];
		i--;
	}
	b->c[i] = c;
	b->t[i] = to;
	b->n++;
	return 0;
}

int
sp_ac_build_new(struct sp_ac_build **ret)
{
	struct sp_ac_build *bd = calloc(1, sizeof(*bd));
	uint32_t root;

	if (bd == NULL)
		return -ENOMEM;
	bd->a = calloc(1, sizeof(*bd->a));
	if (bd->a == NULL || b_new_node(bd, 0, &root) < 0) {
		sp_ac_build_free(bd);
		return -ENOMEM;
	}
	*ret = bd;
	return 0;
}

void
sp_ac_build_free(struct sp_ac_build *bd)
{
	size_t i;

	if (bd == NULL)
		return;
	for (i = 0; i < bd->nb; i++) {
		free(bd->b[i].c);
		free(bd->b[i].t);
	}
	free(bd->b);
	for (i = 0; i < bd->ntext; i++) {
		explicit_bzero(bd->text[i], bd->tlen[i]);
		free(bd->text[i]);
	}
	free(bd->text);
	free(bd->tlen);
	sp_ac_free(bd->a);
	free(bd);
}

int
sp_ac_build_add(struct sp_ac_build *bd, const void *s, size_t len, uint32_t id)
{
	const uint8_t *str = s;
	struct sp_ac *a = bd->a;
	uint32_t cur = 0, nx;
	size_t i, *nl;
	char **nt;
	int r;

	if (len == 0 || len > UINT32_MAX)
		return -EINVAL;
	for (i = 0; i < bd->ntext; i++)
		if (bd->tlen[i] == len && memcmp(bd->text[i], str, len) == 0)
			return 1;
	nt = reallocarray(bd->text, bd->ntext + 1, sizeof(*nt));
	if (nt == NULL)
		return -ENOMEM;
	bd->text = nt;
	nl = reallocarray(bd->tlen, bd->ntext + 1, sizeof(*nl));
	if (nl == NULL)
		return -ENOMEM;
	bd->tlen = nl;
	bd->text[bd->ntext] = malloc(len);
	if (bd->text[bd->ntext] == NULL)
		return -ENOMEM;
	memcpy(bd->text[bd->ntext], str, len);
	bd->tlen[bd->ntext++] = len;
	for (i = 0; i < len; i++) {
		nx = b_child(&bd->b[cur], str[i]);
		if (nx == SP_AC_NONE) {
			if ((r = b_new_node(bd, (uint32_t)i + 1, &nx)) < 0 ||
			    (r = b_add_child(bd, cur, str[i], nx)) < 0)
				return r;
		}
		cur = nx;
	}
	a->nodes[cur].out = id;
	if (len > a->maxlen)
		a->maxlen = len;
	return 0;
}

/* The child of node by c, or SP_AC_NONE. */
static uint32_t
child(const struct sp_ac *a, uint32_t node, uint8_t c)
{
	const struct node *n = &a->nodes[node];
	uint32_t lo, hi, mid;

	if (node == 0)
		return a->root[c] != 0 ? a->root[c] : SP_AC_NONE;
	if (n->nedges <= 8) {
		for (lo = n->edge; lo < n->edge + n->nedges; lo++)
			if (a->ec[lo] == c)
				return a->et[lo];
		return SP_AC_NONE;
	}
	lo = n->edge;
	hi = n->edge + n->nedges;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (a->ec[mid] == c)
			return a->et[mid];
		if (a->ec[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SP_AC_NONE;
}

int
sp_ac_build_finish(struct sp_ac_build *bd, struct sp_ac **ret)
{
	struct sp_ac *a = bd->a;
	uint32_t *queue = NULL, u, v, f, t;
	size_t i, qh = 0, qt = 0, ne = 0;
	uint16_t k;
	int r = -ENOMEM;

	for (i = 0; i < a->nnodes; i++)
		ne += bd->b[i].n;
	a->ec = malloc(ne ? ne : 1);
	a->et = reallocarray(NULL, ne ? ne : 1, sizeof(*a->et));
	queue = reallocarray(NULL, a->nnodes, sizeof(*queue));
	if (a->ec == NULL || a->et == NULL || queue == NULL)
		goto out;
	a->nedges = ne;
	ne = 0;
	for (i = 0; i < a->nnodes; i++) {
		a->nodes[i].edge = (uint32_t)ne;
		a->nodes[i].nedges = bd->b[i].n;
		for (k = 0; k < bd->b[i].n; k++) {
			a->ec[ne] = bd->b[i].c[k];
			a->et[ne] = bd->b[i].t[k];
			ne++;
		}
	}
	memset(a->root, 0, sizeof(a->root));
	for (k = 0; k < bd->b[0].n; k++) {
		v = bd->b[0].t[k];
		a->root[bd->b[0].c[k]] = v;
		a->nodes[v].fail = 0;
		a->nodes[v].dict = SP_AC_NONE;
		queue[qt++] = v;
	}
	a->nodes[0].dict = SP_AC_NONE;
	while (qh < qt) {
		u = queue[qh++];
		for (k = 0; k < bd->b[u].n; k++) {
			v = bd->b[u].t[k];
			f = a->nodes[u].fail;
			for (;;) {
				t = child(a, f, bd->b[u].c[k]);
				if (t != SP_AC_NONE || f == 0)
					break;
				f = a->nodes[f].fail;
			}
			a->nodes[v].fail = (t != SP_AC_NONE && t != v) ? t : 0;
			f = a->nodes[v].fail;
			a->nodes[v].dict = a->nodes[f].out != SP_AC_NONE ? f :
			    a->nodes[f].dict;
			queue[qt++] = v;
		}
	}
	*ret = a;
	bd->a = NULL;
	r = 0;
out:
	free(queue);
	sp_ac_build_free(bd);	/* with the automaton when it failed */
	return r;
}

void
sp_ac_free(struct sp_ac *a)
{
	if (a == NULL)
		return;
	/* the edges spell out the strings */
	if (a->ec != NULL) {
		explicit_bzero(a->ec, a->nedges);
		free(a->ec);
	}
	free(a->et);
	free(a->nodes);
	explicit_bzero(a->root, sizeof(a->root));
	free(a);
}

size_t
sp_ac_max_len(const struct sp_ac *a)
{
	return a->maxlen;
}

const uint32_t *
sp_ac_root(const struct sp_ac *a)
{
	return a->root;
}

uint32_t
sp_ac_step(const struct sp_ac *a, uint32_t state, uint8_t c)
{
	uint32_t t;

	for (;;) {
		t = child(a, state, c);
		if (t != SP_AC_NONE)
			return t;
		if (state == 0)
			return 0;
		state = a->nodes[state].fail;
	}
}

/* the redactor's step: one call per byte that leaves the root, so the
 * lookups are compiled into it */
__attribute__((flatten)) uint32_t
sp_ac_step_match(const struct sp_ac *a, uint32_t state, uint8_t c,
    uint32_t *ret_match)
{
	uint32_t t = sp_ac_step(a, state, c);

	*ret_match = a->nodes[t].out != SP_AC_NONE ? t : a->nodes[t].dict;
	return t;
}

uint32_t
sp_ac_depth(const struct sp_ac *a, uint32_t state)
{
	return a->nodes[state].depth;
}

uint32_t
sp_ac_match(const struct sp_ac *a, uint32_t state)
{
	return a->nodes[state].out != SP_AC_NONE ? state : a->nodes[state].dict;
}

uint32_t
sp_ac_match_next(const struct sp_ac *a, uint32_t m)
{
	return a->nodes[m].dict;
}

uint32_t
sp_ac_match_id(const struct sp_ac *a, uint32_t m)
{
	return a->nodes[m].out;
}

uint32_t
sp_ac_match_len(const struct sp_ac *a, uint32_t m)
{
	return a->nodes[m].depth;
}
