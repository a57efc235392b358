/*
 * udp_client.c: the classic UDP client -- sendto() each message, then read
 * the answers with recvfrom() -- on ustack's socket API.
 *
 * The same calls as the Python version:
 *
 *     s = socket.socket(AF_INET, SOCK_DGRAM)    fd = us_socket(s, AF_INET, SOCK_DGRAM, 0)
 *     s.settimeout(1)                           SO_RCVTIMEO 1 s
 *     for line in lines:                        for (...)
 *         s.sendto(line, (HOST, PORT))              us_sendto(s, fd, line, len, 0, &to, tolen)
 *     for line in lines:                        for (...)
 *         data, addr = s.recvfrom(2048)             n = us_recvfrom(s, fd, buf, 2048, 0, &fa, &l)
 *
 * It sends every message before reading any answer, to show what UDP keeps
 * and what it does not: each recvfrom() returns exactly one datagram (the
 * boundaries are kept, where TCP would hand over a stream of bytes), and a
 * datagram the network loses is simply gone -- nothing is retransmitted, the
 * answer never comes and recvfrom() times out. Try it on a lossy wire:
 * udp_client --loss 30 --seed 6 --trace.
 */
#include <stdlib.h>

#include "common.h"
#include "parts.h"

/* At most 8 messages: the first datagram makes the stack ask ARP for the
 * server's MAC, and it holds at most 8 frames until the answer comes. */
#define MAX_MSGS 8

int udp_client(struct us_stack *s, void *arg)
{
    const struct udp_client_args *a = arg;
    static const char *const builtin[] = {"one", "two two", "three three three"};
    char msgs[MAX_MSGS][1024];
    int n = 0;
    while (n < MAX_MSGS && fgets(msgs[n], sizeof(msgs[n]), stdin)) {
        msgs[n][strcspn(msgs[n], "\r\n")] = 0;
        n++;
    }
    if (n == 0)
        for (; n < 3; n++) snprintf(msgs[n], sizeof(msgs[n]), "%s", builtin[n]);

    int fd = us_socket(s, AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return ex_perror(s, "socket"), 1;
    ex_set_rcvtimeo(s, fd, a->timeout_ms);
    struct sockaddr_in to = ex_sockaddr(a->host, a->port);
    char who[24];
    for (int i = 0; i < n; i++) {
        if (us_sendto(s, fd, msgs[i], strlen(msgs[i]), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
            return ex_perror(s, "sendto"), us_close(s, fd), 1;
        printf("%s: sent %zu bytes to %s: \"%s\"\n", us_stack_name(s), strlen(msgs[i]),
               ex_addr_str(&to, who), msgs[i]);
    }
    int answered = 0;
    for (int i = 0; i < n; i++) {
        char buf[2048];
        struct sockaddr_in from;
        socklen_t len = sizeof(from);
        ssize_t r = us_recvfrom(s, fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
        if (r < 0 && errno == EAGAIN) {
            printf("%s: no more answers within %u ms (UDP does not retransmit)\n", us_stack_name(s),
                   a->timeout_ms);
            break;
        }
        if (r < 0) {
            ex_perror(s, "recvfrom"); /* ECONNREFUSED: nobody on that port */
            break;
        }
        printf("%s: received %zd bytes from %s: \"%.*s\"\n", us_stack_name(s), r,
               ex_addr_str(&from, who), (int)r, buf);
        answered++;
    }
    printf("%s: %d of %d datagrams came back\n", us_stack_name(s), answered, n);
    us_close(s, fd);
    return answered == n ? 0 : 1;
}

#ifndef EXAMPLE_NO_MAIN
static void help(void)
{
    printf("Usage: udp_client [OPTIONS] [HOST [PORT]]\n\n"
           "The classic UDP client: send each line of stdin (at most %d; three built-in\n"
           "messages if stdin is empty) as one datagram to HOST and PORT (a number or a\n"
           "service name; default %d), then print the answers. Exits 1 unless every\n"
           "datagram came back.\n\n"
           "By default it runs on the in-memory wire (client 10.0.0.1, server 10.0.0.2,\n"
           "virtual time) against udp_echo_server's server:\n"
           "  printf 'one\\ntwo two\\n' | udp_client --trace\n"
           "  udp_client --loss 30 --seed 6 </dev/null     (lost datagrams stay lost)\n"
           "With --tap, HOST is on the kernel's side:\n"
           "  udp_client --tap tap0 --addr 10.0.0.2/24 10.0.0.1 50007\n\n"
           "  --timeout MS   how long to wait for each answer (default 1000)\n\n" EX_OPTIONS_HELP,
           MAX_MSGS, EX_DEFAULT_PORT);
}

int main(int argc, char **argv)
{
    static const struct option own[] = {{"timeout", required_argument, 0, 't'}, {0, 0, 0, 0}};
    struct link_opts o;
    struct udp_client_args cli = {
        .host = EX_SERVER_ADDR, .port = EX_DEFAULT_PORT, .timeout_ms = 1000};
    unsigned long long v;
    int c;
    while ((c = ex_getopt(argc, argv, own, &o, help)) != -1) {
        if (c == 't' && (parse_uint(optarg, 600000, &v) < 0 || v == 0))
            usage_error("bad --timeout '%s': expected milliseconds 1..600000", optarg);
        cli.timeout_ms = (unsigned)v;
    }
    bool tap = ex_on_tap(&o);
    int rest = argc - optind;
    if (rest > 2) usage_error("unexpected argument '%s'", argv[optind + 2]);
    if (rest == 0 && tap) usage_error("HOST is required with --tap");
    if (rest >= 1) cli.host = ex_host(argv[optind]);
    if (rest == 2) cli.port = ex_port(argv[optind + 1], "udp");

    struct udp_server_args srv = {.host = 0, .port = cli.port};
    struct ex_part parts[] = {
        {.name = "server", .run = udp_echo_server, .arg = &srv, .server = true},
        {.name = "client", .run = udp_client, .arg = &cli},
    };
    return ex_run(&o, parts, 2, 1);
}
#endif
