/*
 * cc_newreno.c: NewReno's window (RFC 5681 §3.1, RFC 6582).
 */
#include "core/util.h"
#include "tcp/tcp.h"

static void nr_init(struct us_stack *s, struct tcb *t) {}

/* Slow start grows cwnd by the bytes acknowledged, at most two SMSS per
 * ACK (RFC 3465's L = 2*SMSS, which RFC 5681 §3.1 permits: a delayed ACK
 * covering two segments then grows cwnd by two, as Linux's packet counting
 * does); congestion avoidance by one SMSS per window of bytes acknowledged
 * (appropriate byte counting). */
void cc_reno_grow(struct tcb *t, uint32_t acked);
void cc_reno_grow(struct tcb *t, uint32_t acked)
{
    if (t->cwnd < t->ssthresh) {
        t->cwnd += min_u32(acked, 2u * t->mss);
        if (t->cwnd > t->ssthresh && t->ssthresh != UINT32_MAX) t->cwnd = t->ssthresh;
        return;
    }
    t->bytes_acked_ca += acked;
    if (t->bytes_acked_ca >= t->cwnd) {
        t->bytes_acked_ca -= t->cwnd;
        t->cwnd += t->mss;
    }
}

static void nr_on_ack(struct us_stack *s, struct tcb *t, uint32_t acked, us_time_t rtt)
{
    cc_reno_grow(t, acked);
}

static uint32_t nr_ssthresh(struct us_stack *s, struct tcb *t)
{
    /* RFC 5681 eq. (4): ssthresh = max(FlightSize / 2, 2*SMSS). */
    uint32_t flight = t->snd_max - t->snd_una;
    return max_u32(flight / 2, 2 * (uint32_t)t->mss);
}

static void nr_on_timeout(struct us_stack *s, struct tcb *t)
{
    t->ssthresh = nr_ssthresh(s, t);
}

static void nr_on_recovery_end(struct us_stack *s, struct tcb *t)
{
    t->bytes_acked_ca = 0;
}

const struct cc_ops cc_newreno_ops = {
    .name = "newreno",
    .init = nr_init,
    .on_ack = nr_on_ack,
    .ssthresh = nr_ssthresh,
    .on_timeout = nr_on_timeout,
    .on_recovery_end = nr_on_recovery_end,
};
