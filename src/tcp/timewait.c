/*
 * timewait.c: TIME-WAIT, compact (RFC 9293 §3.6, RFC 1337, RFC 6191).
 *
 * A connection entering TIME-WAIT gives up its control block for an entry of
 * a few dozen bytes holding what TIME-WAIT needs: the sequence numbers to
 * recognise and ACK a retransmitted FIN, the timestamp state, the port it
 * keeps bound. Entries wait in a FIFO: all live 2*MSL, so arrival order is
 * expiry order and one timer serves them all. The number of entries is
 * capped (Linux's tcp_max_tw_buckets): beyond it a connection skips
 * TIME-WAIT, and the counter tcp_tw_overflow says so. TIME-WAIT itself is
 * never switched off.
 */
#include <errno.h>

#include "core/util.h"
#include "tcp/tcp.h"

void tcp_state_adopt(struct tcb *t, enum us_tcp_state st);

static void tw_timer_fire(struct us_timer *tm, us_time_t now, void *ctx);

void tw_init(struct us_stack *s) { timer_init(&tcpst(s)->tw_timer, timer_kind(&s->timers, tw_timer_fire)); }

static void fifo_unlink(struct tcp_stack *ts, struct tw_entry *tw)
{
    if (tw->fprev)
        tw->fprev->fnext = tw->fnext;
    else
        ts->tw_head = tw->fnext;
    if (tw->fnext)
        tw->fnext->fprev = tw->fprev;
    else
        ts->tw_tail = tw->fprev;
    tw->fnext = tw->fprev = NULL;
}

static void fifo_append(struct us_stack *s, struct tw_entry *tw)
{
    struct tcp_stack *ts = tcpst(s);
    tw->fprev = ts->tw_tail;
    tw->fnext = NULL;
    if (ts->tw_tail)
        ts->tw_tail->fnext = tw;
    else
        ts->tw_head = tw;
    ts->tw_tail = tw;
    if (!timer_pending(&ts->tw_timer)) timer_set(&s->timers, &ts->tw_timer, ts->tw_head->expires);
}

bool tw_enter(struct us_stack *s, struct tcb *t)
{
    struct tcp_stack *ts = tcpst(s);
    if (ts->tw_count >= s->cfg.tcp.max_tw) return false;
    struct tw_entry *tw = objpool_get(&ts->tws);
    if (!tw) return false;
    tw->node = t->node;
    tw->node.kind = CONN_TW;
    tw->node.hashed = false;
    tw->snd_nxt = t->snd_nxt;
    tw->rcv_nxt = t->rcv_nxt;
    tw->ts_ok = t->tf & TF_TS_OK;
    tw->ts_recent = t->ts_recent;
    tw->ts_offset = t->ts_offset;
    tw->rcv_wscale = t->rcv_wscale;
    tw->rcv_wnd = (uint16_t)min_u32(tcp_rcv_window(s, t) >> t->rcv_wscale, TCP_MAX_WIN);
    tw->expires = s->now + 2 * s->cfg.tcp.msl;
    tw->bind = t->bind; /* TIME-WAIT keeps the port bound */
    t->bind = NULL;
    conn_remove(s, &t->node);
    conn_insert(s, &tw->node);
    ts->tw_count++;
    stat_inc(s, US_C_tcp_tw_entered);
    fifo_append(s, tw);
    /* The control block is done: the TIME-WAIT entry speaks for the
     * connection now (its expiry reports TIME-WAIT -> CLOSED). */
    tcp_timers_stop(s, t);
    if (t->tf & TF_ORPHAN) {
        tcb_free(s, t);
    } else {
        tcp_state_adopt(t, US_TCP_CLOSED);
        tcp_ring_put(s, t->sndq);
        t->sndq = NULL;
    }
    return true;
}

void tw_kill(struct us_stack *s, struct tw_entry *tw, const char *cause)
{
    struct tcp_stack *ts = tcpst(s);
    tcp_report_state(s, &tw->node, US_TCP_TIME_WAIT, US_TCP_CLOSED, cause);
    conn_remove(s, &tw->node);
    fifo_unlink(ts, tw);
    bind_put(s, tw->bind);
    ts->tw_count--;
    objpool_put(&ts->tws, tw);
}

static void tw_timer_fire(struct us_timer *tm, us_time_t now, void *ctx)
{
    struct us_stack *s = ctx;
    struct tcp_stack *ts = tcpst(s);
    while (ts->tw_head && ts->tw_head->expires <= now) tw_kill(s, ts->tw_head, "2MSL timeout");
    if (ts->tw_head) timer_set(&s->timers, &ts->tw_timer, ts->tw_head->expires);
}

