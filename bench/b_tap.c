/*
 * b_tap.c: ustack <-> kernel through a TAP, against kernel <-> kernel over a
 * veth pair, and the TAP's own frame ceiling.
 *
 * Everything runs in child processes inside private network namespaces
 * (unshare; they vanish with the child): the TAP and the kernel's end of
 * it live in one; the veth pair joins two (the second one belongs to a
 * grandchild that hosts the far end). Addresses exist only inside them.
 *   tap/send   ustack sends bulk to a kernel socket through the TAP
 *   tap/recv   a kernel socket sends bulk to ustack
 *   tap/rr     1-byte round trips, kernel client -> ustack echo, both on CPU 0
 *   ceiling    write() of 1514-byte frames into the TAP, one per call,
 *              as Gbit/s of 1448-byte payloads (the most ustack's TAP path
 *              could carry at one write per frame)
 * The veth figures use the same pattern with both ends in the kernel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "ustack/socket.h"
#include "ustack/tap.h"

#define K_IP     "10.9.0.1"
#define U_IP     0x0a090002u
#define TAP_NAME "ubt0"

struct tap_arg {
    unsigned mtu, ms;
    bool offload; /* the virtio-net header: checksum offload and GSO both ways */
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* ---- kernel helpers, run inside the namespaces ---- */

struct kthread {
    int port, cpu;
    unsigned ms;
    const char *peer;
    uint64_t bytes, t0, t1;
    double us_per_rt;
};

static int k_listen(const char *ip, int port)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 16) < 0) {
        close(l);
        return -1;
    }
    return l;
}

static int k_connect(const char *ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    for (int i = 0; i < 200; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(c, (struct sockaddr *)&a, sizeof(a)) == 0) return c;
        close(c);
        usleep(10000);
    }
    return -1;
}

/* Accepts one connection on `l` and reads to EOF. */
static void k_sink(int l, struct kthread *k)
{
    int fd = accept(l, NULL, NULL);
    if (fd < 0) return;
    static char buf[1 << 18];
    ssize_t n;
    k->t0 = mono_ns();
    while ((n = read(fd, buf, sizeof(buf))) > 0) k->bytes += (uint64_t)n;
    k->t1 = mono_ns();
    close(fd);
}

/* Connects and writes for k->ms. */
static void k_source(struct kthread *k)
{
    int c = k_connect(k->peer, k->port);
    if (c < 0) return;
    static char buf[1 << 17];
    k->t0 = mono_ns();
    uint64_t end = k->t0 + (uint64_t)k->ms * 1000000u;
    while (mono_ns() < end) {
        ssize_t n = write(c, buf, sizeof(buf));
        if (n < 0) break;
        k->bytes += (uint64_t)n;
    }
    k->t1 = mono_ns();
    close(c);
}

static void k_rr_client(struct kthread *k)
{
    int c = k_connect(k->peer, k->port);
    if (c < 0) return;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char b = 'x';
    uint64_t n = 0, t0 = mono_ns(), end = t0 + (uint64_t)k->ms * 1000000u;
    while (mono_ns() < end) {
        for (int i = 0; i < 32; i++) {
            if (write(c, &b, 1) != 1 || read(c, &b, 1) != 1) goto out;
            n++;
        }
    }
out:
    k->us_per_rt = n ? (double)(mono_ns() - t0) / 1000.0 / (double)n : -1;
    close(c);
}

static void *source_main(void *arg)
{
    struct kthread *k = arg;
    pin_cpu(k->cpu);
    k_source(k);
    return NULL;
}

static void *rr_main(void *arg)
{
    struct kthread *k = arg;
    pin_cpu(k->cpu);
    k_rr_client(k);
    return NULL;
}

static void *sink_main(void *arg)
{
    struct kthread *k = arg;
    pin_cpu(k->cpu);
    int l = k_listen(K_IP, k->port);
    if (l < 0) return NULL;
    k_sink(l, k);
    close(l);
    return NULL;
}

/* ---- ustack on the TAP ---- */

