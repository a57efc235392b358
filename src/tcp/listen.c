/*
 * listen.c: listeners, the SYN-RECEIVED queue and the accept queue.
 *
 * A SYN to a listener (RFC 9293 §3.10.7.2) creates a compact SYN-RECEIVED
 * entry -- what the SYN said, in a few dozen bytes, with a timer that resends
 * the SYN-ACK with backoff -- not a control block, so a flood of SYNs costs
 * little. The queue of such entries is bounded per listener
 * (max_syn_backlog); beyond it the listener answers with SYN cookies and
 * keeps nothing (syncookie.c). When the handshake's final ACK arrives, a full
 * control block is made in SYN-RECEIVED and the ACK is processed by the
 * normal input path, which moves it to ESTABLISHED and into the accept queue.
 * The accept queue holds at most `backlog` connections, the number given to
 * listen(); when it is full the final ACK is dropped and counted, and the
 * handshake completes later, when the client's next segment (or our SYN-ACK
 * retransmission) arrives after accept() made room -- Linux's behaviour.
 * With TCP_DEFER_ACCEPT (Linux) a bare final ACK does not complete the
 * handshake while the deferral lasts; the first segment with data does.
 */
#include <errno.h>
#include <string.h>

#include "core/util.h"
#include "tcp/tcp.h"

void tcp_apply_syn_options(struct us_stack *s, struct tcb *t, const struct segment *sg);
void tcp_state_adopt(struct tcb *t, enum us_tcp_state st);

static struct listener **lbucket(struct tcp_stack *ts, uint16_t port)
{
    return &ts->lbuckets[(port * 2654435761u >> 16) & ts->lmask];
}

struct listener *listener_lookup(struct us_stack *s, uint32_t laddr, uint16_t lport)
{
    struct listener *any = NULL;
    for (struct listener *l = *lbucket(tcpst(s), lport); l; l = l->hnext) {
        if (l->lport != lport) continue;
        if (l->laddr == laddr) return l;
        if (l->laddr == 0) any = l;
    }
    return any;
}

struct listener *listener_new(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t backlog,
                              const struct tcp_settings *set, bool reuse)
{
    struct tcp_stack *ts = tcpst(s);
    struct listener *l = objpool_get(&ts->listeners);
    if (!l) return NULL;
    l->bind = bind_get(s, laddr, lport, reuse, true, true);
    if (!l->bind) {
        objpool_put(&ts->listeners, l);
        return NULL;
    }
    l->laddr = laddr;
    l->lport = lport;
    l->backlog = backlog;
    l->set = tcp_settings_ref(set);
    struct listener **head = lbucket(ts, lport);
    l->hnext = *head;
    *head = l;
    return l;
}

void listener_set_backlog(struct listener *l, uint32_t backlog)
{
    l->backlog = backlog;
}

/* ---- SYN-RECEIVED entries ---- */

static void syn_timer_fire(struct us_timer *tm, us_time_t now, void *ctx);

static void syn_unlink(struct us_stack *s, struct syn_entry *e)
{
    struct listener *l = e->l;
    if (e->qprev)
        e->qprev->qnext = e->qnext;
    else
        l->syn_head = e->qnext;
    if (e->qnext)
        e->qnext->qprev = e->qprev;
    else
        l->syn_tail = e->qprev;
    l->syn_count--;
    conn_remove(s, &e->node);
    timer_cancel(&s->timers, &e->timer);
}

static void syn_free(struct us_stack *s, struct syn_entry *e)
{
    syn_unlink(s, e);
    objpool_put(&tcpst(s)->syns, e);
}

/* Drops the entry, reporting SYN-RECEIVED -> `to`. */
static void syn_drop(struct us_stack *s, struct syn_entry *e, enum us_tcp_state to,
                     const char *cause)
{
    tcp_report_state(s, &e->node, US_TCP_SYN_RECEIVED, to, cause);
    syn_free(s, e);
}

