/*
 * svg.c: a diagram as a standalone SVG document.
 *
 * Two lifelines with the endpoints named on top; one arrow per segment from
 * the sender's lifeline at its send time to the receiver's at its arrival,
 * so flight time shows as slant. Rows are evenly spaced (with a little more
 * room where time jumps, e.g. a retransmission timeout) rather than to
 * scale: a 60 s TIME-WAIT and a 10 us round trip must fit one page. An
 * arrival between two rows is placed between them in proportion to time.
 * Lost segments stop short with a red cross; states are boxes beside the
 * lifeline where they are entered; each lifeline has its own clock labels.
 *
 * Everything is text the browser can select (<text>), every arrow carries
 * the full segment in a <title> tooltip, and nothing outside the file is
 * referenced. All text from the capture or log is escaped.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diagram/render.h"

#define CHAR_W    7.2 /* width of one character of the 12px monospace font */
#define MARGIN    16.0
#define ROW_STEP  36.0
#define HEAD_H    64.0 /* header: names, addresses */
#define LABEL_CAP 160
#define NOTE_CAP  64

#define COLOR_INK      "#1f2937"
#define COLOR_LOST     "#c0392b"
#define COLOR_RTX      "#d35400"
#define COLOR_MUTED    "#6b7280"
#define COLOR_STATE_BG "#e8f1fb"
#define COLOR_STATE_FG "#1d4e89"

struct geometry {
    bool flight;
    double last_time_y[2]; /* the last clock label on each side, to write it once */
    char last_time[2][32];
    double xl, xr; /* lifelines */
    double width, height;
    double time_w;    /* clock column width */
    double *y;        /* per row */
    double *y_send;   /* per arrow: where it leaves the sender */
    double *y_arrive; /* per arrow: where it reaches the receiver */
    double *y_state;  /* per state */
    double *x_shift;  /* per state: how far its box moves outward, past earlier ones */
    double bottom;
};

/* Writes s as XML character data: markup characters escaped, control and
 * non-ASCII bytes (whose encoding we cannot vouch for) as '?'. */
static void xml_text(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*p >= 0x20 && *p < 0x7f ? *p : '?', out);
        }
    }
}

/* Extra room where time jumps: none for the same instant, ~30px for a second. */
static double time_gap(us_time_t dt)
{
    if (dt == 0) return 0;
    double g = 10.0 * log10(1.0 + (double)dt / 1000.0);
    return g > 48.0 ? 48.0 : g;
}

/* Vertical space before a moment dt after the previous one. */
static double step(us_time_t dt)
{
    return ROW_STEP + time_gap(dt);
}

struct arrival {
    us_time_t time;
    size_t arrow;
};

static int cmp_arrival(const void *a, const void *b)
{
    const struct arrival *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return x->arrow < y->arrow ? -1 : x->arrow > y->arrow;
}

/* Gives every row a y and every arrow the y where it reaches the receiver.
 * Rows and arrivals are merged in time order: an arrival at the instant of a
 * row (typically the reply it causes) meets that row; one between rows gets
 * a place of its own, so an arrow always slants by at least one step. */
static int place_rows(const struct diagram *d, struct geometry *g)
{
    struct arrival *arr = calloc(d->n_arrows ? d->n_arrows : 1, sizeof(*arr));
    if (!arr) return -ENOMEM;
    size_t na = 0;
    for (size_t i = 0; i < d->n_arrows; i++) {
        const struct diagram_arrow *a = &d->arrows[i];
        bool reached = a->fate == DG_DELIVERED || a->fate == DG_CORRUPTED;
        if (reached && a->arrived != a->sent) arr[na++] = (struct arrival){a->arrived, i};
    }
    qsort(arr, na, sizeof(*arr), cmp_arrival);
    double y = MARGIN + HEAD_H + 10 - ROW_STEP;
    us_time_t last = d->t0;
    size_t j = 0;
    for (size_t k = 0; k < d->n_rows; k++) {
        us_time_t t = d->rows[k].time;
        while (j < na && arr[j].time < t) {
            us_time_t ta = arr[j].time;
            y += step(ta - last);
            last = ta;
            for (; j < na && arr[j].time == ta; j++) g->y_arrive[arr[j].arrow] = y;
        }
        y += step(t - last);
        last = t;
        g->y[k] = y;
        for (; j < na && arr[j].time == t; j++) g->y_arrive[arr[j].arrow] = y;
    }
    while (j < na) {
        us_time_t ta = arr[j].time;
        y += step(ta - last);
        last = ta;
        for (; j < na && arr[j].time == ta; j++) g->y_arrive[arr[j].arrow] = y;
    }
    g->bottom = y;
    free(arr);
    return 0;
}

