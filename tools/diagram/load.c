/*
 * load.c: feeds a diagram from files: a pcap and, optionally, the event log
 * written beside it (format: src/trace/eventlog.c).
 *
 * With `send` lines in the log, the pcap is the wire capture: the n-th send
 * line is the n-th record, and the two are read in step so every event
 * reaches the model in the order it happened. Each record is checked against
 * its send line (time and length): a capture and a log from different runs
 * are refused rather than drawn wrong. Without send lines (a capture from a
 * TAP, with or without a state log) every record is a segment seen at its
 * capture time and the log contributes states only.
 *
 * Both files are untrusted: lines are bounded, every field is checked, and
 * libpcap does the record framing.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagram/model.h"

#define LINE_MAX_LEN 4096
#define MAX_FIELDS   10

struct loader {
    struct diagram *d;
    const char *pcap_path, *events_path;
    pcap_t *pcap;
    FILE *events;
    unsigned long line;    /* current line of the event log */
    unsigned long records; /* pcap records read */
    char *err;
    size_t errlen;
    char buf[LINE_MAX_LEN]; /* the line being read */
};

static int failf(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(struct loader *ld, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err, ld->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int bad_line(struct loader *ld, const char *what)
{
    return failf(ld, "%s:%lu: bad '%s' line", ld->events_path, ld->line, what);
}

/* ---- fields ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes in place; "-" alone is the empty string. */
static void unescape(char *s)
{
    if (!strcmp(s, "-")) {
        s[0] = 0;
        return;
    }
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (r[0] == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
            int v = hexval(r[1]) * 16 + hexval(r[2]);
            /* A NUL would cut the string short; show it as '?'. */
            *w++ = v ? (char)v : '?';
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned dig = (unsigned)(*s - '0');
        if (v > (max - dig) / 10) return false;
        v = v * 10 + dig;
    }
    *out = v;
    return true;
}

static bool parse_port(const char *s, int *out)
{
    uint64_t v;
    if (!strcmp(s, "-1")) {
        *out = -1;
        return true;
    }
    if (!parse_u64(s, 65535, &v)) return false;
    *out = (int)v;
    return true;
}

/* "S.UUUUUU": seconds with exactly six decimals. */
static bool parse_time(const char *s, us_time_t *out)
{
    const char *dot = strchr(s, '.');
    if (!dot || strlen(dot + 1) != 6) return false;
    char secs[24];
    size_t n = (size_t)(dot - s);
    if (n == 0 || n >= sizeof(secs)) return false;
    memcpy(secs, s, n);
    secs[n] = 0;
    uint64_t sec, usec;
    if (!parse_u64(secs, UINT64_MAX / 1000000u - 1, &sec) || !parse_u64(dot + 1, 999999, &usec))
        return false;
    *out = sec * 1000000u + usec;
    return true;
}

static bool parse_state_name(const char *s, enum us_tcp_state *out)
{
    for (int st = 0; st < US_TCP_NSTATES; st++) {
        if (!strcmp(s, us_tcp_state_name((enum us_tcp_state)st))) {
            *out = (enum us_tcp_state)st;
            return true;
        }
    }
    return false;
}

/* Splits `line` into at most `max` space-separated fields; the rest of the
 * line after the last one (for a state's cause) goes to *rest. */
static size_t split(char *line, char **f, size_t max, char **rest)
{
    size_t n = 0;
    char *p = line;
    *rest = NULL;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        f[n++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (*p) *p++ = 0;
    }
    while (*p == ' ' || *p == '\t') p++;
    if (*p) *rest = p;
    return n;
}

/* Reads the next line into buf without its newline. 1: a line, 0: end of
 * file, -1: error (too long, or a NUL byte). */
static int read_line(struct loader *ld, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, ld->events)) return 0;
    ld->line++;
    size_t n = strlen(buf);
    if (n == cap - 1 && buf[n - 1] != '\n' && !feof(ld->events))
        return failf(ld, "%s:%lu: line too long", ld->events_path, ld->line);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    return 1;
}

static bool is_comment(const char *line)
{
    while (*line == ' ' || *line == '\t') line++;
    return *line == 0 || *line == '#';
}

