/*
 * testlib.c: see testlib.h.
 */
#include "testlib.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"

const uint8_t SOLO_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};

static int cap_send(struct us_link *link, const uint8_t *frame, size_t len, us_time_t now)
{
    struct cap_link *c = container_of(link, struct cap_link, link);
    cr_assert(c->n < CAP_MAX,
              "the capture link is full: pop frames (seg_out/cap_pop) as the test goes");
    c->f[c->n].data = malloc(len);
    memcpy(c->f[c->n].data, frame, len);
    c->f[c->n].len = len;
    c->f[c->n].time = now;
    c->n++;
    return 0;
}

static const struct us_link_ops cap_ops = {.send = cap_send};

void cap_init(struct cap_link *c, unsigned mtu)
{
    memset(c, 0, sizeof(*c));
    c->link.ops = &cap_ops;
    c->link.mtu = mtu;
    c->link.name = "cap";
}

void cap_clear(struct cap_link *c)
{
    for (unsigned i = 0; i < c->n; i++) free(c->f[i].data);
    c->n = 0;
    c->next = 0;
}

const struct cap_frame *cap_pop(struct cap_link *c)
{
    if (c->next < c->n) return &c->f[c->next++];
    /* Everything was read: make room for what comes next. */
    cap_clear(c);
    return NULL;
}

struct solo *solo_new(uint64_t seed)
{
    struct solo *t = calloc(1, sizeof(*t));
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.seed = seed;
    cfg.name = "solo";
    /* No real peer answers ARP here: the learned entry must outlive the
     * test (keepalive and TIME-WAIT tests run for minutes). */
    cfg.arp_timeout = US_SEC(86400 * 365);
    t->s = us_stack_new(&cfg);
    cr_assert(t->s);
    cap_init(&t->cap, 1500);
    struct us_iface_config ic = {.addr = SOLO_IP, .prefix_len = 24};
    memcpy(ic.mac, SOLO_MAC, 6);
    t->iface = us_stack_add_iface(t->s, &t->cap.link, &ic);
    cr_assert(t->iface >= 0);
    return t;
}

void solo_free(struct solo *t)
{
    cr_expect_eq(us_stack_teardown(t->s), 0, "resources leaked");
    us_stack_free(t->s);
    cap_clear(&t->cap);
    free(t);
}

void solo_learn_peer(struct solo *t)
{
    uint8_t f[64];
    size_t n = build_arp(f, 2, PEER_MAC, PEER_IP, SOLO_MAC, SOLO_IP);
    us_stack_input(t->s, t->iface, f, n, us_stack_now(t->s));
    cap_clear(&t->cap);
}

size_t build_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    wr16(f + 12, type);
    return 14;
}

size_t build_arp(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
                 uint32_t tpa)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    build_eth(f, op == 1 ? bcast : tha, sha, 0x0806);
    uint8_t *a = f + 14;
    wr16(a, 1);
    wr16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    wr16(a + 6, op);
    memcpy(a + 8, sha, 6);
    wr32(a + 14, spa);
    memcpy(a + 18, tha, 6);
    wr32(a + 24, tpa);
    return 14 + 28;
}

void ipv4_fix_csum(uint8_t *frame)
{
    uint8_t *ip = frame + 14;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    wr16(ip + 10, 0);
    wr16(ip + 10, csum(ip, ihl));
}

size_t build_ipv4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
                  size_t l4len)
{
    build_eth(f, SOLO_MAC, PEER_MAC, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(20 + l4len));
    wr16(ip + 4, 0x1234);
    wr16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = proto;
    wr32(ip + 12, src);
    wr32(ip + 16, dst);
    memcpy(ip + 20, l4, l4len);
    ipv4_fix_csum(f);
    return 14 + 20 + l4len;
}

