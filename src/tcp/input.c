/*
 * input.c: SEGMENT ARRIVES (RFC 9293 §3.10.7), in the RFC's order.
 *
 * tcp_input() parses and validates the segment once, then finds its owner:
 * a connection, a TIME-WAIT entry, a SYN-RECEIVED entry, a listener, or
 * nobody (§3.10.7.1: answer with RST). tcp_process() is the RFC's text for
 * SYN-SENT (§3.10.7.3) and for the other states (§3.10.7.4): first check the
 * sequence number, second the RST bit, third security, fourth the SYN bit,
 * fifth the ACK field, sixth URG, seventh the segment text, eighth FIN. Each
 * step starts with a comment naming it. RFC 5961 hardens the RST, SYN and
 * ACK checks; RFC 7323 adds PAWS to the first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"
#include "tcp/tcp.h"

/* ---- parsing ---- */

static bool parse_segment(struct us_stack *s, const struct ip_pkt *ip, struct segment *sg)
{
    const uint8_t *h = ip->payload;
    size_t len = ip->payload_len;
    if (len < TCP_HLEN) {
        stat_inc(s, US_C_drop_tcp_short);
        return false;
    }
    size_t off = (size_t)(h[12] >> 4) * 4;
    if (off < TCP_HLEN || off > len) {
        stat_inc(s, US_C_drop_tcp_bad_off);
        return false;
    }
    const struct us_link *link = s->ifaces[ip->iface].link;
    if (!(link->flags & US_LINK_F_CSUM_TRUSTED)) {
        uint32_t sum = csum_pseudo(ip->src, ip->dst, IPPROTO_TCP_, (uint16_t)len);
        if (csum_fold(csum_add(sum, h, len)) != 0) {
            stat_inc(s, US_C_drop_tcp_bad_csum);
            return false;
        }
    }
    sg->src = ip->src;
    sg->dst = ip->dst;
    sg->sport = rd16(h);
    sg->dport = rd16(h + 2);
    sg->seq = rd32(h + 4);
    sg->ack = rd32(h + 8);
    sg->flags = h[13];
    sg->wnd = rd16(h + 14);
    sg->urp = rd16(h + 18);
    sg->data = h + off;
    sg->len = (uint32_t)(len - off);
    sg->iface = ip->iface;
    if (!tcp_parse_options(h + TCP_HLEN, off - TCP_HLEN, sg->flags & TH_SYN, &sg->opt)) {
        stat_inc(s, US_C_drop_tcp_bad_opts);
        return false;
    }
    if (sg->sport == 0 || sg->dport == 0) {
        stat_inc(s, US_C_drop_tcp_bad_flags);
        return false;
    }
    return true;
}

void tcp_input(struct us_stack *s, const struct ip_pkt *ip)
{
    stat_inc(s, US_C_tcp_rx);
    struct segment sg;
    if (!parse_segment(s, ip, &sg)) return;
    /* TCP is point to point: nothing for broadcast (RFC 1122 §4.2.3.10). */
    if (ip->to_broadcast) {
        stat_inc(s, US_C_drop_tcp_no_socket);
        return;
    }
    /* SYN and FIN together open and close at once: no real stack sends
     * that, scanners do. A listener always drops it (listen_input); this
     * setting drops it everywhere, before it can reach any state. */
    if (s->cfg.tcp.drop_synfin && (sg.flags & (TH_SYN | TH_FIN)) == (TH_SYN | TH_FIN)) {
        stat_inc(s, US_C_drop_tcp_bad_flags);
        return;
    }
    struct conn_node *n = conn_lookup(s, sg.dst, sg.dport, sg.src, sg.sport);
    if (n) {
        switch (n->kind) {
        case CONN_TCB:
            tcp_process(s, (struct tcb *)n, &sg);
            return;
        case CONN_TW:
            tw_input(s, (struct tw_entry *)n, &sg);
            return;
        case CONN_SYN:
            syn_entry_input(s, (struct syn_entry *)n, &sg);
            return;
        }
    }
    struct listener *l = listener_lookup(s, sg.dst, sg.dport);
    if (l) {
        listen_input(s, l, &sg);
        return;
    }
    /* §3.10.7.1 CLOSED: everything but a RST gets a RST. */
    stat_inc(s, US_C_drop_tcp_no_socket);
    if (sg.flags & TH_RST) {
        stat_inc(s, US_C_tcp_rst_rx);
        return;
    }
    tcp_send_reset_reply(s, &sg);
}

/* ---- helpers ---- */

/* RFC 9293 §3.10.7.4, first: the acceptability table. */
static bool seq_acceptable(seq_t seq, uint32_t len, seq_t rcv_nxt, uint32_t rcv_wnd)
{
    if (len == 0) {
        if (rcv_wnd == 0) return seq == rcv_nxt;
        return seq_in(seq, rcv_nxt, rcv_nxt + rcv_wnd);
    }
    if (rcv_wnd == 0) return false;
    seq_t last = seq + len - 1;
    return seq_in(seq, rcv_nxt, rcv_nxt + rcv_wnd) || seq_in(last, rcv_nxt, rcv_nxt + rcv_wnd);
}

/* RFC 5961 §5.2: SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT. */
static bool ack_acceptable(const struct tcb *t, seq_t ack)
{
    uint32_t span = t->max_sndwnd ? t->max_sndwnd : TCP_MAX_WIN;
    return seq_geq(ack, t->snd_una - span) && seq_leq(ack, t->snd_max);
}

void tcp_challenge_ack(struct us_stack *s, struct tcb *t)
{
    /* RFC 5961 §7: at most challenge_ack_limit per second, per stack. */
    struct tcp_stack *ts = tcpst(s);
    if (s->now - ts->challenge_window >= US_SEC(1)) {
        ts->challenge_window = s->now;
        ts->challenge_count = 0;
    }
    if (ts->challenge_count >= s->cfg.tcp.challenge_ack_limit) {
        stat_inc(s, US_C_tcp_challenge_ratelimited);
        return;
    }
    ts->challenge_count++;
    stat_inc(s, US_C_tcp_challenge_acks);
    tcp_send_ack(s, t);
}