static int make_geometry(const struct diagram *d, struct geometry *g, char (*labels)[LABEL_CAP],
                         char (*notes)[NOTE_CAP], bool abs)
{
    g->flight = diagram_has_flight(d);
    g->y = calloc(d->n_rows ? d->n_rows : 1, sizeof(double));
    g->y_send = calloc(d->n_arrows ? d->n_arrows : 1, sizeof(double));
    g->y_arrive = calloc(d->n_arrows ? d->n_arrows : 1, sizeof(double));
    g->y_state = calloc(d->n_states ? d->n_states : 1, sizeof(double));
    g->x_shift = calloc(d->n_states ? d->n_states : 1, sizeof(double));
    if (!g->y || !g->y_send || !g->y_arrive || !g->y_state || !g->x_shift) return -ENOMEM;

    size_t label_max = 0, lstate = 0, rstate = 0, tchars = 4;
    char t[32];
    for (size_t i = 0; i < d->n_arrows; i++) {
        diagram_label(d, i, abs, labels[i], LABEL_CAP);
        diagram_note(d, i, notes[i], NOTE_CAP);
        size_t n = strlen(labels[i]);
        if (n > label_max) label_max = n;
        n = strlen(diagram_time(d, d->arrows[i].arrived, t, sizeof(t)));
        if (n > tchars) tchars = n;
    }
    for (size_t i = 0; i < d->n_rows; i++) {
        size_t n = strlen(diagram_time(d, d->rows[i].time, t, sizeof(t)));
        if (n > tchars) tchars = n;
    }
    for (size_t i = 0; i < d->n_states; i++) {
        size_t n = strlen(us_tcp_state_name(d->states[i].to));
        if (d->states[i].side == DG_LEFT && n > lstate) lstate = n;
        if (d->states[i].side == DG_RIGHT && n > rstate) rstate = n;
    }
    g->time_w = (double)tchars * CHAR_W;
    double lstate_w = lstate ? (double)lstate * CHAR_W + 20 : 0;
    double rstate_w = rstate ? (double)rstate * CHAR_W + 20 : 0;
    double body = (double)label_max * CHAR_W + 90;
    if (body < 380) body = 380;
    g->xl = MARGIN + g->time_w + 12 + lstate_w + 10;
    /* Room for the headers, centred on the lifelines. */
    char a[40];
    for (int s = 0; s < 2; s++) {
        double w = (double)strlen(diagram_endpoint_addr(d, (enum diagram_side)s, a, sizeof(a)));
        double wn = (double)strlen(d->side[s].name) * 1.2;
        if (wn > w) w = wn;
        if (s == DG_LEFT && g->xl < MARGIN + w * CHAR_W / 2) g->xl = MARGIN + w * CHAR_W / 2;
    }
    g->xr = g->xl + body;
    g->width = g->xr + 10 + rstate_w + (g->flight ? 12 + g->time_w : 0) + MARGIN + 40;

    if (place_rows(d, g) < 0) return -ENOMEM;
    for (size_t k = 0; k < d->n_rows; k++) {
        const struct diagram_row *row = &d->rows[k];
        if (row->kind == DG_ROW_STATE) {
            g->y_state[row->index] = g->y[k];
            continue;
        }
        const struct diagram_arrow *ar = &d->arrows[row->index];
        if (ar->arrived == ar->sent || (ar->fate != DG_DELIVERED && ar->fate != DG_CORRUPTED))
            g->y_arrive[row->index] = g->y[k];
    }
    for (size_t k = 0; k < d->n_rows; k++)
        if (d->rows[k].kind == DG_ROW_ARROW) g->y_send[d->rows[k].index] = g->y[k];
    for (size_t i = 0; i < d->n_states; i++) {
        const struct diagram_state *st = &d->states[i];
        if (st->arrow >= 0)
            g->y_state[i] = st->at_head ? g->y_arrive[st->arrow] : g->y_send[st->arrow];
    }
    /* States entered at one place and instant (CLOSE-WAIT as a FIN arrives,
     * LAST-ACK as the FIN,ACK leaves at once) would share one box: each
     * later one moves outward beside the earlier, in the order entered. */
    double extra[2] = {0, 0};
    for (size_t i = 0; i < d->n_states; i++) {
        for (size_t j = 0; j < i; j++) {
            if (d->states[j].side != d->states[i].side || fabs(g->y_state[j] - g->y_state[i]) >= 18)
                continue;
            double wj = (double)strlen(us_tcp_state_name(d->states[j].to)) * CHAR_W + 12;
            if (g->x_shift[j] + wj + 6 > g->x_shift[i]) g->x_shift[i] = g->x_shift[j] + wj + 6;
        }
        if (g->x_shift[i] > extra[d->states[i].side]) extra[d->states[i].side] = g->x_shift[i];
    }
    g->xl += extra[DG_LEFT];
    g->xr += extra[DG_LEFT];
    g->width += extra[DG_LEFT] + extra[DG_RIGHT];
    g->height = g->bottom + 40 + (d->truncated ? 20 : 0);
    return 0;
}

