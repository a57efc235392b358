/*
 * cc_cubic.c: CUBIC (RFC 9438), Linux's default.
 *
 * After a congestion event the window follows
 *     W_cubic(t) = C * (t - K)^3 + W_max,   K = cbrt(W_max * (1 - beta) / C)
 * (§4.2, windows in segments, t in seconds since the epoch began), with
 * C = 0.4 and beta = 0.7 (§4.6 multiplicative decrease, §4.7 fast
 * convergence). In the Reno-friendly region (§4.3) the window grows like an
 * AIMD flow with alpha = 3(1-beta)/(1+beta). Slow start is standard.
 * Computed in doubles: the results are deterministic on one machine, and the
 * formulas stay readable next to the RFC's.
 */
#include <math.h>

#include "core/util.h"
#include "tcp/tcp.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7

void cc_reno_grow(struct tcb *t, uint32_t acked);

/* W_cubic(t) in segments, t in seconds. Exposed for the unit test. */
double cubic_window(double t_sec, double k_sec, double w_max_segs);
double cubic_window(double t_sec, double k_sec, double w_max_segs)
{
    double d = t_sec - k_sec;
    return CUBIC_C * d * d * d + w_max_segs;
}

/* K in seconds (§4.2 eq. 2, with cwnd_epoch = beta * W_max). */
double cubic_k(double w_max_segs, double cwnd_epoch_segs);
double cubic_k(double w_max_segs, double cwnd_epoch_segs)
{
    double x = (w_max_segs - cwnd_epoch_segs) / CUBIC_C;
    return x > 0 ? cbrt(x) : 0;
}

static void cubic_init(struct us_stack *s, struct tcb *t)
{
    t->cubic = (struct cubic){0};
}

static void cubic_on_ack(struct us_stack *s, struct tcb *t, uint32_t acked, us_time_t rtt)
{
    struct cubic *c = &t->cubic;
    if (t->cwnd < t->ssthresh) {
        cc_reno_grow(t, acked); /* slow start */
        return;
    }
    double mss = t->mss;
    double cwnd = t->cwnd / mss;
    if (c->epoch_start == 0) {
        /* §4.2: a new epoch begins with the first ACK in congestion avoidance. */
        c->epoch_start = s->now;
        if (c->w_max == 0 || c->w_max <= t->cwnd) {
            /* No congestion event yet (or we already passed W_max): the
             * plateau is where we are. */
            c->k_ms = 0;
            c->origin = t->cwnd;
        } else {
            c->k_ms = (uint32_t)(cubic_k(c->w_max / mss, cwnd) * 1000.0);
            c->origin = c->w_max;
        }
        c->w_est = t->cwnd;
        c->ack_cnt = 0;
    }
    double srtt = (t->srtt ? t->srtt : 100000) / 1e6;
    double tsec = (double)(s->now - c->epoch_start) / 1e6;
    /* §4.2: the target is the window one RTT ahead. */
    double target = cubic_window(tsec + srtt, c->k_ms / 1000.0, c->origin / mss);
    if (target > 1.5 * cwnd) target = 1.5 * cwnd; /* §4.2: at most 1.5x per RTT */
    if (target < cwnd) target = cwnd;

    /* §4.3 Reno-friendly estimate: W_est += alpha * segments_acked / cwnd. */
    double alpha = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
    double w_est = c->w_est / mss + alpha * (acked / mss) / cwnd;
    c->w_est = (uint32_t)(w_est * mss);

    double next;
    if (w_est > target) {
        next = w_est; /* Reno-friendly region */
    } else {
        /* §4.4/4.5: cwnd += (target - cwnd) / cwnd per segment acknowledged. */
        next = cwnd + (target - cwnd) / cwnd * (acked / mss);
    }
    uint32_t nw = (uint32_t)(next * mss);
    if (nw > t->cwnd) t->cwnd = nw;
}

static uint32_t cubic_ssthresh(struct us_stack *s, struct tcb *t)
{
    struct cubic *c = &t->cubic;
    /* §4.7 fast convergence: a flow that lost before reaching its previous
     * W_max releases bandwidth faster. */
    if (t->cwnd < c->w_last_max)
        c->w_max = (uint32_t)(t->cwnd * (1.0 + CUBIC_BETA) / 2.0);
    else
        c->w_max = t->cwnd;
    c->w_last_max = t->cwnd;
    c->epoch_start = 0;
    /* §4.6: ssthresh = cwnd * beta, at least 2 segments. */
    return max_u32((uint32_t)(t->cwnd * CUBIC_BETA), 2 * (uint32_t)t->mss);
}

static void cubic_on_timeout(struct us_stack *s, struct tcb *t)
{
    t->ssthresh = cubic_ssthresh(s, t);
}

static void cubic_on_recovery_end(struct us_stack *s, struct tcb *t)
{
    t->cubic.epoch_start = 0;
}

const struct cc_ops cc_cubic_ops = {
    .name = "cubic",
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .ssthresh = cubic_ssthresh,
    .on_timeout = cubic_on_timeout,
    .on_recovery_end = cubic_on_recovery_end,
};