static int tap_fn(void *arg, double *out, int nout)
{
    struct tap_arg *ta = arg;
    char err[256];
    struct us_link *link =
        us_tap_open_ex(TAP_NAME, ta->mtu, ta->offload ? US_TAP_OFFLOAD : 0, err, sizeof(err));
    if (!link) {
        fprintf(stderr, "   %s\n", err);
        return 0;
    }
    sh("ip addr add " K_IP "/24 dev " TAP_NAME);
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    cfg.max_mtu = ta->offload ? 65535 : ta->mtu; /* buffers for 64 KiB GSO frames */
    cfg.pbuf_max = 4096;
    cfg.tcp.sndbuf = 1u << 20;
    cfg.tcp.rcvbuf = 4u << 20;
    struct us_stack *s = us_stack_new(&cfg);
    struct us_iface_config ic = {
        .mac = {2, 0, 0, 0, 9, 2}, .addr = U_IP, .prefix_len = 24, .mtu = ta->mtu};
    int iface = us_stack_add_iface(s, link, &ic);
    struct us_loop *loop = us_loop_new(s, link, iface, NULL, NULL, 1);
    us_stack_start(s, us_loop_now(loop));
    pin_cpu(0);
    for (int i = 0; i < nout; i++) out[i] = -1;

    /* ustack -> kernel */
    struct kthread ks = {.port = 5301, .cpu = 1};
    pthread_t th;
    pthread_create(&th, NULL, sink_main, &ks);
    usleep(50000);
    int c = us_socket(s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5301)};
    inet_pton(AF_INET, K_IP, &a.sin_addr);
    static uint8_t buf[1 << 16];
    if (us_connect(s, c, (struct sockaddr *)&a, sizeof(a)) == 0) {
        uint64_t end = mono_ns() + (uint64_t)ta->ms * 1000000u;
        while (mono_ns() < end)
            if (us_send(s, c, buf, sizeof(buf), 0) < 0) break;
    }
    us_close(s, c);
    us_loop_run_until(loop, us_loop_now(loop) + 100000);
    pthread_join(th, NULL);
    if (ks.t1 > ks.t0) out[0] = (double)ks.bytes * 8 / (double)(ks.t1 - ks.t0);

    /* kernel -> ustack */
    int l = us_socket(s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons(5302)};
    us_bind(s, l, (struct sockaddr *)&la, sizeof(la));
    us_listen(s, l, 4);
    struct kthread ksrc = {.port = 5302, .cpu = 1, .ms = ta->ms, .peer = "10.9.0.2"};
    pthread_create(&th, NULL, source_main, &ksrc);
    int fd = us_accept(s, l, NULL, NULL);
    uint64_t got = 0, t0 = mono_ns();
    ssize_t n;
    while (fd >= 0 && (n = us_recv(s, fd, buf, sizeof(buf), 0)) > 0) got += (uint64_t)n;
    uint64_t t1 = mono_ns();
    pthread_join(th, NULL);
    if (fd >= 0) us_close(s, fd);
    out[1] = (double)got * 8 / (double)(t1 - t0);

    /* rr: kernel client, ustack echo, both on CPU 0 */
    la.sin_port = htons(5303);
    int l2 = us_socket(s, AF_INET, SOCK_STREAM, 0);
    us_bind(s, l2, (struct sockaddr *)&la, sizeof(la));
    us_listen(s, l2, 4);
    struct kthread kr = {.port = 5303, .cpu = 0, .ms = ta->ms, .peer = "10.9.0.2"};
    pthread_create(&th, NULL, rr_main, &kr);
    fd = us_accept(s, l2, NULL, NULL);
    int one = 1;
    us_setsockopt(s, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t b;
    while (fd >= 0 && us_recv(s, fd, &b, 1, 0) == 1 && us_send(s, fd, &b, 1, 0) == 1) {
    }
    pthread_join(th, NULL);
    out[2] = kr.us_per_rt;
    us_loop_free(loop);
    us_stack_free(s);
    out[3] = out[4] = -1;
    if (ta->offload) {
        us_tap_close(link);
        return 5;
    }

    /* The TAP's ceiling: frames to a MAC nobody has, dropped on arrival. */
    int tfd = us_tap_fd(link);
    uint8_t frame[1514];
    memset(frame, 0, sizeof(frame));
    memcpy(frame, "\x02\x00\x00\x00\x09\x77", 6);
    memcpy(frame + 6, "\x02\x00\x00\x00\x09\x02", 6);
    frame[12] = 0x08;
    frame[14] = 0x45;
    uint64_t frames = 0, f0 = mono_ns(), fend = f0 + (uint64_t)ta->ms * 1000000u;
    while (mono_ns() < fend)
        for (int i = 0; i < 64; i++)
            if (write(tfd, frame, sizeof(frame)) == (ssize_t)sizeof(frame)) frames++;
    double fps = (double)frames * 1e9 / (double)(mono_ns() - f0);
    out[3] = fps * 1448 * 8 / 1e9;
    out[4] = fps;
    us_tap_close(link);
    return 5;
}

