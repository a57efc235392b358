/*
 * probe.c: `ustack bench --probe KIND COUNT`, the workloads callgrind counts.
 *
 * Two stacks are joined by "queue links": a frame sent is appended to a FIFO
 * and moved to the other stack only when the harness says so. Instruction
 * collection (CALLGRIND_TOGGLE_COLLECT, a no-op outside valgrind) is on only
 * around the engine's own calls that belong to the figure, so the harness
 * (moving frames, filling buffers) never counts:
 *   rx    us_stack_input() of in-order full data segments at the receiver
 *         (ACK generation included), per segment;
 *   tx    us_send() of data that leaves at once as full segments, per segment;
 *   ack   us_stack_input() of those ACKs at the sender, per ACK;
 *   rr    one 1-byte round trip: send, input, recv on both sides;
 *   crr   one lifecycle: socket, connect, accept, 1-byte request/response,
 *         close (SO_LINGER 0), every call and every input on both sides.
 * The clock is virtual and advances 1 us per harness round, so no timer is
 * ever due: only the per-segment work is counted. The probe prints the
 * counts of what it measured ("segments 1000") for the caller to divide by.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef USTACK_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#define COLLECT() CALLGRIND_TOGGLE_COLLECT
#else
#define COLLECT() ((void)0)
#endif

#include "bench.h"
#include "cli.h"
#include "core/util.h"
#include "ustack/socket.h"

#define QMAX   4096
#define QFRAME (1514 + 64)

struct qlink {
    struct us_link link;
    uint8_t (*f)[QFRAME];
    uint16_t len[QMAX];
    unsigned n;
};

static int q_send(struct us_link *link, const uint8_t *frame, size_t len, us_time_t now)
{
    struct qlink *q = container_of(link, struct qlink, link);
    if (q->n >= QMAX || len > QFRAME) return -ENOBUFS;
    memcpy(q->f[q->n], frame, len);
    q->len[q->n++] = (uint16_t)len;
    return 0;
}

static const struct us_link_ops q_ops = {.send = q_send};

struct harness {
    struct us_stack *s[2];
    struct qlink q[2];
    int iface[2];
    us_time_t now;
};

/* big_buffers: 4 MiB socket buffers, as the bulk benchmark; otherwise the
 * defaults, as the rr and crr benchmarks (rings of the default sizes are
 * recycled through the stack's cache, 4 MiB ones are not). */
static void harness_init(struct harness *h, bool big_buffers)
{
    memset(h, 0, sizeof(*h));
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    if (big_buffers) {
        cfg.tcp.sndbuf = 4u << 20;
        cfg.tcp.rcvbuf = 4u << 20;
    }
    cfg.pbuf_max = 8192;
    for (int i = 0; i < 2; i++) {
        cfg.name = i ? "server" : "client";
        cfg.seed = 100 + (uint64_t)i;
        h->s[i] = us_stack_new(&cfg);
        h->q[i].link.ops = &q_ops;
        h->q[i].link.mtu = 1500;
        h->q[i].link.name = "q";
        h->q[i].f = malloc(sizeof(*h->q[i].f) * QMAX);
        struct us_iface_config ic = {.mac = {2, 0, 0, 0, 0, (uint8_t)(i + 1)},
                                     .addr = 0x0a000001u + (uint32_t)i,
                                     .prefix_len = 24};
        h->iface[i] = us_stack_add_iface(h->s[i], &h->q[i].link, &ic);
    }
    h->now = 1000000;
}

/* Moves every frame queued by stack `from` into the other; `count` turns
 * collection on around each input. Returns the frames moved. */
