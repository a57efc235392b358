/* SVG diagrams: states entered at one place and instant get boxes side by
 * side, not on top of each other. A server that closes as soon as it reads
 * the end of the stream enters CLOSE-WAIT as the FIN arrives and LAST-ACK as
 * its FIN,ACK leaves, at the same point of its lifeline (`ustack demo`). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagram/render.h"
#include "testlib.h"

/* The box of state `name`: its x and width, from "<rect x=.. width=..>"
 * just before "<text class="state" ...>name</text>". */
static void box_of(const char *svg, const char *name, double *x, double *w)
{
    char needle[64];
    snprintf(needle, sizeof(needle), ">%s</text>", name);
    const char *t = strstr(svg, needle);
    cr_assert(t, "no %s box", name);
    const char *r = NULL;
    for (const char *p = svg; (p = strstr(p, "<rect x=\"")) && p < t; p++) r = p;
    cr_assert(r);
    cr_assert_eq(sscanf(r, "<rect x=\"%lf\" y=\"%*f\" width=\"%lf\"", x, w), 2);
}

Test(diagram_svg_states, same_instant_states_do_not_overlap)
{
    struct us_faults d = {.delay = US_MSEC(5)};
    struct pair *p = pair_new(1, &d, &d);
    struct diagram_recorder *rec = diagram_recorder_new(p->w, NULL);
    cr_assert_eq(diagram_recorder_add_stack(rec, p->a, p->pa), 0);
    cr_assert_eq(diagram_recorder_add_stack(rec, p->b, p->pb), 0);
    int c, s;
    tcp_connect_pair(p, 80, &c, &s, NULL);
    us_close(p->a, c);
    char buf[4];
    cr_assert_eq(us_recv(p->b, s, buf, sizeof(buf), 0), 0);
    us_close(p->b, s);
    us_wire_run_for(p->w, US_SEC(1));
    struct diagram *dg = diagram_recorder_done(rec);

    char *svg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&svg, &len);
    cr_assert_eq(diagram_render_svg(dg, f, 0), 0);
    fclose(f);
    double x1, w1, x2, w2;
    box_of(svg, "CLOSE-WAIT", &x1, &w1);
    box_of(svg, "LAST-ACK", &x2, &w2);
    cr_assert(x2 >= x1 + w1 || x1 >= x2 + w2, "CLOSE-WAIT at %.1f+%.1f, LAST-ACK at %.1f+%.1f", x1,
              w1, x2, w2);
    double width;
    cr_assert_eq(sscanf(strstr(svg, "<svg "),
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%lf\"", &width),
                 1);
    cr_assert(x2 + w2 <= width && x1 + w1 <= width, "the boxes fit the page");
    free(svg);
    diagram_free(dg);
    pair_free(p);
}
