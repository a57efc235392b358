/*
 * exec.h: running one packetdrill script against a fresh ustack stack.
 *
 * The executor plays both the script's process (system-call lines go to the
 * socket API) and the remote host (`<` lines are injected, `>` lines are
 * matched against what the stack sends), under the stack's virtual clock.
 * The rules -- addresses, time, blocking calls, aggregation, what counts as
 * an unexpected segment -- are at the top of exec.c and in docs/DESIGN.md §9.
 */
#ifndef USTACK_TOOLS_PKT_EXEC_H
#define USTACK_TOOLS_PKT_EXEC_H

#include <stdint.h>
#include <stdio.h>

#include "pkt/match.h"
#include "pkt/pkt.h"
#include "pkt/report.h"

struct pkt_exec_opts {
    enum pkt_mode mode;
    /* > 0: the tolerance for scripts that do not set --tolerance_usecs
     * themselves (packetdrill's command-line flag); 0: packetdrill's 4 ms. */
    int64_t tolerance_usecs;
    uint64_t seed; /* the stack's seed (ISNs, ports); scripts never depend on it */
    FILE *verbose; /* NULL, or where every event, frame and call is printed */
};

void pkt_exec_opts_default(struct pkt_exec_opts *o);

/* Runs `s` and fills `r` (r->path = path, r->mode = o->mode): PASS; FAIL
 * with the report (the script line, what was expected, what the stack did,
 * and the last frames); or SKIP when the script needs a feature ustack does
 * not have (report.h). */
void pkt_exec(const struct pkt_script *s, const char *path, const struct pkt_exec_opts *o,
              struct pkt_result *r);

#endif
