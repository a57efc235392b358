/*
 * report.h: what the script runner says about each script and about a run.
 *
 * One line per script, which always names the matching mode:
 *   PASS linux/close/close-on-syn-sent.pkt (strict mode)
 *   FAIL gvisor/no_rst_to_rst.pkt (portable mode)
 *     <the failure: match.h reports, or a system call's result>
 *   SKIP freebsd/snippets/noopt-...pkt (portable mode): TCP_NOOPT (FreeBSD socket option)
 *   ERROR x.pkt: x.pkt:3:7: bad TCP flag 'X' (...)
 * then a summary with the counts, and the shell commands, sysctls, options
 * and code blocks the runner did not act on, each with the number of
 * scripts that had it. Exit status: 2 when a script did not parse, else 1
 * when one failed, else 0. A skipped script is neither a pass nor a failure:
 * it is listed with its reason and does not change the exit status.
 */
#ifndef USTACK_TOOLS_PKT_REPORT_H
#define USTACK_TOOLS_PKT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "pkt/match.h"
#include "pkt/pkt.h"

enum pkt_status {
    PKT_STATUS_PASS,
    PKT_STATUS_FAIL,
    PKT_STATUS_SKIP,
    PKT_STATUS_ERROR, /* did not parse */
};

struct pkt_result {
    const char *path; /* the caller's storage */
    enum pkt_status status;
    enum pkt_mode mode;
    char message[4096]; /* FAIL: what went wrong; SKIP: why; ERROR: file:line:col: message */
};

/* A result for a script that did not parse. */
void pkt_result_parse_error(struct pkt_result *r, const char *path, enum pkt_mode mode,
                            const struct pkt_error *err);

/* Whether the script needs something ustack does not have: IPv6, ECN (E or
 * W flags), FreeBSD's TCP_NOOPT and TCP_KEEPINIT, TCP Fast Open. Returns
 * true with the reason in `reason`. Such scripts are skipped, never passed. */
bool pkt_script_unsupported(const struct pkt_script *s, char *reason, size_t cap);

/* Calls fn for each thing in the script the runner does not act on: shell
 * commands and sysctls without a ustack setting, options it does not know,
 * and %{ }% blocks other than `assert tcpi_state == ...` (which the
 * executor checks through TCP_INFO). */
void pkt_script_ignored(const struct pkt_script *s, void (*fn)(void *ctx, const char *what),
                        void *ctx);

/* Prints the result line (and the message, indented). With `verbose` and
 * the script, also what was ignored. */
void pkt_result_print(FILE *f, const struct pkt_result *r, const struct pkt_script *s,
                      bool verbose);

struct pkt_ignored {
    char *text;
    unsigned scripts; /* how many scripts had it */
};

struct pkt_summary {
    enum pkt_mode mode;
    unsigned pass, fail, skip, error;
    struct pkt_ignored *ignored; /* in order of first appearance */
    size_t nignored, cap;
};

void pkt_summary_init(struct pkt_summary *sum, enum pkt_mode mode);
/* Counts a result and collects what its script ignored (s may be NULL). */
void pkt_summary_add(struct pkt_summary *sum, const struct pkt_result *r,
                     const struct pkt_script *s);
void pkt_summary_print(FILE *f, const struct pkt_summary *sum);
/* 2 when a script did not parse, else 1 when one failed, else 0. */
int pkt_summary_exit_status(const struct pkt_summary *sum);
void pkt_summary_free(struct pkt_summary *sum);

#endif
