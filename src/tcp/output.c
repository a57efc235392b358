/*
 * output.c: what a connection may send now, and how a segment is built.
 *
 * tcp_output() is the one place that decides: the usable window is
 * min(peer window, congestion window) minus what is in flight; Nagle
 * (RFC 9293 §3.7.4) holds back a small segment while data is unacknowledged
 * unless TCP_NODELAY; TCP_CORK holds back everything short of a full segment;
 * sender SWS avoidance (§3.8.6.2.1) sends a short segment only when it is all
 * there is or at least half the largest window the peer offered. In loss
 * recovery with SACK it first fills holes (RFC 6675 §5). Every segment, first
 * transmission or retransmission, goes through tcp_send_segment().
 */
#include <errno.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"
#include "tcp/tcp.h"

seq_t tcp_sndq_seq(const struct tcb *t)
{
    /* The SYN occupies iss; data starts after it. */
    return (t->tf & TF_SYN_ACKED) ? t->snd_una : t->iss + 1;
}

static uint32_t sndq_len(const struct tcb *t)
{
    return t->sndq ? t->sndq->len : 0;
}

uint32_t tcp_unsent(const struct tcb *t)
{
    uint32_t len = sndq_len(t);
    seq_t base = tcp_sndq_seq(t);
    if (seq_lt(t->snd_nxt, base)) return len;
    uint32_t sent = t->snd_nxt - base;
    return sent >= len ? 0 : len - sent;
}

/* The receive window as free buffer space, with receiver-side SWS avoidance
 * (RFC 9293 §3.8.6.2.2): the right edge moves only by at least
 * min(buffer/2, MSS), and it never moves left (no shrinking, §3.8.6.2.1). */
uint32_t tcp_rcv_window(struct us_stack *s, struct tcb *t)
{
    bool shrunk;
    return tcp_rcv_window_ex(s, t, &shrunk);
}

uint32_t tcp_rcv_window_ex(struct us_stack *s, struct tcb *t, bool *shrunk)
{
    *shrunk = false;
    uint32_t unread = t->rcvq ? t->rcvq->len : 0;
    uint32_t space = t->set->rcvbuf > unread ? t->set->rcvbuf - unread : 0;
    uint32_t unit = 1u << t->rcv_wscale;
    /* What the ring can physically hold beyond RCV.NXT: no promise may
     * exceed it (rings are allocated with one scale unit of slack). */
    uint32_t cap = t->rcvq ? t->rcvq->cap : ring_round_cap(t->set->rcvbuf + unit);
    uint32_t hard = cap > unread ? cap - unread : 0;
    uint32_t max_wnd = TCP_MAX_WIN << t->rcv_wscale;
    if (space > max_wnd) space = max_wnd;
    if (space > hard) space = hard;
    uint32_t cur = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    uint32_t step = min_u32(t->set->rcvbuf / 2, t->our_mss ? t->our_mss : 536);
    uint32_t wnd = (space >= cur + step || space == t->set->rcvbuf) ? space : cur;
    /* The scaled field loses the low bits. Rounding down could move the
     * right edge left (RFC 9293 §3.8.6.2.1: SHOULD NOT shrink), and a peer
     * that sent into the old edge would then see its segments -- and the
     * ACKs riding on them -- refused. So, as Linux does, round up: what
     * the peer is shown is a promise and is honoured. Repeated, rounding up
     * lets the edge creep; the ring's capacity bounds the creep (memory
     * stays bounded), and only when the ring is truly full does the
     * window shrink, by less than one unit. */
    uint32_t down = wnd & ~(unit - 1);
    if (down >= cur) return down;
    uint32_t up = (cur + unit - 1) & ~(unit - 1);
    if (up <= hard) return up;
    *shrunk = true;
    return hard & ~(unit - 1);
}

/* SYN and SYN-ACK windows are never scaled (RFC 7323 §2.2); like Linux we
 * offer a whole number of segments. */
