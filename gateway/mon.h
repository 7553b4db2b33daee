/* The monitor's modules and their shared state (private to gateway/mon*.c
 * and monitor.c; sandgated's other parts see monitor.h only).
 *
 *   monitor.c   set-up, the poll loop, signals, children
 *   monsbx.c    the sandbox table: lifetimes, idle ends, destruction,
 *               adoption from libvirt, network policy and placeholders
 *   monstart.c  a worker's START: a new sandbox (a libvirt job) or an
 *               existing one, and the link to its shim
 *   monshim.c   the shims: start, rendezvous after a restart, requests
 *   monauth.c   credentials and the per-address delays
 *   monwork.c   workers: accept, requests, exit
 *   monproxy.c  sandgate-proxy: start, feed, adoption
 *   monctl.c    the control socket (root's sandgatectl)
 *   monapi.c    the control commands, for root and for token holders
 *
 * One thread runs all of this; slow calls are jobs (jobs.h) whose
 * completions come back to the loop. */
#ifndef SG_MON_H
#define SG_MON_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "gateway/ctlargs.h"
#include "gateway/metrics.h"
#include "gateway/monapi.h"
#include "gateway/monitor.h"
#include "gateway/poolspec.h"
#include "gateway/sbxnet.h"

struct sg_token;

#define MON_MAX_WORKERS		512
#define MON_MAX_FAILREC		256
#define MON_AUTH_DELAY_CAP_MS	30000
#define MON_FAIL_FORGET_MS	(10 * 60 * 1000)
#define MON_PEER_STUCK_MS	2000	/* a peer that reads nothing this long is stuck */
#define MON_SHIM_RESTART_MS	1000
#define MON_SHIM_RESTARTS	3	/* in a minute; then the sandbox ends */
#define MON_MAX_CTL		16	/* control connections at once */

struct sg_buf;
struct sg_mpq;
struct sg_jobs;
struct sg_allow;
struct sg_tokens;
struct sg_vm_host;
struct sbx;

enum wstate { W_PREAUTH, W_AUTHED, W_WAITING, W_RUNNING };

/* A boxed child's log lines: a burst, then a few a second. */
struct mon_loglimit {
	int64_t at_ms;
	unsigned tokens;
	unsigned dropped;
};

struct mworker {
	struct mworker *next;
	pid_t pid;
	int fd;
	enum wstate state;
	char addr[INET6_ADDRSTRLEN];
	char peer[INET6_ADDRSTRLEN + 32];
	char block[64];		/* its source block (srclimit.h) */
	char *token;
	char *user;
	struct sbx *sbx;	/* W_WAITING, W_RUNNING */
	int control;		/* logged in as the control user */
	struct mon_call *call;	/* its control command, while it runs */
	struct sg_mpq *ctlq;	/* its command's output, as the worker takes it */
	struct mon_loglimit logl;
	int filtered;		/* its filter's report came */
};

/* A volume a sandbox mounts (create --volume), recorded with its policy. */
struct mon_vol {
	char name[40];
	char path[SG_CTLA_MOUNT_MAX + 1];
	int ro;
};

/* A port of a sandbox exposed at an HTTPS URL (monfront.c). */
#define MON_EXPOSE_MAX 64	/* [expose] max_ports at most */
struct mon_expose {
	uint16_t port;
	int public;
	uint64_t nonce;		/* new at each expose: unexpose retires links */
};

enum sbx_state {
	SB_CREATING,		/* a job makes its domain */
	SB_RUNNING,		/* its domain runs */
	SB_DESTROYING,		/* a job removes it; invisible */
	SB_HIBERNATING,		/* a job saves it (monhib.c) */
	SB_HIBERNATED,		/* saved in its folder: no domain, no shim */
	SB_RESUMING,		/* a job restores it */
	SB_POOLING,		/* a pool member, agent ready: a job pauses it */
	SB_POOLED,		/* a pool member, paused: no shim, ready to
				 * be claimed (monpool.c) */
};

