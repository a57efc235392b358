/*
 * bench.h: what the benchmarks share (`ustack bench`, docs/PERFORMANCE.md).
 *
 * A benchmark measures ustack and the Linux kernel with the same pattern in
 * the same run and records one `bench_entry` per figure: min/median/max of
 * several runs for each side, and the ratio of the medians oriented so that
 * a ratio above 1 means ustack is better. Entries go to the table printed at
 * the end and to the JSON file. Nothing here asserts a timing.
 */
#ifndef USTACK_BENCH_H
#define USTACK_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/stack.h"

#define BENCH_MAX_RUNS 16

/* Several runs of one figure. n == 0 means "not measured" (why says why). */
struct bench_series {
    double v[BENCH_MAX_RUNS];
    unsigned n;
};

struct bench_entry {
    char name[64];      /* "bulk/wire1/mtu1500" */
    char unit[24];      /* of both sides: "Gbit/s", "us/RT", "bytes", ... */
    bool higher_better; /* orients the ratio */
    struct bench_series us, k;
    char ref_name[24]; /* what `k` is: "kernel" unless a target or own reference */
    char note[320];
};

/* Options every benchmark sees. */
struct bench_ctx {
    bool quick;       /* a smoke run: one short run of each figure */
    unsigned runs;    /* runs per figure (1 when quick) */
    bool root;        /* namespaces and TAP devices are available */
    const char *self; /* path of the ustack binary (callgrind re-runs it) */
};

/* Adds an entry; the returned pointer stays valid until the program ends. */
struct bench_entry *bench_entry_new(const char *name, const char *unit, bool higher_better);
void series_add(struct bench_series *s, double v);
double series_median(const struct bench_series *s);
double series_min(const struct bench_series *s);
double series_max(const struct bench_series *s);

/* Each benchmark fills entries; returns 0, 1 when skipped (no root, no
 * valgrind: the reason is printed), -1 when it failed. */
int bench_bulk(const struct bench_ctx *bc);
int bench_rr(const struct bench_ctx *bc);
int bench_crr(const struct bench_ctx *bc);
int bench_tap(const struct bench_ctx *bc);
int bench_conns(const struct bench_ctx *bc);
int bench_scale(const struct bench_ctx *bc);
int bench_instructions(const struct bench_ctx *bc);
/* `ustack bench --probe NAME ...`: the workload callgrind measures. */
int bench_probe(int argc, char **argv);

/* ---- clocks, CPUs, processes ---- */

/* Monotonic microseconds / nanoseconds. */
us_time_t mono_us(void);
uint64_t mono_ns(void);
/* Pins the calling thread to `cpu` (-1: any CPU). 0 or -1. */
int pin_cpu(int cpu);
/* Resident set size of this process, bytes (from /proc/self/statm). */
size_t rss_bytes(void);

/* Runs fn(arg, out, nout) in a child process that first enters a private
 * network namespace of its own (unshare: it disappears with the child, even
 * if the child is killed), with lo up at `lo_mtu` (0: leave it) and lo's
 * offloads on or off. The child's results (up to nout doubles) come back
 * through a pipe. `limit_s` bounds the child (SIGKILL after it). Returns the
 * number of values received, or -1. */
int run_in_netns(int (*fn)(void *arg, double *out, int nout), void *arg, double *out, int nout,
                 unsigned lo_mtu, bool offloads, unsigned limit_s);
/* Sets an interface's MTU and brings it up (current namespace). 0 or -1. */
int netif_up(const char *name, unsigned mtu);
/* Turns TSO/GSO/GRO/checksum offloads of an interface on or off. */
int netif_offloads(const char *name, bool on);

/* ---- kernel figures (bench/kernel.c); each runs in the current netns ---- */

/* Bulk one-way transfer over 127.0.0.1 for `ms`; returns Gbit/s. */
double kernel_bulk(const char *dst_ip, unsigned ms, int cpu_tx, int cpu_rx);
/* Request/response of `size` bytes for `ms`; returns microseconds per
 * round trip. Both ends on one CPU when pinned, else on two. */
double kernel_rr(size_t size, unsigned ms, bool pinned);
/* connect, 1-byte request/response, close (linger 0) for `ms`; lifecycles/s. */
double kernel_crr(unsigned ms);

/* ---- ustack pairs on the in-memory wire, clock following real time ---- */

struct upair {
    struct us_wire *w;
    struct us_stack *a, *b; /* client 10.0.0.1, server 10.0.0.2 */
    int pa, pb;             /* wire ports */
};
/* Two stacks on a wire at `mtu`; sndbuf/rcvbuf become the defaults of new
 * sockets (0 keeps the stack's). NULL on failure. */
struct upair *upair_new(unsigned mtu, uint32_t sndbuf, uint32_t rcvbuf);
void upair_free(struct upair *p);
/* Moves the wire's clock to real time and delivers what is due. */
void upair_step(struct upair *p);
/* A connected pair of non-blocking sockets on port `port`: 0 or -1. */
int upair_connect(struct upair *p, uint16_t port, int *cfd, int *sfd);

/* Bulk from the client's `c` to the server's `s` for `ms`: Gbit/s. */
double upair_bulk(struct upair *p, int c, int s, unsigned ms);
/* `size`-byte round trips on c/s for `ms`: microseconds per round trip. */
double upair_rr(struct upair *p, int c, int s, size_t size, unsigned ms);

/* ---- output ---- */
/* "abcdef1" (the commit of the tree), or "unknown". */
const char *bench_commit(void);

#endif