static size_t synack_options(struct us_stack *s, uint8_t *o, const struct syn_entry *e,
                             uint16_t our_mss)
{
    uint32_t ts_val = tcp_ts_now(s, e->ts_offset);
    return tcp_write_syn_options(o, our_mss, e->flags & SYNF_SACK, e->flags & SYNF_TS, ts_val,
                                 e->ts_recent, e->flags & SYNF_WS, e->rcv_wscale);
}

static uint16_t our_mss_for(struct us_stack *s, uint32_t raddr, const struct tcp_settings *set)
{
    unsigned mtu = ip_route_mtu(s, raddr);
    uint32_t mss = mtu > 40 ? mtu - 40 : 536;
    if (set->maxseg && set->maxseg < mss) mss = set->maxseg;
    return (uint16_t)mss;
}

static uint16_t synack_window(const struct listener *l, uint16_t our_mss, bool ts)
{
    uint32_t space = min_u32(l->set->rcvbuf, TCP_MAX_WIN);
    uint32_t unit = our_mss - (ts ? TCP_TS_OPTLEN : 0);
    if (space >= unit) space -= space % unit;
    return (uint16_t)space;
}

static void send_synack(struct us_stack *s, struct syn_entry *e)
{
    uint8_t o[TCP_MAX_OPTLEN];
    uint16_t mss = our_mss_for(s, e->node.raddr, e->l->set);
    size_t n = synack_options(s, o, e, mss);
    tcp_send_raw(s, e->node.laddr, e->node.lport, e->node.raddr, e->node.rport, e->iss, e->irs + 1,
                 TH_SYN | TH_ACK, synack_window(e->l, mss, e->flags & SYNF_TS), o, n);
}

static void syn_arm(struct us_stack *s, struct syn_entry *e)
{
    us_time_t rto = s->cfg.tcp.rto_initial << min_u32(e->retries, 16);
    if (rto > s->cfg.tcp.rto_max) rto = s->cfg.tcp.rto_max;
    timer_set(&s->timers, &e->timer, s->now + rto);
}

/* TCP_DEFER_ACCEPT's seconds as a number of SYN-ACK timeouts, counted as
 * Linux counts them (secs_to_retrans): the first after rto_initial, each
 * next after twice as long, capped at rto_max; the count whose timeouts
 * add up to at least the seconds asked. 0 when deferral is off. */
static unsigned defer_timeouts(const struct us_stack *s, const struct listener *l)
{
    uint32_t secs = l->set->defer_accept;
    if (!secs) return 0;
    us_time_t timeout = s->cfg.tcp.rto_initial, period = timeout;
    unsigned n = 1;
    while (US_SEC(secs) > period && n < 255) {
        n++;
        timeout = min_u64(timeout * 2, s->cfg.tcp.rto_max);
        period += timeout;
    }
    return n;
}

static void syn_timer_fire(struct us_timer *tm, us_time_t now, void *ctx)
{
    struct us_stack *s = ctx;
    struct syn_entry *e = container_of(tm, struct syn_entry, timer);
    /* With TCP_DEFER_ACCEPT the deferral sets how long the entry lives; a
     * peer that sent its bare ACK is not sent SYN-ACKs while it is waited
     * for, except once as the deferral ends: a last chance to send data or
     * the ACK that now completes the handshake (Linux's syn_ack_recalc). */
    unsigned defer = defer_timeouts(s, e->l);
    unsigned max = defer ? defer : s->cfg.tcp.synack_retries;
    bool acked = e->flags & SYNF_ACKED;
    if (e->retries >= max && (!acked || e->retries >= defer)) {
        stat_inc(s, US_C_tcp_attempt_fails);
        syn_drop(s, e, US_TCP_CLOSED, "SYN-ACK retries exhausted");
        return;
    }
    e->retries++;
    if (!acked || e->retries >= defer) {
        stat_inc(s, US_C_tcp_synack_retransmits);
        send_synack(s, e);
    }
    syn_arm(s, e);
}

