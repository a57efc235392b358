/*
 * ascii.c: a diagram as plain text, in the manner of the textbook figures.
 *
 *     time              client                                 server
 *                   10.0.0.1:40000                           10.0.0.2:80
 *                         |                                       |
 *    0.000                |                                       | LISTEN
 *    0.000       SYN-SENT |----- SYN seq 0 win 64240 <mss 1460> ->| SYN-RECEIVED
 *    0.000    ESTABLISHED |<---- SYN,ACK seq 0 ack 1 win 65160 ---|
 *    0.000                |----- ACK ack 1 ---------------------->| ESTABLISHED
 *    0.000                |----- PSH,ACK seq 1:6(5) ack 1 ---X    |           lost
 *
 * Every segment is one row at the time it was sent; a state is written
 * beside the lifeline on the row of the segment whose arrival or sending
 * entered it, or on a row of its own. Text cannot slant, so when segments
 * take time to arrive each side gets its own clock column: the time the row's
 * segment left or reached that side. Lost segments stop short with an X; a
 * corrupted one reaches the lifeline as X. Whatever the arrow cannot say
 * (lost, retransmission, duplicated) is a note at the end of the row.
 *
 * Lines are built in a fixed buffer of cells with a style per cell, so
 * colour (for terminals only) never shifts a column.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diagram/render.h"

#define ROW_CELLS 256
#define BODY_MIN  36
#define BODY_MAX  72
#define LABEL_CAP 160
#define NOTE_CAP  64

enum style { ST_PLAIN = 0, ST_TIME, ST_STATE, ST_LOST, ST_RTX, ST_HEAD };

struct row_buf {
    char ch[ROW_CELLS];
    uint8_t style[ROW_CELLS];
};

struct layout {
    bool flight;       /* two clocks */
    size_t tw;         /* time column width */
    size_t ls;         /* left state column width */
    size_t body;       /* cells between the lifelines */
    size_t xl, xr;     /* lifeline columns */
    size_t ltime_end;  /* the left clock ends here (right-aligned) */
    size_t lstate_end; /* left states end here (right-aligned) */
    size_t rtime_end;  /* two clocks: the right clock ends here */
    size_t rnote;      /* right states, then notes, start here */
    long *tail_state;  /* per arrow: the state written at its tail, or -1 */
    long *head_state;
};

static void row_clear(struct row_buf *r)
{
    memset(r->ch, ' ', sizeof(r->ch));
    memset(r->style, ST_PLAIN, sizeof(r->style));
}

/* Writes s at column x, clipped to the buffer. */
static void row_put(struct row_buf *r, size_t x, const char *s, enum style st)
{
    for (; *s && x < ROW_CELLS; s++, x++) {
        r->ch[x] = *s;
        r->style[x] = (uint8_t)st;
    }
}

static void row_put_right(struct row_buf *r, size_t x_end, const char *s, enum style st)
{
    size_t n = strlen(s);
    row_put(r, x_end >= n ? x_end - n : 0, s, st);
}

static const char *style_code(enum style st)
{
    switch (st) {
    case ST_TIME:
        return "\033[2m";
    case ST_STATE:
        return "\033[1;36m";
    case ST_LOST:
        return "\033[31m";
    case ST_RTX:
        return "\033[33m";
    case ST_HEAD:
        return "\033[1m";
    default:
        return "";
    }
}

/* Writes the row without trailing spaces; colour codes only on request. */
static void row_emit(const struct row_buf *r, FILE *out, bool color)
{
    size_t end = ROW_CELLS;
    while (end > 0 && r->ch[end - 1] == ' ') end--;
    uint8_t cur = ST_PLAIN;
    for (size_t x = 0; x < end; x++) {
        if (color && r->style[x] != cur && r->ch[x] != ' ') {
            if (cur != ST_PLAIN) fputs("\033[0m", out);
            fputs(style_code((enum style)r->style[x]), out);
            cur = r->style[x];
        }
        fputc(r->ch[x], out);
    }
    if (color && cur != ST_PLAIN) fputs("\033[0m", out);
    fputc('\n', out);
}

