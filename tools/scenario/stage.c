/*
 * stage.c: the stage a scenario plays on (see stage.h): building it, the
 * record of what happens on it, the logged socket calls and world changes,
 * and the queries claims are made of.
 *
 * The record is fed by observers only -- the wire's (frames and their fate)
 * and each stack's (state changes) -- plus the act_*() calls, so it holds
 * what really happened, never what a scenario expected to happen.
 */
#include "scenario/stage.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAGE_NET     0x0a000000u /* 10.0.0.0/24; actor i is 10.0.0.(i+1) */
#define SPOOF_PORT_LO 1024

struct flow_mark {
    uint32_t saddr, daddr;
    uint16_t sport, dport;
    uint32_t isn;     /* the SYN's sequence number */
    uint32_t max_end; /* the highest sequence number sent, plus one */
};

static const char *const actor_names[STAGE_MAX_ACTORS] = {"client", "server", "attacker"};

const char *actor_name(int actor)
{
    return actor >= 0 && actor < STAGE_MAX_ACTORS ? actor_names[actor] : "?";
}

static int actor_of_stack(const struct stage *sg, const struct us_stack *s)
{
    for (unsigned i = 0; i < sg->n_actors; i++)
        if (sg->stack[i] == s) return (int)i;
    return -1;
}

static int actor_of_port(const struct stage *sg, int port)
{
    for (unsigned i = 0; i < sg->n_actors; i++)
        if (sg->port[i] == port) return (int)i;
    return -1;
}

/* ---- the record ---- */

