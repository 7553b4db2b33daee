/* sg_ctlsess: a worker's authenticated SSH session as the control user
 * (`ssh sandgate@host COMMAND`, docs/control.md). Each session channel's
 * exec request is one command: the worker hands the string to the
 * monitor (SG_MP_CTL), which runs it for this token, and relays the
 * output and the exit status. Commands run one at a time, in the order
 * their channels asked; a shell request gets `help` and status 2.
 * Nothing here parses the command: the monitor does (ctlargs.h). */
#ifndef SG_CTLSESS_H
#define SG_CTLSESS_H

#include "gateway/bridge.h"

/* Runs the session to its end; never returns. Same parameters as the
 * bridge's (the session, the monitor socket, the names). */
void sg_ctlsess_run(const struct sg_bridge_params *p)
    __attribute__((noreturn));

#endif