static void put_lifelines(struct row_buf *r, const struct layout *L)
{
    row_put(r, L->xl, "|", ST_PLAIN);
    row_put(r, L->xr, "|", ST_PLAIN);
}

/* Cuts a label that cannot fit in `max` cells, marking the cut. */
static void fit_label(char *label, size_t max)
{
    size_t n = strlen(label);
    if (n <= max || max < 3) return;
    memcpy(label + max - 2, "..", 3);
}

/* What a lost arrow says in the gap it leaves: "lost", "lost (queue)". */
static void lost_text(const struct diagram_arrow *a, char *buf, size_t cap)
{
    if (!a->reason[0] || !strcmp(a->reason, "loss"))
        snprintf(buf, cap, "lost");
    else
        snprintf(buf, cap, "lost (%s)", a->reason);
}

/* Cells an arrow needs around a label of n cells: "----- " + label + " --->"
 * (or "<---- " + label + " ----"); a lost one also leaves a gap for its text. */
static size_t arrow_need(const struct diagram_arrow *a, size_t n)
{
    if (a->fate != DG_LOST) return n + 11;
    char lost[32];
    lost_text(a, lost, sizeof(lost));
    return n + 11 + strlen(lost) + 2;
}

/* Draws arrow `a` with `label` between the lifelines of row r. A lost arrow
 * covers about two thirds of the way, ends in X and says why in the gap. */
static void draw_arrow(struct row_buf *r, const struct layout *L, const struct diagram_arrow *a,
                       const char *label)
{
    size_t W = L->body, n = strlen(label);
    size_t need = arrow_need(a, n);
    if (need > W) n = need - W < n ? n - (need - W) : 0; /* labels are cut to fit before */
    size_t x0 = L->xl + 1;
    char cells[ROW_CELLS];
    memset(cells, ' ', sizeof(cells));
    enum style st = ST_PLAIN;
    if (a->fate == DG_LOST || a->fate == DG_CORRUPTED)
        st = ST_LOST;
    else if (a->retransmit)
        st = ST_RTX;
    bool to_right = a->from == DG_LEFT;
    if (a->fate == DG_LOST) {
        char lost[32];
        lost_text(a, lost, sizeof(lost));
        size_t ln = strlen(lost);
        size_t span = W * 2 / 3;
        if (span < n + 11) span = n + 11;
        if (span > W - ln - 2) span = W - ln - 2;
        if (to_right) {
            memset(cells, '-', span);
            cells[span - 1] = 'X';
            cells[5] = ' ';
            memcpy(cells + 6, label, n);
            cells[6 + n] = ' ';
            memcpy(cells + span + 1, lost, ln);
        } else {
            size_t start = W - span;
            memset(cells + start, '-', span);
            cells[start] = 'X';
            size_t lx = W - 6 - n;
            cells[lx - 1] = ' ';
            memcpy(cells + lx, label, n);
            cells[lx + n] = ' ';
            memcpy(cells + start - 1 - ln, lost, ln);
        }
    } else {
        memset(cells, '-', W);
        cells[5] = ' ';
        memcpy(cells + 6, label, n);
        cells[6 + n] = ' ';
        char head = a->fate == DG_CORRUPTED ? 'X' : to_right ? '>' : '<';
        cells[to_right ? W - 1 : 0] = head;
    }
    for (size_t i = 0; i < W; i++) {
        r->ch[x0 + i] = cells[i];
        r->style[x0 + i] = (uint8_t)(cells[i] == ' ' ? ST_PLAIN : st);
    }
}

