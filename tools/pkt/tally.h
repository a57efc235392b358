/*
 * tally.h: the counts of a run per folder and per suite, and the pass rate.
 *
 * A script named "freebsd/snippets/x.pkt" counts in the folder
 * "freebsd/snippets" and in the suite "freebsd" (its first component).
 * Each result is one of: passed, an expected failure (the expectations file
 * says it fails, and it does), skipped (a feature ustack does not have), or
 * failed (unexpectedly, or with no expectations file). The pass rate is
 * passed / all scripts: a skipped script is not a pass.
 */
#ifndef USTACK_TOOLS_PKT_TALLY_H
#define USTACK_TOOLS_PKT_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "pkt/match.h"
#include "pkt/report.h"

struct pkt_tally_row {
    char *name;
    unsigned pass, xfail, skip, fail, error;
};

struct pkt_tally {
    enum pkt_mode mode;
    struct pkt_tally_row *folders, *suites;
    size_t nfolders, nsuites, cap_folders, cap_suites;
    struct pkt_tally_row all;
};

void pkt_tally_init(struct pkt_tally *t, enum pkt_mode mode);
/* Counts one result; `expected_failure` when the expectations file says
 * this script fails in this mode and it did. */
void pkt_tally_add(struct pkt_tally *t, const char *script, enum pkt_status st,
                   bool expected_failure);
/* The table: one row per folder, then per suite, then the pass rate. */
void pkt_tally_print(FILE *f, const struct pkt_tally *t);
void pkt_tally_free(struct pkt_tally *t);

#endif
