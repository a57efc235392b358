/*
 * b_insn.c: instruction counts under callgrind, exact and repeatable on any
 * machine (this one has no hardware counters).
 *
 * Each figure re-runs this binary as `ustack bench --probe KIND COUNT` under
 * `valgrind --tool=callgrind --collect-atstart=no`; the probe switches
 * collection on only around the engine calls that belong to the figure
 * (probe.c). The total is divided by what the probe reports it did, and
 * callgrind_annotate's per-function self costs split it into copy
 * (memcpy/memmove), checksum (csum_*) and the rest, "engine". The kernel
 * cannot be counted this way, so the reference is the target.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define TOP_N 12

struct fn_cost {
    char name[80];
    double ir;
};

struct profile {
    double total, copy, csum;
    struct fn_cost top[TOP_N];
    unsigned n_top;
    double count; /* what the probe did: segments, round trips, ... */
};

static bool is_copy(const char *fn)
{
    return strstr(fn, "memcpy") || strstr(fn, "memmove");
}

static bool is_csum(const char *fn)
{
    return !strncmp(fn, "csum", 4);
}

/* Parses one callgrind_annotate line "  1,234 (12.3%)  file:function [obj]". */
static bool parse_line(const char *line, double *ir, char *fn, size_t fncap)
{
    const char *p = line;
    while (*p == ' ') p++;
    if (!isdigit((unsigned char)*p)) return false;
    double v = 0;
    for (; isdigit((unsigned char)*p) || *p == ','; p++)
        if (*p != ',') v = v * 10 + (*p - '0');
    const char *colon = strstr(p, ":");
    if (!colon || strstr(p, "PROGRAM TOTALS")) return false;
    const char *end = colon + 1;
    while (*end && *end != ' ' && *end != '\n') end++;
    size_t n = (size_t)(end - colon - 1);
    if (n >= fncap) n = fncap - 1;
    memcpy(fn, colon + 1, n);
    fn[n] = 0;
    *ir = v;
    return true;
}

static int run_probe(const struct bench_ctx *bc, const char *kind, unsigned count,
                     const char *count_key, struct profile *pr)
{
    memset(pr, 0, sizeof(*pr));
    char dir[] = "/tmp/ustack-cg-XXXXXX";
    if (!mkdtemp(dir)) return -1;
    char cmd[8192], out[256], cg[256];
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(cg, sizeof(cg), "%s/cg", dir);
    snprintf(cmd, sizeof(cmd),
             "timeout 120 valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=%s "
             "'%s' bench --probe %s %u >%s 2>%s/log",
             cg, bc->self, kind, count, out, dir);
    int rc = system(cmd);
    FILE *f = fopen(out, "r");
    char line[512];
    while (f && fgets(line, sizeof(line), f)) {
        char key[64];
        double v;
        if (sscanf(line, "%63s %lf", key, &v) == 2 && !strcmp(key, count_key)) pr->count = v;
    }
    if (f) fclose(f);
    if (rc != 0 || pr->count <= 0) {
        fprintf(stderr, "   probe %s failed (valgrind exit %d; see %s/log)\n", kind, rc, dir);
        return -1;
    }
    snprintf(cmd, sizeof(cmd), "callgrind_annotate --threshold=100 '%s' 2>/dev/null", cg);
    FILE *p = popen(cmd, "r");
    while (p && fgets(line, sizeof(line), p)) {
        double ir;
        char fn[80];
        if (strstr(line, "PROGRAM TOTALS")) {
            const char *q = line;
            while (*q == ' ') q++;
            double v = 0;
            for (; isdigit((unsigned char)*q) || *q == ','; q++)
                if (*q != ',') v = v * 10 + (*q - '0');
            pr->total = v;
            continue;
        }
        if (!parse_line(line, &ir, fn, sizeof(fn))) continue;
        if (is_copy(fn)) {
            pr->copy += ir;
        } else if (is_csum(fn)) {
            pr->csum += ir;
        } else if (pr->n_top < TOP_N) {
            snprintf(pr->top[pr->n_top].name, sizeof(pr->top[0].name), "%s", fn);
            pr->top[pr->n_top++].ir = ir;
        }
    }
    if (p) pclose(p);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
    }
    return pr->total > 0 ? 0 : -1;
}

static void report(struct bench_entry *e, const struct profile *pr, const char *what,
                   bool engine_only, double target)
{
    double per = (engine_only ? pr->total - pr->copy - pr->csum : pr->total) / pr->count;
    series_add(&e->us, per);
    if (target > 0) {
        series_add(&e->k, target);
        snprintf(e->ref_name, sizeof(e->ref_name), "target");
    } else {
        snprintf(e->ref_name, sizeof(e->ref_name), "none");
    }
    double eng = pr->total - pr->copy - pr->csum;
    fprintf(stderr, "   %s: %.0f instructions per %s in all: copy %.0f, checksum %.0f, rest %.0f\n",
            e->name, pr->total / pr->count, what, pr->copy / pr->count, pr->csum / pr->count,
            eng / pr->count);
    size_t off = (size_t)snprintf(e->note, sizeof(e->note),
                                  "all %.0f, copy %.0f, csum %.0f; top:", pr->total / pr->count,
                                  pr->copy / pr->count, pr->csum / pr->count);
    for (unsigned i = 0; i < pr->n_top; i++) {
        fprintf(stderr, "      %8.1f  %5.1f%%  %s\n", pr->top[i].ir / pr->count,
                100.0 * pr->top[i].ir / eng, pr->top[i].name);
        if (i < 3 && off < sizeof(e->note))
            off += (size_t)snprintf(e->note + off, sizeof(e->note) - off, " %s %.0f%%",
                                    pr->top[i].name, 100.0 * pr->top[i].ir / eng);
    }
}

int bench_instructions(const struct bench_ctx *bc)
{
    if (system("command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null") != 0) {
        fprintf(stderr, "   skipped: valgrind is not installed (scripts/deps.sh installs it)\n");
        return 1;
    }
#ifndef USTACK_HAVE_CALLGRIND
    fprintf(stderr, "   skipped: built without valgrind/callgrind.h\n");
    return 1;
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
    /* ASan's shadow memory and valgrind cannot share a process; the counts
     * come from the Release build (`make bench`). */
    fprintf(stderr, "   skipped: this build uses AddressSanitizer, which valgrind cannot run\n");
    return 1;
#endif
#endif
    unsigned segs = bc->quick ? 200 : 4000, rts = bc->quick ? 100 : 2000,
             lcs = bc->quick ? 50 : 1000;
    struct profile pr;
    struct {
        const char *name, *kind, *key, *what;
        unsigned count;
        bool engine_only;
        double target;
    } probes[] = {
        {"instructions/rx_segment", "rx", "segments", "segment", segs, true, 300},
        {"instructions/tx_segment", "tx", "tx_segments", "segment", segs, true, 0},
        {"instructions/ack_rx", "ack", "acks", "ACK", segs, true, 0},
        {"instructions/rr_1B", "rr", "round_trips", "round trip", rts, false, 2000},
        {"instructions/crr_lifecycle", "crr", "lifecycles", "lifecycle", lcs, false, 10000},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        struct bench_entry *e = bench_entry_new(probes[i].name, "instructions", false);
        if (run_probe(bc, probes[i].kind, probes[i].count, probes[i].key, &pr) < 0) {
            snprintf(e->note, sizeof(e->note), "probe failed");
            rc = -1;
            continue;
        }
        report(e, &pr, probes[i].what, probes[i].engine_only, probes[i].target);
    }
    return rc;
}