struct sbx {
	struct sbx *next;
	char id[16];
	char *token, *name, *image;
	int64_t created, expires;
	enum sbx_state state;
	int creating;			/* its creation job runs */
	/* its shim */
	pid_t shim_pid;
	int shim_fd;			/* -1: none now */
	struct mon_loglimit shim_logl;
	int shim_child;			/* started by this monitor (reaped here) */
	uid_t uid;			/* the shim's own uid, 0 before one */
	struct sg_mpq *shimq;
	int shim_ready;			/* the agent answered */
	char *image_dir;		/* its image's folder when not the
					 * configured one's (a snapshot);
					 * NULL otherwise, and when adopted */
	int64_t create_ms;		/* monotonic, when made here; 0 once
					 * its agent answered, or adopted */
	int shim_known;			/* a STATE came */
	int64_t shim_restart_ms;	/* 0, or when to start a new shim */
	int64_t restarts_since_ms;
	unsigned restarts;
	uint32_t cid;			/* vsock; 0 for virtio-serial */
	int wait_ca;			/* its shim waits for the proxy's CA */
	int agent_fd;			/* the agent connection it waits with */
	unsigned nconn;			/* links, as the shim counts them */
	int had_conn;
	int64_t idle_since;		/* named, nconn == 0: when the last left */
	/* its policy */
	struct sg_allow *allow;		/* its token's allow_net when made */
	char **allow_ent;		/* the same as text, for the shim */
	size_t nallow;
	int dns_pending;		/* its DNS could not be handed over yet */
	int has_net;			/* tap, rules and DNS (na) set up */
	struct sg_net_addr na;
	char **ph_name, **ph_value;	/* secret placeholders, recorded */
	size_t nph;
	char *reason;			/* SB_DESTROYING: why, for the audit */
	/* what it was made with (recorded with its policy) */
	unsigned memory_mb, vcpus;	/* 0: not recorded (an older sandgated) */
	uint64_t idle_s;		/* its own idle timeout; 0: its token's */
	char **env;			/* KEY=VALUE for its guest (create --env) */
	size_t nenv;
	struct mon_vol vols[SG_CTLA_VOLUMES_MAX];	/* its token's */
	size_t nvols;
	int poweroff_sent;		/* its guest was told to sync and stop */
	int64_t hibernated_at;		/* SB_HIBERNATED: since when */
	int pool;			/* a warm pool member, not claimed yet
					 * (its token and name are "") */
	int pool_paused;		/* SB_POOLING: its pause is done */
	struct mon_expose *ex;		/* its exposed ports */
	size_t nex;
};

/* What a new sandbox is made with: token and name, and the settings of a
 * create request (0 and NULL: the token's or sandgate.conf's). The caller
 * has checked them against the token's limits (monapi.c). */
struct mon_sbx_opts {
	const char *token;
	const char *name;		/* "" for a fresh sandbox@ sandbox */
	const char *source;		/* client address, for the audit */
	const char *peer;		/* for the log */
	const char *image;
	const char *image_dir;		/* a snapshot's folder, or NULL */
	unsigned memory_mb, vcpus;
	uint64_t lifetime_s, idle_s;
	int has_allow;			/* allow replaces the token's allow_net */
	char *const *allow;
	size_t nallow;
	int has_secrets;		/* only these secrets get placeholders */
	char *const *secrets;
	size_t nsecrets;
	char *const *env;
	size_t nenv;
	const struct sg_ctla_vol *vols;	/* checked by mon_vol_check */
	size_t nvols;
	int pool;			/* a warm pool member (token "") */
};

struct failrec {
	char addr[INET6_ADDRSTRLEN];
	unsigned fails;
	int64_t next_ok_ms, last_ms;
};

struct ctlconn {
	struct ctlconn *next;
	int fd;
	char line[SG_CTLA_LINE_MAX + 2];
	size_t len;
	struct sg_buf *out;
	int64_t deadline_ms;
	int done;
	struct mon_call call;		/* the request, once read */
	int running;			/* call started, not finished */
};

