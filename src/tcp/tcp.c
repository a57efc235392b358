/*
 * tcp.c: the engine's tables and resources: the connection table (4-tuple ->
 * tcb, TIME-WAIT or SYN entry), bind records (who holds a port, for
 * EADDRINUSE), ephemeral ports (RFC 6056), initial sequence numbers (RFC
 * 6528), the timestamp clock, control-block life cycle and the ring cache.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "tcp/tcp.h"
#include "ustack/socket.h"

#define CONN_INITIAL_BUCKETS 256
#define LISTEN_BUCKETS       64
#define BIND_BUCKETS         1024
#define RING_CACHE_MAX       32

/* ---- connection table ---- */

static uint32_t conn_hash(const struct conn_table *ct, uint32_t la, uint16_t lp, uint32_t ra,
                          uint16_t rp)
{
    /* A keyed mix (the key comes from the stack's seed), so remote peers
     * cannot aim many connections at one bucket. */
    uint64_t x = ((uint64_t)ra << 32 | (uint64_t)rp << 16 | lp) ^ ct->key;
    x ^= (uint64_t)la * 0x9e3779b97f4a7c15ull;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 29;
    return (uint32_t)x;
}

static int conn_table_init(struct conn_table *ct, uint32_t buckets, uint64_t key)
{
    ct->b = calloc(buckets, sizeof(*ct->b));
    if (!ct->b) return -ENOMEM;
    ct->mask = buckets - 1;
    ct->count = 0;
    ct->key = key;
    return 0;
}

static void conn_table_grow(struct conn_table *ct)
{
    uint32_t nb = (ct->mask + 1) * 2;
    struct conn_node **b = calloc(nb, sizeof(*b));
    if (!b) return; /* keep the old table: slower, still correct */
    for (uint32_t i = 0; i <= ct->mask; i++) {
        struct conn_node *n = ct->b[i];
        while (n) {
            struct conn_node *next = n->hnext;
            uint32_t h = conn_hash(ct, n->laddr, n->lport, n->raddr, n->rport) & (nb - 1);
            n->hnext = b[h];
            b[h] = n;
            n = next;
        }
    }
    free(ct->b);
    ct->b = b;
    ct->mask = nb - 1;
}

struct conn_node *conn_lookup(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                              uint16_t rport)
{
    struct conn_table *ct = &tcpst(s)->conns;
    struct conn_node *n = ct->b[conn_hash(ct, laddr, lport, raddr, rport) & ct->mask];
    for (; n; n = n->hnext)
        if (n->lport == lport && n->rport == rport && n->raddr == raddr && n->laddr == laddr)
            return n;
    return NULL;
}

void conn_insert(struct us_stack *s, struct conn_node *n)
{
    struct conn_table *ct = &tcpst(s)->conns;
    if (ct->count >= ct->mask + 1) conn_table_grow(ct);
    uint32_t h = conn_hash(ct, n->laddr, n->lport, n->raddr, n->rport) & ct->mask;
    n->hnext = ct->b[h];
    ct->b[h] = n;
    n->hashed = true;
    ct->count++;
}

void conn_remove(struct us_stack *s, struct conn_node *n)
{
    if (!n->hashed) return;
    struct conn_table *ct = &tcpst(s)->conns;
    struct conn_node **pp =
        &ct->b[conn_hash(ct, n->laddr, n->lport, n->raddr, n->rport) & ct->mask];
    while (*pp && *pp != n) pp = &(*pp)->hnext;
    if (*pp) {
        *pp = n->hnext;
        ct->count--;
    }
    n->hnext = NULL;
    n->hashed = false;
}

/* ---- bind records ---- */

static struct bind_rec **bind_bucket(struct tcp_stack *ts, uint16_t port)
{
    return &ts->bbuckets[(port * 2654435761u >> 16) & ts->bmask];
}

