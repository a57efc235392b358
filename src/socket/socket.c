/*
 * socket.c: BSD sockets over the stack (include/ustack/socket.h).
 *
 * Every call maps the engine's result (a count or a negative errno) to the
 * POSIX convention at this boundary, with the errno Linux gives in the same
 * situation. Blocking calls are loops: try; if it would block, ask the
 * stack's driver to run the world until something happens or the deadline
 * (SO_RCVTIMEO/SO_SNDTIMEO) passes; try again (docs/DESIGN.md §3).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "core/util.h"
#include "socket/sock.h"
#include "tcp/tcp.h"
#include "tcp/user.h"
#include "udp/udp.h"
#include "ustack/socket.h"

#define FD_BASE    3
#define SOMAXCONN_ 4096
#define MIN_SNDBUF 4608 /* Linux's SOCK_MIN_SNDBUF */
#define MIN_RCVBUF 2304 /* Linux's SOCK_MIN_RCVBUF */

static struct sock_table *tab(struct us_stack *s)
{
    return s->socks;
}

int sock_init(struct us_stack *s)
{
    struct sock_table *st = calloc(1, sizeof(*st));
    if (!st) return -ENOMEM;
    objpool_init(&st->pool, sizeof(struct sock), 64, 0);
    st->lowest_free = FD_BASE;
    s->socks = st;
    return 0;
}

static int fail(int err)
{
    errno = err;
    return -1;
}

static struct sock *lookup(struct us_stack *s, int fd)
{
    struct sock_table *st = tab(s);
    if (fd < FD_BASE || (unsigned)fd >= st->cap) return NULL;
    return st->fds[fd];
}

static struct sock *sock_alloc(struct us_stack *s, int type)
{
    struct sock_table *st = tab(s);
    if (s->cfg.max_sockets && st->count >= s->cfg.max_sockets) {
        errno = EMFILE;
        return NULL;
    }
    unsigned fd = st->lowest_free;
    while (fd < st->cap && st->fds[fd]) fd++;
    if (fd >= st->cap) {
        unsigned cap = st->cap ? st->cap * 2 : 64;
        struct sock **n = realloc(st->fds, cap * sizeof(*n));
        if (!n) {
            errno = ENOBUFS;
            return NULL;
        }
        memset(n + st->cap, 0, (cap - st->cap) * sizeof(*n));
        st->fds = n;
        st->cap = cap;
    }
    struct sock *sk = objpool_get(&st->pool);
    if (!sk) {
        errno = ENOBUFS;
        return NULL;
    }
    sk->fd = (int)fd;
    sk->type = type;
    st->fds[fd] = sk;
    st->count++;
    st->lowest_free = fd + 1;
    return sk;
}

static void sock_release(struct us_stack *s, struct sock *sk)
{
    struct sock_table *st = tab(s);
    st->fds[sk->fd] = NULL;
    st->count--;
    if ((unsigned)sk->fd < st->lowest_free) st->lowest_free = (unsigned)sk->fd;
    objpool_put(&st->pool, sk);
}

/* ---- waiting ---- */

static us_time_t deadline_after(struct us_stack *s, uint32_t timeo_ms)
{
    return timeo_ms ? s->now + US_MSEC(timeo_ms) : US_TIME_NEVER;
}

/* Runs the world a step. 0, or -EAGAIN at the deadline, -EDEADLK when
 * nothing can ever happen (virtual time), -EINTR when the driver stopped. */
static int wait_step(struct us_stack *s, us_time_t deadline)
{
    const struct us_driver *d = us_stack_driver(s);
    if (!d) return -EAGAIN;
    stack_sync_time(s);
    if (deadline != US_TIME_NEVER && s->now >= deadline) return -EAGAIN;
    errno = 0;
    if (d->wait(d->ctx, deadline) < 0) return errno == EINTR ? -EINTR : -EDEADLK;
    stack_sync_time(s);
    return 0;
}

static void enter(struct us_stack *s)
{
    stack_sync_time(s);
    timer_wheel_run(&s->timers, s->now);
}

static bool parse_sin(const struct sockaddr *addr, socklen_t len, uint32_t *ip, uint16_t *port,
                      int *err)
{
    if (!addr || len < (socklen_t)sizeof(struct sockaddr_in)) {
        *err = EINVAL;
        return false;
    }
    const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
    if (sin->sin_family != AF_INET) {
        *err = EAFNOSUPPORT;
        return false;
    }
    *ip = ntohl(sin->sin_addr.s_addr);
    *port = ntohs(sin->sin_port);
    return true;
}

static void fill_sin(struct sockaddr *addr, socklen_t *len, uint32_t ip, uint16_t port)
{
    if (!addr || !len) return;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(ip);
    sin.sin_port = htons(port);
    size_t n = min_size(*len, sizeof(sin));
    memcpy(addr, &sin, n);
    *len = sizeof(sin);
}

/* ---- socket, bind, listen ---- */

