/* Offloads, as a TAP with the virtio-net header offers them: the link
 * finishes TCP checksums (US_LINK_F_TX_CSUM) and cuts 64 KiB frames into
 * MTU-sized segments (gso_max). The link here does in software what the
 * kernel does for a TAP (virtio_net_hdr_to_skb, tcp_gso_segment), and
 * hands the result to the other stack, which checks every checksum itself.
 * In the GRO mode frames stay whole, as the kernel's own GSO frames reach
 * a TAP reader. Deterministic: a virtual clock, frames moved by the test. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"
#include "testlib.h"
#include "ustack/link.h"
#include "ustack/socket.h"

enum mode { CUT, WHOLE, CSUM_ONLY };

#define QMAX 4096
struct qf {
    uint8_t *data;
    size_t len;
};
struct glink {
    struct us_link link;
    struct glink *peer;
    struct us_stack *s;
    int iface;
    enum mode mode;
    struct qf q[QMAX];
    unsigned n;
    /* what the link saw */
    unsigned gso_frames, partial_frames, plain_frames, delivered_big;
    size_t largest_out;
    /* Loss of cut segments, per mille, from a seeded generator: what the
     * network may do to the segments of one GSO frame. */
    unsigned loss_pm;
    uint64_t rng;
    unsigned cut_lost;
};

static uint64_t cur_seed; /* printed by every failure */

struct gpair {
    struct glink a, b;
    us_time_t now;
};

static void enqueue(struct glink *to, const uint8_t *f, size_t len)
{
    cr_assert(to->n < QMAX, "link queue full");
    to->q[to->n].data = malloc(len);
    memcpy(to->q[to->n].data, f, len);
    to->q[to->n].len = len;
    to->n++;
}

static int g_send(struct us_link *link, const uint8_t *frame, size_t len, us_time_t now)
{
    struct glink *g = container_of(link, struct glink, link);
    (void)now;
    g->plain_frames++;
    cr_assert(len <= 14 + 1500, "a plain frame above the MTU: %zu bytes", len);
    enqueue(g->peer, frame, len);
    return 0;
}

static void finish_csum(uint8_t *f, size_t len, unsigned start, unsigned off)
{
    wr16(f + start + off, csum_fold(csum_add(0, f + start, len - start)));
}

/* What a NIC (or the kernel, for a TAP) does with a TSO frame: every
 * segment gets the headers, its own sequence number, IP length and ID;
 * FIN and PSH only on the last; both checksums made afresh. */
static void cut(struct glink *g, const uint8_t *f, size_t len, const struct us_tx_offload *o)
{
    unsigned ip = 14, tcp = o->csum_start;
    unsigned hl = tcp + (unsigned)(f[tcp + 12] >> 4) * 4;
    size_t payload = len - hl;
    uint32_t seq = rd32(f + tcp + 4);
    uint16_t id = rd16(f + ip + 4);
    uint8_t flags = f[tcp + 13];
    static uint8_t seg[65536];
    for (size_t done = 0; done < payload; done += o->gso_size) {
        size_t n = payload - done < o->gso_size ? payload - done : o->gso_size;
        bool last = done + n == payload;
        memcpy(seg, f, hl);
        memcpy(seg + hl, f + hl + done, n);
        wr16(seg + ip + 2, (uint16_t)(hl - ip + n));
        wr16(seg + ip + 4, id++);
        wr16(seg + ip + 10, 0);
        wr16(seg + ip + 10, csum(seg + ip, 20));
        wr32(seg + tcp + 4, seq + (uint32_t)done);
        seg[tcp + 13] = last ? flags : (uint8_t)(flags & ~(0x01 | 0x08));
        uint32_t src = rd32(seg + ip + 12), dst = rd32(seg + ip + 16);
        wr16(seg + tcp + 16, 0);
        uint32_t sum = csum_pseudo(src, dst, 6, (uint16_t)(hl - tcp + n));
        wr16(seg + tcp + 16, csum_fold(csum_add(sum, seg + tcp, hl - tcp + n)));
        cr_assert(hl + n <= 14 + 1500, "a cut segment above the MTU");
        g->rng = g->rng * 6364136223846793005ull + 1442695040888963407ull;
        if (g->loss_pm && (g->rng >> 33) % 1000 < g->loss_pm) {
            g->cut_lost++;
            continue;
        }
        enqueue(g->peer, seg, hl + n);
    }
}

