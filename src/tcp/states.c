/*
 * states.c: the TCP state machine's one writer.
 *
 * tcp_set_state() is the only place tcb->state changes. It checks the
 * transition against RFC 9293's diagram (§3.3.2, Figure 5, plus the aborts
 * every state allows), and reports it -- time, connection, old -> new and the
 * cause -- to the stack's observers (state log, diagrams, tests). A
 * transition outside the diagram is counted; simulation tests assert that
 * count stays zero.
 */
#include "tcp/tcp.h"
#include "ustack/socket.h"

const char *us_tcp_state_name(enum us_tcp_state st)
{
    static const char *const names[US_TCP_NSTATES] = {
        "CLOSED",     "LISTEN",     "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
        "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",  "LAST-ACK",     "TIME-WAIT"};
    return (unsigned)st < US_TCP_NSTATES ? names[st] : "?";
}

#define BIT(st) (1u << (st))

/* For each state, the states it may move to. */
static const uint16_t legal[US_TCP_NSTATES] = {
    [US_TCP_CLOSED] = BIT(US_TCP_LISTEN) | BIT(US_TCP_SYN_SENT),
    [US_TCP_LISTEN] = BIT(US_TCP_SYN_RECEIVED) | BIT(US_TCP_SYN_SENT) | BIT(US_TCP_CLOSED),
    [US_TCP_SYN_SENT] = BIT(US_TCP_SYN_RECEIVED) | BIT(US_TCP_ESTABLISHED) | BIT(US_TCP_CLOSED),
    [US_TCP_SYN_RECEIVED] = BIT(US_TCP_ESTABLISHED) | BIT(US_TCP_FIN_WAIT_1) |
                            BIT(US_TCP_LISTEN) | BIT(US_TCP_CLOSE_WAIT) | BIT(US_TCP_CLOSED),
    [US_TCP_ESTABLISHED] = BIT(US_TCP_FIN_WAIT_1) | BIT(US_TCP_CLOSE_WAIT) | BIT(US_TCP_CLOSED),
    [US_TCP_FIN_WAIT_1] = BIT(US_TCP_FIN_WAIT_2) | BIT(US_TCP_CLOSING) | BIT(US_TCP_TIME_WAIT) |
                          BIT(US_TCP_CLOSED),
    [US_TCP_FIN_WAIT_2] = BIT(US_TCP_TIME_WAIT) | BIT(US_TCP_CLOSED),
    [US_TCP_CLOSE_WAIT] = BIT(US_TCP_LAST_ACK) | BIT(US_TCP_CLOSED),
    [US_TCP_CLOSING] = BIT(US_TCP_TIME_WAIT) | BIT(US_TCP_CLOSED),
    [US_TCP_LAST_ACK] = BIT(US_TCP_CLOSED),
    [US_TCP_TIME_WAIT] = BIT(US_TCP_CLOSED),
};

bool tcp_transition_legal(enum us_tcp_state from, enum us_tcp_state to)
{
    if ((unsigned)from >= US_TCP_NSTATES || (unsigned)to >= US_TCP_NSTATES) return false;
    return (legal[from] & BIT(to)) != 0;
}

static void report(struct us_stack *s, const struct conn_node *n, enum us_tcp_state from,
                   enum us_tcp_state to, const char *cause, const struct us_tcp_info *info)
{
    if (!tcp_transition_legal(from, to)) stat_inc(s, US_C_tcp_bad_transitions);
    if (!s->n_obs) return;
    struct us_state_event ev = {
        .time = s->now,
        .laddr = n->laddr,
        .raddr = n->raddr,
        .lport = n->lport,
        .rport = n->rport,
        .from = from,
        .to = to,
        .cause = cause,
        .info = info,
    };
    stack_notify_state(s, &ev);
}

void tcp_report_state(struct us_stack *s, const struct conn_node *n, enum us_tcp_state from,
                      enum us_tcp_state to, const char *cause)
{
    report(s, n, from, to, cause, NULL);
}

void tcp_set_state(struct us_stack *s, struct tcb *t, enum us_tcp_state to, const char *cause)
{
    enum us_tcp_state from = t->state;
    if (from == to) return;
    if (to == US_TCP_CLOSED && (from == US_TCP_ESTABLISHED || from == US_TCP_CLOSE_WAIT))
        stat_inc(s, US_C_tcp_estab_resets);
    if (to == US_TCP_CLOSED && (from == US_TCP_SYN_SENT || from == US_TCP_SYN_RECEIVED))
        stat_inc(s, US_C_tcp_attempt_fails);
    t->state = (uint8_t)to;
    /* The end of a connection carries its statistics, for the state log. */
    if (s->n_obs && (to == US_TCP_CLOSED || to == US_TCP_TIME_WAIT) && (t->tf & TF_SYN_ACKED)) {
        struct us_tcp_info info;
        tcp_fill_info(s, t, &info);
        report(s, &t->node, from, to, cause, &info);
        return;
    }
    report(s, &t->node, from, to, cause, NULL);
}

/* A connection continued under another form (a SYN-RECEIVED entry becoming
 * a control block, a control block handing over to a TIME-WAIT entry) takes
 * its state without a report: the transition was already reported by the
 * form that made it. */
void tcp_state_adopt(struct tcb *t, enum us_tcp_state st);
void tcp_state_adopt(struct tcb *t, enum us_tcp_state st) { t->state = (uint8_t)st; }