size_t build_icmp_echo(uint8_t *f, uint32_t src, uint32_t dst, uint8_t type, uint16_t id,
                       uint16_t seq, size_t payload)
{
    uint8_t m[1600];
    m[0] = type;
    m[1] = 0;
    wr16(m + 2, 0);
    wr16(m + 4, id);
    wr16(m + 6, seq);
    for (size_t i = 0; i < payload; i++) m[8 + i] = (uint8_t)i;
    wr16(m + 2, csum(m, 8 + payload));
    return build_ipv4(f, src, dst, 1, m, 8 + payload);
}

struct pair *pair_new_mtu(uint64_t seed, const struct us_faults *fa, const struct us_faults *fb,
                          unsigned mtu, const struct us_stack_config *base)
{
    struct pair *p = calloc(1, sizeof(*p));
    p->seed = seed;
    p->w = us_wire_new(seed);
    struct us_stack_config cfg;
    if (base)
        cfg = *base;
    else
        us_stack_config_default(&cfg);
    if (cfg.max_mtu < mtu) cfg.max_mtu = mtu;
    cfg.name = "client";
    cfg.seed = seed * 2 + 1;
    p->a = us_stack_new(&cfg);
    cfg.name = "server";
    cfg.seed = seed * 2 + 2;
    p->b = us_stack_new(&cfg);
    cr_assert(p->a && p->b);
    struct us_iface_config ia = {
        .mac = {2, 0, 0, 0, 0, 1}, .addr = PAIR_A_IP, .prefix_len = 24, .mtu = mtu};
    struct us_iface_config ib = {
        .mac = {2, 0, 0, 0, 0, 2}, .addr = PAIR_B_IP, .prefix_len = 24, .mtu = mtu};
    p->pa = us_wire_attach(p->w, p->a, &ia);
    p->pb = us_wire_attach(p->w, p->b, &ib);
    cr_assert(p->pa >= 0 && p->pb >= 0);
    if (fa) us_wire_set_faults(p->w, p->pa, fa);
    if (fb) us_wire_set_faults(p->w, p->pb, fb);
    return p;
}

struct pair *pair_new(uint64_t seed, const struct us_faults *fa, const struct us_faults *fb)
{
    return pair_new_mtu(seed, fa, fb, 1500, NULL);
}

void pair_free(struct pair *p)
{
    cr_expect_eq(us_stack_counter(p->a, US_C_tcp_bad_transitions), 0,
                 "client made a transition outside RFC 9293's diagram (seed %llu)",
                 (unsigned long long)p->seed);
    cr_expect_eq(us_stack_counter(p->b, US_C_tcp_bad_transitions), 0,
                 "server made a transition outside RFC 9293's diagram (seed %llu)",
                 (unsigned long long)p->seed);
    cr_expect_eq(us_stack_teardown(p->a), 0, "client leaked resources (seed %llu)",
                 (unsigned long long)p->seed);
    cr_expect_eq(us_stack_teardown(p->b), 0, "server leaked resources (seed %llu)",
                 (unsigned long long)p->seed);
    us_stack_free(p->a);
    us_stack_free(p->b);
    us_wire_free(p->w);
    free(p);
}

unsigned test_seed_count(unsigned dflt)
{
    if (getenv("USTACK_SEED")) return 1;
    const char *n = getenv("USTACK_SEEDS");
    if (n && atoi(n) > 0) return (unsigned)atoi(n);
    return dflt;
}

uint64_t test_seed(unsigned i)
{
    const char *one = getenv("USTACK_SEED");
    if (one) return strtoull(one, NULL, 0);
    return 1000 + i;
}

/* ---- recorder ---- */

#include <stdio.h>

#include "ustack/socket.h"

