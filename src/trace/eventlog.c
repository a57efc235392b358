/*
 * eventlog.c: the event log and the wire capture (see ustack/trace.h).
 *
 * It owns the on-disk format that `ustack diagram` reads back
 * (tools/diagram/load.c). Version 1, one event per line, fields separated by
 * one space, in the order things happened:
 *
 *   ustack-events 1
 *   port PORT NAME
 *   send ID TIME PORT LEN
 *   deliver ID TIME PORT [corrupt]
 *   drop ID TIME REASON
 *   state TIME STACK LADDR LPORT RADDR RPORT FROM TO [CAUSE...]
 *
 * - The first line that is not a comment names the format and its version.
 *   Lines starting with '#' and blank lines are comments.
 * - `port`: wire port PORT belongs to the stack named NAME (from then on).
 * - `send`: frame ID (the wire's number, 1, 2, 3... across all ports) of LEN
 *   bytes entered the wire at PORT. The n-th send line describes the n-th
 *   record of the wire capture.
 * - `deliver`: frame ID reached PORT; twice for a duplicated frame. `corrupt`
 *   means the bytes delivered differ from the bytes sent (the receiver's
 *   checksum will drop it).
 * - `drop`: frame ID was lost; REASON as the wire gives it ("loss", "queue",
 *   "down", ...).
 * - `state`: a TCP connection of stack STACK went from FROM to TO (RFC 9293
 *   names, "SYN-SENT"); addresses are dotted quads (RADDR 0.0.0.0 and RPORT 0
 *   for a listener); CAUSE is the rest of the line, possibly empty.
 * - TIME is seconds with exactly six decimals (microseconds, exact).
 * - NAME, STACK and REASON are single tokens: bytes outside '!'..'~' and '%'
 *   are written %XX (hex); an empty name is "-". In CAUSE only control bytes
 *   and '%' are escaped.
 * - Readers ignore lines whose keyword they do not know and fields past the
 *   ones above, so version 1 can grow without breaking them.
 *
 * Corrupted deliveries are recognised by hashing each frame when it is sent;
 * the hashes live in a small direct-mapped table (frames in flight beyond its
 * size simply go unchecked), so memory stays bounded on any run length.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/trace.h"
#include "ustack/wire.h"

#define SENT_SLOTS   1024u
#define MAX_ATTACHED 8

struct sent_hash {
    uint64_t id; /* 0: empty */
    uint64_t hash;
};

struct us_eventlog {
    FILE *out;
    struct us_pcap *pcap;
    bool own_out, own_pcap;
    struct us_wire *wire;                  /* attached wire, if any */
    struct us_stack *stacks[MAX_ATTACHED]; /* attached stacks */
    unsigned n_stacks;
    struct sent_hash sent[SENT_SLOTS];
};

static uint64_t frame_hash(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void write_header(struct us_eventlog *l)
{
    fprintf(l->out, "# ustack event log (format: src/trace/eventlog.c)\n");
    fprintf(l->out, "ustack-events 1\n");
}

struct us_eventlog *us_eventlog_new(FILE *out, struct us_pcap *pcap)
{
    struct us_eventlog *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->out = out;
    l->pcap = pcap;
    write_header(l);
    return l;
}

struct us_eventlog *us_eventlog_open(const char *log_path, const char *pcap_path, char *err,
                                     size_t errlen)
{
    FILE *out = fopen(log_path, "w");
    if (!out) {
        snprintf(err, errlen, "cannot write %s: %s", log_path, strerror(errno));
        return NULL;
    }
    struct us_pcap *pcap = NULL;
    if (pcap_path) {
        pcap = us_pcap_open(pcap_path, err, errlen);
        if (!pcap) {
            fclose(out);
            return NULL;
        }
    }
    struct us_eventlog *l = us_eventlog_new(out, pcap);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        fclose(out);
        us_pcap_close(pcap);
        return NULL;
    }
    l->own_out = true;
    l->own_pcap = pcap != NULL;
    return l;
}

/* Writes `s` as one token (see the format above). */
static void put_token(FILE *out, const char *s)
{
    if (!s || !*s) {
        fputc('-', out);
        return;
    }
    if (!strcmp(s, "-")) {
        fputs("%2D", out);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p > ' ' && *p < 0x7f && *p != '%')
            fputc(*p, out);
        else
            fprintf(out, "%%%02X", *p);
    }
}

static void put_time(FILE *out, us_time_t t)
{
    fprintf(out, "%llu.%06llu", (unsigned long long)(t / 1000000u),
            (unsigned long long)(t % 1000000u));
}

