/*
 * kernel.c: the kernel's side of the benchmarks, and private namespaces.
 *
 * Every kernel figure is measured in a child process that has entered a
 * network namespace of its own with unshare(CLONE_NEWNET): its lo is its own
 * (so its MTU and offloads can be changed without touching the machine's),
 * and the namespace disappears with the child even if it is killed. The
 * patterns are the ones ustack runs: the same transfer sizes, the same
 * request sizes, the same pinning.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* ---- interfaces ---- */

int netif_up(const char *name, unsigned mtu)
{
    int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sk < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    int rc = 0;
    if (mtu) {
        ifr.ifr_mtu = (int)mtu;
        if (ioctl(sk, SIOCSIFMTU, &ifr) < 0) rc = -1;
    }
    if (ioctl(sk, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0) rc = -1;
    } else {
        rc = -1;
    }
    close(sk);
    return rc;
}

int netif_offloads(const char *name, bool on)
{
    /* The legacy per-feature ethtool commands: `ethtool -K` without the
     * ethtool binary. Some features are fixed on some devices; the ones that
     * matter for bulk TCP (TSO, GSO, GRO) can be switched on lo and veth. */
    static const uint32_t cmds[] = {ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO};
    int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sk < 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        struct ethtool_value ev = {.cmd = cmds[i], .data = on};
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
        ifr.ifr_data = (void *)&ev;
        if (ioctl(sk, SIOCETHTOOL, &ifr) < 0) rc = -1;
    }
    close(sk);
    return rc;
}

int run_in_netns(int (*fn)(void *arg, double *out, int nout), void *arg, double *out, int nout,
                 unsigned lo_mtu, bool offloads, unsigned limit_s)
{
    int pfd[2];
    if (pipe(pfd) < 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        close(pfd[0]);
        /* Bounded even if the parent is gone: the child kills itself. */
        alarm(limit_s + 5);
        if (unshare(CLONE_NEWNET) < 0) {
            fprintf(stderr, "   unshare(CLONE_NEWNET): %s\n", strerror(errno));
            _exit(1);
        }
        if (netif_up("lo", lo_mtu) < 0) fprintf(stderr, "   cannot set lo MTU %u\n", lo_mtu);
        if (netif_offloads("lo", offloads) < 0)
            fprintf(stderr, "   note: some lo offloads could not be switched %s\n",
                    offloads ? "on" : "off");
        double res[16];
        int n = fn(arg, res, nout < 16 ? nout : 16);
        if (n > 0 && write(pfd[1], res, (size_t)n * sizeof(double)) < 0) _exit(1);
        _exit(0);
    }
    close(pfd[1]);
    int got = 0;
    uint64_t end = mono_ns() + (uint64_t)limit_s * 1000000000u;
    char *p = (char *)out;
    size_t want = (size_t)nout * sizeof(double), have = 0;
    while (have < want) {
        uint64_t now = mono_ns();
        if (now >= end) break;
        struct pollfd pl = {.fd = pfd[0], .events = POLLIN};
        int rc = poll(&pl, 1, (int)((end - now) / 1000000u) + 1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) break;
        ssize_t r = read(pfd[0], p + have, want - have);
        if (r <= 0) break;
        have += (size_t)r;
    }
    got = (int)(have / sizeof(double));
    close(pfd[0]);
    int status;
    if (waitpid(pid, &status, WNOHANG) == 0) {
        /* Give it the rest of its time to finish, then stop it. */
        while (waitpid(pid, &status, WNOHANG) == 0 && mono_ns() < end) usleep(10000);
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
    }
    return got;
}

/* ---- sockets ---- */

static int listen_on(uint32_t addr, uint16_t port)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(addr)};
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1024) < 0) {
        close(l);
        return -1;
    }
    return l;
}

static int connect_to(const char *ip, uint16_t port)
{
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(c);
        return -1;
    }
    return c;
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static bool read_full(int fd, char *buf, size_t n)
{
    while (n) {
        ssize_t r = read(fd, buf, n);
        if (r <= 0) return false;
        buf += r;
        n -= (size_t)r;
    }
    return true;
}

/* ---- bulk ---- */

struct sink {
    int lfd, cpu;
    uint64_t bytes, t_end;
};