struct bind_rec *bind_get(struct us_stack *s, uint32_t addr, uint16_t port, bool reuse,
                          bool listening, bool explicit_)
{
    struct tcp_stack *ts = tcpst(s);
    struct bind_rec **head = bind_bucket(ts, port);
    for (struct bind_rec *b = *head; b; b = b->next)
        if (b->port == port && b->addr == addr && b->reuse == reuse && b->listening == listening &&
            b->explicit_ == explicit_) {
            b->refs++;
            return b;
        }
    struct bind_rec *b = objpool_get(&ts->binds);
    if (!b) return NULL;
    b->addr = addr;
    b->port = port;
    b->reuse = reuse;
    b->listening = listening;
    b->explicit_ = explicit_;
    b->refs = 1;
    b->next = *head;
    *head = b;
    return b;
}

void bind_put(struct us_stack *s, struct bind_rec *b)
{
    if (!b || --b->refs) return;
    struct tcp_stack *ts = tcpst(s);
    struct bind_rec **pp = bind_bucket(ts, b->port);
    while (*pp && *pp != b) pp = &(*pp)->next;
    if (*pp) *pp = b->next;
    objpool_put(&ts->binds, b);
}

int bind_check(struct us_stack *s, uint32_t addr, uint16_t port, bool reuse)
{
    /* Linux's rule (inet_csk_bind_conflict): two holders of one port with
     * overlapping addresses conflict unless both set SO_REUSEADDR and the
     * existing one is not listening. TIME-WAIT entries hold their port too,
     * which is why a restarted server needs SO_REUSEADDR. */
    for (struct bind_rec *b = *bind_bucket(tcpst(s), port); b; b = b->next) {
        if (b->port != port) continue;
        if (b->addr && addr && b->addr != addr) continue;
        if (reuse && b->reuse && !b->listening) continue;
        return -EADDRINUSE;
    }
    return 0;
}

static bool port_has_holders(struct us_stack *s, uint16_t port, bool explicit_only)
{
    for (struct bind_rec *b = *bind_bucket(tcpst(s), port); b; b = b->next)
        if (b->port == port && (!explicit_only || b->explicit_)) return true;
    return false;
}

uint16_t bind_pick_port(struct us_stack *s, uint32_t addr)
{
    const struct us_tcp_config *c = &s->cfg.tcp;
    uint32_t num = (uint32_t)c->ephemeral_hi - c->ephemeral_lo + 1;
    uint32_t start = (uint32_t)rng_below(&s->rng, num);
    for (uint32_t i = 0; i < num; i++) {
        uint16_t port = (uint16_t)(c->ephemeral_lo + (start + i) % num);
        if (!port_has_holders(s, port, false)) return port;
    }
    return 0;
}

uint16_t tcp_pick_ephemeral(struct us_stack *s, uint32_t laddr, uint32_t raddr, uint16_t rport)
{
    /* RFC 6056 §3.3.3, algorithm 3 ("simple hash-based"): a per-destination
     * offset from a keyed hash plus a global counter, so consecutive
     * connections to one peer use distinct ports and ports are not guessable. */
    const struct us_tcp_config *c = &s->cfg.tcp;
    struct tcp_stack *ts = tcpst(s);
    uint32_t num = (uint32_t)c->ephemeral_hi - c->ephemeral_lo + 1;
    uint8_t key[10];
    wr32(key, laddr);
    wr32(key + 4, raddr);
    wr16(key + 8, rport);
    uint32_t offset = (uint32_t)keyed_hash(s->hash_key, key, sizeof(key));
    for (uint32_t count = 0; count < num; count++) {
        uint16_t port = (uint16_t)(c->ephemeral_lo + (ts->next_ephemeral + offset) % num);
        ts->next_ephemeral++;
        if (port_has_holders(s, port, true)) continue;           /* someone bind()s it */
        if (conn_lookup(s, laddr, port, raddr, rport)) continue; /* live or TIME-WAIT */
        return port;
    }
    return 0;
}

