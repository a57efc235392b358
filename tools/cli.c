/*
 * cli.c: shared pieces of the `ustack` command (see cli.h).
 */
#include "cli.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

const char *prog_cmd = "ustack";

void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (try '%s --help')\n", prog_cmd);
    va_end(ap);
    exit(EXIT_USAGE);
}

void option_error(int c, char *const argv[])
{
    /* optind has moved past the offending word, unless it was a short
     * option inside a group ("-xS"); optopt names a short one. */
    const char *word = argv[optind - 1];
    char name[64];
    if (!strncmp(word, "--", 2))
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(word, "="), word);
    else if (optopt > ' ' && optopt < 127)
        snprintf(name, sizeof(name), "-%c", optopt);
    else
        snprintf(name, sizeof(name), "%s", word);
    if (c == ':') usage_error("option '%s' needs a value", name);
    if (strncmp(word, "--", 2) != 0) usage_error("unknown option '%s'", name);
    /* getopt_long() does not say which of these it was. */
    if (strchr(word, '='))
        usage_error("unknown option '%s', or one that takes no value", name);
    usage_error("unknown or ambiguous option '%s'", name);
}

void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

enum {
    OPT_TAP = LINKOPT_BASE,
    OPT_ADDR,
    OPT_GW,
    OPT_MAC,
    OPT_MTU,
    OPT_PCAP,
    OPT_TRACE,
    OPT_CTL,
    OPT_LOSS,
    OPT_DUP,
    OPT_REORDER,
    OPT_CORRUPT,
    OPT_DELAY,
    OPT_SEED,
    OPT_OFFLOAD,
    OPT_NO_OFFLOAD,
};

const struct option link_long_options[] = {
    {"tap", required_argument, 0, OPT_TAP},
    {"addr", required_argument, 0, OPT_ADDR},
    {"gw", required_argument, 0, OPT_GW},
    {"mac", required_argument, 0, OPT_MAC},
    {"mtu", required_argument, 0, OPT_MTU},
    {"pcap", required_argument, 0, OPT_PCAP},
    {"trace", no_argument, 0, OPT_TRACE},
    {"ctl", required_argument, 0, OPT_CTL},
    {"loss", required_argument, 0, OPT_LOSS},
    {"dup", required_argument, 0, OPT_DUP},
    {"reorder", required_argument, 0, OPT_REORDER},
    {"corrupt", required_argument, 0, OPT_CORRUPT},
    {"delay", required_argument, 0, OPT_DELAY},
    {"seed", required_argument, 0, OPT_SEED},
    {"offload", no_argument, 0, OPT_OFFLOAD},
    {"no-offload", no_argument, 0, OPT_NO_OFFLOAD},
    {0, 0, 0, 0},
};

const struct option *options_with_link(const struct option *own)
{
    static struct option all[64];
    size_t n = 0;
    for (const struct option *o = own; o && o->name; o++) all[n++] = *o;
    for (const struct option *o = link_long_options; o->name; o++) all[n++] = *o;
    memset(&all[n], 0, sizeof(all[n]));
    return all;
}

void link_opts_init(struct link_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mtu = 1500;
    o->seed = 1;
    o->offload = true;
}

int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!s || !*s || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max) return -1;
    *out = v;
    return 0;
}

int parse_percent(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0 && v <= 100)) return -1;
    *out = v;
    return 0;
}

int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned b[6];
    char tail;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) !=
        6)
        return -1;
    for (int i = 0; i < 6; i++) mac[i] = (uint8_t)b[i];
    if (mac[0] & 1) return -1; /* a multicast address cannot be a station's */
    return 0;
}

int parse_service(const char *s, const char *proto, uint16_t *port, char *err, size_t errlen)
{
    unsigned long long v;
    if (!s || !*s) {
        snprintf(err, errlen, "empty port");
        return -1;
    }
    if (isdigit((unsigned char)s[0])) {
        if (parse_uint(s, 65535, &v) < 0 || v == 0) {
            snprintf(err, errlen, "bad port '%s': expected 1..65535 or a service name", s);
            return -1;
        }
        *port = (uint16_t)v;
        return 0;
    }
    /* The services database, as the textbook programs use it; no table of
     * our own. */
    struct servent *se = getservbyname(s, proto);
    if (!se) {
        snprintf(err, errlen, "unknown service '%s' for %s (not in the services database, "
                 "/etc/services)", s, proto);
        return -1;
    }
    *port = ntohs((uint16_t)se->s_port);
    return 0;
}