static void *sink_main(void *arg)
{
    struct sink *k = arg;
    pin_cpu(k->cpu);
    int fd = accept(k->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    static char buf[1 << 18];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) k->bytes += (uint64_t)n;
    k->t_end = mono_ns();
    close(fd);
    return NULL;
}

double kernel_bulk(const char *dst_ip, unsigned ms, int cpu_tx, int cpu_rx)
{
    uint32_t addr;
    inet_pton(AF_INET, dst_ip, &addr);
    struct sink k = {.lfd = listen_on(ntohl(addr), 5201), .cpu = cpu_rx};
    if (k.lfd < 0) return -1;
    pthread_t th;
    pthread_create(&th, NULL, sink_main, &k);
    pin_cpu(cpu_tx);
    int c = connect_to(dst_ip, 5201);
    if (c < 0) {
        close(k.lfd);
        pthread_join(th, NULL);
        return -1;
    }
    static char buf[1 << 17];
    memset(buf, 'x', sizeof(buf));
    uint64_t t0 = mono_ns(), end = t0 + (uint64_t)ms * 1000000u;
    while (mono_ns() < end)
        if (write(c, buf, sizeof(buf)) < 0) break;
    shutdown(c, SHUT_WR);
    pthread_join(th, NULL);
    close(c);
    close(k.lfd);
    return (double)k.bytes * 8 / (double)(k.t_end - t0);
}

/* ---- request/response ---- */

struct echo_srv {
    int lfd, cpu;
    size_t size;
};

static void *echo_main(void *arg)
{
    struct echo_srv *e = arg;
    pin_cpu(e->cpu);
    int fd = accept(e->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    nodelay(fd);
    char buf[65536];
    while (read_full(fd, buf, e->size))
        if (write(fd, buf, e->size) < 0) break;
    close(fd);
    return NULL;
}

double kernel_rr(size_t size, unsigned ms, bool pinned)
{
    struct echo_srv e = {
        .lfd = listen_on(INADDR_LOOPBACK, 5202), .cpu = pinned ? 0 : 1, .size = size};
    if (e.lfd < 0) return -1;
    pthread_t th;
    pthread_create(&th, NULL, echo_main, &e);
    pin_cpu(0);
    int c = connect_to("127.0.0.1", 5202);
    if (c < 0) return -1;
    nodelay(c);
    char buf[65536];
    memset(buf, 'r', size);
    uint64_t n = 0, t0 = mono_ns(), end = t0 + (uint64_t)ms * 1000000u, t;
    do {
        for (int i = 0; i < 64; i++) {
            if (write(c, buf, size) < 0 || !read_full(c, buf, size)) goto out;
            n++;
        }
    } while ((t = mono_ns()) < end);
out:
    t = mono_ns();
    close(c);
    pthread_join(th, NULL);
    close(e.lfd);
    return n ? (double)(t - t0) / 1000.0 / (double)n : -1;
}

/* ---- connect, request/response, close ---- */

struct crr_srv {
    int lfd;
    volatile int stop;
};

static void *crr_main(void *arg)
{
    struct crr_srv *s = arg;
    pin_cpu(0);
    while (!s->stop) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) break;
        char b;
        if (read(fd, &b, 1) == 1 && write(fd, &b, 1) < 0) {
        }
        close(fd);
    }
    return NULL;
}

double kernel_crr(unsigned ms)
{
    struct crr_srv s = {.lfd = listen_on(INADDR_LOOPBACK, 5203)};
    if (s.lfd < 0) return -1;
    pthread_t th;
    pthread_create(&th, NULL, crr_main, &s);
    pin_cpu(0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(5203), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    uint64_t n = 0, t0 = mono_ns(), end = t0 + (uint64_t)ms * 1000000u;
    while (mono_ns() < end) {
        for (int i = 0; i < 16; i++) {
            int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            char b = 'q';
            if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 || write(c, &b, 1) != 1 ||
                read(c, &b, 1) != 1) {
                close(c);
                goto out;
            }
            setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            close(c);
            n++;
        }
    }
out:;
    double secs = (double)(mono_ns() - t0) / 1e9;
    s.stop = 1;
    /* Wake the acceptor with one last connection. */
    int c = connect_to("127.0.0.1", 5203);
    if (c >= 0) {
        char b = 'q';
        if (write(c, &b, 1) == 1 && read(c, &b, 1) == 1) {
        }
        close(c);
    }
    pthread_join(th, NULL);
    close(s.lfd);
    return (double)n / secs;
}
