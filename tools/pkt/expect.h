/*
 * expect.h: the expectations file: what each script is expected to do in
 * each matching mode, so a run can tell a regression (a passing script that
 * fails) and a fix (an expected failure that passes) from the known state.
 *
 * Tab-separated text, one line per script and mode; `#` starts a comment:
 *
 *   gvisor/sanity_test.pkt<TAB>strict<TAB>pass
 *   freebsd/snd-syn/snd-syn-with-ecn-ipv4.pkt<TAB>portable<TAB>skip<TAB>feature: ECN
 *   freebsd/.../x.pkt<TAB>strict<TAB>fail<TAB>home: FreeBSD's SYN option order
 *
 * The script is named relative to the suites' root (the runner's --root).
 * The expected result is pass, fail or skip; fail and skip need a one-line
 * reason, which starts with its class:
 *   feature:  ustack does not have what the script tests (IPv6, ECN, ...);
 *   home:     the script follows its home system where the RFC allows
 *             another choice (FreeBSD's buffer arithmetic, Linux's TLP, ...);
 *   bug:      a ustack bug, with the issue it belongs to;
 *   runner:   the script needs something of packetdrill the runner does
 *             not do, or does differently (said how).
 */
#ifndef USTACK_TOOLS_PKT_EXPECT_H
#define USTACK_TOOLS_PKT_EXPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "pkt/match.h"
#include "pkt/report.h"

struct pkt_expectation {
    char *script;
    enum pkt_mode mode;
    enum pkt_status status; /* PASS, FAIL or SKIP */
    char *reason;           /* NULL for pass */
    unsigned line;
    bool seen; /* a run produced a result for it */
};

struct pkt_expectations {
    struct pkt_expectation *e;
    size_t n, cap;
};

/* Reads `path`. Returns 0, or -1 with "path:line: what is wrong" in err. */
int pkt_expect_load(const char *path, struct pkt_expectations *x, char *err, size_t errlen);
/* The same from text in memory (`name` for messages). */
int pkt_expect_parse(const char *name, const char *text, struct pkt_expectations *x, char *err,
                     size_t errlen);
void pkt_expect_free(struct pkt_expectations *x);

/* The entry for (script, mode), or NULL. */
struct pkt_expectation *pkt_expect_find(struct pkt_expectations *x, const char *script,
                                        enum pkt_mode mode);

enum pkt_verdict_vs_expectation {
    PKT_AS_EXPECTED,
    PKT_REGRESSION,      /* expected to pass (or be skipped), did not */
    PKT_UNEXPECTED_PASS, /* an expected failure or skip passed: update the file */
    PKT_CHANGED,         /* another difference (fail <-> skip) */
    PKT_UNLISTED,        /* the file does not list the script in this mode */
};
/* Compares a result with its expectation (NULL: unlisted). */
enum pkt_verdict_vs_expectation pkt_expect_compare(const struct pkt_expectation *e,
                                                   const struct pkt_result *r);

#endif