static struct stage_event *record(struct stage *sg, enum stage_event_kind kind, int actor)
{
    if (sg->finished || sg->overflow) return NULL;
    if (sg->n_ev == sg->cap_ev) {
        size_t cap = sg->cap_ev ? sg->cap_ev * 2 : 256;
        struct stage_event *ev = realloc(sg->ev, cap * sizeof(*ev));
        if (!ev) {
            sg->overflow = true;
            return NULL;
        }
        sg->ev = ev;
        sg->cap_ev = cap;
    }
    struct stage_event *e = &sg->ev[sg->n_ev++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->actor = actor;
    e->time = us_wire_now(sg->w);
    return e;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* FNV-1a: enough to tell a delivered copy from the frame that was sent. */
static uint64_t frame_hash(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Parses an Ethernet/IPv4/TCP frame into e; leaves e->tcp false otherwise. */
static void parse_tcp(struct stage_event *e, const uint8_t *f, size_t len)
{
    if (len < 14 + 20 || rd16(f + 12) != 0x0800) return;
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4, total = rd16(ip + 2);
    if ((ip[0] >> 4) != 4 || ip[9] != 6 || ihl < 20 || total < ihl + 20 || 14 + total > len) return;
    const uint8_t *t = ip + ihl;
    size_t off = (size_t)(t[12] >> 4) * 4;
    if (off < 20 || ihl + off > total) return;
    e->tcp = true;
    e->saddr = rd32(ip + 12);
    e->daddr = rd32(ip + 16);
    e->sport = rd16(t);
    e->dport = rd16(t + 2);
    e->seq = rd32(t + 4);
    e->ack = rd32(t + 8);
    e->flags = t[13];
    e->win = rd16(t + 14);
    e->len = (uint32_t)(total - ihl - off);
}

static bool seq_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

/* A segment is a retransmission when it carries sequence space below the
 * most its flow has sent (the diagram's rule, docs/DESIGN.md §9). A SYN
 * with a new ISN starts the flow again. */
static void mark_retransmit(struct stage *sg, struct stage_event *e)
{
    uint32_t space = e->len + ((e->flags & TF_SYN) ? 1u : 0u) + ((e->flags & TF_FIN) ? 1u : 0u);
    struct flow_mark *m = NULL;
    for (size_t i = 0; i < sg->n_flows; i++) {
        struct flow_mark *f = &sg->flows[i];
        if (f->saddr == e->saddr && f->daddr == e->daddr && f->sport == e->sport &&
            f->dport == e->dport) {
            m = f;
            break;
        }
    }
    if (!m) {
        struct flow_mark *fl = realloc(sg->flows, (sg->n_flows + 1) * sizeof(*fl));
        if (!fl) return;
        sg->flows = fl;
        m = &fl[sg->n_flows++];
        *m = (struct flow_mark){.saddr = e->saddr,
                                .daddr = e->daddr,
                                .sport = e->sport,
                                .dport = e->dport,
                                .isn = e->seq,
                                .max_end = e->seq};
    } else if ((e->flags & TF_SYN) && e->seq != m->isn) {
        m->isn = e->seq;
        m->max_end = e->seq;
    }
    if (!space) return;
    uint32_t end = e->seq + space;
    if (seq_before(e->seq, m->max_end)) e->retransmit = true;
    if (seq_before(m->max_end, end)) m->max_end = end;
}

static struct stage_event *find_frame(struct stage *sg, uint64_t id)
{
    for (size_t i = sg->n_ev; i-- > 0;)
        if (sg->ev[i].kind == SEV_FRAME && sg->ev[i].frame_id == id) return &sg->ev[i];
    return NULL;
}

static void on_wire(void *ctx, const struct us_wire_event *we)
{
    struct stage *sg = ctx;
    if (we->kind == US_WIRE_SEND) {
        if (sg->pcap) us_pcap_write(sg->pcap, we->frame, we->len, we->time);
        struct stage_event *e = record(sg, SEV_FRAME, actor_of_port(sg, we->from));
        if (!e) return;
        e->time = we->time;
        e->frame_id = we->frame_id;
        e->hash = frame_hash(we->frame, we->len);
        e->arrived = US_TIME_NEVER;
        parse_tcp(e, we->frame, we->len);
        if (e->tcp) mark_retransmit(sg, e);
        us_trace_format(e->text, sizeof(e->text), we->frame, we->len, sg->rel);
        return;
    }
    struct stage_event *e = find_frame(sg, we->frame_id);
    if (!e) return;
    if (we->kind == US_WIRE_DROP) {
        if (e->fate == FATE_IN_FLIGHT) {
            e->fate = FATE_LOST;
            snprintf(e->reason, sizeof(e->reason), "%s", we->reason ? we->reason : "?");
        }
    } else if (frame_hash(we->frame, we->len) != e->hash) {
        if (e->fate != FATE_DELIVERED) e->fate = FATE_CORRUPTED;
    } else {
        e->fate = FATE_DELIVERED;
        if (e->arrived == US_TIME_NEVER) e->arrived = we->time;
        int to = actor_of_port(sg, we->to);
        if (to >= 0 && e->copies[to] < UINT8_MAX && ++e->copies[to] > 1) e->duplicated = true;
    }
}

static void on_state(void *ctx, struct us_stack *s, const struct us_state_event *se)
{
    struct stage *sg = ctx;
    struct stage_event *e = record(sg, SEV_STATE, actor_of_stack(sg, s));
    if (!e) return;
    e->time = se->time;
    e->from = se->from;
    e->to = se->to;
    e->lport = se->lport;
    e->rport = se->rport;
    e->saddr = se->laddr;
    e->daddr = se->raddr;
    snprintf(e->text, sizeof(e->text), "%s", se->cause ? se->cause : "");
}

/* ---- building and tearing down ---- */

int stage_open(struct stage *sg, const struct stage_opts *o, char *err, size_t errlen)
{
    memset(sg, 0, sizeof(*sg));
    sg->seed = o->seed;
    sg->next_spoof_port = SPOOF_PORT_LO;
    sg->w = us_wire_new(o->seed);
    sg->rel = us_seqrel_new();
    if (!sg->w || !sg->rel) goto nomem;
    sg->n_actors = o->attacker ? 3 : 2;
    for (unsigned i = 0; i < sg->n_actors; i++) {
        struct us_stack_config cfg;
        us_stack_config_default(&cfg);
        if (o->configure) o->configure(&cfg);
        cfg.name = actor_names[i];
        cfg.seed = o->seed * 3 + i + 1; /* each stack its own stream */
        sg->stack[i] = us_stack_new(&cfg);
        if (!sg->stack[i]) goto nomem;
        sg->addr[i] = STAGE_NET | (i + 1);
        struct us_iface_config ic = {
            .mac = {2, 0, 0, 0, 0, (uint8_t)(i + 1)}, .addr = sg->addr[i], .prefix_len = 24};
        sg->port[i] = us_wire_attach(sg->w, sg->stack[i], &ic);
        if (sg->port[i] < 0) goto nomem;
        us_wire_set_faults(sg->w, sg->port[i], &o->faults);
    }
    /* The record (and the capture), then the diagram, fed the same events. */
    if (us_wire_observe(sg->w, on_wire, sg) < 0) goto nomem;
    struct diagram_opts dopts = {.port = o->draw_port};
    sg->rec = diagram_recorder_new(sg->w, &dopts);
    if (!sg->rec) goto nomem;
    for (unsigned i = 0; i < sg->n_actors; i++) {
        struct us_observer ob = {.state = on_state, .ctx = sg};
        if (us_stack_observe(sg->stack[i], &ob) < 0 ||
            diagram_recorder_add_stack(sg->rec, sg->stack[i], sg->port[i]) < 0)
            goto nomem;
    }
    if (o->pcap_path) {
        sg->pcap = us_pcap_open(o->pcap_path, err, errlen);
        if (!sg->pcap) {
            stage_close(sg);
            return -1;
        }
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory building the stage");
    stage_close(sg);
    return -1;
}

void stage_finish(struct stage *sg)
{
    if (sg->finished) return;
    sg->finished = true;
    if (sg->w) us_wire_unobserve(sg->w, sg);
    for (unsigned i = 0; i < sg->n_actors; i++)
        if (sg->stack[i]) us_stack_unobserve(sg->stack[i], sg);
    if (sg->rec) {
        sg->diagram = diagram_recorder_done(sg->rec);
        sg->rec = NULL;
        if (sg->diagram && !sg->diagram->found) {
            diagram_free(sg->diagram);
            sg->diagram = NULL;
        }
    }
    if (sg->pcap) {
        us_pcap_close(sg->pcap);
        sg->pcap = NULL;
    }
    for (unsigned i = 0; i < sg->n_actors; i++)
        if (sg->stack[i]) sg->leaked += us_stack_teardown(sg->stack[i]);
}

void stage_close(struct stage *sg)
{
    stage_finish(sg);
    diagram_free(sg->diagram);
    for (unsigned i = 0; i < STAGE_MAX_ACTORS; i++) us_stack_free(sg->stack[i]);
    us_wire_free(sg->w);
    us_seqrel_free(sg->rel);
    free(sg->ev);
    free(sg->claims);
    free(sg->flows);
    memset(sg, 0, sizeof(*sg));
}

void stage_mark(struct stage *sg)
{
    sg->mark = sg->n_ev;
}

us_time_t stage_now(const struct stage *sg)
{
    return us_wire_now(sg->w);
}

void act_run(struct stage *sg, us_time_t dt)
{
    us_wire_run_for(sg->w, dt);
}

us_time_t act_run_idle(struct stage *sg)
{
    return us_wire_run_idle(sg->w, US_TIME_NEVER - 1);
}

void stage_settle(struct stage *sg)
{
    while (us_wire_in_flight(sg->w) && us_wire_step(sg->w, US_TIME_NEVER)) {
    }
}

/* ---- logged calls ---- */

static void call_begin(struct stage *sg, int who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_begin(struct stage *sg, int who, const char *fmt, ...)
{
    struct stage_event *e = record(sg, SEV_CALL, who);
    if (!e) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
}

/* Logs the result ("call = 0", "call = -1 ECONNREFUSED"), remembers errno
 * and returns rc. `extra` follows the number (the bytes received). */
static long call_end(struct stage *sg, int who, long rc, int err, const char *extra)
{
    sg->err = rc < 0 ? err : 0;
    const char *call = "";
    for (size_t i = sg->n_ev; i-- > 0;)
        if (sg->ev[i].kind == SEV_CALL && sg->ev[i].actor == who) {
            call = sg->ev[i].text;
            break;
        }
    struct stage_event *e = record(sg, SEV_RETURN, who);
    if (e) {
        if (rc < 0)
            snprintf(e->text, sizeof(e->text), "%s = -1 %s", call, errno_name(err));
        else
            snprintf(e->text, sizeof(e->text), "%s = %ld%s%s", call, rc, extra ? " " : "",
                     extra ? extra : "");
    }
    errno = err;
    return rc;
}

static char *addr_str(uint32_t addr, uint16_t port, char *buf, size_t cap)
{
    char ip[16];
    snprintf(buf, cap, "%s:%u", us_ip_str(addr, ip), port);
    return buf;
}

int act_socket(struct stage *sg, int who, bool nonblock)
{
    /* Not shown unless it fails: a socket changes nothing on the wire, and
     * the calls that use it name its descriptor. */
    int fd = us_socket(sg->stack[who], AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd >= 0) {
        sg->err = 0;
        return fd;
    }
    call_begin(sg, who, "socket(%s)", nonblock ? "SOCK_STREAM|SOCK_NONBLOCK" : "SOCK_STREAM");
    return (int)call_end(sg, who, fd, errno, NULL);
}

int act_bind(struct stage *sg, int who, int fd, uint16_t port)
{
    call_begin(sg, who, "bind(%d, 0.0.0.0:%u)", fd, port);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int rc = us_bind(sg->stack[who], fd, (struct sockaddr *)&a, sizeof(a));
    return (int)call_end(sg, who, rc, errno, NULL);
}

int act_listen(struct stage *sg, int who, uint16_t port, int backlog, bool reuse)
{
    int fd = act_socket(sg, who, false);
    if (fd < 0) return -1;
    if (reuse && act_setsockopt(sg, who, fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", 1) < 0)
        return -1;
    if (act_bind(sg, who, fd, port) < 0) return -1;
    return act_listen_fd(sg, who, fd, backlog) < 0 ? -1 : fd;
}

int act_listen_fd(struct stage *sg, int who, int fd, int backlog)
{
    call_begin(sg, who, "listen(%d, %d)", fd, backlog);
    int rc = us_listen(sg->stack[who], fd, backlog);
    return (int)call_end(sg, who, rc, errno, NULL);
}

int act_connect(struct stage *sg, int who, int fd, int to, uint16_t port)
{
    char a[32];
    call_begin(sg, who, "connect(%d, %s)", fd, addr_str(sg->addr[to], port, a, sizeof(a)));
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(sg->addr[to])};
    int rc = us_connect(sg->stack[who], fd, (struct sockaddr *)&sa, sizeof(sa));
    return (int)call_end(sg, who, rc, errno, NULL);
}

int act_accept(struct stage *sg, int who, int lfd)
{
    call_begin(sg, who, "accept(%d)", lfd);
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    int fd = us_accept(sg->stack[who], lfd, (struct sockaddr *)&peer, &plen);
    int err = errno;
    char extra[48] = "";
    if (fd >= 0) {
        char a[32];
        snprintf(extra, sizeof(extra), "(%s)",
                 addr_str(ntohl(peer.sin_addr.s_addr), ntohs(peer.sin_port), a, sizeof(a)));
    }
    return (int)call_end(sg, who, fd, err, fd >= 0 ? extra : NULL);
}

const char *errno_name(int err)
{
    if (err == 0) return "no error";
    const char *name = strerrorname_np(err);
    return name ? name : "an unknown error";
}

char *bytes_desc(const void *data, size_t len, char *buf, size_t cap)
{
    const unsigned char *p = data;
    bool text = len > 0 && len <= 32;
    for (size_t i = 0; text && i < len; i++)
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\') text = false;
    if (text)
        snprintf(buf, cap, "\"%.*s\"", (int)len, (const char *)p);
    else
        snprintf(buf, cap, "%zu bytes", len);
    return buf;
}

ssize_t act_send(struct stage *sg, int who, int fd, const void *data, size_t len)
{
    char d[48];
    call_begin(sg, who, "send(%d, %s)", fd, bytes_desc(data, len, d, sizeof(d)));
    ssize_t n = us_send(sg->stack[who], fd, data, len, 0);
    return call_end(sg, who, n, errno, NULL);
}

ssize_t act_recv(struct stage *sg, int who, int fd, char *buf, size_t cap, int flags)
{
    call_begin(sg, who, "recv(%d%s)", fd, (flags & MSG_WAITALL) ? ", MSG_WAITALL" : "");
    ssize_t n = us_recv(sg->stack[who], fd, buf, cap, flags);
    int err = errno;
    char d[48] = "";
    if (n >= 0) buf[n] = 0;
    if (n > 0) bytes_desc(buf, (size_t)n, d, sizeof(d));
    if (n == 0) snprintf(d, sizeof(d), "(end of stream)");
    /* The bytes themselves when they read as text; a count says the rest. */
    return call_end(sg, who, n, err, d[0] == '"' || n == 0 ? d : NULL);
}

int act_shutdown(struct stage *sg, int who, int fd, int how)
{
    call_begin(sg, who, "shutdown(%d, %s)", fd,
               how == SHUT_WR   ? "SHUT_WR"
               : how == SHUT_RD ? "SHUT_RD"
                                : "SHUT_RDWR");
    int rc = us_shutdown(sg->stack[who], fd, how);
    return (int)call_end(sg, who, rc, errno, NULL);
}

int act_close(struct stage *sg, int who, int fd)
{
    call_begin(sg, who, "close(%d)", fd);
    int rc = us_close(sg->stack[who], fd);
    return (int)call_end(sg, who, rc, errno, NULL);
}

int act_setsockopt(struct stage *sg, int who, int fd, int level, int opt, const char *name,
                   int value)
{
    call_begin(sg, who, "setsockopt(%d, %s, %d)", fd, name, value);
    int rc = us_setsockopt(sg->stack[who], fd, level, opt, &value, sizeof(value));
    return (int)call_end(sg, who, rc, errno, NULL);
}

int act_ping(struct stage *sg, int who, int to)
{
    char ip[16];
    call_begin(sg, who, "ping %s", us_ip_str(sg->addr[to], ip));
    struct us_stack *s = sg->stack[who];
    struct us_echo_reply r;
    while (us_ping_recv(s, &r)) {
    }
    int rc = us_ping_send(s, sg->addr[to], 1, 1, 8);
    us_time_t until = stage_now(sg) + US_SEC(3);
    bool got = false;
    while (rc == 0 && !got && stage_now(sg) < until) {
        us_wire_step(sg->w, until);
        got = us_ping_recv(s, &r);
    }
    return (int)call_end(sg, who, got ? 0 : -1, rc < 0 ? -rc : ETIMEDOUT, NULL);
}

int act_tcp_info(struct stage *sg, int who, int fd, struct us_tcp_info *info)
{
    socklen_t len = sizeof(*info);
    memset(info, 0, sizeof(*info));
    int rc = us_getsockopt(sg->stack[who], fd, IPPROTO_TCP, TCP_INFO, info, &len);
    sg->err = rc < 0 ? errno : 0;
    return rc;
}

/* ---- changes to the world ---- */

void act_note(struct stage *sg, int who, const char *fmt, ...)
{
    struct stage_event *e = record(sg, SEV_NOTE, who);
    if (!e) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
}

void act_cable(struct stage *sg, int who, bool down)
{
    act_note(sg, who, "the %s's cable is %s", actor_name(who),
             down ? "unplugged" : "plugged back in");
    us_wire_set_down(sg->w, sg->port[who], down);
}

void act_faults(struct stage *sg, int who, const struct us_faults *f, const char *what)
{
    static const struct us_faults none;
    if (what) act_note(sg, who, "%s", what);
    us_wire_set_faults(sg->w, sg->port[who], f ? f : &none);
}

void act_reboot(struct stage *sg, int who)
{
    act_note(sg, who, "the %s reboots: every socket and connection is gone", actor_name(who));
    us_stack_teardown(sg->stack[who]);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

/* The Internet checksum (RFC 1071) of a pseudo-header sum plus bytes. */
static uint16_t inet_csum(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2) sum += rd16(p + i);
    if (len & 1) sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

void act_spoof_syn(struct stage *sg, int who, uint32_t src, uint16_t port)
{
    uint16_t sport = sg->next_spoof_port++;
    /* A sequence number from the stage's seed, so a seed replays exactly. */
    uint32_t seq = (uint32_t)((sg->seed + sport) * 0x9e3779b97f4a7c15ull >> 32);
    uint8_t f[14 + 20 + 24] = {0};
    static const uint8_t server_mac[6] = {2, 0, 0, 0, 0, 2};
    memcpy(f, server_mac, 6);
    const uint8_t mac[6] = {2, 0, 0, 0, 0, (uint8_t)(who + 1)};
    memcpy(f + 6, mac, 6);
    wr16(f + 12, 0x0800);
    uint8_t *ip = f + 14, *t = ip + 20;
    ip[0] = 0x45;
    wr16(ip + 2, 20 + 24);
    wr16(ip + 4, sport);
    wr16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = 6;
    wr32(ip + 12, src);
    wr32(ip + 16, sg->addr[SERVER]);
    wr16(ip + 10, inet_csum(0, ip, 20));
    wr16(t, sport);
    wr16(t + 2, port);
    wr32(t + 4, seq);
    t[12] = 6 << 4; /* 24 bytes: the header and an MSS option */
    t[13] = TF_SYN;
    wr16(t + 14, 64240);
    t[20] = 2;
    t[21] = 4;
    wr16(t + 22, 1460);
    uint32_t pseudo = (src >> 16) + (src & 0xffff) + (sg->addr[SERVER] >> 16) +
                      (sg->addr[SERVER] & 0xffff) + 6 + 24;
    wr16(t + 16, inet_csum(pseudo, t, 24));
    us_wire_inject(sg->w, sg->port[who], f, sizeof(f));
}

/* ---- reading the record ---- */

char *tcp_flags_name(uint8_t flags, char *buf, size_t cap)
{
    static const struct {
        uint8_t bit;
        const char *name;
    } order[] = {
        {TF_SYN, "SYN"}, {TF_FIN, "FIN"}, {TF_RST, "RST"}, {TF_PSH, "PSH"}, {TF_ACK, "ACK"}};
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (!(flags & order[i].bit)) continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? "," : "", order[i].name);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
    if (!n) snprintf(buf, cap, "none");
    return buf;
}

/* Appends to a string being built in buf. */
static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w > 0) *n = *n + (size_t)w < cap ? *n + (size_t)w : cap - 1;
}

char *stage_segments(const struct stage *sg, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = sg->mark; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind != SEV_FRAME || !e->tcp) continue;
        char fl[32];
        append(buf, cap, &n, "%s%s %s", n ? " | " : "", actor_name(e->actor),
               tcp_flags_name(e->flags, fl, sizeof(fl)));
        if (e->len) append(buf, cap, &n, "(%u)", e->len);
        if (e->fate == FATE_LOST) append(buf, cap, &n, " lost");
        if (e->fate == FATE_CORRUPTED) append(buf, cap, &n, " corrupted");
    }
    if (!n) snprintf(buf, cap, "(none)");
    return buf;
}

char *stage_states(const struct stage *sg, int who, uint16_t port, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = sg->mark; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind != SEV_STATE || e->actor != who) continue;
        if (port && e->lport != port && e->rport != port) continue;
        if (!n) append(buf, cap, &n, "%s", us_tcp_state_name(e->from));
        append(buf, cap, &n, " -> %s", us_tcp_state_name(e->to));
    }
    if (!n) snprintf(buf, cap, "(no change)");
    return buf;
}

static bool segment_matches(const struct stage_event *e, int who, uint8_t flags, bool data)
{
    return e->kind == SEV_FRAME && e->tcp && (who < 0 || e->actor == who) &&
           (e->flags & flags) == flags && (!data || e->len > 0);
}

unsigned stage_count_segments(const struct stage *sg, int who, uint8_t flags, bool data)
{
    unsigned n = 0;
    for (size_t i = sg->mark; i < sg->n_ev; i++)
        if (segment_matches(&sg->ev[i], who, flags, data)) n++;
    return n;
}

long stage_find_segment(const struct stage *sg, int who, uint8_t flags, unsigned nth)
{
    for (size_t i = sg->mark; i < sg->n_ev; i++)
        if (segment_matches(&sg->ev[i], who, flags, false) && nth-- == 0) return (long)i;
    return -1;
}

us_time_t stage_state_time(const struct stage *sg, int who, enum us_tcp_state state)
{
    for (size_t i = sg->mark; i < sg->n_ev; i++) {
        const struct stage_event *e = &sg->ev[i];
        if (e->kind == SEV_STATE && e->actor == who && e->to == state) return e->time;
    }
    return US_TIME_NEVER;
}