int us_socket(struct us_stack *s, int domain, int type, int protocol)
{
    enter(s);
    if (domain != AF_INET) return fail(EAFNOSUPPORT);
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (base == SOCK_STREAM) {
        if (protocol != 0 && protocol != IPPROTO_TCP) return fail(EPROTONOSUPPORT);
    } else if (base == SOCK_DGRAM) {
        if (protocol != 0 && protocol != IPPROTO_UDP) return fail(EPROTONOSUPPORT);
    } else {
        return fail(ESOCKTNOSUPPORT);
    }
    struct sock *sk = sock_alloc(s, base);
    if (!sk) return -1;
    sk->nonblock = type & SOCK_NONBLOCK;
    if (base == SOCK_STREAM) {
        sk->tcb = tcb_alloc(s, NULL);
        if (!sk->tcb) {
            sock_release(s, sk);
            return fail(ENOBUFS);
        }
    } else {
        sk->udp = udp_sock_new(s);
        if (!sk->udp) {
            sock_release(s, sk);
            return fail(ENOBUFS);
        }
    }
    return sk->fd;
}

static bool is_bound(const struct sock *sk)
{
    return sk->lst || (sk->tcb && sk->tcb->node.lport);
}

int us_bind(struct us_stack *s, int fd, const struct sockaddr *addr, socklen_t len)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    uint32_t ip;
    uint16_t port;
    int err;
    if (!parse_sin(addr, len, &ip, &port, &err)) return fail(err);
    if (ip && ip != 0xffffffffu && !ip_is_local(s, ip)) return fail(EADDRNOTAVAIL);
    if (sk->udp) {
        int rc = udp_bind(s, sk->udp, ip, port, false);
        return rc < 0 ? fail(-rc) : 0;
    }
    struct tcb *t = sk->tcb;
    if (is_bound(sk) || !t || t->state != US_TCP_CLOSED) return fail(EINVAL);
    if (!port) {
        port = bind_pick_port(s, ip);
        if (!port) return fail(EADDRINUSE);
    } else if (bind_check(s, ip, port, t->set->reuseaddr) < 0) {
        return fail(EADDRINUSE);
    }
    t->bind = bind_get(s, ip, port, t->set->reuseaddr, false, true);
    if (!t->bind) return fail(ENOBUFS);
    t->node.laddr = ip;
    t->node.lport = port;
    return 0;
}

int us_listen(struct us_stack *s, int fd, int backlog)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    if (sk->type != SOCK_STREAM) return fail(EOPNOTSUPP);
    uint32_t bl = backlog < 1 ? 1 : backlog > SOMAXCONN_ ? SOMAXCONN_ : (uint32_t)backlog;
    if (sk->lst) {
        listener_set_backlog(sk->lst, bl);
        return 0;
    }
    struct tcb *t = sk->tcb;
    if (t->state != US_TCP_CLOSED || (t->tf & TF_SYN_ACKED)) return fail(EINVAL);
    uint32_t ip = t->node.laddr;
    uint16_t port = t->node.lport;
    if (!port) {
        port = bind_pick_port(s, ip);
        if (!port) return fail(EADDRINUSE);
    }
    /* A listener may share a port only with reusable holders that are not
     * listening themselves. */
    bind_put(s, t->bind);
    t->bind = NULL;
    if (bind_check(s, ip, port, false) < 0 &&
        (!t->set->reuseaddr || listener_lookup(s, ip, port) || bind_check(s, ip, port, true) < 0)) {
        t->bind = bind_get(s, ip, port, t->set->reuseaddr, false, true);
        return fail(EADDRINUSE);
    }
    struct listener *l = listener_new(s, ip, port, bl, t->set, t->set->reuseaddr);
    if (!l) {
        t->bind = bind_get(s, ip, port, t->set->reuseaddr, false, true);
        return fail(ENOBUFS);
    }
    struct conn_node who = {.laddr = ip, .lport = port};
    tcp_report_state(s, &who, US_TCP_CLOSED, US_TCP_LISTEN, "listen()");
    tcb_free(s, t);
    sk->tcb = NULL;
    sk->lst = l;
    return 0;
}

int us_accept4(struct us_stack *s, int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    if (sk->type != SOCK_STREAM) return fail(EOPNOTSUPP);
    if (!sk->lst) return fail(EINVAL);
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return fail(EINVAL);
    us_time_t deadline = deadline_after(s, sk->rcvtimeo_ms);
    for (;;) {
        struct tcb *t = listener_accept(s, sk->lst);
        if (t) {
            struct sock *nsk = sock_alloc(s, SOCK_STREAM);
            if (!nsk) {
                /* Put it back at the head: nothing is lost. */
                int e = errno;
                t->parent = sk->lst;
                listener_enqueue(s, sk->lst, t);
                return fail(e);
            }
            nsk->tcb = t;
            nsk->nonblock = flags & SOCK_NONBLOCK;
            fill_sin(addr, len, t->node.raddr, t->node.rport);
            return nsk->fd;
        }
        if (sk->nonblock) return fail(EAGAIN);
        int w = wait_step(s, deadline);
        if (w < 0) return fail(-w);
        if (!sk->lst) return fail(EINVAL);
    }
}

int us_accept(struct us_stack *s, int fd, struct sockaddr *addr, socklen_t *len)
{
    return us_accept4(s, fd, addr, len, 0);
}

/* ---- connect ---- */

static bool connecting(const struct tcb *t)
{
    return t->state == US_TCP_SYN_SENT || t->state == US_TCP_SYN_RECEIVED;
}