static void rec_add(struct recorder *r, us_time_t t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rec_add(struct recorder *r, us_time_t t, const char *fmt, ...)
{
    if (r->n >= REC_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->ev[r->n].text, sizeof(r->ev[r->n].text), fmt, ap);
    va_end(ap);
    r->ev[r->n].time = t;
    r->n++;
}

static void tcp_desc(const uint8_t *f, size_t len, char *out, size_t cap, size_t *plen)
{
    *plen = 0;
    out[0] = 0;
    if (len < 14 + 20 || rd16(f + 12) != 0x0800 || f[14 + 9] != 6) return;
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    size_t total = rd16(ip + 2);
    const uint8_t *t = ip + ihl;
    size_t off = (size_t)(t[12] >> 4) * 4;
    *plen = total - ihl - off;
    static const char fl[] = "FSRP.UEW";
    int n = 0;
    for (int i = 0; i < 8; i++)
        if (t[13] & (1 << i)) out[n++] = fl[i];
    out[n] = 0;
}

static void rec_wire(void *ctx, const struct us_wire_event *ev)
{
    struct recorder *r = ctx;
    char flags[16];
    size_t plen;
    if (ev->kind == US_WIRE_SEND) {
        tcp_desc(ev->frame, ev->len, flags, sizeof(flags), &plen);
        if (!flags[0]) return;
        const char *who = ev->from == r->p->pa ? "c" : "s";
        if (plen)
            rec_add(r, ev->time, "%s %s %zu", who, flags, plen);
        else
            rec_add(r, ev->time, "%s %s", who, flags);
    } else if (ev->kind == US_WIRE_DROP && r->with_lost) {
        tcp_desc(ev->frame, ev->len, flags, sizeof(flags), &plen);
        if (flags[0]) rec_add(r, ev->time, "(lost)");
    }
}

static void rec_state(void *ctx, struct us_stack *s, const struct us_state_event *ev)
{
    struct recorder *r = ctx;
    rec_add(r, ev->time, "%s %s", us_stack_name(s), us_tcp_state_name(ev->to));
}

struct recorder *recorder_attach(struct pair *p)
{
    struct recorder *r = calloc(1, sizeof(*r));
    r->p = p;
    r->with_states = true;
    us_wire_observe(p->w, rec_wire, r);
    struct us_observer o = {.state = rec_state, .ctx = r};
    us_stack_observe(p->a, &o);
    us_stack_observe(p->b, &o);
    return r;
}

void recorder_detach(struct recorder *r)
{
    us_wire_unobserve(r->p->w, r);
    us_stack_unobserve(r->p->a, r);
    us_stack_unobserve(r->p->b, r);
    free(r);
}

void recorder_clear(struct recorder *r)
{
    r->n = 0;
}

static const char *join(struct recorder *r, char *buf, size_t cap, int mode, const char *who)
{
    size_t n = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < r->n; i++) {
        const char *t = r->ev[i].text;
        bool is_seg = (t[0] == 'c' || t[0] == 's' || t[0] == '(') && t[1] == ' ';
        if (t[0] == '(') is_seg = true;
        if (mode == 1 && !is_seg) continue;
        if (mode == 2) {
            if (is_seg || strncmp(t, who, strlen(who)) != 0) continue;
            t += strlen(who) + 1;
        }
        int w = snprintf(buf + n, cap - n, "%s%s", n ? "|" : "", t);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
    return buf;
}

const char *recorder_str(struct recorder *r, char *buf, size_t cap)
{
    return join(r, buf, cap, 0, NULL);
}
const char *recorder_segments(struct recorder *r, char *buf, size_t cap)
{
    return join(r, buf, cap, 1, NULL);
}
const char *recorder_states(struct recorder *r, const char *who, char *buf, size_t cap)
{
    return join(r, buf, cap, 2, who);
}

void recorder_dump(struct recorder *r)
{
    for (unsigned i = 0; i < r->n; i++)
        fprintf(stderr, "  %10.6f %s\n", (double)r->ev[i].time / 1e6, r->ev[i].text);
}

/* ---- TCP helpers ---- */

struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(ip);
    a.sin_port = htons(port);
    return a;
}