static void set_error(struct tcb *t, int err)
{
    if (!t->so_error) t->so_error = err;
}

static void negotiate_mss(struct us_stack *s, struct tcb *t, const struct segment *sg)
{
    /* RFC 9293 §3.7.1: without the option, assume 536. */
    t->peer_mss = sg->opt.has_mss ? sg->opt.mss : s->cfg.tcp.default_mss;
    uint32_t mss = min_u32(t->peer_mss, t->our_mss);
    if (t->set->maxseg && t->set->maxseg < mss) mss = t->set->maxseg;
    if (t->tf & TF_TS_OK) mss -= TCP_TS_OPTLEN;
    if (mss < 64) mss = 64;
    t->mss = (uint16_t)mss;
}

/* Options of the peer's SYN or SYN-ACK decide what the connection uses. */
void tcp_apply_syn_options(struct us_stack *s, struct tcb *t, const struct segment *sg);
void tcp_apply_syn_options(struct us_stack *s, struct tcb *t, const struct segment *sg)
{
    const struct us_tcp_config *c = &s->cfg.tcp;
    if (sg->opt.has_ws && c->window_scaling) {
        t->tf |= TF_WS_OK;
        t->snd_wscale = sg->opt.wscale;
    } else {
        t->tf &= ~TF_WS_OK;
        t->snd_wscale = 0;
        t->rcv_wscale = 0; /* RFC 7323 §2.2: both sides or neither */
    }
    if (sg->opt.sack_ok && c->sack)
        t->tf |= TF_SACK_OK;
    else
        t->tf &= ~TF_SACK_OK;
    if (sg->opt.has_ts && c->timestamps) {
        t->tf |= TF_TS_OK;
        t->ts_recent = sg->opt.ts_val;
        t->ts_recent_sec = tcp_seconds(s);
    } else {
        t->tf &= ~TF_TS_OK;
    }
    negotiate_mss(s, t, sg);
}

/* RFC 9293 §3.10.7.4 fifth, "update the window": WL1/WL2 keep an old
 * segment from setting the window. */
static void update_window(struct tcb *t, const struct segment *sg)
{
    if (seq_lt(t->snd_wl1, sg->seq) || (t->snd_wl1 == sg->seq && seq_leq(t->snd_wl2, sg->ack))) {
        uint32_t wnd = (uint32_t)sg->wnd << ((sg->flags & TH_SYN) ? 0 : t->snd_wscale);
        t->snd_wnd = wnd;
        if (wnd > t->max_sndwnd) t->max_sndwnd = wnd;
        t->snd_wl1 = sg->seq;
        t->snd_wl2 = sg->ack;
    }
}

static void stop_persist_if_open(struct us_stack *s, struct tcb *t)
{
    if ((t->tf & TF_PERSIST) && t->snd_wnd > 0) {
        t->tf &= ~TF_PERSIST;
        t->rexmt_at = US_TIME_NEVER;
        t->persist_shift = 0;
        t->st.probes = 0;
    }
}

/* ---- ACK processing: what the peer acknowledged ---- */

static void ack_new_data(struct us_stack *s, struct tcb *t, const struct segment *sg)
{
    seq_t old_una = t->snd_una;
    uint32_t acked = sg->ack - old_una;

    /* SYN and FIN occupy sequence space but no buffer. */
    uint32_t data_acked = acked;
    if (!(t->tf & TF_SYN_ACKED)) {
        t->tf |= TF_SYN_ACKED;
        data_acked--;
    }
    bool fin_acked = false;
    if ((t->tf & TF_FIN_SENT) && seq_geq(sg->ack, t->snd_max) && seq_gt(t->snd_max, old_una)) {
        /* The FIN is the last sequence number sent. */
        uint32_t qlen = t->sndq ? t->sndq->len : 0;
        if (data_acked > qlen) {
            fin_acked = true;
            data_acked = qlen;
        }
    }
    if (t->sndq && data_acked) {
        ring_consume(t->sndq, data_acked);
        if (!t->sndq->len) {
            tcp_ring_put(s, t->sndq);
            t->sndq = NULL;
        }
    }
    (void)fin_acked;
    t->snd_una = sg->ack;
    if (seq_lt(t->snd_nxt, t->snd_una)) t->snd_nxt = t->snd_una;
    t->st.bytes_acked += data_acked;
    if (t->sb) sb_ack(t->sb, t->snd_una);

    /* RTT (RFC 6298 §3; RFC 7323 §4.1 with timestamps). */
    us_time_t rtt = US_TIME_NEVER;
    if ((t->tf & TF_RTT_ACTIVE) && seq_gt(sg->ack, t->rtt_seq)) {
        rtt = s->now - t->rtt_time;
        t->tf &= ~TF_RTT_ACTIVE;
    } else if ((t->tf & TF_TS_OK) && sg->opt.has_ts && sg->opt.ts_ecr) {
        uint32_t ms = tcp_ts_now(s, t->ts_offset) - sg->opt.ts_ecr;
        if (ms < 3600u * 1000u) rtt = (us_time_t)ms * 1000u;
    }
    if (rtt != US_TIME_NEVER) rto_sample(s, t, rtt);

    /* RFC 6298 §5.3 and the backoff: new data acknowledged restarts the
     * timer and ends the backoff. */
    t->backoff = 0;
    t->rexmt_count = 0;
    t->first_rexmt = 0;
    t->persist_shift = 0;
    t->tf &= ~TF_TLP_OUT; /* progress: a new tail may be probed */
    if (seq_geq(t->snd_una, t->snd_max))
        tcp_rexmt_stop(s, t);
    else if (!(t->tf & TF_PERSIST))
        tcp_rexmt_arm(s, t);

    /* Congestion control and loss recovery (RFC 5681, 6582, 6675). */
    const struct cc_ops *cc = cc_ops_of(t);
    if (t->ca_state == CA_RECOVERY || t->ca_state == CA_LOSS) {
        if (seq_geq(sg->ack, t->recover)) {
            /* Full ACK: recovery is over (RFC 6582 §3.2 step 3). Of the
             * RFC's two choices we take "cwnd = ssthresh", as Linux does:
             * the other, min(ssthresh, FlightSize + SMSS), collapses cwnd
             * to two segments whenever the full ACK covers everything in
             * flight, and costs a delayed-ACK wait after every loss. */
            if (t->ca_state == CA_RECOVERY) t->cwnd = t->ssthresh;
            t->ca_state = CA_OPEN;
            t->dupacks = 0;
            if (t->sb) {
                t->sb->rtx_next = t->snd_una;
                t->sb->high_rtx = t->snd_una;
            }
            cc->on_recovery_end(s, t);
        } else if (t->ca_state == CA_RECOVERY) {
            /* Partial ACK (RFC 6582 §3.2 step 4): the next hole is lost too. */
            if (!(t->tf & TF_SACK_OK) || !t->sb) {
                uint32_t len = min_u32(t->mss, t->snd_max - t->snd_una);
                seq_t data_end = tcp_sndq_seq(t) + (t->sndq ? t->sndq->len : 0);
                if (seq_gt(t->snd_una + len, data_end)) len = data_end - t->snd_una;
                tcp_send_segment(s, t, t->snd_una, len,
                                 TH_ACK | ((t->tf & TF_FIN_SENT) && !len ? TH_FIN : 0));
                t->tf &= ~TF_RTT_ACTIVE; /* Karn */
                t->st.total_retrans++;
                stat_inc(s, US_C_tcp_retransmits);
                t->cwnd = t->cwnd > acked ? t->cwnd - acked : t->mss;
                t->cwnd += t->mss;
            }
        } else {
            /* CA_LOSS after a timeout: slow start again. */
            cc->on_ack(s, t, acked, rtt);
        }
    } else {
        t->dupacks = 0;
        t->ca_state = CA_OPEN;
        cc->on_ack(s, t, acked, rtt);
    }
}