int us_connect(struct us_stack *s, int fd, const struct sockaddr *addr, socklen_t len)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    uint32_t ip;
    uint16_t port;
    int err;
    if (sk->udp) {
        if (addr && len >= (socklen_t)sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC) {
            udp_connect(s, sk->udp, 0, 0);
            return 0;
        }
        if (!parse_sin(addr, len, &ip, &port, &err)) return fail(err);
        int rc = udp_connect(s, sk->udp, ip, port);
        return rc < 0 ? fail(-rc) : 0;
    }
    if (sk->lst) return fail(EISCONN);
    if (!parse_sin(addr, len, &ip, &port, &err)) return fail(err);
    struct tcb *t = sk->tcb;
    if (connecting(t)) {
        if (sk->nonblock) return fail(EALREADY);
    } else if (t->state != US_TCP_CLOSED || (t->tf & TF_SYN_ACKED)) {
        return fail(EISCONN);
    } else {
        if (!port || ip == 0 || ip == 0xffffffffu) return fail(ECONNREFUSED);
        /* A socket whose earlier attempt failed may try again (as on Linux). */
        t->so_error = 0;
        int rc = tcp_user_connect(s, t, ip, port);
        if (rc < 0) return fail(-rc);
        if (sk->nonblock) return fail(EINPROGRESS);
    }
    us_time_t deadline = deadline_after(s, sk->sndtimeo_ms);
    while (connecting(t)) {
        int w = wait_step(s, deadline);
        if (w == -EAGAIN) return fail(EINPROGRESS); /* SO_SNDTIMEO, as Linux */
        if (w < 0) return fail(-w);
    }
    if (t->state == US_TCP_CLOSED) {
        int e = t->so_error ? t->so_error : ECONNREFUSED;
        t->so_error = 0;
        return fail(e);
    }
    return 0;
}

/* ---- data ---- */

static ssize_t stream_send(struct us_stack *s, struct sock *sk, const uint8_t *buf, size_t len,
                           int flags)
{
    struct tcb *t = sk->tcb;
    if (!t) return fail(sk->lst ? ENOTCONN : EPIPE);
    bool nonblock = sk->nonblock || (flags & MSG_DONTWAIT);
    us_time_t deadline = deadline_after(s, sk->sndtimeo_ms);
    size_t done = 0;
    for (;;) {
        ssize_t n = tcp_user_send(s, t, buf + done, len - done);
        if (n > 0) done += (size_t)n;
        if (done == len) return (ssize_t)done;
        if (n < 0 && n != -EAGAIN) {
            /* Linux: a never-connected socket gives EPIPE (SIGPIPE is never
             * raised here; MSG_NOSIGNAL is implied). */
            if (done) return (ssize_t)done;
            return fail((int)-n);
        }
        /* A non-blocking send may be partial; a blocking one sends it all. */
        if (nonblock) return done ? (ssize_t)done : fail(EAGAIN);
        int w = wait_step(s, deadline);
        if (w < 0) return done ? (ssize_t)done : fail(-w);
    }
}

static ssize_t stream_recv(struct us_stack *s, struct sock *sk, uint8_t *buf, size_t len, int flags)
{
    struct tcb *t = sk->tcb;
    if (!t) return fail(ENOTCONN);
    if (t->state == US_TCP_CLOSED && !(t->tf & TF_SYN_ACKED) && !t->so_error &&
        !tcp_user_readable(t))
        return fail(ENOTCONN);
    bool nonblock = sk->nonblock || (flags & MSG_DONTWAIT);
    us_time_t deadline = deadline_after(s, sk->rcvtimeo_ms);
    size_t done = 0;
    if (!len) return 0;
    for (;;) {
        ssize_t n = tcp_user_recv(s, t, buf + done, len - done, flags);
        if (n > 0) {
            done += (size_t)n;
            if (!(flags & MSG_WAITALL) || done == len || (flags & MSG_PEEK)) return (ssize_t)done;
            continue;
        }
        if (n == 0) return (ssize_t)done; /* end of stream */
        if (n != -EAGAIN) return done ? (ssize_t)done : fail((int)-n);
        if (nonblock) return done ? (ssize_t)done : fail(EAGAIN);
        int w = wait_step(s, deadline);
        if (w < 0) return done ? (ssize_t)done : fail(-w);
    }
}

ssize_t us_sendto(struct us_stack *s, int fd, const void *buf, size_t len, int flags,
                  const struct sockaddr *to, socklen_t tolen)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    if (flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE | MSG_EOR)) return fail(EOPNOTSUPP);
    if (sk->type == SOCK_STREAM) {
        /* A destination on a connected stream socket is ignored (or EISCONN
         * on Linux when it differs); keep Linux's leniency. */
        return stream_send(s, sk, buf, len, flags);
    }
    uint32_t ip = 0;
    uint16_t port = 0;
    if (to) {
        int err;
        if (!parse_sin(to, tolen, &ip, &port, &err)) return fail(err);
        if (!port) return fail(EINVAL);
    }
    int perr = udp_take_error(sk->udp);
    if (perr) return fail(perr);
    ssize_t n = udp_sendto(s, sk->udp, buf, len, ip, port);
    return n < 0 ? fail((int)-n) : n;
}

ssize_t us_send(struct us_stack *s, int fd, const void *buf, size_t len, int flags)
{
    return us_sendto(s, fd, buf, len, flags, NULL, 0);
}

ssize_t us_write(struct us_stack *s, int fd, const void *buf, size_t len)
{
    return us_sendto(s, fd, buf, len, 0, NULL, 0);
}