void tcp_connect_pair(struct pair *p, uint16_t port, int *cfd, int *sfd, int *lfd)
{
    int l = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    cr_assert(l >= 0);
    struct sockaddr_in a = sin_of(0, port);
    cr_assert_eq(us_bind(p->b, l, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s",
                 strerror(errno));
    cr_assert_eq(us_listen(p->b, l, 16), 0);
    int c = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    cr_assert(c >= 0);
    struct sockaddr_in sa = sin_of(PAIR_B_IP, port);
    cr_assert_eq(us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)), 0,
                 "connect: %s (seed %llu)", strerror(errno), (unsigned long long)p->seed);
    int s = us_accept(p->b, l, NULL, NULL);
    cr_assert(s >= 0, "accept: %s", strerror(errno));
    *cfd = c;
    *sfd = s;
    if (lfd)
        *lfd = l;
    else
        us_close(p->b, l);
}

void fill_pattern(uint8_t *buf, size_t len, uint64_t seed, size_t offset)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t x = (offset + i) * 0x9e3779b97f4a7c15ull ^ seed;
        x ^= x >> 29;
        buf[i] = (uint8_t)(x * 0xbf58476d1ce4e5b9ull >> 56);
    }
}

/* ---- bulk transfer ---- */

#include <sodium.h>

struct stream {
    size_t total, sent, rcvd;
    crypto_hash_sha256_state tx, rx;
    uint64_t pat; /* pattern seed */
    bool eof_seen, shut;
};

static void stream_init(struct stream *st, size_t total, uint64_t pat)
{
    memset(st, 0, sizeof(*st));
    st->total = total;
    st->pat = pat;
    crypto_hash_sha256_init(&st->tx);
    crypto_hash_sha256_init(&st->rx);
}

/* Pushes what the socket takes; false on an unexpected error. */
static bool pump_send(struct us_stack *s, int fd, struct stream *st, char *why, size_t wl)
{
    static uint8_t chunk[65536];
    while (st->sent < st->total) {
        size_t n = st->total - st->sent;
        if (n > sizeof(chunk)) n = sizeof(chunk);
        fill_pattern(chunk, n, st->pat, st->sent);
        ssize_t w = us_send(s, fd, chunk, n, MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN) return true;
            snprintf(why, wl, "send: %s after %zu bytes", strerror(errno), st->sent);
            return false;
        }
        crypto_hash_sha256_update(&st->tx, chunk, (unsigned long long)w);
        st->sent += (size_t)w;
    }
    if (!st->shut) {
        us_shutdown(s, fd, SHUT_WR);
        st->shut = true;
    }
    return true;
}

static bool pump_recv(struct us_stack *s, int fd, struct stream *st, char *why, size_t wl)
{
    static uint8_t buf[65536], want[65536];
    for (;;) {
        ssize_t n = us_recv(s, fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN) return true;
            snprintf(why, wl, "recv: %s after %zu bytes", strerror(errno), st->rcvd);
            return false;
        }
        if (n == 0) {
            st->eof_seen = true;
            return true;
        }
        fill_pattern(want, (size_t)n, st->pat, st->rcvd);
        if (memcmp(buf, want, (size_t)n) != 0) {
            size_t k = 0;
            while (buf[k] == want[k]) k++;
            snprintf(why, wl, "byte %zu of the stream is wrong", st->rcvd + k);
            return false;
        }
        if (st->rcvd + (size_t)n > st->total) {
            snprintf(why, wl, "received more than was sent");
            return false;
        }
        crypto_hash_sha256_update(&st->rx, buf, (unsigned long long)n);
        st->rcvd += (size_t)n;
    }
}

static void set_int(struct us_stack *s, int fd, int level, int name, int v)
{
    us_setsockopt(s, fd, level, name, &v, sizeof(v));
}

