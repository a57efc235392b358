/*
 * tcp_upper_server.c: the classic TCP server of every sockets course -- it
 * answers each client's message in upper case -- on ustack's socket API.
 *
 * The same calls as the Python version (socket HOWTO / docs example):
 *
 *     s = socket.socket(AF_INET, SOCK_STREAM)   fd = us_socket(s, AF_INET, SOCK_STREAM, 0)
 *     s.bind((HOST, PORT))                      us_bind(s, fd, &addr, sizeof(addr))
 *     s.listen(5)                               us_listen(s, fd, 5)
 *     while True:                               for (;;) {
 *         conn, addr = s.accept()                   c = us_accept(s, fd, &peer, &len)
 *         conn.settimeout(10)                       SO_RCVTIMEO 10 s
 *         data = conn.recv(1024)                    n = us_recv(s, c, buf, 1024, 0)
 *         conn.sendall(data.upper())                us_send(s, c, buf, n, 0)
 *         conn.close()                              us_close(s, c)
 *
 * Every call blocks, as in the textbook. By default the server runs on the
 * in-memory wire with tcp_client.c's client (the line it sends is read from
 * stdin); with --tap it serves the kernel's side until Ctrl-C.
 */
#include <ctype.h>
#include <stdlib.h>

#include "common.h"
#include "parts.h"

int tcp_upper_server(struct us_stack *s, void *arg)
{
    const struct tcp_server_args *a = arg;
    int fd = us_socket(s, AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return ex_perror(s, "socket"), 1;
    int one = 1; /* rebind at once after a restart, as every server does */
    us_setsockopt(s, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = ex_sockaddr(a->host, a->port);
    if (us_bind(s, fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) return ex_perror(s, "bind"), 1;
    if (us_listen(s, fd, 5) < 0) return ex_perror(s, "listen"), 1;
    char who[24];
    printf("%s: listening on %s\n", us_stack_name(s), ex_addr_str(&addr, who));

    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof(peer);
        int c = us_accept(s, fd, (struct sockaddr *)&peer, &len);
        if (c < 0) {
            if (errno == EINTR) break; /* Ctrl-C; on the wire: the clients are done */
            ex_perror(s, "accept");
            continue;
        }
        printf("%s: connection from %s\n", us_stack_name(s), ex_addr_str(&peer, who));
        ex_set_rcvtimeo(s, c, 10000); /* a silent client does not hold us forever */

        char buf[1024];
        ssize_t n = us_recv(s, c, buf, sizeof(buf), 0);
        if (n > 0) {
            for (ssize_t i = 0; i < n; i++) buf[i] = (char)toupper((unsigned char)buf[i]);
            if (us_send(s, c, buf, (size_t)n, 0) < 0)
                ex_perror(s, "send");
            else
                printf("%s: answered \"%.*s\"\n", us_stack_name(s), (int)n, buf);
        } else if (n == 0) {
            printf("%s: the client closed without a word\n", us_stack_name(s));
        } else {
            ex_perror(s, errno == EAGAIN ? "recv (nothing within 10 s)" : "recv");
        }
        us_close(s, c);
    }
    us_close(s, fd);
    printf("%s: stopped\n", us_stack_name(s));
    return 0;
}

#ifndef EXAMPLE_NO_MAIN
static void help(void)
{
    printf("Usage: tcp_upper_server [OPTIONS] [[HOST] PORT]\n\n"
           "The classic TCP server: bind to HOST (default: any address) and PORT (a number\n"
           "or a service name; default %d), listen(5), and for each client accept, recv,\n"
           "answer in upper case, close.\n\n"
           "By default it runs on the in-memory wire (server 10.0.0.2, client 10.0.0.1,\n"
           "virtual time) together with tcp_client's client, which sends a line read from\n"
           "stdin. With --tap it serves the kernel's side until Ctrl-C:\n"
           "  tcp_upper_server --tap tap0 --addr 10.0.0.2/24 50007\n"
           "  echo hello | nc 10.0.0.2 50007\n\n" EX_OPTIONS_HELP,
           EX_DEFAULT_PORT);
}

int main(int argc, char **argv)
{
    struct link_opts o;
    while (ex_getopt(argc, argv, NULL, &o, help) != -1) continue;
    struct tcp_server_args srv = {.host = 0, .port = EX_DEFAULT_PORT};
    int rest = argc - optind;
    if (rest > 2) usage_error("unexpected argument '%s'", argv[optind + 2]);
    if (rest == 2) srv.host = ex_host(argv[optind]);
    if (rest >= 1) srv.port = ex_port(argv[argc - 1], "tcp");

    struct tcp_client_args cli = {.host = EX_SERVER_ADDR, .port = srv.port, .line = NULL};
    struct ex_part parts[] = {
        {.name = "server", .run = tcp_upper_server, .arg = &srv, .server = true},
        {.name = "client", .run = tcp_client, .arg = &cli},
    };
    return ex_run(&o, parts, 2, 0);
}
#endif