static int g_send_offload(struct us_link *link, const uint8_t *frame, size_t len,
                          const struct us_tx_offload *o, us_time_t now)
{
    struct glink *g = container_of(link, struct glink, link);
    (void)now;
    if (len > g->largest_out) g->largest_out = len;
    uint8_t *f = malloc(len);
    memcpy(f, frame, len);
    if (o->csum_start) {
        g->partial_frames++;
        cr_assert_eq(o->csum_start, 14 + 20, "TCP starts after Ethernet and IPv4");
        cr_assert_eq(o->csum_offset, 16, "the TCP checksum field");
        /* The field holds the pseudo-header sum: check that, then finish. */
        uint32_t src = rd32(f + 26), dst = rd32(f + 30);
        uint16_t want =
            (uint16_t)~csum_fold(csum_pseudo(src, dst, 6, (uint16_t)(len - o->csum_start)));
        cr_assert_eq(rd16(f + o->csum_start + o->csum_offset), want,
                     "a partial checksum holds the pseudo-header sum");
        finish_csum(f, len, o->csum_start, o->csum_offset);
    }
    if (o->gso_size) {
        g->gso_frames++;
        cr_assert(g->mode != CSUM_ONLY, "GSO on a link that does not segment");
        cr_assert(len > 14 + 1500, "a GSO frame that fits the MTU (%zu bytes)", len);
        cr_assert_leq(len, 14 + 65535);
        if (g->mode == CUT) {
            cut(g, f, len, o);
        } else {
            g->peer->delivered_big++;
            enqueue(g->peer, f, len);
        }
    } else {
        cr_assert(len <= 14 + 1500, "a frame above the MTU without GSO: %zu bytes", len);
        enqueue(g->peer, f, len);
    }
    free(f);
    return 0;
}

static const struct us_link_ops g_ops = {.send = g_send, .send_offload = g_send_offload};

/* Delivers what is queued; true if anything moved. */
static bool deliver(struct gpair *p)
{
    bool any = false;
    struct glink *ls[2] = {&p->a, &p->b};
    for (int i = 0; i < 2; i++) {
        struct glink *g = ls[i];
        unsigned n = g->n;
        g->n = 0;
        /* Frames may queue more frames while being handled: take a copy. */
        struct qf *batch = malloc(sizeof(*batch) * (n ? n : 1));
        memcpy(batch, g->q, sizeof(*batch) * n);
        for (unsigned k = 0; k < n; k++) {
            us_stack_input(g->s, g->iface, batch[k].data, batch[k].len, p->now);
            free(batch[k].data);
            any = true;
        }
        free(batch);
    }
    return any;
}

static us_time_t drv_now(void *ctx) { return ((struct gpair *)ctx)->now; }

static int drv_wait(void *ctx, us_time_t until)
{
    struct gpair *p = ctx;
    if (deliver(p)) return 0;
    us_time_t next = us_stack_poll(p->a.s, p->now);
    us_time_t nb = us_stack_poll(p->b.s, p->now);
    if (nb < next) next = nb;
    if (p->a.n || p->b.n) return 0;
    if (until < next) next = until;
    if (next == US_TIME_NEVER) return -1;
    if (next > p->now) p->now = next;
    us_stack_poll(p->a.s, p->now);
    us_stack_poll(p->b.s, p->now);
    return 0;
}

static void glink_init(struct glink *g, struct us_stack *s, enum mode m)
{
    memset(g, 0, sizeof(*g));
    g->link.ops = &g_ops;
    g->link.mtu = 1500;
    g->link.name = "gso";
    g->link.flags = US_LINK_F_TX_CSUM;
    g->link.gso_max = m == CSUM_ONLY ? 0 : 65535;
    g->mode = m;
    g->s = s;
}