static void enter_recovery(struct us_stack *s, struct tcb *t)
{
    const struct cc_ops *cc = cc_ops_of(t);
    t->ssthresh = cc->ssthresh(s, t);
    t->recover = t->snd_max;
    t->ca_state = CA_RECOVERY;
    t->st.fast_retrans++;
    stat_inc(s, US_C_tcp_fast_retransmits);
    if ((t->tf & TF_SACK_OK) && t->sb) {
        /* RFC 6675 §5: cwnd = ssthresh; the pipe decides what goes. */
        t->cwnd = t->ssthresh;
        t->sb->rtx_next = t->snd_una;
        t->sb->high_rtx = t->snd_una;
    } else {
        /* RFC 5681 §3.2 step 3 (NewReno): inflate by the three dupacks. */
        t->cwnd = t->ssthresh + 3 * (uint32_t)t->mss;
    }
    /* The first loss goes at once, whatever the pipe says. */
    uint32_t len = min_u32(t->mss, t->snd_max - t->snd_una);
    seq_t hs, he;
    if ((t->tf & TF_SACK_OK) && t->sb && t->sb->n &&
        sb_next_hole(t->sb, t->snd_una, t->snd_max, &hs, &he) && hs == t->snd_una)
        /* RFC 6675 §4 NextSeg(): only the hole; the receiver holds what
         * follows it (a lost 1000-byte segment must not come back as a
         * full MSS carrying SACKed bytes). */
        len = min_u32(len, he - hs);
    seq_t data_end = tcp_sndq_seq(t) + (t->sndq ? t->sndq->len : 0);
    if (seq_gt(t->snd_una + len, data_end)) len = data_end - t->snd_una;
    uint8_t flags = TH_ACK;
    if ((t->tf & TF_FIN_SENT) && seq_geq(t->snd_una + len, data_end) &&
        seq_gt(t->snd_max, data_end))
        flags |= TH_FIN;
    int sent = tcp_send_segment(s, t, t->snd_una, len, flags);
    if (sent > 0) len = (uint32_t)sent;
    t->st.total_retrans++;
    t->st.bytes_retrans += len;
    stat_inc(s, US_C_tcp_retransmits);
    t->tf &= ~TF_RTT_ACTIVE; /* Karn */
    if (t->sb) {
        t->sb->rtx_next = t->snd_una + len;
        t->sb->high_rtx = t->snd_una + len;
        t->sb->rtx_mark = t->snd_max;
    }
    tcp_rexmt_arm(s, t);
}

/* How many duplicate ACKs mean a loss: DupThresh, 3 (RFC 5681 §3.2) --
 * unless fewer than four segments are outstanding and nothing new may be
 * sent, when three can never come: then one less than the segments
 * outstanding (RFC 5827 §3.1, early retransmit). A tail loss probe's ACK
 * often finds a connection there. */
static unsigned dup_thresh(const struct tcb *t)
{
    uint32_t out = t->snd_max - t->snd_una;
    if (t->tf & TF_FIN_SENT) out--; /* the FIN is no segment of data */
    uint32_t oseg = (out + t->mss - 1) / t->mss;
    if (oseg >= 4 || oseg < 2) return 3;
    seq_t edge = t->snd_una + t->snd_wnd;
    if (tcp_unsent(t) && seq_gt(edge, t->snd_nxt) && t->cwnd > tcp_flight(t)) return 3;
    return oseg - 1;
}

/* A duplicate ACK (RFC 5681 §2): nothing new acknowledged, no data, no
 * window change, data outstanding; or, with SACK, new data SACKed whatever
 * the window (RFC 6675 §2). */
