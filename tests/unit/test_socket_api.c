/* The socket API's contract: a wrong call returns -1 with the errno Linux
 * gives in the same situation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "testlib.h"

static struct pair *p;
static void setup(void) { p = pair_new(1, NULL, NULL); }
static void teardown(void) { pair_free(p); }
TestSuite(api, .init = setup, .fini = teardown);

#define FAILS_WITH(call, err)                                                                  \
    do {                                                                                       \
        errno = 0;                                                                             \
        cr_assert_eq((call), -1, #call " should fail");                                        \
        cr_assert_eq(errno, err, #call ": errno %d (%s), expected %s", errno, strerror(errno),  \
                     #err);                                                                    \
    } while (0)

Test(api, bad_descriptors)
{
    char b[4];
    FAILS_WITH(us_recv(p->a, 99, b, 4, 0), EBADF);
    FAILS_WITH(us_close(p->a, 3), EBADF);
    FAILS_WITH(us_listen(p->a, -1, 1), EBADF);
}

Test(api, socket_arguments)
{
    FAILS_WITH(us_socket(p->a, AF_INET6, SOCK_STREAM, 0), EAFNOSUPPORT);
    FAILS_WITH(us_socket(p->a, AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
    FAILS_WITH(us_socket(p->a, AF_INET, SOCK_RAW, 0), ESOCKTNOSUPPORT);
    int fd = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(fd, 3, "descriptors start at 3");
    us_close(p->a, fd);
}

Test(api, stream_calls_in_the_wrong_state)
{
    int fd = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    char b[4];
    struct sockaddr_in peer;
    socklen_t pl = sizeof(peer);
    FAILS_WITH(us_recv(p->a, fd, b, 4, 0), ENOTCONN);
    FAILS_WITH(us_send(p->a, fd, "x", 1, 0), EPIPE); /* Linux: never connected */
    FAILS_WITH(us_getpeername(p->a, fd, (struct sockaddr *)&peer, &pl), ENOTCONN);
    FAILS_WITH(us_shutdown(p->a, fd, SHUT_WR), ENOTCONN);
    FAILS_WITH(us_accept(p->a, fd, NULL, NULL), EINVAL);
    FAILS_WITH(us_shutdown(p->a, fd, 42), EINVAL);
    struct sockaddr_in a = sin_of(0, 1234);
    cr_assert_eq(us_bind(p->a, fd, (struct sockaddr *)&a, sizeof(a)), 0);
    FAILS_WITH(us_bind(p->a, fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
    struct sockaddr_in other = sin_of(IP(10, 9, 9, 9), 1);
    int g = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    FAILS_WITH(us_bind(p->a, g, (struct sockaddr *)&other, sizeof(other)), EADDRNOTAVAIL);
    FAILS_WITH(us_bind(p->a, g, (struct sockaddr *)&a, 4), EINVAL);
    us_close(p->a, fd);
    us_close(p->a, g);
}

Test(api, listen_and_connect_state_errors)
{
    int l = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 80);
    us_bind(p->b, l, (struct sockaddr *)&a, sizeof(a));
    cr_assert_eq(us_listen(p->b, l, 4), 0);
    struct sockaddr_in to = sin_of(PAIR_A_IP, 80);
    FAILS_WITH(us_connect(p->b, l, (struct sockaddr *)&to, sizeof(to)), EISCONN);
    int n = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    FAILS_WITH(us_bind(p->b, n, (struct sockaddr *)&a, sizeof(a)), EADDRINUSE);
    int one = 1;
    us_setsockopt(p->b, n, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    FAILS_WITH(us_bind(p->b, n, (struct sockaddr *)&a, sizeof(a)), EADDRINUSE); /* a listener */

    int c = us_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 80);
    FAILS_WITH(us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)), EINPROGRESS);
    FAILS_WITH(us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)), EALREADY);
    us_wire_run_for(p->w, US_MSEC(10));
    int err = -1;
    socklen_t el = sizeof(err);
    cr_assert_eq(us_getsockopt(p->a, c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
    cr_assert_eq(err, 0);
    FAILS_WITH(us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)), EISCONN);
    FAILS_WITH(us_listen(p->a, c, 4), EINVAL);
    char b[4];
    FAILS_WITH(us_recv(p->a, c, b, 4, 0), EAGAIN);
    us_close(p->a, c);
    us_close(p->b, l);
    us_close(p->b, n);
}