/* Counts by a label drawn from a small set (mon_lcount_add). */
#define MON_LCOUNT_MAX 16
struct mon_lcount {
	struct { char key[24]; uint64_t n; } v[MON_LCOUNT_MAX];
	size_t n;
	uint64_t other;		/* keys past the table, or not [a-z_]+ */
};

/* What /metrics counts (monmetrics.c), since this sandgated started. */
struct mon_stats {
	uint64_t starts;		/* sandboxes begun */
	uint64_t start_fail_create;	/* the VM could not be made */
	uint64_t start_fail_boot;	/* its agent never answered */
	struct sg_metrics_hist start_hist;	/* create -> agent ready */
	struct mon_lcount destroyed;	/* by reason */
	uint64_t logins, auth_fails, preauth_refused;
	struct mon_lcount px_decisions;	/* proxy_request by decision */
	uint64_t secret_subst, secret_alerts, secret_redacted;
	uint64_t dns_refused, dns_blocked;
	uint64_t hibernated, resumed, resumed_cold;
	uint64_t pool_claimed, pool_missed;	/* starts of the pool's shape */
	uint64_t pool_booted, pool_failed;	/* members made, and lost */
};

struct mconn;
struct sg_vm_info;

#define MON_GRACE_MAX 2		/* destroys that wait for a guest's sync */
#define MON_HIB_MAX 2		/* hibernations at a time */
#define MON_POOL_BACKOFF_MS 30000	/* after a pool member failed */

/* Snapshots being made (monsnap.c), by token and name. */
#define MON_SNAPJOBS_MAX 8
struct mon_snapjob {
	char token[80];
	char snap[40];
	char sbx_id[16];
	uint64_t bytes;			/* a volume's size, counted meanwhile */
};

struct mon {
	const struct sg_mon_cfg *cfg;
	struct sg_tokens *tokens;
	struct sg_net *net;
	struct sg_jobs *jobs;
	ssh_bind bind;
	int listen_fd, ctl_fd, sig_fd, ino_fd, lock_fd, table_lock_fd;
	char *tokens_dir, *tokens_base;
	char *run_dir;			/* rendezvous sockets live here */
	struct mworker *workers;
	unsigned nworkers;
	struct sbx *sbxs;
	struct failrec fails[MON_MAX_FAILREC];
	int64_t refused_ms;		/* last refused connection logged */
	unsigned refused_quiet;		/* refused since, not logged */
	struct ctlconn *ctls;
	unsigned nctls;
	struct mon_call *calls;		/* control commands that wait */
	struct sg_buf *msg;
	int vm_type, transport;
	uid_t uid;
	gid_t gid;
	char *empty_dir;
	int netns_fd;			/* an empty network namespace for workers */
	uint32_t uid_next;		/* where the search for a free shim uid starts */
	/* libvirt: used by jobs, under vm_lock */
	pthread_mutex_t vm_lock;
	struct sg_vm_host *vm;
	struct sg_vm_host **vm_old;	/* replaced handles, freed at exit */
	size_t nvm_old;
	int adopted;			/* libvirt's sandboxes were listed once */
	int adopting;			/* a listing job runs */
	char *vm_err;			/* why libvirt could not be listed */
	int64_t next_adopt_ms;
	/* sandgate-proxy */
	pid_t px_pid;
	int px_fd, px_listen;
	int px_child;			/* started by us (else adopted) */
	int px_ready;			/* READY came: the feed is in use */
	int px_start_due;		/* START waits for the adoption from libvirt */
	int64_t px_deadline_ms;		/* READY by then */
	struct sg_mpq *pxq;
	char *px_ca;			/* the CA guests trust (PEM) */
	int64_t px_restart_ms;
	unsigned px_fails;		/* exits since it was last ready */
	int px_was_ready;		/* the running one said READY */
	/* sandgate-front ([expose]; monfront.c), as the proxy */
	pid_t fr_pid;
	int fr_fd, fr_listen;
	int fr_child, fr_ready, fr_start_due, fr_was_ready;
	int64_t fr_deadline_ms, fr_restart_ms;
	int64_t fr_busy_ms;		/* [expose] listen in use since */
	unsigned fr_fails;
	struct sg_mpq *frq;
	uint8_t fr_key[32];		/* signs links (state_dir/expose.key) */
	uint8_t fr_digest[32];		/* SHA-256 of the front's CONFIG */
	int fr_digest_known;		/* fr_digest is of the files as now */
	uid_t fr_uid;
	/* /metrics */
	int metrics_fd;
	struct mconn *mconns;
	unsigned nmconns;
	struct mon_stats stats;
	int64_t started;		/* wall clock, seconds */
	struct mon_snapjob snapjobs[MON_SNAPJOBS_MAX];
	size_t nsnapjobs;
	struct mon_snapjob voljobs[MON_SNAPJOBS_MAX];	/* volumes being
					 * made (monvol.c): token, name */
	size_t nvoljobs;
	/* jobs that may take long hold few of the job threads */
	unsigned ngrace;		/* destroys waiting for a guest's sync */
	unsigned nhib;			/* saves under way (monhib.c) */
	/* no refill of [sandbox] warm_pool's entry i before (a backoff) */
	int64_t pool_next_ms[SG_POOLSPEC_IMAGES];
	int quit;
};