static void dup_ack(struct us_stack *s, struct tcb *t, const struct segment *sg, bool new_sack)
{
    if (t->dupacks < 255) t->dupacks++;
    t->st.dup_acks++;
    if (t->ca_state == CA_RECOVERY) {
        if (!(t->tf & TF_SACK_OK) || !t->sb) t->cwnd += t->mss; /* RFC 5681 §3.2 step 4 */
        return;
    }
    if (t->ca_state == CA_LOSS) return;
    unsigned thresh = dup_thresh(t);
    bool sack_says_lost = (t->tf & TF_SACK_OK) && t->sb && new_sack &&
                          (sb_is_lost(t->sb, t->snd_una, t->mss) ||
                           /* RFC 5827 §3.2: ER_thresh segments SACKed */
                           (thresh < 3 && t->sb->sacked > (thresh - 1) * (uint32_t)t->mss));
    /* RFC 6582 §3.2 step 1: no new recovery before the previous one's end
     * is acknowledged (avoids multiple fast retransmits). */
    bool fresh = seq_gt(t->snd_una, t->recover) || t->recover == t->snd_una || t->recover == t->iss;
    if ((t->dupacks >= thresh || sack_says_lost) && fresh) {
        if (thresh < 3) stat_inc(s, US_C_tcp_early_retransmits);
        enter_recovery(s, t);
        return;
    }
    if (t->dupacks < 3) t->ca_state = CA_DISORDER; /* limited transmit (RFC 3042) */
}

/* ---- the receive side ---- */

static bool rcvq_ready(struct us_stack *s, struct tcb *t)
{
    if (t->rcvq) return true;
    /* Never smaller than the window already promised (SO_RCVBUF may have
     * shrunk since): data inside an advertised window must fit. */
    uint32_t promised = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    t->rcvq = tcp_ring_get(s, max_u32(t->set->rcvbuf, promised) + (1u << t->rcv_wscale));
    if (!t->rcvq) {
        stat_inc(s, US_C_drop_tcp_no_mem);
        return false;
    }
    return true;
}

static void deliver_fin(struct us_stack *s, struct tcb *t);

/* Linux's quick-ACK mode (tcp_enter_quickack_mode): ACK every data segment at
 * once for a while -- after the handshake (slow start needs the ACK clock,
 * not a 40 ms delayed ACK per round) and after out-of-order data (the sender
 * is recovering). RFC 1122 §4.2.3.2 allows delaying; it does not require it. */
void tcp_enter_quickack(struct tcb *t)
{
    uint32_t wnd_segs = t->mss ? t->set->rcvbuf / (2u * t->mss) : 16;
    t->quickacks = (uint16_t)(wnd_segs < 16 ? (wnd_segs ? wnd_segs : 1) : 16);
}

/* RFC 9293 §3.10.7.4 seventh, for [seq, seq+len) already trimmed to the
 * window. Returns false when the data had to be dropped. */
static void receive_text(struct us_stack *s, struct tcb *t, seq_t seq, const uint8_t *data,
                         uint32_t len)
{
    if (!rcvq_ready(s, t)) return;
    struct ring *q = t->rcvq;
    uint32_t unread = q->len;
    uint32_t room = q->cap - unread;
    if (seq == t->rcv_nxt) {
        if (len > room) {
            stat_inc(s, US_C_drop_tcp_rcvbuf);
            len = room;
        }
        ring_write_at(q, unread, data, len);
        ring_commit(q, len);
        t->rcv_nxt += len;
        t->st.bytes_received += len;
        if (t->ooo && t->ooo->n) {
            uint32_t more = reass_advance(t->ooo, t->rcv_nxt);
            if (more) {
                ring_commit(q, more);
                t->rcv_nxt += more;
                t->st.bytes_received += more;
            }
            /* RFC 5681 §4.2: ACK at once when a segment fills a gap; and,
             * like Linux, stay quick for a while: the sender is recovering
             * and every ACK clocks out data. */
            t->tf |= TF_ACK_NOW;
            tcp_enter_quickack(t);
        }
        if (t->ooo && !t->ooo->n && !(t->tf & TF_DSACK) && !t->ooo->fin) {
            free(t->ooo);
            t->ooo = NULL;
        }
        /* RFC 1122 §4.2.3.2 / RFC 5681 §4.2: at least every second
         * full-sized segment is acknowledged at once. Counted in bytes, as
         * Linux does (__tcp_ack_snd_check): more than one MSS not yet
         * acknowledged, so a short segment followed by a full one does not
         * wait for the timer. Otherwise, the delayed-ACK timer. */
        if (t->rcv_nxt - t->last_ack_sent > t->mss || t->quickacks)
            t->tf |= TF_ACK_NOW;
        else
            tcp_delack_arm(s, t);
        return;
    }
    /* Out of order: keep it where it belongs in the ring. */
    uint32_t off = seq - t->rcv_nxt;
    if (off + len > room) {
        stat_inc(s, US_C_drop_tcp_rcvbuf);
        len = off < room ? room - off : 0;
    }
    if (!t->ooo) {
        t->ooo = calloc(1, sizeof(*t->ooo));
        if (!t->ooo) {
            stat_inc(s, US_C_drop_tcp_no_mem);
            return;
        }
    }
    if (len && reass_add(t->ooo, seq, len)) {
        ring_write_at(q, unread + off, data, len);
        stat_inc(s, US_C_tcp_ooo_segments);
    } else if (len) {
        stat_inc(s, US_C_drop_tcp_ooo_full);
    }
    /* RFC 5681 §4.2: an out-of-order segment is acknowledged at once (a
     * duplicate ACK, with SACK blocks). */
    t->tf |= TF_ACK_NOW;
    tcp_enter_quickack(t);
}

static void deliver_fin(struct us_stack *s, struct tcb *t)
{
    /* RFC 9293 §3.10.7.4 eighth. */
    t->rcv_nxt++;
    t->tf |= TF_RCV_FIN | TF_ACK_NOW;
    switch (t->state) {
    case US_TCP_SYN_RECEIVED:
    case US_TCP_ESTABLISHED:
        /* Like Linux (tcp_fin, pingpong mode) the ACK is delayed: an
         * application that closes at once sends its FIN with it -- the
         * three-segment close. */
        t->tf &= ~TF_ACK_NOW;
        tcp_delack_arm(s, t);
        tcp_set_state(s, t, US_TCP_CLOSE_WAIT, "rcv FIN");
        break;
    case US_TCP_FIN_WAIT_1:
        /* "If our FIN has been ACKed (perhaps in this segment), then enter
         * TIME-WAIT ...; otherwise, enter the CLOSING state." */
        if ((t->tf & TF_FIN_SENT) && t->snd_una == t->snd_max)
            tcp_set_state(s, t, US_TCP_TIME_WAIT, "rcv FIN,ACK");
        else
            tcp_set_state(s, t, US_TCP_CLOSING, "rcv FIN");
        break;
    case US_TCP_FIN_WAIT_2:
        tcp_set_state(s, t, US_TCP_TIME_WAIT, "rcv FIN");
        break;
    default:
        break;
    }
}

