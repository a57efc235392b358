/*
 * rto.c: the retransmission timeout, RFC 6298.
 *
 * Microseconds throughout. Samples come from one timed segment per round
 * trip (never a retransmitted one: Karn's rule) or, with timestamps, from
 * the echoed TSval (RFC 7323 §4.1), which stays valid across retransmissions.
 * The backoff (RTO doubling) lives in the control block and is cleared only
 * when new data is acknowledged (input.c).
 */
#include "core/util.h"
#include "tcp/tcp.h"

void rto_init(struct us_stack *s, struct tcb *t)
{
    /* RFC 6298 §2.1: before any sample, RTO = 1 s (a setting here). */
    t->srtt = 0;
    t->rttvar = 0;
    t->rto = (uint32_t)s->cfg.tcp.rto_initial;
}

void rto_sample(struct us_stack *s, struct tcb *t, us_time_t rtt)
{
    const struct us_tcp_config *c = &s->cfg.tcp;
    uint32_t r = (uint32_t)min_u64(rtt, 60u * 1000000u);
    if (r == 0) r = 1;
    if (t->srtt == 0) {
        /* §2.2: the first measurement. */
        t->srtt = r;
        t->rttvar = r / 2;
    } else {
        /* §2.3: RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|; SRTT <- 7/8 SRTT + 1/8 R'. */
        uint32_t diff = t->srtt > r ? t->srtt - r : r - t->srtt;
        t->rttvar = (3 * t->rttvar + diff) / 4;
        t->srtt = (7 * t->srtt + r) / 8;
    }
    /* RTO <- SRTT + max(G, K*RTTVAR), K = 4, G = 1 ms (the timestamp clock). */
    uint64_t rto = (uint64_t)t->srtt + max_u64(1000, 4ull * t->rttvar);
    /* §2.4 and §2.5: bounded below and above (Linux's 200 ms and 120 s). */
    rto = max_u64(rto, c->rto_min);
    rto = min_u64(rto, c->rto_max);
    t->rto = (uint32_t)rto;
}

us_time_t rto_current(const struct us_stack *s, const struct tcb *t)
{
    /* §5.5: back off by doubling, up to the maximum. */
    us_time_t rto = t->rto ? t->rto : s->cfg.tcp.rto_initial;
    unsigned shift = t->backoff > 20 ? 20 : t->backoff;
    rto <<= shift;
    return min_u64(rto, s->cfg.tcp.rto_max);
}
