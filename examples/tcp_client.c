/*
 * tcp_client.c: the classic TCP client -- read a line, send it, print the
 * answer, close -- on ustack's socket API.
 *
 * The same calls as the Python version:
 *
 *     s = socket.socket(AF_INET, SOCK_STREAM)   fd = us_socket(s, AF_INET, SOCK_STREAM, 0)
 *     s.settimeout(5)                           SO_RCVTIMEO 5 s
 *     s.connect((HOST, PORT))                   us_connect(s, fd, &addr, sizeof(addr))
 *     s.sendall(line)                           us_send(s, fd, line, len, 0)
 *     data = s.recv(1024)                       n = us_recv(s, fd, buf, 1024, 0)
 *     print('Received', data)                   printf(...)
 *     s.close()                                 us_close(s, fd)
 *
 * By default it runs on the in-memory wire against tcp_upper_server.c's
 * server; with --tap it talks to HOST on the kernel's side.
 */
#include <stdlib.h>

#include "common.h"
#include "parts.h"

int tcp_client(struct us_stack *s, void *arg)
{
    const struct tcp_client_args *a = arg;
    char line[1024] = "Hello, world";
    if (!a->line) {
        if (fgets(line, sizeof(line), stdin)) line[strcspn(line, "\r\n")] = 0;
    } else {
        snprintf(line, sizeof(line), "%s", a->line);
    }

    int fd = us_socket(s, AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return ex_perror(s, "socket"), 1;
    ex_set_rcvtimeo(s, fd, 5000); /* recv() gives up after 5 s (EAGAIN) */
    struct sockaddr_in addr = ex_sockaddr(a->host, a->port);
    char who[24];
    if (us_connect(s, fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        char call[48];
        snprintf(call, sizeof(call), "connect to %s", ex_addr_str(&addr, who));
        ex_perror(s, call);
        us_close(s, fd);
        return 1;
    }
    printf("%s: connected to %s, sending \"%s\"\n", us_stack_name(s), ex_addr_str(&addr, who),
           line);
    if (us_send(s, fd, line, strlen(line), 0) < 0) {
        ex_perror(s, "send");
        us_close(s, fd);
        return 1;
    }
    char buf[1024];
    ssize_t n = us_recv(s, fd, buf, sizeof(buf), 0);
    int rc = 0;
    if (n > 0) {
        printf("%s: received \"%.*s\"\n", us_stack_name(s), (int)n, buf);
    } else if (n == 0) {
        printf("%s: the server closed without answering\n", us_stack_name(s));
        rc = 1;
    } else {
        ex_perror(s, errno == EAGAIN ? "recv (no answer within 5 s)" : "recv");
        rc = 1;
    }
    us_close(s, fd);
    return rc;
}

#ifndef EXAMPLE_NO_MAIN
static void help(void)
{
    printf("Usage: tcp_client [OPTIONS] [HOST [PORT]]\n\n"
           "The classic TCP client: connect to HOST (a name or an address) and PORT (a\n"
           "number or a service name; default %d), send one line read from stdin\n"
           "(\"Hello, world\" if stdin is empty), print the answer, close.\n\n"
           "By default it runs on the in-memory wire (client 10.0.0.1, server 10.0.0.2,\n"
           "virtual time) against tcp_upper_server's server:\n"
           "  echo hello | tcp_client --trace\n"
           "With --tap, HOST is on the kernel's side:\n"
           "  echo hello | tcp_client --tap tap0 --addr 10.0.0.2/24 10.0.0.1 "
           "50007\n\n" EX_OPTIONS_HELP,
           EX_DEFAULT_PORT);
}

int main(int argc, char **argv)
{
    struct link_opts o;
    while (ex_getopt(argc, argv, NULL, &o, help) != -1) continue;
    bool tap = ex_on_tap(&o);
    struct tcp_client_args cli = {.host = EX_SERVER_ADDR, .port = EX_DEFAULT_PORT};
    int rest = argc - optind;
    if (rest > 2) usage_error("unexpected argument '%s'", argv[optind + 2]);
    if (rest == 0 && tap) usage_error("HOST is required with --tap");
    if (rest >= 1) cli.host = ex_host(argv[optind]);
    if (rest == 2) cli.port = ex_port(argv[optind + 1], "tcp");

    struct tcp_server_args srv = {.host = 0, .port = cli.port};
    struct ex_part parts[] = {
        {.name = "server", .run = tcp_upper_server, .arg = &srv, .server = true},
        {.name = "client", .run = tcp_client, .arg = &cli},
    };
    return ex_run(&o, parts, 2, 1);
}
#endif