static void put_time(FILE *out, const struct diagram *d, struct geometry *g, enum diagram_side side,
                     double y, us_time_t t)
{
    char buf[32];
    diagram_time(d, t, buf, sizeof(buf));
    /* Several events at one place and instant share one label. */
    if (fabs(g->last_time_y[side] - y) < 1.0 && !strcmp(g->last_time[side], buf)) return;
    g->last_time_y[side] = y;
    snprintf(g->last_time[side], sizeof(g->last_time[side]), "%s", buf);
    if (side == DG_LEFT)
        fprintf(out, "<text class=\"time\" x=\"%.1f\" y=\"%.1f\">", MARGIN, y + 4);
    else
        fprintf(out, "<text class=\"time\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
                g->width - MARGIN, y + 4);
    xml_text(out, buf);
    fputs("</text>\n", out);
}

static void put_arrowhead(FILE *out, double x1, double y1, double x2, double y2, const char *color)
{
    double dx = x2 - x1, dy = y2 - y1, len = sqrt(dx * dx + dy * dy);
    if (len < 1) return;
    double ux = dx / len, uy = dy / len, bx = x2 - 10 * ux, by = y2 - 10 * uy;
    fprintf(out, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>\n", x2, y2,
            bx - 4 * uy, by + 4 * ux, bx + 4 * uy, by - 4 * ux, color);
}

static void put_cross(FILE *out, double x, double y, const char *color)
{
    fprintf(out,
            "<path d=\"M%.1f,%.1f L%.1f,%.1f M%.1f,%.1f L%.1f,%.1f\" stroke=\"%s\" "
            "stroke-width=\"2.2\"/>\n",
            x - 6, y - 6, x + 6, y + 6, x - 6, y + 6, x + 6, y - 6, color);
}