/* ---- sequence numbers and timestamps ---- */

seq_t tcp_new_isn(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                  uint16_t rport)
{
    /* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, key),
     * M a 4-microsecond timer, F a keyed hash. */
    uint8_t key[12];
    wr32(key, laddr);
    wr16(key + 4, lport);
    wr32(key + 6, raddr);
    wr16(key + 10, rport);
    uint32_t f = (uint32_t)keyed_hash(s->hash_key, key, sizeof(key));
    if (s->cfg.tcp.isn_fixed) return s->cfg.tcp.isn_fixed;
    return (seq_t)(f + (uint32_t)(s->now / 4));
}

uint32_t tcp_ts_offset(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                       uint16_t rport)
{
    /* RFC 7323 §5.4: a random offset per connection, so timestamps do not
     * reveal uptime or link connections. */
    uint8_t key[13];
    wr32(key, laddr);
    wr16(key + 4, lport);
    wr32(key + 6, raddr);
    wr16(key + 10, rport);
    key[12] = 0x54;
    return (uint32_t)(keyed_hash(s->hash_key, key, sizeof(key)) >> 32);
}

uint32_t tcp_ts_now(const struct us_stack *s, uint32_t offset)
{
    /* A millisecond clock, as Linux's. */
    return (uint32_t)(s->now / 1000u) + offset;
}

uint8_t tcp_choose_wscale(uint32_t rcvbuf_max)
{
    uint8_t ws = 0;
    while (ws < TCP_MAX_WSCALE && (rcvbuf_max >> ws) > TCP_MAX_WIN) ws++;
    return ws;
}

/* ---- rings ---- */

struct ring *tcp_ring_get(struct us_stack *s, uint32_t size)
{
    struct tcp_stack *ts = tcpst(s);
    uint32_t cap = ring_round_cap(size);
    for (unsigned i = 0; i < ts->ring_cache_n; i++) {
        if (ts->ring_cache[i]->cap == cap) {
            struct ring *r = ts->ring_cache[i];
            ts->ring_cache[i] = ts->ring_cache[--ts->ring_cache_n];
            r->head = 0;
            r->len = 0;
            ts->rings_in_use++;
            return r;
        }
    }
    struct ring *r = ring_new(cap);
    if (r) ts->rings_in_use++;
    return r;
}

void tcp_ring_put(struct us_stack *s, struct ring *r)
{
    if (!r) return;
    struct tcp_stack *ts = tcpst(s);
    ts->rings_in_use--;
    if (ts->ring_cache_n < RING_CACHE_MAX && r->cap <= (1u << 20)) {
        ts->ring_cache[ts->ring_cache_n++] = r;
        return;
    }
    free(r);
}

/* ---- control blocks ---- */

void tcp_settings_default(struct us_stack *s, struct tcp_settings *set)
{
    const struct us_tcp_config *c = &s->cfg.tcp;
    memset(set, 0, sizeof(*set));
    set->sndbuf = c->sndbuf;
    set->rcvbuf = c->rcvbuf;
    set->keepidle = c->keepalive_idle;
    set->keepintvl = c->keepalive_intvl;
    set->keepcnt = (uint16_t)c->keepalive_probes;
    set->linger2 = c->fin_wait2_timeout;
    set->nodelay = !c->nagle;
    int cc = cc_by_name(c->congestion);
    set->cc = (uint8_t)(cc < 0 ? CC_CUBIC : cc);
}

/* ---- shared settings ---- */

struct settings_node {
    struct settings_node *next;
    uint32_t refs;
    struct tcp_settings v;
};

#define SETTINGS_BUCKETS 64u
/* Copies nobody holds are kept for the next socket that wants them (a
 * client that sets TCP_NODELAY on every connection would otherwise free
 * and allocate one per connection), up to this many. */
#define SETTINGS_UNUSED_MAX 16u

