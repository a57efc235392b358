/*
 * b_bulk.c: one-way bulk transfer.
 *
 * ustack: a client stack sends to a server stack for a fixed time, either
 * with one thread pumping both stacks over the in-memory wire ("wire1"), or
 * with one thread per stack over the lock-free ring link ("ring2"). The
 * kernel: a sender and a receiver thread over loopback in a private
 * namespace, lo at the matching MTU: 1500 with offloads off (ustack does no
 * segmentation offload on the wire either) and 65536 with offloads on.
 * A last figure is goodput with 1% loss each way on the wire, against the
 * same transfer without loss.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ustack/socket.h"
#include "ustack/spsc.h"
#include "ustack/wire.h"

#define SNDBUF (4u << 20)
#define RCVBUF (4u << 20)

/* The kernel's writer writes 128 KiB per call (kernel.c); so does this
 * one, once per round of the wire. */
static uint8_t txbuf[1 << 17], rxbuf[1 << 18];

/* One write of 128 KiB (or what the socket takes of it); drains what
 * arrived; returns bytes read. Writing until the socket refuses instead
 * would queue the whole 4 MiB buffer before the wire moves a frame, a
 * backlog no kernel writer builds over loopback, where every write's
 * segments are delivered within the call. */
static uint64_t pump(struct us_stack *a, int c, struct us_stack *b, int s)
{
    us_send(a, c, txbuf, sizeof(txbuf), MSG_DONTWAIT);
    uint64_t got = 0;
    ssize_t n;
    while ((n = us_recv(b, s, rxbuf, sizeof(rxbuf), MSG_DONTWAIT)) > 0) got += (uint64_t)n;
    return got;
}

double upair_bulk(struct upair *p, int c, int s, unsigned ms)
{
    uint64_t warm = mono_ns() + 100000000u;
    while (mono_ns() < warm) {
        pump(p->a, c, p->b, s);
        upair_step(p);
    }
    uint64_t bytes = 0, t0 = mono_ns(), end = t0 + (uint64_t)ms * 1000000u, t;
    do {
        for (int i = 0; i < 8; i++) {
            bytes += pump(p->a, c, p->b, s);
            upair_step(p);
        }
    } while ((t = mono_ns()) < end);
    return (double)bytes * 8 / (double)(t - t0);
}

/* Gbit/s over `ms` of real time after a short warm-up; `loss` in percent
 * on both directions. `rtos` receives the RTO count. */
static double wire1(unsigned mtu, unsigned ms, double loss, uint64_t *rtos)
{
    struct upair *p = upair_new(mtu, SNDBUF, RCVBUF);
    int c, s;
    if (!p || upair_connect(p, 5001, &c, &s) < 0) {
        upair_free(p);
        return -1;
    }
    if (loss > 0) {
        struct us_faults f = {.loss = loss};
        us_wire_set_faults(p->w, p->pa, &f);
        us_wire_set_faults(p->w, p->pb, &f);
    }
    double g = upair_bulk(p, c, s, ms);
    if (rtos) *rtos = us_stack_counter(p->a, US_C_tcp_rto_expired);
    upair_free(p);
    return g;
}

/* ---- two threads over the ring link ---- */

struct side {
    struct us_stack *s;
    struct us_spsc *q;
    int end, iface, fd;
    _Atomic int *stop;
    uint64_t bytes;
    int cpu;
};

static void *sender_main(void *arg)
{
    struct side *d = arg;
    pin_cpu(d->cpu);
    static uint8_t buf[1 << 17]; /* 128 KiB writes, as the kernel's writer */
    while (!atomic_load_explicit(d->stop, memory_order_relaxed)) {
        us_time_t now = mono_us();
        us_spsc_poll(d->q, d->end, d->s, d->iface, now, 256);
        us_stack_poll(d->s, now);
        us_send(d->s, d->fd, buf, sizeof(buf), MSG_DONTWAIT);
    }
    return NULL;
}