/* ---- the log's lines ---- */

static int on_port(struct loader *ld, char **f, size_t n)
{
    int port;
    if (n < 3 || !parse_port(f[1], &port)) return bad_line(ld, "port");
    unescape(f[2]);
    diagram_name_port(ld->d, port, f[2]);
    return 0;
}

static int on_send(struct loader *ld, char **f, size_t n)
{
    uint64_t id, len;
    us_time_t t;
    int port;
    if (n < 5 || !parse_u64(f[1], UINT64_MAX, &id) || !parse_time(f[2], &t) ||
        !parse_port(f[3], &port) || !parse_u64(f[4], UINT32_MAX, &len))
        return bad_line(ld, "send");
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(ld->pcap, &h, &data);
    if (rc == -1)
        return failf(ld, "%s: %s (record %lu)", ld->pcap_path, pcap_geterr(ld->pcap),
                     ld->records + 1);
    if (rc != 1)
        return failf(ld, "%s has fewer records than %s has send lines (%lu)", ld->pcap_path,
                     ld->events_path, ld->records);
    ld->records++;
    us_time_t ts =
        h->ts.tv_sec < 0 ? 0 : (us_time_t)h->ts.tv_sec * 1000000u + (us_time_t)h->ts.tv_usec;
    if (ts != t || h->len != len)
        return failf(ld,
                     "%s record %lu does not match %s:%lu (time or length differ): "
                     "not the capture of this log",
                     ld->pcap_path, ld->records, ld->events_path, ld->line);
    diagram_add_frame(ld->d, id, t, port, data, h->caplen);
    return 0;
}

static int on_deliver(struct loader *ld, char **f, size_t n, bool feed)
{
    uint64_t id;
    us_time_t t;
    int port;
    if (n < 4 || !parse_u64(f[1], UINT64_MAX, &id) || !parse_time(f[2], &t) ||
        !parse_port(f[3], &port))
        return bad_line(ld, "deliver");
    bool corrupt = n >= 5 && !strcmp(f[4], "corrupt");
    if (feed) diagram_add_delivery(ld->d, id, t, port, corrupt);
    return 0;
}

static int on_drop(struct loader *ld, char **f, size_t n, bool feed)
{
    uint64_t id;
    us_time_t t;
    if (n < 4 || !parse_u64(f[1], UINT64_MAX, &id) || !parse_time(f[2], &t))
        return bad_line(ld, "drop");
    unescape(f[3]);
    if (feed) diagram_add_drop(ld->d, id, t, f[3]);
    return 0;
}

static int on_state(struct loader *ld, char **f, size_t n, char *rest)
{
    struct us_state_event ev;
    memset(&ev, 0, sizeof(ev));
    uint64_t lport, rport;
    if (n < 9 || !parse_time(f[1], &ev.time) || us_ip_parse(f[3], &ev.laddr) < 0 ||
        !parse_u64(f[4], 65535, &lport) || us_ip_parse(f[5], &ev.raddr) < 0 ||
        !parse_u64(f[6], 65535, &rport) || !parse_state_name(f[7], &ev.from) ||
        !parse_state_name(f[8], &ev.to))
        return bad_line(ld, "state");
    ev.lport = (uint16_t)lport;
    ev.rport = (uint16_t)rport;
    unescape(f[2]);
    if (rest) unescape(rest);
    ev.cause = rest ? rest : "";
    diagram_add_state(ld->d, f[2], &ev);
    return 0;
}

/* Reads the header; leaves the file after it. Returns 0 or -1. */
static int read_header(struct loader *ld, char *buf, size_t cap)
{
    int rc;
    while ((rc = read_line(ld, buf, cap)) == 1) {
        if (is_comment(buf)) continue;
        char *f[MAX_FIELDS], *rest;
        size_t n = split(buf, f, 2, &rest);
        uint64_t version;
        if (n != 2 || strcmp(f[0], "ustack-events") != 0 || !parse_u64(f[1], 1000000, &version))
            return failf(ld, "%s:%lu: not a ustack event log (expected 'ustack-events 1')",
                         ld->events_path, ld->line);
        if (version != 1)
            return failf(ld, "%s: event log version %llu; this ustack reads version 1",
                         ld->events_path, (unsigned long long)version);
        return 0;
    }
    if (rc < 0) return -1;
    return failf(ld, "%s: empty event log", ld->events_path);
}

