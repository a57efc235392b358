/*
 * sock.h: the socket table (descriptors -> sockets) inside a stack.
 */
#ifndef USTACK_SOCK_H
#define USTACK_SOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/objpool.h"
#include "internal.h"

struct tcb;
struct listener;
struct udp_sock;

struct sock {
    int fd;
    int type;                  /* SOCK_STREAM or SOCK_DGRAM */
    bool nonblock;
    bool linger_on;
    int linger_sec;
    /* Milliseconds (rounded up; Linux keeps jiffies); 0: none. Kept
     * small, like the rest: one struct sock per connection. */
    uint32_t rcvtimeo_ms, sndtimeo_ms;
    struct tcb *tcb;           /* stream, unless listening */
    struct listener *lst;      /* stream, listening */
    struct udp_sock *udp;      /* datagram */
};

struct sock_table {
    struct sock **fds;
    unsigned cap;
    unsigned lowest_free;      /* no free descriptor below this one */
    unsigned count;
    struct objpool pool;
};

int sock_init(struct us_stack *s);
/* Closes every socket abortively (teardown). */
void sock_close_all(struct us_stack *s);
void sock_free_table(struct us_stack *s);

#endif
