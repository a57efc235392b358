/*
 * user.c: the user calls of RFC 9293 §3.10 (OPEN, SEND, RECEIVE, CLOSE,
 * ABORT), as the socket layer needs them. Each returns a count or a negative
 * errno; the socket layer turns that into -1/errno.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/util.h"
#include "tcp/tcp.h"
#include "tcp/user.h"

int tcp_user_connect(struct us_stack *s, struct tcb *t, uint32_t raddr, uint16_t rport)
{
    const struct us_tcp_config *c = &s->cfg.tcp;
    uint32_t laddr = t->node.laddr;
    if (!laddr) laddr = ip_source_for(s, raddr);
    if (!laddr) return -ENETUNREACH;
    uint16_t lport = t->node.lport;
    if (!lport) {
        lport = tcp_pick_ephemeral(s, laddr, raddr, rport);
        if (!lport) return -EADDRNOTAVAIL;
        t->bind = bind_get(s, t->node.laddr, lport, t->set->reuseaddr, false, false);
        if (!t->bind) return -ENOBUFS;
    } else if (conn_lookup(s, laddr, lport, raddr, rport)) {
        /* The 4-tuple is taken (a live connection or TIME-WAIT). */
        return -EADDRNOTAVAIL;
    }
    t->node.laddr = laddr;
    t->node.lport = lport;
    t->node.raddr = raddr;
    t->node.rport = rport;
    unsigned mtu = ip_route_mtu(s, raddr);
    uint32_t mss = mtu > 40 ? mtu - 40 : 536;
    if (t->set->maxseg && t->set->maxseg < mss) mss = t->set->maxseg;
    t->our_mss = (uint16_t)mss;
    t->mss = (uint16_t)min_u32(mss, c->default_mss);
    t->rcv_wscale = c->window_scaling ? tcp_choose_wscale(max_u32(t->set->rcvbuf, c->max_rcvbuf)) : 0;
    t->iss = tcp_new_isn(s, laddr, lport, raddr, rport);
    t->snd_una = t->snd_nxt = t->snd_max = t->iss;
    t->ts_offset = tcp_ts_offset(s, laddr, lport, raddr, rport);
    t->tf &= TF_ORPHAN; /* fresh flags */
    rto_init(s, t);
    t->cwnd = t->mss;
    conn_insert(s, &t->node);
    stat_inc(s, US_C_tcp_active_opens);
    tcp_set_state(s, t, US_TCP_SYN_SENT, "connect()");
    tcp_output(s, t);
    return 0;
}

ssize_t tcp_user_send(struct us_stack *s, struct tcb *t, const void *buf, size_t len)
{
    switch (t->state) {
    case US_TCP_ESTABLISHED:
    case US_TCP_CLOSE_WAIT:
        break;
    case US_TCP_SYN_SENT:
    case US_TCP_SYN_RECEIVED:
        return -EAGAIN; /* the caller waits for the handshake */
    default:
        if (t->so_error) {
            int e = t->so_error;
            t->so_error = 0;
            return -e;
        }
        /* Linux gives EPIPE even for a socket that never connected. */
        return -EPIPE;
    }
    if (t->tf & TF_FIN_QUEUED) return -EPIPE;
    if (!len) return 0;
    uint32_t limit = tcp_sndbuf(t);
    if (!t->sndq) {
        t->sndq = tcp_ring_get(s, limit);
        if (!t->sndq) return -ENOBUFS;
    } else {
        tcp_sndq_grow(s, t, limit); /* the buffer grew with the window */
    }
    limit = min_u32(limit, t->sndq->cap);
    uint32_t room = t->sndq->len < limit ? limit - t->sndq->len : 0;
    if (!room) return -EAGAIN;
    uint32_t n = ring_append(t->sndq, buf, (uint32_t)min_size(len, room));
    /* RFC 5681 §4.1 slow-start restart: after an idle period longer than
     * the RTO the window has lost its meaning. */
    if (s->cfg.tcp.slow_start_after_idle && t->snd_una == t->snd_max && t->last_tx_data &&
        s->now - t->last_tx_data > rto_current(s, t)) {
        uint32_t iw = s->cfg.tcp.initial_cwnd * (uint32_t)t->mss;
        if (t->cwnd > iw) t->cwnd = iw;
    }
    tcp_output(s, t);
    return n;
}

/* A window update is worth a segment when it at least doubles the window the
 * peer knows and adds a full segment (Linux's __tcp_cleanup_rbuf rule). */
static void maybe_window_update(struct us_stack *s, struct tcb *t)
{
    if (t->state != US_TCP_ESTABLISHED && t->state != US_TCP_FIN_WAIT_1 &&
        t->state != US_TCP_FIN_WAIT_2)
        return;
    uint32_t cur = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    uint32_t now = tcp_rcv_window(s, t);
    if (now >= 2 * cur && now - cur >= t->mss) {
        t->tf |= TF_WND_UPDATE;
        tcp_output(s, t);
    }
}

ssize_t tcp_user_recv(struct us_stack *s, struct tcb *t, void *buf, size_t len, int flags)
{
    if (t->rcvq && t->rcvq->len) {
        uint32_t n = (uint32_t)min_size(len, t->rcvq->len);
        if (flags & MSG_PEEK) {
            ring_copy_out(t->rcvq, 0, buf, n);
            return n;
        }
        ring_read(t->rcvq, buf, n);
        if (!t->rcvq->len && !t->ooo) {
            tcp_ring_put(s, t->rcvq);
            t->rcvq = NULL;
        }
        maybe_window_update(s, t);
        return n;
    }
    if (t->tf & TF_RCV_FIN) return 0;
    if (t->so_error) {
        int e = t->so_error;
        t->so_error = 0;
        return -e;
    }
    if (t->tf & TF_SHUT_RD) return 0;
    if (t->state == US_TCP_CLOSED) return (t->tf & TF_SYN_ACKED) ? 0 : -ENOTCONN;
    if (t->state == US_TCP_SYN_SENT || t->state == US_TCP_SYN_RECEIVED) return -EAGAIN;
    return -EAGAIN;
}

