/*
 * b_conns.c: what idle connections cost, and whether they slow the busy one.
 *
 * conns: both ends of N established, idle connections live in this process
 * (two stacks on the wire), so the RSS delta is divided by 2N: bytes per
 * endpoint, the figure the kernel's slab accounting gives per socket. The
 * kernel: N connections over its loopback in a private namespace (one
 * process may hold 20,000 descriptors here, so N stops below 10k), and the
 * growth of /proc/slabinfo (every cache: TCP, inodes, dentries, files...)
 * divided by 2N. Then 1 M connections in one process: the time to open them
 * and the RSS to hold them.
 *
 * scale: bulk and 1-byte rr on a fresh connection of the same two stacks
 * with 1, 1k, 100k and 1M idle connections present; the reference is the
 * same figure with one connection, so the ratio shows the slowdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "socket/sock.h"
#include "tcp/tcp.h"
#include "ustack/socket.h"

#define PER_PORT   60000u /* connections per server port (ephemeral ports 1024..65535) */
#define FIRST_PORT 6000
#define MAX_PORTS  20
#define BATCH      2000u

struct idle_set {
    struct upair *p;
    int lfd[MAX_PORTS];
    unsigned made;
};

static int idle_init(struct idle_set *is)
{
    memset(is, 0, sizeof(*is));
    is->p = upair_new(1500, 0, 0);
    if (!is->p) return -1;
    for (int i = 0; i < MAX_PORTS; i++) {
        int l = us_socket(is->p->b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(FIRST_PORT + i)};
        if (l < 0 || us_bind(is->p->b, l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            us_listen(is->p->b, l, 4096) < 0)
            return -1;
        is->lfd[i] = l;
    }
    /* Resolve ARP first: an unresolved address queues only a few frames,
     * and a batch sends thousands of SYNs at once. */
    us_ping_send(is->p->a, 0x0a000002u, 1, 1, 8);
    for (int i = 0; i < 10; i++) upair_step(is->p);
    return 0;
}

/* Opens connections until `total` exist; -1 if they stop coming. */
static int idle_grow(struct idle_set *is, unsigned total)
{
    struct upair *p = is->p;
    while (is->made < total) {
        unsigned port = is->made / PER_PORT;
        if (port >= MAX_PORTS) return -1;
        unsigned n = total - is->made;
        if (n > BATCH) n = BATCH;
        if (n > PER_PORT * (port + 1) - is->made) n = PER_PORT * (port + 1) - is->made;
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons(FIRST_PORT + port),
                                .sin_addr.s_addr = htonl(0x0a000002u)};
        for (unsigned i = 0; i < n; i++) {
            int c = us_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c < 0 || (us_connect(p->a, c, (struct sockaddr *)&a, sizeof(a)) < 0 &&
                          errno != EINPROGRESS)) {
                fprintf(stderr, "   connect %u: %s\n", is->made + i, strerror(errno));
                return -1;
            }
        }
        unsigned got = 0;
        for (int spins = 0; got < n && spins < 1000; spins++) {
            upair_step(p);
            while (got < n && us_accept4(p->b, is->lfd[port], NULL, NULL, SOCK_NONBLOCK) >= 0)
                got++;
        }
        if (got < n) {
            fprintf(stderr, "   only %u of %u connections accepted\n", got, n);
            return -1;
        }
        is->made += n;
    }
    /* Let the last handshakes' ACKs and timers settle. */
    for (int i = 0; i < 10; i++) upair_step(p);
    return 0;
}

/* ---- the kernel ---- */

static double slab_bytes(void)
{
    FILE *f = fopen("/proc/slabinfo", "r");
    if (!f) return -1;
    char line[512];
    double total = 0;
    while (fgets(line, sizeof(line), f)) {
        char name[64];
        unsigned long active, num, size;
        if (sscanf(line, "%63s %lu %lu %lu", name, &active, &num, &size) == 4)
            total += (double)num * (double)size;
    }
    fclose(f);
    return total;
}

struct kconns_arg {
    unsigned n;
};

static int kconns_fn(void *arg, double *out, int nout)
{
    unsigned n = ((struct kconns_arg *)arg)->n;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(5204), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4096) < 0) return 0;
    int *fds = calloc(2 * (size_t)n, sizeof(int));
    double before = slab_bytes();
    unsigned made = 0;
    for (; made < n; made++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) break;
        int s = accept(l, NULL, NULL);
        if (s < 0) break;
        fds[2 * made] = c;
        fds[2 * made + 1] = s;
    }
    usleep(100000);
    double after = slab_bytes();
    for (unsigned i = 0; i < 2 * made; i++) close(fds[i]);
    free(fds);
    close(l);
    if (made == 0 || before < 0) return 0;
    out[0] = (after - before) / (2.0 * made);
    out[1] = made;
    return 2;
}