/* Hands the connection to a compact TIME-WAIT entry, after the ACK of the
 * peer's FIN when a FIN is what brought us here (not from CLOSING). */
static void finish_time_wait(struct us_stack *s, struct tcb *t, bool ack_fin)
{
    if (ack_fin) tcp_send_ack(s, t);
    if (!tw_enter(s, t)) {
        stat_inc(s, US_C_tcp_tw_overflow);
        tcb_close(s, t, "TIME-WAIT table full");
    }
}

/* ---- SYN-SENT, §3.10.7.3 ---- */

static void process_syn_sent(struct us_stack *s, struct tcb *t, struct segment *sg)
{
    /* First, check the ACK bit. */
    bool ack_ok = false;
    if (sg->flags & TH_ACK) {
        if (seq_leq(sg->ack, t->iss) || seq_gt(sg->ack, t->snd_max)) {
            if (!(sg->flags & TH_RST)) tcp_send_reset_reply(s, sg);
            stat_inc(s, US_C_drop_tcp_bad_ack);
            return;
        }
        ack_ok = seq_lt(t->snd_una, sg->ack) && seq_leq(sg->ack, t->snd_max);
    }
    /* Second, check the RST bit (RFC 5961 §3.2: only with an ACK of our SYN). */
    if (sg->flags & TH_RST) {
        stat_inc(s, US_C_tcp_rst_rx);
        if (ack_ok) {
            set_error(t, ECONNREFUSED);
            tcb_close(s, t, "rcv RST");
        } else {
            stat_inc(s, US_C_drop_tcp_bad_rst);
        }
        return;
    }
    /* Third, security: no compartments here. */
    /* Fourth, check the SYN bit. */
    if (!(sg->flags & TH_SYN)) return; /* fifth: neither SYN nor RST */
    t->irs = sg->seq;
    t->rcv_nxt = sg->seq + 1;
    tcp_apply_syn_options(s, t, sg);
    t->last_rx = s->now;
    if (ack_ok) {
        t->snd_una = sg->ack;
        t->tf |= TF_SYN_ACKED;
        t->snd_wl1 = sg->seq;
        t->snd_wl2 = sg->ack;
        t->snd_wnd = sg->wnd; /* the SYN-ACK's window is not scaled */
        t->max_sndwnd = t->snd_wnd;
        /* Karn: only a SYN sent once gives an RTT sample. */
        if (t->rexmt_count == 0) rto_sample(s, t, s->now - t->rtt_time);
        t->backoff = 0;
        t->rexmt_count = 0;
        tcp_rexmt_stop(s, t);
        cc_init(s, t);
        t->rcv_adv = t->rcv_nxt;
        tcp_set_state(s, t, US_TCP_ESTABLISHED, "rcv SYN,ACK");
        tcp_keepalive_reset(s, t);
        tcp_enter_quickack(t);
        t->tf |= TF_ACK_NOW;
        /* Data or FIN in the SYN-ACK are processed like any segment's. */
        if (sg->len || (sg->flags & TH_FIN)) {
            sg->seq++;
            sg->flags &= (uint8_t)~TH_SYN;
            tcp_process(s, t, sg);
            return;
        }
        tcp_output(s, t);
        return;
    }
    /* Simultaneous open: SYN-RECEIVED, answer with SYN,ACK (same ISS). */
    t->snd_wnd = sg->wnd;
    t->max_sndwnd = t->snd_wnd;
    t->snd_wl1 = sg->seq;
    t->rcv_adv = t->rcv_nxt;
    tcp_set_state(s, t, US_TCP_SYN_RECEIVED, "rcv SYN");
    tcp_send_segment(s, t, t->iss, 0, TH_SYN | TH_ACK);
    tcp_rexmt_arm(s, t);
}

/* ---- the other states, §3.10.7.4 ---- */

/* RFC 7323 §4.3: record TS.Recent for a segment covering Last.ACK.sent. */
static void update_ts_recent(struct us_stack *s, struct tcb *t, const struct segment *sg,
                             uint32_t slen)
{
    if ((t->tf & TF_TS_OK) && sg->opt.has_ts && seq_leq(sg->seq, t->last_ack_sent) &&
        seq_leq(t->last_ack_sent, sg->seq + slen)) {
        t->ts_recent = sg->opt.ts_val;
        t->ts_recent_sec = tcp_seconds(s);
    }
}

/* Header prediction (Van Jacobson, 1990; BSD's tcp_input, Linux's
 * tcp_rcv_established). In ESTABLISHED nearly every segment is one of two
 * kinds: the next in-order data with nothing new acknowledged (we are the
 * receiver), or a pure ACK of new data (we are the sender). For those, with
 * no flag but ACK, the expected sequence number, a fresh timestamp, no SACK
 * blocks, nothing out of order, not persisting and not in recovery, every
 * test of RFC 9293 §3.10.7.4 has a known outcome, so they are skipped and
 * only their effects remain -- the same effects, in the same order, as the
 * full path below (which the RFC allows: only the result is specified).
 * Segments that carry both (data flowing both ways) qualify too, as in
 * Linux. Returns false, having changed nothing, when not predicted. */
