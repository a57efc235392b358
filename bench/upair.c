/*
 * upair.c: two ustack stacks on the in-memory wire, for the benchmarks.
 *
 * The wire normally runs virtual time; here its clock follows the real
 * monotonic clock (it is moved forward before every step), so timers
 * (delayed ACKs, RTOs) fire as they would on a real link and timestamps
 * carry real time. The wire has no faults, no delay: a frame sent is
 * delivered in the same step, as over loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ustack/socket.h"
#include "ustack/wire.h"

#define A_IP 0x0a000001u
#define B_IP 0x0a000002u

struct upair *upair_new(unsigned mtu, uint32_t sndbuf, uint32_t rcvbuf)
{
    struct upair *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->w = us_wire_new(1);
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.max_mtu = mtu;
    /* Enough packet buffers for a full window in flight at 64 KiB frames. */
    cfg.pbuf_max = 4096;
    if (sndbuf) cfg.tcp.sndbuf = sndbuf;
    if (rcvbuf) cfg.tcp.rcvbuf = rcvbuf;
    cfg.tcp.ephemeral_lo = 1024;
    cfg.tcp.ephemeral_hi = 65535;
    /* Thousands of SYNs arrive in one step when connections are made in
     * batches; keep them all as real SYN-RECEIVED entries, not cookies. */
    cfg.tcp.max_syn_backlog = 65536;
    cfg.name = "client";
    cfg.seed = 11;
    p->a = us_stack_new(&cfg);
    cfg.name = "server";
    cfg.seed = 12;
    p->b = us_stack_new(&cfg);
    if (!p->w || !p->a || !p->b) {
        upair_free(p);
        return NULL;
    }
    struct us_iface_config ia = {
        .mac = {2, 0, 0, 0, 0, 1}, .addr = A_IP, .prefix_len = 24, .mtu = mtu};
    struct us_iface_config ib = {
        .mac = {2, 0, 0, 0, 0, 2}, .addr = B_IP, .prefix_len = 24, .mtu = mtu};
    p->pa = us_wire_attach(p->w, p->a, &ia);
    p->pb = us_wire_attach(p->w, p->b, &ib);
    if (p->pa < 0 || p->pb < 0) {
        upair_free(p);
        return NULL;
    }
    us_wire_set_now(p->w, mono_us());
    return p;
}

void upair_free(struct upair *p)
{
    if (!p) return;
    if (p->a) us_stack_free(p->a);
    if (p->b) us_stack_free(p->b);
    if (p->w) us_wire_free(p->w);
    free(p);
}

void upair_step(struct upair *p)
{
    us_time_t t = mono_us();
    if (t > us_wire_now(p->w)) us_wire_set_now(p->w, t);
    us_wire_step(p->w, us_wire_now(p->w));
}

int upair_connect(struct upair *p, uint16_t port, int *cfd, int *sfd)
{
    int l = us_socket(p->b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (l < 0 || us_bind(p->b, l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        us_listen(p->b, l, 64) < 0)
        return -1;
    int c = us_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    a.sin_addr.s_addr = htonl(B_IP);
    if (c < 0 ||
        (us_connect(p->a, c, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS))
        return -1;
    int s = -1;
    for (int i = 0; i < 1000 && s < 0; i++) {
        upair_step(p);
        s = us_accept(p->b, l, NULL, NULL);
    }
    us_close(p->b, l);
    if (s < 0) return -1;
    us_fcntl(p->b, s, F_SETFL, O_NONBLOCK);
    *cfd = c;
    *sfd = s;
    return 0;
}
