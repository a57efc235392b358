/*
 * socket.h: BSD sockets on a ustack stack.
 *
 * The calls mirror their POSIX namesakes with the stack as first argument:
 * they take the system's structures and constants (struct sockaddr_in,
 * AF_INET, SOCK_STREAM, SOL_SOCKET, SO_*, IPPROTO_TCP, TCP_*, MSG_*, SHUT_*,
 * POLL*) and on failure return -1 with errno set to what Linux would set.
 * Descriptors are small integers local to the stack, starting at 3.
 *
 * Blocking calls (the default; O_NONBLOCK/SOCK_NONBLOCK turns it off) run the
 * stack's driver until they can complete or SO_RCVTIMEO/SO_SNDTIMEO expires
 * (docs/DESIGN.md §3). Under virtual time, a blocking call that could only
 * complete through another program's action fails with EDEADLK instead of
 * hanging forever.
 */
#ifndef USTACK_SOCKET_H
#define USTACK_SOCKET_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ustack/stack.h"

int us_socket(struct us_stack *s, int domain, int type, int protocol);
int us_bind(struct us_stack *s, int fd, const struct sockaddr *addr, socklen_t len);
int us_listen(struct us_stack *s, int fd, int backlog);
int us_accept(struct us_stack *s, int fd, struct sockaddr *addr, socklen_t *len);
int us_accept4(struct us_stack *s, int fd, struct sockaddr *addr, socklen_t *len, int flags);
int us_connect(struct us_stack *s, int fd, const struct sockaddr *addr, socklen_t len);
ssize_t us_send(struct us_stack *s, int fd, const void *buf, size_t len, int flags);
ssize_t us_recv(struct us_stack *s, int fd, void *buf, size_t len, int flags);
ssize_t us_sendto(struct us_stack *s, int fd, const void *buf, size_t len, int flags,
                  const struct sockaddr *to, socklen_t tolen);
ssize_t us_recvfrom(struct us_stack *s, int fd, void *buf, size_t len, int flags,
                    struct sockaddr *from, socklen_t *fromlen);
ssize_t us_write(struct us_stack *s, int fd, const void *buf, size_t len);
ssize_t us_read(struct us_stack *s, int fd, void *buf, size_t len);
int us_shutdown(struct us_stack *s, int fd, int how);
int us_close(struct us_stack *s, int fd);
int us_getsockname(struct us_stack *s, int fd, struct sockaddr *addr, socklen_t *len);
int us_getpeername(struct us_stack *s, int fd, struct sockaddr *addr, socklen_t *len);
int us_setsockopt(struct us_stack *s, int fd, int level, int name, const void *val, socklen_t len);
int us_getsockopt(struct us_stack *s, int fd, int level, int name, void *val, socklen_t *len);
/* F_GETFL, F_SETFL (O_NONBLOCK). */
int us_fcntl(struct us_stack *s, int fd, int cmd, int arg);
/* SIOCINQ/FIONREAD (bytes readable), SIOCOUTQ/TIOCOUTQ (bytes not yet acked). */
int us_ioctl(struct us_stack *s, int fd, unsigned long req, int *val);
/* poll(2) over ustack descriptors: POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP. */
int us_poll(struct us_stack *s, struct pollfd *fds, nfds_t nfds, int timeout_ms);

/* getsockopt(fd, IPPROTO_TCP, TCP_INFO) fills this (not Linux's layout). */
struct us_tcp_info {
    uint8_t state;                /* enum us_tcp_state */
    uint8_t ca_state;             /* 0 open, 1 disorder, 2 recovery, 3 loss */
    uint8_t snd_wscale, rcv_wscale;
    uint8_t options;              /* US_TCPI_OPT_* */
    uint8_t backoff;              /* RTO backoff exponent */
    uint16_t reserved;
    uint32_t rto, srtt, rttvar;   /* microseconds */
    uint32_t snd_mss, rcv_mss;
    uint32_t snd_cwnd, snd_ssthresh; /* bytes */
    uint32_t snd_wnd, rcv_wnd;    /* bytes, unscaled */
    uint32_t unacked, sacked, lost, retrans_out;
    uint64_t bytes_sent, bytes_acked, bytes_received, bytes_retrans;
    uint64_t segs_out, segs_in, data_segs_out, data_segs_in;
    uint32_t total_retrans, dup_acks, sack_blocks_rx, sack_blocks_tx;
    uint32_t ooo_bytes, ooo_ranges;  /* out-of-order queue now */
    uint32_t fast_retrans, rto_count, probes;
    char congestion[16];
};
#define US_TCPI_OPT_TIMESTAMPS 0x1
#define US_TCPI_OPT_SACK 0x2
#define US_TCPI_OPT_WSCALE 0x4

/* TCP_CONGESTION takes a name: "cubic" or "newreno" (also "reno"). */

/* --- Listing sockets, for `ustack stat` --- */
struct us_sock_info {
    int fd;                        /* -1 for TIME-WAIT entries and embryos */
    int type;                      /* SOCK_STREAM or SOCK_DGRAM */
    enum us_tcp_state state;       /* TCP only */
    uint32_t laddr, raddr;         /* host order */
    uint16_t lport, rport;
    uint32_t recv_q, send_q;       /* as ss shows them */
    const char *timer;             /* "on", "keepalive", "timewait", "persist", "off" */
    us_time_t timer_expires;       /* absolute, or US_TIME_NEVER */
    unsigned retransmits;
};
/* Calls fn for every socket, embryonic connection and TIME-WAIT entry. */
void us_socket_foreach(struct us_stack *s, void (*fn)(void *ctx, const struct us_sock_info *i),
                       void *ctx);

#endif