static bool header_predicted(struct us_stack *s, struct tcb *t, struct segment *sg)
{
    /* Also the half-closed states in which the full path adds nothing: a
     * FIN-WAIT-2 receiver (our FIN is acknowledged) and a CLOSE-WAIT sender
     * (which takes no more data, only ACKs). */
    bool state_ok = t->state == US_TCP_ESTABLISHED || t->state == US_TCP_FIN_WAIT_2 ||
                    (t->state == US_TCP_CLOSE_WAIT && sg->len == 0);
    if (!s->cfg.tcp.header_prediction || !state_ok ||
        (sg->flags & (TH_SYN | TH_FIN | TH_RST | TH_URG | TH_ACK)) != TH_ACK ||
        sg->seq != t->rcv_nxt || sg->opt.n_sack || t->ooo || t->snd_nxt != t->snd_max ||
        (t->tf & (TF_PERSIST | TF_ORPHAN)))
        return false;
    /* PAWS would pass (RFC 7323 §5.3): the timestamp is not older. */
    if ((t->tf & TF_TS_OK) && (!sg->opt.has_ts || (int32_t)(sg->opt.ts_val - t->ts_recent) < 0))
        return false;
    /* Nothing acknowledged that was not sent, nothing older than SND.UNA. */
    if (seq_lt(sg->ack, t->snd_una) || seq_gt(sg->ack, t->snd_max)) return false;
    bool new_ack = seq_gt(sg->ack, t->snd_una);
    /* Without data and new ACK it may be a duplicate ACK or a window
     * update: the full path. New data acknowledged only outside recovery. */
    if (!new_ack && sg->len == 0) return false;
    if (new_ack && t->ca_state != CA_OPEN) return false;
    /* Data lies wholly inside the window: nothing to trim. */
    uint32_t rcv_wnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    if (sg->len > rcv_wnd) return false;

    update_ts_recent(s, t, sg, sg->len);
    if (new_ack) ack_new_data(s, t, sg);
    /* Unlike BSD's prediction the window may have changed: the full path
     * would only update it here too (an ACK of new data, or a segment with
     * data, is never a duplicate ACK, whatever its window). */
    update_window(t, sg);
    if (sg->len) {
        receive_text(s, t, sg->seq, sg->data, sg->len);
        stat_inc(s, US_C_tcp_predicted_data);
    } else {
        stat_inc(s, US_C_tcp_predicted_acks);
    }
    tcp_output(s, t);
    tcp_timer_update(s, t);
    return true;
}

/* A retransmission can be lost too. RFC 6675 leaves that to the RTO; with a
 * large window, where one recovery retransmits many holes, that means a
 * timeout in most recoveries at 1% loss. Like Linux before RACK
 * (tcp_mark_lost_retrans): once data sent after our latest retransmission
 * is SACKed while a retransmitted hole is still missing, that
 * retransmission would have arrived first had it not been lost (reordering
 * aside), so a new pass over the holes starts: they leave the pipe and go
 * out again as the window allows. */
static void lost_retransmission_check(struct us_stack *s, struct tcb *t)
{
    struct scoreboard *sb = t->sb;
    seq_t hs, he;
    if (t->ca_state != CA_RECOVERY || !seq_gt(sb->high_rtx, t->snd_una) ||
        !seq_gt(sb_highest(sb, t->snd_una), sb->rtx_mark) ||
        !sb_next_hole(sb, t->snd_una, sb->high_rtx, &hs, &he))
        return;
    sb->rtx_next = t->snd_una;
    sb->high_rtx = t->snd_una;
    stat_inc(s, US_C_tcp_lost_retransmits);
}

