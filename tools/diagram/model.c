/*
 * model.c: the sequence diagram as data (see model.h): choosing the
 * connection, collecting its segments and states as they are fed, and, at
 * the end, relative numbers, retransmissions, state placement and rows.
 *
 * Placement rule. Every point where something happens on a lifeline is put
 * in order: a segment leaving a side, a segment arriving at a side, a state
 * entered. With wire events that order is the order events were fed (the
 * stacks and the wire report them as they happen, so a state caused by an
 * arriving segment comes right after its delivery and before the reply it
 * sends). With a capture alone the order is by time, and at equal times
 * arrivals come first, then states, then sends. A state that a segment
 * causes (RFC 9293's "rcv SYN", "rcv ACK of FIN"...) is written at the head of
 * the latest segment that reached its side at the same instant before it; one
 * that a call causes (OPEN, CLOSE) at the tail of the first segment its side
 * sends at the same instant after it; anything else, or when there is no such
 * segment (timers, a connect() waiting for ARP), on a row of its own.
 */
#include "diagram/model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define PENDING_MAX 256u

/* A state seen before the connection was known (the client's SYN-SENT comes
 * before its SYN; a listener's LISTEN long before). */
struct diagram_pending {
    struct us_state_event ev;
    char cause[48];
    char stack[DG_NAME_MAX];
    uint64_t order;
};

/* One TCP segment, parsed. */
struct segment {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t win, urp;
    uint8_t flags;
    uint32_t len;
    uint8_t optlen;
    uint8_t opt[40];
};

static bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static uint64_t frame_hash(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Parses an Ethernet (optionally 802.1Q tagged) IPv4 TCP frame of which
 * `caplen` bytes are present. The payload length comes from the IP header, so
 * a capture cut by its snap length still gives the right numbers. */
static bool parse_segment(const uint8_t *f, size_t caplen, struct segment *sg)
{
    if (caplen < 14) return false;
    size_t off = 14;
    uint16_t type = rd16(f + 12);
    if (type == 0x8100 && caplen >= 18) {
        type = rd16(f + 16);
        off = 18;
    }
    if (type != 0x0800) return false;
    const uint8_t *ip = f + off;
    size_t avail = caplen - off;
    if (avail < 20 || ip[0] >> 4 != 4) return false;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4;
    size_t total = rd16(ip + 2);
    if (ihl < 20 || ihl > avail || total < ihl) return false;
    if (ip[9] != 6 || (rd16(ip + 6) & 0x1fff) != 0) return false;
    const uint8_t *t = ip + ihl;
    avail -= ihl;
    if (avail < 20) return false;
    size_t doff = (size_t)(t[12] >> 4) * 4;
    if (doff < 20 || total < ihl + doff) return false;
    sg->src = rd32(ip + 12);
    sg->dst = rd32(ip + 16);
    sg->sport = rd16(t);
    sg->dport = rd16(t + 2);
    sg->seq = rd32(t + 4);
    sg->ack = rd32(t + 8);
    sg->flags = t[13];
    sg->win = rd16(t + 14);
    sg->urp = rd16(t + 18);
    sg->len = (uint32_t)(total - ihl - doff);
    sg->optlen = 0;
    if (doff <= avail) {
        sg->optlen = (uint8_t)(doff - 20);
        memcpy(sg->opt, t + 20, sg->optlen);
    }
    return true;
}

struct diagram *diagram_new(const struct diagram_opts *opts)
{
    struct diagram *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    if (opts) d->opts = *opts;
    d->side[0].wire_port = d->side[1].wire_port = -1;
    d->decimals = 3;
    return d;
}

void diagram_free(struct diagram *d)
{
    if (!d) return;
    free(d->arrows);
    free(d->states);
    free(d->rows);
    free(d->pending);
    free(d);
}

void diagram_name_port(struct diagram *d, int port, const char *name)
{
    if (port < 0 || port >= DG_MAX_PORTS) return;
    copy_str(d->port_name[port], DG_NAME_MAX, name);
}

/* Which side sent `sg`, or -1 when it is not the chosen connection. */
static int side_of(const struct diagram *d, uint32_t src, uint16_t sport, uint32_t dst,
                   uint16_t dport)
{
    const struct diagram_endpoint *l = &d->side[DG_LEFT], *r = &d->side[DG_RIGHT];
    if (src == l->addr && sport == l->port && dst == r->addr && dport == r->port) return DG_LEFT;
    if (src == r->addr && sport == r->port && dst == l->addr && dport == l->port) return DG_RIGHT;
    return -1;
}

static void accept_state(struct diagram *d, const char *stack, const struct us_state_event *ev,
                         uint64_t order);

/* The first segment (using opts.port, if set) chooses the connection. Left
 * is the client: the sender of a SYN, the receiver of a SYN-ACK, otherwise
 * whoever spoke first. */
static bool choose_connection(struct diagram *d, const struct segment *sg)
{
    uint16_t want = d->opts.port;
    if (want && sg->sport != want && sg->dport != want) return false;
    bool synack = (sg->flags & (DG_SYN | DG_ACK)) == (DG_SYN | DG_ACK);
    struct diagram_endpoint *l = &d->side[DG_LEFT], *r = &d->side[DG_RIGHT];
    l->addr = synack ? sg->dst : sg->src;
    l->port = synack ? sg->dport : sg->sport;
    r->addr = synack ? sg->src : sg->dst;
    r->port = synack ? sg->sport : sg->dport;
    d->found = true;
    d->first_was_syn = (sg->flags & (DG_SYN | DG_ACK)) == DG_SYN;
    /* States seen so far, oldest first. */
    for (size_t i = 0; i < d->n_pending; i++) {
        const struct diagram_pending *p =
            &d->pending[(d->pending_head + PENDING_MAX - d->n_pending + i) % PENDING_MAX];
        accept_state(d, p->stack, &p->ev, p->order);
    }
    free(d->pending);
    d->pending = NULL;
    d->n_pending = 0;
    return true;
}

void diagram_add_frame(struct diagram *d, uint64_t id, us_time_t t, int port, const uint8_t *frame,
                       size_t caplen)
{
    if (d->finished) return;
    d->order++;
    if (id == 0) id = d->last_id + 1;
    if (id <= d->last_id) return; /* ids grow: anything else is a damaged record */
    d->last_id = id;
    struct segment sg;
    if (!parse_segment(frame, caplen, &sg)) return;
    if (!d->found && !choose_connection(d, &sg)) return;
    int from = side_of(d, sg.src, sg.sport, sg.dst, sg.dport);
    if (from < 0 || d->ended) return;
    /* A client SYN with a new ISN starts another connection on the same
     * ports (a reused 4-tuple): this diagram ends there. */
    if (from == DG_LEFT && (sg.flags & (DG_SYN | DG_ACK)) == DG_SYN && d->n_arrows > 0 &&
        !(d->syn_seen[DG_LEFT] && sg.seq == d->isn[DG_LEFT])) {
        d->ended = true;
        d->end_time = t;
        d->end_order = d->order;
        return;
    }
    if (d->n_arrows >= DG_MAX_ARROWS) {
        d->truncated = true;
        return;
    }
    if (d->n_arrows == d->cap_arrows) {
        size_t cap = d->cap_arrows ? d->cap_arrows * 2 : 64;
        struct diagram_arrow *a = realloc(d->arrows, cap * sizeof(*a));
        if (!a) {
            d->truncated = true;
            return;
        }
        d->arrows = a;
        d->cap_arrows = cap;
    }
    struct diagram_arrow *a = &d->arrows[d->n_arrows++];
    memset(a, 0, sizeof(*a));
    a->id = id;
    a->from = (enum diagram_side)from;
    a->sent = a->arrived = t;
    a->flags = sg.flags;
    a->seq = sg.seq;
    a->ack = sg.ack;
    a->win = sg.win;
    a->urp = sg.urp;
    a->len = sg.len;
    a->optlen = sg.optlen;
    memcpy(a->opt, sg.opt, sg.optlen);
    a->hash = frame_hash(frame, caplen);
    a->order_sent = d->order;
    a->fate = port >= 0 ? DG_UNKNOWN : DG_DELIVERED;
    if (port >= 0) d->timed = true;
    if (d->side[from].wire_port < 0) d->side[from].wire_port = port;
    if ((sg.flags & DG_SYN) && !d->syn_seen[from]) {
        d->syn_seen[from] = true;
        d->isn[from] = sg.seq;
    }
}

static struct diagram_arrow *find_arrow(const struct diagram *d, uint64_t id)
{
    size_t lo = 0, hi = d->n_arrows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->arrows[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < d->n_arrows && d->arrows[lo].id == id ? &d->arrows[lo] : NULL;
}

bool diagram_frame_differs(const struct diagram *d, uint64_t id, const uint8_t *frame, size_t len)
{
    const struct diagram_arrow *a = find_arrow(d, id);
    return a && a->hash != frame_hash(frame, len);
}

void diagram_add_delivery(struct diagram *d, uint64_t id, us_time_t t, int port, bool corrupt)
{
    if (d->finished) return;
    d->order++;
    struct diagram_arrow *a = find_arrow(d, id);
    if (!a) return;
    if (a->copies == 0 && a->damaged == 0) a->arrived = t;
    if (corrupt) {
        a->damaged++;
        return;
    }
    if (a->copies == 0) {
        a->arrived = t;
        a->order_arrived = d->order;
    }
    a->copies++;
}

void diagram_add_drop(struct diagram *d, uint64_t id, us_time_t t, const char *reason)
{
    if (d->finished) return;
    d->order++;
    struct diagram_arrow *a = find_arrow(d, id);
    if (!a) return;
    if (!a->dropped) copy_str(a->reason, sizeof(a->reason), reason);
    a->dropped = true;
}

/* Which side a state belongs to: its own end and the peer's, or, for a
 * listener (no remote end yet), the local port and address (or any). */
static int state_side(const struct diagram *d, const struct us_state_event *ev, bool *listener)
{
    *listener = ev->raddr == 0 && ev->rport == 0;
    for (int s = 0; s < 2; s++) {
        const struct diagram_endpoint *me = &d->side[s], *peer = &d->side[!s];
        if (ev->lport != me->port) continue;
        if (*listener && (ev->laddr == 0 || ev->laddr == me->addr)) return s;
        if (ev->laddr == me->addr && ev->raddr == peer->addr && ev->rport == peer->port) return s;
    }
    return -1;
}

static void accept_state(struct diagram *d, const char *stack, const struct us_state_event *ev,
                         uint64_t order)
{
    bool listener;
    int side = state_side(d, ev, &listener);
    if (side < 0) return;
    /* Past the end of this connection (a new one on the same ports). */
    if (d->ended && (d->timed || ev->time >= d->end_time)) return;
    if (d->n_states >= DG_MAX_STATES) {
        d->truncated = true;
        return;
    }
    if (d->n_states == d->cap_states) {
        size_t cap = d->cap_states ? d->cap_states * 2 : 16;
        struct diagram_state *st = realloc(d->states, cap * sizeof(*st));
        if (!st) {
            d->truncated = true;
            return;
        }
        d->states = st;
        d->cap_states = cap;
    }
    struct diagram_state *st = &d->states[d->n_states++];
    memset(st, 0, sizeof(*st));
    st->time = ev->time;
    st->side = (enum diagram_side)side;
    st->from = ev->from;
    st->to = ev->to;
    copy_str(st->cause, sizeof(st->cause), ev->cause);
    st->order = order;
    st->listener = listener;
    st->arrow = -1;
    if (!d->stack_name[side][0]) copy_str(d->stack_name[side], DG_NAME_MAX, stack);
}

void diagram_add_state(struct diagram *d, const char *stack, const struct us_state_event *ev)
{
    if (d->finished) return;
    d->order++;
    if ((unsigned)ev->from >= US_TCP_NSTATES || (unsigned)ev->to >= US_TCP_NSTATES) return;
    if (d->found) {
        accept_state(d, stack, ev, d->order);
        return;
    }
    uint16_t want = d->opts.port;
    if (want && ev->lport != want && ev->rport != want) return;
    if (!d->pending) {
        d->pending = calloc(PENDING_MAX, sizeof(*d->pending));
        if (!d->pending) return;
    }
    /* A ring: the states just before the connection's first segment are the
     * ones that matter (its SYN-SENT, its listener's LISTEN). */
    struct diagram_pending *p = &d->pending[d->pending_head];
    d->pending_head = (d->pending_head + 1) % PENDING_MAX;
    if (d->n_pending < PENDING_MAX) d->n_pending++;
    p->ev = *ev;
    copy_str(p->cause, sizeof(p->cause), ev->cause);
    p->ev.cause = p->cause;
    copy_str(p->stack, sizeof(p->stack), stack);
    p->order = d->order;
}

/* ---- finishing ---- */

static void resolve_fates(struct diagram *d)
{
    for (size_t i = 0; i < d->n_arrows; i++) {
        struct diagram_arrow *a = &d->arrows[i];
        if (a->copies > 0)
            a->fate = DG_DELIVERED;
        else if (a->damaged > 0)
            a->fate = DG_CORRUPTED;
        else if (a->dropped)
            a->fate = DG_LOST;
        if (a->fate != DG_DELIVERED && a->fate != DG_CORRUPTED) a->arrived = a->sent;
    }
}

static void resolve_names(struct diagram *d)
{
    for (int s = 0; s < 2; s++) {
        struct diagram_endpoint *e = &d->side[s];
        int p = e->wire_port;
        if (p >= 0 && p < DG_MAX_PORTS && d->port_name[p][0])
            copy_str(e->name, sizeof(e->name), d->port_name[p]);
        else if (d->stack_name[s][0])
            copy_str(e->name, sizeof(e->name), d->stack_name[s]);
        else if (d->first_was_syn)
            copy_str(e->name, sizeof(e->name), s == DG_LEFT ? "client" : "server");
    }
}

/* Relative numbering: 0 is a side's ISN. Without its SYN, the first byte a
 * side is seen sending is 1 (from its own segments, else from the peer's
 * acknowledgments), as if the SYN had been just before. */
static void resolve_bases(struct diagram *d)
{
    for (int s = 0; s < 2; s++) {
        struct diagram_endpoint *e = &d->side[s];
        if (d->syn_seen[s]) {
            e->base = d->isn[s];
            continue;
        }
        e->base = 0;
        for (size_t i = 0; i < d->n_arrows; i++) {
            const struct diagram_arrow *a = &d->arrows[i];
            if ((int)a->from == s) {
                e->base = a->seq - 1;
                break;
            }
            if ((int)a->from != s && (a->flags & DG_ACK)) {
                e->base = a->ack - 1;
                break;
            }
        }
    }
}

/* A segment is a retransmission when it carries sequence space (data, SYN,
 * FIN) starting below the highest its side has sent. Window display: on
 * SYNs, a side's first segment, a zero window and any change. */
static void mark_segments(struct diagram *d)
{
    bool have_end[2] = {false, false}, have_win[2] = {false, false};
    uint32_t max_end[2] = {0, 0};
    uint16_t last_win[2] = {0, 0};
    for (size_t i = 0; i < d->n_arrows; i++) {
        struct diagram_arrow *a = &d->arrows[i];
        int s = a->from;
        uint32_t seglen = a->len + !!(a->flags & DG_SYN) + !!(a->flags & DG_FIN);
        if (seglen > 0) {
            if (have_end[s] && seq_lt(a->seq, max_end[s])) a->retransmit = true;
            uint32_t end = a->seq + seglen;
            if (!have_end[s] || seq_lt(max_end[s], end)) max_end[s] = end;
            have_end[s] = true;
        }
        if (a->flags & DG_RST) continue;
        a->show_win = (a->flags & DG_SYN) || !have_win[s] || a->win == 0 || a->win != last_win[s];
        have_win[s] = true;
        last_win[s] = a->win;
    }
}

/* Drops states that do not belong on this diagram: a listener's transitions
 * after the connection began (or all but its last before), and, when a new
 * connection reused the ports, the client's CLOSED -> SYN-SENT that opened it. */
static void filter_states(struct diagram *d)
{
    uint64_t first_order = d->n_arrows ? d->arrows[0].order_sent : UINT64_MAX;
    us_time_t first_time = d->n_arrows ? d->arrows[0].sent : US_TIME_NEVER;
    uint64_t last_order = d->n_arrows ? d->arrows[d->n_arrows - 1].order_sent : 0;
    long last_listen[2] = {-1, -1};
    for (size_t i = 0; i < d->n_states; i++) {
        const struct diagram_state *st = &d->states[i];
        bool before = d->timed ? st->order < first_order : st->time <= first_time;
        if (st->listener && before) last_listen[st->side] = (long)i;
    }
    size_t n = 0;
    for (size_t i = 0; i < d->n_states; i++) {
        const struct diagram_state *st = &d->states[i];
        if (st->listener && (long)i != last_listen[st->side]) continue;
        if (d->ended && st->side == DG_LEFT && st->from == US_TCP_CLOSED &&
            st->order > last_order && d->timed)
            continue;
        d->states[n++] = *st;
    }
    d->n_states = n;
}

enum point_kind { P_ARRIVE = 0, P_STATE = 1, P_SEND = 2 };

struct point {
    us_time_t time;
    uint64_t order;
    uint8_t kind; /* enum point_kind; also the rank at equal times */
    uint8_t side; /* where it happens: sender, receiver, or state's side */
    size_t index; /* arrow or state */
};

static int cmp_order(const void *a, const void *b)
{
    const struct point *x = a, *y = b;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_time(const void *a, const void *b)
{
    const struct point *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* What enters a state, from RFC 9293's state diagram: a segment arriving,
 * a call (OPEN, CLOSE: the segment it sends follows), a timer, or, for the
 * transitions to CLOSED and back to LISTEN, a segment (RST, the last ACK) or
 * a call (abort). */
enum cause_kind { BY_SEGMENT, BY_CALL, BY_TIMER, BY_EITHER };

static enum cause_kind cause_of(enum us_tcp_state from, enum us_tcp_state to)
{
    switch (to) {
    case US_TCP_LISTEN:
        return from == US_TCP_CLOSED ? BY_CALL : BY_EITHER;
    case US_TCP_SYN_SENT:
    case US_TCP_FIN_WAIT_1:
    case US_TCP_LAST_ACK:
        return BY_CALL;
    case US_TCP_CLOSED:
        return from == US_TCP_TIME_WAIT ? BY_TIMER : BY_EITHER;
    default:
        return BY_SEGMENT;
    }
}

/* Places a state (see the rule at the top): at the head of the latest
 * segment that reached its side at the same instant before it, or at the
 * tail of the first its side sends at the same instant after it. */
static void place_state(struct diagram *d, const struct point *pt, size_t n, size_t i,
                        bool *head_taken, bool *tail_taken)
{
    struct diagram_state *st = &d->states[pt[i].index];
    /* A listener is not the connection: its states never sit on a segment. */
    if (st->listener) return;
    enum cause_kind kind = cause_of(st->from, st->to);
    if (kind == BY_SEGMENT || kind == BY_EITHER) {
        for (size_t j = i; j-- > 0 && pt[j].time == st->time;) {
            if (pt[j].kind != P_ARRIVE || pt[j].side != st->side) continue;
            if (head_taken[pt[j].index]) break;
            head_taken[pt[j].index] = true;
            st->arrow = (long)pt[j].index;
            st->at_head = true;
            return;
        }
    }
    if (kind == BY_CALL || kind == BY_EITHER) {
        for (size_t j = i + 1; j < n && pt[j].time == st->time; j++) {
            if (pt[j].kind != P_SEND || pt[j].side != st->side) continue;
            if (tail_taken[pt[j].index]) break;
            tail_taken[pt[j].index] = true;
            st->arrow = (long)pt[j].index;
            st->at_head = false;
            return;
        }
    }
}

static int build_rows(struct diagram *d)
{
    size_t max = 2 * d->n_arrows + d->n_states;
    struct point *pt = calloc(max ? max : 1, sizeof(*pt));
    bool *head = calloc(d->n_arrows ? d->n_arrows : 1, sizeof(*head));
    bool *tail = calloc(d->n_arrows ? d->n_arrows : 1, sizeof(*tail));
    d->rows = calloc(d->n_arrows + d->n_states ? d->n_arrows + d->n_states : 1, sizeof(*d->rows));
    if (!pt || !head || !tail || !d->rows) {
        free(pt);
        free(head);
        free(tail);
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < d->n_arrows; i++) {
        const struct diagram_arrow *a = &d->arrows[i];
        pt[n++] = (struct point){a->sent, a->order_sent, P_SEND, (uint8_t)a->from, i};
        /* Only an intact arrival can change the receiver's state. */
        if (a->fate == DG_DELIVERED)
            pt[n++] =
                (struct point){a->arrived, a->order_arrived ? a->order_arrived : a->order_sent,
                               P_ARRIVE, (uint8_t)!a->from, i};
    }
    for (size_t i = 0; i < d->n_states; i++) {
        const struct diagram_state *st = &d->states[i];
        pt[n++] = (struct point){st->time, st->order, P_STATE, (uint8_t)st->side, i};
    }
    qsort(pt, n, sizeof(*pt), d->timed ? cmp_order : cmp_time);
    for (size_t i = 0; i < n; i++)
        if (pt[i].kind == P_STATE) place_state(d, pt, n, i, head, tail);
    d->n_rows = 0;
    for (size_t i = 0; i < n; i++) {
        if (pt[i].kind == P_SEND)
            d->rows[d->n_rows++] = (struct diagram_row){DG_ROW_ARROW, pt[i].index, pt[i].time};
        else if (pt[i].kind == P_STATE && d->states[pt[i].index].arrow < 0)
            d->rows[d->n_rows++] = (struct diagram_row){DG_ROW_STATE, pt[i].index, pt[i].time};
    }
    free(pt);
    free(head);
    free(tail);
    return 0;
}

static void resolve_clock(struct diagram *d)
{
    d->t0 = US_TIME_NEVER;
    for (size_t i = 0; i < d->n_rows; i++) d->t0 = min_u64(d->t0, d->rows[i].time);
    if (d->t0 == US_TIME_NEVER) d->t0 = 0;
    d->decimals = 3;
    for (size_t i = 0; i < d->n_rows; i++)
        if ((d->rows[i].time - d->t0) % 1000u) d->decimals = 6;
    for (size_t i = 0; i < d->n_arrows; i++)
        if ((d->arrows[i].arrived - d->t0) % 1000u) d->decimals = 6;
}

int diagram_finish(struct diagram *d)
{
    if (d->finished) return d->found ? 0 : -ENOENT;
    d->finished = true;
    free(d->pending);
    d->pending = NULL;
    d->n_pending = 0;
    if (!d->found) return -ENOENT;
    resolve_fates(d);
    resolve_names(d);
    resolve_bases(d);
    mark_segments(d);
    filter_states(d);
    int rc = build_rows(d);
    if (rc < 0) return rc;
    resolve_clock(d);
    return 0;
}

/* ---- reading ---- */

struct out {
    char *p;
    size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    if (o->cap == 0 || o->len >= o->cap - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0) o->len = min_size(o->cap - 1, o->len + (size_t)n);
}

static void put_flags(struct out *o, uint8_t flags)
{
    static const struct {
        uint8_t bit;
        const char *name;
    } order[] = {{DG_SYN, "SYN"}, {DG_FIN, "FIN"}, {DG_RST, "RST"}, {DG_PSH, "PSH"},
                 {DG_ACK, "ACK"}, {DG_URG, "URG"}, {DG_ECE, "ECE"}, {DG_CWR, "CWR"}};
    bool first = true;
    for (size_t i = 0; i < ARRAY_LEN(order); i++) {
        if (!(flags & order[i].bit)) continue;
        put(o, "%s%s", first ? "" : ",", order[i].name);
        first = false;
    }
    if (first) put(o, "none");
}

/* Walks the options; calls back for each well-formed one. */
struct option_view {
    uint8_t kind, len; /* len: of the value */
    const uint8_t *v;
};

static size_t next_option(const uint8_t *o, size_t n, size_t i, struct option_view *ov)
{
    if (i >= n) return 0;
    ov->kind = o[i];
    if (o[i] == 0 || o[i] == 1) {
        ov->len = 0;
        ov->v = NULL;
        return i + 1;
    }
    if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n) return 0;
    ov->len = (uint8_t)(o[i + 1] - 2);
    ov->v = o + i + 2;
    return i + o[i + 1];
}

char *diagram_label(const struct diagram *d, size_t idx, bool abs, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    if (cap) buf[0] = 0;
    if (idx >= d->n_arrows) return buf;
    const struct diagram_arrow *a = &d->arrows[idx];
    uint32_t sbase = abs ? 0 : d->side[a->from].base;
    uint32_t abase = abs ? 0 : d->side[!a->from].base;
    uint32_t seq = a->seq - sbase, ack = a->ack - abase;
    put_flags(&o, a->flags);
    if (a->len > 0)
        put(&o, " seq %u:%u(%u)", seq, seq + a->len, a->len);
    else if ((a->flags & (DG_SYN | DG_FIN | DG_RST)) || !(a->flags & DG_ACK))
        put(&o, " seq %u", seq);
    if (a->flags & DG_ACK) put(&o, " ack %u", ack);
    if (a->show_win) put(&o, " win %u", a->win);
    if (a->flags & DG_URG) put(&o, " urg %u", a->urp);
    struct option_view ov;
    bool open = false;
    for (size_t i = 0; (i = next_option(a->opt, a->optlen, i, &ov)) != 0;) {
        if (ov.kind == 2 && ov.len == 2 && (a->flags & DG_SYN)) {
            put(&o, "%smss %u", open ? "," : " <", rd16(ov.v));
            open = true;
        } else if (ov.kind == 5 && ov.len >= 8 && ov.len % 8 == 0) {
            put(&o, "%ssack", open ? "," : " <");
            for (size_t k = 0; k < ov.len / 8u; k++)
                put(&o, " %u:%u", rd32(ov.v + 8 * k) - abase, rd32(ov.v + 8 * k + 4) - abase);
            open = true;
        }
    }
    if (open) put(&o, ">");
    return buf;
}

static void put_ip(struct out *o, uint32_t a)
{
    put(o, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

char *diagram_detail(const struct diagram *d, size_t idx, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    if (cap) buf[0] = 0;
    if (idx >= d->n_arrows) return buf;
    const struct diagram_arrow *a = &d->arrows[idx];
    const struct diagram_endpoint *src = &d->side[a->from], *dst = &d->side[!a->from];
    put(&o, "frame %llu: ", (unsigned long long)a->id);
    put_ip(&o, src->addr);
    put(&o, ".%u > ", src->port);
    put_ip(&o, dst->addr);
    put(&o, ".%u: Flags [", dst->port);
    static const char letters[] = "FSRP.UEW";
    for (int i = 0; i < 8; i++)
        if (a->flags & (1 << i)) put(&o, "%c", letters[i]);
    put(&o, "]");
    if (a->len > 0)
        put(&o, ", seq %u:%u", a->seq, a->seq + a->len);
    else if (a->flags & (DG_SYN | DG_FIN | DG_RST))
        put(&o, ", seq %u", a->seq);
    if (a->flags & DG_ACK) put(&o, ", ack %u", a->ack);
    put(&o, ", win %u", a->win);
    if (a->flags & DG_URG) put(&o, ", urg %u", a->urp);
    if (a->optlen) {
        put(&o, ", options [");
        struct option_view ov;
        bool first = true;
        size_t i = 0, next;
        while ((next = next_option(a->opt, a->optlen, i, &ov)) != 0) {
            put(&o, "%s", first ? "" : ",");
            first = false;
            if (ov.kind == 0)
                put(&o, "eol");
            else if (ov.kind == 1)
                put(&o, "nop");
            else if (ov.kind == 2 && ov.len == 2)
                put(&o, "mss %u", rd16(ov.v));
            else if (ov.kind == 3 && ov.len == 1)
                put(&o, "wscale %u", ov.v[0]);
            else if (ov.kind == 4 && ov.len == 0)
                put(&o, "sackOK");
            else if (ov.kind == 8 && ov.len == 8)
                put(&o, "TS val %u ecr %u", rd32(ov.v), rd32(ov.v + 4));
            else if (ov.kind == 5 && ov.len % 8 == 0) {
                put(&o, "sack %u", ov.len / 8u);
                for (size_t k = 0; k < ov.len / 8u; k++)
                    put(&o, " {%u:%u}", rd32(ov.v + 8 * k), rd32(ov.v + 8 * k + 4));
            } else
                put(&o, "unknown-%u", ov.kind);
            i = next;
        }
        if (i < a->optlen) put(&o, "%sbad opt", first ? "" : ",");
        put(&o, "]");
    }
    put(&o, ", length %u", a->len);
    return buf;
}

char *diagram_note(const struct diagram *d, size_t idx, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    if (cap) buf[0] = 0;
    if (idx >= d->n_arrows) return buf;
    const struct diagram_arrow *a = &d->arrows[idx];
    const char *sep = "";
    if (a->retransmit) {
        put(&o, "retransmission");
        sep = ", ";
    }
    switch (a->fate) {
    case DG_LOST:
        if (!a->reason[0] || !strcmp(a->reason, "loss"))
            put(&o, "%slost", sep);
        else
            put(&o, "%slost (%s)", sep, a->reason);
        break;
    case DG_CORRUPTED:
        put(&o, "%scorrupted", sep);
        break;
    case DG_UNKNOWN:
        put(&o, "%sfate unknown", sep);
        break;
    case DG_DELIVERED:
        if (a->copies > 1) put(&o, "%sduplicated", sep);
        break;
    }
    return buf;
}

char *diagram_time(const struct diagram *d, us_time_t t, char *buf, size_t cap)
{
    if (t < d->t0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    us_time_t rel = t - d->t0;
    if (d->decimals == 3)
        snprintf(buf, cap, "%llu.%03llu", (unsigned long long)(rel / 1000000u),
                 (unsigned long long)(rel % 1000000u / 1000u));
    else
        snprintf(buf, cap, "%llu.%06llu", (unsigned long long)(rel / 1000000u),
                 (unsigned long long)(rel % 1000000u));
    return buf;
}

char *diagram_endpoint_addr(const struct diagram *d, enum diagram_side s, char *buf, size_t cap)
{
    uint32_t a = d->side[s].addr;
    snprintf(buf, cap, "%u.%u.%u.%u:%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff,
             d->side[s].port);
    return buf;
}

bool diagram_has_flight(const struct diagram *d)
{
    for (size_t i = 0; i < d->n_arrows; i++)
        if (d->arrows[i].arrived != d->arrows[i].sent) return true;
    return false;
}