/* monitor.c */
int64_t mon_now(void);			/* wall clock, seconds */
/* A LOG line (SG_MP_LOG) or a filter report (SG_CONFINE_REPORT) from a
 * boxed child, who being "worker 123" or "shim of sandbox ID". Returns 0
 * when handled, 1 when the message is neither, and <0 when the child
 * must end: -2 its filter stopped it, -1 the message was malformed. */
int mon_child_note(struct mon_loglimit *l, const char *who,
    const uint8_t *p, size_t n);
int mon_vm(struct mon *m, struct sg_vm_host **ret, char **ret_err);
void mon_close_except(int a, int b);

/* monsbx.c */
struct sbx *mon_sbx_find(struct mon *m, const char *id);
unsigned mon_sbx_count_token(struct mon *m, const char *token);
void mon_sbx_free(struct sbx *s);
/* Ends a sandbox: its shim tells the sessions (kind, text), a job
 * destroys the domain and the files, and then it is forgotten. */
void mon_sbx_destroy(struct mon *m, struct sbx *s, const char *reason,
    uint8_t kind, const char *text);
void mon_sbx_destroy_job(struct mon *m, struct sbx *s);
/* Its network and policy: new from its token (and o, when not NULL),
 * (adopt) as recorded, or (claim: a pool member, which has its network)
 * its empty policy replaced by its new token's. */
enum { MON_NET_NEW, MON_NET_ADOPT, MON_NET_CLAIM };
int mon_sbx_net_setup(struct mon *m, struct sbx *s, int mode,
    const struct mon_sbx_opts *o, char **ret_err);
int64_t mon_sbx_timers(struct mon *m);
void mon_sbx_adopt(struct mon *m);
/* A sandbox found at start (running, or hibernated), with its network as
 * recorded; NULL when it is known already or out of memory. */
struct sbx *mon_sbx_adopt_info(struct mon *m, const struct sg_vm_info *v,
    enum sbx_state state);
uint64_t mon_sbx_idle(struct mon *m, struct sbx *s);
/* When s ends if nothing changes (Unix seconds): its lifetime's end, or
 * earlier its idle end while a named sandbox has no connection. *ret_idle
 * (when not NULL) is set to 1 when the idle end is the one. */
int64_t mon_sbx_end(struct mon *m, struct sbx *s, int *ret_idle);
/* "starting", "booting", "connected", "idle" or "restarting". */
const char *mon_sbx_state_name(const struct sbx *s);

/* monsnap.c */
void mon_snap_cmd(struct mon *m, struct mon_call *c, const struct sg_ctla *q,
    const char *source);
/* At start: removes what a sandgated that died left of the snapshots it
 * was making (SNAP.tmp folders). */