/* What the SYN asked for, in the form both entries and cookies keep. */
static void read_syn(struct us_stack *s, const struct listener *l, const struct segment *sg,
                     struct syn_entry *e)
{
    const struct us_tcp_config *c = &s->cfg.tcp;
    e->node.laddr = sg->dst;
    e->node.lport = sg->dport;
    e->node.raddr = sg->src;
    e->node.rport = sg->sport;
    e->irs = sg->seq;
    e->peer_mss = sg->opt.has_mss ? sg->opt.mss : c->default_mss;
    e->peer_wnd = sg->wnd;
    e->flags = 0;
    if (sg->opt.sack_ok && c->sack) e->flags |= SYNF_SACK;
    if (sg->opt.has_ts && c->timestamps) {
        e->flags |= SYNF_TS;
        e->ts_recent = sg->opt.ts_val;
    }
    if (sg->opt.has_ws && c->window_scaling) {
        e->flags |= SYNF_WS;
        e->snd_wscale = sg->opt.wscale;
        e->rcv_wscale = tcp_choose_wscale(max_u32(l->set->rcvbuf, c->max_rcvbuf));
    }
}

/* A full control block for a handshake that completes now, in SYN-RECEIVED
 * (that transition was already reported for the compact form). */
static struct tcb *materialize(struct us_stack *s, struct listener *l, const struct syn_entry *e,
                               bool real, uint16_t peer_mss)
{
    struct tcb *t = tcb_alloc(s, l->set);
    if (!t) return NULL;
    t->node.laddr = e->node.laddr;
    t->node.lport = e->node.lport;
    t->node.raddr = e->node.raddr;
    t->node.rport = e->node.rport;
    t->bind = bind_get(s, l->laddr, l->lport, l->set->reuseaddr, false, true);
    if (!t->bind) {
        tcb_free(s, t);
        return NULL;
    }
    t->iss = e->iss;
    t->snd_una = e->iss;
    t->snd_nxt = e->iss + 1;
    t->snd_max = e->iss + 1;
    t->irs = e->irs;
    t->rcv_nxt = e->irs + 1;
    t->our_mss = our_mss_for(s, e->node.raddr, l->set);
    t->ts_offset = e->ts_offset;
    t->tf |= TF_PASSIVE;
    if (e->flags & SYNF_SACK) t->tf |= TF_SACK_OK;
    if (e->flags & SYNF_TS) {
        t->tf |= TF_TS_OK;
        t->ts_recent = e->ts_recent;
        t->ts_recent_sec = tcp_seconds(s);
    }
    if (e->flags & SYNF_WS) {
        t->tf |= TF_WS_OK;
        t->snd_wscale = e->snd_wscale;
        t->rcv_wscale = e->rcv_wscale;
    }
    t->peer_mss = peer_mss;
    uint32_t mss = min_u32(peer_mss, t->our_mss);
    if (t->set->maxseg && t->set->maxseg < mss) mss = t->set->maxseg;
    if (t->tf & TF_TS_OK) mss -= TCP_TS_OPTLEN;
    t->mss = (uint16_t)max_u32(mss, 64);
    t->snd_wnd = e->peer_wnd; /* the SYN's window, unscaled; the ACK updates it */
    t->snd_wl1 = e->irs;
    t->rcv_adv = t->rcv_nxt + synack_window(l, t->our_mss, e->flags & SYNF_TS);
    t->last_ack_sent = t->rcv_nxt;
    t->last_rx = s->now;
    t->parent = l;
    rto_init(s, t);
    /* The handshake's RTT (RFC 6298 §2, Karn's rule: only a SYN-ACK sent
     * once): its send time is the timer's expiry less the first timeout,
     * so the entry needs no field for it. A cookie has no entry; with
     * timestamps the ACK's TSecr gives the sample instead. */
    if (real && e->retries == 0 && !(e->flags & SYNF_ACKED) && timer_pending(&e->timer))
        t->rtt_time = e->timer.expires - s->cfg.tcp.rto_initial;
    tcp_state_adopt(t, US_TCP_SYN_RECEIVED);
    return t;
}

static bool acceptq_full(const struct listener *l)
{
    return l->acc_count >= l->backlog;
}

/* The final ACK of a handshake, for entry `e` (or a cookie when e is only
 * a stack copy that is not in the table). */
