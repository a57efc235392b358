/*
 * timers.c: a connection's timers.
 *
 * A connection has one entry in the stack's timer wheel, armed for the
 * earliest of three deadlines:
 *   rexmt_at   retransmission (RFC 6298) or, with TF_PERSIST, the persist
 *              timer probing a zero window (RFC 9293 §3.8.6.1);
 *   delack_at  the delayed ACK (RFC 1122 §4.2.3.2);
 *   keep_at    keepalive (RFC 1122 §4.2.3.6), or an orphan's FIN-WAIT-2
 *              timeout (Linux's tcp_fin_timeout).
 * Pushing a deadline later does not touch the wheel: when the entry fires
 * early it is simply re-armed for what is due then (restarting the RTO on
 * every ACK costs nothing). TIME-WAIT and SYN-RECEIVED live in compact
 * entries with timers of their own (timewait.c, listen.c).
 */
#include <errno.h>

#include <errno.h>

#include "core/util.h"
#include "tcp/tcp.h"

static void tcb_timer_fire(struct us_timer *tm, us_time_t now, void *ctx);

void tcp_timer_init(struct us_stack *s, struct tcb *t)
{
    struct tcp_stack *ts = tcpst(s);
    if (!ts->tk_tcb) ts->tk_tcb = (uint8_t)(timer_kind(&s->timers, tcb_timer_fire) + 1);
    timer_init(&t->timer, (uint8_t)(ts->tk_tcb - 1));
}

void tcp_timer_update(struct us_stack *s, struct tcb *t)
{
    us_time_t next = min_u64(t->rexmt_at, min_u64(t->delack_at, t->keep_at));
    if (next == US_TIME_NEVER) return; /* a pending entry finds nothing due */
    if (!timer_pending(&t->timer) || next < t->timer.expires)
        timer_set(&s->timers, &t->timer, next);
}

void tcp_timers_stop(struct us_stack *s, struct tcb *t)
{
    t->rexmt_at = t->delack_at = t->keep_at = US_TIME_NEVER;
    t->tf &= ~(TF_PERSIST | TF_DELACK | TF_TLP);
    timer_cancel(&s->timers, &t->timer);
}

/* RFC 8985 §7.2: a probe only for established connections with SACK and an
 * RTT sample, data in flight, no probe already out and no timeout backoff. */
static bool tlp_allowed(const struct tcb *t)
{
    if (!(t->tf & TF_SACK_OK) || !t->srtt || (t->tf & TF_TLP_OUT) || t->backoff) return false;
    if (t->ca_state == CA_LOSS || t->snd_una == t->snd_max) return false;
    return t->state == US_TCP_ESTABLISHED || t->state == US_TCP_CLOSE_WAIT ||
           t->state == US_TCP_FIN_WAIT_1 || t->state == US_TCP_CLOSING ||
           t->state == US_TCP_LAST_ACK;
}

/* RFC 8985 §7.2: PTO = 2*SRTT; with a single segment in flight the
 * receiver may be sitting on a delayed ACK, so add WCDelAckT, the worst
 * case of the peer's delayed-ACK timer (200 ms, as Linux's TCP_DELACK_MAX;
 * the peer's, not ours, so not the stack's delack setting). The caller
 * takes min(PTO, RTO). */
#define TLP_WC_DELACK US_MSEC(200)

static us_time_t tlp_timeout(const struct tcb *t)
{
    us_time_t pto = 2u * (us_time_t)t->srtt;
    if (t->snd_max - t->snd_una <= t->mss) pto += TLP_WC_DELACK;
    if (pto < 2000) pto = 2000; /* a floor of 2 ms, like Linux's TCP_TIMEOUT_MIN */
    return pto;
}