static struct gpair *gpair_new(uint64_t seed, enum mode m, size_t max_mtu)
{
    struct gpair *p = calloc(1, sizeof(*p));
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.max_mtu = (unsigned)max_mtu;
    cfg.seed = seed;
    cfg.name = "a";
    struct us_stack *a = us_stack_new(&cfg);
    cfg.seed = seed + 1;
    cfg.name = "b";
    struct us_stack *b = us_stack_new(&cfg);
    cr_assert(a && b);
    glink_init(&p->a, a, m);
    glink_init(&p->b, b, m);
    p->a.peer = &p->b;
    p->b.peer = &p->a;
    struct us_iface_config ia = {.mac = {2, 0, 0, 0, 0, 1}, .addr = PAIR_A_IP, .prefix_len = 24};
    struct us_iface_config ib = {.mac = {2, 0, 0, 0, 0, 2}, .addr = PAIR_B_IP, .prefix_len = 24};
    p->a.iface = us_stack_add_iface(a, &p->a.link, &ia);
    p->b.iface = us_stack_add_iface(b, &p->b.link, &ib);
    cr_assert(p->a.iface >= 0 && p->b.iface >= 0);
    struct us_driver d = {.now = drv_now, .wait = drv_wait, .ctx = p};
    us_stack_set_driver(a, &d);
    us_stack_set_driver(b, &d);
    us_stack_start(a, 0);
    us_stack_start(b, 0);
    return p;
}

static void gpair_free(struct gpair *p)
{
    while (deliver(p)) {
    }
    us_stack_free(p->a.s);
    us_stack_free(p->b.s);
    free(p);
}

/* Every TCP frame an observer sees outbound carries a complete checksum:
 * captures show the frame as it is on the wire. */
static unsigned observed_bad;
static void obs_frame(void *ctx, struct us_stack *s, int iface, enum us_dir dir,
                      const uint8_t *f, size_t len, us_time_t now)
{
    (void)ctx, (void)s, (void)iface, (void)now;
    if (dir != US_DIR_OUT || len < 54 || rd16(f + 12) != 0x0800 || f[23] != 6) return;
    uint32_t sum = csum_pseudo(rd32(f + 26), rd32(f + 30), 6, (uint16_t)(len - 34));
    if (csum_fold(csum_add(sum, f + 34, len - 34)) != 0) observed_bad++;
}