static void complete(struct us_stack *s, struct listener *l, struct syn_entry *e, bool real,
                     uint16_t peer_mss, struct segment *sg)
{
    if (acceptq_full(l)) {
        /* Linux (tcp_abort_on_overflow = 0): drop the ACK, keep the entry. */
        stat_inc(s, US_C_tcp_listen_overflows);
        return;
    }
    struct tcb *t = materialize(s, l, e, real, peer_mss);
    if (!t) return;
    if (real) syn_free(s, e);
    conn_insert(s, &t->node);
    stat_inc(s, US_C_tcp_passive_opens);
    tcp_process(s, t, sg);
}

void syn_entry_input(struct us_stack *s, struct syn_entry *e, struct segment *sg)
{
    struct listener *l = e->l;
    seq_t rcv_nxt = e->irs + 1;
    uint32_t wnd = synack_window(l, our_mss_for(s, e->node.raddr, l->set), e->flags & SYNF_TS);

    if (sg->flags & TH_RST) {
        stat_inc(s, US_C_tcp_rst_rx);
        /* RFC 5961 §3.2: exact RCV.NXT resets; elsewhere in the window gets
         * a challenge ACK; outside, nothing. */
        if (sg->seq == rcv_nxt || !s->cfg.tcp.rfc5961) {
            if (seq_in(sg->seq, rcv_nxt, rcv_nxt + wnd)) {
                syn_drop(s, e, US_TCP_LISTEN, "rcv RST");
                return;
            }
        } else if (seq_in(sg->seq, rcv_nxt, rcv_nxt + wnd)) {
            stat_inc(s, US_C_tcp_challenge_acks);
            tcp_send_raw(s, e->node.laddr, e->node.lport, e->node.raddr, e->node.rport, e->iss + 1,
                         rcv_nxt, TH_ACK, (uint16_t)wnd, NULL, 0);
            return;
        }
        stat_inc(s, US_C_drop_tcp_bad_rst);
        return;
    }
    if (sg->flags & TH_SYN) {
        if (sg->seq == e->irs && !(sg->flags & TH_ACK)) {
            /* The peer resent its SYN: our SYN-ACK was lost. */
            stat_inc(s, US_C_tcp_synack_retransmits);
            send_synack(s, e);
            return;
        }
        /* Another SYN in the window: Linux resets the embryo. */
        tcp_send_reset_reply(s, sg);
        syn_drop(s, e, US_TCP_LISTEN, "rcv SYN");
        return;
    }
    if (!(sg->flags & TH_ACK)) return;
    if (sg->ack != e->iss + 1) {
        /* §3.10.7.4 fifth, SYN-RECEIVED: an unacceptable ACK gets a RST. */
        stat_inc(s, US_C_drop_tcp_bad_ack);
        tcp_send_reset_reply(s, sg);
        return;
    }
    /* The ACK's sequence number must be in the window (§3.10.7.4 first). */
    if (!(sg->seq == rcv_nxt || (seg_len(sg) && seq_in(sg->seq, rcv_nxt, rcv_nxt + wnd)))) {
        tcp_send_raw(s, e->node.laddr, e->node.lport, e->node.raddr, e->node.rport, e->iss + 1,
                     rcv_nxt, TH_ACK, (uint16_t)wnd, NULL, 0);
        return;
    }
    /* TCP_DEFER_ACCEPT (Linux): a bare ACK does not complete the handshake
     * while the deferral lasts; data or a FIN does. The entry remembers it
     * was ACKed (its SYN-ACKs stop, syn_timer_fire). */
    if (seg_len(sg) == 0 && e->retries < defer_timeouts(s, l)) {
        e->flags |= SYNF_ACKED;
        stat_inc(s, US_C_tcp_defer_accept_drops);
        return;
    }
    complete(s, l, e, true, e->peer_mss, sg);
}