struct xfer_result xfer_run(uint64_t seed, const struct us_faults *fa, const struct us_faults *fb,
                            const struct xfer_opts *o)
{
    struct xfer_result res = {0};
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    if (o->sack_off) cfg.tcp.sack = false;
    if (o->ts_off) cfg.tcp.timestamps = false;
    if (o->ws_off) cfg.tcp.window_scaling = false;
    if (o->no_prediction) cfg.tcp.header_prediction = false;
    if (o->cc) cfg.tcp.congestion = o->cc;
    cfg.tcp.isn_fixed = o->isn;
    unsigned mtu = o->mtu ? o->mtu : 1500;
    struct pair *p = pair_new_mtu(seed, NULL, NULL, mtu, &cfg);
    /* USTACK_TRACE=1 prints every frame each stack sends and every state
     * change: the first thing to look at when a seed fails. */
    struct us_text_trace *tr = NULL;
    struct us_state_log *sl = NULL;
    if (getenv("USTACK_TRACE")) {
        tr = us_text_trace_new(stderr, US_TRACE_DIR);
        sl = us_state_log_new(stderr);
        struct us_observer to = us_text_trace_observer(tr);
        struct us_observer so = us_state_log_observer(sl);
        us_stack_observe(p->a, &to);
        us_stack_observe(p->b, &to);
        us_stack_observe(p->a, &so);
        us_stack_observe(p->b, &so);
    }
    struct us_pcap *pc = NULL;
    if (o->pcap) {
        char err[256];
        pc = us_pcap_open(o->pcap, err, sizeof(err));
        cr_assert(pc, "%s", err);
        struct us_observer po = us_pcap_observer_out(pc);
        us_stack_observe(p->a, &po);
        us_stack_observe(p->b, &po);
    }
    /* Faults start after ARP so the handshake can be lossy too but ARP
     * is not the subject here. */
    us_ping_send(p->a, PAIR_B_IP, 1, 1, 8);
    us_wire_run_for(p->w, US_MSEC(10));
    if (fa) us_wire_set_faults(p->w, p->pa, fa);
    if (fb) us_wire_set_faults(p->w, p->pb, fb);

    /* A non-blocking listener: the server accepts inside the loop, while
     * the client already sends. Under heavy loss every ACK of the SYN-ACK
     * can be lost (seed 1301 at 20%); the client's data then completes the
     * handshake, as it does between real stacks, where a blocking accept
     * before any data would wait for nothing. */
    int l = us_socket(p->b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (o->rcvbuf) set_int(p->b, l, SOL_SOCKET, SO_RCVBUF, (int)o->rcvbuf);
    if (o->sndbuf) set_int(p->b, l, SOL_SOCKET, SO_SNDBUF, (int)o->sndbuf);
    struct sockaddr_in a = sin_of(0, 5001);
    us_bind(p->b, l, (struct sockaddr *)&a, sizeof(a));
    us_listen(p->b, l, 4);
    int c = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    if (o->rcvbuf) set_int(p->a, c, SOL_SOCKET, SO_RCVBUF, (int)o->rcvbuf);
    if (o->sndbuf) set_int(p->a, c, SOL_SOCKET, SO_SNDBUF, (int)o->sndbuf);
    us_time_t t0 = us_wire_now(p->w);
    us_time_t limit = t0 + (o->limit ? o->limit : US_SEC(3600));
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 5001);
    if (us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(res.why, sizeof(res.why), "connect: %s", strerror(errno));
        goto out;
    }
    int s = -1;
    struct stream ab, ba;
    stream_init(&ab, o->a_to_b, seed * 31 + 1);
    stream_init(&ba, o->b_to_a, seed * 31 + 2);
    for (;;) {
        char *why = res.why;
        size_t wl = sizeof(res.why);
        if (s < 0) {
            s = us_accept(p->b, l, NULL, NULL);
            if (s < 0 && errno != EAGAIN) {
                snprintf(why, wl, "accept: %s", strerror(errno));
                break;
            }
        }
        if (!pump_send(p->a, c, &ab, why, wl) || !pump_recv(p->a, c, &ba, why, wl)) break;
        if (s >= 0 && (!pump_send(p->b, s, &ba, why, wl) || !pump_recv(p->b, s, &ab, why, wl)))
            break;
        if (ab.eof_seen && ba.eof_seen) {
            if (ab.rcvd != ab.total || ba.rcvd != ba.total) {
                snprintf(why, wl, "EOF after %zu of %zu / %zu of %zu bytes", ab.rcvd, ab.total,
                         ba.rcvd, ba.total);
                break;
            }
            uint8_t h1[32], h2[32], h3[32], h4[32];
            crypto_hash_sha256_final(&ab.tx, h1);
            crypto_hash_sha256_final(&ab.rx, h2);
            crypto_hash_sha256_final(&ba.tx, h3);
            crypto_hash_sha256_final(&ba.rx, h4);
            if (memcmp(h1, h2, 32) || memcmp(h3, h4, 32)) {
                snprintf(why, wl, "SHA-256 differs");
                break;
            }
            res.ok = true;
            break;
        }
        if (us_wire_now(p->w) >= limit) {
            snprintf(why, wl, "stalled: %zu/%zu and %zu/%zu bytes after %.1f s of virtual time",
                     ab.rcvd, ab.total, ba.rcvd, ba.total, (double)(us_wire_now(p->w) - t0) / 1e6);
            break;
        }
        if (!us_wire_step(p->w, limit)) {
            snprintf(why, wl, "deadlock: nothing scheduled with %zu/%zu and %zu/%zu bytes", ab.rcvd,
                     ab.total, ba.rcvd, ba.total);
            break;
        }
    }
    res.elapsed = us_wire_now(p->w) - t0;
    socklen_t il = sizeof(res.ia);
    us_getsockopt(p->a, c, IPPROTO_TCP, TCP_INFO, &res.ia, &il);
    il = sizeof(res.ib);
    if (s >= 0) us_getsockopt(p->b, s, IPPROTO_TCP, TCP_INFO, &res.ib, &il);
    if (!res.ok) {
        const struct us_tcp_info *in[2] = {&res.ia, &res.ib};
        for (int k = 0; k < 2; k++)
            fprintf(stderr,
                    "  %s: state %s ca %u cwnd %u ssthresh %u snd_wnd %u rcv_wnd %u unacked %u "
                    "sacked %u rto %u backoff %u retrans %u fast %u rtos %u mss %u\n",
                    k ? "server" : "client", us_tcp_state_name(in[k]->state), in[k]->ca_state,
                    in[k]->snd_cwnd, in[k]->snd_ssthresh, in[k]->snd_wnd, in[k]->rcv_wnd,
                    in[k]->unacked, in[k]->sacked, in[k]->rto, in[k]->backoff, in[k]->total_retrans,
                    in[k]->fast_retrans, in[k]->rto_count, in[k]->snd_mss);
        for (int k = 0; k < 2; k++) {
            struct us_stack *st = k ? p->b : p->a;
            fprintf(stderr, "  %s counters:", us_stack_name(st));
            for (int c2 = 0; c2 < US_C__COUNT; c2++)
                if (us_stack_counter(st, c2))
                    fprintf(stderr, " %s=%llu", us_counter_name(c2),
                            (unsigned long long)us_stack_counter(st, c2));
            fprintf(stderr, " pbufs=%u\n", us_stack_pbufs_in_use(st));
        }
    }
    us_close(p->a, c);
    if (s >= 0) us_close(p->b, s);
    /* Let the closes finish so leak checks see a quiet stack. */
    us_wire_run_for(p->w, US_SEC(200));
out:
    res.retransmits =
        us_stack_counter(p->a, US_C_tcp_retransmits) + us_stack_counter(p->b, US_C_tcp_retransmits);
    res.rto =
        us_stack_counter(p->a, US_C_tcp_rto_expired) + us_stack_counter(p->b, US_C_tcp_rto_expired);
    res.fast_retransmits = us_stack_counter(p->a, US_C_tcp_fast_retransmits) +
                           us_stack_counter(p->b, US_C_tcp_fast_retransmits);
    for (int i = 0; i < 2; i++) {
        struct us_stack *st = i ? p->b : p->a;
        res.predicted += us_stack_counter(st, US_C_tcp_predicted_acks) +
                         us_stack_counter(st, US_C_tcp_predicted_data);
        res.segments_in += us_stack_counter(st, US_C_tcp_rx);
    }
    us_close(p->b, l);
    pair_free(p);
    us_pcap_close(pc);
    us_text_trace_free(tr);
    us_state_log_free(sl);
    return res;
}