void tcp_process(struct us_stack *s, struct tcb *t, struct segment *sg)
{
    t->st.segs_in++;
    if (sg->len) t->st.data_segs_in++;
    if (sg->opt.n_sack) t->st.sack_blocks_rx += sg->opt.n_sack;
    if (t->state == US_TCP_SYN_SENT) {
        process_syn_sent(s, t, sg);
        return;
    }
    if (t->state == US_TCP_CLOSED || t->state == US_TCP_LISTEN) {
        tcp_send_reset_reply(s, sg);
        return;
    }
    t->last_rx = s->now;
    t->keep_probes = 0;
    if (header_predicted(s, t, sg)) return;

    /* First, check the sequence number. */
    uint32_t rcv_wnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    uint32_t slen = seg_len(sg);
    /* RFC 7323 §5.3 PAWS: a timestamp older than TS.Recent marks an old
     * duplicate (unless TS.Recent is over 24 days old). */
    if ((t->tf & TF_TS_OK) && sg->opt.has_ts && !(sg->flags & TH_RST) &&
        (int32_t)(sg->opt.ts_val - t->ts_recent) < 0 &&
        tcp_seconds(s) - t->ts_recent_sec < 24 * 86400) {
        stat_inc(s, US_C_tcp_paws_rejected);
        tcp_send_ack(s, t);
        return;
    }
    if (!seq_acceptable(sg->seq, slen, t->rcv_nxt, rcv_wnd)) {
        /* A zero window still takes valid ACKs (and RSTs, below). */
        bool ack_only_at_edge = rcv_wnd == 0 && sg->seq == t->rcv_nxt;
        if (!ack_only_at_edge) {
            if (sg->flags & TH_RST) {
                stat_inc(s, US_C_tcp_rst_rx);
                stat_inc(s, US_C_drop_tcp_bad_rst);
                return;
            }
            stat_inc(s, US_C_drop_tcp_unacceptable);
            if (seq_lt(sg->seq + slen, t->rcv_nxt) || (seq_lt(sg->seq, t->rcv_nxt) && slen)) {
                stat_inc(s, US_C_tcp_dup_segments);
                /* RFC 2883 D-SACK: tell the sender it sent this twice. */
                if ((t->tf & TF_SACK_OK) && sg->len) {
                    if (!t->ooo) t->ooo = calloc(1, sizeof(*t->ooo));
                    if (t->ooo) {
                        t->ooo->dsack.left = sg->seq;
                        t->ooo->dsack.right = seq_min(sg->seq + sg->len, t->rcv_nxt);
                        t->tf |= TF_DSACK;
                    }
                }
            }
            /* Like Linux (tcp_invalid_ratelimit): answering out-of-window
             * segments that carry no data at most every 500 ms makes an ACK
             * war between two confused ends impossible. */
            uint32_t now_ms = (uint32_t)(s->now / 1000u) | 1u; /* 0: never */
            if (sg->len == 0 && t->last_oow_ms && now_ms - t->last_oow_ms < 500) return;
            t->last_oow_ms = now_ms;
            tcp_send_ack(s, t);
            return;
        }
    }
    update_ts_recent(s, t, sg, slen);

    /* Second, check the RST bit (RFC 5961 §3.2). */
    if (sg->flags & TH_RST) {
        stat_inc(s, US_C_tcp_rst_rx);
        if (sg->seq != t->rcv_nxt && s->cfg.tcp.rfc5961) {
            tcp_challenge_ack(s, t);
            return;
        }
        switch (t->state) {
        case US_TCP_SYN_RECEIVED:
            /* Passive opens live as compact entries until the handshake
             * completes, so a full tcb here came from a simultaneous open. */
            set_error(t, ECONNREFUSED);
            break;
        case US_TCP_ESTABLISHED:
        case US_TCP_FIN_WAIT_1:
        case US_TCP_FIN_WAIT_2:
        case US_TCP_CLOSE_WAIT:
        case US_TCP_CLOSING:
        case US_TCP_LAST_ACK:
            /* The RFC only closes in CLOSING and LAST-ACK, but a socket
             * shut down for writing is still open: like Linux (tcp_reset)
             * and BSD, tell it the connection was reset. */
            set_error(t, ECONNRESET);
            break;
        default:
            break;
        }
        t->eof_error = ECONNRESET;
        tcb_close(s, t, "rcv RST");
        return;
    }

    /* Third, check security: no compartments here. */

    /* Fourth, check the SYN bit: in a synchronized state any SYN gets a
     * challenge ACK (RFC 5961 §4.2), never a reset. */
    if (sg->flags & TH_SYN) {
        if (s->cfg.tcp.rfc5961 || t->state == US_TCP_SYN_RECEIVED) {
            tcp_challenge_ack(s, t);
        } else {
            /* RFC 793's rule when RFC 5961 is off: reset, in the form of
             * an abort (RST,ACK; timewait.c does the same). */
            tcp_send_reset(s, t);
            set_error(t, ECONNRESET);
            tcb_close(s, t, "rcv SYN");
        }
        return;
    }

    /* Fifth, check the ACK field. */
    if (!(sg->flags & TH_ACK)) return;
    if (!ack_acceptable(t, sg->ack)) {
        /* RFC 5961 §5.2: too old or not yet sent: ACK and drop. */
        stat_inc(s, US_C_drop_tcp_bad_ack);
        tcp_challenge_ack(s, t);
        return;
    }
    if (t->state == US_TCP_SYN_RECEIVED) {
        if (!(seq_lt(t->snd_una, sg->ack) && seq_leq(sg->ack, t->snd_max))) {
            tcp_send_raw(s, sg->dst, sg->dport, sg->src, sg->sport, sg->ack, 0, TH_RST, 0, NULL, 0);
            return;
        }
        if (t->parent && !listener_enqueue(s, t->parent, t)) return;
        t->snd_wnd = (uint32_t)sg->wnd << t->snd_wscale;
        t->max_sndwnd = t->snd_wnd;
        t->snd_wl1 = sg->seq;
        t->snd_wl2 = sg->ack;
        tcp_rexmt_stop(s, t);
        if (t->rexmt_count == 0 && t->rtt_time != US_TIME_NEVER)
            rto_sample(s, t, s->now - t->rtt_time);
        t->backoff = 0;
        t->rexmt_count = 0;
        cc_init(s, t);
        tcp_set_state(s, t, US_TCP_ESTABLISHED, "rcv ACK");
        tcp_keepalive_reset(s, t);
        tcp_enter_quickack(t);
    }

    bool new_sack = false;
    if ((t->tf & TF_SACK_OK) && sg->opt.n_sack) {
        if (!t->sb) t->sb = calloc(1, sizeof(*t->sb));
        if (t->sb) {
            uint32_t before = t->sb->sacked;
            uint8_t nb = t->sb->n;
            sb_update(t->sb, seq_max(t->snd_una, sg->ack), t->snd_max, sg->opt.sack,
                      sg->opt.n_sack);
            new_sack = t->sb->sacked != before || t->sb->n != nb;
            if (new_sack) lost_retransmission_check(s, t);
        }
    }
    uint32_t old_wnd = t->snd_wnd;
    if (seq_gt(sg->ack, t->snd_una)) {
        ack_new_data(s, t, sg);
    } else if (sg->ack == t->snd_una && sg->len == 0 && !(sg->flags & TH_FIN) &&
               seq_gt(t->snd_max, t->snd_una) &&
               (((uint32_t)sg->wnd << t->snd_wscale) == old_wnd || new_sack)) {
        /* RFC 6675 §2: an ACK that SACKs new data is a duplicate even if it
         * changes the window. Linux grows its window with every segment it
         * queues out of order, so by RFC 5681's rule alone none of its
         * duplicate ACKs would count and every loss would wait for the RTO
         * (tests/sim/test_sack_dupack.c). */
        dup_ack(s, t, sg, new_sack);
    } else if (new_sack && t->ca_state == CA_RECOVERY) {
        /* SACK information alone may open the pipe. */
    }
    if (seq_leq(t->snd_una, sg->ack)) update_window(t, sg);
    stop_persist_if_open(s, t);

    bool our_fin_acked = (t->tf & TF_FIN_SENT) && t->snd_una == t->snd_max;
    /* A FIN arriving with the ACK of ours takes FIN-WAIT-1 straight to
     * TIME-WAIT in the eighth step (the diagram's "rcv FIN, ACK" arc). */
    bool fin_in_order = (sg->flags & TH_FIN) && seq_leq(sg->seq, t->rcv_nxt);
    switch (t->state) {
    case US_TCP_FIN_WAIT_1:
        if (our_fin_acked && !fin_in_order) {
            tcp_set_state(s, t, US_TCP_FIN_WAIT_2, "rcv ACK of FIN");
            /* An orphan does not wait forever for the peer's FIN (Linux's
             * tcp_fin_timeout / TCP_LINGER2). */
            if (t->tf & TF_ORPHAN) {
                t->keep_at = s->now + t->set->linger2;
                tcp_timer_update(s, t);
            }
        }
        break;
    case US_TCP_CLOSING:
        if (our_fin_acked) {
            tcp_set_state(s, t, US_TCP_TIME_WAIT, "rcv ACK of FIN");
            finish_time_wait(s, t, false);
            return;
        }
        /* "Otherwise ignore the segment": no text, no FIN; but what the
         * ACK allowed may be sent (data queued before our FIN). */
        goto out;
    case US_TCP_LAST_ACK:
        if (our_fin_acked) {
            tcb_close(s, t, "rcv ACK of FIN");
            return;
        }
        break;
    default:
        break;
    }

    /* Sixth, check the URG bit: urgent data is delivered inline (RFC 6093);
     * the pointer is not tracked. */

    /* Seventh, process the segment text. */
    seq_t seq = sg->seq;
    const uint8_t *data = sg->data;
    uint32_t len = sg->len;
    bool fin = sg->flags & TH_FIN;
    if (len && (t->state == US_TCP_ESTABLISHED || t->state == US_TCP_FIN_WAIT_1 ||
                t->state == US_TCP_FIN_WAIT_2 || t->state == US_TCP_SYN_RECEIVED)) {
        /* Trim what we already have (left) and what the window excludes (right). */
        if (seq_lt(seq, t->rcv_nxt)) {
            uint32_t dup = t->rcv_nxt - seq;
            if (dup >= len) {
                len = 0;
            } else {
                data += dup;
                len -= dup;
                seq = t->rcv_nxt;
            }
            t->tf |= TF_ACK_NOW;
        }
        seq_t wnd_end = t->rcv_nxt + rcv_wnd;
        if (len && seq_gt(seq + len, wnd_end)) {
            uint32_t over = seq + len - wnd_end;
            len = over >= len ? 0 : len - over;
            fin = false; /* the FIN lies beyond the window */
            t->tf |= TF_ACK_NOW;
        }
        /* Linux: new data for a socket whose reading side is closed (after
         * close() in FIN-WAIT) aborts with RST, rather than being acked into
         * the void (RFC 2525 §2.17). */
        if (len && (t->tf & TF_ORPHAN) &&
            (t->state == US_TCP_FIN_WAIT_1 || t->state == US_TCP_FIN_WAIT_2)) {
            tcp_send_reset(s, t);
            set_error(t, ECONNRESET);
            tcb_close(s, t, "data after close");
            return;
        }
        if (len) receive_text(s, t, seq, data, len);
    }
    if (fin && seq_gt(sg->seq + sg->len, t->rcv_nxt)) {
        /* A FIN beyond a gap: remembered, and acted on when the gap fills
         * (otherwise only a retransmission of it, maybe by timeout, would
         * end the stream). */
        if (!t->ooo) t->ooo = calloc(1, sizeof(*t->ooo));
        if (t->ooo) {
            t->ooo->fin = true;
            t->ooo->fin_seq = sg->seq + sg->len;
        }
        fin = false;
    }
    if (!fin && t->ooo && t->ooo->fin && t->ooo->fin_seq == t->rcv_nxt &&
        (t->state == US_TCP_ESTABLISHED || t->state == US_TCP_FIN_WAIT_1 ||
         t->state == US_TCP_FIN_WAIT_2 || t->state == US_TCP_SYN_RECEIVED)) {
        /* The gap before a remembered FIN has just filled. */
        t->ooo->fin = false;
        fin = true;
        sg->seq = t->rcv_nxt;
        sg->len = 0;
    }

    /* Eighth, check the FIN bit. */
    if (fin && !(t->tf & TF_RCV_FIN)) {
        seq_t fin_seq = sg->seq + sg->len;
        if (fin_seq == t->rcv_nxt) {
            deliver_fin(s, t);
            if (t->state == US_TCP_TIME_WAIT) {
                finish_time_wait(s, t, true);
                return;
            }
        }
    } else if (fin && (t->tf & TF_RCV_FIN)) {
        t->tf |= TF_ACK_NOW; /* a retransmitted FIN: ACK it again */
    }

out:
    /* The FIN we deferred for turned out not to be in order. */
    if (t->state == US_TCP_FIN_WAIT_1 && our_fin_acked) {
        tcp_set_state(s, t, US_TCP_FIN_WAIT_2, "rcv ACK of FIN");
        if (t->tf & TF_ORPHAN) t->keep_at = s->now + t->set->linger2;
    }

    tcp_output(s, t);
    tcp_timer_update(s, t);
}