static bool settings_equal(const struct tcp_settings *a, const struct tcp_settings *b)
{
    return a->sndbuf == b->sndbuf && a->rcvbuf == b->rcvbuf && a->keepidle == b->keepidle &&
           a->keepintvl == b->keepintvl && a->user_timeout == b->user_timeout &&
           a->linger2 == b->linger2 && a->keepcnt == b->keepcnt && a->maxseg == b->maxseg &&
           a->defer_accept == b->defer_accept && a->keepalive == b->keepalive &&
           a->nodelay == b->nodelay && a->cork == b->cork && a->reuseaddr == b->reuseaddr &&
           a->cc == b->cc && a->sndbuf_locked == b->sndbuf_locked;
}

static uint32_t settings_bucket(const struct tcp_settings *v)
{
    uint64_t h = v->sndbuf * 0x9e3779b97f4a7c15ull ^ v->rcvbuf;
    h = (h ^ v->keepidle ^ v->user_timeout ^ v->linger2) * 0xbf58476d1ce4e5b9ull;
    h ^= (uint64_t)v->maxseg << 16 | (uint64_t)v->keepcnt << 32 | v->defer_accept;
    h ^= (uint64_t)(v->keepalive | v->nodelay << 1 | v->cork << 2 | v->reuseaddr << 3 |
                    v->sndbuf_locked << 4)
             << 40 |
         (uint64_t)v->cc << 48;
    h *= 0x94d049bb133111ebull;
    return (uint32_t)(h >> 58) & (SETTINGS_BUCKETS - 1);
}

static struct settings_node *node_of(const struct tcp_settings *set)
{
    return (struct settings_node *)((uintptr_t)set - offsetof(struct settings_node, v));
}

const struct tcp_settings *tcp_settings_intern(struct us_stack *s, const struct tcp_settings *v)
{
    struct tcp_stack *ts = tcpst(s);
    struct settings_node **head = &ts->settings[settings_bucket(v)];
    for (struct settings_node *n = *head; n; n = n->next)
        if (settings_equal(&n->v, v)) {
            if (n->refs++ == 0) ts->settings_unused--;
            return &n->v;
        }
    struct settings_node *n = malloc(sizeof(*n));
    if (!n) return NULL;
    n->v = *v;
    n->refs = 1;
    n->next = *head;
    *head = n;
    ts->settings_count++;
    return &n->v;
}

const struct tcp_settings *tcp_settings_ref(const struct tcp_settings *set)
{
    node_of(set)->refs++;
    return set;
}

void tcp_settings_put(struct us_stack *s, const struct tcp_settings *set)
{
    if (!set) return;
    struct settings_node *n = node_of(set);
    if (--n->refs) return;
    struct tcp_stack *ts = tcpst(s);
    if (ts->settings_unused < SETTINGS_UNUSED_MAX) {
        ts->settings_unused++;
        return;
    }
    struct settings_node **pp = &ts->settings[settings_bucket(set)];
    while (*pp != n) pp = &(*pp)->next;
    *pp = n->next;
    ts->settings_count--;
    free(n);
}

int tcp_settings_assign(struct us_stack *s, const struct tcp_settings **slot,
                        const struct tcp_settings *v)
{
    if (*slot && settings_equal(*slot, v)) return 0;
    const struct tcp_settings *n = tcp_settings_intern(s, v);
    if (!n) return -ENOBUFS;
    tcp_settings_put(s, *slot);
    *slot = n;
    return 0;
}

struct tcb *tcb_alloc(struct us_stack *s, const struct tcp_settings *set)
{
    struct tcb *t = objpool_get(&tcpst(s)->tcbs);
    if (!t) {
        stat_inc(s, US_C_drop_tcp_no_mem);
        return NULL;
    }
    if (set) {
        t->set = tcp_settings_ref(set);
    } else {
        struct tcp_settings def;
        tcp_settings_default(s, &def);
        t->set = tcp_settings_intern(s, &def);
        if (!t->set) {
            objpool_put(&tcpst(s)->tcbs, t);
            stat_inc(s, US_C_drop_tcp_no_mem);
            return NULL;
        }
    }
    t->node.kind = CONN_TCB;
    t->state = US_TCP_CLOSED;
    tcp_timer_init(s, t);
    t->rexmt_at = t->delack_at = t->keep_at = US_TIME_NEVER;
    t->rtt_time = US_TIME_NEVER; /* 0 is a time: a stack's clock may start there */
    return t;
}

