/*
 * tap.c: a Linux TAP device as a link, and the real-time loop (ustack/tap.h).
 *
 * The loop is the stack's driver on a real link: it waits in ppoll() until
 * the TAP is readable or the next timer is due, hands frames to the stack in
 * batches, and runs the stack's timers. Faults, when asked for, sit in two
 * shapers: frames the stack sends wait in `out` before being written; frames
 * read from the TAP wait in `in` before reaching the stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/csum.h"
#include "core/util.h"
#include "ustack/tap.h"

#include <linux/virtio_net.h>
#include <sys/uio.h>

/* A frame may be a GSO frame of a whole 64 KiB IP packet, after the
 * virtio-net header. */
#define TAP_FRAME_MAX (65535 + 14)
#define VNET_HLEN ((int)sizeof(struct virtio_net_hdr))
#define LOOP_WATCH_MAX 8
#define READ_BATCH 256

struct tap {
    struct us_link link;
    int fd;
    bool vnet;       /* IFF_VNET_HDR: every frame starts with the header */
    bool offload;    /* checksum offload and GSO are on (both ways) */
    char name[IFNAMSIZ];
    struct us_shaper *out; /* set by the loop when faults are on */
    struct us_loop *loop;
};

struct watch {
    int fd;
    short events; /* POLLIN or POLLOUT */
    void (*fn)(void *ctx, int fd);
    void *ctx;
};

struct us_loop {
    struct us_stack *s;
    struct tap *tap;
    int iface;
    struct us_shaper *out, *in;
    us_time_t epoch;       /* loop time = epoch + monotonic elapsed */
    struct timespec mono0;
    volatile sig_atomic_t stop;
    int wake_fd;           /* eventfd: us_loop_stop() wakes a sleeping ppoll */
    struct watch watches[LOOP_WATCH_MAX];
    unsigned n_watches;
    uint8_t buf[VNET_HLEN + TAP_FRAME_MAX];
};

static int tap_write_hdr(struct tap *t, const struct virtio_net_hdr *vh, const uint8_t *frame,
                         size_t len)
{
    ssize_t n;
    if (t->vnet) {
        struct iovec iov[2] = {{(void *)vh, sizeof(*vh)}, {(void *)frame, len}};
        n = writev(t->fd, iov, 2);
    } else {
        n = write(t->fd, frame, len);
    }
    if (n < 0) return -errno;
    return 0;
}

/* The virtio-net partial checksum: the field holds the pseudo-header sum;
 * the sum from `start` to the end, field included, completes it. */
static void finish_csum(uint8_t *frame, size_t len, unsigned start, unsigned off)
{
    uint8_t *c = frame + start + off;
    uint16_t v = csum_fold(csum_add(0, frame + start, len - start));
    c[0] = (uint8_t)(v >> 8);
    c[1] = (uint8_t)v;
}

static int tap_write(struct tap *t, const uint8_t *frame, size_t len)
{
    static const struct virtio_net_hdr none = {.gso_type = VIRTIO_NET_HDR_GSO_NONE};
    return tap_write_hdr(t, &none, frame, len);
}

static int tap_send(struct us_link *link, const uint8_t *frame, size_t len, us_time_t now)
{
    struct tap *t = container_of(link, struct tap, link);
    if (t->out) {
        us_shaper_push(t->out, frame, len, now, 0);
        return 0;
    }
    return tap_write(t, frame, len);
}

/* The virtio-net header asks the kernel to finish the checksum and to cut
 * a GSO frame into MTU-sized segments (virtio spec §5.1.6.2; the kernel
 * side is virtio_net_hdr_to_skb()). A frame to a local socket is never
 * cut: the kernel's TCP takes it whole, as it takes its own GRO frames. */
static int tap_send_offload(struct us_link *link, const uint8_t *frame, size_t len,
                            const struct us_tx_offload *o, us_time_t now)
{
    struct tap *t = container_of(link, struct tap, link);
    (void)now;
    struct virtio_net_hdr vh = {.gso_type = VIRTIO_NET_HDR_GSO_NONE};
    if (o->csum_start) {
        vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        vh.csum_start = o->csum_start;
        vh.csum_offset = o->csum_offset;
    }
    if (o->gso_size) {
        vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        vh.gso_size = o->gso_size;
        /* Ethernet, IP and TCP headers: what every segment repeats. */
        vh.hdr_len = (uint16_t)(o->csum_start + ((frame[o->csum_start + 12] >> 4) * 4));
    }
    return tap_write_hdr(t, &vh, frame, len);
}