static int make_layout(const struct diagram *d, struct layout *L, char (*labels)[LABEL_CAP],
                       char (*notes)[NOTE_CAP], bool abs)
{
    L->flight = diagram_has_flight(d);
    L->tail_state = malloc((d->n_arrows ? d->n_arrows : 1) * sizeof(long));
    L->head_state = malloc((d->n_arrows ? d->n_arrows : 1) * sizeof(long));
    if (!L->tail_state || !L->head_state) return -ENOMEM;
    for (size_t i = 0; i < d->n_arrows; i++) L->tail_state[i] = L->head_state[i] = -1;
    for (size_t i = 0; i < d->n_states; i++) {
        const struct diagram_state *st = &d->states[i];
        size_t w = strlen(us_tcp_state_name(st->to));
        if (st->side == DG_LEFT && w > L->ls) L->ls = w;
        if (st->arrow < 0) continue;
        if (st->at_head)
            L->head_state[st->arrow] = (long)i;
        else
            L->tail_state[st->arrow] = (long)i;
    }
    char t[32];
    L->tw = L->flight ? 0 : strlen("time");
    for (size_t i = 0; i < d->n_rows; i++) {
        size_t w = strlen(diagram_time(d, d->rows[i].time, t, sizeof(t)));
        if (w > L->tw) L->tw = w;
    }
    for (size_t i = 0; i < d->n_arrows; i++) {
        size_t w = strlen(diagram_time(d, d->arrows[i].arrived, t, sizeof(t)));
        if (w > L->tw) L->tw = w;
    }
    /* The body fits the longest label (cut beyond BODY_MAX) and the headers. */
    size_t body = BODY_MIN;
    for (size_t i = 0; i < d->n_arrows; i++) {
        diagram_label(d, i, abs, labels[i], LABEL_CAP);
        /* A lost arrow says so in its gap; the note column keeps the rest. */
        if (d->arrows[i].fate == DG_LOST)
            snprintf(notes[i], NOTE_CAP, "%s", d->arrows[i].retransmit ? "retransmission" : "");
        else
            diagram_note(d, i, notes[i], NOTE_CAP);
        size_t need = arrow_need(&d->arrows[i], strlen(labels[i]));
        if (need > body) body = need;
    }
    char a0[40], a1[40];
    size_t h0 = strlen(diagram_endpoint_addr(d, DG_LEFT, a0, sizeof(a0)));
    size_t h1 = strlen(diagram_endpoint_addr(d, DG_RIGHT, a1, sizeof(a1)));
    if (strlen(d->side[0].name) > h0) h0 = strlen(d->side[0].name);
    if (strlen(d->side[1].name) > h1) h1 = strlen(d->side[1].name);
    if (h0 / 2 + h1 / 2 + 4 > body) body = h0 / 2 + h1 / 2 + 4;
    if (body > BODY_MAX) body = BODY_MAX;
    L->body = body;
    for (size_t i = 0; i < d->n_arrows; i++) {
        size_t n = strlen(labels[i]), over = arrow_need(&d->arrows[i], n);
        if (over > body) fit_label(labels[i], n - (over - body));
    }
    /* One clock: time, state, lifeline. Two: state, clock, lifeline, clock,
     * state, each clock beside its own lifeline. */
    size_t left = L->tw + 2 + (L->ls ? L->ls + 1 : 0);
    if (left < 1 + h0 / 2) left = 1 + h0 / 2;
    if (!L->flight && left < L->tw + 3 + h0 / 2) left = L->tw + 3 + h0 / 2; /* clear "time" */
    L->xl = left;
    L->xr = L->xl + body + 1;
    if (L->flight) {
        L->ltime_end = L->xl - 1;
        L->lstate_end = L->ltime_end - L->tw - 2;
        L->rtime_end = L->xr + 2 + L->tw;
        L->rnote = L->rtime_end + 2;
    } else {
        L->ltime_end = L->tw;
        L->lstate_end = L->xl - 1;
        L->rnote = L->xr + 2;
    }
    return 0;
}

static void put_headers(const struct diagram *d, const struct layout *L, FILE *out, bool color)
{
    struct row_buf r;
    char a[40];
    for (int line = 0; line < 2; line++) {
        row_clear(&r);
        for (int s = 0; s < 2; s++) {
            const char *text = line == 0
                                   ? d->side[s].name
                                   : diagram_endpoint_addr(d, (enum diagram_side)s, a, sizeof(a));
            size_t n = strlen(text), center = s == DG_LEFT ? L->xl : L->xr;
            row_put(&r, center >= n / 2 ? center - n / 2 : 0, text, ST_HEAD);
        }
        if (line == 0 && !L->flight) row_put_right(&r, L->tw, "time", ST_TIME);
        row_emit(&r, out, color);
    }
    row_clear(&r);
    put_lifelines(&r, L);
    row_emit(&r, out, color);
}