int bench_conns(const struct bench_ctx *bc)
{
    unsigned n = bc->quick ? 2000 : 100000;
    unsigned big = bc->quick ? 20000 : 1000000;
    struct bench_entry *e = bench_entry_new("conns/bytes_per_endpoint", "bytes", false);
    char name[64];
    snprintf(name, sizeof(name), "conns/%uk/open_time", big / 1000);
    struct bench_entry *et = bench_entry_new(name, "s", false);
    snprintf(name, sizeof(name), "conns/%uk/rss", big / 1000);
    struct bench_entry *er = bench_entry_new(name, "MiB", false);
    snprintf(et->ref_name, sizeof(et->ref_name), "none");
    snprintf(er->ref_name, sizeof(er->ref_name), "target 1 GiB/1M");
    unsigned kn = bc->quick ? 1000 : 9000;
    /* Memory is deterministic enough that fewer runs do. */
    unsigned runs = bc->runs > 3 ? 3 : bc->runs;
    for (unsigned r = 0; r < runs; r++) {
        struct idle_set is;
        /* One batch first: the wire's frame queue grows to its peak (a
         * batch of handshakes in flight) and keeps its buffers, a cost of
         * the harness that does not grow with the connections held. */
        if (idle_init(&is) < 0 || idle_grow(&is, BATCH) < 0) return -1;
        size_t rss0 = rss_bytes();
        if (idle_grow(&is, n + BATCH) < 0) return -1;
        size_t rss1 = rss_bytes();
        series_add(&e->us, (double)(rss1 - rss0) / (2.0 * n));
        upair_free(is.p);
        if (bc->root) {
            struct kconns_arg ka = {kn};
            double v[2];
            if (run_in_netns(kconns_fn, &ka, v, 2, 0, true, 60) == 2) {
                series_add(&e->k, v[0]);
                kn = (unsigned)v[1];
            }
        }
    }
    snprintf(e->note, sizeof(e->note),
             "ustack: RSS delta over %u connections / 2 endpoints each; sizeof tcb %zu, sock %zu; "
             "kernel: slab growth over %u connections (whole machine's slab, noisy)",
             n, sizeof(struct tcb), sizeof(struct sock), kn);

    /* One run of the big one: it takes a while and memory is not noisy. */
    struct idle_set is;
    size_t rss_start = rss_bytes();
    if (idle_init(&is) < 0) return -1;
    uint64_t t0 = mono_ns();
    if (idle_grow(&is, big) < 0) {
        upair_free(is.p);
        return -1;
    }
    double secs = (double)(mono_ns() - t0) / 1e9;
    double rss = (double)(rss_bytes() - rss_start) / (1u << 20);
    series_add(&et->us, secs);
    series_add(&er->us, rss);
    series_add(&er->k, 1024.0 * big / 1e6 * 2);
    snprintf(et->note, sizeof(et->note), "open %u connections (both ends in this process)", big);
    snprintf(er->note, sizeof(er->note),
             "RSS growth holding %u connections = %u endpoints (target: 1 GiB per 1M endpoints)",
             big, 2 * big);
    upair_free(is.p);
    return 0;
}

/* ---- scale ---- */

int bench_scale(const struct bench_ctx *bc)
{
    static const unsigned levels[] = {1, 1000, 100000, 1000000};
    unsigned n_levels = bc->quick ? 2 : 4;
    unsigned ms = bc->quick ? 100 : 300;
    struct idle_set is;
    if (idle_init(&is) < 0) return -1;
    struct bench_series bulk1 = {0}, rr1 = {0};
    uint16_t port = 7000;
    for (unsigned i = 0; i < n_levels; i++) {
        if (idle_grow(&is, levels[i]) < 0) {
            upair_free(is.p);
            return -1;
        }
        char name[64];
        snprintf(name, sizeof(name), "scale/bulk/%u_idle", levels[i]);
        struct bench_entry *eb = bench_entry_new(name, "Gbit/s", true);
        snprintf(name, sizeof(name), "scale/rr_1B/%u_idle", levels[i]);
        struct bench_entry *err = bench_entry_new(name, "us/RT", false);
        snprintf(eb->ref_name, sizeof(eb->ref_name), "ustack, 1 conn");
        snprintf(err->ref_name, sizeof(err->ref_name), "ustack, 1 conn");
        for (unsigned r = 0; r < bc->runs; r++) {
            int c, s;
            if (upair_connect(is.p, port++, &c, &s) < 0) break;
            series_add(&eb->us, upair_bulk(is.p, c, s, ms));
            series_add(&err->us, upair_rr(is.p, c, s, 1, ms));
            us_close(is.p->a, c);
            us_close(is.p->b, s);
            for (int k = 0; k < 10; k++) upair_step(is.p);
        }
        if (i == 0) {
            bulk1 = eb->us;
            rr1 = err->us;
        }
        eb->k = bulk1;
        err->k = rr1;
        snprintf(eb->note, sizeof(eb->note), "MTU 1500, one thread, wire; ratio <1: slower");
    }
    upair_free(is.p);
    return 0;
}
