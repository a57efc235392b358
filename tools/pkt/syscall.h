/*
 * syscall.h: a script's system-call lines, run against ustack's socket API.
 *
 * A line names a call, its arguments and the result it expects:
 *   +0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
 *   +0 read(4, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)
 * The arguments are evaluated the way packetdrill does: `...` is whatever
 * the runner chooses (a buffer of the given size, the script's addresses:
 * bind() takes the stack's address and port, connect() the remote host's),
 * `[v]` is an int in memory (in for setsockopt and ioctl, compared on the
 * way out for getsockopt), `{onoff=1, linger=0}` a struct linger, `{tv_sec=
 * 1, tv_usec=0}` a struct timeval, `[{fd=3, events=POLLIN, revents=POLLIN}]`
 * a pollfd array. The call goes to us_socket(), us_read(), ... on the stack;
 * a blocking call waits through the stack's driver, which the executor
 * provides (exec.c).
 *
 * Descriptors: the script's numbers are mapped to the stack's, learned from
 * what socket() and accept() return, as packetdrill maps them to the
 * kernel's.
 *
 * Comparisons: the return value (a descriptor through the map), errno by
 * number (EWOULDBLOCK is EAGAIN), getsockopt's value and length, poll's
 * revents. In portable mode getsockopt(SO_RCVBUF/SO_SNDBUF) values are not
 * compared (each system sizes buffers its own way).
 */
#ifndef USTACK_TOOLS_PKT_SYSCALL_H
#define USTACK_TOOLS_PKT_SYSCALL_H

#include <stddef.h>

#include "pkt/frame.h"
#include "pkt/match.h"
#include "pkt/pkt.h"
#include "ustack/stack.h"

#define PKT_FD_MAX 64

struct pkt_sys {
    struct us_stack *s;
    enum pkt_mode mode;
    const struct pkt_addrs *addrs; /* what `...` addresses mean */
    int fds[PKT_FD_MAX];           /* script descriptor -> stack descriptor, or -1 */
    int sut;                       /* script descriptor of the socket under test, or -1 */
    int last_errno;                /* errno after the last call */
};

void pkt_sys_init(struct pkt_sys *x, struct us_stack *s, enum pkt_mode mode,
                  const struct pkt_addrs *a);

/* Runs one call. Returns 0 when its result is what the line expects, 1 when
 * it is not, -1 when the line cannot be run (a call or argument the runner
 * does not support); `err` says what happened in the last two cases. */
int pkt_sys_run(struct pkt_sys *x, const struct pkt_syscall *c, char *err, size_t errlen);

/* The TCP state of the socket under test (the last socket() or accept()),
 * for `%{ assert tcpi_state == TCPI_X }%`. 0, or -1 when there is none. */
int pkt_sys_tcp_state(struct pkt_sys *x, enum us_tcp_state *st);

/* Whether `name` ("ESTABLISHED", "FIN_WAIT_1", "SYN_RECV", ...: the TCPI_
 * names of Linux and FreeBSD without the prefix) names `st`. */
bool pkt_tcpi_state_is(const char *name, enum us_tcp_state st);

#endif