void tcb_free(struct us_stack *s, struct tcb *t)
{
    tcp_timers_stop(s, t);
    conn_remove(s, &t->node);
    tcp_ring_put(s, t->sndq);
    tcp_ring_put(s, t->rcvq);
    free(t->ooo);
    free(t->sb);
    bind_put(s, t->bind);
    tcp_settings_put(s, t->set);
    objpool_put(&tcpst(s)->tcbs, t);
}

void tcb_close(struct us_stack *s, struct tcb *t, const char *cause)
{
    if (t->state != US_TCP_CLOSED) tcp_set_state(s, t, US_TCP_CLOSED, cause);
    tcp_timers_stop(s, t);
    conn_remove(s, &t->node);
    if (t->tf & TF_IN_ACCEPTQ) listener_unlink(s, t);
    /* Unsent data can never go now; received data stays readable. */
    tcp_ring_put(s, t->sndq);
    t->sndq = NULL;
    free(t->sb);
    t->sb = NULL;
    if (t->tf & TF_ORPHAN) tcb_free(s, t);
}

/* ---- life cycle ---- */

int tcp_init(struct us_stack *s)
{
    struct tcp_stack *ts = calloc(1, sizeof(*ts));
    if (!ts) return -ENOMEM;
    s->tcp = ts;
    uint64_t key = rng_next(&s->rng);
    if (conn_table_init(&ts->conns, CONN_INITIAL_BUCKETS, key) < 0) goto fail;
    ts->lbuckets = calloc(LISTEN_BUCKETS, sizeof(*ts->lbuckets));
    ts->lmask = LISTEN_BUCKETS - 1;
    ts->bbuckets = calloc(BIND_BUCKETS, sizeof(*ts->bbuckets));
    ts->bmask = BIND_BUCKETS - 1;
    if (!ts->lbuckets || !ts->bbuckets) goto fail;
    objpool_init(&ts->tcbs, sizeof(struct tcb), 32, 0);
    objpool_init(&ts->tws, sizeof(struct tw_entry), 64, 0);
    objpool_init(&ts->syns, sizeof(struct syn_entry), 64, 0);
    objpool_init(&ts->binds, sizeof(struct bind_rec), 64, 0);
    objpool_init(&ts->listeners, sizeof(struct listener), 8, 0);
    ts->next_ephemeral = (uint32_t)rng_next(&s->rng);
    tw_init(s);
    return 0;
fail:
    free(ts->conns.b);
    free(ts->lbuckets);
    free(ts->bbuckets);
    free(ts);
    s->tcp = NULL;
    return -ENOMEM;
}

/* Frees every connection; returns what was still accounted as in use after
 * freeing everything that is legitimately owned (0 unless something leaked). */
unsigned tcp_destroy(struct us_stack *s)
{
    struct tcp_stack *ts = tcpst(s);
    if (!ts) return 0;
    /* Listeners first: they own SYN entries and queued connections. */
    for (uint32_t i = 0; i <= ts->lmask; i++)
        while (ts->lbuckets[i]) listener_close(s, ts->lbuckets[i]);
    tw_destroy(s);
    for (uint32_t i = 0; i <= ts->conns.mask; i++) {
        while (ts->conns.b[i]) {
            struct conn_node *n = ts->conns.b[i];
            conn_remove(s, n);
            if (n->kind == CONN_TCB) {
                struct tcb *t = (struct tcb *)n;
                /* A socket may still hold it; the socket layer frees those. */
                if (t->tf & TF_ORPHAN) tcb_free(s, t);
            }
        }
    }
    unsigned leaked = 0;
    leaked += (unsigned)ts->syns.in_use + (unsigned)ts->tws.in_use + (unsigned)ts->listeners.in_use;
    return leaked;
}

