/*
 * exec.c: the executor: one script against one stack, in virtual time.
 *
 * The runner plays the remote host and the script's process. The stack under
 * test has one interface (frame.h: 192.168.0.1/24, the remote host 192.0.2.1
 * behind the gateway 192.168.0.2) on a link whose send callback is ours:
 * every frame the stack sends is parsed (frame.c) and queued with the time
 * it left; ARP requests are answered at once with the remote host's MAC, and
 * the gateway's address is announced before the script starts. Script time t
 * is stack time EPOCH + t. The clock moves only when the runner moves it,
 * through us_stack_poll() at each timer on the way, so a 60-second TIME-WAIT
 * costs nothing and every run is the same run.
 *
 * Events run in the script's order:
 *  - `<`: the clock advances to the packet's time and the packet is injected
 *    (map.c translates the script's numbers into the stack's);
 *  - `>`: the next queued segment is taken -- or the clock advances through
 *    the stack's timers until one is sent or the line's time has passed --
 *    and matched (match.c), several segments to one line when its length
 *    asks for it (aggregation). Each must have left within the line's time
 *    window [start - tolerance, end + tolerance];
 *  - a system call: the clock advances to its time and the call runs
 *    (syscall.c). A call that blocks waits through the stack's driver, which
 *    is this runner: each wait() runs one step of the script -- the next
 *    packet line or the stack's next timer, whichever is first -- so what
 *    the script sends while the call blocks arrives, and the call returns
 *    when that lets it. Once the call's return time plus the tolerance has
 *    passed and nothing else can happen, it is stopped (EINTR) and the
 *    script fails. The return time must be within the tolerance of the
 *    line's (`...`'s end for a blocking call, its start otherwise);
 *  - a shell line changes the stack's settings (its sysctls, shell.c);
 *    `%{ assert tcpi_state == TCPI_X }%` compares the state of the socket
 *    under test. Other code is not run (the report lists it).
 * A segment the stack sends that no `>` line accounts for fails the script
 * at the next `>` line, which it does not match (or not in time). As in
 * packetdrill, segments may be queued across other events, so a `>` line
 * may follow the system call after the one that caused it, and segments
 * sent after the script's last event are not checked (-v lists them).
 *
 * Relative times (`+0.1`) count from the previous event's scheduled start,
 * or from when it actually happened for `*` and `a~b` events, as in
 * packetdrill.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "pkt/exec.h"
#include "pkt/frame.h"
#include "pkt/map.h"
#include "pkt/syscall.h"
#include "ustack/link.h"
#include "ustack/socket.h"
#include "ustack/trace.h"

/* Stack time at script time 0. Not 0: the engine uses 0 for "never". */
#define EPOCH       US_SEC(1)
#define OUTQ_MAX    512     /* segments sent and not yet matched */
#define TRACE_LINES 10      /* frames shown with a failure */
#define STEPS_MAX   1000000 /* timer steps without progress before giving up */
#define FAR         INT64_MAX

#define ETHERTYPE_ARP 0x0806

struct out_seg {
    struct pkt_seg seg;
    int64_t time; /* script time it was sent */
};

struct runner;

struct runner_link {
    struct us_link link;
    struct runner *r;
};

struct runner {
    const struct pkt_script *script;
    const char *path;
    enum pkt_mode mode;
    FILE *verbose;
    struct pkt_match_cfg mcfg;
    int64_t tol;

    struct us_stack *s;
    struct runner_link link;
    int iface;
    struct pkt_addrs addrs;      /* inbound frames; the local port follows an active open */
    struct pkt_addrs call_addrs; /* what `...` means in bind() and connect() */
    struct pkt_map map;
    struct pkt_sys sys;
    uint16_t ip_id;
    uint8_t *frame; /* PKT_FRAME_MAX bytes for building inbound frames */
    bool arp_owed;
    uint32_t arp_target;

    struct out_seg outq[OUTQ_MAX];
    unsigned out_head, out_n;

    uint32_t next;      /* index of the next event to run */
    int64_t prev_start; /* base of relative times */

    bool in_call;       /* a system call is under way */
    int64_t call_limit; /* ... and is stopped past this time */
    bool call_stopped;