void tw_destroy(struct us_stack *s)
{
    struct tcp_stack *ts = tcpst(s);
    while (ts->tw_head) tw_kill(s, ts->tw_head, "stack freed");
    timer_cancel(&s->timers, &ts->tw_timer);
}

static void tw_send_ack(struct us_stack *s, struct tw_entry *tw)
{
    uint8_t o[TCP_MAX_OPTLEN];
    size_t n = 0;
    if (tw->ts_ok) n = tcp_write_options(o, true, tcp_ts_now(s, tw->ts_offset), tw->ts_recent, NULL, 0);
    tcp_send_raw(s, tw->node.laddr, tw->node.lport, tw->node.raddr, tw->node.rport, tw->snd_nxt,
                 tw->rcv_nxt, TH_ACK, tw->rcv_wnd, o, n);
}

void tw_input(struct us_stack *s, struct tw_entry *tw, struct segment *sg)
{
    /* RFC 1337: a RST in TIME-WAIT is ignored, so an old duplicate RST
     * cannot cut TIME-WAIT short ("TIME-WAIT assassination"). */
    if (sg->flags & TH_RST) {
        stat_inc(s, US_C_tcp_rst_rx);
        stat_inc(s, US_C_tcp_tw_rst_ignored);
        return;
    }
    if ((sg->flags & TH_SYN) && !(sg->flags & TH_ACK)) {
        /* RFC 6191: a new incarnation may start if its SYN is clearly newer:
         * a larger timestamp when both use them, else a larger sequence
         * number (the BSD rule). A SYN that also carries FIN opens nothing
         * (listeners drop it, listen.c), so it must not end TIME-WAIT: it
         * is answered as any SYN in a synchronized state. */
        bool by_ts = tw->ts_ok && sg->opt.has_ts;
        bool newer = !(sg->flags & TH_FIN) &&
                     (by_ts ? (int32_t)(sg->opt.ts_val - tw->ts_recent) > 0
                            : seq_gt(sg->seq, tw->rcv_nxt));
        if (newer) {
            struct listener *l = listener_lookup(s, sg->dst, sg->dport);
            stat_inc(s, US_C_tcp_tw_recycled);
            tw_kill(s, tw, "new SYN (RFC 6191)");
            if (l)
                listen_input(s, l, sg);
            else
                tcp_send_reset_reply(s, sg);
            return;
        }
        /* RFC 5961 off: RFC 793's rule, a SYN in the window is an error
         * that resets the connection (RFC 9293 §3.10.7.4 fourth, as
         * tcp_process() does for the other synchronized states). */
        uint32_t syn_wnd = (uint32_t)tw->rcv_wnd << tw->rcv_wscale;
        bool in_window =
            syn_wnd ? seq_in(sg->seq, tw->rcv_nxt, tw->rcv_nxt + syn_wnd) : sg->seq == tw->rcv_nxt;
        if (!s->cfg.tcp.rfc5961 && in_window) {
            tcp_send_raw(s, tw->node.laddr, tw->node.lport, tw->node.raddr, tw->node.rport,
                         tw->snd_nxt, tw->rcv_nxt, TH_RST | TH_ACK, 0, NULL, 0);
            tw_kill(s, tw, "rcv SYN");
            return;
        }
        /* Otherwise an ACK (RFC 9293 / RFC 5961 §4). */
        stat_inc(s, US_C_tcp_challenge_acks);
        tw_send_ack(s, tw);
        return;
    }
    /* A retransmitted FIN (our ACK of it was lost): ACK again and restart
     * the 2MSL wait (RFC 9293 §3.10.7.4 eighth, TIME-WAIT). */
    if ((sg->flags & TH_FIN) && sg->seq + sg->len + 1 == tw->rcv_nxt) {
        tw->expires = s->now + 2 * s->cfg.tcp.msl;
        fifo_unlink(tcpst(s), tw);
        fifo_append(s, tw);
        tw_send_ack(s, tw);
        return;
    }
    /* Anything else outside the window gets an ACK; inside, it is dropped. */
    uint32_t wnd = (uint32_t)tw->rcv_wnd << tw->rcv_wscale;
    uint32_t len = seg_len(sg);
    bool acceptable = len ? seq_in(sg->seq, tw->rcv_nxt, tw->rcv_nxt + wnd + 1)
                          : seq_in(sg->seq, tw->rcv_nxt, tw->rcv_nxt + wnd + 1);
    /* RFC 9293 §3.10.7.4 fifth: an acceptable segment without the ACK bit
     * is dropped, with no reply (a FIN alone must not draw an ACK). */
    if (acceptable && !(sg->flags & TH_ACK)) return;
    if (!acceptable || len) tw_send_ack(s, tw);
}