void mon_snap_sweep(struct mon *m);
/* The folder of token's snapshot snap and the image it was made of:
 * 0, or -ENOENT when there is no such snapshot. */
int mon_snap_find(struct mon *m, const char *token, const char *snap,
    char *ret_dir, size_t size, char *ret_image, size_t image_size);
/* 1 while a snapshot of sandbox id is being made. */
int mon_snap_copying(struct mon *m, const char *id);

/* monpool.c: the warm pool, [sandbox] warm_pool members of the default
 * shape (per image) booted ahead of demand and paused. */
/* A paused member a start with o (token tok) may take, or NULL: an
 * image the pool keeps, the configured memory and vCPUs, no snapshot,
 * no volume. Counts the start as claimed or missed. */
struct sbx *mon_pool_take(struct mon *m, const struct sg_token *tok,
    const struct mon_sbx_opts *o);
/* Its agent answered: its shim goes and a job pauses it. */
void mon_pool_ready(struct mon *m, struct sbx *s);
/* Its shim is gone (SB_POOLING): pooled once the pause is done too. */
void mon_pool_shim_gone(struct mon *m, struct sbx *s);
/* Boots a member when the pool is short and nothing else starts.
 * Returns the milliseconds until it should be looked at again. */
int64_t mon_pool_refill(struct mon *m, int64_t next);
/* Members of image (NULL: all) by state: booting (or being paused),
 * ready. */
void mon_pool_count(struct mon *m, const char *image, unsigned *ret_booting,
    unsigned *ret_ready);
/* The images the pool keeps members of (at most max), and how many. */
size_t mon_pool_images(struct mon *m, const char **ret, size_t max);
unsigned mon_pool_target(struct mon *m, const char *image);
/* Member s failed before it was ready: counted, and its image's refills
 * wait MON_POOL_BACKOFF_MS. */
void mon_pool_failed(struct mon *m, const struct sbx *s);

/* monhib.c */
void mon_hib_cmd(struct mon *m, struct mon_call *c, const struct sg_ctla *q);
/* Hibernates s (SB_RUNNING, its agent ready) for why; c (or NULL) is
 * answered once it is done. */
int mon_sbx_hibernate(struct mon *m, struct sbx *s, const char *why,
    struct mon_call *c);
/* s resumed (monstart.c); cold: booted from its disk, why its memory
 * was not restored. */
void mon_hib_resumed(struct mon *m, struct sbx *s, int cold, const char *why);
/* Hibernation's timers for s: idle long enough, asleep too long. Returns
 * next, or less (ms). */
int64_t mon_hib_timers(struct mon *m, struct sbx *s, int64_t now, int64_t next);
/* hibernate_after for s (its token's, else sandgate.conf's; 0: never). */
uint64_t mon_hib_after(struct mon *m, const struct sbx *s);
/* s's expiry moved while it sleeps: its record follows. */
void mon_hib_extend(struct mon *m, struct sbx *s);
/* At start: the hibernated sandboxes found in state_dir. */
void mon_hib_adopt(struct mon *m, const struct sg_vm_info *v, size_t n,
    const int64_t *saved);

/* monstore.c: what snapshots and volumes share */
/* STATE_DIR/KIND/TOKEN[/NAME] into out: 0 or -ENAMETOOLONG. */
int mon_store_path(struct mon *m, const char *kind, const char *token,
    const char *name, char *out, size_t size);
/* Calls fn with the path and name of each well-named entry of
 * STATE_DIR/KIND/TOKEN, sorted by name; returns how many it took (0). */
size_t mon_store_each(struct mon *m, const char *kind, const char *token,
    int (*fn)(const char *dir, const char *name, void *arg), void *arg);
/* At start: removes with rm the NAME.tmp folders a sandgated that died
 * left under STATE_DIR/KIND, logging each as what ("a snapshot"). */
void mon_store_sweep(struct mon *m, const char *kind,
    int (*rm)(const char *path, char **ret_err), const char *what);