ssize_t us_recvfrom(struct us_stack *s, int fd, void *buf, size_t len, int flags,
                    struct sockaddr *from, socklen_t *fromlen)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    if (flags & ~(MSG_DONTWAIT | MSG_PEEK | MSG_WAITALL | MSG_TRUNC)) return fail(EOPNOTSUPP);
    if (sk->type == SOCK_STREAM) {
        ssize_t n = stream_recv(s, sk, buf, len, flags);
        if (n >= 0 && from && sk->tcb)
            fill_sin(from, fromlen, sk->tcb->node.raddr, sk->tcb->node.rport);
        return n;
    }
    bool nonblock = sk->nonblock || (flags & MSG_DONTWAIT);
    us_time_t deadline = deadline_after(s, sk->rcvtimeo_ms);
    for (;;) {
        int perr = udp_take_error(sk->udp);
        if (perr) return fail(perr);
        uint32_t ip;
        uint16_t port;
        ssize_t n = udp_recvfrom(s, sk->udp, buf, len, flags, &ip, &port);
        if (n >= 0) {
            fill_sin(from, fromlen, ip, port);
            return n;
        }
        if (n != -EAGAIN || nonblock) return fail((int)-n);
        int w = wait_step(s, deadline);
        if (w < 0) return fail(-w);
    }
}

ssize_t us_recv(struct us_stack *s, int fd, void *buf, size_t len, int flags)
{
    return us_recvfrom(s, fd, buf, len, flags, NULL, NULL);
}

ssize_t us_read(struct us_stack *s, int fd, void *buf, size_t len)
{
    return us_recvfrom(s, fd, buf, len, 0, NULL, NULL);
}

/* ---- shutdown and close ---- */

int us_shutdown(struct us_stack *s, int fd, int how)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return fail(EINVAL);
    if (sk->udp) return fail(ENOTCONN);
    if (sk->lst) {
        /* Linux: shutting the reading side of a listener stops it. */
        if (how == SHUT_WR) return 0;
        const struct tcp_settings *set = tcp_settings_ref(sk->lst->set);
        listener_close(s, sk->lst);
        sk->lst = NULL;
        sk->tcb = tcb_alloc(s, set);
        tcp_settings_put(s, set);
        return sk->tcb ? 0 : fail(ENOBUFS);
    }
    int rc = tcp_user_shutdown(s, sk->tcb, how);
    return rc < 0 ? fail(-rc) : 0;
}

static bool fin_acked(const struct tcb *t)
{
    return t->state == US_TCP_CLOSED || t->state == US_TCP_FIN_WAIT_2 ||
           t->state == US_TCP_TIME_WAIT || ((t->tf & TF_FIN_SENT) && t->snd_una == t->snd_max);
}

int us_close(struct us_stack *s, int fd)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    if (sk->lst) {
        struct conn_node who = {.laddr = sk->lst->laddr, .lport = sk->lst->lport};
        listener_close(s, sk->lst);
        tcp_report_state(s, &who, US_TCP_LISTEN, US_TCP_CLOSED, "close()");
    } else if (sk->tcb) {
        struct tcb *t = sk->tcb;
        bool abort = sk->linger_on && sk->linger_sec == 0;
        if (sk->linger_on && sk->linger_sec > 0 && !sk->nonblock && !tcp_user_readable(t) &&
            (t->state == US_TCP_ESTABLISHED || t->state == US_TCP_CLOSE_WAIT)) {
            /* SO_LINGER with a timeout: close() waits for the FIN to be
             * acknowledged, at most linger seconds. */
            tcp_user_shutdown(s, t, SHUT_WR);
            us_time_t deadline = s->now + US_SEC(sk->linger_sec);
            while (!fin_acked(t) && wait_step(s, deadline) == 0) {
            }
        }
        tcp_user_close(s, t, abort);
    } else if (sk->udp) {
        udp_sock_close(s, sk->udp);
    }
    sock_release(s, sk);
    return 0;
}

/* ---- names ---- */

int us_getsockname(struct us_stack *s, int fd, struct sockaddr *addr, socklen_t *len)
{
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    if (!addr || !len) return fail(EFAULT);
    uint32_t ip = 0;
    uint16_t port = 0;
    if (sk->lst) {
        ip = sk->lst->laddr;
        port = sk->lst->lport;
    } else if (sk->tcb) {
        ip = sk->tcb->node.laddr;
        port = sk->tcb->node.lport;
    } else if (sk->udp) {
        uint32_t ra;
        uint16_t rp;
        udp_name(sk->udp, &ip, &port, &ra, &rp);
    }
    fill_sin(addr, len, ip, port);
    return 0;
}

int us_getpeername(struct us_stack *s, int fd, struct sockaddr *addr, socklen_t *len)
{
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    if (!addr || !len) return fail(EFAULT);
    if (sk->udp) {
        uint32_t la, ra;
        uint16_t lp, rp;
        udp_name(sk->udp, &la, &lp, &ra, &rp);
        if (!rp) return fail(ENOTCONN);
        fill_sin(addr, len, ra, rp);
        return 0;
    }
    struct tcb *t = sk->tcb;
    if (!t || (t->state != US_TCP_ESTABLISHED && t->state != US_TCP_CLOSE_WAIT &&
               t->state != US_TCP_FIN_WAIT_1 && t->state != US_TCP_FIN_WAIT_2 &&
               t->state != US_TCP_CLOSING && t->state != US_TCP_LAST_ACK &&
               t->state != US_TCP_SYN_RECEIVED))
        return fail(ENOTCONN);
    fill_sin(addr, len, t->node.raddr, t->node.rport);
    return 0;
}

