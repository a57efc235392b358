/*
 * common.c: the examples' shared set-up (see common.h): options, the wire
 * with its trace, the TAP session, and the baton that lets blocking code on
 * two stacks share one virtual clock.
 *
 * Why a baton. A blocking call on a ustack stack that cannot complete asks
 * the stack's driver to "run the world" until something happens or the
 * call's deadline (docs/DESIGN.md §3, §9). The wire's own driver just steps
 * the wire -- fine for one program, but the server and the client here are
 * two programs written as straight-line blocking code: while the client
 * sits in recv(), the server must get to run its accept(), recv() and
 * send(). So each part runs in its own thread, and every stack on the wire
 * gets the driver below, whose wait():
 *
 *   1. hands the baton to the next part that has not yet looked at the
 *      world as it is now ("pending"), and sleeps until the baton returns;
 *   2. when no part is pending -- everyone is blocked -- steps the wire once
 *      (us_wire_step) up to the earliest deadline of any blocked call, which
 *      delivers frames or runs timers, and makes every part pending again;
 *   3. when nothing at all is scheduled and no call has a deadline, nobody
 *      can ever make progress: it fails (the stack turns that into EDEADLK),
 *      or, once every client has finished, stops the server with EINTR as
 *      Ctrl-C does on a TAP.
 *
 * Exactly one thread runs at any time (the one holding the baton), it hands
 * it over only inside wait() or when its part returns, and the order is
 * fixed (round robin by part number), so the run is deterministic: the same
 * seed gives the same trace and a byte-identical pcap. The thread that
 * steps the wire touches every stack on it; the mutex handed over with the
 * baton orders those accesses, so each stack is still used by one thread at
 * a time.
 */
#include "common.h"

#include <pthread.h>
#include <stdlib.h>

/* ---- options ---- */

