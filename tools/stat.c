/*
 * stat.c: snapshots of a stack for `ustack stat` (stat.h).
 *
 * The server takes a snapshot inside its loop and writes it as JSON; the
 * client reads the JSON back into the same structure and prints it. Both
 * directions live here so the document has one definition; the unit tests
 * check that a snapshot survives the round trip and that the table reads
 * like `ss -tan -o`.
 */
#include "stat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* ---- taking a snapshot ---- */

struct collect {
    struct stat_snapshot *snap;
    size_t cap;
    us_time_t now;
    bool oom;
};

/* Copies src into dst[len], cutting a string too long between two UTF-8
 * characters, never inside one (the JSON writer would turn the broken
 * tail into U+FFFD and the name would change on every round trip). */
static void copy_str(char *dst, size_t len, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= len) {
        n = len - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80) n--;
    }
    if (n) memcpy(dst, src, n);
    dst[n] = 0;
}

static void collect_one(void *ctx, const struct us_sock_info *i)
{
    struct collect *c = ctx;
    struct stat_snapshot *snap = c->snap;
    snap->sockets_total++;
    if (c->oom || snap->n_sockets >= STAT_MAX_SOCKETS) return;
    if (snap->n_sockets == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        struct stat_socket *ns = realloc(snap->sockets, ncap * sizeof(*ns));
        if (!ns) {
            c->oom = true;
            return;
        }
        snap->sockets = ns;
        c->cap = ncap;
    }
    struct stat_socket *sk = &snap->sockets[snap->n_sockets++];
    memset(sk, 0, sizeof(*sk));
    bool tcp = i->type == SOCK_STREAM;
    copy_str(sk->proto, sizeof(sk->proto), tcp ? "tcp" : "udp");
    copy_str(sk->state, sizeof(sk->state), tcp ? us_tcp_state_name(i->state) : "");
    sk->fd = i->fd;
    sk->laddr = i->laddr;
    sk->lport = i->lport;
    sk->raddr = i->raddr;
    sk->rport = i->rport;
    sk->recv_q = i->recv_q;
    sk->send_q = i->send_q;
    copy_str(sk->timer, sizeof(sk->timer), i->timer ? i->timer : "off");
    if (strcmp(sk->timer, "off") != 0 && i->timer_expires != US_TIME_NEVER)
        sk->timer_ms = i->timer_expires > c->now ? (i->timer_expires - c->now) / 1000 : 0;
    sk->retransmits = i->retransmits;
}

int stat_take(struct stat_snapshot *snap, struct us_stack *s, const struct stat_origin *o,
              us_time_t now)
{
    memset(snap, 0, sizeof(*snap));
    snap->version = STAT_VERSION;
    snap->pid = o->pid;
    copy_str(snap->command, sizeof(snap->command), o->command);
    copy_str(snap->tap, sizeof(snap->tap), o->tap);
    snap->addr = o->addr;
    snap->prefix = o->prefix;
    snap->uptime_ms = now > o->started ? (now - o->started) / 1000 : 0;

    struct collect c = {.snap = snap, .now = now};
    us_socket_foreach(s, collect_one, &c);
    snap->counters = calloc(US_C__COUNT, sizeof(*snap->counters));
    if (c.oom || !snap->counters) {
        stat_free(snap);
        return -ENOMEM;
    }
    const uint64_t *values = us_stack_counters(s);
    for (unsigned i = 0; i < US_C__COUNT; i++) {
        copy_str(snap->counters[i].name, sizeof(snap->counters[i].name),
                 us_counter_name((enum us_counter)i));
        snap->counters[i].value = values[i];
    }
    snap->n_counters = US_C__COUNT;
    return 0;
}

void stat_free(struct stat_snapshot *snap)
{
    free(snap->sockets);
    free(snap->counters);
    memset(snap, 0, sizeof(*snap));
}

/* ---- names and numbers, the way ss writes them ---- */