/* For ls: calls fn for each token the caller may see (a token holder:
 * its own; root: every one, or --token's). -1 when that token is gone
 * (c has failed). */
int mon_store_tokens(struct mon *m, struct mon_call *c, const struct sg_ctla *q,
    void (*fn)(struct mon *m, const char *token, void *arg), void *arg);
/* The table of names being made: is token's name in it; add or remove
 * it (with the sandbox id a snapshot copies, or NULL). */
int mon_store_busy(const struct mon_snapjob *v, size_t n, const char *token,
    const char *name);
void mon_store_busy_set(struct mon_snapjob *v, size_t *n, const char *token,
    const char *name, const char *id, int on);

/* monvol.c */
void mon_vol_cmd(struct mon *m, struct mon_call *c, const struct sg_ctla *q);
/* At start: removes the VOL.tmp folders a sandgated that died left. */
void mon_vol_sweep(struct mon *m);
/* 0 when token's sandbox may mount vols as asked: each exists, is not
 * being made, and no other sandbox writes it (nor reads it, for one that
 * writes); else -1 and an answer's kind ("not_found", "refused") and
 * text. */
int mon_vol_check(struct mon *m, const char *token,
    const struct sg_ctla_vol *vols, size_t n, const char **ret_kind,
    char *why, size_t whysz);
/* The file of token's volume vol into buf. */
int mon_vol_file(struct mon *m, const char *token, const char *vol,
    char *buf, size_t size);
/* s is gone: its volumes that no other sandbox mounts are root's again. */
void mon_vol_release(struct mon *m, struct sbx *s);
/* 1 when s writes a volume (its guest must sync before it is stopped). */
int mon_vol_writes(const struct sbx *s);
/* The serial of a sandbox's i-th volume disk ("sgvol0"...), which its
 * agent finds it by (CONFIG "volume"). */
void mon_vol_serial(size_t i, char *buf, size_t size);
/* Reads a recorded "volume NAME ro|rw PATH" into s; 0 or -EINVAL. */
int mon_vol_record_parse(struct sbx *s, const char *line);

/* monfront.c: sandgate-front and exposed ports. Setup (its user, the
 * link key) comes before the network, launch after it. */
int mon_front_setup(struct mon *m);
void mon_front_launch(struct mon *m);
void mon_front_poll(struct mon *m, int64_t *timeout);
void mon_front_read(struct mon *m);
void mon_front_flush(struct mon *m);
void mon_front_start(struct mon *m);
void mon_front_reaped(struct mon *m, int status);
/* A sandbox's ports to the front and the firewall again (adopted, its
 * network set up, its token's hash changed); all of them when s is NULL */
void mon_front_sandbox(struct mon *m, struct sbx *s);
/* A sandbox is gone: its ports go (before it is freed). */
void mon_front_drop(struct mon *m, struct sbx *s);
/* The tokens were reloaded: the ports of a token that is gone go, the
 * others are sent again (with the token's hash of now). */
void mon_front_tokens(struct mon *m);
void mon_front_cmd(struct mon *m, struct mon_call *c, const struct sg_ctla *q);
/* "expose PORT NONCE public|private" of a record; the lines to record. */
int mon_front_record_parse(struct sbx *s, const char *line);
int mon_front_record_lines(const struct sbx *s, char **v, size_t *n);
/* The URL of a sandbox's port, into out. */
int mon_front_url(struct mon *m, const struct sbx *s, uint16_t port,
    char *out, size_t size);
/* Writes a sandbox's record again (monsbx.c). */
int mon_sbx_rerecord(struct mon *m, struct sbx *s);

/* monctl.c: a listening unix socket at path (an old one replaced), root's
 * alone (made under umask 077). Returns 0 and *ret_fd, or -errno. */
int mon_unix_listen(const char *path, int backlog, int *ret_fd);