static const struct us_link_ops tap_ops = {.send = tap_send, .send_offload = tap_send_offload};

/* Checksum offload and TSO from the kernel to us, or neither. */
static int tap_set_offload(struct tap *t, bool on)
{
    unsigned long f = on ? TUN_F_CSUM | TUN_F_TSO4 : 0;
    if (ioctl(t->fd, TUNSETOFFLOAD, f) < 0) return -errno;
    t->offload = on;
    if (on) {
        t->link.flags |= US_LINK_F_TX_CSUM;
        t->link.gso_max = 65535;
    } else {
        t->link.flags &= ~US_LINK_F_TX_CSUM;
        t->link.gso_max = 0;
    }
    return 0;
}

static int set_mtu_up(const char *name, unsigned mtu, char *err, size_t errlen)
{
    int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sk < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (mtu) {
        ifr.ifr_mtu = (int)mtu;
        if (ioctl(sk, SIOCSIFMTU, &ifr) < 0) {
            snprintf(err, errlen, "cannot set MTU %u on %s: %s", mtu, name, strerror(errno));
            close(sk);
            return -1;
        }
    }
    if (ioctl(sk, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(sk, SIOCSIFFLAGS, &ifr);
    }
    close(sk);
    return 0;
}

struct us_link *us_tap_open(const char *name, unsigned mtu, char *err, size_t errlen)
{
    return us_tap_open_ex(name, mtu, 0, err, errlen);
}

struct us_link *us_tap_open_ex(const char *name, unsigned mtu, unsigned flags, char *err,
                               size_t errlen)
{
    if (!name || !*name || strlen(name) >= IFNAMSIZ) {
        snprintf(err, errlen, "bad TAP name '%s' (1 to %d characters)", name ? name : "",
                 IFNAMSIZ - 1);
        return NULL;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open /dev/net/tun: %s%s", strerror(errno),
                 errno == EACCES || errno == EPERM ? " (run as root, or with CAP_NET_ADMIN)"
                 : errno == ENOENT ? " (load the tun module: modprobe tun)"
                                   : "");
        return NULL;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    bool vnet = flags & US_TAP_OFFLOAD;
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    int rc = ioctl(fd, TUNSETIFF, &ifr);
    if (rc < 0 && vnet && errno == EINVAL) {
        /* A kernel without the virtio-net header: no offloads, then. */
        vnet = false;
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
        rc = ioctl(fd, TUNSETIFF, &ifr);
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot attach to TAP %s: %s%s", name, strerror(errno),
                 errno == EPERM ? " (needs CAP_NET_ADMIN)"
                 : errno == EBUSY ? " (another process holds it)"
                                  : "");
        close(fd);
        return NULL;
    }
    if (set_mtu_up(ifr.ifr_name, mtu, err, errlen) < 0) {
        close(fd);
        return NULL;
    }
    struct tap *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    t->fd = fd;
    snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
    t->link.ops = &tap_ops;
    t->link.mtu = mtu ? mtu : 1500;
    t->link.name = t->name;
    /* Without TUNSETOFFLOAD the header stays (all zeros: nothing asked)
     * and frames go one segment each. */
    t->vnet = vnet;
    if (vnet) tap_set_offload(t, true);
    return &t->link;
}

bool us_tap_offloaded(const struct us_link *link)
{
    const struct tap *t = container_of(link, const struct tap, link);
    return t->offload;
}

int us_tap_fd(const struct us_link *link)
{
    const struct tap *t = container_of(link, const struct tap, link);
    return t->fd;
}

void us_tap_close(struct us_link *link)
{
    if (!link) return;
    struct tap *t = container_of(link, struct tap, link);
    close(t->fd);
    free(t);
}

/* ---- the loop ---- */

static us_time_t mono_elapsed(const struct us_loop *l)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t sec = ts.tv_sec - l->mono0.tv_sec;
    int64_t nsec = ts.tv_nsec - l->mono0.tv_nsec;
    return (us_time_t)(sec * 1000000 + nsec / 1000);
}