/* Called by the socket layer after it freed its sockets. */
unsigned tcp_final_check(struct us_stack *s);
unsigned tcp_final_check(struct us_stack *s)
{
    struct tcp_stack *ts = tcpst(s);
    if (!ts) return 0;
    return (unsigned)ts->tcbs.in_use + (unsigned)ts->binds.in_use + ts->rings_in_use +
           (ts->settings_count - ts->settings_unused);
}

void tcp_free_all(struct us_stack *s);
void tcp_free_all(struct us_stack *s)
{
    struct tcp_stack *ts = tcpst(s);
    if (!ts) return;
    for (unsigned i = 0; i < ts->ring_cache_n; i++) free(ts->ring_cache[i]);
    for (unsigned i = 0; i < SETTINGS_BUCKETS; i++)
        while (ts->settings[i]) {
            struct settings_node *n = ts->settings[i];
            ts->settings[i] = n->next;
            free(n);
        }
    objpool_destroy(&ts->tcbs);
    objpool_destroy(&ts->tws);
    objpool_destroy(&ts->syns);
    objpool_destroy(&ts->binds);
    objpool_destroy(&ts->listeners);
    free(ts->conns.b);
    free(ts->lbuckets);
    free(ts->bbuckets);
    free(ts);
    s->tcp = NULL;
}

/* ---- statistics (TCP_INFO) ---- */

void tcp_fill_info(struct us_stack *s, const struct tcb *t, struct us_tcp_info *i)
{
    memset(i, 0, sizeof(*i));
    i->state = t->state;
    i->ca_state = t->ca_state;
    i->snd_wscale = t->snd_wscale;
    i->rcv_wscale = t->rcv_wscale;
    i->options = (t->tf & TF_TS_OK ? US_TCPI_OPT_TIMESTAMPS : 0) |
                 (t->tf & TF_SACK_OK ? US_TCPI_OPT_SACK : 0) |
                 (t->tf & TF_WS_OK ? US_TCPI_OPT_WSCALE : 0);
    i->backoff = t->backoff;
    i->rto = (uint32_t)rto_current(s, t);
    i->srtt = t->srtt;
    i->rttvar = t->rttvar;
    i->snd_mss = t->mss;
    i->rcv_mss = t->peer_mss;
    i->snd_cwnd = t->cwnd;
    i->snd_ssthresh = t->ssthresh;
    i->snd_wnd = t->snd_wnd;
    i->rcv_wnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    i->unacked = t->snd_max - t->snd_una;
    i->sacked = t->sb ? t->sb->sacked : 0;
    i->bytes_sent = t->st.bytes_sent;
    i->bytes_acked = t->st.bytes_acked;
    i->bytes_received = t->st.bytes_received;
    i->bytes_retrans = t->st.bytes_retrans;
    i->segs_out = t->st.segs_out;
    i->segs_in = t->st.segs_in;
    i->data_segs_out = t->st.data_segs_out;
    i->data_segs_in = t->st.data_segs_in;
    i->total_retrans = t->st.total_retrans;
    i->dup_acks = t->st.dup_acks;
    i->sack_blocks_rx = t->st.sack_blocks_rx;
    i->sack_blocks_tx = t->st.sack_blocks_tx;
    i->ooo_bytes = t->ooo ? reass_bytes(t->ooo) : 0;
    i->ooo_ranges = t->ooo ? t->ooo->n : 0;
    i->fast_retrans = t->st.fast_retrans;
    i->rto_count = t->st.rto_count;
    i->probes = t->st.probes;
    snprintf(i->congestion, sizeof(i->congestion), "%s", cc_name(t->set->cc));
}
