/*
 * nonblocking_server.c: the upper-case service of tcp_upper_server.c for
 * many clients at once, in one thread: non-blocking sockets and us_poll(),
 * as in the select()/selectors chapter of every sockets course.
 *
 * The same steps as the Python version (selectors):
 *
 *     lsock.setblocking(False)                    SOCK_NONBLOCK
 *     sel.register(lsock, EVENT_READ)             pollfd {listener, POLLIN}
 *     while True:                                 for (;;) {
 *         for key, mask in sel.select():              us_poll(s, fds, n, -1)
 *             if key.fileobj is lsock:                if (listener readable)
 *                 conn, addr = lsock.accept()             us_accept4(..., SOCK_NONBLOCK)
 *             elif mask & EVENT_READ:                 if (client readable)
 *                 data = sock.recv(1024)                  us_recv(): data, or 0 = closed
 *                 if data: outb += data.upper()
 *                 else: sel.unregister(sock); sock.close()
 *             elif mask & EVENT_WRITE:                if (client writable)
 *                 sent = sock.send(outb)                  us_send(): maybe only part
 *                 outb = outb[sent:]
 *
 * No call ever blocks except us_poll(), so one slow client cannot hold up
 * the others. By default it runs on the in-memory wire with several of
 * tcp_client.c's clients at once (--clients N); with --tap it serves the
 * kernel's side until Ctrl-C.
 */
#include <ctype.h>
#include <stdlib.h>

#include "common.h"
#include "parts.h"

#define MAX_CLIENTS 64

struct client {
    int fd;
    char out[4096]; /* answers not yet sent */
    size_t len;
    bool eof; /* the client closed its side: close ours once `out` is sent */
};

struct nb_server_args {
    uint32_t host;
    uint16_t port;
};

/* Sends what it can of c->out without blocking. */
static void flush_out(struct us_stack *s, struct client *c)
{
    ssize_t n = us_send(s, c->fd, c->out, c->len, 0);
    if (n > 0) {
        memmove(c->out, c->out + n, c->len - (size_t)n);
        c->len -= (size_t)n;
    } else if (n < 0 && errno != EAGAIN) {
        ex_perror(s, "send");
        c->len = 0;
        c->eof = true;
    }
}

/* Reads what arrived; the answer (upper case) goes to c->out. */
static void read_in(struct us_stack *s, struct client *c)
{
    char buf[1024];
    size_t room = sizeof(c->out) - c->len;
    if (room == 0) return; /* answers pile up unsent: read again once they are out */
    ssize_t n = us_recv(s, c->fd, buf, room < sizeof(buf) ? room : sizeof(buf), 0);
    if (n > 0) {
        for (ssize_t i = 0; i < n; i++) c->out[c->len++] = (char)toupper((unsigned char)buf[i]);
        printf("%s: fd %d: got \"%.*s\"\n", us_stack_name(s), c->fd, (int)n, buf);
    } else if (n == 0) {
        c->eof = true; /* end of stream */
    } else if (errno != EAGAIN) {
        ex_perror(s, "recv");
        c->eof = true;
        c->len = 0;
    }
}