void tcp_rexmt_arm(struct us_stack *s, struct tcb *t)
{
    t->tf &= ~(TF_PERSIST | TF_TLP);
    us_time_t at = s->now + rto_current(s, t);
    if (s->cfg.tcp.tlp && tlp_allowed(t)) {
        /* RFC 8985 §7.2: the probe timer runs for min(PTO, RTO); when it
         * fires a probe goes out (§7.3) even if that is when the RTO would
         * have, and the RTO is armed after it. */
        us_time_t pto = s->now + tlp_timeout(t);
        if (pto < at) at = pto;
        t->tf |= TF_TLP;
    }
    /* RFC 5482: never wait past the user timeout. */
    if (t->set->user_timeout && t->first_rexmt) {
        us_time_t limit = t->first_rexmt + t->set->user_timeout;
        if (at > limit) at = limit > s->now ? limit : s->now;
    }
    t->rexmt_at = at;
    tcp_timer_update(s, t);
}

void tcp_tlp_rearm(struct us_stack *s, struct tcb *t)
{
    if (!s->cfg.tcp.tlp || (t->tf & TF_PERSIST) || !tlp_allowed(t)) return;
    if ((t->tf & TF_TLP) || t->rexmt_at == US_TIME_NEVER) {
        tcp_rexmt_arm(s, t); /* the timer is a PTO: start it again */
        return;
    }
    /* A running RTO is not pushed later (RFC 6298 §5.1): the probe fires
     * at the earlier of the two. */
    us_time_t pto = s->now + tlp_timeout(t);
    if (pto < t->rexmt_at) t->rexmt_at = pto;
    t->tf |= TF_TLP;
    tcp_timer_update(s, t);
}

void tcp_rexmt_stop(struct us_stack *s, struct tcb *t)
{
    if (!(t->tf & TF_PERSIST)) t->rexmt_at = US_TIME_NEVER;
    t->tf &= ~TF_TLP;
}

void tcp_delack_arm(struct us_stack *s, struct tcb *t)
{
    t->tf |= TF_DELACK;
    if (t->delack_at == US_TIME_NEVER) {
        t->delack_at = s->now + s->cfg.tcp.delack_timeout;
        tcp_timer_update(s, t);
    }
}

void tcp_persist_arm(struct us_stack *s, struct tcb *t)
{
    /* The probe interval backs off like the RTO, up to rto_max (Linux:
     * tcp_probe0_when). */
    us_time_t base = rto_current(s, t);
    us_time_t when = base << min_u32(t->persist_shift, 16);
    if (when > s->cfg.tcp.rto_max) when = s->cfg.tcp.rto_max;
    t->tf |= TF_PERSIST;
    t->tf &= ~TF_TLP;
    t->rexmt_at = s->now + when;
    tcp_timer_update(s, t);
}

void tcp_keepalive_reset(struct us_stack *s, struct tcb *t)
{
    if (!t->set->keepalive) {
        if (!(t->tf & TF_ORPHAN) || t->state != US_TCP_FIN_WAIT_2) t->keep_at = US_TIME_NEVER;
        return;
    }
    t->keep_probes = 0;
    t->keep_at = t->last_rx + t->set->keepidle;
    if (t->keep_at < s->now) t->keep_at = s->now;
    tcp_timer_update(s, t);
}

static bool keepalive_state(enum us_tcp_state st)
{
    /* Linux probes in every synchronized state but TIME-WAIT. */
    return st == US_TCP_ESTABLISHED || st == US_TCP_CLOSE_WAIT || st == US_TCP_FIN_WAIT_1 ||
           st == US_TCP_FIN_WAIT_2 || st == US_TCP_CLOSING || st == US_TCP_LAST_ACK;
}

void tcp_enter_loss(struct us_stack *s, struct tcb *t)
{
    const struct cc_ops *cc = cc_ops_of(t);
    if (t->ca_state != CA_LOSS) cc->on_timeout(s, t); /* ssthresh from the flight */
    t->cwnd = t->mss;                                 /* RFC 5681 §3.1: LW = 1 SMSS */
    t->ca_state = CA_LOSS;
    t->recover = t->snd_max;
    t->dupacks = 0;
    t->bytes_acked_ca = 0;
    /* Go back to the first unacknowledged byte (the FIN too, if unacked). */
    t->snd_nxt = t->snd_una;
    if ((t->tf & TF_FIN_SENT) && seq_lt(t->snd_una, t->snd_max)) t->tf &= ~TF_FIN_SENT;
    t->tf &= ~TF_RTT_ACTIVE; /* Karn */
    if (t->sb) {
        t->sb->rtx_next = t->snd_una;
        t->sb->high_rtx = t->snd_una;
    }
}