/* ---- speaking TCP segments at one stack ---- */

#include "tcp/tcp.h"
#include "ustack/trace.h"

void seg_in(struct solo *t, uint16_t dport, const struct tseg *sg)
{
    uint8_t tcp[1600];
    uint8_t *o = tcp + 20;
    size_t ol = 0;
    if (sg->mss_on) {
        o[ol++] = 2;
        o[ol++] = 4;
        wr16(o + ol, sg->mss);
        ol += 2;
    }
    if (sg->sack_ok) {
        o[ol++] = 1;
        o[ol++] = 1;
        o[ol++] = 4;
        o[ol++] = 2;
    }
    if (sg->ts_on) {
        o[ol++] = 1;
        o[ol++] = 1;
        o[ol++] = 8;
        o[ol++] = 10;
        wr32(o + ol, sg->ts_val);
        wr32(o + ol + 4, sg->ts_ecr);
        ol += 8;
    }
    if (sg->n_sack) {
        o[ol++] = 1;
        o[ol++] = 1;
        o[ol++] = 5;
        o[ol++] = (uint8_t)(2 + 8 * sg->n_sack);
        for (unsigned i = 0; i < sg->n_sack; i++) {
            wr32(o + ol, sg->sack[i][0]);
            wr32(o + ol + 4, sg->sack[i][1]);
            ol += 8;
        }
    }
    if (sg->ws_on) {
        o[ol++] = 1;
        o[ol++] = 3;
        o[ol++] = 3;
        o[ol++] = sg->ws;
    }
    while (ol % 4) o[ol++] = 0;
    size_t hl = 20 + ol;
    wr16(tcp, sg->sport ? sg->sport : PEER_PORT);
    wr16(tcp + 2, dport);
    wr32(tcp + 4, sg->seq);
    wr32(tcp + 8, sg->ack);
    tcp[12] = (uint8_t)((hl / 4) << 4);
    tcp[13] = sg->flags;
    wr16(tcp + 14, sg->wnd);
    wr16(tcp + 16, 0);
    wr16(tcp + 18, 0);
    if (sg->len) memcpy(tcp + hl, sg->data, sg->len);
    size_t total = hl + sg->len;
    uint32_t sum = csum_pseudo(PEER_IP, SOLO_IP, 6, (uint16_t)total);
    wr16(tcp + 16, csum_fold(csum_add(sum, tcp, total)));
    uint8_t f[1700];
    size_t n = build_ipv4(f, PEER_IP, SOLO_IP, 6, tcp, total);
    us_stack_input(t->s, t->iface, f, n, us_stack_now(t->s));
}