/* ---- ICMP errors about our segments (RFC 1122 §4.2.3.9, RFC 5927) ---- */

void tcp_icmp_error(struct us_stack *s, uint8_t type, uint8_t code, uint32_t src, uint32_t dst,
                    const uint8_t *l4, size_t l4len)
{
    if (type != 3 || l4len < 8) return;
    uint16_t sport = rd16(l4), dport = rd16(l4 + 2);
    seq_t seq = rd32(l4 + 4);
    struct conn_node *n = conn_lookup(s, src, sport, dst, dport);
    if (!n || n->kind != CONN_TCB) return;
    struct tcb *t = (struct tcb *)n;
    /* RFC 5927 §4.1: only an error quoting data we have in flight is believed. */
    if (!seq_in(seq, t->snd_una, t->snd_max + 1)) return;
    int err = code == 3 ? ECONNREFUSED : code == 2 ? ENOPROTOOPT : EHOSTUNREACH;
    if (code == 4) return; /* fragmentation needed: we send DF-sized segments already */
    /* Like Linux: while opening, an unreachable destination ends the attempt;
     * once established, errors are soft (the retransmission timer decides). */
    if (t->state == US_TCP_SYN_SENT) {
        t->so_error = err;
        tcb_close(s, t, "ICMP unreachable");
    }
}