int ex_getopt(int argc, char **argv, const struct option *own, struct link_opts *o,
              void (*help)(void))
{
    static bool started;
    if (!started) {
        started = true;
        const char *slash = strrchr(argv[0], '/');
        prog_cmd = slash ? slash + 1 : argv[0];
        link_opts_init(o);
        o->faults.delay = US_TIME_NEVER; /* not given: ex_run() chooses */
        opterr = 0;
    }
    static const struct option help_opt[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    struct option mine[32];
    size_t n = 0;
    for (const struct option *p = own; p && p->name; p++) mine[n++] = *p;
    mine[n++] = help_opt[0];
    mine[n] = help_opt[1];
    const struct option *all = options_with_link(mine);
    for (;;) {
        int c = getopt_long(argc, argv, ":h", all, NULL);
        if (c == -1) return -1;
        if (c == 'h') {
            help();
            exit(0);
        }
        if (c == '?' || c == ':') option_error(c, argv);
        if (link_opts_parse(o, c, optarg)) continue;
        return c;
    }
}

bool ex_on_tap(const struct link_opts *o)
{
    if (o->tap) {
        link_opts_require_tap(o);
        return true;
    }
    if (o->have_addr || o->gw || o->have_mac || o->ctl)
        usage_error("--addr, --gw, --mac and --ctl need --tap (on the wire the addresses "
                    "are 10.0.0.x)");
    return false;
}

/* ---- helpers ---- */

struct sockaddr_in ex_sockaddr(uint32_t host, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(host);
    a.sin_port = htons(port);
    return a;
}

char *ex_addr_str(const struct sockaddr_in *a, char *buf)
{
    char ip[16];
    us_ip_str(ntohl(a->sin_addr.s_addr), ip);
    snprintf(buf, 24, "%s:%u", ip, ntohs(a->sin_port));
    return buf;
}

uint16_t ex_port(const char *s, const char *proto)
{
    char err[200];
    uint16_t port;
    if (parse_service(s, proto, &port, err, sizeof(err)) < 0) usage_error("%s", err);
    return port;
}

uint32_t ex_host(const char *s)
{
    char err[200];
    uint32_t addr;
    if (parse_host(s, &addr, err, sizeof(err)) < 0) usage_error("%s", err);
    return addr;
}

void ex_perror(struct us_stack *s, const char *call)
{
    fflush(stdout);
    fprintf(stderr, "%s: %s: %s\n", us_stack_name(s), call, strerror(errno));
}

int ex_set_rcvtimeo(struct us_stack *s, int fd, unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return us_setsockopt(s, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* ---- the baton ---- */

struct baton;

struct actor {
    struct baton *b;
    int idx;
    struct ex_part *part;
    struct us_stack *s;
    us_time_t deadline; /* of its blocked call, while it waits */
    bool pending;       /* has not run since the world last changed */
    bool done;          /* its part has returned */
    int rc;
    pthread_t thread;
};

struct baton {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct us_wire *w;
    int turn; /* the actor that may run; -1 when all are done */
    int n;
    struct actor a[EX_MAX_PARTS];
};

/* The next actor after `me`, in part order, that is pending; -1 if none. */
static int next_pending(const struct baton *b, int me)
{
    for (int k = 1; k <= b->n; k++) {
        int j = (me + k) % b->n;
        if (!b->a[j].done && b->a[j].pending) return j;
    }
    return -1;
}

/* Gives the baton to `to` and sleeps until it comes back to `me`. */
static void hand_over(struct baton *b, int me, int to)
{
    b->turn = to;
    pthread_cond_broadcast(&b->cv);
    while (b->turn != me) pthread_cond_wait(&b->cv, &b->mu);
}

static void all_pending(struct baton *b)
{
    for (int j = 0; j < b->n; j++) b->a[j].pending = !b->a[j].done;
}

static us_time_t baton_now(void *ctx)
{
    return us_wire_now(((struct actor *)ctx)->b->w);
}

/* The driver's wait(): see the comment at the top of this file. */
static int baton_wait(void *ctx, us_time_t until)
{
    struct actor *me = ctx;
    struct baton *b = me->b;
    int rc = 0;
    pthread_mutex_lock(&b->mu);
    me->deadline = until;
    me->pending = false;
    int j = next_pending(b, me->idx);
    if (j >= 0) {
        /* 1. Someone else may be able to move: let them. */
        hand_over(b, me->idx, j);
    } else {
        /* 2. Everyone is blocked: the world moves one step. */
        us_time_t t = US_TIME_NEVER;
        for (int k = 0; k < b->n; k++)
            if (!b->a[k].done && b->a[k].deadline < t) t = b->a[k].deadline;
        if (us_wire_step(b->w, t)) {
            all_pending(b);
            me->pending = false; /* it is about to look */
        } else {
            /* 3. Nothing is scheduled and nobody has a deadline. */
            bool clients_done = true;
            for (int k = 0; k < b->n; k++)
                if (!b->a[k].part->server && !b->a[k].done) clients_done = false;
            errno = me->part->server && clients_done ? EINTR : 0;
            rc = -1;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static void *actor_main(void *arg)
{
    struct actor *me = arg;
    struct baton *b = me->b;
    pthread_mutex_lock(&b->mu);
    while (b->turn != me->idx) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);

    me->rc = me->part->run(me->s, me->part->arg);

    /* Done: what it did may let the others move. */
    fflush(stdout);
    pthread_mutex_lock(&b->mu);
    me->done = true;
    all_pending(b);
    b->turn = next_pending(b, me->idx);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- the wire and its trace ---- */

struct wire_trace {
    struct us_seqrel *rel;
};

/* Each frame once, as it enters the wire, and what the wire did to it. */
static void on_wire_event(void *ctx, const struct us_wire_event *ev)
{
    struct wire_trace *t = ctx;
    char ts[32], line[512];
    if (ev->kind == US_WIRE_SEND) {
        us_trace_format(line, sizeof(line), ev->frame, ev->len, t->rel);
        printf("%s %s\n", us_trace_time(ts, sizeof(ts), ev->time), line);
    } else if (ev->kind == US_WIRE_DROP) {
        printf("%s   (the wire dropped that frame: %s)\n", us_trace_time(ts, sizeof(ts), ev->time),
               ev->reason);
    }
}

static int run_wire(const struct link_opts *o, struct ex_part *parts, int n)
{
    static struct baton b; /* the threads point into it */
    memset(&b, 0, sizeof(b));
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    b.n = n;
    b.w = us_wire_new(o->seed);
    if (!b.w) fail("out of memory creating the wire");

    struct us_pcap *pcap = NULL;
    char err[256];
    if (o->pcap && !(pcap = us_pcap_open(o->pcap, err, sizeof(err)))) fail("%s", err);
    struct us_state_log *slog = NULL;
    struct wire_trace trace = {0};
    if (o->trace) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        slog = us_state_log_new(stdout);
        trace.rel = us_seqrel_new();
        us_wire_observe(b.w, on_wire_event, &trace);
    }

    unsigned next_client = 0;
    for (int i = 0; i < n; i++) {
        struct actor *a = &b.a[i];
        a->b = &b;
        a->idx = i;
        a->part = &parts[i];
        a->pending = true;
        a->deadline = US_TIME_NEVER;
        struct us_stack_config cfg;
        us_stack_config_default(&cfg);
        cfg.name = parts[i].name;
        cfg.seed = o->seed * 16 + (uint64_t)i + 1; /* each stack its own stream */
        cfg.max_mtu = o->mtu;
        a->s = us_stack_new(&cfg);
        if (!a->s) fail("out of memory creating a stack");
        /* The server is 10.0.0.2; the clients 10.0.0.1, then 10.0.0.3, .4 ... */
        uint32_t addr = EX_SERVER_ADDR;
        if (!parts[i].server) {
            addr = next_client == 0 ? EX_CLIENT_ADDR : EX_SERVER_ADDR + next_client;
            next_client++;
        }
        struct us_iface_config ic = {.mac = {2, 0, 0, 0, 0, (uint8_t)(addr & 0xff)},
                                     .addr = addr,
                                     .prefix_len = 24,
                                     .mtu = o->mtu};
        int port = us_wire_attach(b.w, a->s, &ic);
        if (port < 0) fail("cannot attach to the wire: %s", strerror(-port));
        us_wire_set_faults(b.w, port, &o->faults);
        if (pcap) {
            struct us_observer ob = us_pcap_observer_out(pcap); /* each frame once */
            us_stack_observe(a->s, &ob);
        }
        if (slog) {
            struct us_observer ob = us_state_log_observer(slog);
            us_stack_observe(a->s, &ob);
        }
        /* Replaces the wire's own driver (us_wire_attach set it). */
        struct us_driver drv = {.now = baton_now, .wait = baton_wait, .ctx = a};
        us_stack_set_driver(a->s, &drv);
    }

    b.turn = 0; /* the first part (the server) goes first */
    for (int i = 0; i < n; i++)
        if (pthread_create(&b.a[i].thread, NULL, actor_main, &b.a[i]) != 0)
            fail("cannot create a thread");
    int rc = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(b.a[i].thread, NULL);
        if (!rc) rc = b.a[i].rc;
    }
    fflush(stdout);

    for (int i = 0; i < n; i++) us_stack_free(b.a[i].s);
    us_wire_free(b.w);
    us_pcap_close(pcap);
    us_state_log_free(slog);
    us_seqrel_free(trace.rel);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
    return rc;
}

/* ---- the TAP ---- */

static int run_tap(const struct link_opts *o, struct ex_part *part)
{
    struct session ss;
    setvbuf(stdout, NULL, _IOLBF, 0); /* a server's log appears as it happens */
    session_open(&ss, o, part->name); /* SIGINT/SIGTERM interrupt blocking calls */
    int rc = part->run(ss.s, part->arg);
    fflush(stdout);
    session_close(&ss);
    return rc;
}

int ex_run(const struct link_opts *o, struct ex_part *parts, int n, int mine)
{
    if (n > EX_MAX_PARTS) fail("too many parts (at most %d)", EX_MAX_PARTS);
    struct link_opts lo = *o;
    bool tap = ex_on_tap(&lo);
    /* A little delay makes the wire's trace readable (the demo's 5 ms); on
     * a TAP the real link has its own. */
    if (lo.faults.delay == US_TIME_NEVER) lo.faults.delay = tap ? 0 : US_MSEC(5);
    return tap ? run_tap(&lo, &parts[mine]) : run_wire(&lo, parts, n);
}