    struct pkt_result *res;
    bool failed;

    struct us_seqrel *rel;
    char trace[TRACE_LINES][240];
    unsigned trace_n; /* frames traced so far */
};

static int64_t now_t(const struct runner *r)
{
    return (int64_t)(us_stack_now(r->s) - EPOCH);
}

static us_time_t stack_time(int64_t t)
{
    return t <= 0 ? EPOCH : EPOCH + (us_time_t)t;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}
static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* "1.250000": script time in seconds. */
static char *secs(char *buf, size_t cap, int64_t t)
{
    int64_t a = t < 0 ? -t : t;
    if (t == FAR)
        snprintf(buf, cap, "never");
    else
        snprintf(buf, cap, "%s%" PRId64 ".%06" PRId64, t < 0 ? "-" : "", a / 1000000, a % 1000000);
    return buf;
}

/* The event as the script writes it, on one line (its first). */
static char *event_text(const struct pkt_event *ev, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fmemopen(buf, cap, "w");
    if (!f) return buf;
    pkt_event_print(f, ev);
    fclose(f);
    buf[cap - 1] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    return buf;
}

/* ---- failures ---- */

static void append(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(struct runner *r, const char *fmt, ...)
{
    char *m = r->res->message;
    size_t len = strlen(m), cap = sizeof(r->res->message);
    if (len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m + len, cap - len, fmt, ap);
    va_end(ap);
}

/* The first failure is the script's result; the frames that led to it
 * follow it. */
static void fail_text(struct runner *r, const char *text)
{
    if (r->failed) return;
    r->failed = true;
    r->res->status = PKT_STATUS_FAIL;
    snprintf(r->res->message, sizeof(r->res->message), "%s", text);
    size_t len = strlen(r->res->message);
    if (len && r->res->message[len - 1] == '\n') r->res->message[len - 1] = 0;
    unsigned n = r->trace_n < TRACE_LINES ? r->trace_n : TRACE_LINES;
    if (n) append(r, "\nlast frames (time from the script's start; tcpdump's relative numbers):");
    for (unsigned i = r->trace_n - n; i < r->trace_n; i++)
        append(r, "\n  %s", r->trace[i % TRACE_LINES]);
    /* What the stack threw away often says why it did not answer. */
    bool first = true;
    for (int c = 0; r->s && c < US_C__COUNT; c++) {
        const char *name = us_counter_name((enum us_counter)c);
        uint64_t v = us_stack_counter(r->s, (enum us_counter)c);
        if (!v || strncmp(name, "drop_", 5) != 0) continue;
        append(r, "%s %s=%" PRIu64, first ? "\nthe stack dropped:" : ",", name, v);
        first = false;
    }
}

static void fail(struct runner *r, const struct pkt_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct runner *r, const struct pkt_event *ev, const char *fmt, ...)
{
    char text[1024];
    int n = ev ? snprintf(text, sizeof(text), "%s:%u: error: ", r->path, ev->pos.line)
               : snprintf(text, sizeof(text), "%s: error: ", r->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(text);
    snprintf(text + len, sizeof(text) - len, " (%s mode)", pkt_mode_name(r->mode));
    if (ev) {
        char line[512];
        len = strlen(text);
        snprintf(text + len, sizeof(text) - len, "\n  script line:  %s",
                 event_text(ev, line, sizeof(line)));
    }
    fail_text(r, text);
}

/* ---- the link ---- */

static void trace_frame(struct runner *r, char dir, const uint8_t *frame, size_t len,
                        us_time_t when)
{
    char line[200], t[32];
    us_trace_format(line, sizeof(line), frame, len, r->rel);
    char *slot = r->trace[r->trace_n++ % TRACE_LINES];
    snprintf(slot, sizeof(r->trace[0]), "%s %c %s", secs(t, sizeof(t), (int64_t)(when - EPOCH)),
             dir, line);
    if (r->verbose) fprintf(r->verbose, "  %s\n", slot);
}

static void note_arp(struct runner *r, const uint8_t *f, size_t len)
{
    /* Ethernet + ARP: op at 20, target protocol address at 38. */
    if (len < 42 || rd16(f + 20) != 1) return;
    uint32_t target = rd32(f + 38);
    if (target == r->addrs.local_ip) return;
    r->arp_owed = true;
    r->arp_target = target;
}

static int link_send(struct us_link *l, const uint8_t *frame, size_t len, us_time_t now)
{
    struct runner *r = container_of(l, struct runner_link, link)->r;
    trace_frame(r, '>', frame, len, now);
    struct pkt_seg seg;
    char why[128];
    int kind = pkt_frame_parse(frame, len, &seg, why, sizeof(why));
    if (kind < 0) {
        fail(r, NULL, "the stack sent a malformed frame: %s", why);
        return 0;
    }
    if (kind == PKT_FRAME_ARP) note_arp(r, frame, len);
    if (kind != PKT_FRAME_TCP) return 0;
    if (r->out_n == OUTQ_MAX) {
        fail(r, NULL, "the stack sent more than %d segments no line accounts for", OUTQ_MAX);
        return 0;
    }
    /* An active open's SYN names the local port the script's packets go to
     * (packetdrill learns the kernel's ephemeral port the same way). */
    if ((seg.flags & (PKT_SYN | PKT_ACK)) == PKT_SYN) r->addrs.local_port = seg.src_port;
    struct out_seg *o = &r->outq[(r->out_head + r->out_n++) % OUTQ_MAX];
    o->seg = seg;
    o->time = (int64_t)(now - EPOCH);
    return 0;
}

static const struct us_link_ops link_ops = {.send = link_send};

static struct out_seg pop(struct runner *r)
{
    struct out_seg o = r->outq[r->out_head];
    r->out_head = (r->out_head + 1) % OUTQ_MAX;
    r->out_n--;
    return o;
}

/* An ARP reply from the remote side, for `ip` (the gateway, or the remote
 * host when it is on the stack's subnet). */
static void arp_reply(struct runner *r, uint32_t ip)
{
    uint8_t f[42];
    memcpy(f, r->addrs.local_mac, 6);
    memcpy(f + 6, r->addrs.remote_mac, 6);
    wr16(f + 12, ETHERTYPE_ARP);
    wr16(f + 14, 1);      /* Ethernet */
    wr16(f + 16, 0x0800); /* IPv4 */
    f[18] = 6;
    f[19] = 4;
    wr16(f + 20, 2); /* reply */
    memcpy(f + 22, r->addrs.remote_mac, 6);
    wr32(f + 28, ip);
    memcpy(f + 32, r->addrs.local_mac, 6);
    wr32(f + 38, r->addrs.local_ip);
    us_stack_input(r->s, r->iface, f, sizeof(f), us_stack_now(r->s));
}

/* Answers what the stack asked while it ran. Called after every entry into
 * the stack (never from inside it: the link callback only takes note). */
static void pump(struct runner *r)
{
    for (int i = 0; i < 8 && r->arp_owed; i++) {
        r->arp_owed = false;
        arp_reply(r, r->arp_target);
    }
}

/* ---- the clock ---- */

/* Moves the clock to script time t (never back), running every timer due on
 * the way at its own time. */
static void advance(struct runner *r, int64_t t)
{
    us_time_t target = stack_time(t);
    for (unsigned i = 0; i < STEPS_MAX && !r->failed; i++) {
        us_time_t next = us_stack_next_timer(r->s), now = us_stack_now(r->s);
        if (next > target) break;
        us_stack_poll(r->s, next > now ? next : now);
        pump(r);
    }
    if (target > us_stack_now(r->s)) {
        us_stack_poll(r->s, target);
        pump(r);
    }
}

/* The script time of the stack's next timer, or FAR. */
static int64_t next_timer(const struct runner *r)
{
    us_time_t next = us_stack_next_timer(r->s);
    return next == US_TIME_NEVER ? FAR : (int64_t)(next - EPOCH);
}

/* ---- settings ---- */

static void apply_settings(struct runner *r, const struct pkt_shell *sh)
{
    struct us_tcp_config *c = us_stack_tcp_config(r->s);
    for (uint32_t i = 0; i < sh->nsettings; i++) {
        const struct pkt_sysctl *st = &sh->settings[i];
        int64_t v = st->value;
        uint32_t bytes = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
        switch (st->setting) {
        case PKT_SET_TIMESTAMPS:
            c->timestamps = v != 0;
            break;
        case PKT_SET_WINDOW_SCALING:
            c->window_scaling = v != 0;
            break;
        case PKT_SET_SACK:
            c->sack = v != 0;
            break;
        case PKT_SET_RCVBUF:
            if (bytes) c->rcvbuf = bytes;
            break;
        case PKT_SET_RCVBUF_MAX:
            if (bytes) c->max_rcvbuf = bytes;
            break;
        case PKT_SET_SNDBUF:
            if (bytes) c->sndbuf = bytes;
            break;
        case PKT_SET_SNDBUF_MAX:
            if (bytes) c->max_sndbuf = bytes;
            break;
        case PKT_SET_SOCKBUF_MAX:
            if (bytes) c->max_rcvbuf = c->max_sndbuf = bytes;
            break;
        case PKT_SET_SYN_RETRIES:
            c->syn_retries = (unsigned)bytes;
            break;
        case PKT_SET_SYNACK_RETRIES:
            c->synack_retries = (unsigned)bytes;
            break;
        case PKT_SET_SYNCOOKIES:
            c->syncookies = v < 0 ? 0 : v > 2 ? 2 : (int)v;
            break;
        case PKT_SET_SYNCOOKIES_ONLY:
            if (v) c->syncookies = 2;
            break;
        case PKT_SET_INSECURE_RST:
        case PKT_SET_INSECURE_SYN:
            /* ustack has one switch for RFC 5961's RST and SYN checks. */
            c->rfc5961 = v == 0;
            break;
        case PKT_SET_CONGESTION:
            c->congestion = st->text; /* the script outlives the stack */
            break;
        case PKT_SET_SLOW_START_AFTER_IDLE:
            c->slow_start_after_idle = v != 0;
            break;
        case PKT_SET_RTO_INITIAL:
            if (v > 0) c->rto_initial = US_MSEC(v);
            break;
        case PKT_SET_DROP_SYNFIN:
            c->drop_synfin = v != 0;
            break;
        }
    }
}

/* ---- packets ---- */

static void inject(struct runner *r, const struct pkt_event *ev)
{
    int n = pkt_map_inbound_frame(r->frame, PKT_FRAME_MAX, &r->map, &ev->u.packet, &r->addrs,
                                  ++r->ip_id);
    if (n < 0) {
        fail(r, ev, "the packet does not fit in an IPv4 frame");
        return;
    }
    us_time_t now = us_stack_now(r->s);
    trace_frame(r, '<', r->frame, (size_t)n, now);
    us_stack_input(r->s, r->iface, r->frame, (size_t)n, now);
    pump(r);
}

/* A `>` line: the segments it describes must be the next the stack sends,
 * within the line's time window. *sent is when the last of them left. */
static bool expect_segments(struct runner *r, const struct pkt_event *ev, const struct pkt_when *w,
                            int64_t *sent)
{
    struct pkt_match m;
    char buf[3072], t1[32], t2[32], t3[32];
    pkt_match_start(&m, &ev->u.packet);
    int64_t lo = w->start - r->tol, hi = w->end + r->tol;
    for (unsigned steps = 0; !r->failed; steps++) {
        if (r->out_n == 0) {
            /* Nothing sent yet: run the stack's timers until it sends or
             * the line's time is past. */
            int64_t now = now_t(r), next = next_timer(r);
            int64_t until = w->any ? next : min64(next, hi);
            if (until == FAR || (until <= now && next > now) || steps >= STEPS_MAX) {
                pkt_report_missing(buf, sizeof(buf), r->path, ev, &m, w->any ? now : hi, &r->mcfg);
                size_t len = strlen(buf);
                if (next != FAR)
                    snprintf(buf + len, sizeof(buf) - len,
                             "  the stack's next timer is due at %s s\n",
                             secs(t1, sizeof(t1), next));
                fail_text(r, buf);
                return false;
            }
            advance(r, max64(until, now));
            continue;
        }
        struct out_seg o = pop(r);
        enum pkt_verdict v = pkt_match_segment(&m, &r->map, &r->mcfg, &o.seg);
        if (v == PKT_VERDICT_MISMATCH) {
            pkt_report_mismatch(buf, sizeof(buf), r->path, ev, &m, &r->mcfg);
            size_t len = strlen(buf);
            snprintf(buf + len, sizeof(buf) - len, "  sent at %s\n", secs(t1, sizeof(t1), o.time));
            fail_text(r, buf);
            return false;
        }
        if (!w->any && (o.time < lo || o.time > hi)) {
            char want[80], t4[32];
            if (w->end != w->start)
                snprintf(want, sizeof(want), "between %s and %s s", secs(t2, sizeof(t2), w->start),
                         secs(t4, sizeof(t4), w->end));
            else
                snprintf(want, sizeof(want), "at %s s", secs(t2, sizeof(t2), w->start));
            fail(r, ev,
                 "timing: the outbound packet was sent at %s s, the script expects it %s "
                 "(tolerance %s s)",
                 secs(t1, sizeof(t1), o.time), want, secs(t3, sizeof(t3), r->tol));
            return false;
        }
        *sent = o.time;
        if (v == PKT_VERDICT_MATCH) return true;
    }
    return false;
}

/* ---- events ---- */

static struct pkt_when when_of(const struct runner *r, const struct pkt_event *ev)
{
    return pkt_time_resolve(&ev->time, r->prev_start);
}

/* Where the next relative time counts from once `ev` happened at `actual`. */
static void set_base(struct runner *r, const struct pkt_event *ev, const struct pkt_when *w,
                     int64_t actual)
{
    bool range = ev->time.has_end && !ev->time.blocking;
    r->prev_start = (w->any || range) ? actual : w->start;
}

static void run_packet(struct runner *r, const struct pkt_event *ev, const struct pkt_when *w)
{
    if (ev->u.packet.dir == PKT_INBOUND) {
        if (!w->any) advance(r, w->start);
        inject(r, ev);
        set_base(r, ev, w, now_t(r));
        return;
    }
    int64_t sent = now_t(r);
    if (expect_segments(r, ev, w, &sent)) set_base(r, ev, w, sent);
}

static void run_code(struct runner *r, const struct pkt_event *ev, const struct pkt_when *w)
{
    if (!w->any) advance(r, w->start);
    set_base(r, ev, w, now_t(r));
    const char *want = ev->u.code.tcpi_state;
    if (!want) return; /* not run: the report lists it */
    enum us_tcp_state st;
    if (pkt_sys_tcp_state(&r->sys, &st) < 0) {
        fail(r, ev, "tcpi_state: no socket under test");
        return;
    }
    if (!pkt_tcpi_state_is(want, st))
        fail(r, ev, "tcpi_state is %s, the script asserts TCPI_%s", us_tcp_state_name(st), want);
}

static void run_shell(struct runner *r, const struct pkt_event *ev, const struct pkt_when *w)
{
    if (!w->any) advance(r, w->start);
    set_base(r, ev, w, now_t(r));
    apply_settings(r, &ev->u.shell);
}

static void run_call(struct runner *r, const struct pkt_event *ev, const struct pkt_when *w)
{
    const struct pkt_syscall *c = &ev->u.call;
    if (!w->any) advance(r, w->start);
    int64_t started = now_t(r);
    /* Events the call lets run while it blocks count from its start. */
    set_base(r, ev, w, started);
    r->in_call = true;
    r->call_stopped = false;
    r->call_limit = w->any ? FAR : w->end + r->tol;
    char err[512], t1[32], t2[32], t3[32];
    int rc = pkt_sys_run(&r->sys, c, err, sizeof(err));
    r->in_call = false;
    pump(r);
    if (r->failed) return;
    int64_t back = now_t(r);
    if (r->call_stopped) {
        fail(r, ev, "%s() was still blocked at %s s; the script expects it to return at %s s",
             c->name, secs(t1, sizeof(t1), back), secs(t2, sizeof(t2), w->end));
        return;
    }
    if (rc != 0) {
        fail(r, ev, "%s", err);
        return;
    }
    if (w->any) return;
    int64_t lo = (ev->time.blocking ? w->end : w->start) - r->tol, hi = w->end + r->tol;
    if (back < lo || back > hi)
        fail(r, ev, "timing: %s() returned at %s s, the script expects %s s (tolerance %s s)",
             c->name, secs(t1, sizeof(t1), back), secs(t2, sizeof(t2), w->end),
             secs(t3, sizeof(t3), r->tol));
}

/* Runs the next event (r->next). */
static void run_next(struct runner *r)
{
    const struct pkt_event *ev = &r->script->events[r->next++];
    struct pkt_when w = when_of(r, ev);
    if (r->verbose) {
        char t[32], what[512];
        fprintf(r->verbose, "%s:%u: %s s: %s\n", r->path, ev->pos.line,
                w.any ? "*" : secs(t, sizeof(t), w.start), event_text(ev, what, sizeof(what)));
    }
    switch (ev->kind) {
    case PKT_EV_PACKET:
        run_packet(r, ev, &w);
        break;
    case PKT_EV_SYSCALL:
        run_call(r, ev, &w);
        break;
    case PKT_EV_SHELL:
        run_shell(r, ev, &w);
        break;
    case PKT_EV_CODE:
        run_code(r, ev, &w);
        break;
    }
}

/* ---- the driver: how a blocking call waits ---- */

static us_time_t drv_now(void *ctx)
{
    struct runner *r = ctx;
    return us_stack_now(r->s);
}

/* One step of the world while a call blocks: the next packet or shell line
 * if nothing in the stack comes first, else the stack's next timer, else
 * the call's own deadline (`until`, from SO_RCVTIMEO and friends). When
 * none of that can happen before the script expects the call back, the call
 * is stopped. */
static int drv_wait(void *ctx, us_time_t until)
{
    struct runner *r = ctx;
    if (r->failed || !r->in_call) {
        errno = EINTR;
        return -1;
    }
    pump(r);
    int64_t now = now_t(r), next = next_timer(r);
    int64_t limit = r->call_limit;
    if (until != US_TIME_NEVER) limit = min64(limit, (int64_t)(until - EPOCH));
    if (r->next < r->script->nevents) {
        const struct pkt_event *ev = &r->script->events[r->next];
        struct pkt_when w = when_of(r, ev);
        bool outbound = ev->kind == PKT_EV_PACKET && ev->u.packet.dir == PKT_OUTBOUND;
        bool runs = ev->kind == PKT_EV_PACKET || ev->kind == PKT_EV_SHELL;
        int64_t at = w.any ? now : w.start;
        /* A `>` line runs when its segment is there or its window opens. */
        if (outbound) at = r->out_n ? now : max64(now, w.start - r->tol);
        if (runs && at <= limit && (outbound || at <= next)) {
            if (!outbound && at > now) advance(r, at);
            run_next(r);
            return 0;
        }
    }
    if (next <= limit) {
        advance(r, max64(next, now));
        return 0;
    }
    if (limit < r->call_limit) {
        advance(r, limit); /* the call's own timeout */
        return 0;
    }
    r->call_stopped = true;
    if (r->call_limit != FAR && r->call_limit > now) advance(r, r->call_limit);
    errno = EINTR;
    return -1;
}

/* ---- the run ---- */

static bool script_sets(const struct pkt_script *s, const char *option)
{
    for (uint32_t i = 0; i < s->noptions; i++)
        if (!strcmp(s->options[i].name, option)) return true;
    return false;
}

static int setup(struct runner *r, const struct pkt_exec_opts *o)
{
    const struct pkt_config *cfg = &r->script->config;
    /* --mss N: the MSS the stack offers, so its link's MTU is N + 40
     * (unless --mtu says otherwise). */
    unsigned mtu = cfg->mtu;
    if (cfg->mss && !script_sets(r->script, "mtu")) mtu = cfg->mss + 40;
    pkt_addrs_default(&r->addrs);
    if (cfg->local_ip) r->addrs.local_ip = cfg->local_ip;
    if (cfg->remote_ip) r->addrs.remote_ip = cfg->remote_ip;
    if (cfg->bind_port) r->addrs.local_port = cfg->bind_port;
    if (cfg->connect_port) r->addrs.remote_port = cfg->connect_port;
    r->call_addrs = r->addrs;

    struct us_stack_config sc;
    us_stack_config_default(&sc);
    sc.name = "pkt";
    sc.seed = o->seed;
    sc.max_mtu = mtu > sc.max_mtu ? mtu : sc.max_mtu;
    /* Nobody but the runner answers ARP: a learned entry lasts the run. */
    sc.arp_timeout = US_SEC(86400 * 365);
    r->s = us_stack_new(&sc);
    r->frame = malloc(PKT_FRAME_MAX);
    r->rel = us_seqrel_new();
    if (!r->s || !r->frame || !r->rel) return -1;
    r->link.r = r;
    r->link.link.ops = &link_ops;
    r->link.link.mtu = mtu;
    r->link.link.name = "pkt";
    struct us_iface_config ic = {
        .addr = r->addrs.local_ip, .prefix_len = PKT_DEFAULT_PREFIX, .mtu = mtu};
    memcpy(ic.mac, r->addrs.local_mac, 6);
    r->iface = us_stack_add_iface(r->s, &r->link.link, &ic);
    if (r->iface < 0) return -1;
    uint32_t mask = ~0u << (32 - PKT_DEFAULT_PREFIX);
    bool same_net = (r->addrs.remote_ip & mask) == (r->addrs.local_ip & mask);
    uint32_t gw = (r->addrs.local_ip & mask) | (PKT_DEFAULT_GATEWAY & ~mask);
    if (gw == r->addrs.local_ip) gw ^= 3; /* any other address on the subnet */
    if (!same_net && us_stack_set_gateway(r->s, gw) < 0) return -1;
    struct us_driver d = {.now = drv_now, .wait = drv_wait, .ctx = r};
    us_stack_set_driver(r->s, &d);
    us_stack_poll(r->s, EPOCH);
    arp_reply(r, same_net ? r->addrs.remote_ip : gw);
    r->trace_n = 0;

    pkt_map_init(&r->map);
    pkt_sys_init(&r->sys, r->s, r->mode, &r->call_addrs);
    r->mcfg.mode = r->mode;
    r->mcfg.ts_tick_usecs = cfg->ts_tick_usecs;
    r->mcfg.tolerance_usecs = r->tol;
    return 0;
}

void pkt_exec_opts_default(struct pkt_exec_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = PKT_MODE_STRICT;
    o->seed = 1;
}

void pkt_exec(const struct pkt_script *s, const char *path, const struct pkt_exec_opts *o,
              struct pkt_result *res)
{
    memset(res, 0, sizeof(*res));
    res->path = path;
    res->mode = o->mode;
    res->status = PKT_STATUS_PASS;
    if (pkt_script_unsupported(s, res->message, sizeof(res->message))) {
        res->status = PKT_STATUS_SKIP;
        return;
    }
    struct runner *r = calloc(1, sizeof(*r));
    if (!r) {
        res->status = PKT_STATUS_FAIL;
        snprintf(res->message, sizeof(res->message), "%s: out of memory", path);
        return;
    }
    r->script = s;
    r->path = path;
    r->mode = o->mode;
    r->verbose = o->verbose;
    r->res = res;
    r->tol = s->config.tolerance_usecs;
    if (o->tolerance_usecs > 0 && !script_sets(s, "tolerance_usecs")) r->tol = o->tolerance_usecs;
    if (setup(r, o) < 0) {
        fail(r, NULL, "cannot set up the stack");
    } else {
        if (s->init) apply_settings(r, &s->init->shell);
        while (!r->failed && r->next < s->nevents) run_next(r);
        /* Segments still queued were sent after the last event. packetdrill
         * compares outbound packets only when a `>` line asks for one, so
         * it never sees these; the scripts are written for that rule. */
        if (!r->failed && r->out_n && r->verbose)
            fprintf(r->verbose, "%s: %u segment%s sent after the last event, not checked\n", path,
                    r->out_n, r->out_n == 1 ? "" : "s");
    }
    if (r->s) {
        us_stack_set_driver(r->s, NULL);
        us_stack_free(r->s);
    }
    us_seqrel_free(r->rel);
    free(r->frame);
    free(r);
}
