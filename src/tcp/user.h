/*
 * user.h: the TCP user calls (RFC 9293 §3.10) for the socket layer.
 */
#ifndef USTACK_TCP_USER_H
#define USTACK_TCP_USER_H

#include <stdbool.h>
#include <sys/types.h>

#include "tcp/tcp.h"

int tcp_user_connect(struct us_stack *s, struct tcb *t, uint32_t raddr, uint16_t rport);
ssize_t tcp_user_send(struct us_stack *s, struct tcb *t, const void *buf, size_t len);
ssize_t tcp_user_recv(struct us_stack *s, struct tcb *t, void *buf, size_t len, int flags);
int tcp_user_shutdown(struct us_stack *s, struct tcb *t, int how);
/* close(): FIN (graceful), or RST with SO_LINGER {1, 0} or unread data. The
 * tcb becomes an orphan and is freed when it reaches CLOSED. */
void tcp_user_close(struct us_stack *s, struct tcb *t, bool linger_zero);
void tcp_user_abort(struct us_stack *s, struct tcb *t, const char *cause);
uint32_t tcp_user_readable(const struct tcb *t);
uint32_t tcp_user_unacked(const struct tcb *t);
uint32_t tcp_user_send_space(const struct tcb *t);
/* The send buffer's size now: SO_SNDBUF if the application set it, else
 * autotuned to the congestion window. */
uint32_t tcp_sndbuf(const struct tcb *t);
/* Moves the send queue into a ring of at least `size` bytes, when it has
 * one that is smaller (a larger SO_SNDBUF, or the autotuned buffer). */
void tcp_sndq_grow(struct us_stack *s, struct tcb *t, uint32_t size);

#endif