Test(api, refused_nonblocking_connect_reports_so_error_and_pollerr)
{
    int c = us_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 81);
    FAILS_WITH(us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)), EINPROGRESS);
    struct pollfd pf = {.fd = c, .events = POLLOUT};
    cr_assert_eq(us_poll(p->a, &pf, 1, 1000), 1);
    cr_assert(pf.revents & POLLERR);
    cr_assert(pf.revents & POLLHUP);
    int err = 0;
    socklen_t el = sizeof(err);
    us_getsockopt(p->a, c, SOL_SOCKET, SO_ERROR, &err, &el);
    cr_assert_eq(err, ECONNREFUSED);
    us_getsockopt(p->a, c, SOL_SOCKET, SO_ERROR, &err, &el);
    cr_assert_eq(err, 0, "SO_ERROR clears when read");
    us_close(p->a, c);
}

Test(api, options)
{
    int fd = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    int v = 0;
    socklen_t vl = sizeof(v);
    FAILS_WITH(us_setsockopt(p->a, fd, SOL_SOCKET, 9999, &v, sizeof(v)), ENOPROTOOPT);
    FAILS_WITH(us_setsockopt(p->a, fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v)), EINVAL);
    FAILS_WITH(us_setsockopt(p->a, fd, SOL_SOCKET, SO_KEEPALIVE, &v, 1), EINVAL);
    FAILS_WITH(us_setsockopt(p->a, fd, IPPROTO_TCP, TCP_CONGESTION, "vegas", 5), ENOENT);
    cr_assert_eq(us_setsockopt(p->a, fd, IPPROTO_TCP, TCP_CONGESTION, "newreno", 7), 0);
    char name[16] = {0};
    socklen_t nl = sizeof(name);
    us_getsockopt(p->a, fd, IPPROTO_TCP, TCP_CONGESTION, name, &nl);
    cr_assert_str_eq(name, "newreno");
    v = 5000;
    us_setsockopt(p->a, fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    us_getsockopt(p->a, fd, SOL_SOCKET, SO_RCVBUF, &v, &vl);
    cr_assert_eq(v, 10000, "Linux doubles SO_RCVBUF");
    struct timeval tv = {.tv_sec = 0, .tv_usec = 2000000};
    FAILS_WITH(us_setsockopt(p->a, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), EDOM);
    cr_assert_eq(us_fcntl(p->a, fd, F_GETFL, 0), O_RDWR);
    us_fcntl(p->a, fd, F_SETFL, O_NONBLOCK);
    cr_assert_eq(us_fcntl(p->a, fd, F_GETFL, 0), O_RDWR | O_NONBLOCK);
    int q;
    cr_assert_eq(us_ioctl(p->a, fd, SIOCINQ, &q), 0);
    cr_assert_eq(q, 0);
    FAILS_WITH(us_ioctl(p->a, fd, 0x1234, &q), ENOTTY);
    us_close(p->a, fd);
}

static int get_opt(struct us_stack *st, int fd, int level, int name)
{
    int v = -1;
    socklen_t vl = sizeof(v);
    cr_assert_eq(us_getsockopt(st, fd, level, name, &v, &vl), 0);
    return v;
}

/* Sockets share one copy of equal settings (tcp.c interns them): a change
 * on one socket must not leak into another, including a connection
 * accepted from a listener whose settings change afterwards. */
