/*
 * udp.h: UDP (RFC 768) datagram sockets inside the stack.
 */
#ifndef USTACK_UDP_H
#define USTACK_UDP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

struct udp_sock;

int udp_init(struct us_stack *s);
/* Frees every UDP socket; returns what was still accounted as taken. */
unsigned udp_destroy(struct us_stack *s);
void udp_free_all(struct us_stack *s);

struct udp_sock *udp_sock_new(struct us_stack *s);
void udp_sock_close(struct us_stack *s, struct udp_sock *u);
int udp_bind(struct us_stack *s, struct udp_sock *u, uint32_t addr, uint16_t port, bool reuse);
/* Sets (or with addr == 0 && port == 0, clears) the default peer. */
int udp_connect(struct us_stack *s, struct udp_sock *u, uint32_t addr, uint16_t port);
/* dst 0: the connected peer. Returns bytes sent or a negative errno. */
ssize_t udp_sendto(struct us_stack *s, struct udp_sock *u, const void *buf, size_t len,
                   uint32_t dst, uint16_t dport);
/* -EAGAIN when no datagram waits. */
ssize_t udp_recvfrom(struct us_stack *s, struct udp_sock *u, void *buf, size_t len, int flags,
                     uint32_t *src, uint16_t *sport);
/* Pending ICMP error (positive errno), cleared when read. */
int udp_take_error(struct udp_sock *u);
int udp_peek_error(const struct udp_sock *u);
bool udp_readable(const struct udp_sock *u);
/* Bytes of the next datagram (FIONREAD), 0 if none. */
uint32_t udp_next_len(const struct udp_sock *u);
void udp_name(const struct udp_sock *u, uint32_t *laddr, uint16_t *lport, uint32_t *raddr,
              uint16_t *rport);
void udp_set_rcvbuf(struct udp_sock *u, uint32_t bytes);
uint32_t udp_rcvbuf(const struct udp_sock *u);
uint32_t udp_queued_bytes(const struct udp_sock *u);

#endif
