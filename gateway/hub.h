/* sg_hub: owns the one agent connection of every sandbox.
 *
 * The hub is a process of its own, without root, forked by the monitor.
 * Guest bytes are hostile, so they are decoded here, away from the host
 * key (held by workers) and from root (the monitor). Each worker gets a
 * link to the hub per SSH connection and speaks the agent protocol over
 * it as if the hub were the agent: the hub answers HELLO and CONFIG
 * itself, maps the worker's channel ids onto the agent connection's, and
 * relays everything else after checking it (docs/architecture.md). Many
 * links may share one sandbox. Flow control stays end to end: the hub
 * relays CREDIT frames and never holds more than the credits allow. */
#ifndef SG_HUB_H
#define SG_HUB_H

#include <sys/types.h>

/* Runs the hub on mon_fd (SOCK_SEQPACKET to the monitor) until the
 * monitor goes away. Never returns. The caller has already dropped
 * privileges and closed every other descriptor. */
struct np_res;
/* res: the DNS resolver the hub serves sandboxes with (created before the
 * privileges were dropped); the hub takes it. */
void sg_hub_run(int mon_fd, struct np_res *res) __attribute__((noreturn));
/* The resolver's callbacks, for np_res_new(..., arg = NULL): they reach
 * the monitor through the hub's socket once sg_hub_run runs. */
extern const struct np_res_ops sg_hub_res_ops;

#endif