const char *stat_ss_state(const struct stat_socket *sk)
{
    if (!strcmp(sk->proto, "udp")) return sk->raddr ? "ESTAB" : "UNCONN";
    static const struct {
        const char *rfc, *ss;
    } names[] = {
        {"ESTABLISHED", "ESTAB"},
        {"SYN-RECEIVED", "SYN-RECV"},
        {"CLOSED", "UNCONN"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(sk->state, names[i].rfc)) return names[i].ss;
    return sk->state; /* LISTEN, SYN-SENT, FIN-WAIT-1, TIME-WAIT...: the same in both */
}

/* iproute2's print_ms_timer(): minutes, then seconds, then milliseconds,
 * dropping the finer unit once the coarser one passes 9; seconds with
 * milliseconds read "1.500ms". ss prints nothing at all for 0; we print
 * "0ms" so the field is never empty. */
char *stat_format_ms(char *buf, size_t len, uint64_t ms)
{
    uint64_t secs = ms / 1000, minutes = secs / 60, msecs = ms % 1000;
    secs %= 60;
    size_t n = 0;
    buf[0] = 0;
    if (ms == 0) {
        snprintf(buf, len, "0ms");
        return buf;
    }
    if (minutes) {
        msecs = 0;
        n += (size_t)snprintf(buf + n, len > n ? len - n : 0, "%llumin",
                              (unsigned long long)minutes);
        if (minutes > 9) secs = 0;
    }
    if (secs) {
        if (secs > 9) msecs = 0;
        n += (size_t)snprintf(buf + n, len > n ? len - n : 0, "%llu%s", (unsigned long long)secs,
                              msecs ? "." : "sec");
    }
    if (msecs) snprintf(buf + n, len > n ? len - n : 0, "%03llums", (unsigned long long)msecs);
    return buf;
}

char *stat_format_timer(char *buf, size_t len, const struct stat_socket *sk)
{
    if (!sk->timer[0] || !strcmp(sk->timer, "off")) {
        buf[0] = 0;
        return buf;
    }
    char t[32];
    snprintf(buf, len, "timer:(%s,%s,%u)", sk->timer, stat_format_ms(t, sizeof(t), sk->timer_ms),
             sk->retransmits);
    return buf;
}

/* ---- JSON ---- */

void stat_write_json(FILE *out, const struct stat_snapshot *snap, bool pretty)
{
    struct json_writer w;
    char a[16];
    json_writer_init(&w, out, pretty);
    json_begin_object(&w);
    json_key(&w, "version");
    json_uint(&w, snap->version);
    json_key(&w, "pid");
    json_int(&w, snap->pid);
    json_key(&w, "command");
    json_string(&w, snap->command);
    json_key(&w, "tap");
    json_string(&w, snap->tap);
    json_key(&w, "address");
    json_string(&w, us_ip_str(snap->addr, a));
    json_key(&w, "prefix");
    json_uint(&w, snap->prefix);
    json_key(&w, "uptime_ms");
    json_uint(&w, snap->uptime_ms);
    json_key(&w, "sockets");
    json_begin_array(&w);
    for (size_t i = 0; i < snap->n_sockets; i++) {
        const struct stat_socket *sk = &snap->sockets[i];
        json_begin_object(&w);
        json_key(&w, "proto");
        json_string(&w, sk->proto);
        json_key(&w, "state");
        json_string(&w, sk->state);
        json_key(&w, "ss_state");
        json_string(&w, stat_ss_state(sk));
        json_key(&w, "fd");
        json_int(&w, sk->fd);
        json_key(&w, "local_addr");
        json_string(&w, us_ip_str(sk->laddr, a));
        json_key(&w, "local_port");
        json_uint(&w, sk->lport);
        json_key(&w, "peer_addr");
        json_string(&w, us_ip_str(sk->raddr, a));
        json_key(&w, "peer_port");
        json_uint(&w, sk->rport);
        json_key(&w, "recv_q");
        json_uint(&w, sk->recv_q);
        json_key(&w, "send_q");
        json_uint(&w, sk->send_q);
        json_key(&w, "timer");
        json_string(&w, sk->timer);
        json_key(&w, "timer_ms");
        json_uint(&w, sk->timer_ms);
        json_key(&w, "retransmits");
        json_uint(&w, sk->retransmits);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_key(&w, "sockets_total");
    json_uint(&w, snap->sockets_total);
    json_key(&w, "counters");
    json_begin_object(&w);
    for (size_t i = 0; i < snap->n_counters; i++) {
        json_key(&w, snap->counters[i].name);
        json_uint(&w, snap->counters[i].value);
    }
    json_end_object(&w);
    json_end_object(&w);
}

static uint64_t get_u(const struct json_value *o, const char *key, uint64_t max)
{
    uint64_t v = 0;
    if (!json_get_uint(o, key, &v) || v > max) return 0;
    return v;
}

static int get_addr(const struct json_value *o, const char *key, uint32_t *addr, char *err,
                    size_t errlen)
{
    const char *s = json_get_string(o, key);
    if (!s || us_ip_parse(s, addr) < 0) {
        snprintf(err, errlen, "bad or missing \"%s\" in the document", key);
        return -1;
    }
    return 0;
}

static int read_socket(struct stat_socket *sk, const struct json_value *o, char *err, size_t errlen)
{
    memset(sk, 0, sizeof(*sk));
    if (!o || o->type != JSON_OBJECT) {
        snprintf(err, errlen, "a socket entry is not an object");
        return -1;
    }
    const char *proto = json_get_string(o, "proto");
    if (!proto || (strcmp(proto, "tcp") && strcmp(proto, "udp"))) {
        snprintf(err, errlen, "a socket entry has no \"proto\" tcp or udp");
        return -1;
    }
    copy_str(sk->proto, sizeof(sk->proto), proto);
    copy_str(sk->state, sizeof(sk->state), json_get_string(o, "state"));
    const struct json_value *fd = json_get(o, "fd");
    sk->fd = fd && fd->type == JSON_NUMBER && fd->number >= -1 && fd->number < 1e9 ? (int)fd->number
                                                                                   : -1;
    if (get_addr(o, "local_addr", &sk->laddr, err, errlen) < 0 ||
        get_addr(o, "peer_addr", &sk->raddr, err, errlen) < 0)
        return -1;
    sk->lport = (uint16_t)get_u(o, "local_port", 65535);
    sk->rport = (uint16_t)get_u(o, "peer_port", 65535);
    sk->recv_q = (uint32_t)get_u(o, "recv_q", UINT32_MAX);
    sk->send_q = (uint32_t)get_u(o, "send_q", UINT32_MAX);
    const char *timer = json_get_string(o, "timer");
    copy_str(sk->timer, sizeof(sk->timer), timer ? timer : "off");
    sk->timer_ms = get_u(o, "timer_ms", UINT64_MAX);
    sk->retransmits = (unsigned)get_u(o, "retransmits", UINT32_MAX);
    return 0;
}

int stat_read_json(struct stat_snapshot *snap, const char *text, size_t len, char *err,
                   size_t errlen)
{
    memset(snap, 0, sizeof(*snap));
    struct json_value *doc = json_parse(text, len, err, errlen);
    if (!doc) return -1;
    uint64_t version;
    if (doc->type != JSON_OBJECT || !json_get_uint(doc, "version", &version)) {
        snprintf(err, errlen, "not a ustack stat document (no \"version\")");
        goto fail;
    }
    if (version > STAT_VERSION) {
        snprintf(err, errlen, "document version %llu is newer than this ustack (%d): upgrade it",
                 (unsigned long long)version, STAT_VERSION);
        goto fail;
    }
    snap->version = (unsigned)version;
    snap->pid = (long)get_u(doc, "pid", INT32_MAX);
    copy_str(snap->command, sizeof(snap->command), json_get_string(doc, "command"));
    copy_str(snap->tap, sizeof(snap->tap), json_get_string(doc, "tap"));
    const char *addr = json_get_string(doc, "address");
    if (addr && us_ip_parse(addr, &snap->addr) < 0) snap->addr = 0;
    snap->prefix = (unsigned)get_u(doc, "prefix", 32);
    snap->uptime_ms = get_u(doc, "uptime_ms", UINT64_MAX);

    const struct json_value *socks = json_get(doc, "sockets");
    if (!socks || socks->type != JSON_ARRAY) {
        snprintf(err, errlen, "the document has no \"sockets\" list");
        goto fail;
    }
    if (socks->n) {
        snap->sockets = calloc(socks->n, sizeof(*snap->sockets));
        if (!snap->sockets) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < socks->n; i++) {
        if (read_socket(&snap->sockets[i], &socks->items[i], err, errlen) < 0) goto fail;
        snap->n_sockets++;
    }
    snap->sockets_total = (size_t)get_u(doc, "sockets_total", SIZE_MAX);
    if (snap->sockets_total < snap->n_sockets) snap->sockets_total = snap->n_sockets;

    const struct json_value *ctr = json_get(doc, "counters");
    if (ctr && ctr->type == JSON_OBJECT && ctr->n) {
        snap->counters = calloc(ctr->n, sizeof(*snap->counters));
        if (!snap->counters) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < ctr->n; i++) {
            const struct json_value *v = &ctr->items[i];
            if (v->type != JSON_NUMBER || !v->is_uint) continue;
            struct stat_counter *c = &snap->counters[snap->n_counters++];
            copy_str(c->name, sizeof(c->name), ctr->keys[i]);
            c->value = v->uint;
        }
    }
    json_free(doc);
    return 0;
fail:
    json_free(doc);
    stat_free(snap);
    return -1;
}

/* ---- the table ---- */

static const char *counter_help(const char *name)
{
    for (unsigned i = 0; i < US_C__COUNT; i++)
        if (!strcmp(us_counter_name((enum us_counter)i), name))
            return us_counter_help((enum us_counter)i);
    return ""; /* a counter newer than this ustack: its name alone */
}

static void format_endpoint(char *buf, size_t len, uint32_t addr, uint16_t port)
{
    char a[16];
    if (port)
        snprintf(buf, len, "%s:%u", us_ip_str(addr, a), port);
    else
        snprintf(buf, len, "%s:*", us_ip_str(addr, a));
}

static void format_uptime(char *buf, size_t len, uint64_t ms)
{
    uint64_t s = ms / 1000;
    if (s < 60)
        snprintf(buf, len, "%llu.%llus", (unsigned long long)s,
                 (unsigned long long)(ms % 1000 / 100));
    else if (s < 3600)
        snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    else
        snprintf(buf, len, "%lluh%02llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s / 60 % 60));
}

void stat_write_table(FILE *out, const struct stat_snapshot *snap)
{
    char a[16], up[32];
    format_uptime(up, sizeof(up), snap->uptime_ms);
    fprintf(out, "ustack %ld: %s on %s as %s/%u, up %s\n", snap->pid,
            snap->command[0] ? snap->command : "?", snap->tap[0] ? snap->tap : "?",
            us_ip_str(snap->addr, a), snap->prefix, up);

    /* Column widths from the widest cell plus a space, as ss does; at least
     * the heading's width plus a space, and for State the longest state
     * name ("FIN-WAIT-1"), so the columns do not shift as states come and go. */
    bool any_udp = false;
    int w_state = 11, w_rq = 7, w_sq = 7, w_local = 21, w_peer = 20;
    char l[32], p[32], q[16];
    for (size_t i = 0; i < snap->n_sockets; i++) {
        const struct stat_socket *sk = &snap->sockets[i];
        if (!strcmp(sk->proto, "udp")) any_udp = true;
        int n = (int)strlen(stat_ss_state(sk)) + 1;
        if (n > w_state) w_state = n;
        n = snprintf(q, sizeof(q), "%u", sk->recv_q) + 1;
        if (n > w_rq) w_rq = n;
        n = snprintf(q, sizeof(q), "%u", sk->send_q) + 1;
        if (n > w_sq) w_sq = n;
        format_endpoint(l, sizeof(l), sk->laddr, sk->lport);
        n = (int)strlen(l) + 1;
        if (n > w_local) w_local = n;
        format_endpoint(p, sizeof(p), sk->raddr, sk->rport);
        n = (int)strlen(p) + 1;
        if (n > w_peer) w_peer = n;
    }
    fputc('\n', out);
    if (any_udp) fprintf(out, "%-6s", "Netid");
    fprintf(out, "%-*s%-*s%-*s%-*s%s\n", w_state, "State", w_rq, "Recv-Q", w_sq, "Send-Q", w_local,
            "Local Address:Port", "Peer Address:Port");
    for (size_t i = 0; i < snap->n_sockets; i++) {
        const struct stat_socket *sk = &snap->sockets[i];
        char timer[64];
        format_endpoint(l, sizeof(l), sk->laddr, sk->lport);
        format_endpoint(p, sizeof(p), sk->raddr, sk->rport);
        stat_format_timer(timer, sizeof(timer), sk);
        if (any_udp) fprintf(out, "%-6s", sk->proto);
        /* No padding after the last column when there is no timer. */
        fprintf(out, "%-*s%-*u%-*u%-*s%-*s%s\n", w_state, stat_ss_state(sk), w_rq, sk->recv_q, w_sq,
                sk->send_q, w_local, l, timer[0] ? w_peer : 0, p, timer);
    }
    if (snap->sockets_total > snap->n_sockets)
        fprintf(out, "(%zu more sockets not listed)\n", snap->sockets_total - snap->n_sockets);

    size_t w_name = 0, w_val = 0;
    for (size_t i = 0; i < snap->n_counters; i++) {
        if (!snap->counters[i].value) continue;
        size_t n = strlen(snap->counters[i].name);
        if (n > w_name) w_name = n;
        n = (size_t)snprintf(q, sizeof(q), "%llu", (unsigned long long)snap->counters[i].value);
        if (n > w_val) w_val = n;
    }
    fprintf(out, "\nCounters (non-zero):\n");
    if (!w_name) fprintf(out, "  (none)\n");
    for (size_t i = 0; i < snap->n_counters; i++) {
        const struct stat_counter *c = &snap->counters[i];
        if (!c->value) continue;
        fprintf(out, "  %-*s %*llu  %s\n", (int)w_name, c->name, (int)w_val,
                (unsigned long long)c->value, counter_help(c->name));
    }
}