static void give_up(struct us_stack *s, struct tcb *t, enum us_counter why, const char *cause)
{
    stat_inc(s, why);
    if (!t->so_error) t->so_error = ETIMEDOUT;
    t->eof_error = ETIMEDOUT;
    /* Linux resets a synchronized connection it gives up on, so the peer
     * (if it is still there) learns too. */
    if (t->state != US_TCP_SYN_SENT && t->state != US_TCP_SYN_RECEIVED) tcp_send_reset(s, t);
    tcb_close(s, t, cause);
}

/* Returns false when the connection is gone. */
static bool persist_timeout(struct us_stack *s, struct tcb *t);

/* The probe timeout fired (RFC 8985 §7.3). In loss recovery, an unanswered
 * retransmission is taken as lost and the first hole goes again (what RACK
 * would conclude from time); otherwise one segment goes, new data if the
 * windows allow, else the last segment, so the receiver's SACK tells us what
 * the tail lost and fast recovery can repair it without a timeout. */
static bool loss_probe(struct us_stack *s, struct tcb *t)
{
    t->rexmt_at = US_TIME_NEVER;
    t->tf &= ~TF_TLP;
    t->tf |= TF_TLP_OUT;
    stat_inc(s, US_C_tcp_loss_probes);
    if (t->ca_state == CA_RECOVERY && t->sb) {
        t->sb->rtx_next = t->snd_una;
        t->sb->high_rtx = t->snd_una;
        seq_t hs, he;
        seq_t limit = sb_highest(t->sb, t->snd_una);
        if (!sb_next_hole(t->sb, t->snd_una, limit, &hs, &he)) {
            hs = t->snd_una;
            he = t->snd_una + t->mss;
        }
        seq_t data_end = tcp_sndq_seq(t) + (t->sndq ? t->sndq->len : 0);
        uint32_t len = min_u32(he - hs, t->mss);
        if (seq_gt(hs + len, data_end)) len = seq_gt(data_end, hs) ? data_end - hs : 0;
        int sent = tcp_send_segment(s, t, hs, len, TH_ACK);
        if (sent > 0) {
            t->sb->rtx_next = hs + (uint32_t)sent;
            t->sb->high_rtx = hs + (uint32_t)sent;
            t->sb->rtx_mark = t->snd_max;
            t->st.total_retrans++;
            t->st.bytes_retrans += (uint32_t)sent;
            stat_inc(s, US_C_tcp_retransmits);
        }
    } else {
        seq_t edge = t->snd_una + t->snd_wnd;
        uint32_t room = seq_gt(edge, t->snd_nxt) ? edge - t->snd_nxt : 0;
        uint32_t unsent = tcp_unsent(t);
        if (unsent && room) {
            uint32_t len = min_u32(min_u32(unsent, room), t->mss);
            int sent =
                tcp_send_segment(s, t, t->snd_nxt, len, TH_ACK | (len == unsent ? TH_PSH : 0));
            if (sent > 0) {
                t->snd_nxt += (uint32_t)sent;
                t->snd_max = seq_max(t->snd_max, t->snd_nxt);
            }
        } else {
            /* Retransmit the last segment sent (RFC 8985 §7.3): the FIN
             * alone if it went out alone, else the last segment's data,
             * with the FIN if it was last. */
            seq_t data_end = tcp_sndq_seq(t) + (t->sndq ? t->sndq->len : 0);
            bool fin = (t->tf & TF_FIN_SENT) && t->snd_max == data_end + 1;
            uint32_t span = seq_gt(data_end, t->snd_una) ? data_end - t->snd_una : 0;
            uint32_t last = t->last_seg_len ? t->last_seg_len : t->mss;
            uint32_t len = fin && (t->tf & TF_FIN_ALONE) ? 0 : min_u32(span, min_u32(last, t->mss));
            seq_t seq = data_end - len;
            uint8_t flags = TH_ACK | (fin ? TH_FIN : 0) | (len ? TH_PSH : 0);
            int sent = tcp_send_segment(s, t, seq, len, flags);
            if (sent >= 0) {
                t->st.total_retrans++;
                t->st.bytes_retrans += (uint32_t)sent;
                stat_inc(s, US_C_tcp_retransmits);
            }
        }
    }
    t->tf &= ~TF_RTT_ACTIVE; /* Karn */
    /* After the probe, the retransmission timer proper. */
    t->rexmt_at = s->now + rto_current(s, t);
    tcp_timer_update(s, t);
    return true;
}