/* ---- options ---- */

static int get_int(const void *val, socklen_t len, int *out)
{
    if (!val || len < (socklen_t)sizeof(int)) return -EINVAL;
    memcpy(out, val, sizeof(int));
    return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
    if (!val || !len || *len < 1) return -EINVAL;
    if (*len >= (socklen_t)sizeof(int)) {
        memcpy(val, &v, sizeof(int));
        *len = sizeof(int);
    } else {
        *(uint8_t *)val = (uint8_t)v;
        *len = 1;
    }
    return 0;
}

/* Where the socket's shared settings hang (tcp.h), or NULL. */
static const struct tcp_settings **settings_slot(struct sock *sk)
{
    if (sk->lst) return &sk->lst->set;
    if (sk->tcb) return &sk->tcb->set;
    return NULL;
}

static const struct tcp_settings *settings_of(struct sock *sk)
{
    const struct tcp_settings **slot = settings_slot(sk);
    return slot ? *slot : NULL;
}

/* What a change of settings asks for once the socket holds them. */
enum then { THEN_NOTHING, THEN_KEEPALIVE, THEN_CC, THEN_OUTPUT };

static uint32_t tv_to_ms(const struct timeval *tv)
{
    uint64_t ms = (uint64_t)tv->tv_sec * 1000u + ((uint64_t)tv->tv_usec + 999u) / 1000u;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms; /* ~49 days: as good as forever */
}

static int set_socket_opt(struct us_stack *s, struct sock *sk, struct tcp_settings *set,
                          enum then *then, int name, const void *val, socklen_t len)
{
    const struct us_tcp_config *c = &s->cfg.tcp;
    int v = 0;
    switch (name) {
    case SO_REUSEADDR:
        if (get_int(val, len, &v) < 0) return -EINVAL;
        if (set) set->reuseaddr = v != 0;
        return 0;
    case SO_KEEPALIVE:
        if (get_int(val, len, &v) < 0) return -EINVAL;
        if (set) {
            set->keepalive = v != 0;
            *then = THEN_KEEPALIVE;
        }
        return 0;
    case SO_LINGER: {
        if (!val || len < (socklen_t)sizeof(struct linger)) return -EINVAL;
        struct linger lg;
        memcpy(&lg, val, sizeof(lg));
        sk->linger_on = lg.l_onoff != 0;
        sk->linger_sec = lg.l_linger < 0 ? 0 : lg.l_linger;
        return 0;
    }
    case SO_RCVBUF:
    case SO_SNDBUF: {
        if (get_int(val, len, &v) < 0) return -EINVAL;
        /* Linux doubles the value (the other half is its bookkeeping) and
         * reports the doubled value; we use all of it for data. */
        uint32_t maxv = name == SO_RCVBUF ? c->max_rcvbuf : c->max_sndbuf;
        uint32_t want = v < 0 ? 0 : (uint32_t)v;
        want = want > maxv ? maxv : want;
        want *= 2;
        uint32_t minv = name == SO_RCVBUF ? MIN_RCVBUF : MIN_SNDBUF;
        if (want < minv) want = minv;
        if (sk->udp) {
            if (name == SO_RCVBUF) udp_set_rcvbuf(sk->udp, want);
            return 0;
        }
        if (!set) return 0;
        if (name == SO_RCVBUF) {
            /* The ring in use keeps its size; the window follows the new
             * limit, which never exceeds the ring. */
            struct tcb *t = sk->tcb;
            if (t && t->rcvq && want > t->rcvq->cap) want = t->rcvq->cap;
            set->rcvbuf = want;
        } else {
            if (sk->tcb) tcp_sndq_grow(s, sk->tcb, want);
            set->sndbuf = want;
            set->sndbuf_locked = true;
        }
        return 0;
    }
    case SO_RCVTIMEO:
    case SO_SNDTIMEO: {
        if (!val || len < (socklen_t)sizeof(struct timeval)) return -EINVAL;
        struct timeval tv;
        memcpy(&tv, val, sizeof(tv));
        if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000) return -EDOM;
        if (name == SO_RCVTIMEO)
            sk->rcvtimeo_ms = tv_to_ms(&tv);
        else
            sk->sndtimeo_ms = tv_to_ms(&tv);
        return 0;
    }
    default:
        return -ENOPROTOOPT;
    }
}