static int nonblocking_server(struct us_stack *s, void *arg)
{
    const struct nb_server_args *a = arg;
    int lfd = us_socket(s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (lfd < 0) return ex_perror(s, "socket"), 1;
    int one = 1;
    us_setsockopt(s, lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = ex_sockaddr(a->host, a->port);
    if (us_bind(s, lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0) return ex_perror(s, "bind"), 1;
    if (us_listen(s, lfd, 16) < 0) return ex_perror(s, "listen"), 1;
    char who[24];
    printf("%s: listening on %s (non-blocking)\n", us_stack_name(s), ex_addr_str(&addr, who));

    static struct client cl[MAX_CLIENTS];
    int n = 0;
    for (;;) {
        /* What we wait for: new connections; each client's data (while we
         * have room for the answer) and room to send (while answers wait). */
        struct pollfd pf[1 + MAX_CLIENTS];
        pf[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int i = 0; i < n; i++) {
            pf[1 + i] = (struct pollfd){.fd = cl[i].fd, .events = 0};
            if (!cl[i].eof && cl[i].len < sizeof(cl[i].out)) pf[1 + i].events |= POLLIN;
            if (cl[i].len) pf[1 + i].events |= POLLOUT;
        }
        if (us_poll(s, pf, (nfds_t)(1 + n), -1) < 0) {
            if (errno == EINTR) break; /* Ctrl-C; on the wire: the clients are done */
            ex_perror(s, "poll");
            break;
        }

        for (int i = 0; i < n; i++) {
            if (pf[1 + i].revents & (POLLIN | POLLHUP | POLLERR)) read_in(s, &cl[i]);
            if (cl[i].len) flush_out(s, &cl[i]);
        }
        /* Close the clients that are done; keep the others in order. */
        int kept = 0;
        for (int i = 0; i < n; i++) {
            if (cl[i].eof && cl[i].len == 0) {
                us_close(s, cl[i].fd);
                printf("%s: fd %d closed (%d open)\n", us_stack_name(s), cl[i].fd,
                       n - 1 - (i - kept));
                continue;
            }
            cl[kept++] = cl[i];
        }
        n = kept;

        if (pf[0].revents & POLLIN) {
            /* Every connection waiting, not just one: accept until EAGAIN. */
            for (;;) {
                struct sockaddr_in peer;
                socklen_t len = sizeof(peer);
                int fd = us_accept4(s, lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK);
                if (fd < 0) break;
                if (n == MAX_CLIENTS) {
                    us_close(s, fd); /* full: the client sees the connection end */
                    continue;
                }
                cl[n++] = (struct client){.fd = fd};
                printf("%s: fd %d: connection from %s (%d open)\n", us_stack_name(s), fd,
                       ex_addr_str(&peer, who), n);
            }
        }
    }
    for (int i = 0; i < n; i++) us_close(s, cl[i].fd);
    us_close(s, lfd);
    printf("%s: stopped\n", us_stack_name(s));
    return 0;
}

static void help(void)
{
    printf("Usage: nonblocking_server [OPTIONS] [[HOST] PORT]\n\n"
           "tcp_upper_server's service for many clients at once: non-blocking sockets and\n"
           "us_poll() in one thread. Binds to HOST (default: any address) and PORT (a\n"
           "number or a service name; default %d); answers whatever each client sends in\n"
           "upper case and closes when the client does.\n\n"
           "By default it runs on the in-memory wire (server 10.0.0.2, virtual time) with\n"
           "several of tcp_client's clients connected at once, each sending its own line.\n"
           "With --tap it serves the kernel's side until Ctrl-C:\n"
           "  nonblocking_server --tap tap0 --addr 10.0.0.2/24 50007\n\n"
           "  --clients N    clients on the wire, 1..%d (default 3)\n\n" EX_OPTIONS_HELP,
           EX_DEFAULT_PORT, EX_MAX_PARTS - 1);
}

int main(int argc, char **argv)
{
    static const struct option own[] = {{"clients", required_argument, 0, 'c'}, {0, 0, 0, 0}};
    struct link_opts o;
    unsigned long long nclients = 3;
    int c;
    while ((c = ex_getopt(argc, argv, own, &o, help)) != -1) {
        if (c == 'c' && (parse_uint(optarg, EX_MAX_PARTS - 1, &nclients) < 0 || nclients == 0))
            usage_error("bad --clients '%s': expected 1..%d", optarg, EX_MAX_PARTS - 1);
    }
    struct nb_server_args srv = {.host = 0, .port = EX_DEFAULT_PORT};
    int rest = argc - optind;
    if (rest > 2) usage_error("unexpected argument '%s'", argv[optind + 2]);
    if (rest == 2) srv.host = ex_host(argv[optind]);
    if (rest >= 1) srv.port = ex_port(argv[argc - 1], "tcp");

    struct ex_part parts[EX_MAX_PARTS] = {
        {.name = "server", .run = nonblocking_server, .arg = &srv, .server = true},
    };
    static char names[EX_MAX_PARTS][16], lines[EX_MAX_PARTS][32];
    static struct tcp_client_args cli[EX_MAX_PARTS];
    for (int i = 1; i <= (int)nclients; i++) {
        snprintf(names[i], sizeof(names[i]), "client%d", i);
        snprintf(lines[i], sizeof(lines[i]), "hello from client %d", i);
        cli[i] =
            (struct tcp_client_args){.host = EX_SERVER_ADDR, .port = srv.port, .line = lines[i]};
        parts[i] = (struct ex_part){.name = names[i], .run = tcp_client, .arg = &cli[i]};
    }
    return ex_run(&o, parts, 1 + (int)nclients, 0);
}
