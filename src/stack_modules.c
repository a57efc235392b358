/*
 * stack_modules.c: the transports and the socket table in the stack's life
 * cycle.
 */
#include "stack_modules.h"

#include "socket/sock.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

unsigned tcp_final_check(struct us_stack *s);
void tcp_free_all(struct us_stack *s);

int stack_modules_init(struct us_stack *s)
{
    if (tcp_init(s) < 0 || udp_init(s) < 0 || sock_init(s) < 0) return -1;
    return 0;
}

void stack_modules_flush(struct us_stack *s) { (void)s; }

unsigned stack_modules_destroy(struct us_stack *s)
{
    sock_close_all(s);
    unsigned leaked = udp_destroy(s);
    leaked += tcp_destroy(s);
    leaked += tcp_final_check(s);
    return leaked;
}

void stack_modules_free(struct us_stack *s)
{
    tcp_free_all(s);
    udp_free_all(s);
    sock_free_table(s);
}