int parse_host(const char *s, uint32_t *addr, char *err, size_t errlen)
{
    if (!s || !*s) {
        snprintf(err, errlen, "empty host");
        return -1;
    }
    if (us_ip_parse(s, addr) == 0) return 0;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(s, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve host '%s': %s", s,
                 rc ? gai_strerror(rc) : "no IPv4 address");
        return -1;
    }
    *addr = ntohl(((const struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr);
    freeaddrinfo(res);
    return 0;
}

int parse_addr_prefix(const char *s, uint32_t *addr, unsigned *prefix)
{
    char buf[32];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof(buf)) return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = 0;
    unsigned long long p;
    if (us_ip_parse(buf, addr) < 0 || parse_uint(slash + 1, 32, &p) < 0 || p < 1) return -1;
    *prefix = (unsigned)p;
    return 0;
}

int link_opts_parse(struct link_opts *o, int opt, const char *arg)
{
    unsigned long long v;
    double pct;
    switch (opt) {
    case OPT_TAP:
        if (!*arg || strlen(arg) > 15) usage_error("bad --tap '%s': 1 to 15 characters", arg);
        o->tap = arg;
        return 1;
    case OPT_ADDR:
        if (parse_addr_prefix(arg, &o->addr, &o->prefix) < 0)
            usage_error("bad --addr '%s': expected A.B.C.D/NN, e.g. 10.0.0.2/24", arg);
        o->have_addr = true;
        return 1;
    case OPT_GW:
        if (us_ip_parse(arg, &o->gw) < 0) usage_error("bad --gw '%s': expected A.B.C.D", arg);
        return 1;
    case OPT_MAC:
        if (parse_mac(arg, o->mac) < 0)
            usage_error("bad --mac '%s': expected a unicast MAC like 02:00:00:00:00:02", arg);
        o->have_mac = true;
        return 1;
    case OPT_MTU:
        if (parse_uint(arg, 65535, &v) < 0 || v < 576)
            usage_error("bad --mtu '%s': expected 576..65535", arg);
        o->mtu = (unsigned)v;
        return 1;
    case OPT_PCAP:
        o->pcap = arg;
        return 1;
    case OPT_TRACE:
        o->trace = true;
        return 1;
    case OPT_OFFLOAD:
        o->offload = true;
        return 1;
    case OPT_NO_OFFLOAD:
        o->offload = false;
        return 1;
    case OPT_CTL:
        o->ctl = arg;
        return 1;
    case OPT_LOSS:
    case OPT_DUP:
    case OPT_REORDER:
    case OPT_CORRUPT:
        if (parse_percent(arg, &pct) < 0)
            usage_error("bad --%s '%s': expected a percentage 0..100",
                        link_long_options[opt - LINKOPT_BASE].name, arg);
        if (opt == OPT_LOSS) o->faults.loss = pct;
        if (opt == OPT_DUP) o->faults.dup = pct;
        if (opt == OPT_REORDER) o->faults.reorder = pct;
        if (opt == OPT_CORRUPT) o->faults.corrupt = pct;
        return 1;
    case OPT_DELAY:
        if (parse_uint(arg, 100000, &v) < 0)
            usage_error("bad --delay '%s': expected milliseconds 0..100000", arg);
        o->faults.delay = US_MSEC(v);
        return 1;
    case OPT_SEED:
        if (parse_uint(arg, UINT64_MAX, &v) < 0) usage_error("bad --seed '%s': expected a number", arg);
        o->seed = v;
        return 1;
    default:
        return 0;
    }
}

void link_opts_require_tap(const struct link_opts *o)
{
    if (!o->tap) usage_error("--tap IFNAME is required");
    if (!o->have_addr) usage_error("--addr A.B.C.D/NN is required");
}

/* ---- session ---- */

static struct session *signalled;