bool seg_out(struct solo *t, struct tseg *out)
{
    const struct cap_frame *f;
    while ((f = cap_pop(&t->cap))) {
        if (f->len < 14 + 20 + 20 || rd16(f->data + 12) != 0x0800 || f->data[14 + 9] != 6) continue;
        const uint8_t *ip = f->data + 14;
        size_t ihl = (size_t)(ip[0] & 0xf) * 4;
        size_t total = rd16(ip + 2);
        const uint8_t *h = ip + ihl;
        size_t off = (size_t)(h[12] >> 4) * 4;
        memset(out, 0, sizeof(*out));
        out->ip_len = total;
        out->sport = rd16(h);
        out->dport = rd16(h + 2);
        out->seq = rd32(h + 4);
        out->ack = rd32(h + 8);
        out->flags = h[13];
        out->wnd = rd16(h + 14);
        out->len = (uint32_t)(total - ihl - off);
        out->data = h + off;
        struct tcp_opts o;
        cr_assert(tcp_parse_options(h + 20, off - 20, h[13] & TH_SYN, &o), "bad options sent");
        out->mss_on = o.has_mss;
        out->mss = o.mss;
        out->ws_on = o.has_ws;
        out->ws = o.wscale;
        out->sack_ok = o.sack_ok;
        out->ts_on = o.has_ts;
        out->ts_val = o.ts_val;
        out->ts_ecr = o.ts_ecr;
        out->n_sack = o.n_sack;
        for (unsigned i = 0; i < o.n_sack; i++) {
            out->sack[i][0] = o.sack[i].left;
            out->sack[i][1] = o.sack[i].right;
        }
        /* The option list as tcpdump prints it. */
        char line[512];
        us_trace_format(line, sizeof(line), f->data, f->len, NULL);
        const char *p = strstr(line, "options [");
        if (p) {
            p += 9;
            const char *e = strchr(p, ']');
            size_t l = e ? (size_t)(e - p) : 0;
            if (l >= sizeof(out->optstr)) l = sizeof(out->optstr) - 1;
            memcpy(out->optstr, p, l);
            out->optstr[l] = 0;
        }
        return true;
    }
    return false;
}