static void put_arrow(FILE *out, const struct diagram *d, struct geometry *g, size_t k,
                      const char *label, const char *note)
{
    size_t i = d->rows[k].index;
    const struct diagram_arrow *a = &d->arrows[i];
    bool to_right = a->from == DG_LEFT;
    double x1 = to_right ? g->xl : g->xr, x2 = to_right ? g->xr : g->xl;
    double y1 = g->y[k], y2 = g->y_arrive[i];
    const char *color = a->fate == DG_LOST || a->fate == DG_CORRUPTED ? COLOR_LOST
                        : a->retransmit                               ? COLOR_RTX
                                                                      : COLOR_INK;
    char detail[320], t1[32], t2[32];
    fprintf(out, "<g class=\"segment\">\n<title>");
    xml_text(out, diagram_detail(d, i, detail, sizeof(detail)));
    fprintf(out, "\nsent %s", diagram_time(d, a->sent, t1, sizeof(t1)));
    if (a->fate == DG_DELIVERED || a->fate == DG_CORRUPTED)
        fprintf(out, ", arrived %s", diagram_time(d, a->arrived, t2, sizeof(t2)));
    if (*note) {
        fputs("; ", out);
        xml_text(out, note);
    }
    fputs("</title>\n", out);

    if (a->fate == DG_LOST) {
        x2 = x1 + 0.62 * (x2 - x1);
        y2 = y1;
    }
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"1.4\"%s/>\n",
            x1, y1, x2, y2, color, a->retransmit ? " stroke-dasharray=\"7 4\"" : "");
    if (a->fate == DG_LOST || a->fate == DG_CORRUPTED)
        put_cross(out, x2 - (to_right ? 8 : -8), y2, COLOR_LOST);
    if (a->fate != DG_LOST && a->fate != DG_CORRUPTED) put_arrowhead(out, x1, y1, x2, y2, color);

    /* The label runs along the arrow, just above it: centred on an arrow that
     * arrives by the next row; on one that arrives later, near its start, so
     * it stays clear of the next row's label (yet far enough from the sender
     * to fit). Other notes follow it; a lost arrow says so by its cross. */
    double dx = x2 - x1, dy = y2 - y1;
    double next = k + 1 < d->n_rows ? g->y[k + 1] : y2;
    double t = y2 > next + 0.5 ? (next - y1) * 0.3 / dy : 0.5;
    double tmin = ((double)strlen(label) * CHAR_W / 2 + 12) / fabs(dx);
    if (t < tmin) t = tmin < 0.5 ? tmin : 0.5;
    double mx = x1 + t * dx, my = y1 + t * dy;
    double angle = dx >= 0 ? atan2(dy, dx) : atan2(-dy, -dx);
    char rot[80] = "";
    if (fabs(angle) > 1e-4)
        snprintf(rot, sizeof(rot), " transform=\"rotate(%.2f %.1f %.1f)\"", angle * 180.0 / M_PI,
                 mx, my);
    fprintf(out, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"%s>", mx,
            my - 5, rot);
    xml_text(out, label);
    const char *rest = a->fate != DG_LOST ? note : a->retransmit ? "retransmission" : "";
    if (rest[0]) {
        fprintf(out, "<tspan class=\"note\" dx=\"8\" fill=\"%s\">", color);
        xml_text(out, rest);
        fputs("</tspan>", out);
    }
    fputs("</text>\n", out);
    if (a->fate == DG_LOST) {
        char lost[32];
        if (!a->reason[0] || !strcmp(a->reason, "loss"))
            snprintf(lost, sizeof(lost), "lost");
        else
            snprintf(lost, sizeof(lost), "lost (%s)", a->reason);
        fprintf(out, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\"%s>",
                to_right ? x2 + 8 : x2 - 8, y2 + 4, COLOR_LOST,
                to_right ? "" : " text-anchor=\"end\"");
        xml_text(out, lost);
        fputs("</text>\n", out);
    }
    /* One clock (no flight times): every time on the left, as in the text. */
    put_time(out, d, g, g->flight ? a->from : DG_LEFT, y1, a->sent);
    if (g->flight && (a->fate == DG_DELIVERED || a->fate == DG_CORRUPTED))
        put_time(out, d, g, (enum diagram_side) !a->from, y2, a->arrived);
    fputs("</g>\n", out);
}

static void put_state(FILE *out, const struct diagram *d, struct geometry *g, size_t i)
{
    const struct diagram_state *st = &d->states[i];
    const char *name = us_tcp_state_name(st->to);
    double y = g->y_state[i], w = (double)strlen(name) * CHAR_W + 12;
    bool left = st->side == DG_LEFT;
    double x = left ? g->xl - 8 - w - g->x_shift[i] : g->xr + 8 + g->x_shift[i];
    char t[32];
    fprintf(out, "<g class=\"state\">\n<title>");
    xml_text(out, d->side[st->side].name[0] ? d->side[st->side].name : left ? "left" : "right");
    fprintf(out, ": %s -&gt; %s at %s", us_tcp_state_name(st->from), name,
            diagram_time(d, st->time, t, sizeof(t)));
    if (st->cause[0]) {
        fputs(" (", out);
        xml_text(out, st->cause);
        fputs(")", out);
    }
    fputs("</title>\n", out);
    fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", left ? g->xl : g->xr, y,
            COLOR_STATE_FG);
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"18\" rx=\"4\" fill=\"%s\" "
            "stroke=\"%s\" stroke-width=\"0.8\"/>\n",
            x, y - 9, w, COLOR_STATE_BG, COLOR_STATE_FG);
    fprintf(out, "<text class=\"state\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
            x + w / 2, y + 4, name);
    if (st->arrow < 0 && (left || g->flight))
        put_time(out, d, g, st->side, y, st->time);
    else if (st->arrow < 0)
        put_time(out, d, g, DG_LEFT, y, st->time);
    fputs("</g>\n", out);
}

