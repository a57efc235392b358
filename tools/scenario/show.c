/*
 * show.c: the terminal trace of a stage (see show.h).
 *
 * Rows are built from the record in one pass, then printed. A state change
 * needs a place that says what it has to do with the traffic, as in the
 * textbook figures, without ever reordering what happened:
 * - a change a call made (connect() entering SYN-SENT, close() entering
 *   FIN-WAIT-1) joins the row of that call when nothing came between;
 * - a change immediately followed, at the same instant, by a segment the
 *   same side sends (SYN-RECEIVED, then the SYN,ACK) joins that segment's
 *   row: the side was in that state when it sent it;
 * - anything else (a timer, an arrival that sends nothing) gets a row.
 * A blocking call that let other things happen prints twice: "call ..."
 * where it began and "call = result" where it returned.
 */
#include "scenario/show.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_COL 12 /* "SYN-RECEIVED" */

struct row {
    us_time_t time;
    long state_ev[2]; /* the client's and the server's state cells */
    long text_ev;     /* the frame, call, return or note; -1: only states */
    size_t last_ev;   /* the last event folded into this row */
    bool call_open;   /* a call whose return is elsewhere */
    bool sealed;      /* a hidden frame followed: nothing joins this row now */
};

struct rows {
    struct row *r;
    size_t n, cap;
};

static struct row *row_new(struct rows *rs, us_time_t t, size_t ev)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        struct row *r = realloc(rs->r, cap * sizeof(*r));
        if (!r) return NULL;
        rs->r = r;
        rs->cap = cap;
    }
    struct row *r = &rs->r[rs->n++];
    *r = (struct row){.time = t, .state_ev = {-1, -1}, .text_ev = -1, .last_ev = ev};
    return r;
}

/* A state change right after a row happened inside that row's call (one
 * still running) or was made by that row's change to the world. */
static bool caused_by(const struct stage *sg, const struct row *r, int actor)
{
    if (r->text_ev < 0) return false;
    const struct stage_event *t = &sg->ev[r->text_ev];
    return t->actor == actor && ((t->kind == SEV_CALL && r->call_open) || t->kind == SEV_NOTE);
}

/* A call returns "at once" when, from its start to its return, no time
 * passed and only its caller did anything: then one row shows the call and
 * its result, followed by what the call sent. A call that waited for the
 * other side shows where it began and where it returned. */
static bool returns_at_once(const struct stage *sg, long call, size_t ret)
{
    const struct stage_event *c = &sg->ev[call];
    for (size_t k = (size_t)call + 1; k <= ret; k++)
        if (sg->ev[k].time != c->time || sg->ev[k].actor != c->actor) return false;
    return true;
}

static void build(const struct stage *sg, struct rows *rs, unsigned flags)
{
    long carry[2] = {-1, -1};
    size_t call_row = SIZE_MAX; /* the row of the call in progress */
    for (size_t i = 0; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        struct row *last = rs->n ? &rs->r[rs->n - 1] : NULL;
        switch (e->kind) {
        case SEV_STATE: {
            int a = e->actor;
            if (a != CLIENT && a != SERVER) break; /* no column for it */
            if (last && !last->sealed && last->last_ev + 1 == i && last->time == e->time &&
                last->state_ev[a] < 0 && caused_by(sg, last, a)) {
                last->state_ev[a] = (long)i;
                last->last_ev = i;
                break;
            }
            const struct stage_event *next = i + 1 < sg->n_ev ? &sg->ev[i + 1] : NULL;
            if (next && next->kind == SEV_FRAME && next->tcp && next->actor == a &&
                next->time == e->time && carry[a] < 0) {
                carry[a] = (long)i;
                break;
            }
            struct row *r = row_new(rs, e->time, i);
            if (r) r->state_ev[a] = (long)i;
            break;
        }
        case SEV_FRAME: {
            if (!e->tcp && (flags & SHOW_TCP_ONLY)) {
                /* Not shown, yet it came between the row before it and
                 * what follows: nothing after it joins that row. */
                if (last) last->sealed = true;
                break;
            }
            struct row *r = row_new(rs, e->time, i);
            if (!r) break;
            r->text_ev = (long)i;
            int a = e->actor;
            if ((a == CLIENT || a == SERVER) && carry[a] >= 0) {
                r->state_ev[a] = carry[a]; /* the state it was sent in */
                carry[a] = -1;
            }
            break;
        }
        case SEV_RETURN:
            if (call_row != SIZE_MAX && returns_at_once(sg, rs->r[call_row].text_ev, i)) {
                rs->r[call_row].text_ev = (long)i;
                rs->r[call_row].call_open = false;
                if (call_row == rs->n - 1) rs->r[call_row].last_ev = i;
                call_row = SIZE_MAX;
                break;
            }
            call_row = SIZE_MAX;
            /* fall through: a row of its own */
        case SEV_CALL:
        case SEV_NOTE: {
            struct row *r = row_new(rs, e->time, i);
            if (!r) break;
            r->text_ev = (long)i;
            r->call_open = e->kind == SEV_CALL;
            if (e->kind == SEV_CALL) call_row = rs->n - 1;
            break;
        }
        }
    }
}

/* Colours: each side its own, states in bold, what went wrong in red. */
static const char *actor_color(int a)
{
    return a == CLIENT ? "\033[36m" : a == SERVER ? "\033[33m" : "\033[35m";
}
static const char *actor_bold(int a)
{
    return a == CLIENT ? "\033[1;36m" : a == SERVER ? "\033[1;33m" : "\033[1;35m";
}
#define DIM   "\033[2m"
#define RED   "\033[31m"
#define BOLD  "\033[1m"
#define RESET "\033[0m"