/* A bytes one way, B bytes the other, at once; content checked. */
static void exchange(struct gpair *p, size_t n, uint64_t seed)
{
    int c, s, l;
    l = us_socket(p->b.s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 80);
    cr_assert_eq(us_bind(p->b.s, l, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(us_listen(p->b.s, l, 4), 0);
    c = us_socket(p->a.s, AF_INET, SOCK_STREAM, 0);
    int big = 1 << 20;
    us_setsockopt(p->a.s, c, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 80);
    cr_assert_eq(us_connect(p->a.s, c, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
                 strerror(errno));
    s = us_accept(p->b.s, l, NULL, NULL);
    cr_assert(s >= 0);
    us_fcntl(p->a.s, c, F_SETFL, O_NONBLOCK);
    us_fcntl(p->b.s, s, F_SETFL, O_NONBLOCK);
    uint8_t *tx = malloc(n), *rxa = malloc(n), *rxb = malloc(n);
    fill_pattern(tx, n, seed, 0);
    size_t sa_, sb_, ra = 0, rb = 0;
    sa_ = sb_ = 0;
    for (int rounds = 0; (ra < n || rb < n) && rounds < 200000; rounds++) {
        ssize_t k;
        if (sa_ < n && (k = us_send(p->a.s, c, tx + sa_, n - sa_, 0)) > 0) sa_ += (size_t)k;
        if (sb_ < n && (k = us_send(p->b.s, s, tx + sb_, n - sb_, 0)) > 0) sb_ += (size_t)k;
        if ((k = us_recv(p->b.s, s, rxb + rb, n - rb, 0)) > 0) rb += (size_t)k;
        if ((k = us_recv(p->a.s, c, rxa + ra, n - ra, 0)) > 0) ra += (size_t)k;
        if (!deliver(p)) {
            /* Nothing moving: let time pass (delayed ACKs, timers). */
            p->now += 1000;
            us_stack_poll(p->a.s, p->now);
            us_stack_poll(p->b.s, p->now);
        }
    }
    cr_assert_eq(rb, n, "a to b: %zu of %zu bytes (seed %llu)", rb, n,
                 (unsigned long long)cur_seed);
    cr_assert_eq(ra, n, "b to a: %zu of %zu bytes (seed %llu)", ra, n,
                 (unsigned long long)cur_seed);
    cr_assert(memcmp(rxb, tx, n) == 0 && memcmp(rxa, tx, n) == 0, "bytes differ (seed %llu)",
              (unsigned long long)cur_seed);
    free(tx), free(rxa), free(rxb);
    us_close(p->a.s, c);
    us_close(p->b.s, s);
    us_close(p->b.s, l);
    for (int i = 0; i < 100; i++) {
        deliver(p);
        p->now += 1000;
        us_stack_poll(p->a.s, p->now);
        us_stack_poll(p->b.s, p->now);
    }
}

static void no_bad_checksums(struct gpair *p)
{
    cr_assert_eq(us_stack_counter(p->a.s, US_C_drop_tcp_bad_csum), 0);
    cr_assert_eq(us_stack_counter(p->b.s, US_C_drop_tcp_bad_csum), 0);
    cr_assert_eq(us_stack_counter(p->a.s, US_C_drop_ip_bad_csum), 0);
    cr_assert_eq(us_stack_counter(p->b.s, US_C_drop_ip_bad_csum), 0);
}

Test(gso, the_link_cuts_64k_frames_into_checksummed_segments)
{
    unsigned seeds = test_seed_count(5);
    for (unsigned i = 0; i < seeds; i++) {
        cur_seed = test_seed(i);
        struct gpair *p = gpair_new(cur_seed, CUT, 65535);
        observed_bad = 0;
        struct us_observer ob = {.frame = obs_frame};
        us_stack_observe(p->a.s, &ob);
        exchange(p, 2 << 20, cur_seed);
        no_bad_checksums(p);
        cr_assert_gt(p->a.gso_frames, 0, "no GSO frame was sent (seed %llu)",
                     (unsigned long long)cur_seed);
        cr_assert_gt(p->a.largest_out, 30000, "GSO frames stayed small: %zu", p->a.largest_out);
        cr_assert_eq(us_stack_counter(p->a.s, US_C_eth_tx_gso), p->a.gso_frames);
        cr_assert_eq(observed_bad, 0, "the capture saw %u partial checksums", observed_bad);
        gpair_free(p);
    }
}

/* Some segments of GSO frames are lost on the way: recovery (SACK, one
 * segment at a time) fills the holes in data that left as 64 KiB frames,
 * for many seeds. */
Test(gso, lost_segments_of_gso_frames_are_recovered)
{
    unsigned seeds = test_seed_count(10);
    for (unsigned i = 0; i < seeds; i++) {
        cur_seed = test_seed(i);
        struct gpair *p = gpair_new(cur_seed, CUT, 65535);
        p->a.loss_pm = p->b.loss_pm = 10;
        p->a.rng = cur_seed * 2 + 1;
        p->b.rng = cur_seed * 2 + 2;
        exchange(p, 1 << 20, cur_seed);
        no_bad_checksums(p);
        cr_assert_gt(p->a.gso_frames, 0, "seed %llu", (unsigned long long)cur_seed);
        cr_assert_gt(p->a.cut_lost + p->b.cut_lost, 0, "nothing lost (seed %llu)",
                     (unsigned long long)cur_seed);
        cr_assert_gt(us_stack_counter(p->a.s, US_C_tcp_retransmits) +
                         us_stack_counter(p->b.s, US_C_tcp_retransmits),
                     0, "nothing was resent (seed %llu)", (unsigned long long)cur_seed);
        gpair_free(p);
    }
}

Test(gso, whole_gso_frames_are_received_like_gro)
{
    struct gpair *p = gpair_new(2, WHOLE, 65535);
    exchange(p, 2 << 20, 8);
    no_bad_checksums(p);
    cr_assert_gt(p->b.delivered_big, 0);
    cr_assert_eq(us_stack_counter(p->b.s, US_C_eth_rx_gso), p->b.delivered_big);
    cr_assert_eq(us_stack_counter(p->b.s, US_C_drop_eth_oversize), 0);
    gpair_free(p);
}

Test(gso, checksum_offload_alone_keeps_frames_to_the_mtu)
{
    struct gpair *p = gpair_new(3, CSUM_ONLY, 1500);
    exchange(p, 300000, 9);
    no_bad_checksums(p);
    cr_assert_eq(p->a.gso_frames, 0);
    cr_assert_gt(p->a.partial_frames, 100, "data segments left their checksum to the link");
    cr_assert_eq(us_stack_counter(p->a.s, US_C_eth_tx_gso), 0);
    gpair_free(p);
}

Test(gso, small_packet_buffers_bound_the_frames)
{
    /* max_mtu 1500: the packet buffers cannot hold 64 KiB, so no GSO. */
    struct gpair *p = gpair_new(4, CUT, 1500);
    exchange(p, 300000, 10);
    no_bad_checksums(p);
    cr_assert_eq(p->a.gso_frames, 0);
    gpair_free(p);
}