/* ---- kernel <-> kernel over veth ---- */

struct veth_arg {
    unsigned mtu, ms;
    bool offloads;
};

static int veth_fn(void *arg, double *out, int nout)
{
    struct veth_arg *va = arg;
    int go[2], done[2];
    if (pipe(go) < 0 || pipe(done) < 0) return 0;
    pid_t far = fork();
    if (far == 0) {
        /* The far end: its own namespace; waits for its veth, then serves. */
        alarm(60);
        if (unshare(CLONE_NEWNET) < 0) _exit(1);
        char ok;
        if (write(done[1], "n", 1) != 1 || read(go[0], &ok, 1) != 1) _exit(1);
        sh("ip link set lo up; ip addr add 10.8.0.2/24 dev vb; ip link set vb mtu %u up", va->mtu);
        netif_offloads("vb", va->offloads);
        pin_cpu(1);
        struct kthread k = {.port = 5401};
        int l = k_listen("10.8.0.2", 5401);
        k_sink(l, &k);
        /* Then an echo server for rr, pinned with the client. */
        pin_cpu(0);
        int l2 = k_listen("10.8.0.2", 5402);
        int fd = accept(l2, NULL, NULL);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char b;
        while (read(fd, &b, 1) == 1 && write(fd, &b, 1) == 1) {
        }
        _exit(0);
    }
    char ok;
    if (read(done[0], &ok, 1) != 1) return 0;
    sh("ip link add va type veth peer name vb netns %d", (int)far);
    sh("ip addr add 10.8.0.1/24 dev va; ip link set va mtu %u up", va->mtu);
    netif_offloads("va", va->offloads);
    if (write(go[1], "g", 1) != 1) return 0;
    struct kthread k = {.port = 5401, .ms = va->ms, .peer = "10.8.0.2"};
    pin_cpu(0);
    k_source(&k);
    struct kthread kr = {.port = 5402, .ms = va->ms, .peer = "10.8.0.2"};
    k_rr_client(&kr);
    int st;
    waitpid(far, &st, 0);
    out[0] = k.t1 > k.t0 ? (double)k.bytes * 8 / (double)(k.t1 - k.t0) : -1;
    out[1] = kr.us_per_rt;
    return 2;
}

