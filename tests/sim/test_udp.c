/* UDP (RFC 768) between two stacks: datagram boundaries, port unreachable
 * as ECONNREFUSED on a connected socket, the bounded receive queue. */
#include <criterion/criterion.h>
#include <errno.h>

#include "testlib.h"

static int udp_bound(struct us_stack *s, uint16_t port)
{
    int fd = us_socket(s, AF_INET, SOCK_DGRAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = sin_of(0, port);
    cr_assert_eq(us_bind(s, fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
    return fd;
}

Test(udp, echo_keeps_datagram_boundaries)
{
    struct pair *p = pair_new(1, NULL, NULL);
    int srv = udp_bound(p->b, 7);
    int cli = us_socket(p->a, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = sin_of(PAIR_B_IP, 7);
    static const size_t sizes[] = {1, 100, 0, 1472, 37};
    for (size_t i = 0; i < 5; i++) {
        char buf[1500];
        memset(buf, 'a' + (int)i, sizes[i]);
        cr_assert_eq(us_sendto(p->a, cli, buf, sizes[i], 0, (struct sockaddr *)&to, sizeof(to)),
                     (ssize_t)sizes[i]);
    }
    /* Each datagram arrives whole and alone, in order here (no faults). */
    for (size_t i = 0; i < 5; i++) {
        char buf[2000];
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = us_recvfrom(p->b, srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        cr_assert_eq(n, (ssize_t)sizes[i], "datagram %zu", i);
        cr_assert_eq(ntohl(from.sin_addr.s_addr), PAIR_A_IP);
        us_sendto(p->b, srv, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
    for (size_t i = 0; i < 5; i++) {
        char buf[2000];
        cr_assert_eq(us_recv(p->a, cli, buf, sizeof(buf), 0), (ssize_t)sizes[i]);
    }
    char big[1473];
    cr_assert_eq(us_sendto(p->a, cli, big, sizeof(big), 0, (struct sockaddr *)&to, sizeof(to)), -1,
                 "no fragmentation: larger than the MTU allows");
    cr_assert_eq(errno, EMSGSIZE);
    us_close(p->a, cli);
    us_close(p->b, srv);
    pair_free(p);
}

Test(udp, port_unreachable_reaches_a_connected_socket)
{
    struct pair *p = pair_new(2, NULL, NULL);
    int cli = us_socket(p->a, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = sin_of(PAIR_B_IP, 9999);
    cr_assert_eq(us_connect(p->a, cli, (struct sockaddr *)&to, sizeof(to)), 0);
    cr_assert_eq(us_send(p->a, cli, "anyone?", 7, 0), 7);
    us_wire_run_for(p->w, US_MSEC(10));
    cr_assert_eq(us_stack_counter(p->b, US_C_icmp_unreach_tx), 1);
    char b[8];
    cr_assert_eq(us_recv(p->a, cli, b, sizeof(b), MSG_DONTWAIT), -1);
    cr_assert_eq(errno, ECONNREFUSED, "the next call reports it");
    cr_assert_eq(us_recv(p->a, cli, b, sizeof(b), MSG_DONTWAIT), -1);
    cr_assert_eq(errno, EAGAIN, "once");
    us_close(p->a, cli);
    pair_free(p);
}

Test(udp, full_receive_queue_drops_and_counts)
{
    struct pair *p = pair_new(3, NULL, NULL);
    int srv = udp_bound(p->b, 7);
    int small = 1000;
    us_setsockopt(p->b, srv, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)); /* 2304 min */
    int cli = us_socket(p->a, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = sin_of(PAIR_B_IP, 7);
    /* Resolve first: ARP's own queue holds only 8 frames. */
    us_ping_send(p->a, PAIR_B_IP, 1, 1, 8);
    us_wire_run_for(p->w, US_MSEC(1));
    char buf[1000] = {0};
    for (int i = 0; i < 10; i++)
        us_sendto(p->a, cli, buf, sizeof(buf), 0, (struct sockaddr *)&to, sizeof(to));
    us_wire_run_for(p->w, US_MSEC(10));
    cr_assert_eq(us_stack_counter(p->b, US_C_drop_udp_rcvbuf), 8);
    int n = 0;
    while (us_recv(p->b, srv, buf, sizeof(buf), MSG_DONTWAIT) > 0) n++;
    cr_assert_eq(n, 2);
    us_close(p->a, cli);
    us_close(p->b, srv);
    pair_free(p);
}

Test(udp, bind_conflicts)
{
    struct pair *p = pair_new(4, NULL, NULL);
    int a = udp_bound(p->b, 53);
    int b = us_socket(p->b, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in x = sin_of(0, 53);
    cr_assert_eq(us_bind(p->b, b, (struct sockaddr *)&x, sizeof(x)), -1);
    cr_assert_eq(errno, EADDRINUSE);
    /* TCP and UDP ports are separate spaces. */
    int t = us_socket(p->b, AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(us_bind(p->b, t, (struct sockaddr *)&x, sizeof(x)), 0);
    us_close(p->b, a);
    us_close(p->b, b);
    us_close(p->b, t);
    pair_free(p);
}