void listen_input(struct us_stack *s, struct listener *l, struct segment *sg)
{
    const struct us_tcp_config *c = &s->cfg.tcp;
    /* §3.10.7.2 LISTEN. First, an incoming RST is ignored. */
    if (sg->flags & TH_RST) {
        stat_inc(s, US_C_tcp_rst_rx);
        return;
    }
    /* Second, an ACK: a SYN cookie's return, or else a RST <SEQ=SEG.ACK>. */
    if (sg->flags & TH_ACK) {
        if (!(sg->flags & TH_SYN) && c->syncookies) {
            uint16_t mss;
            if (syncookie_check(s, sg, &mss)) {
                stat_inc(s, US_C_tcp_syncookies_recv);
                struct syn_entry e = {0};
                read_syn(s, l, sg, &e);
                e.l = l;
                e.irs = sg->seq - 1;
                e.iss = sg->ack - 1;
                e.ts_offset = tcp_ts_offset(s, sg->dst, sg->dport, sg->src, sg->sport);
                e.peer_wnd = sg->wnd;
                e.flags = 0;
                if (sg->opt.has_ts && sg->opt.ts_ecr) {
                    /* Linux carries wscale and SACK-permitted in the low
                     * bits of the timestamp we sent with the cookie. */
                    bool sack, ws;
                    uint8_t wscale;
                    syncookie_ts_decode(sg->opt.ts_ecr, &sack, &ws, &wscale);
                    e.flags = SYNF_TS | (sack ? SYNF_SACK : 0) | (ws ? SYNF_WS : 0);
                    e.ts_recent = sg->opt.ts_val;
                    e.snd_wscale = wscale;
                    e.rcv_wscale = tcp_choose_wscale(max_u32(l->set->rcvbuf, c->max_rcvbuf));
                }
                tcp_report_state(s, &e.node, US_TCP_LISTEN, US_TCP_SYN_RECEIVED,
                                 "rcv ACK (SYN cookie)");
                complete(s, l, &e, false, mss, sg);
                return;
            }
            stat_inc(s, US_C_tcp_syncookies_failed);
        }
        stat_inc(s, US_C_drop_tcp_no_socket);
        tcp_send_reset_reply(s, sg);
        return;
    }
    /* Third, a SYN. */
    if (!(sg->flags & TH_SYN)) return;
    if (sg->flags & TH_FIN) {
        /* SYN+FIN is a scanner's probe, not an open (FreeBSD's drop_synfin). */
        stat_inc(s, US_C_drop_tcp_bad_flags);
        return;
    }
    if (acceptq_full(l)) {
        /* Like Linux: no new handshakes while the accept queue is full; the
         * client's SYN retransmission tries again. */
        stat_inc(s, US_C_tcp_listen_drops);
        return;
    }
    if (l->syn_count >= c->max_syn_backlog || c->syncookies == 2) {
        stat_inc(s, US_C_tcp_syn_queue_full);
        if (!c->syncookies) {
            stat_inc(s, US_C_tcp_listen_drops);
            return;
        }
        /* A SYN cookie: answer, remember nothing (RFC 4987 §3.6). */
        struct syn_entry e = {0};
        read_syn(s, l, sg, &e);
        e.l = l;
        uint16_t mss_enc;
        e.iss = syncookie_make(s, sg, &mss_enc);
        uint8_t o[TCP_MAX_OPTLEN];
        uint16_t our = our_mss_for(s, sg->src, l->set);
        size_t n;
        if (e.flags & SYNF_TS) {
            uint32_t ts_val = syncookie_ts(
                s, tcp_ts_now(s, tcp_ts_offset(s, sg->dst, sg->dport, sg->src, sg->sport)),
                e.flags & SYNF_SACK, e.flags & SYNF_WS, e.snd_wscale);
            n = tcp_write_syn_options(o, our, e.flags & SYNF_SACK, true, ts_val, e.ts_recent,
                                      e.flags & SYNF_WS, e.rcv_wscale);
        } else {
            /* Without timestamps a cookie cannot carry wscale or SACK. */
            n = tcp_write_syn_options(o, our, false, false, 0, 0, false, 0);
        }
        stat_inc(s, US_C_tcp_syncookies_sent);
        tcp_send_raw(s, sg->dst, sg->dport, sg->src, sg->sport, e.iss, sg->seq + 1, TH_SYN | TH_ACK,
                     synack_window(l, our, e.flags & SYNF_TS), o, n);
        return;
    }
    struct syn_entry *e = objpool_get(&tcpst(s)->syns);
    if (!e) {
        stat_inc(s, US_C_drop_tcp_no_mem);
        return;
    }
    e->node.kind = CONN_SYN;
    read_syn(s, l, sg, e);
    e->l = l;
    e->iss = tcp_new_isn(s, sg->dst, sg->dport, sg->src, sg->sport);
    e->ts_offset = tcp_ts_offset(s, sg->dst, sg->dport, sg->src, sg->sport);
    struct tcp_stack *ts = tcpst(s);
    if (!ts->tk_syn) ts->tk_syn = (uint8_t)(timer_kind(&s->timers, syn_timer_fire) + 1);
    timer_init(&e->timer, (uint8_t)(ts->tk_syn - 1));
    conn_insert(s, &e->node);
    e->qprev = l->syn_tail;
    if (l->syn_tail)
        l->syn_tail->qnext = e;
    else
        l->syn_head = e;
    l->syn_tail = e;
    l->syn_count++;
    tcp_report_state(s, &e->node, US_TCP_LISTEN, US_TCP_SYN_RECEIVED, "rcv SYN");
    /* Data in a SYN is not kept: the SYN-ACK acknowledges only the SYN and
     * the peer sends the data again. */
    send_synack(s, e);
    syn_arm(s, e);
}

