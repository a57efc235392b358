/*
 * parts.h: the parts the example programs lend each other. On the wire a
 * program runs its partner too (tcp_client runs tcp_upper_server's part and
 * the other way round), so each program's file is also compiled without its
 * main() (EXAMPLE_NO_MAIN) into its partners.
 */
#ifndef USTACK_EXAMPLES_PARTS_H
#define USTACK_EXAMPLES_PARTS_H

#include <stdint.h>

#include "ustack/stack.h"

/* tcp_upper_server.c */
struct tcp_server_args {
    uint32_t host; /* to bind to; 0 = any (INADDR_ANY) */
    uint16_t port;
};
int tcp_upper_server(struct us_stack *s, void *tcp_server_args);

/* tcp_client.c */
struct tcp_client_args {
    uint32_t host;
    uint16_t port;
    const char *line; /* what to send; NULL: read a line from stdin */
};
int tcp_client(struct us_stack *s, void *tcp_client_args);

/* udp_echo_server.c */
struct udp_server_args {
    uint32_t host;
    uint16_t port;
};
int udp_echo_server(struct us_stack *s, void *udp_server_args);

/* udp_client.c */
struct udp_client_args {
    uint32_t host;
    uint16_t port;
    unsigned timeout_ms; /* how long to wait for each answer */
};
int udp_client(struct us_stack *s, void *udp_client_args);

#endif
