/*
 * cmd_echo.c: `ustack echo`: a TCP (or, with --udp, UDP) echo server on a
 * TAP. With --upper it answers in upper case, like the classic classroom
 * example. Event-driven over us_poll(), so any number of clients at once.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_CLIENTS 256
#define BUF 65536

struct client {
    int fd;
    uint8_t buf[BUF];
    size_t len;      /* bytes waiting to be sent back */
    bool eof;        /* the client shut its sending side */
};

static void help(void)
{
    printf("Usage: ustack echo [--upper] [--udp] [--port P] --tap IFNAME --addr A.B.C.D/NN "
           "[options]\n\n"
           "An echo server on ustack: what a client sends comes back (in upper case\n"
           "with --upper). TCP by default; --udp echoes datagrams instead.\n\n"
           "  --port P    port or service name to listen on (default 7, echo)\n"
           "  --upper     answer in upper case (default: as sent)\n"
           "  --udp       UDP instead of TCP (default: TCP)\n\n" LINK_OPTIONS_HELP);
}

static void transform(uint8_t *b, size_t n, bool upper)
{
    if (!upper) return;
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)toupper(b[i]);
}

static int serve_udp(struct session *ss, uint16_t port, bool upper)
{
    struct us_stack *s = ss->s;
    int fd = us_socket(s, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (us_bind(s, fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        fail("cannot bind UDP port %u: %s (choose another with --port)", port, strerror(errno));
    fprintf(stderr, "ustack echo: UDP port %u\n", port);
    static uint8_t buf[BUF];
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = us_recvfrom(s, fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == EINTR || us_loop_stopped(ss->loop)) break;
            if (errno == ECONNREFUSED) continue;
            fail("recvfrom: %s", strerror(errno));
        }
        transform(buf, (size_t)n, upper);
        us_sendto(s, fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
    us_close(s, fd);
    return 0;
}

static int serve_tcp(struct session *ss, uint16_t port, bool upper)
{
    struct us_stack *s = ss->s;
    int l = us_socket(s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    us_setsockopt(s, l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (us_bind(s, l, (struct sockaddr *)&a, sizeof(a)) < 0)
        fail("cannot bind TCP port %u: %s (choose another with --port)", port, strerror(errno));
    if (us_listen(s, l, 128) < 0) fail("listen: %s", strerror(errno));
    fprintf(stderr, "ustack echo: TCP port %u%s\n", port, upper ? " (upper case)" : "");

    struct client *cl[MAX_CLIENTS] = {0};
    unsigned n = 0;
    while (!us_loop_stopped(ss->loop)) {
        struct pollfd pf[1 + MAX_CLIENTS];
        pf[0] = (struct pollfd){.fd = l, .events = POLLIN};
        for (unsigned i = 0; i < n; i++)
            pf[1 + i] = (struct pollfd){.fd = cl[i]->fd,
                                        .events = (short)(cl[i]->len ? POLLOUT : POLLIN)};
        if (us_poll(s, pf, 1 + n, -1) < 0) {
            if (errno == EINTR) break;
            fail("poll: %s", strerror(errno));
        }
        if (pf[0].revents & POLLIN) {
            int c;
            while (n < MAX_CLIENTS && (c = us_accept4(s, l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                cl[n] = calloc(1, sizeof(struct client));
                if (!cl[n]) {
                    us_close(s, c);
                    break;
                }
                cl[n++]->fd = c;
            }
        }
        for (unsigned i = 0; i < n;) {
            struct client *c = cl[i];
            bool done = false;
            if (c->len) {
                ssize_t w = us_send(s, c->fd, c->buf, c->len, 0);
                if (w > 0) {
                    memmove(c->buf, c->buf + w, c->len - (size_t)w);
                    c->len -= (size_t)w;
                } else if (w < 0 && errno != EAGAIN) {
                    done = true;
                }
            }
            if (!done && !c->len && !c->eof) {
                ssize_t r = us_recv(s, c->fd, c->buf, sizeof(c->buf), 0);
                if (r > 0) {
                    c->len = (size_t)r;
                    transform(c->buf, c->len, upper);
                } else if (r == 0) {
                    c->eof = true;
                } else if (errno != EAGAIN) {
                    done = true;
                }
            }
            /* The client finished sending and has everything back: close,
             * which sends our FIN (its FIN was acknowledged already). */
            if (c->eof && !c->len) done = true;
            if (done) {
                us_close(s, c->fd);
                free(c);
                cl[i] = cl[--n];
                continue;
            }
            i++;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        us_close(s, cl[i]->fd);
        free(cl[i]);
    }
    us_close(s, l);
    return 0;
}

int cmd_echo(int argc, char **argv)
{
    static const struct option own[] = {{"help", no_argument, 0, 'h'},
                                        {"port", required_argument, 0, 'p'},
                                        {"upper", no_argument, 0, 'u'},
                                        {"udp", no_argument, 0, 'U'},
                                        {0, 0, 0, 0}};
    const struct option *opts = options_with_link(own);
    struct link_opts lo;
    link_opts_init(&lo);
    const char *port_arg = NULL;
    uint16_t port = 7;
    bool upper = false, udp = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hp:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'p':
            port_arg = optarg; /* resolved below, once --udp is known */
            break;
        case 'u':
            upper = true;
            break;
        case 'U':
            udp = true;
            break;
        case '?':
        case ':':
            option_error(c, argv);
        default:
            if (!link_opts_parse(&lo, c, optarg)) usage_error("unexpected option");
        }
    }
    if (optind < argc) usage_error("unexpected argument '%s'", argv[optind]);
    if (port_arg) {
        char err[160];
        if (parse_service(port_arg, udp ? "udp" : "tcp", &port, err, sizeof(err)) < 0)
            usage_error("bad --port: %s", err);
    }
    link_opts_require_tap(&lo);
    struct session ss;
    session_open(&ss, &lo, "echo");
    int rc = udp ? serve_udp(&ss, (uint16_t)port, upper) : serve_tcp(&ss, (uint16_t)port, upper);
    session_close(&ss);
    return rc;
}