us_time_t us_loop_now(const struct us_loop *l) { return l->epoch + mono_elapsed(l); }

static us_time_t drv_now(void *ctx) { return us_loop_now(ctx); }

static int loop_once(struct us_loop *l, us_time_t until);

static int drv_wait(void *ctx, us_time_t until)
{
    struct us_loop *l = ctx;
    if (l->stop) {
        errno = EINTR;
        return -1;
    }
    return loop_once(l, until);
}

static bool has_faults(const struct us_faults *f)
{
    return f && (f->loss > 0 || f->dup > 0 || f->reorder > 0 || f->corrupt > 0 || f->delay ||
                 f->rate_bps || f->down);
}

struct us_loop *us_loop_new(struct us_stack *s, struct us_link *link, int iface,
                            const struct us_faults *faults_out, const struct us_faults *faults_in,
                            uint64_t seed)
{
    struct us_loop *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->s = s;
    l->tap = container_of(link, struct tap, link);
    l->iface = iface;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &l->mono0);
    /* Loop time is monotonic but starts at the wall clock, so captures carry
     * real timestamps that line up with the kernel's. */
    l->epoch = (us_time_t)rt.tv_sec * 1000000u + (us_time_t)rt.tv_nsec / 1000u;
    /* Faults act per segment: a lost GSO frame would be dozens of lost
     * segments, and a corrupted one could not be told apart from a partial
     * checksum. With faults, frames go one segment each, checksummed. */
    if (l->tap->offload && (has_faults(faults_out) || has_faults(faults_in)))
        tap_set_offload(l->tap, false);
    if (has_faults(faults_out)) {
        l->out = us_shaper_new(seed ^ 0x6f7574u);
        us_shaper_set_faults(l->out, faults_out);
        l->tap->out = l->out;
    }
    if (has_faults(faults_in)) {
        l->in = us_shaper_new(seed ^ 0x696eu);
        us_shaper_set_faults(l->in, faults_in);
    }
    /* Without it a stop that lands between the flag check and ppoll() would
     * sleep until the next frame. */
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0) {
        us_shaper_free(l->out);
        us_shaper_free(l->in);
        free(l);
        return NULL;
    }
    l->tap->loop = l;
    struct us_driver drv = {.now = drv_now, .wait = drv_wait, .ctx = l};
    us_stack_set_driver(s, &drv);
    return l;
}

void us_loop_free(struct us_loop *l)
{
    if (!l) return;
    if (l->tap) l->tap->out = NULL;
    us_stack_set_driver(l->s, NULL);
    us_shaper_free(l->out);
    us_shaper_free(l->in);
    close(l->wake_fd);
    free(l);
}

static int add_watch(struct us_loop *l, int fd, short events, void (*fn)(void *ctx, int fd),
                     void *ctx)
{
    if (l->n_watches >= LOOP_WATCH_MAX) return -ENOSPC;
    l->watches[l->n_watches++] = (struct watch){fd, events, fn, ctx};
    return 0;
}

int us_loop_watch(struct us_loop *l, int fd, void (*fn)(void *ctx, int fd), void *ctx)
{
    return add_watch(l, fd, POLLIN, fn, ctx);
}

int us_loop_watch_write(struct us_loop *l, int fd, void (*fn)(void *ctx, int fd), void *ctx)
{
    return add_watch(l, fd, POLLOUT, fn, ctx);
}

void us_loop_unwatch(struct us_loop *l, int fd)
{
    for (unsigned i = 0; i < l->n_watches; i++)
        if (l->watches[i].fd == fd) {
            l->watches[i] = l->watches[--l->n_watches];
            return;
        }
}

void us_loop_stop(struct us_loop *l)
{
    l->stop = 1;
    uint64_t one = 1;
    ssize_t rc = write(l->wake_fd, &one, sizeof(one)); /* async-signal-safe */
    (void)rc;
}
bool us_loop_stopped(const struct us_loop *l) { return l->stop != 0; }

/* Moves due frames out of the shapers: to the TAP, and into the stack. */
static void pump_shapers(struct us_loop *l, us_time_t now)
{
    size_t n;
    if (l->out)
        while ((n = us_shaper_pop(l->out, now, l->buf, sizeof(l->buf), NULL)) > 0)
            tap_write(l->tap, l->buf, n);
    if (l->in)
        while ((n = us_shaper_pop(l->in, now, l->buf, sizeof(l->buf), NULL)) > 0)
            us_stack_input(l->s, l->iface, l->buf, n, now);
}