static unsigned deliver(struct harness *h, int from, bool count)
{
    struct qlink *q = &h->q[from];
    int to = 1 - from;
    static uint8_t(*tmp)[QFRAME];
    static uint16_t tlen[QMAX];
    if (!tmp) tmp = malloc(sizeof(*tmp) * QMAX);
    /* Inputs may send frames back into the same queue: take them first. */
    unsigned n = q->n;
    memcpy(tmp, q->f, (size_t)n * QFRAME);
    memcpy(tlen, q->len, n * sizeof(tlen[0]));
    q->n = 0;
    for (unsigned i = 0; i < n; i++) {
        if (count) COLLECT();
        us_stack_input(h->s[to], h->iface[to], tmp[i], tlen[i], h->now);
        if (count) COLLECT();
    }
    return n;
}

/* Both directions until quiet. */
static void settle(struct harness *h)
{
    for (int i = 0; i < 100 && (h->q[0].n || h->q[1].n); i++) {
        h->now++;
        deliver(h, 0, false);
        deliver(h, 1, false);
    }
}

static int connect_pair(struct harness *h, uint16_t port, int *cfd, int *sfd, int *lfd)
{
    struct us_stack *a = h->s[0], *b = h->s[1];
    int l = *lfd;
    if (l < 0) {
        l = us_socket(b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        us_bind(b, l, (struct sockaddr *)&sa, sizeof(sa));
        us_listen(b, l, 16);
        *lfd = l;
    }
    int c = us_socket(a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x0a000002u)};
    us_connect(a, c, (struct sockaddr *)&sa, sizeof(sa));
    settle(h);
    int s = us_accept4(b, l, NULL, NULL, SOCK_NONBLOCK);
    if (s < 0) return -1;
    *cfd = c;
    *sfd = s;
    return 0;
}

static uint8_t big[1 << 20];

static int probe_bulk(const char *kind, unsigned count)
{
    struct harness h;
    harness_init(&h, true);
    int c, s, l = -1;
    if (connect_pair(&h, 5001, &c, &s, &l) < 0) return 1;
    bool rx = !strcmp(kind, "rx"), tx = !strcmp(kind, "tx"), ack = !strcmp(kind, "ack");
    uint64_t segs = 0, tx_segs = 0, acks = 0, rounds = 0;
    unsigned mss = 1448; /* 1500 - 20 - 20 - 12 (timestamps) */
    /* Warm up: slow start opens the window well beyond one round's burst. */
    for (int i = 0; i < 400; i++) {
        us_send(h.s[0], c, big, 64 * mss, MSG_DONTWAIT);
        h.now += 10;
        deliver(&h, 0, false);
        while (us_recv(h.s[1], s, big, sizeof(big), MSG_DONTWAIT) > 0) {
        }
        deliver(&h, 1, false);
    }
    settle(&h);
    while (us_recv(h.s[1], s, big, sizeof(big), MSG_DONTWAIT) > 0) {
    }
    settle(&h);
    while (segs < count) {
        h.now += 10;
        /* Whole segments only, so every one is a full in-order segment. */
        if (tx) COLLECT();
        ssize_t w = us_send(h.s[0], c, big, 64 * mss, MSG_DONTWAIT);
        if (tx) COLLECT();
        if (w <= 0) return 1;
        /* What left during us_send(); anything more leaves on ACKs. */
        tx_segs += h.q[0].n;
        segs += deliver(&h, 0, rx);
        while (us_recv(h.s[1], s, big, sizeof(big), MSG_DONTWAIT) > 0) {
        }
        acks += deliver(&h, 1, ack);
        settle(&h);
        rounds++;
    }
    printf("segments %llu\ntx_segments %llu\nacks %llu\nrounds %llu\n", (unsigned long long)segs,
           (unsigned long long)tx_segs, (unsigned long long)acks, (unsigned long long)rounds);
    return 0;
}

/* Counted engine calls for rr and crr. */
static ssize_t c_send(struct us_stack *st, int fd, const void *b, size_t n)
{
    COLLECT();
    ssize_t r = us_send(st, fd, b, n, MSG_DONTWAIT);
    COLLECT();
    return r;
}