static bool rexmt_timeout(struct us_stack *s, struct tcb *t)
{
    if (t->tf & TF_TLP) return loss_probe(s, t);
    const struct us_tcp_config *c = &s->cfg.tcp;
    t->rexmt_at = US_TIME_NEVER;
    if (t->first_rexmt == 0) {
        /* The oldest unacknowledged data was sent about one RTO ago. */
        us_time_t r = rto_current(s, t);
        t->first_rexmt = s->now > r ? s->now - r : 1;
    }
    unsigned limit = t->state == US_TCP_SYN_SENT       ? c->syn_retries
                     : t->state == US_TCP_SYN_RECEIVED ? c->synack_retries
                                                       : c->retries2;
    bool user_expired = t->set->user_timeout && s->now - t->first_rexmt >= t->set->user_timeout &&
                        t->state != US_TCP_SYN_SENT;
    if (t->rexmt_count >= limit || user_expired) {
        give_up(s, t, US_C_tcp_timeouts,
                t->state == US_TCP_SYN_SENT ? "SYN retries exhausted"
                : user_expired              ? "user timeout"
                                            : "retransmission timeout");
        return false;
    }
    t->rexmt_count++;
    if (t->backoff < 31) t->backoff++;
    t->st.rto_count++;
    stat_inc(s, US_C_tcp_rto_expired);
    if (t->state == US_TCP_SYN_SENT || t->state == US_TCP_SYN_RECEIVED) {
        uint8_t flags = TH_SYN | (t->state == US_TCP_SYN_RECEIVED ? TH_ACK : 0);
        tcp_send_segment(s, t, t->iss, 0, flags);
        stat_inc(s, US_C_tcp_retransmits);
        t->st.total_retrans++;
        tcp_rexmt_arm(s, t);
        return true;
    }
    if (t->snd_wnd == 0 && !(t->tf & TF_ORPHAN)) {
        /* The receiver closed its window under data in flight (it shrank
         * it). Like Linux (tcp_retransmit_timer), this is not a reason to
         * give up: go back to SND.UNA and probe the window instead. */
        t->rexmt_count--;
        t->snd_nxt = t->snd_una;
        if ((t->tf & TF_FIN_SENT) && seq_lt(t->snd_una, t->snd_max)) t->tf &= ~TF_FIN_SENT;
        t->rexmt_at = US_TIME_NEVER;
        tcp_persist_arm(s, t);
        return persist_timeout(s, t);
    }
    tcp_enter_loss(s, t);
    tcp_output(s, t);
    if (t->rexmt_at == US_TIME_NEVER && seq_lt(t->snd_una, t->snd_max)) tcp_rexmt_arm(s, t);
    return true;
}