static int set_tcp_opt(struct us_stack *s, struct sock *sk, struct tcp_settings *set,
                       enum then *then, int name, const void *val, socklen_t len)
{
    if (!set) return -EOPNOTSUPP;
    struct tcb *t = sk->tcb;
    int v = 0;
    if (name == TCP_CONGESTION) {
        char buf[16] = {0};
        if (!val || len < 1) return -EINVAL;
        memcpy(buf, val, min_size((size_t)len, sizeof(buf) - 1));
        int cc = cc_by_name(buf);
        if (cc < 0) return -ENOENT; /* Linux: unknown algorithm */
        set->cc = (uint8_t)cc;
        if (t && t->state != US_TCP_CLOSED && t->state != US_TCP_SYN_SENT) *then = THEN_CC;
        return 0;
    }
    if (get_int(val, len, &v) < 0) return -EINVAL;
    switch (name) {
    case TCP_NODELAY:
        set->nodelay = v != 0;
        if (t && v) *then = THEN_OUTPUT; /* pending small data goes now */
        return 0;
    case TCP_CORK:
        set->cork = v != 0;
        if (t && !v) *then = THEN_OUTPUT; /* uncorking flushes */
        return 0;
    case TCP_MAXSEG:
        if (v < 0 || (v && (v < 88 || v > 65535 - 40))) return -EINVAL;
        set->maxseg = (uint16_t)v;
        return 0;
    case TCP_KEEPIDLE:
        if (v < 1 || v > 32767) return -EINVAL;
        set->keepidle = US_SEC(v);
        *then = THEN_KEEPALIVE;
        return 0;
    case TCP_KEEPINTVL:
        if (v < 1 || v > 32767) return -EINVAL;
        set->keepintvl = US_SEC(v);
        return 0;
    case TCP_KEEPCNT:
        if (v < 1 || v > 127) return -EINVAL;
        set->keepcnt = (uint16_t)v;
        return 0;
    case TCP_LINGER2:
        /* Linux: < 0 means skip FIN-WAIT-2 (here: 0 s), 0 means the default. */
        if (v < 0)
            set->linger2 = 0;
        else if (v == 0)
            set->linger2 = s->cfg.tcp.fin_wait2_timeout;
        else
            set->linger2 = US_SEC(v > 120 ? 120 : v);
        return 0;
    case TCP_USER_TIMEOUT:
        if (v < 0) return -EINVAL;
        set->user_timeout = US_MSEC(v);
        return 0;
    case TCP_DEFER_ACCEPT:
        /* Kept with the settings a listener takes from its socket. */
        set->defer_accept = v < 0 ? 0 : (uint32_t)v;
        return 0;
    case TCP_QUICKACK:
        /* As on Linux: 1 enters quick-ACK mode for a while, 0 leaves it
         * (delayed ACKs from now on). Neither is permanent. */
        if (t) {
            if (v)
                tcp_enter_quickack(t);
            else
                t->quickacks = 0;
        }
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}

int us_setsockopt(struct us_stack *s, int fd, int level, int name, const void *val, socklen_t len)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    /* A change is made on a copy; the socket then takes the shared copy
     * equal to it, and only then does what the change asks for. */
    const struct tcp_settings **slot = settings_slot(sk);
    struct tcp_settings copy, *set = NULL;
    if (slot) {
        copy = **slot;
        set = &copy;
    }
    enum then then = THEN_NOTHING;
    int rc;
    if (level == SOL_SOCKET)
        rc = set_socket_opt(s, sk, set, &then, name, val, len);
    else if (level == IPPROTO_TCP && sk->type == SOCK_STREAM)
        rc = set_tcp_opt(s, sk, set, &then, name, val, len);
    else
        rc = -ENOPROTOOPT;
    if (rc == 0 && slot) rc = tcp_settings_assign(s, slot, &copy);
    if (rc < 0) return fail(-rc);
    struct tcb *t = sk->tcb;
    if (t && then == THEN_KEEPALIVE) tcp_keepalive_reset(s, t);
    if (t && then == THEN_CC) cc_ops_of(t)->init(s, t);
    if (t && then == THEN_OUTPUT) tcp_output(s, t);
    return 0;
}

