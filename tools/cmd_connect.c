/*
 * cmd_connect.c: `ustack connect HOST PORT`: like `nc`, over ustack. Standard
 * input goes to the connection (EOF shuts down our sending side), the
 * connection goes to standard output. Exit 0 when the peer closes; 1 with
 * one line on ECONNREFUSED, ECONNRESET, ETIMEDOUT.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void help(void)
{
    printf("Usage: ustack connect HOST PORT --tap IFNAME --addr A.B.C.D/NN [options]\n\n"
           "Connects to HOST:PORT over ustack; stdin goes to the connection, the\n"
           "connection to stdout (like nc). Exits 0 when the peer closes. HOST may\n"
           "be a name (getaddrinfo), PORT a service name (/etc/services).\n\n"
           "  --timeout S   give up connecting after S seconds (default: when the SYN\n"
           "                retries run out, about 2 minutes)\n"
           "  --keepalive IDLE[,INTVL[,CNT]]\n"
           "                SO_KEEPALIVE with these seconds and count (default: off)\n"
           "  --udp         UDP: each line of stdin is one datagram; replies are printed\n\n"
           LINK_OPTIONS_HELP);
}

struct conn_ctx {
    struct us_stack *s;
    int fd;
    struct us_loop *loop;
    bool stdin_eof;
    bool watching;
    uint8_t pending[65536]; /* read from stdin, not yet taken by the socket */
    size_t plen;
};

/* Sends what is pending without blocking (we run inside the loop here). */
static void flush_pending(struct conn_ctx *c)
{
    while (c->plen) {
        ssize_t w = us_send(c->s, c->fd, c->pending, c->plen, MSG_DONTWAIT);
        if (w <= 0) return;
        memmove(c->pending, c->pending + w, c->plen - (size_t)w);
        c->plen -= (size_t)w;
    }
    if (c->stdin_eof) us_shutdown(c->s, c->fd, SHUT_WR);
}

/* Called by the loop when stdin is readable. */
static void on_stdin(void *arg, int fd)
{
    struct conn_ctx *c = arg;
    ssize_t n = read(fd, c->pending + c->plen, sizeof(c->pending) - c->plen);
    if (n > 0) {
        c->plen += (size_t)n;
    } else {
        c->stdin_eof = true;
    }
    if (c->stdin_eof || c->plen == sizeof(c->pending)) {
        us_loop_unwatch(c->loop, fd);
        c->watching = false;
    }
    flush_pending(c);
}

static const char *describe(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return "connection refused";
    case ECONNRESET:
        return "connection reset by peer";
    case ETIMEDOUT:
        return "connection timed out";
    case ENETUNREACH:
        return "network unreachable (check --addr and --gw)";
    default:
        return strerror(err);
    }
}

/* UDP: each stdin line is a datagram (without its newline); each reply is
 * printed on a line. A port unreachable answer ends it with exit 1. */
