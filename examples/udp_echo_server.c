/*
 * udp_echo_server.c: the classic UDP echo server -- no listen, no accept:
 * each datagram is answered on its own, to whoever sent it.
 *
 * The same calls as the Python version:
 *
 *     s = socket.socket(AF_INET, SOCK_DGRAM)    fd = us_socket(s, AF_INET, SOCK_DGRAM, 0)
 *     s.bind((HOST, PORT))                      us_bind(s, fd, &addr, sizeof(addr))
 *     while True:                               for (;;) {
 *         data, addr = s.recvfrom(2048)             n = us_recvfrom(s, fd, buf, 2048, 0, &pa, &l)
 *         s.sendto(data, addr)                      us_sendto(s, fd, buf, n, 0, &pa, l)
 *
 * One recvfrom() returns exactly one datagram, whatever its size: UDP keeps
 * message boundaries. By default it runs on the in-memory wire with
 * udp_client.c's client; with --tap it serves the kernel's side until Ctrl-C.
 */
#include <stdlib.h>

#include "common.h"
#include "parts.h"

int udp_echo_server(struct us_stack *s, void *arg)
{
    const struct udp_server_args *a = arg;
    int fd = us_socket(s, AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return ex_perror(s, "socket"), 1;
    struct sockaddr_in addr = ex_sockaddr(a->host, a->port);
    if (us_bind(s, fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) return ex_perror(s, "bind"), 1;
    char who[24];
    printf("%s: UDP on %s\n", us_stack_name(s), ex_addr_str(&addr, who));

    for (;;) {
        char buf[2048];
        struct sockaddr_in peer;
        socklen_t len = sizeof(peer);
        ssize_t n = us_recvfrom(s, fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len);
        if (n < 0) {
            if (errno == EINTR) break; /* Ctrl-C; on the wire: the client is done */
            ex_perror(s, "recvfrom");  /* e.g. ECONNREFUSED from an ICMP error: go on */
            continue;
        }
        printf("%s: %zd bytes from %s: \"%.*s\"%s\n", us_stack_name(s), n, ex_addr_str(&peer, who),
               n > 40 ? 40 : (int)n, buf, n > 40 ? "..." : "");
        if (us_sendto(s, fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len) < 0)
            ex_perror(s, "sendto");
    }
    us_close(s, fd);
    printf("%s: stopped\n", us_stack_name(s));
    return 0;
}

#ifndef EXAMPLE_NO_MAIN
static void help(void)
{
    printf("Usage: udp_echo_server [OPTIONS] [[HOST] PORT]\n\n"
           "The classic UDP echo server: bind to HOST (default: any address) and PORT (a\n"
           "number or a service name; default %d), then send every datagram back to its\n"
           "sender, unchanged.\n\n"
           "By default it runs on the in-memory wire (server 10.0.0.2, client 10.0.0.1,\n"
           "virtual time) together with udp_client's client, which sends the lines of\n"
           "stdin as datagrams. With --tap it serves the kernel's side until Ctrl-C:\n"
           "  udp_echo_server --tap tap0 --addr 10.0.0.2/24 50007\n"
           "  nc -u 10.0.0.2 50007\n\n" EX_OPTIONS_HELP,
           EX_DEFAULT_PORT);
}

int main(int argc, char **argv)
{
    struct link_opts o;
    while (ex_getopt(argc, argv, NULL, &o, help) != -1) continue;
    struct udp_server_args srv = {.host = 0, .port = EX_DEFAULT_PORT};
    int rest = argc - optind;
    if (rest > 2) usage_error("unexpected argument '%s'", argv[optind + 2]);
    if (rest == 2) srv.host = ex_host(argv[optind]);
    if (rest >= 1) srv.port = ex_port(argv[argc - 1], "udp");

    struct udp_client_args cli = {.host = EX_SERVER_ADDR, .port = srv.port, .timeout_ms = 1000};
    struct ex_part parts[] = {
        {.name = "server", .run = udp_echo_server, .arg = &srv, .server = true},
        {.name = "client", .run = udp_client, .arg = &cli},
    };
    return ex_run(&o, parts, 2, 0);
}
#endif