static void *receiver_main(void *arg)
{
    struct side *d = arg;
    pin_cpu(d->cpu);
    static uint8_t buf[1 << 18];
    while (!atomic_load_explicit(d->stop, memory_order_relaxed)) {
        us_time_t now = mono_us();
        us_spsc_poll(d->q, d->end, d->s, d->iface, now, 256);
        ssize_t n;
        while ((n = us_recv(d->s, d->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
            d->bytes += (uint64_t)n;
        us_stack_poll(d->s, now);
    }
    return NULL;
}

static double ring2(unsigned mtu, unsigned ms)
{
    struct us_spsc *q = us_spsc_new(16u << 20, mtu);
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.max_mtu = mtu;
    cfg.pbuf_max = 4096;
    cfg.tcp.sndbuf = SNDBUF;
    cfg.tcp.rcvbuf = RCVBUF;
    cfg.name = "client";
    struct us_stack *a = us_stack_new(&cfg);
    cfg.name = "server";
    cfg.seed = 2;
    struct us_stack *b = us_stack_new(&cfg);
    struct us_iface_config ia = {.mac = {2, 0, 0, 0, 0, 1}, .addr = 0x0a000001, .prefix_len = 24};
    struct us_iface_config ib = {.mac = {2, 0, 0, 0, 0, 2}, .addr = 0x0a000002, .prefix_len = 24};
    int fa = us_stack_add_iface(a, us_spsc_link(q, 0), &ia);
    int fb = us_stack_add_iface(b, us_spsc_link(q, 1), &ib);
    double res = -1;
    /* The handshake in this thread, both stacks in turn; then one thread each. */
    int l = us_socket(b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5001)};
    us_bind(b, l, (struct sockaddr *)&sa, sizeof(sa));
    us_listen(b, l, 4);
    int c = us_socket(a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sa.sin_addr.s_addr = htonl(0x0a000002);
    us_connect(a, c, (struct sockaddr *)&sa, sizeof(sa));
    int s = -1;
    for (int i = 0; i < 10000 && s < 0; i++) {
        us_time_t now = mono_us();
        us_spsc_poll(q, 0, a, fa, now, 64);
        us_stack_poll(a, now);
        us_spsc_poll(q, 1, b, fb, now, 64);
        us_stack_poll(b, now);
        s = us_accept(b, l, NULL, NULL);
    }
    if (s >= 0) {
        us_fcntl(b, s, F_SETFL, O_NONBLOCK);
        _Atomic int stop = 0;
        struct side tx = {.s = a, .q = q, .end = 0, .iface = fa, .fd = c, .stop = &stop, .cpu = 0};
        struct side rx = {.s = b, .q = q, .end = 1, .iface = fb, .fd = s, .stop = &stop, .cpu = 1};
        pthread_t t1, t2;
        pthread_create(&t1, NULL, sender_main, &tx);
        pthread_create(&t2, NULL, receiver_main, &rx);
        /* Warm-up, then count what the receiver got in the window. The
         * counter is read racily, which is fine for a figure. */
        struct timespec w = {0, 100000000};
        nanosleep(&w, NULL);
        uint64_t b0 = *(volatile uint64_t *)&rx.bytes, t0 = mono_ns();
        struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&d, NULL);
        uint64_t b1 = *(volatile uint64_t *)&rx.bytes, t1n = mono_ns();
        atomic_store(&stop, 1);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        res = (double)(b1 - b0) * 8 / (double)(t1n - t0);
    }
    us_stack_free(a);
    us_stack_free(b);
    us_spsc_free(q);
    return res;
}

/* ---- the kernel ---- */

struct kbulk_arg {
    unsigned ms;
};

static int kbulk_fn(void *arg, double *out, int nout)
{
    struct kbulk_arg *k = arg;
    out[0] = kernel_bulk("127.0.0.1", k->ms, 0, 1);
    return out[0] > 0 ? 1 : 0;
}

int bench_bulk(const struct bench_ctx *bc)
{
    unsigned ms = bc->quick ? 100 : 700;
    static const unsigned mtus[] = {1500, 65535};
    for (int i = 0; i < 2; i++) {
        unsigned mtu = mtus[i];
        char name[64];
        snprintf(name, sizeof(name), "bulk/wire1/mtu%u", mtu);
        struct bench_entry *e1 = bench_entry_new(name, "Gbit/s", true);
        snprintf(name, sizeof(name), "bulk/ring2/mtu%u", mtu);
        struct bench_entry *e2 = bench_entry_new(name, "Gbit/s", true);
        bool off = mtu == 1500;
        snprintf(e1->ref_name, sizeof(e1->ref_name), "kernel lo %u %s", mtu == 1500 ? 1500 : 65536,
                 off ? "no-offl" : "offl");
        snprintf(e2->ref_name, sizeof(e2->ref_name), "%s", e1->ref_name);
        snprintf(e1->note, sizeof(e1->note), "1 thread pumps both stacks");
        snprintf(e2->note, sizeof(e2->note), "1 thread per stack, SPSC rings");
        for (unsigned r = 0; r < bc->runs; r++) {
            series_add(&e1->us, wire1(mtu, ms, 0, NULL));
            series_add(&e2->us, ring2(mtu, ms));
            if (bc->root) {
                struct kbulk_arg ka = {ms};
                double v;
                if (run_in_netns(kbulk_fn, &ka, &v, 1, mtu == 1500 ? 1500 : 65536, !off, 30) == 1) {
                    series_add(&e1->k, v);
                    series_add(&e2->k, v);
                }
            }
        }
        if (!bc->root) snprintf(e1->note, sizeof(e1->note), "kernel side needs root (netns)");
    }
    struct bench_entry *el = bench_entry_new("bulk/wire1/mtu1500/loss1%", "Gbit/s", true);
    snprintf(el->ref_name, sizeof(el->ref_name), "ustack loss-free");
    uint64_t rtos = 0, r1;
    for (unsigned r = 0; r < bc->runs; r++) {
        series_add(&el->us, wire1(1500, ms, 1.0, &r1));
        rtos += r1;
        series_add(&el->k, wire1(1500, ms, 0, NULL));
    }
    snprintf(el->note, sizeof(el->note), "1%% loss each way; %llu RTO expiries in %u runs",
             (unsigned long long)rtos, bc->runs);
    return 0;
}