static int run_udp(struct session *ss, uint32_t host, uint16_t port, const char *name)
{
    struct us_stack *s = ss->s;
    int fd = us_socket(s, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(host)};
    if (us_connect(s, fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        fprintf(stderr, "ustack connect: %s:%u: %s\n", name, port, describe(errno));
        return 1;
    }
    struct timeval tv = {.tv_sec = 2};
    us_setsockopt(s, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char line[65536];
    int rc = 0;
    while (fgets(line, sizeof(line), stdin)) {
        size_t n = strcspn(line, "\n");
        if (us_send(s, fd, line, n, 0) < 0) {
            fprintf(stderr, "ustack connect: %s:%u: %s\n", name, port, describe(errno));
            rc = 1;
            break;
        }
        char reply[65536];
        ssize_t r = us_recv(s, fd, reply, sizeof(reply), 0);
        if (r < 0) {
            fprintf(stderr, "ustack connect: %s:%u: %s\n", name, port,
                    errno == EAGAIN ? "no reply within 2 s" : describe(errno));
            rc = 1;
            break;
        }
        fwrite(reply, 1, (size_t)r, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    us_close(s, fd);
    return rc;
}

int cmd_connect(int argc, char **argv)
{
    static const struct option own[] = {{"help", no_argument, 0, 'h'},
                                        {"timeout", required_argument, 0, 't'},
                                        {"keepalive", required_argument, 0, 'k'},
                                        {"udp", no_argument, 0, 'U'},
                                        {0, 0, 0, 0}};
    unsigned keep[3] = {0, 0, 0};
    bool udp = false;
    const struct option *opts = options_with_link(own);
    struct link_opts lo;
    link_opts_init(&lo);
    unsigned long long timeout = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return 0;
        }
        if (c == 't') {
            if (parse_uint(optarg, 86400, &timeout) < 0)
                usage_error("bad --timeout '%s': expected seconds", optarg);
            continue;
        }
        if (c == 'U') {
            udp = true;
            continue;
        }
        if (c == 'k') {
            int n = sscanf(optarg, "%u,%u,%u", &keep[0], &keep[1], &keep[2]);
            if (n < 1 || !keep[0] || keep[0] > 32767 || (n > 1 && (!keep[1] || keep[1] > 32767)) ||
                (n > 2 && (!keep[2] || keep[2] > 127)))
                usage_error("bad --keepalive '%s': expected IDLE[,INTVL[,CNT]] in seconds", optarg);
            continue;
        }
        if (c == '?' || c == ':') option_error(c, argv);
        if (!link_opts_parse(&lo, c, optarg)) usage_error("unexpected option");
    }
    if (argc - optind != 2) usage_error("expected HOST and PORT");
    uint32_t host;
    uint16_t port;
    char err[160];
    if (parse_host(argv[optind], &host, err, sizeof(err)) < 0) usage_error("%s", err);
    if (parse_service(argv[optind + 1], udp ? "udp" : "tcp", &port, err, sizeof(err)) < 0)
        usage_error("%s", err);
    link_opts_require_tap(&lo);

    struct session ss;
    session_open(&ss, &lo, "connect");
    struct us_stack *s = ss.s;
    if (udp) {
        int rc = run_udp(&ss, host, (uint16_t)port, argv[optind]);
        session_close(&ss);
        return rc;
    }
    int fd = us_socket(s, AF_INET, SOCK_STREAM, 0);
    if (keep[0]) {
        int one = 1, v;
        us_setsockopt(s, fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        v = (int)keep[0];
        us_setsockopt(s, fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
        if (keep[1]) {
            v = (int)keep[1];
            us_setsockopt(s, fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v));
        }
        if (keep[2]) {
            v = (int)keep[2];
            us_setsockopt(s, fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
        }
    }
    if (timeout) {
        struct timeval tv = {.tv_sec = (time_t)timeout};
        us_setsockopt(s, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(host)};
    int rc = 0;
    if (us_connect(s, fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno == EINPROGRESS ? ETIMEDOUT : errno;
        /* Ctrl-C while connecting: stop quietly, as for an established one. */
        if (e != EINTR)
            fprintf(stderr, "ustack connect: %s:%u: %s\n", argv[optind], (unsigned)port, describe(e));
        session_close(&ss);
        return e == EINTR ? 130 : 1;
    }
    static struct conn_ctx ctx;
    ctx.s = s;
    ctx.fd = fd;
    ctx.loop = ss.loop;
    ctx.watching = us_loop_watch(ss.loop, STDIN_FILENO, on_stdin, &ctx) == 0;
    uint8_t buf[65536];
    for (;;) {
        /* Wake for data from the peer, for room to send what stdin gave, and
         * now and then to pick up what the stdin callback left pending. */
        struct pollfd pf = {.fd = fd, .events = (short)(POLLIN | (ctx.plen ? POLLOUT : 0))};
        if (us_poll(s, &pf, 1, ctx.plen ? -1 : 200) < 0) {
            rc = errno == EINTR ? 130 : 1;
            break;
        }
        if (pf.revents & POLLOUT) {
            flush_pending(&ctx);
            if (!ctx.watching && !ctx.stdin_eof && ctx.plen < sizeof(ctx.pending) / 2)
                ctx.watching = us_loop_watch(ss.loop, STDIN_FILENO, on_stdin, &ctx) == 0;
        }
        if (!(pf.revents & (POLLIN | POLLERR | POLLHUP))) continue;
        ssize_t n = us_recv(s, fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN) continue;
        if (n > 0) {
            if (write(STDOUT_FILENO, buf, (size_t)n) < 0) break;
            continue;
        }
        if (n == 0) break;
        if (errno == EINTR) {
            rc = 130;
            break;
        }
        fprintf(stderr, "ustack connect: %s:%u: %s\n", argv[optind], (unsigned)port, describe(errno));
        rc = 1;
        break;
    }
    us_loop_unwatch(ss.loop, STDIN_FILENO);
    us_close(s, fd);
    /* Let our FIN and the last ACK go out before the stack disappears. */
    us_loop_run_until(ss.loop, us_loop_now(ss.loop) + US_MSEC(200));
    session_close(&ss);
    return rc;
}
