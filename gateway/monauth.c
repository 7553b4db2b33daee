/* Credentials from workers and the delays per source address (mon.h).
 * The monitor judges every password and key; a worker only asks. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/text.h"
#include "gateway/audit.h"
#include "gateway/mon.h"
#include "gateway/tokens.h"

static struct failrec *
failrec_get(struct mon *m, const char *addr, int create)
{
	struct failrec *f, *oldest = &m->fails[0];
	int64_t now = sg_mono_ms();
	size_t i;

	for (i = 0; i < MON_MAX_FAILREC; i++) {
		f = &m->fails[i];
		if (f->addr[0] != '\0' && now - f->last_ms > MON_FAIL_FORGET_MS)
			memset(f, 0, sizeof(*f));
		if (strcmp(f->addr, addr) == 0 && f->addr[0] != '\0')
			return f;
		if (f->last_ms < oldest->last_ms)
			oldest = f;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	return oldest;
}

static void
reply_auth(struct mon *m, struct mworker *w, int ok, uint32_t delay,
    const char *token)
{
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_AUTH_RESULT) < 0 ||
	    sg_buf_put_u8(m->msg, ok ? 1 : 0) < 0 ||
	    sg_buf_put_u32(m->msg, delay) < 0 ||
	    sg_mp_put_str(m->msg, ok && token != NULL ? token : "") < 0)
		return;
	(void)mon_worker_send(m, w, m->msg, -1);
}

/* Checks one credential from a worker. Failures from one address are
 * delayed, doubling per failure up to MON_AUTH_DELAY_CAP_MS; an attempt that
 * comes before the address's next allowed time fails unchecked. */
int
mon_handle_auth(struct mon *m, struct mworker *w, uint8_t type,
    const uint8_t *p, size_t n)
{
	struct sg_mp_auth a;
	const char *token = NULL, *user;
	struct failrec *f;
	int64_t now = sg_mono_ms();
	uint32_t delay = 0;
	int r, ok = 0, counts;

	r = sg_mp_parse_auth(type, p, n, &a);
	if (r < 0)
		return r;
	user = a.user;
	counts = type == SG_MP_AUTH_PASSWORD || a.verified;	/* key queries are not attempts */
	f = failrec_get(m, w->addr, 0);
	if (counts && f != NULL && now < f->next_ok_ms) {
		delay = (uint32_t)(f->next_ok_ms - now);
		ok = 0;
	} else if (!sg_valid_login(user)) {
		ok = 0;
	} else if (type == SG_MP_AUTH_PASSWORD) {
		ok = sg_tokens_check_secret(m->tokens, a.secret, &token) == 0 &&
		    token != NULL;
	} else {
		ok = sg_tokens_check_key(m->tokens, a.keytype, a.blob, &token) == 0 &&
		    token != NULL;
	}
	if (ok && counts) {
		w->token = strdup(token);
		w->user = strdup(user);
		if (w->token == NULL || w->user == NULL) {
			r = -ENOMEM;
			goto out;
		}
		w->state = W_AUTHED;
		m->stats.logins++;
		w->control = strcmp(user, m->cfg->control_user) == 0;
		sg_info("%s: user %s authenticated with token %s (%s)", w->peer,
		    user, token, type == SG_MP_AUTH_PASSWORD ? "secret" : a.keytype);
		sg_audit("login", "token", token, "source", w->addr, "user",
		    user, "method", type == SG_MP_AUTH_PASSWORD ? "token" :
		    "publickey", NULL);
	} else if (!ok && counts) {
		m->stats.auth_fails++;
		f = failrec_get(m, w->addr, 1);
		if (delay == 0) {
			unsigned shift = f->fails < 5 ? f->fails : 5;

			delay = (uint32_t)(m->cfg->auth_delay_ms << shift);
			if (delay > MON_AUTH_DELAY_CAP_MS)
				delay = MON_AUTH_DELAY_CAP_MS;
			f->fails++;
			f->next_ok_ms = now + delay;
		}
		f->last_ms = now;
		sg_info("%s: authentication failed for user %s", w->peer,
		    sg_valid_login(user) ? user : "(invalid name)");
		sg_audit("login_failed", "source", w->addr, "user", user,
		    "method", type == SG_MP_AUTH_PASSWORD ? "token" : "publickey",
		    NULL);
	}
	/* a key query tells the unauthenticated worker yes or no, never
	 * which token the key is under */
	reply_auth(m, w, ok, delay, ok && counts ? token : NULL);
	r = 0;
out:
	sg_mp_auth_clear(&a);
	return r;
}
