/*
 * b_rr.c: request/response round trips, and whole connection lifecycles.
 *
 * rr: the client sends `size` bytes, the server reads them all and sends
 * them back; one round trip is complete when the client has them. ustack
 * runs both stacks in one thread on the wire, which is the same thing as
 * the kernel with both ends pinned to one CPU (no cross-core wake-up); the
 * kernel is also measured unpinned (blocking, ends on two CPUs), as a
 * reference of what cross-core wake-ups cost, never the ratio's basis.
 *
 * crr: connect, a 1-byte request and response, close with SO_LINGER 0 (an
 * RST, so neither side keeps TIME-WAIT and the ports never run out), the
 * kernel's loop on one CPU against ustack's on one thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "ustack/socket.h"
#include "ustack/wire.h"

static bool recv_full(struct upair *p, struct us_stack *s, int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    for (int spins = 0; got < n; spins++) {
        ssize_t r = us_recv(s, fd, buf + got, n - got, MSG_DONTWAIT);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0 || (r < 0 && errno != EAGAIN) || spins > 100000) return false;
        upair_step(p);
    }
    return true;
}

double upair_rr(struct upair *p, int c, int s, size_t size, unsigned ms)
{
    int one = 1;
    us_setsockopt(p->a, c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    us_setsockopt(p->b, s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    static uint8_t buf[65536];
    memset(buf, 'r', size);
    uint64_t n = 0, t0 = mono_ns(), end = t0 + (uint64_t)ms * 1000000u, t;
    do {
        for (int i = 0; i < 64; i++) {
            if (us_send(p->a, c, buf, size, MSG_DONTWAIT) != (ssize_t)size) goto out;
            upair_step(p);
            if (!recv_full(p, p->b, s, buf, size)) goto out;
            if (us_send(p->b, s, buf, size, MSG_DONTWAIT) != (ssize_t)size) goto out;
            upair_step(p);
            if (!recv_full(p, p->a, c, buf, size)) goto out;
            n++;
        }
    } while ((t = mono_ns()) < end);
out:
    t = mono_ns();
    return n ? (double)(t - t0) / 1000.0 / (double)n : -1;
}

/* Microseconds per round trip over `ms`, on a fresh pair. */
static double ustack_rr(size_t size, unsigned ms)
{
    struct upair *p = upair_new(1500, 0, 0);
    int c, s;
    if (!p || upair_connect(p, 5002, &c, &s) < 0) {
        upair_free(p);
        return -1;
    }
    double v = upair_rr(p, c, s, size, ms);
    upair_free(p);
    return v;
}

struct krr_arg {
    size_t size;
    unsigned ms;
    bool pinned;
};

static int krr_fn(void *arg, double *out, int nout)
{
    struct krr_arg *k = arg;
    out[0] = kernel_rr(k->size, k->ms, k->pinned);
    return out[0] > 0;
}

int bench_rr(const struct bench_ctx *bc)
{
    unsigned ms = bc->quick ? 100 : 500;
    static const size_t sizes[] = {1, 1024};
    for (int i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof(name), "rr/%zuB/pinned", sizes[i]);
        struct bench_entry *e = bench_entry_new(name, "us/RT", false);
        snprintf(name, sizeof(name), "rr/%zuB/unpinned", sizes[i]);
        struct bench_entry *eu = bench_entry_new(name, "us/RT", false);
        snprintf(e->note, sizeof(e->note), "kernel: both ends on one CPU");
        snprintf(eu->note, sizeof(eu->note),
                 "kernel: ends on two CPUs, blocking (cross-core wake-ups; reference only)");
        for (unsigned r = 0; r < bc->runs; r++) {
            double u = ustack_rr(sizes[i], ms);
            series_add(&e->us, u);
            series_add(&eu->us, u);
            if (!bc->root) continue;
            double v;
            struct krr_arg ka = {sizes[i], ms, true};
            if (run_in_netns(krr_fn, &ka, &v, 1, 0, true, 30) == 1) series_add(&e->k, v);
            ka.pinned = false;
            if (run_in_netns(krr_fn, &ka, &v, 1, 0, true, 30) == 1) series_add(&eu->k, v);
        }
    }
    return 0;
}

/* ---- crr ---- */

/* Lifecycles per second over `ms`. */
static double ustack_crr(unsigned ms)
{
    struct upair *p = upair_new(1500, 0, 0);
    if (!p) return -1;
    int l = us_socket(p->b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5003)};
    us_bind(p->b, l, (struct sockaddr *)&sa, sizeof(sa));
    us_listen(p->b, l, 128);
    sa.sin_addr.s_addr = htonl(0x0a000002);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    uint8_t b = 'q';
    uint64_t n = 0, t0 = mono_ns(), end = t0 + (uint64_t)ms * 1000000u;
    while (mono_ns() < end) {
        for (int i = 0; i < 16; i++) {
            int c = us_socket(p->a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c < 0 || (us_connect(p->a, c, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
                          errno != EINPROGRESS))
                goto out;
            upair_step(p);
            int s = us_accept4(p->b, l, NULL, NULL, SOCK_NONBLOCK);
            if (s < 0 || us_send(p->a, c, &b, 1, MSG_DONTWAIT) != 1) goto out;
            upair_step(p);
            if (us_recv(p->b, s, &b, 1, MSG_DONTWAIT) != 1 || us_send(p->b, s, &b, 1, 0) != 1)
                goto out;
            us_close(p->b, s);
            upair_step(p);
            if (us_recv(p->a, c, &b, 1, MSG_DONTWAIT) != 1) goto out;
            us_setsockopt(p->a, c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            us_close(p->a, c);
            upair_step(p);
            n++;
        }
    }
out:;
    double secs = (double)(mono_ns() - t0) / 1e9;
    upair_free(p);
    return n ? (double)n / secs : -1;
}

struct kcrr_arg {
    unsigned ms;
};

static int kcrr_fn(void *arg, double *out, int nout)
{
    out[0] = kernel_crr(((struct kcrr_arg *)arg)->ms);
    return out[0] > 0;
}

int bench_crr(const struct bench_ctx *bc)
{
    unsigned ms = bc->quick ? 100 : 500;
    struct bench_entry *e = bench_entry_new("crr/1B", "lifecycles/s", true);
    snprintf(e->note, sizeof(e->note), "close with SO_LINGER 0; kernel: both ends on one CPU");
    for (unsigned r = 0; r < bc->runs; r++) {
        series_add(&e->us, ustack_crr(ms));
        if (!bc->root) continue;
        struct kcrr_arg ka = {ms};
        double v;
        if (run_in_netns(kcrr_fn, &ka, &v, 1, 0, true, 30) == 1) series_add(&e->k, v);
    }
    return 0;
}