int us_getsockopt(struct us_stack *s, int fd, int level, int name, void *val, socklen_t *len)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    if (!val || !len) return fail(EFAULT);
    const struct tcp_settings *set = settings_of(sk);
    struct tcb *t = sk->tcb;
    int rc = 0;
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_TYPE:
            rc = put_int(val, len, sk->type);
            break;
        case SO_ERROR: {
            int e = 0;
            if (t) {
                e = t->so_error;
                t->so_error = 0;
            } else if (sk->udp) {
                e = udp_take_error(sk->udp);
            }
            rc = put_int(val, len, e);
            break;
        }
        case SO_ACCEPTCONN:
            rc = put_int(val, len, sk->lst != NULL);
            break;
        case SO_REUSEADDR:
            rc = put_int(val, len, set ? set->reuseaddr : 0);
            break;
        case SO_KEEPALIVE:
            rc = put_int(val, len, set ? set->keepalive : 0);
            break;
        case SO_RCVBUF:
            rc = put_int(val, len, (int)(sk->udp ? udp_rcvbuf(sk->udp) : set->rcvbuf));
            break;
        case SO_SNDBUF:
            rc = put_int(val, len, (int)(set ? set->sndbuf : 212992));
            break;
        case SO_LINGER: {
            if (*len < (socklen_t)sizeof(struct linger)) return fail(EINVAL);
            struct linger lg = {.l_onoff = sk->linger_on, .l_linger = sk->linger_sec};
            memcpy(val, &lg, sizeof(lg));
            *len = sizeof(lg);
            break;
        }
        case SO_RCVTIMEO:
        case SO_SNDTIMEO: {
            if (*len < (socklen_t)sizeof(struct timeval)) return fail(EINVAL);
            uint32_t ms = name == SO_RCVTIMEO ? sk->rcvtimeo_ms : sk->sndtimeo_ms;
            struct timeval tv = {.tv_sec = (time_t)(ms / 1000u),
                                 .tv_usec = (suseconds_t)(ms % 1000u) * 1000};
            memcpy(val, &tv, sizeof(tv));
            *len = sizeof(tv);
            break;
        }
        default:
            return fail(ENOPROTOOPT);
        }
        return rc < 0 ? fail(-rc) : 0;
    }
    if (level != IPPROTO_TCP || sk->type != SOCK_STREAM) return fail(ENOPROTOOPT);
    switch (name) {
    case TCP_NODELAY:
        rc = put_int(val, len, set->nodelay);
        break;
    case TCP_CORK:
        rc = put_int(val, len, set->cork);
        break;
    case TCP_MAXSEG:
        rc = put_int(val, len, t && t->mss ? t->mss : (set->maxseg ? set->maxseg : 536));
        break;
    case TCP_KEEPIDLE:
        rc = put_int(val, len, (int)(set->keepidle / 1000000u));
        break;
    case TCP_KEEPINTVL:
        rc = put_int(val, len, (int)(set->keepintvl / 1000000u));
        break;
    case TCP_KEEPCNT:
        rc = put_int(val, len, set->keepcnt);
        break;
    case TCP_LINGER2:
        rc = put_int(val, len, (int)(set->linger2 / 1000000u));
        break;
    case TCP_USER_TIMEOUT:
        rc = put_int(val, len, (int)(set->user_timeout / 1000u));
        break;
    case TCP_DEFER_ACCEPT:
        rc = put_int(val, len, (int)set->defer_accept);
        break;
    case TCP_CONGESTION: {
        const char *n = cc_name(set->cc);
        size_t l = min_size(strlen(n) + 1, (size_t)*len);
        memcpy(val, n, l);
        *len = (socklen_t)l;
        break;
    }
    case TCP_INFO: {
        struct us_tcp_info info;
        if (t)
            tcp_fill_info(s, t, &info);
        else
            memset(&info, 0, sizeof(info)), info.state = US_TCP_LISTEN;
        size_t l = min_size(sizeof(info), (size_t)*len);
        memcpy(val, &info, l);
        *len = (socklen_t)l;
        break;
    }
    default:
        return fail(ENOPROTOOPT);
    }
    return rc < 0 ? fail(-rc) : 0;
}

/* ---- fcntl, ioctl ---- */

int us_fcntl(struct us_stack *s, int fd, int cmd, int arg)
{
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    switch (cmd) {
    case F_GETFL:
        return O_RDWR | (sk->nonblock ? O_NONBLOCK : 0);
    case F_SETFL:
        sk->nonblock = (arg & O_NONBLOCK) != 0;
        return 0;
    default:
        return fail(EINVAL);
    }
}

int us_ioctl(struct us_stack *s, int fd, unsigned long req, int *val)
{
    enter(s);
    struct sock *sk = lookup(s, fd);
    if (!sk) return fail(EBADF);
    if (!val) return fail(EFAULT);
    if (req == SIOCINQ) {
        if (sk->lst) return fail(EINVAL);
        *val = sk->udp ? (int)udp_next_len(sk->udp) : (int)tcp_user_readable(sk->tcb);
        return 0;
    }
    if (req == SIOCOUTQ) {
        if (sk->lst) return fail(EINVAL);
        *val = sk->udp ? 0 : (int)tcp_user_unacked(sk->tcb);
        return 0;
    }
    return fail(ENOTTY);
}

/* ---- poll ---- */

static short poll_mask(const struct sock *sk)
{
    short m = 0;
    if (sk->lst) return sk->lst->acc_count ? POLLIN : 0;
    if (sk->udp) {
        if (udp_readable(sk->udp)) m |= POLLIN;
        m |= POLLOUT;
        if (udp_peek_error(sk->udp)) m |= POLLERR;
        return m;
    }
    const struct tcb *t = sk->tcb;
    bool closed = t->state == US_TCP_CLOSED;
    if (t->so_error) m |= POLLERR;
    if (tcp_user_readable(t) || (t->tf & TF_RCV_FIN) || (t->tf & TF_SHUT_RD)) m |= POLLIN;
    if (t->tf & TF_RCV_FIN) m |= POLLRDHUP;
    /* Linux (tcp_poll): HUP when closed or both directions are shut. */
    if (closed || ((t->tf & TF_FIN_QUEUED) && (t->tf & TF_RCV_FIN))) m |= POLLHUP;
    if (closed && (t->tf & TF_SYN_ACKED)) m |= POLLIN; /* reads return 0 or an error */
    bool opening = t->state == US_TCP_SYN_SENT || t->state == US_TCP_SYN_RECEIVED;
    if (!opening && !(t->tf & TF_FIN_QUEUED) &&
        (closed || tcp_user_send_space(t) >= tcp_sndbuf(t) / 3 || tcp_user_send_space(t) > 0))
        m |= POLLOUT;
    return m;
}

