/* The SVG diagram: well-formed XML (checked by xmllint), text a browser can
 * select, tooltips, crosses for lost segments, no external resources, and
 * hostile names escaped. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "diagram/render.h"
#include "diagram_fixture.h"

static bool have_xmllint(void)
{
    return system("command -v xmllint >/dev/null 2>&1") == 0;
}

/* Writes the SVG of `d` to a temporary file; returns its text (caller frees)
 * and checks it with xmllint when available. */
static char *svg_of(const struct diagram *d, unsigned flags)
{
    char path[] = "/tmp/ustack-svg-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    cr_assert_eq(diagram_render_svg(d, f, flags), 0);
    fflush(f);
    long n = ftell(f);
    char *text = calloc(1, (size_t)n + 1);
    rewind(f);
    cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    if (have_xmllint()) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
        cr_expect_eq(system(cmd), 0, "xmllint rejects %s", path);
    }
    unlink(path);
    return text;
}

static struct diagram *record_classic(us_time_t delay, const char *client_name)
{
    struct conv *c = conv_new(delay);
    struct diagram_recorder *r = diagram_recorder_new(c->p->w, NULL);
    cr_assert_eq(diagram_recorder_add_stack(r, c->p->a, c->p->pa), 0);
    cr_assert_eq(diagram_recorder_add_stack(r, c->p->b, c->p->pb), 0);
    conv_play_classic(c, delay);
    struct diagram *d = diagram_recorder_done(r);
    conv_free(c);
    if (client_name)
        snprintf(d->side[DG_LEFT].name, sizeof(d->side[DG_LEFT].name), "%s", client_name);
    return d;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

Test(diagram_svg, well_formed_with_text_and_tooltips)
{
    for (int delay = 0; delay <= 5; delay += 5) {
        struct diagram *d = record_classic(US_MSEC(delay), NULL);
        char *svg = svg_of(d, 0);
        cr_expect(!strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=", 50));
        cr_expect_eq(count(svg, "<g class=\"segment\">"), 10, "one group per segment");
        cr_expect(strstr(svg, ">SYN,ACK seq 0 ack 1 win 65160 &lt;mss 1460&gt;</text>"),
                  "labels are text, escaped");
        cr_expect(strstr(svg, "<title>frame 1: 192.0.2.1.40000 &gt; 192.0.2.2.80: Flags [S]"),
                  "the full segment in a tooltip");
        cr_expect(strstr(svg, ">SYN-RECEIVED</text>"));
        cr_expect(strstr(svg, ">lost</text>"), "the lost segment says so");
        cr_expect(strstr(svg, ">retransmission</tspan>"));
        cr_expect_eq(count(svg, "<polygon"), 9, "an arrowhead on each segment that arrived");
        cr_expect(strstr(svg, "<path d=\"M"), "a cross where the lost segment stops");
        cr_expect(!strstr(svg, "href"), "no external resources");
        cr_expect_eq(count(svg, "http://"), 1, "only the SVG namespace");
        free(svg);
        diagram_free(d);
    }
}

Test(diagram_svg, flight_time_slants_the_arrows)
{
    struct diagram *d = record_classic(US_MSEC(5), NULL);
    char *svg = svg_of(d, 0);
    /* The first <line> after the first segment's title is the SYN. */
    const char *seg = strstr(svg, "<g class=\"segment\">");
    cr_assert(seg);
    double x1, y1, x2, y2;
    const char *line = strstr(seg, "<line ");
    cr_assert(line);
    cr_assert_eq(
        sscanf(line, "<line x1=\"%lf\" y1=\"%lf\" x2=\"%lf\" y2=\"%lf\"", &x1, &y1, &x2, &y2), 4);
    cr_expect(x2 > x1, "the SYN goes right");
    cr_expect(y2 > y1 + 10, "and arrives lower, later");
    free(svg);
    diagram_free(d);
}

Test(diagram_svg, hostile_names_are_escaped)
{
    struct diagram *d = record_classic(0, "<evil> & \"co\"\x01\x7f\xff");
    char *svg = svg_of(d, 0);
    cr_expect(strstr(svg, "&lt;evil&gt; &amp; &quot;co&quot;???"), "%s", svg);
    free(svg);
    diagram_free(d);
}

Test(diagram_svg, absolute_numbers_on_request)
{
    struct diagram *d = record_classic(0, NULL);
    char *svg = svg_of(d, DIAGRAM_ABS_SEQ);
    cr_expect(strstr(svg, ">SYN seq 1000000000 win 64240 &lt;mss 1460&gt;</text>"));
    free(svg);
    diagram_free(d);
}