static void read_tap(struct us_loop *l)
{
    struct tap *t = l->tap;
    size_t hl = t->vnet ? VNET_HLEN : 0;
    for (int i = 0; i < READ_BATCH; i++) {
        ssize_t n = read(t->fd, l->buf, sizeof(l->buf));
        if (n <= (ssize_t)hl) return;
        us_time_t now = us_loop_now(l);
        const uint8_t *frame = l->buf + hl;
        size_t len = (size_t)n - hl;
        if (l->in) {
            us_shaper_push(l->in, frame, len, now, 0);
            continue;
        }
        /* The kernel left the checksum partial (it was made on this
         * machine and never crossed a wire), or checked it already. */
        const struct virtio_net_hdr *vh = (const void *)l->buf;
        bool trusted = t->vnet && (vh->flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM |
                                                VIRTIO_NET_HDR_F_DATA_VALID));
        /* A capture shows the frame with its checksum, as it would be on a
         * wire: finish it, only when someone is looking. */
        if (t->vnet && (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && us_stack_observed(l->s) &&
            (size_t)vh->csum_start + vh->csum_offset + 2 <= len)
            finish_csum(l->buf + hl, len, vh->csum_start, vh->csum_offset);
        if (trusted) t->link.flags |= US_LINK_F_CSUM_TRUSTED;
        us_stack_input(l->s, l->iface, frame, len, now);
        if (trusted) t->link.flags &= ~US_LINK_F_CSUM_TRUSTED;
    }
}

/* One round: frames due, timers due, then wait (at most until `until`) for
 * the TAP or a watched descriptor and handle what arrived. */
static int loop_once(struct us_loop *l, us_time_t until)
{
    us_time_t now = us_loop_now(l);
    pump_shapers(l, now);
    us_time_t next = us_stack_poll(l->s, now);
    pump_shapers(l, now);
    if (l->out) next = min_u64(next, us_shaper_next(l->out));
    if (l->in) next = min_u64(next, us_shaper_next(l->in));
    next = min_u64(next, until);

    if (l->stop) return 0;
    struct pollfd pfd[2 + LOOP_WATCH_MAX];
    pfd[0] = (struct pollfd){.fd = l->tap->fd, .events = POLLIN};
    for (unsigned i = 0; i < l->n_watches; i++)
        pfd[1 + i] = (struct pollfd){.fd = l->watches[i].fd, .events = l->watches[i].events};
    pfd[1 + l->n_watches] = (struct pollfd){.fd = l->wake_fd, .events = POLLIN};
    struct timespec ts, *tsp = NULL;
    if (next != US_TIME_NEVER) {
        us_time_t wait = next > now ? next - now : 0;
        ts.tv_sec = (time_t)(wait / 1000000u);
        ts.tv_nsec = (long)(wait % 1000000u) * 1000;
        tsp = &ts;
    }
    int rc = ppoll(pfd, 2 + l->n_watches, tsp, NULL);
    if (rc < 0) return errno == EINTR ? 0 : -1;
    if (pfd[0].revents & POLLIN) read_tap(l);
    /* A callback may unwatch (itself or another descriptor), which moves the
     * last watch into the freed slot: only call a watch whose slot still
     * holds the descriptor polled there. */
    unsigned nw = l->n_watches;
    for (unsigned i = 0; i < nw && i < l->n_watches; i++)
        if (l->watches[i].fd == pfd[1 + i].fd &&
            (pfd[1 + i].revents & (l->watches[i].events | POLLHUP | POLLERR)))
            l->watches[i].fn(l->watches[i].ctx, l->watches[i].fd);
    now = us_loop_now(l);
    pump_shapers(l, now);
    us_stack_poll(l->s, now);
    return 0;
}

int us_loop_run_until(struct us_loop *l, us_time_t until)
{
    while (!l->stop) {
        if (until != US_TIME_NEVER && us_loop_now(l) >= until) return 0;
        if (loop_once(l, until) < 0 && errno != EINTR) return -1;
    }
    return -1;
}

void us_loop_run(struct us_loop *l) { us_loop_run_until(l, US_TIME_NEVER); }