static bool persist_timeout(struct us_stack *s, struct tcb *t)
{
    t->rexmt_at = US_TIME_NEVER;
    t->tf &= ~TF_PERSIST;
    if (!tcp_unsent(t) || t->snd_nxt != t->snd_una) return true; /* nothing to probe */
    /* Linux gives up after tcp_retries2 probes the peer never answered;
     * an answer (even a zero window) resets the count (input.c). */
    if (t->st.probes >= s->cfg.tcp.retries2 && s->now - t->last_rx > rto_current(s, t)) {
        give_up(s, t, US_C_tcp_timeouts, "zero-window probes unanswered");
        return false;
    }
    t->st.probes++;
    stat_inc(s, US_C_tcp_persist_probes);
    seq_t edge = t->snd_una + t->snd_wnd;
    uint32_t room = seq_gt(edge, t->snd_nxt) ? edge - t->snd_nxt : 0;
    if (room) {
        /* The window opened a little but SWS avoidance held the data back:
         * send what fits (the override timer of RFC 9293 §3.8.6.2.1). */
        uint32_t len = min_u32(min_u32(room, tcp_unsent(t)), t->mss);
        int sent = tcp_send_segment(s, t, t->snd_nxt, len, TH_ACK | TH_PSH);
        if (sent > 0) t->snd_nxt += (uint32_t)sent;
        /* Data went: this is no longer probing a closed window, so the
         * backoff starts over (Linux's tcp_send_probe0). */
        t->persist_shift = 0;
        t->snd_max = seq_max(t->snd_max, t->snd_nxt);
        tcp_rexmt_arm(s, t);
        return true;
    }
    /* A zero-window probe as Linux sends it: an ACK with SEQ = SND.UNA - 1
     * and no data, which the receiver must answer with its window. */
    tcp_send_segment(s, t, t->snd_una - 1, 0, TH_ACK);
    if (t->persist_shift < 16) t->persist_shift++;
    tcp_persist_arm(s, t);
    return true;
}

static bool keep_timeout(struct us_stack *s, struct tcb *t)
{
    t->keep_at = US_TIME_NEVER;
    if (t->state == US_TCP_FIN_WAIT_2 && (t->tf & TF_ORPHAN)) {
        /* Linux drops an orphaned FIN-WAIT-2 silently when TCP_LINGER2 ends. */
        tcb_close(s, t, "FIN-WAIT-2 timeout");
        return false;
    }
    if (!t->set->keepalive || !keepalive_state(t->state)) return true;
    /* Data in flight: the retransmission timer is in charge. */
    if (seq_lt(t->snd_una, t->snd_max) || tcp_unsent(t)) {
        t->keep_at = s->now + t->set->keepidle;
        return true;
    }
    us_time_t idle = s->now - t->last_rx;
    if (idle < t->set->keepidle && t->keep_probes == 0) {
        t->keep_at = t->last_rx + t->set->keepidle;
        return true;
    }
    if (t->keep_probes >= t->set->keepcnt) {
        give_up(s, t, US_C_tcp_keepalive_timeouts, "keepalive timeout");
        return false;
    }
    /* RFC 1122 §4.2.3.6: a probe the peer must answer; like Linux,
     * SEG.SEQ = SND.NXT - 1 and no data. */
    tcp_send_segment(s, t, t->snd_nxt - 1, 0, TH_ACK);
    t->keep_probes++;
    stat_inc(s, US_C_tcp_keepalive_probes);
    t->keep_at = s->now + t->set->keepintvl;
    return true;
}

static void tcb_timer_fire(struct us_timer *tm, us_time_t now, void *ctx)
{
    struct us_stack *s = ctx;
    struct tcb *t = container_of(tm, struct tcb, timer);
    if (t->delack_at <= now) {
        t->delack_at = US_TIME_NEVER;
        if (t->tf & TF_DELACK) {
            stat_inc(s, US_C_tcp_delayed_acks);
            tcp_send_ack(s, t);
        }
    }
    if (t->rexmt_at <= now) {
        bool alive = (t->tf & TF_PERSIST) ? persist_timeout(s, t) : rexmt_timeout(s, t);
        if (!alive) return;
    }
    if (t->keep_at <= now && !keep_timeout(s, t)) return;
    tcp_timer_update(s, t);
}