/* monmetrics.c */
int mon_metrics_open(struct mon *m);
void mon_metrics_close(struct mon *m);
void mon_metrics_accept(struct mon *m);
void mon_metrics_io(struct mon *m, struct mconn *c, short revents);
short mon_metrics_events(const struct mconn *c);
int mon_metrics_fd(const struct mconn *c);
struct mconn *mon_metrics_next(const struct mconn *c);
int64_t mon_metrics_timers(struct mon *m);	/* ms to the next deadline */
void mon_lcount_add(struct mon_lcount *l, const char *key);
int mon_sbx_set_expires(struct mon *m, struct sbx *s, int64_t expires);

/* monstart.c */
/* A new sandbox (its domain is made by a job); reason says why not. */
int mon_sbx_create(struct mon *m, const struct mon_sbx_opts *o,
    struct sbx **ret, char *reason, size_t reasonsz);
/* Resumes the hibernated s (a job; then as a new sandbox: its shim, the
 * waiting workers linked). */
int mon_sbx_resume(struct mon *m, struct sbx *s, char *reason,
    size_t reasonsz);
int mon_handle_start(struct mon *m, struct mworker *w, const uint8_t *p,
    size_t n);
/* The sandbox's shim can take links now: hands one to each waiting worker. */
void mon_start_links(struct mon *m, struct sbx *s);
/* The sandbox cannot be used: tells each waiting worker why. */
void mon_start_fail_waiting(struct mon *m, struct sbx *s, const char *why);

/* monshim.c */
int mon_shim_spawn(struct mon *m, struct sbx *s, int agent_fd, char **ret_err);
void mon_shim_read(struct mon *m, struct sbx *s);
void mon_shim_flush(struct mon *m, struct sbx *s);
void mon_shim_gone(struct mon *m, struct sbx *s, const char *why);
int mon_shim_send(struct mon *m, struct sbx *s, const struct sg_buf *b, int fd);
void mon_shim_dns(struct mon *m, struct sbx *s);
/* Connects to the shim a monitor before us started; 0 when adopted. */
int mon_shim_adopt(struct mon *m, struct sbx *s);
/* Starts a shim for a running sandbox that has none (after a crash, or
 * after a restart of sandgated found none). */
void mon_shim_restart(struct mon *m, struct sbx *s);
void mon_shim_sweep(struct mon *m);
void mon_shim_path(struct mon *m, const char *id, char *buf, size_t size);
void mon_shim_reaped(struct mon *m, pid_t pid, int status);

/* monauth.c */
int mon_handle_auth(struct mon *m, struct mworker *w, uint8_t type,
    const uint8_t *p, size_t n);

/* monwork.c */
void mon_accept_client(struct mon *m);
void mon_worker_read(struct mon *m, struct mworker *w);
void mon_worker_reaped(struct mon *m, struct mworker *w, int status);
int mon_worker_send(struct mon *m, struct mworker *w, const struct sg_buf *b,
    int fd);
/* Sends what waits in w->ctlq (poll said POLLOUT). */
void mon_worker_flush(struct mon *m, struct mworker *w);

/* monproxy.c */
int mon_proxy_setup(struct mon *m);
void mon_proxy_poll(struct mon *m, int64_t *timeout);
void mon_proxy_read(struct mon *m);
/* START to a ready proxy, once the sandboxes are adopted from libvirt. */
void mon_proxy_start(struct mon *m);
int mon_rdv_bind(const char *path, int *ret_fd);
void mon_proxy_flush(struct mon *m);
void mon_proxy_sandbox(struct mon *m, struct sbx *s);
void mon_proxy_drop(struct mon *m, const char *id);
void mon_proxy_tokens(struct mon *m, const struct sg_tokens *t);
void mon_proxy_reaped(struct mon *m, int status);
void mon_proxy_failed(struct mon *m, const char *what, int r);
/* 1 when sandboxes must wait for the proxy's CA before their CONFIG */
int mon_proxy_need_ca(struct mon *m);

/* monctl.c */
int mon_ctl_open(struct mon *m);
void mon_ctl_accept(struct mon *m);
void mon_ctl_io(struct mon *m, struct ctlconn *c, short revents);
void mon_ctl_reap(struct mon *m);

#endif