int bench_tap(const struct bench_ctx *bc)
{
    if (!bc->root || access("/dev/net/tun", R_OK | W_OK) != 0) {
        fprintf(stderr, "   skipped: needs root and /dev/net/tun (namespaces, TAP)\n");
        return 1;
    }
    unsigned ms = bc->quick ? 100 : 500;
    static const unsigned mtus[] = {1500, 9000};
    for (int i = 0; i < 2; i++) {
        unsigned mtu = mtus[i];
        char name[64];
        snprintf(name, sizeof(name), "tap/send/mtu%u", mtu);
        struct bench_entry *es = bench_entry_new(name, "Gbit/s", true);
        snprintf(name, sizeof(name), "tap/recv/mtu%u", mtu);
        struct bench_entry *er = bench_entry_new(name, "Gbit/s", true);
        snprintf(name, sizeof(name), "tap/send_vs_ceiling/mtu%u", mtu);
        struct bench_entry *ec = NULL;
        if (mtu == 1500) ec = bench_entry_new(name, "Gbit/s", true);
        snprintf(name, sizeof(name), "tap/rr_1B/mtu%u", mtu);
        struct bench_entry *ert = NULL;
        if (mtu == 1500) ert = bench_entry_new(name, "us/RT", false);
        snprintf(name, sizeof(name), "veth/offloads_on/mtu%u", mtu);
        struct bench_entry *eon = bench_entry_new(name, "Gbit/s", true);
        snprintf(es->ref_name, sizeof(es->ref_name), "kernel veth no-offl");
        snprintf(er->ref_name, sizeof(er->ref_name), "kernel veth no-offl");
        snprintf(eon->ref_name, sizeof(eon->ref_name), "kernel veth offl");
        snprintf(eon->note, sizeof(eon->note), "ustack: tap/send%s",
                 mtu == 1500 ? " with --offload (virtio-net header, GSO)" : " (no offload)");
        /* With the virtio-net header (MTU 1500): against veth with offloads,
         * and against the one-frame-per-write ceiling. */
        struct bench_entry *eos = NULL, *eor = NULL, *eoc = NULL, *eort = NULL;
        if (mtu == 1500) {
            eos = bench_entry_new("tap_offload/send/mtu1500", "Gbit/s", true);
            eor = bench_entry_new("tap_offload/recv/mtu1500", "Gbit/s", true);
            eoc = bench_entry_new("tap_offload/send_vs_ceiling/mtu1500", "Gbit/s", true);
            eort = bench_entry_new("tap_offload/rr_1B/mtu1500", "us/RT", false);
            snprintf(eos->ref_name, sizeof(eos->ref_name), "kernel veth offl");
            snprintf(eor->ref_name, sizeof(eor->ref_name), "kernel veth offl");
            snprintf(eoc->ref_name, sizeof(eoc->ref_name), "TAP write ceiling");
            snprintf(eort->ref_name, sizeof(eort->ref_name), "kernel veth");
            snprintf(eos->note, sizeof(eos->note),
                     "IFF_VNET_HDR: 64 KiB frames the kernel segments, checksums left to it; "
                     "target 0.75x");
            snprintf(eor->note, sizeof(eor->note),
                     "TUN_F_TSO4|TUN_F_CSUM: the kernel's GSO frames reach ustack whole");
            snprintf(eoc->note, sizeof(eoc->note),
                     "ceiling of one 1514-byte frame per write(), which GSO frames exceed");
        }
        if (ert) snprintf(ert->ref_name, sizeof(ert->ref_name), "kernel veth");
        for (unsigned r = 0; r < bc->runs; r++) {
            struct tap_arg ta = {.mtu = mtu, .ms = ms};
            double v[5];
            if (run_in_netns(tap_fn, &ta, v, 5, 0, true, 60) == 5) {
                series_add(&es->us, v[0]);
                if (!eos) series_add(&eon->us, v[0]);
                series_add(&er->us, v[1]);
                if (ert) series_add(&ert->us, v[2]);
                if (ec) {
                    series_add(&ec->us, v[0]);
                    series_add(&ec->k, v[3]);
                    snprintf(ec->ref_name, sizeof(ec->ref_name), "TAP write ceiling");
                    snprintf(ec->note, sizeof(ec->note),
                             "ceiling: %.0f frames/s of 1514 bytes, one write() each; target 0.6x",
                             v[4]);
                    if (eoc) series_add(&eoc->k, v[3]);
                }
            }
            if (eos) {
                struct tap_arg to = {.mtu = mtu, .ms = ms, .offload = true};
                if (run_in_netns(tap_fn, &to, v, 5, 0, true, 60) == 5) {
                    series_add(&eos->us, v[0]);
                    series_add(&eon->us, v[0]);
                    series_add(&eor->us, v[1]);
                    series_add(&eoc->us, v[0]);
                    series_add(&eort->us, v[2]);
                }
            }
            struct veth_arg va = {mtu, ms, false};
            double k[2];
            if (run_in_netns(veth_fn, &va, k, 2, 0, true, 60) == 2) {
                series_add(&es->k, k[0]);
                series_add(&er->k, k[0]);
                if (ert) series_add(&ert->k, k[1]);
            }
            va.offloads = true;
            if (run_in_netns(veth_fn, &va, k, 2, 0, true, 60) == 2) {
                series_add(&eon->k, k[0]);
                if (eos) {
                    series_add(&eos->k, k[0]);
                    series_add(&eor->k, k[0]);
                    series_add(&eort->k, k[1]);
                }
            }
        }
        if (ert)
            snprintf(ert->note, sizeof(ert->note),
                     "kernel client on CPU 0 to ustack echo on CPU 0, vs kernel-kernel over veth "
                     "both on CPU 0");
    }
    return 0;
}