Test(api, options_of_one_socket_stay_its_own)
{
    int a = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    int b = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    int one = 1, zero = 0, idle = 77;
    int nd = get_opt(p->a, b, IPPROTO_TCP, TCP_NODELAY);
    cr_assert_eq(us_setsockopt(p->a, a, IPPROTO_TCP, TCP_NODELAY, nd ? &zero : &one, 4), 0);
    cr_assert_eq(us_setsockopt(p->a, a, IPPROTO_TCP, TCP_KEEPIDLE, &idle, 4), 0);
    cr_assert_eq(get_opt(p->a, a, IPPROTO_TCP, TCP_NODELAY), !nd);
    cr_assert_eq(get_opt(p->a, b, IPPROTO_TCP, TCP_NODELAY), nd, "b changed with a");
    cr_assert_eq(get_opt(p->a, a, IPPROTO_TCP, TCP_KEEPIDLE), 77);
    cr_assert_neq(get_opt(p->a, b, IPPROTO_TCP, TCP_KEEPIDLE), 77, "b changed with a");
    /* Back to what b has: still right (now the same shared copy). */
    cr_assert_eq(us_setsockopt(p->a, a, IPPROTO_TCP, TCP_NODELAY, nd ? &one : &zero, 4), 0);
    cr_assert_eq(get_opt(p->a, a, IPPROTO_TCP, TCP_NODELAY), nd);
    us_close(p->a, a);
    us_close(p->a, b);

    /* A listener's settings at accept time go with the connection. */
    int c, sv, l;
    l = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(us_setsockopt(p->b, l, IPPROTO_TCP, TCP_KEEPIDLE, &idle, 4), 0);
    struct sockaddr_in la = sin_of(0, 81);
    cr_assert_eq(us_bind(p->b, l, (struct sockaddr *)&la, sizeof(la)), 0);
    cr_assert_eq(us_listen(p->b, l, 4), 0);
    c = us_socket(p->a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = sin_of(PAIR_B_IP, 81);
    cr_assert_eq(us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    sv = us_accept(p->b, l, NULL, NULL);
    cr_assert(sv >= 0);
    int later = 99;
    cr_assert_eq(us_setsockopt(p->b, l, IPPROTO_TCP, TCP_KEEPIDLE, &later, 4), 0);
    cr_assert_eq(get_opt(p->b, sv, IPPROTO_TCP, TCP_KEEPIDLE), 77);
    cr_assert_eq(get_opt(p->b, l, IPPROTO_TCP, TCP_KEEPIDLE), 99);
    us_close(p->a, c);
    us_close(p->b, sv);
    us_close(p->b, l);
}

Test(api, receive_timeout_returns_eagain_after_the_time)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    struct timeval tv = {.tv_sec = 2};
    us_setsockopt(p->a, c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    us_time_t t0 = us_wire_now(p->w);
    char b[4];
    FAILS_WITH(us_recv(p->a, c, b, 4, 0), EAGAIN);
    cr_assert_eq(us_wire_now(p->w) - t0, US_SEC(2));
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
}

Test(api, blocking_call_that_nothing_can_complete_fails_with_edeadlk)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    char b[4];
    /* Under virtual time only another program could send: nothing will. */
    FAILS_WITH(us_recv(p->a, c, b, 4, 0), EDEADLK);
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
}

Test(api, poll_reports_readable_writable_rdhup_hup)
{
    int c, s, l;
    tcp_connect_pair(p, 80, &c, &s, &l);
    struct pollfd pf = {.fd = c, .events = POLLIN | POLLOUT | POLLRDHUP};
    cr_assert_eq(us_poll(p->a, &pf, 1, 0), 1);
    cr_assert_eq(pf.revents, POLLOUT);
    us_send(p->b, s, "x", 1, 0);
    us_shutdown(p->b, s, SHUT_WR);
    us_wire_run_for(p->w, US_MSEC(10));
    us_poll(p->a, &pf, 1, 0);
    cr_assert(pf.revents & POLLIN);
    cr_assert(pf.revents & POLLRDHUP);
    us_shutdown(p->a, c, SHUT_WR);
    us_poll(p->a, &pf, 1, 0);
    cr_assert(pf.revents & POLLHUP, "both directions shut");
    struct pollfd bad = {.fd = 77, .events = POLLIN};
    cr_assert_eq(us_poll(p->a, &bad, 1, 0), 1);
    cr_assert_eq(bad.revents, POLLNVAL);
    us_close(p->a, c);
    us_close(p->b, s);
    us_close(p->b, l);
}