static uint16_t syn_window(const struct tcb *t, bool ts)
{
    uint32_t space = t->set->rcvbuf;
    if (space > TCP_MAX_WIN) space = TCP_MAX_WIN;
    uint32_t unit = t->our_mss;
    if (ts && unit > TCP_TS_OPTLEN) unit -= TCP_TS_OPTLEN;
    if (unit && space >= unit) space -= space % unit;
    return (uint16_t)space;
}

int tcp_send_raw(struct us_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                 seq_t seq, seq_t ack, uint8_t flags, uint16_t wnd, const uint8_t *opts,
                 size_t optlen)
{
    struct pbuf *p = pbuf_alloc(&s->pool);
    if (!p) {
        stat_inc(s, US_C_drop_no_pbuf);
        return -ENOBUFS;
    }
    uint8_t *h = pbuf_data(p);
    size_t hlen = TCP_HLEN + optlen;
    wr16(h, lport);
    wr16(h + 2, rport);
    wr32(h + 4, seq);
    wr32(h + 8, (flags & TH_ACK) ? ack : 0);
    h[12] = (uint8_t)((hlen / 4) << 4);
    h[13] = flags;
    wr16(h + 14, wnd);
    wr16(h + 16, 0);
    wr16(h + 18, 0);
    if (optlen) memcpy(h + TCP_HLEN, opts, optlen);
    p->len = (uint32_t)hlen;
    uint32_t sum = csum_pseudo(laddr, raddr, IPPROTO_TCP_, (uint16_t)hlen);
    wr16(h + 16, csum_fold(csum_add(sum, h, hlen)));
    stat_inc(s, US_C_tcp_tx);
    if (flags & TH_RST) stat_inc(s, US_C_tcp_rst_tx);
    return ip_output(s, p, laddr, raddr, IPPROTO_TCP_);
}

int tcp_send_segment(struct us_stack *s, struct tcb *t, seq_t seq, uint32_t len, uint8_t flags)
{
    return tcp_send_segment_gso(s, t, seq, len, flags, 0);
}