void solo_advance(struct solo *t, us_time_t when)
{
    for (;;) {
        us_time_t next = us_stack_next_timer(t->s);
        if (next > when) break;
        us_stack_poll(t->s, next);
    }
    us_stack_poll(t->s, when);
}

static us_time_t solo_drv_now(void *ctx)
{
    return us_stack_now(ctx);
}
static int solo_drv_wait(void *ctx, us_time_t until)
{
    /* A solo stack has no peer to wait for: blocking calls fail at once. */
    return -1;
}

int solo_accept_conn_l(struct solo *t, uint16_t port, uint32_t peer_isn, const struct tseg *syn,
                       uint32_t *stack_isn, int *lfd)
{
    struct us_driver drv = {.now = solo_drv_now, .wait = solo_drv_wait, .ctx = t->s};
    us_stack_set_driver(t->s, &drv);
    solo_learn_peer(t);
    int l = us_socket(t->s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of(0, port);
    cr_assert_eq(us_bind(t->s, l, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(us_listen(t->s, l, 8), 0);
    struct tseg s = *syn;
    s.flags = TH_SYN;
    s.seq = peer_isn;
    if (!s.wnd) s.wnd = 65535;
    seg_in(t, port, &s);
    struct tseg sa;
    cr_assert(seg_out(t, &sa), "no SYN-ACK");
    cr_assert_eq(sa.flags, TH_SYN | TH_ACK);
    cr_assert_eq(sa.ack, peer_isn + 1);
    struct tseg ack = {.flags = TH_ACK,
                       .seq = peer_isn + 1,
                       .ack = sa.seq + 1,
                       .wnd = s.wnd,
                       .ts_on = s.ts_on,
                       .ts_val = s.ts_val + 1,
                       .ts_ecr = sa.ts_val};
    seg_in(t, port, &ack);
    int fd = us_accept(t->s, l, NULL, NULL);
    cr_assert(fd >= 0, "accept: %s", strerror(errno));
    if (lfd)
        *lfd = l;
    else
        us_close(t->s, l);
    if (stack_isn) *stack_isn = sa.seq;
    return fd;
}

int solo_accept_conn(struct solo *t, uint16_t port, uint32_t peer_isn, const struct tseg *syn,
                     uint32_t *stack_isn)
{
    return solo_accept_conn_l(t, port, peer_isn, syn, stack_isn, NULL);
}