/* ---- the accept queue ---- */

bool listener_enqueue(struct us_stack *s, struct listener *l, struct tcb *t)
{
    if (t->tf & TF_IN_ACCEPTQ) return true;
    if (acceptq_full(l)) {
        stat_inc(s, US_C_tcp_listen_overflows);
        return false;
    }
    t->aq_next = NULL;
    if (l->acc_tail)
        l->acc_tail->aq_next = t;
    else
        l->acc_head = t;
    l->acc_tail = t;
    l->acc_count++;
    t->tf |= TF_IN_ACCEPTQ;
    return true;
}

struct tcb *listener_accept(struct us_stack *s, struct listener *l)
{
    struct tcb *t = l->acc_head;
    if (!t) return NULL;
    l->acc_head = t->aq_next;
    if (!l->acc_head) l->acc_tail = NULL;
    l->acc_count--;
    t->aq_next = NULL;
    t->tf &= ~TF_IN_ACCEPTQ;
    t->parent = NULL;
    return t;
}

void listener_unlink(struct us_stack *s, struct tcb *t)
{
    struct listener *l = t->parent;
    if (!l || !(t->tf & TF_IN_ACCEPTQ)) return;
    struct tcb **pp = &l->acc_head, *prev = NULL;
    while (*pp && *pp != t) {
        prev = *pp;
        pp = &(*pp)->aq_next;
    }
    if (*pp) {
        *pp = t->aq_next;
        if (l->acc_tail == t) l->acc_tail = prev;
        l->acc_count--;
    }
    t->tf &= ~TF_IN_ACCEPTQ;
    t->aq_next = NULL;
    t->parent = NULL;
    /* Nobody will accept it now: it is an orphan. */
    t->tf |= TF_ORPHAN;
}

void listener_close(struct us_stack *s, struct listener *l)
{
    struct tcp_stack *ts = tcpst(s);
    struct listener **pp = lbucket(ts, l->lport);
    while (*pp && *pp != l) pp = &(*pp)->hnext;
    if (*pp) *pp = l->hnext;
    /* SYN-RECEIVED entries vanish: a later segment for them finds nobody
     * and gets a RST (gVisor's listen_close_before_handshake_complete). */
    while (l->syn_head) syn_drop(s, l->syn_head, US_TCP_CLOSED, "listener closed");
    /* Connections nobody accepted are reset (Linux: inet_csk_listen_stop). */
    while (l->acc_head) {
        struct tcb *t = listener_accept(s, l);
        t->tf |= TF_ORPHAN;
        tcp_send_reset(s, t);
        tcb_close(s, t, "listener closed");
    }
    bind_put(s, l->bind);
    tcp_settings_put(s, l->set);
    objpool_put(&ts->listeners, l);
}