int tcp_send_segment_gso(struct us_stack *s, struct tcb *t, seq_t seq, uint32_t len,
                         uint8_t flags, uint32_t gso_max)
{
    struct pbuf *p = pbuf_alloc(&s->pool);
    if (!p) {
        stat_inc(s, US_C_drop_no_pbuf);
        return -ENOBUFS;
    }
    uint8_t *h = pbuf_data(p);
    uint8_t *o = h + TCP_HLEN;
    size_t optlen;
    uint16_t wnd;
    bool syn = flags & TH_SYN;
    uint32_t ts_val = tcp_ts_now(s, t->ts_offset);

    if (syn) {
        const struct us_tcp_config *c = &s->cfg.tcp;
        bool active = t->state == US_TCP_SYN_SENT;
        /* A SYN offers what we do; a SYN-ACK answers what the peer offered. */
        bool ts = active ? c->timestamps : (t->tf & TF_TS_OK);
        bool sack = active ? c->sack : (t->tf & TF_SACK_OK);
        bool ws = active ? c->window_scaling : (t->tf & TF_WS_OK);
        optlen = tcp_write_syn_options(o, t->our_mss, sack, ts, ts_val,
                                       (flags & TH_ACK) ? t->ts_recent : 0, ws, t->rcv_wscale);
        wnd = syn_window(t, ts);
        t->rcv_adv = t->rcv_nxt + wnd;
    } else {
        struct sack_block blk[TCP_MAX_SACK];
        unsigned n = 0;
        if ((t->tf & TF_SACK_OK) && (t->ooo || (t->tf & TF_DSACK))) {
            /* RFC 2883: a duplicate is reported in the first block. */
            if ((t->tf & TF_DSACK) && t->ooo) blk[n++] = t->ooo->dsack;
            if (t->ooo) n += reass_sack_blocks(t->ooo, blk + n, TCP_MAX_SACK - n);
            if (n) t->st.sack_blocks_tx += n;
        }
        optlen = tcp_write_options(o, t->tf & TF_TS_OK, ts_val, t->ts_recent, blk, n);
        bool shrunk;
        uint32_t w = tcp_rcv_window_ex(s, t, &shrunk);
        wnd = (uint16_t)min_u32(w >> t->rcv_wscale, TCP_MAX_WIN);
        /* RCV.ADV is the furthest edge ever shown: segments up to it stay
         * acceptable even after a forced shrink. */
        if (flags & TH_ACK) {
            seq_t edge = t->rcv_nxt + ((uint32_t)wnd << t->rcv_wscale);
            if (seq_gt(edge, t->rcv_adv) || !(t->tf & TF_SYN_ACKED)) t->rcv_adv = edge;
        }
    }
    size_t hlen = TCP_HLEN + optlen;
    /* RFC 6691: the MSS counts payload plus options beyond the fixed
     * header; t->mss already leaves room for timestamps, SACK blocks take
     * theirs from the payload. A trimmed segment can no longer carry FIN. */
    uint32_t cap = t->mss + ((t->tf & TF_TS_OK) ? TCP_TS_OPTLEN : 0);
    cap = cap > optlen ? cap - (uint32_t)optlen : 0;
    uint32_t segs = 1;
    if (len > cap && gso_max > IP_HLEN + hlen + cap && cap) {
        /* One frame for the link to cut into segments of `cap` bytes, each
         * with this header (TSO/GSO): every segment but the last is full. */
        uint32_t most = (gso_max - IP_HLEN - (uint32_t)hlen) / cap * cap;
        if (len > most) {
            len = most;
            flags &= (uint8_t) ~(TH_FIN | TH_PSH);
        }
        segs = (len + cap - 1) / cap;
        if (segs > 1) p->gso_size = (uint16_t)cap;
    } else if (len > cap) {
        len = cap;
        flags &= (uint8_t) ~(TH_FIN | TH_PSH);
    }
    if (len) {
        uint32_t off = seq - tcp_sndq_seq(t);
        ring_copy_out(t->sndq, off, h + hlen, len);
    }
    wr16(h, t->node.lport);
    wr16(h + 2, t->node.rport);
    wr32(h + 4, seq);
    wr32(h + 8, (flags & TH_ACK) ? t->rcv_nxt : 0);
    h[12] = (uint8_t)((hlen / 4) << 4);
    h[13] = flags;
    wr16(h + 14, wnd);
    wr16(h + 16, 0);
    wr16(h + 18, 0);
    p->len = (uint32_t)(hlen + len);
    uint32_t sum = csum_pseudo(t->node.laddr, t->node.raddr, IPPROTO_TCP_, (uint16_t)p->len);
    if (s->csum_links || p->gso_size) {
        /* Left partial (the pseudo-header sum in the field): eth_output()
         * finishes it, or hands it to a link that does. */
        wr16(h + 16, (uint16_t)~csum_fold(sum));
        p->csum_start = p->off;
        p->csum_off = 16;
    } else {
        wr16(h + 16, csum_fold(csum_add(sum, h, p->len)));
    }

    if (flags & TH_ACK) {
        /* An ACK that acknowledges new data uses up one quick ACK. */
        if (t->quickacks && seq_gt(t->rcv_nxt, t->last_ack_sent)) t->quickacks--;
        t->last_ack_sent = t->rcv_nxt;
        t->tf &= ~(TF_ACK_NOW | TF_DELACK | TF_WND_UPDATE | TF_DSACK);
        t->delack_at = US_TIME_NEVER;
    }
    t->st.segs_out += segs;
    if (len) {
        t->st.data_segs_out += segs;
        t->st.bytes_sent += len;
        t->last_tx_data = s->now;
    }
    stat_inc(s, US_C_tcp_tx);
    if (flags & TH_RST) stat_inc(s, US_C_tcp_rst_tx);
    ip_output(s, p, t->node.laddr, t->node.raddr, IPPROTO_TCP_);
    /* A frame lost below us (no ARP yet, a full queue) is, to TCP, a
     * segment lost in the network: the retransmission timer covers it. */
    return (int)len;
}