static unsigned decimals_for(const struct stage *sg)
{
    for (size_t i = 0; i < sg->n_ev; i++)
        if (sg->ev[i].time % 1000) return 6;
    return 3;
}

static char *fmt_time(us_time_t t, unsigned dec, char *buf, size_t cap)
{
    if (dec == 3)
        snprintf(buf, cap, "%llu.%03llu", (unsigned long long)(t / 1000000),
                 (unsigned long long)(t / 1000 % 1000));
    else
        snprintf(buf, cap, "%llu.%06llu", (unsigned long long)(t / 1000000),
                 (unsigned long long)(t % 1000000));
    return buf;
}

/* What a frame's line cannot show: "retransmission, lost". */
static char *frame_notes(const struct stage_event *e, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    const char *notes[4];
    char lost[32];
    unsigned k = 0;
    if (e->retransmit) notes[k++] = "retransmission";
    if (e->fate == FATE_LOST) {
        if (!strcmp(e->reason, "loss"))
            snprintf(lost, sizeof(lost), "lost");
        else if (!strcmp(e->reason, "down"))
            snprintf(lost, sizeof(lost), "lost: cable unplugged");
        else
            snprintf(lost, sizeof(lost), "lost: %s", e->reason);
        notes[k++] = lost;
    }
    if (e->fate == FATE_CORRUPTED) notes[k++] = "corrupted on the wire";
    if (e->duplicated) notes[k++] = "duplicated";
    for (unsigned i = 0; i < k; i++) {
        int w = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", notes[i]);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
    return buf;
}

static void print_row(const struct stage *sg, const struct row *r, FILE *out, unsigned dec, int tw,
                      bool color)
{
    char t[32];
    fmt_time(r->time, dec, t, sizeof(t));
    fprintf(out, "%s%*s%s  ", color ? DIM : "", tw, t, color ? RESET : "");
    const struct stage_event *te = r->text_ev >= 0 ? &sg->ev[r->text_ev] : NULL;
    for (int a = 0; a < 2; a++) {
        /* Without text, nothing follows the last state: no padding after it. */
        bool last_col = !te && (a == 1 || r->state_ev[1] < 0);
        if (r->state_ev[a] < 0) {
            if (!te && (a == 1 || r->state_ev[1] < 0)) continue;
            fprintf(out, "%-*s ", STATE_COL, "");
            continue;
        }
        const char *name = us_tcp_state_name(sg->ev[r->state_ev[a]].to);
        if (last_col)
            fprintf(out, "%s%s%s", color ? actor_bold(a) : "", name, color ? RESET : "");
        else
            fprintf(out, "%s%-*s%s ", color ? actor_bold(a) : "", STATE_COL, name,
                    color ? RESET : "");
    }
    if (!te) {
        fputc('\n', out);
        return;
    }
    fputc(' ', out);
    switch (te->kind) {
    case SEV_FRAME: {
        char notes[96];
        frame_notes(te, notes, sizeof(notes));
        const char *c = !color ? "" : te->tcp ? actor_color(te->actor) : DIM;
        fprintf(out, "%s%s%s", c, te->text, color ? RESET : "");
        if (notes[0]) fprintf(out, "  %s[%s]%s", color ? RED : "", notes, color ? RESET : "");
        break;
    }
    case SEV_NOTE:
        fprintf(out, "%s* %s%s", color ? BOLD : "", te->text, color ? RESET : "");
        break;
    default:
        fprintf(out, "%s%s:%s %s%s", color ? actor_color(te->actor) : "", actor_name(te->actor),
                color ? RESET : "", te->text, r->call_open ? " ..." : "");
        break;
    }
    fputc('\n', out);
}

void show_trace(const struct stage *sg, FILE *out, unsigned flags)
{
    bool color = flags & SHOW_COLOR;
    struct rows rs = {0};
    build(sg, &rs, flags);
    unsigned dec = decimals_for(sg);
    us_time_t tmax = sg->n_ev ? sg->ev[sg->n_ev - 1].time : 0;
    char t[32];
    int tw = (int)strlen(fmt_time(tmax, dec, t, sizeof(t)));
    if (tw < 5) tw = 5;
    fprintf(out, "%s%*s  %-*s %-*s  %s%s\n", color ? BOLD : "", tw, "time", STATE_COL, "client",
            STATE_COL, "server", "segments (as tcpdump -n prints them), calls, events",
            color ? RESET : "");
    for (size_t i = 0; i < rs.n; i++) print_row(sg, &rs.r[i], out, dec, tw, color);
    if (sg->overflow) fprintf(out, "(the record stops here: out of memory)\n");
    free(rs.r);
}

bool show_want_color(void)
{
    const char *no = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(no && *no);
}

void show_wrap(FILE *out, const char *text, unsigned indent, unsigned width)
{
    show_wrap_label(out, "", text, indent, width);
}

void show_wrap_label(FILE *out, const char *label, const char *text, unsigned indent,
                     unsigned width)
{
    const char *p = text;
    bool first = true;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        size_t room = width > indent ? width - indent : 20, len = strlen(p), cut = len;
        if (len > room) {
            cut = room;
            while (cut > 0 && p[cut] != ' ') cut--;
            if (cut == 0) {
                cut = room;
                while (p[cut] && p[cut] != ' ') cut++;
            }
        }
        fprintf(out, "%-*s%.*s\n", (int)indent, first ? label : "", (int)cut, p);
        first = false;
        p += cut;
    }
}