int us_poll(struct us_stack *s, struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
    enter(s);
    us_time_t deadline = timeout_ms < 0 ? US_TIME_NEVER : s->now + US_MSEC(timeout_ms);
    for (;;) {
        int ready = 0;
        for (nfds_t i = 0; i < nfds; i++) {
            fds[i].revents = 0;
            if (fds[i].fd < 0) continue;
            struct sock *sk = lookup(s, fds[i].fd);
            if (!sk) {
                fds[i].revents = POLLNVAL;
                ready++;
                continue;
            }
            short m = poll_mask(sk);
            /* POLLERR and POLLHUP are reported whether asked for or not. */
            fds[i].revents = (short)(m & (fds[i].events | POLLERR | POLLHUP));
            if (fds[i].revents) ready++;
        }
        if (ready || timeout_ms == 0) return ready;
        int w = wait_step(s, deadline);
        if (w == -EAGAIN) return 0;
        if (w < 0) return fail(-w);
    }
}

/* ---- listing ---- */

static const char *timer_name(const struct tcb *t, us_time_t *expires)
{
    if (t->rexmt_at != US_TIME_NEVER) {
        *expires = t->rexmt_at;
        return (t->tf & TF_PERSIST) ? "persist" : "on";
    }
    if (t->keep_at != US_TIME_NEVER) {
        *expires = t->keep_at;
        return t->set->keepalive ? "keepalive" : "timewait";
    }
    *expires = US_TIME_NEVER;
    return "off";
}

static void info_of_tcb(const struct tcb *t, int fd, struct us_sock_info *i)
{
    memset(i, 0, sizeof(*i));
    i->fd = fd;
    i->type = SOCK_STREAM;
    i->state = t->state;
    i->laddr = t->node.laddr;
    i->lport = t->node.lport;
    i->raddr = t->node.raddr;
    i->rport = t->node.rport;
    i->recv_q = tcp_user_readable(t);
    i->send_q = tcp_user_unacked(t);
    i->timer = timer_name(t, &i->timer_expires);
    i->retransmits = t->rexmt_count;
}

void us_socket_foreach(struct us_stack *s, void (*fn)(void *ctx, const struct us_sock_info *i),
                       void *ctx)
{
    struct sock_table *st = tab(s);
    struct us_sock_info i;
    for (unsigned fd = 0; fd < st->cap; fd++) {
        struct sock *sk = st->fds[fd];
        if (!sk) continue;
        if (sk->lst) {
            memset(&i, 0, sizeof(i));
            i.fd = sk->fd;
            i.type = SOCK_STREAM;
            i.state = US_TCP_LISTEN;
            i.laddr = sk->lst->laddr;
            i.lport = sk->lst->lport;
            i.recv_q = sk->lst->acc_count;
            i.send_q = sk->lst->backlog;
            i.timer = "off";
            i.timer_expires = US_TIME_NEVER;
            fn(ctx, &i);
        } else if (sk->tcb) {
            info_of_tcb(sk->tcb, sk->fd, &i);
            fn(ctx, &i);
        } else if (sk->udp) {
            memset(&i, 0, sizeof(i));
            i.fd = sk->fd;
            i.type = SOCK_DGRAM;
            udp_name(sk->udp, &i.laddr, &i.lport, &i.raddr, &i.rport);
            i.recv_q = udp_queued_bytes(sk->udp);
            i.timer = "off";
            i.timer_expires = US_TIME_NEVER;
            fn(ctx, &i);
        }
    }
    /* Connections with no descriptor: orphans, embryos, TIME-WAIT. */
    struct tcp_stack *ts = tcpst(s);
    for (uint32_t b = 0; b <= ts->conns.mask; b++) {
        for (struct conn_node *n = ts->conns.b[b]; n; n = n->hnext) {
            memset(&i, 0, sizeof(i));
            i.fd = -1;
            i.type = SOCK_STREAM;
            i.laddr = n->laddr;
            i.lport = n->lport;
            i.raddr = n->raddr;
            i.rport = n->rport;
            if (n->kind == CONN_TCB) {
                const struct tcb *t = (const struct tcb *)n;
                if (!(t->tf & TF_ORPHAN) && !(t->tf & TF_IN_ACCEPTQ)) continue; /* listed above */
                info_of_tcb(t, -1, &i);
            } else if (n->kind == CONN_TW) {
                const struct tw_entry *tw = (const struct tw_entry *)n;
                i.state = US_TCP_TIME_WAIT;
                i.timer = "timewait";
                i.timer_expires = tw->expires;
            } else {
                const struct syn_entry *e = (const struct syn_entry *)n;
                i.state = US_TCP_SYN_RECEIVED;
                i.timer = "on";
                i.timer_expires = e->timer.expires;
                i.retransmits = e->retries;
            }
            fn(ctx, &i);
        }
    }
}

/* ---- teardown ---- */

void sock_close_all(struct us_stack *s)
{
    struct sock_table *st = tab(s);
    if (!st) return;
    for (unsigned fd = 0; fd < st->cap; fd++) {
        struct sock *sk = st->fds[fd];
        if (!sk) continue;
        if (sk->lst) {
            listener_close(s, sk->lst);
        } else if (sk->tcb) {
            struct tcb *t = sk->tcb;
            t->tf |= TF_ORPHAN;
            if (t->state == US_TCP_CLOSED)
                tcb_free(s, t);
            else
                tcb_close(s, t, "stack freed");
        } else if (sk->udp) {
            udp_sock_close(s, sk->udp);
        }
        sock_release(s, sk);
    }
}

void sock_free_table(struct us_stack *s)
{
    struct sock_table *st = tab(s);
    if (!st) return;
    objpool_destroy(&st->pool);
    free(st->fds);
    free(st);
    s->socks = NULL;
}