static void log_send(struct us_eventlog *l, const struct us_wire_event *ev)
{
    fprintf(l->out, "send %llu ", (unsigned long long)ev->frame_id);
    put_time(l->out, ev->time);
    fprintf(l->out, " %d %zu\n", ev->from, ev->len);
    if (l->pcap) us_pcap_write(l->pcap, ev->frame, ev->len, ev->time);
    struct sent_hash *h = &l->sent[ev->frame_id % SENT_SLOTS];
    h->id = ev->frame_id;
    h->hash = frame_hash(ev->frame, ev->len);
}

static void log_deliver(struct us_eventlog *l, const struct us_wire_event *ev)
{
    fprintf(l->out, "deliver %llu ", (unsigned long long)ev->frame_id);
    put_time(l->out, ev->time);
    fprintf(l->out, " %d", ev->to);
    const struct sent_hash *h = &l->sent[ev->frame_id % SENT_SLOTS];
    if (h->id == ev->frame_id && h->hash != frame_hash(ev->frame, ev->len))
        fputs(" corrupt", l->out);
    fputc('\n', l->out);
}

static void log_drop(struct us_eventlog *l, const struct us_wire_event *ev)
{
    fprintf(l->out, "drop %llu ", (unsigned long long)ev->frame_id);
    put_time(l->out, ev->time);
    fputc(' ', l->out);
    put_token(l->out, ev->reason ? ev->reason : "unknown");
    fputc('\n', l->out);
}

void us_eventlog_wire_event(void *ctx, const struct us_wire_event *ev)
{
    struct us_eventlog *l = ctx;
    switch (ev->kind) {
    case US_WIRE_SEND:
        log_send(l, ev);
        break;
    case US_WIRE_DELIVER:
        log_deliver(l, ev);
        break;
    case US_WIRE_DROP:
        log_drop(l, ev);
        break;
    }
}

static void log_state(void *ctx, struct us_stack *s, const struct us_state_event *ev)
{
    struct us_eventlog *l = ctx;
    char la[16], ra[16];
    fputs("state ", l->out);
    put_time(l->out, ev->time);
    fputc(' ', l->out);
    put_token(l->out, us_stack_name(s));
    fprintf(l->out, " %s %u %s %u %s %s", us_ip_str(ev->laddr, la), ev->lport,
            us_ip_str(ev->raddr, ra), ev->rport, us_tcp_state_name(ev->from),
            us_tcp_state_name(ev->to));
    if (ev->cause && *ev->cause) {
        fputc(' ', l->out);
        for (const unsigned char *p = (const unsigned char *)ev->cause; *p; p++) {
            if (*p >= ' ' && *p != 0x7f && *p != '%')
                fputc(*p, l->out);
            else
                fprintf(l->out, "%%%02X", *p);
        }
    }
    fputc('\n', l->out);
}

struct us_observer us_eventlog_observer(struct us_eventlog *l)
{
    return (struct us_observer){.state = log_state, .ctx = l};
}

int us_eventlog_attach_wire(struct us_eventlog *l, struct us_wire *w)
{
    int rc = us_wire_observe(w, us_eventlog_wire_event, l);
    if (rc == 0) l->wire = w;
    return rc;
}

int us_eventlog_attach_stack(struct us_eventlog *l, struct us_stack *s, int port)
{
    if (l->n_stacks >= MAX_ATTACHED) return -ENOSPC;
    struct us_observer ob = us_eventlog_observer(l);
    int rc = us_stack_observe(s, &ob);
    if (rc < 0) return rc;
    l->stacks[l->n_stacks++] = s;
    if (port >= 0) {
        fprintf(l->out, "port %d ", port);
        put_token(l->out, us_stack_name(s));
        fputc('\n', l->out);
    }
    return 0;
}

void us_eventlog_flush(struct us_eventlog *l)
{
    fflush(l->out);
    if (l->pcap) us_pcap_flush(l->pcap);
}

int us_eventlog_close(struct us_eventlog *l)
{
    if (!l) return 0;
    if (l->wire) us_wire_unobserve(l->wire, l);
    for (unsigned i = 0; i < l->n_stacks; i++) us_stack_unobserve(l->stacks[i], l);
    us_eventlog_flush(l);
    int rc = ferror(l->out) ? -EIO : 0;
    if (l->own_out && fclose(l->out) != 0) rc = -EIO;
    if (l->own_pcap) us_pcap_close(l->pcap);
    free(l);
    return rc;
}