/* Writes a state beside its lifeline; returns the cells used on the right
 * (where a note may follow). */
static size_t put_state(struct row_buf *r, const struct layout *L, const struct diagram *d,
                        long state)
{
    if (state < 0) return 0;
    const struct diagram_state *st = &d->states[state];
    const char *name = us_tcp_state_name(st->to);
    if (st->side == DG_LEFT) {
        row_put_right(r, L->lstate_end, name, ST_STATE);
        return 0;
    }
    row_put(r, L->rnote, name, ST_STATE);
    return strlen(name) + 2;
}

/* The time at each side's lifeline: with one clock, the row's time at the
 * left margin; with two, when the segment left or reached that side. */
static void put_times(struct row_buf *r, const struct layout *L, const struct diagram *d,
                      us_time_t left, bool have_left, us_time_t right, bool have_right)
{
    char t[32];
    if (have_left) row_put_right(r, L->ltime_end, diagram_time(d, left, t, sizeof(t)), ST_TIME);
    if (L->flight && have_right)
        row_put_right(r, L->rtime_end, diagram_time(d, right, t, sizeof(t)), ST_TIME);
}

static void put_arrow_row(const struct diagram *d, const struct layout *L, size_t i,
                          const char *label, const char *note, FILE *out, bool color)
{
    const struct diagram_arrow *a = &d->arrows[i];
    struct row_buf r;
    row_clear(&r);
    put_lifelines(&r, L);
    draw_arrow(&r, L, a, label);
    bool reached = a->fate == DG_DELIVERED || a->fate == DG_CORRUPTED;
    if (!L->flight)
        put_times(&r, L, d, a->sent, true, 0, false);
    else if (a->from == DG_LEFT)
        put_times(&r, L, d, a->sent, true, a->arrived, reached);
    else
        put_times(&r, L, d, a->arrived, reached, a->sent, true);
    size_t used = put_state(&r, L, d, L->tail_state[i]);
    used += put_state(&r, L, d, L->head_state[i]);
    if (*note) row_put(&r, L->rnote + used, note, a->fate == DG_DELIVERED ? ST_RTX : ST_LOST);
    row_emit(&r, out, color);
}

static void put_state_row(const struct diagram *d, const struct layout *L, size_t j, FILE *out,
                          bool color)
{
    const struct diagram_state *st = &d->states[j];
    struct row_buf r;
    row_clear(&r);
    put_lifelines(&r, L);
    if (st->side == DG_LEFT || !L->flight)
        put_times(&r, L, d, st->time, true, 0, false);
    else
        put_times(&r, L, d, 0, false, st->time, true);
    put_state(&r, L, d, (long)j);
    row_emit(&r, out, color);
}

int diagram_render_ascii(const struct diagram *d, FILE *out, unsigned flags)
{
    if (!d->finished || !d->found) return -EINVAL;
    bool color = flags & DIAGRAM_COLOR;
    size_t n = d->n_arrows ? d->n_arrows : 1;
    char(*labels)[LABEL_CAP] = calloc(n, sizeof(*labels));
    char(*notes)[NOTE_CAP] = calloc(n, sizeof(*notes));
    struct layout L;
    memset(&L, 0, sizeof(L));
    int rc = labels && notes ? make_layout(d, &L, labels, notes, flags & DIAGRAM_ABS_SEQ) : -ENOMEM;
    if (rc == 0) {
        put_headers(d, &L, out, color);
        for (size_t k = 0; k < d->n_rows; k++) {
            const struct diagram_row *row = &d->rows[k];
            if (row->kind == DG_ROW_ARROW)
                put_arrow_row(d, &L, row->index, labels[row->index], notes[row->index], out, color);
            else
                put_state_row(d, &L, row->index, out, color);
        }
        struct row_buf r;
        row_clear(&r);
        put_lifelines(&r, &L);
        row_emit(&r, out, color);
        if (d->truncated)
            fprintf(out, "(truncated: only the first %zu segments and %zu states are drawn)\n",
                    d->n_arrows, d->n_states);
        if (ferror(out)) rc = -EIO;
    }
    free(L.tail_state);
    free(L.head_state);
    free(labels);
    free(notes);
    return rc;
}