uint32_t tcp_user_readable(const struct tcb *t) { return t->rcvq ? t->rcvq->len : 0; }

uint32_t tcp_user_unacked(const struct tcb *t) { return t->sndq ? t->sndq->len : 0; }

void tcp_sndq_grow(struct us_stack *s, struct tcb *t, uint32_t size)
{
    if (!t->sndq || size <= t->sndq->cap) return;
    struct ring *r = tcp_ring_get(s, size);
    if (!r) return; /* the old ring still serves, at its size */
    ring_copy_out(t->sndq, 0, r->data, t->sndq->len);
    r->len = t->sndq->len;
    tcp_ring_put(s, t->sndq);
    t->sndq = r;
}

/* Send-buffer autotuning, as Linux's tcp_sndbuf_expand(): unless the
 * application fixed SO_SNDBUF, the buffer is twice the congestion window
 * (data in flight plus as much again ready to go), at least 64 KiB, up to
 * the configured size. A buffer no larger than the window needs keeps the
 * bytes being sent in the caches: a 4 MiB ring filled to the brim by a
 * fast writer is streamed through memory on every pass. */
#define SNDBUF_AUTO_MIN (64u << 10)
uint32_t tcp_sndbuf(const struct tcb *t)
{
    uint32_t max = t->set->sndbuf;
    if (t->set->sndbuf_locked) return max;
    uint64_t want = 2ull * t->cwnd;
    if (want < SNDBUF_AUTO_MIN) want = SNDBUF_AUTO_MIN;
    return want < max ? (uint32_t)want : max;
}

uint32_t tcp_user_send_space(const struct tcb *t)
{
    uint32_t used = t->sndq ? t->sndq->len : 0;
    uint32_t limit = tcp_sndbuf(t);
    return limit > used ? limit - used : 0;
}

/* Queues our FIN and moves to the state RFC 9293 §3.10.4 gives for CLOSE
 * (FIN-WAIT-1 or LAST-ACK); the FIN goes once the queued data has. */
static void send_fin(struct us_stack *s, struct tcb *t, const char *cause)
{
    if (t->tf & TF_FIN_QUEUED) return;
    t->tf |= TF_FIN_QUEUED;
    switch (t->state) {
    case US_TCP_SYN_RECEIVED:
    case US_TCP_ESTABLISHED:
        tcp_set_state(s, t, US_TCP_FIN_WAIT_1, cause);
        break;
    case US_TCP_CLOSE_WAIT:
        tcp_set_state(s, t, US_TCP_LAST_ACK, cause);
        break;
    default:
        break;
    }
    tcp_output(s, t);
}

int tcp_user_shutdown(struct us_stack *s, struct tcb *t, int how)
{
    if (t->state == US_TCP_CLOSED || t->state == US_TCP_LISTEN) return -ENOTCONN;
    if (how == SHUT_RD || how == SHUT_RDWR) t->tf |= TF_SHUT_RD;
    if (how == SHUT_WR || how == SHUT_RDWR) {
        if (t->state == US_TCP_SYN_SENT) {
            /* Linux: shutting down a connection still opening ends it. */
            tcb_close(s, t, "shutdown()");
            return 0;
        }
        send_fin(s, t, "shutdown()");
    }
    return 0;
}

void tcp_user_abort(struct us_stack *s, struct tcb *t, const char *cause)
{
    /* RFC 9293 §3.10.5 ABORT: a RST in synchronized states. */
    if (t->state != US_TCP_CLOSED && t->state != US_TCP_SYN_SENT && t->state != US_TCP_LISTEN &&
        t->state != US_TCP_TIME_WAIT)
        tcp_send_reset(s, t);
    t->tf |= TF_ORPHAN;
    tcb_close(s, t, cause);
}

void tcp_user_close(struct us_stack *s, struct tcb *t, bool linger_zero)
{
    t->tf |= TF_ORPHAN;
    switch (t->state) {
    case US_TCP_CLOSED:
        tcb_close(s, t, "close()");
        return;
    case US_TCP_SYN_SENT:
        /* Nothing to tell the peer yet; a late SYN-ACK finds no one and
         * gets a RST (Linux close-on-syn-sent). */
        tcb_close(s, t, "close()");
        return;
    default:
        break;
    }
    if (linger_zero) {
        tcp_user_abort(s, t, "close() with SO_LINGER 0");
        return;
    }
    if (t->rcvq && t->rcvq->len) {
        /* RFC 2525 §2.17 (and Linux): closing with unread data means the
         * data is lost; tell the peer with a RST rather than a FIN. */
        tcp_user_abort(s, t, "close() with unread data");
        return;
    }
    switch (t->state) {
    case US_TCP_SYN_RECEIVED:
    case US_TCP_ESTABLISHED:
    case US_TCP_CLOSE_WAIT:
        send_fin(s, t, "close()");
        break;
    case US_TCP_FIN_WAIT_2:
        /* Already half closed: now an orphan waiting for the peer's FIN,
         * for TCP_LINGER2 at most. */
        t->keep_at = s->now + t->set->linger2;
        tcp_timer_update(s, t);
        break;
    default:
        break; /* FIN-WAIT-1, CLOSING, LAST-ACK: the close is under way */
    }
}