static void on_signal(int sig)
{
    (void)sig;
    if (signalled && signalled->loop) us_loop_stop(signalled->loop);
}

void session_catch_signals(struct session *ss)
{
    signalled = ss;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void session_open(struct session *ss, const struct link_opts *o, const char *name)
{
    memset(ss, 0, sizeof(*ss));
    char err[256];
    ss->tap = us_tap_open_ex(o->tap, o->mtu, o->offload ? US_TAP_OFFLOAD : 0, err, sizeof(err));
    if (!ss->tap) fail("%s", err);
    if (o->offload && !us_tap_offloaded(ss->tap))
        fprintf(stderr, "ustack: note: this kernel's TAP has no offloads; one frame per write\n");

    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.name = name;
    cfg.seed = o->seed;
    /* Packet buffers big enough for the 64 KiB frames the TAP segments. */
    cfg.max_mtu = o->offload ? 65535 : o->mtu;
    ss->s = us_stack_new(&cfg);
    if (!ss->s) fail("out of memory creating the stack");

    struct us_iface_config ic = {.addr = o->addr, .prefix_len = o->prefix, .mtu = o->mtu};
    if (o->have_mac) {
        memcpy(ic.mac, o->mac, 6);
    } else {
        /* Locally administered, derived from the address: stable across runs. */
        uint8_t m[6] = {0x02, 0x75, (uint8_t)(o->addr >> 24), (uint8_t)(o->addr >> 16),
                        (uint8_t)(o->addr >> 8), (uint8_t)o->addr};
        memcpy(ic.mac, m, 6);
    }
    ss->iface = us_stack_add_iface(ss->s, ss->tap, &ic);
    if (ss->iface < 0) fail("cannot add the interface: %s", strerror(-ss->iface));
    if (o->gw && us_stack_set_gateway(ss->s, o->gw) < 0)
        usage_error("--gw must be inside --addr's network");

    if (o->pcap) {
        ss->pcap = us_pcap_open(o->pcap, err, sizeof(err));
        if (!ss->pcap) fail("%s", err);
        struct us_observer ob = us_pcap_observer(ss->pcap);
        us_stack_observe(ss->s, &ob);
    }
    if (o->trace) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        ss->trace = us_text_trace_new(stdout, 0);
        struct us_observer ob = us_text_trace_observer(ss->trace);
        us_stack_observe(ss->s, &ob);
        ss->statelog = us_state_log_new(stdout);
        ob = us_state_log_observer(ss->statelog);
        us_stack_observe(ss->s, &ob);
    }
    ss->loop = us_loop_new(ss->s, ss->tap, ss->iface, &o->faults, &o->faults, o->seed);
    if (!ss->loop) fail("out of memory creating the loop");
    session_catch_signals(ss);

    /* The control socket for `ustack stat`. Asked for by path, it must
     * work; the default place failing only costs the stat, so say so and
     * carry on with the job. */
    const char *sub = strncmp(prog_cmd, "ustack ", 7) == 0 ? prog_cmd + 7 : prog_cmd;
    struct stat_origin origin = {.pid = (long)getpid(),
                                 .command = sub,
                                 .tap = o->tap,
                                 .addr = o->addr,
                                 .prefix = o->prefix,
                                 .started = us_loop_now(ss->loop)};
    ss->ctl = ctl_open(o->ctl, ss->loop, ss->s, &origin, err, sizeof(err));
    if (!ss->ctl && o->ctl) fail("%s", err);
    if (!ss->ctl)
        fprintf(stderr, "%s: warning: %s; `ustack stat` will not reach this process\n", prog_cmd,
                err);
    us_stack_start(ss->s, us_loop_now(ss->loop));
}

void session_close(struct session *ss)
{
    ctl_close(ss->ctl);
    if (ss->pcap) us_pcap_flush(ss->pcap);
    us_loop_free(ss->loop);
    us_stack_free(ss->s);
    us_pcap_close(ss->pcap);
    us_text_trace_free(ss->trace);
    us_state_log_free(ss->statelog);
    us_tap_close(ss->tap);
    if (signalled == ss) signalled = NULL;
    memset(ss, 0, sizeof(*ss));
}