static ssize_t c_recv(struct us_stack *st, int fd, void *b, size_t n)
{
    COLLECT();
    ssize_t r = us_recv(st, fd, b, n, MSG_DONTWAIT);
    COLLECT();
    return r;
}

static int probe_rr(unsigned count)
{
    struct harness h;
    harness_init(&h, false);
    int c, s, l = -1;
    if (connect_pair(&h, 5002, &c, &s, &l) < 0) return 1;
    int one = 1;
    us_setsockopt(h.s[0], c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    us_setsockopt(h.s[1], s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t b = 'r';
    unsigned n;
    for (n = 0; n < count; n++) {
        h.now++;
        if (c_send(h.s[0], c, &b, 1) != 1) break;
        deliver(&h, 0, true);
        if (c_recv(h.s[1], s, &b, 1) != 1 || c_send(h.s[1], s, &b, 1) != 1) break;
        deliver(&h, 1, true);
        if (c_recv(h.s[0], c, &b, 1) != 1) break;
    }
    printf("round_trips %u\n", n);
    return n == count ? 0 : 1;
}

static int probe_crr(unsigned count)
{
    struct harness h;
    harness_init(&h, false);
    struct us_stack *a = h.s[0], *b = h.s[1];
    int l = us_socket(b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5003)};
    us_bind(b, l, (struct sockaddr *)&sa, sizeof(sa));
    us_listen(b, l, 128);
    sa.sin_addr.s_addr = htonl(0x0a000002u);
    /* One lifecycle outside the count resolves ARP. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    uint8_t byte = 'q';
    unsigned n;
    for (n = 0; n <= count; n++) {
        bool on = n > 0;
        h.now++;
        if (on) COLLECT();
        int c = us_socket(a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int rc = us_connect(a, c, (struct sockaddr *)&sa, sizeof(sa));
        if (on) COLLECT();
        if (c < 0 || (rc < 0 && errno != EINPROGRESS)) break;
        for (int i = 0; i < 4 && (h.q[0].n || h.q[1].n); i++) {
            deliver(&h, 0, on);
            deliver(&h, 1, on);
        }
        if (on) COLLECT();
        int s = us_accept4(b, l, NULL, NULL, SOCK_NONBLOCK);
        ssize_t w = us_send(a, c, &byte, 1, MSG_DONTWAIT);
        if (on) COLLECT();
        if (s < 0 || w != 1) break;
        deliver(&h, 0, on);
        if (on) COLLECT();
        ssize_t r1 = us_recv(b, s, &byte, 1, MSG_DONTWAIT);
        ssize_t w1 = us_send(b, s, &byte, 1, MSG_DONTWAIT);
        us_close(b, s);
        if (on) COLLECT();
        if (r1 != 1 || w1 != 1) break;
        deliver(&h, 1, on);
        if (on) COLLECT();
        ssize_t r2 = us_recv(a, c, &byte, 1, MSG_DONTWAIT);
        us_setsockopt(a, c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        us_close(a, c);
        if (on) COLLECT();
        if (r2 != 1) break;
        for (int i = 0; i < 4 && (h.q[0].n || h.q[1].n); i++) {
            deliver(&h, 0, on);
            deliver(&h, 1, on);
        }
    }
    printf("lifecycles %u\n", n ? n - 1 : 0);
    return n == count + 1 ? 0 : 1;
}

int bench_probe(int argc, char **argv)
{
    if (argc < 3) usage_error("--probe KIND COUNT (rx, tx, ack, rr, crr)");
    unsigned count = (unsigned)strtoul(argv[2], NULL, 10);
    const char *k = argv[1];
    if (!strcmp(k, "rx") || !strcmp(k, "tx") || !strcmp(k, "ack")) return probe_bulk(k, count);
    if (!strcmp(k, "rr")) return probe_rr(count);
    if (!strcmp(k, "crr")) return probe_crr(count);
    usage_error("unknown probe '%s'", k);
}