static void put_header(FILE *out, const struct diagram *d, const struct geometry *g)
{
    char a[40];
    for (int s = 0; s < 2; s++) {
        double x = s == DG_LEFT ? g->xl : g->xr;
        if (d->side[s].name[0]) {
            fprintf(out, "<text class=\"name\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x,
                    MARGIN + 16);
            xml_text(out, d->side[s].name);
            fputs("</text>\n", out);
        }
        fprintf(out, "<text class=\"addr\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x,
                MARGIN + 34);
        xml_text(out, diagram_endpoint_addr(d, (enum diagram_side)s, a, sizeof(a)));
        fputs("</text>\n", out);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"/>\n",
                x, MARGIN + HEAD_H - 20, x, g->bottom + 24, COLOR_MUTED);
    }
    fprintf(out, "<text class=\"time\" x=\"%.1f\" y=\"%.1f\">time (s)</text>\n", MARGIN,
            MARGIN + 34);
    if (g->flight)
        fprintf(out,
                "<text class=\"time\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">time (s)</text>\n",
                g->width - MARGIN, MARGIN + 34);
}

int diagram_render_svg(const struct diagram *d, FILE *out, unsigned flags)
{
    if (!d->finished || !d->found) return -EINVAL;
    size_t n = d->n_arrows ? d->n_arrows : 1;
    char(*labels)[LABEL_CAP] = calloc(n, sizeof(*labels));
    char(*notes)[NOTE_CAP] = calloc(n, sizeof(*notes));
    struct geometry g;
    memset(&g, 0, sizeof(g));
    int rc =
        labels && notes ? make_geometry(d, &g, labels, notes, flags & DIAGRAM_ABS_SEQ) : -ENOMEM;
    if (rc == 0) {
        char a0[40], a1[40];
        fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        fprintf(out,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\">\n",
                g.width, g.height, g.width, g.height);
        fputs("<title>TCP sequence diagram: ", out);
        xml_text(out, diagram_endpoint_addr(d, DG_LEFT, a0, sizeof(a0)));
        fputs(" - ", out);
        xml_text(out, diagram_endpoint_addr(d, DG_RIGHT, a1, sizeof(a1)));
        fputs("</title>\n", out);
        fputs("<style>\n"
              "text { font-family: ui-monospace, Menlo, Consolas, 'DejaVu Sans Mono', monospace;"
              " font-size: 12px; fill: " COLOR_INK "; }\n"
              ".name { font-size: 15px; font-weight: bold; }\n"
              ".addr { fill: " COLOR_MUTED "; }\n"
              ".time { font-size: 11px; fill: " COLOR_MUTED "; }\n"
              ".note { font-size: 11px; font-style: italic; }\n"
              "text.state { font-size: 11px; font-weight: bold; fill: " COLOR_STATE_FG "; }\n"
              "</style>\n",
              out);
        fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
        put_header(out, d, &g);
        for (size_t k = 0; k < d->n_rows; k++)
            if (d->rows[k].kind == DG_ROW_ARROW)
                put_arrow(out, d, &g, k, labels[d->rows[k].index], notes[d->rows[k].index]);
        for (size_t i = 0; i < d->n_states; i++) put_state(out, d, &g, i);
        if (d->truncated)
            fprintf(out,
                    "<text class=\"note\" x=\"%.1f\" y=\"%.1f\">truncated: only the first %zu "
                    "segments and %zu states are drawn</text>\n",
                    MARGIN, g.height - 12, d->n_arrows, d->n_states);
        fputs("</svg>\n", out);
        if (ferror(out)) rc = -EIO;
    }
    free(g.y);
    free(g.y_send);
    free(g.y_arrive);
    free(g.y_state);
    free(g.x_shift);
    free(labels);
    free(notes);
    return rc;
}