/* One pass over the log's events, checking every line it knows. `feed`:
 * give them to the model (`wire`: all kinds; else states and port names
 * only). `sends` counts send lines (the first pass uses it). */
static int read_events(struct loader *ld, bool wire, bool feed, unsigned long *sends)
{
    char *buf = ld->buf;
    rewind(ld->events);
    ld->line = 0;
    if (read_header(ld, buf, sizeof(ld->buf)) < 0) return -1;
    int rc;
    while ((rc = read_line(ld, buf, sizeof(ld->buf))) == 1) {
        if (is_comment(buf)) continue;
        char *f[MAX_FIELDS], *rest;
        size_t n = split(buf, f, 9, &rest);
        const char *kw = f[0];
        if (!strcmp(kw, "send")) {
            (*sends)++;
            if (feed && wire && on_send(ld, f, n) < 0) return -1;
        } else if (!feed) {
            continue;
        } else if (!strcmp(kw, "port")) {
            if (on_port(ld, f, n) < 0) return -1;
        } else if (!strcmp(kw, "deliver")) {
            if (on_deliver(ld, f, n, wire) < 0) return -1;
        } else if (!strcmp(kw, "drop")) {
            if (on_drop(ld, f, n, wire) < 0) return -1;
        } else if (!strcmp(kw, "state")) {
            if (on_state(ld, f, n, rest) < 0) return -1;
        }
        /* Unknown keywords: a later version's; ignored. */
    }
    if (rc < 0) return -1;
    if (ferror(ld->events)) return failf(ld, "%s: read error", ld->events_path);
    return 0;
}

/* Every record, as segments seen at their capture times. */
static int read_capture(struct loader *ld)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(ld->pcap, &h, &data)) == 1) {
        ld->records++;
        us_time_t ts =
            h->ts.tv_sec < 0 ? 0 : (us_time_t)h->ts.tv_sec * 1000000u + (us_time_t)h->ts.tv_usec;
        diagram_add_frame(ld->d, ld->records, ts, -1, data, h->caplen);
    }
    /* A capture cut short (a crashed run) still draws what it holds. */
    return 0;
}

static int load(struct loader *ld)
{
    char perr[PCAP_ERRBUF_SIZE];
    ld->pcap = pcap_open_offline(ld->pcap_path, perr);
    if (!ld->pcap) return failf(ld, "%s", perr);
    if (pcap_datalink(ld->pcap) != DLT_EN10MB)
        return failf(ld, "%s: not an Ethernet capture (link type %d)", ld->pcap_path,
                     pcap_datalink(ld->pcap));
    if (ld->events_path) {
        ld->events = fopen(ld->events_path, "r");
        if (!ld->events) return failf(ld, "cannot read %s: %s", ld->events_path, strerror(errno));
    }
    if (ld->events) {
        unsigned long sends = 0;
        if (read_events(ld, false, false, &sends) < 0) return -1;
        bool wire = sends > 0;
        if (!wire && read_capture(ld) < 0) return -1;
        sends = 0;
        if (read_events(ld, wire, true, &sends) < 0) return -1;
    } else if (read_capture(ld) < 0) {
        return -1;
    }
    if (diagram_finish(ld->d) < 0) {
        if (ld->d->opts.port)
            return failf(ld, "%s: no TCP segment to or from port %u", ld->pcap_path,
                         ld->d->opts.port);
        return failf(ld, "%s: no TCP segment in the capture", ld->pcap_path);
    }
    return 0;
}

int diagram_load(struct diagram *d, const char *pcap_path, const char *events_path, char *err,
                 size_t errlen)
{
    struct loader ld = {
        .d = d, .pcap_path = pcap_path, .events_path = events_path, .err = err, .errlen = errlen};
    if (errlen) err[0] = 0;
    int rc = load(&ld);
    if (ld.pcap) pcap_close(ld.pcap);
    if (ld.events) fclose(ld.events);
    return rc;
}
