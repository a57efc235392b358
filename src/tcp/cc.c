/*
 * cc.c: choosing a congestion controller and the initial window.
 *
 * Controllers sit behind struct cc_ops (tcp.h): on_ack grows the window
 * outside recovery, ssthresh says where to go on a loss signal, on_timeout
 * after an RTO, on_recovery_end when a recovery completes. Loss recovery
 * itself (fast retransmit, NewReno partial ACKs, SACK pipe) is the engine's,
 * shared by every controller (input.c, output.c).
 */
#include <string.h>

#include "core/util.h"
#include "tcp/tcp.h"

int cc_by_name(const char *name)
{
    if (!name) return -1;
    if (!strcmp(name, "cubic")) return CC_CUBIC;
    if (!strcmp(name, "newreno") || !strcmp(name, "reno")) return CC_NEWRENO;
    return -1;
}

const char *cc_name(int algo) { return algo == CC_NEWRENO ? "newreno" : "cubic"; }

const struct cc_ops *cc_ops_of(const struct tcb *t)
{
    return t->set->cc == CC_NEWRENO ? &cc_newreno_ops : &cc_cubic_ops;
}

void cc_init(struct us_stack *s, struct tcb *t)
{
    /* RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)) at the default of 10
     * segments; the segment count is a setting. */
    uint32_t iw = s->cfg.tcp.initial_cwnd * (uint32_t)t->mss;
    if (s->cfg.tcp.initial_cwnd == 10) iw = min_u32(10 * (uint32_t)t->mss, max_u32(2 * (uint32_t)t->mss, 14600));
    t->cwnd = iw;
    t->ssthresh = UINT32_MAX; /* RFC 5681 §3.1: arbitrarily high */
    t->ca_state = CA_OPEN;
    t->recover = t->snd_una;
    t->bytes_acked_ca = 0;
    cc_ops_of(t)->init(s, t);
}