void tcp_send_ack(struct us_stack *s, struct tcb *t)
{
    /* After a timeout SND.NXT goes back to SND.UNA to retransmit; an ACK
     * sent then with SEG.SEQ = SND.NXT would lie below the peer's RCV.NXT,
     * fail its acceptability test and never be processed. Like BSD's
     * tcp_output, a pure ACK carries SND.MAX. */
    tcp_send_segment(s, t, (t->tf & TF_PERSIST) ? t->snd_nxt : t->snd_max, 0, TH_ACK);
}

void tcp_send_reset(struct us_stack *s, struct tcb *t)
{
    /* An abort (RFC 9293 §3.10.5): <SEQ=SND.NXT><CTL=RST>; Linux adds the ACK
     * when it has one to give. */
    uint8_t flags = TH_RST;
    if (t->state != US_TCP_SYN_SENT) flags |= TH_ACK;
    tcp_send_raw(s, t->node.laddr, t->node.lport, t->node.raddr, t->node.rport, t->snd_max,
                 t->rcv_nxt, flags, 0, NULL, 0);
}

void tcp_send_reset_reply(struct us_stack *s, const struct segment *sg)
{
    /* RFC 9293 §3.10.7.1: never a RST for a RST. If the segment has an ACK,
     * <SEQ=SEG.ACK><CTL=RST>; otherwise <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
    if (sg->flags & TH_RST) return;
    if (sg->flags & TH_ACK)
        tcp_send_raw(s, sg->dst, sg->dport, sg->src, sg->sport, sg->ack, 0, TH_RST, 0, NULL, 0);
    else
        tcp_send_raw(s, sg->dst, sg->dport, sg->src, sg->sport, 0, sg->seq + seg_len(sg),
                     TH_RST | TH_ACK, 0, NULL, 0);
}

/* ---- deciding what to send ---- */

static bool fin_pending(const struct tcb *t)
{
    return (t->tf & TF_FIN_QUEUED) && !(t->tf & TF_FIN_SENT);
}

/* Sends a hole in SACK recovery; true if something was sent. */
static bool send_hole(struct us_stack *s, struct tcb *t)
{
    struct scoreboard *sb = t->sb;
    seq_t start, end;
    seq_t limit = sb_highest(sb, t->snd_una);
    seq_t from = seq_max(sb->rtx_next, t->snd_una);
    while (sb_next_hole(sb, from, limit, &start, &end)) {
        if (!sb_is_lost(sb, start, t->mss)) return false;
        uint32_t len = min_u32(end - start, t->mss);
        seq_t data_end = tcp_sndq_seq(t) + sndq_len(t);
        if (seq_geq(start, data_end)) return false;
        if (seq_gt(start + len, data_end)) len = data_end - start;
        int sent = tcp_send_segment(s, t, start, len, TH_ACK);
        if (sent < 0) return false;
        len = (uint32_t)sent;
        t->st.total_retrans++;
        t->st.bytes_retrans += len;
        stat_inc(s, US_C_tcp_retransmits);
        sb->rtx_next = start + len;
        sb->high_rtx = seq_max(sb->high_rtx, start + len);
        sb->rtx_mark = t->snd_max;
        return true;
    }
    return false;
}

void tcp_output_slow(struct us_stack *s, struct tcb *t)
{
    switch (t->state) {
    case US_TCP_CLOSED:
    case US_TCP_LISTEN:
    case US_TCP_TIME_WAIT:
        return;
    case US_TCP_SYN_SENT:
    case US_TCP_SYN_RECEIVED:
        if (!(t->tf & TF_SYN_ACKED)) {
            if (t->snd_nxt == t->iss) {
                uint8_t flags = TH_SYN | (t->state == US_TCP_SYN_RECEIVED ? TH_ACK : 0);
                if (t->rexmt_count == 0) t->rtt_time = s->now;
                tcp_send_segment(s, t, t->iss, 0, flags);
                t->snd_nxt = t->iss + 1;
                t->snd_max = seq_max(t->snd_max, t->snd_nxt);
                tcp_rexmt_arm(s, t);
            } else if (t->tf & TF_ACK_NOW && t->state == US_TCP_SYN_RECEIVED) {
                tcp_send_segment(s, t, t->iss, 0, TH_SYN | TH_ACK);
            }
            t->tf &= ~TF_ACK_NOW;
            return;
        }
        break;
    default:
        break;
    }

    /* Nothing to send and no ACK owed (tcp_output() checks it first for
     * connections past the handshake): everything below would come to
     * nothing. */
    if (!(t->tf & (TF_ACK_NOW | TF_WND_UPDATE)) && t->ca_state != CA_RECOVERY &&
        !fin_pending(t) && tcp_unsent(t) == 0)
        return;

    bool sent_any = false, sent_new = false, armed = false;
    seq_t armed_at = 0;
    /* A link that segments (TSO/GSO) takes new data in frames of many
     * segments: one pass through the stack and one write for all of them. */
    uint32_t gso = s->gso_links ? ip_route_gso(s, t->node.raddr) : 0;
    if (t->ca_state == CA_RECOVERY && t->sb && (t->tf & TF_SACK_OK)) {
        while (tcp_flight(t) + t->mss <= t->cwnd && send_hole(s, t)) sent_any = true;
    }

    for (;;) {
        uint32_t unsent = tcp_unsent(t);
        bool fin = fin_pending(t);
        if (!unsent && !fin) break;
        seq_t seq = t->snd_nxt;
        /* Skip what the receiver already has (SACKed) after going back. */
        if (t->sb && t->sb->n && seq_lt(seq, t->snd_max) && sb_is_sacked(t->sb, seq)) {
            seq_t hs, he;
            if (!sb_next_hole(t->sb, seq, t->snd_max, &hs, &he)) hs = t->snd_max;
            t->snd_nxt = hs;
            continue;
        }
        uint32_t flight = tcp_flight(t);
        uint32_t cwnd = t->cwnd;
        /* RFC 3042 limited transmit: on the first two duplicate ACKs, up to
         * two new segments beyond cwnd, so a small window still produces
         * the third duplicate ACK that triggers fast retransmit. */
        if (t->ca_state == CA_DISORDER && !seq_lt(seq, t->snd_max))
            cwnd += min_u32(t->dupacks, 2) * (uint32_t)t->mss;
        uint32_t cwnd_room = cwnd > flight ? cwnd - flight : 0;
        seq_t wnd_edge = t->snd_una + t->snd_wnd;
        uint32_t wnd_room = seq_gt(wnd_edge, seq) ? wnd_edge - seq : 0;
        uint32_t room = min_u32(cwnd_room, wnd_room);
        bool retrans = seq_lt(seq, t->snd_max);
        uint32_t len = min_u32(min_u32(unsent, t->mss), room);
        if (gso && !retrans && room > t->mss && unsent > t->mss) {
            /* Whole segments only, unless it is all there is: what is left
             * over waits, as it would when sent one segment at a time. */
            len = min_u32(unsent, room);
            if (len < unsent) len = len / t->mss * t->mss;
        }
        /* The FIN rides on the segment with the last byte, or goes alone; it
         * takes a sequence number, so it needs one byte of window too. */
        bool send_fin = fin && len == unsent && wnd_room > len && (len > 0 || cwnd_room > 0);

        if (len == 0 && !send_fin) break;
        if (len < t->mss && !send_fin) {
            bool all = len == unsent;
            /* TCP_CORK: only full segments until uncorked. */
            if (t->set->cork) break;
            /* Nagle: a short segment waits while anything is unacknowledged. */
            if (all && seq_gt(t->snd_nxt, t->snd_una) && !t->set->nodelay) break;
            /* Sender SWS avoidance: a short segment that is not everything we
             * have goes only if it is at least half the largest window. */
            if (!all && len < t->max_sndwnd / 2) break;
        }
        uint8_t flags = TH_ACK;
        if (len && len == unsent) flags |= TH_PSH;
        if (send_fin) flags |= TH_FIN;
        int sent = tcp_send_segment_gso(s, t, seq, len, flags, gso);
        if (sent < 0) break;
        if ((uint32_t)sent < len) {
            len = (uint32_t)sent; /* options took room; the FIN waits */
            send_fin = false;
        }
        sent_any = true;
        if (!retrans) sent_new = true;
        if (!retrans && len)
            t->last_seg_len = (uint16_t)(len <= t->mss || len % t->mss == 0 ? min_u32(len, t->mss)
                                                                            : len % t->mss);
        if (retrans) {
            t->st.total_retrans++;
            t->st.bytes_retrans += len;
            stat_inc(s, US_C_tcp_retransmits);
        } else if (len && !(t->tf & TF_TS_OK) && !(t->tf & TF_RTT_ACTIVE)) {
            /* Time one segment per window (no timestamps: Karn's rule makes
             * retransmitted segments ineligible). */
            t->tf |= TF_RTT_ACTIVE;
            t->rtt_seq = seq;
            t->rtt_time = s->now;
        }
        t->snd_nxt = seq + len + (send_fin ? 1 : 0);
        if (send_fin && !(t->tf & TF_FIN_SENT) && len == 0) t->tf |= TF_FIN_ALONE;
        if (send_fin) t->tf |= TF_FIN_SENT;
        t->snd_max = seq_max(t->snd_max, t->snd_nxt);
        if (!(t->tf & TF_PERSIST) && t->rexmt_at == US_TIME_NEVER) {
            tcp_rexmt_arm(s, t);
            armed_at = t->snd_max;
            armed = true;
        }
        if (send_fin) break;
    }

    /* Data waiting, nothing in flight, and the window (zero, or too small
     * for SWS avoidance) holds it back: the persist timer probes, and is the
     * override timer of RFC 9293 §3.8.6.2.1. */
    if (tcp_unsent(t) && t->snd_una == t->snd_max && !(t->tf & TF_PERSIST) &&
        t->rexmt_at == US_TIME_NEVER)
        tcp_persist_arm(s, t);

    /* The loss probe restarts after new data -- unless the timer was
     * armed for the last segment sent: it would compute the same time. */
    if (sent_new && !(armed && armed_at == t->snd_max)) tcp_tlp_rearm(s, t);
    if (!sent_any && (t->tf & (TF_ACK_NOW | TF_WND_UPDATE))) tcp_send_ack(s, t);
}

uint32_t tcp_flight(const struct tcb *t)
{
    uint32_t outstanding = t->snd_nxt - t->snd_una;
    if (seq_lt(t->snd_nxt, t->snd_una)) outstanding = 0;
    if (t->ca_state != CA_RECOVERY || !t->sb || !(t->tf & TF_SACK_OK)) return outstanding;
    /* RFC 6675 §4 SetPipe(): unSACKed bytes not deemed lost, plus what was
     * retransmitted, per hole rather than per byte. */
    const struct scoreboard *sb = t->sb;
    uint32_t pipe = 0;
    seq_t from = t->snd_una, hs, he;
    while (sb_next_hole(sb, from, t->snd_max, &hs, &he)) {
        uint32_t hole = he - hs;
        if (!sb_is_lost(sb, hs, t->mss)) pipe += hole;
        if (seq_lt(hs, sb->high_rtx)) pipe += min_u32(hole, sb->high_rtx - hs);
        from = he;
    }
    return pipe;
}
