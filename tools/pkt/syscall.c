/*
 * syscall.c: running a script's system-call lines against the socket API
 * and comparing what they return with what the line expects (syscall.h).
 *
 * Each call has one small function that evaluates its arguments, makes the
 * call and checks the results particular to it (getsockopt's value, poll's
 * revents); check_return() then compares the return value and errno the
 * same way for all of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "pkt/syscall.h"
#include "ustack/socket.h"

#define IO_MAX   (16u << 20) /* the largest read or write a line may ask for */
#define POLL_MAX 16

void pkt_sys_init(struct pkt_sys *x, struct us_stack *s, enum pkt_mode mode,
                  const struct pkt_addrs *a)
{
    memset(x, 0, sizeof(*x));
    x->s = s;
    x->mode = mode;
    x->addrs = a;
    for (int i = 0; i < PKT_FD_MAX; i++) x->fds[i] = -1;
    x->sut = -1;
}

/* The call being run, and where its message goes. */
struct call {
    struct pkt_sys *x;
    const struct pkt_syscall *c;
    char *err;
    size_t errlen;
    bool returns_fd; /* socket(), accept(): the result enters the map */
};

static int say(struct call *k, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(struct call *k, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->err, k->errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* "ECONNRESET" for an errno value, or its number. */
static const char *errno_name(int e, char *buf, size_t cap)
{
    const char *n = strerrorname_np(e);
    if (n) return n;
    snprintf(buf, cap, "errno %d", e);
    return buf;
}

static const struct pkt_expr *arg(struct call *k, uint32_t i)
{
    return i < k->c->nargs ? k->c->args[i] : NULL;
}

static bool is_ellipsis(const struct pkt_expr *e)
{
    return e && e->kind == PKT_EXPR_ELLIPSIS;
}

static int need_args(struct call *k, uint32_t lo, uint32_t hi)
{
    if (k->c->nargs >= lo && k->c->nargs <= hi) return 0;
    if (lo == hi)
        return say(k, -1, "%s() takes %u arguments, the line gives %u", k->c->name, lo,
                   k->c->nargs);
    return say(k, -1, "%s() takes %u to %u arguments, the line gives %u", k->c->name, lo, hi,
               k->c->nargs);
}

static int eval_int(struct call *k, const struct pkt_expr *e, int64_t *v)
{
    char why[200];
    if (!e) return say(k, -1, "%s(): missing argument", k->c->name);
    if (pkt_expr_int(e, v, why, sizeof(why)) < 0) return say(k, -1, "%s(): %s", k->c->name, why);
    return 0;
}

/* A descriptor argument: the script's number, mapped to the stack's. A
 * number the script never got from socket() or accept() goes as it is
 * (packetdrill does the same, so EBADF can be tested). */
static int eval_fd(struct call *k, const struct pkt_expr *e, int *fd)
{
    int64_t v;
    if (eval_int(k, e, &v) < 0) return -1;
    if (v >= 0 && v < PKT_FD_MAX && k->x->fds[v] >= 0)
        *fd = k->x->fds[v];
    else
        *fd = (int)v;
    return 0;
}

/* A length or count argument: a number, or `...` for `dflt`. */
static int eval_size(struct call *k, const struct pkt_expr *e, size_t dflt, size_t *out)
{
    if (is_ellipsis(e)) {
        *out = dflt;
        return 0;
    }
    int64_t v;
    if (eval_int(k, e, &v) < 0) return -1;
    if (v < 0 || (uint64_t)v > IO_MAX)
        return say(k, -1, "%s(): size %lld out of range", k->c->name, (long long)v);
    *out = (size_t)v;
    return 0;
}

/* `[v]`: the one item of a list. */
static const struct pkt_expr *list_item(const struct pkt_expr *e)
{
    if (!e || e->kind != PKT_EXPR_LIST || e->nitems != 1) return NULL;
    return e->items[0];
}

static const struct pkt_expr *field(const struct pkt_expr *e, const char *name)
{
    if (!e || e->kind != PKT_EXPR_STRUCT) return NULL;
    for (uint32_t i = 0; i < e->nitems; i++)
        if (e->items[i]->kind == PKT_EXPR_FIELD && !strcmp(e->items[i]->name, name))
            return e->items[i]->left;
    return NULL;
}

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(ip);
    a.sin_port = htons(port);
    return a;
}

/* ---- the return value ---- */

static int check_return(struct call *k, long got, int got_errno)
{
    const struct pkt_syscall *c = k->c;
    k->x->last_errno = got_errno;
    if (is_ellipsis(c->ret)) return 0;
    int64_t want;
    if (eval_int(k, c->ret, &want) < 0) return -1;
    char b1[32];
    if (c->errno_name) {
        int64_t want_errno;
        if (pkt_symbol_value(c->errno_name, &want_errno) < 0)
            return say(k, -1, "unknown errno %s", c->errno_name);
        if (got == want && got_errno == want_errno) return 0;
        if (got < 0)
            return say(k, 1, "%s() returned %ld (%s), the script expects %lld (%s)", c->name, got,
                       errno_name(got_errno, b1, sizeof(b1)), (long long)want, c->errno_name);
        return say(k, 1, "%s() returned %ld, the script expects %lld (%s)", c->name, got,
                   (long long)want, c->errno_name);
    }
    if (got < 0 && want >= 0)
        return say(k, 1, "%s() returned %ld (%s: %s), the script expects %lld", c->name, got,
                   errno_name(got_errno, b1, sizeof(b1)), strerror(got_errno), (long long)want);
    if (k->returns_fd && got >= 0 && want >= 0) {
        /* A new descriptor: remember what the script calls it. */
        if (want >= PKT_FD_MAX) return say(k, -1, "descriptor %lld is too large", (long long)want);
        k->x->fds[want] = (int)got;
        k->x->sut = (int)want;
        return 0;
    }
    if (got == want) return 0;
    return say(k, 1, "%s() returned %ld, the script expects %lld", c->name, got, (long long)want);
}

/* ---- the calls ---- */

static int sys_socket(struct call *k)
{
    if (need_args(k, 3, 3) < 0) return -1;
    int64_t domain = AF_INET, type, proto;
    if (!is_ellipsis(arg(k, 0)) && eval_int(k, arg(k, 0), &domain) < 0) return -1;
    if (eval_int(k, arg(k, 1), &type) < 0 || eval_int(k, arg(k, 2), &proto) < 0) return -1;
    k->returns_fd = true;
    int fd = us_socket(k->x->s, (int)domain, (int)type, (int)proto);
    return check_return(k, fd, errno);
}

/* bind(fd, ..., ...) binds the stack's address and port; connect(fd, ...,
 * ...) goes to the remote host's. */
static int sys_bind_connect(struct call *k, bool bind)
{
    if (need_args(k, 3, 3) < 0) return -1;
    int fd;
    if (eval_fd(k, arg(k, 0), &fd) < 0) return -1;
    if (!is_ellipsis(arg(k, 1)))
        return say(k, -1, "%s(): only `...` is supported as the address", k->c->name);
    const struct pkt_addrs *a = k->x->addrs;
    struct sockaddr_in sin =
        bind ? sin_of(a->local_ip, a->local_port) : sin_of(a->remote_ip, a->remote_port);
    size_t len;
    if (eval_size(k, arg(k, 2), sizeof(sin), &len) < 0) return -1;
    int rc = bind ? us_bind(k->x->s, fd, (struct sockaddr *)&sin, (socklen_t)len)
                  : us_connect(k->x->s, fd, (struct sockaddr *)&sin, (socklen_t)len);
    return check_return(k, rc, errno);
}

static int sys_listen(struct call *k)
{
    int fd;
    int64_t backlog;
    if (need_args(k, 2, 2) < 0 || eval_fd(k, arg(k, 0), &fd) < 0 ||
        eval_int(k, arg(k, 1), &backlog) < 0)
        return -1;
    int rc = us_listen(k->x->s, fd, (int)backlog);
    return check_return(k, rc, errno);
}

static int sys_accept(struct call *k)
{
    int fd;
    int64_t flags = 0;
    bool four = !strcmp(k->c->name, "accept4");
    if (need_args(k, four ? 4 : 3, four ? 4 : 3) < 0 || eval_fd(k, arg(k, 0), &fd) < 0) return -1;
    if (four && eval_int(k, arg(k, 3), &flags) < 0) return -1;
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    k->returns_fd = true;
    int rc = us_accept4(k->x->s, fd, (struct sockaddr *)&peer, &len, (int)flags);
    return check_return(k, rc, errno);
}

/* read, write, send, recv: (fd, ..., count[, flags]). */
static int sys_io(struct call *k, bool out, bool with_flags)
{
    int fd;
    size_t n;
    int64_t flags = 0;
    if (need_args(k, with_flags ? 4 : 3, with_flags ? 4 : 3) < 0 || eval_fd(k, arg(k, 0), &fd) < 0)
        return -1;
    if (!is_ellipsis(arg(k, 1)))
        return say(k, -1, "%s(): only `...` is supported as the buffer", k->c->name);
    if (eval_size(k, arg(k, 2), 0, &n) < 0) return -1;
    if (with_flags && eval_int(k, arg(k, 3), &flags) < 0) return -1;
    uint8_t *buf = calloc(1, n ? n : 1);
    if (!buf) return say(k, -1, "out of memory for a %zu-byte buffer", n);
    ssize_t rc;
    if (out)
        rc = with_flags ? us_send(k->x->s, fd, buf, n, (int)flags) : us_write(k->x->s, fd, buf, n);
    else
        rc = with_flags ? us_recv(k->x->s, fd, buf, n, (int)flags) : us_read(k->x->s, fd, buf, n);
    int e = errno;
    free(buf);
    return check_return(k, (long)rc, e);
}

static int sys_close(struct call *k)
{
    int fd;
    int64_t script_fd;
    if (need_args(k, 1, 1) < 0 || eval_int(k, arg(k, 0), &script_fd) < 0 ||
        eval_fd(k, arg(k, 0), &fd) < 0)
        return -1;
    int rc = us_close(k->x->s, fd);
    int e = errno;
    if (rc == 0 && script_fd >= 0 && script_fd < PKT_FD_MAX) k->x->fds[script_fd] = -1;
    return check_return(k, rc, e);
}

static int sys_shutdown(struct call *k)
{
    int fd;
    int64_t how;
    if (need_args(k, 2, 2) < 0 || eval_fd(k, arg(k, 0), &fd) < 0 ||
        eval_int(k, arg(k, 1), &how) < 0)
        return -1;
    int rc = us_shutdown(k->x->s, fd, (int)how);
    return check_return(k, rc, errno);
}

static int sys_fcntl(struct call *k)
{
    int fd;
    int64_t cmd, val = 0;
    if (need_args(k, 2, 3) < 0 || eval_fd(k, arg(k, 0), &fd) < 0 ||
        eval_int(k, arg(k, 1), &cmd) < 0)
        return -1;
    if (k->c->nargs == 3 && eval_int(k, arg(k, 2), &val) < 0) return -1;
    int rc = us_fcntl(k->x->s, fd, (int)cmd, (int)val);
    return check_return(k, rc, errno);
}

/* An option value as the script writes it, in memory. */
struct optval {
    union {
        int i;
        struct linger lg;
        struct timeval tv;
        char str[64];
    } u;
    socklen_t len;
    enum { OPT_INT, OPT_LINGER, OPT_TIMEVAL, OPT_STRING } kind;
};

static int eval_optval(struct call *k, const struct pkt_expr *e, struct optval *o)
{
    memset(o, 0, sizeof(*o));
    int64_t v;
    if (e && e->kind == PKT_EXPR_STRUCT) {
        const struct pkt_expr *a = field(e, "onoff"), *b = field(e, "linger");
        const struct pkt_expr *s = field(e, "tv_sec"), *us = field(e, "tv_usec");
        if (a && b) {
            if (eval_int(k, a, &v) < 0) return -1;
            o->u.lg.l_onoff = (int)v;
            if (eval_int(k, b, &v) < 0) return -1;
            o->u.lg.l_linger = (int)v;
            o->kind = OPT_LINGER;
            o->len = sizeof(o->u.lg);
            return 0;
        }
        if (s && us) {
            if (eval_int(k, s, &v) < 0) return -1;
            o->u.tv.tv_sec = (time_t)v;
            if (eval_int(k, us, &v) < 0) return -1;
            o->u.tv.tv_usec = (suseconds_t)v;
            o->kind = OPT_TIMEVAL;
            o->len = sizeof(o->u.tv);
            return 0;
        }
        return say(k, -1, "%s(): unsupported struct (known: {onoff, linger}, {tv_sec, tv_usec})",
                   k->c->name);
    }
    if (e && e->kind == PKT_EXPR_STRING) {
        if (e->name_len >= sizeof(o->u.str)) return say(k, -1, "%s(): string too long", k->c->name);
        memcpy(o->u.str, e->name, e->name_len);
        o->kind = OPT_STRING;
        o->len = (socklen_t)e->name_len;
        return 0;
    }
    const struct pkt_expr *item = list_item(e);
    if (!item) return say(k, -1, "%s(): the value must be [int], a struct or a string", k->c->name);
    if (eval_int(k, item, &v) < 0) return -1;
    o->u.i = (int)v;
    o->kind = OPT_INT;
    o->len = sizeof(int);
    return 0;
}

static int sys_setsockopt(struct call *k)
{
    int fd;
    int64_t level, name;
    struct optval o;
    if (need_args(k, 5, 5) < 0 || eval_fd(k, arg(k, 0), &fd) < 0 ||
        eval_int(k, arg(k, 1), &level) < 0 || eval_int(k, arg(k, 2), &name) < 0 ||
        eval_optval(k, arg(k, 3), &o) < 0)
        return -1;
    size_t len;
    if (eval_size(k, arg(k, 4), o.len, &len) < 0) return -1;
    if (len > sizeof(o.u)) len = sizeof(o.u);
    int rc = us_setsockopt(k->x->s, fd, (int)level, (int)name, &o.u, (socklen_t)len);
    return check_return(k, rc, errno);
}

static int sys_getsockopt(struct call *k)
{
    int fd;
    int64_t level, name;
    if (need_args(k, 5, 5) < 0 || eval_fd(k, arg(k, 0), &fd) < 0 ||
        eval_int(k, arg(k, 1), &level) < 0 || eval_int(k, arg(k, 2), &name) < 0)
        return -1;
    /* The expected value decides the buffer's shape; `...` means an int. */
    struct optval want = {.kind = OPT_INT, .len = sizeof(int)};
    bool check_value = !is_ellipsis(arg(k, 3));
    if (check_value && eval_optval(k, arg(k, 3), &want) < 0) return -1;
    const struct pkt_expr *len_item = list_item(arg(k, 4));
    int64_t want_len = -1;
    if (!is_ellipsis(arg(k, 4))) {
        if (!len_item) return say(k, -1, "getsockopt(): the length must be [int] or `...`");
        if (eval_int(k, len_item, &want_len) < 0) return -1;
    }
    struct optval got;
    memset(&got, 0, sizeof(got));
    socklen_t len = want_len >= 0 ? (socklen_t)want_len : want.len;
    if (len > sizeof(got.u)) len = sizeof(got.u);
    int rc = us_getsockopt(k->x->s, fd, (int)level, (int)name, &got.u, &len);
    int e = errno;
    int r = check_return(k, rc, e);
    if (r != 0 || rc < 0) return r;
    if (want_len >= 0 && (int64_t)len != want_len)
        return say(k, 1, "getsockopt() gave a %u-byte value, the script expects %lld",
                   (unsigned)len, (long long)want_len);
    /* Buffer sizes are each system's own choice (shared/packetdrill/README.md). */
    if (!check_value || (k->x->mode == PKT_MODE_PORTABLE && pkt_syscall_reads_buffer_size(k->c)))
        return 0;
    switch (want.kind) {
    case OPT_INT:
        if (got.u.i != want.u.i)
            return say(k, 1, "getsockopt() value is %d, the script expects %d", got.u.i, want.u.i);
        return 0;
    case OPT_LINGER:
        if (!!got.u.lg.l_onoff != !!want.u.lg.l_onoff || got.u.lg.l_linger != want.u.lg.l_linger)
            return say(k, 1,
                       "getsockopt() gave {onoff=%d, linger=%d}, the script expects "
                       "{onoff=%d, linger=%d}",
                       got.u.lg.l_onoff, got.u.lg.l_linger, want.u.lg.l_onoff, want.u.lg.l_linger);
        return 0;
    case OPT_TIMEVAL:
        if (got.u.tv.tv_sec != want.u.tv.tv_sec || got.u.tv.tv_usec != want.u.tv.tv_usec)
            return say(k, 1,
                       "getsockopt() gave {tv_sec=%lld, tv_usec=%lld}, the script expects "
                       "{tv_sec=%lld, tv_usec=%lld}",
                       (long long)got.u.tv.tv_sec, (long long)got.u.tv.tv_usec,
                       (long long)want.u.tv.tv_sec, (long long)want.u.tv.tv_usec);
        return 0;
    case OPT_STRING:
        if (strncmp(got.u.str, want.u.str, sizeof(got.u.str)) != 0)
            return say(k, 1, "getsockopt() gave \"%.63s\", the script expects \"%s\"", got.u.str,
                       want.u.str);
        return 0;
    }
    return 0;
}

/* ioctl(fd, SIOCINQ | SIOCOUTQ | FIONREAD, [n]): n is compared on the way out. */
static int sys_ioctl(struct call *k)
{
    int fd;
    int64_t req, want = 0;
    if (need_args(k, 3, 3) < 0 || eval_fd(k, arg(k, 0), &fd) < 0 ||
        eval_int(k, arg(k, 1), &req) < 0)
        return -1;
    bool check_value = !is_ellipsis(arg(k, 2));
    if (check_value) {
        const struct pkt_expr *item = list_item(arg(k, 2));
        if (!item) return say(k, -1, "ioctl(): the value must be [int] or `...`");
        if (eval_int(k, item, &want) < 0) return -1;
    }
    int got = 0;
    int rc = us_ioctl(k->x->s, fd, (unsigned long)req, &got);
    int r = check_return(k, rc, errno);
    if (r != 0 || rc < 0 || !check_value) return r;
    if (got != want)
        return say(k, 1, "ioctl() value is %d, the script expects %lld", got, (long long)want);
    return 0;
}

/* poll([{fd=F, events=E, revents=R}, ...], nfds, timeout_ms). */
static int sys_poll(struct call *k)
{
    if (need_args(k, 3, 3) < 0) return -1;
    const struct pkt_expr *list = arg(k, 0);
    if (!list || list->kind != PKT_EXPR_LIST || list->nitems > POLL_MAX)
        return say(k, -1, "poll(): the first argument must be a list of at most %d structs",
                   POLL_MAX);
    struct pollfd pfd[POLL_MAX];
    int64_t want[POLL_MAX];
    bool check[POLL_MAX];
    for (uint32_t i = 0; i < list->nitems; i++) {
        const struct pkt_expr *e = list->items[i];
        const struct pkt_expr *f = field(e, "fd"), *ev = field(e, "events"),
                              *rev = field(e, "revents");
        int64_t events;
        if (!f || !ev) return say(k, -1, "poll(): each item needs fd= and events=");
        if (eval_fd(k, f, &pfd[i].fd) < 0 || eval_int(k, ev, &events) < 0) return -1;
        pfd[i].events = (short)events;
        pfd[i].revents = 0;
        check[i] = rev != NULL;
        if (rev && eval_int(k, rev, &want[i]) < 0) return -1;
    }
    int64_t nfds, timeout;
    if (eval_int(k, arg(k, 1), &nfds) < 0 || eval_int(k, arg(k, 2), &timeout) < 0) return -1;
    if (nfds < 0 || nfds > (int64_t)list->nitems)
        return say(k, -1, "poll(): nfds %lld but %u structs", (long long)nfds, list->nitems);
    int rc = us_poll(k->x->s, pfd, (nfds_t)nfds, (int)timeout);
    int r = check_return(k, rc, errno);
    if (r != 0 || rc < 0) return r;
    for (int64_t i = 0; i < nfds; i++)
        if (check[i] && pfd[i].revents != want[i])
            return say(k, 1, "poll() revents of item %lld is 0x%x, the script expects 0x%llx",
                       (long long)i, (unsigned)(uint16_t)pfd[i].revents,
                       (unsigned long long)want[i]);
    return 0;
}

int pkt_sys_run(struct pkt_sys *x, const struct pkt_syscall *c, char *err, size_t errlen)
{
    struct call k = {x, c, err, errlen, false};
    if (errlen) err[0] = 0;
    const char *n = c->name;
    if (!strcmp(n, "socket")) return sys_socket(&k);
    if (!strcmp(n, "bind")) return sys_bind_connect(&k, true);
    if (!strcmp(n, "connect")) return sys_bind_connect(&k, false);
    if (!strcmp(n, "listen")) return sys_listen(&k);
    if (!strcmp(n, "accept") || !strcmp(n, "accept4")) return sys_accept(&k);
    if (!strcmp(n, "read")) return sys_io(&k, false, false);
    if (!strcmp(n, "write")) return sys_io(&k, true, false);
    if (!strcmp(n, "recv")) return sys_io(&k, false, true);
    if (!strcmp(n, "send")) return sys_io(&k, true, true);
    if (!strcmp(n, "close")) return sys_close(&k);
    if (!strcmp(n, "shutdown")) return sys_shutdown(&k);
    if (!strcmp(n, "fcntl")) return sys_fcntl(&k);
    if (!strcmp(n, "setsockopt")) return sys_setsockopt(&k);
    if (!strcmp(n, "getsockopt")) return sys_getsockopt(&k);
    if (!strcmp(n, "ioctl")) return sys_ioctl(&k);
    if (!strcmp(n, "poll")) return sys_poll(&k);
    return say(&k, -1, "system call %s() is not supported by the runner", n);
}

int pkt_sys_tcp_state(struct pkt_sys *x, enum us_tcp_state *st)
{
    if (x->sut < 0 || x->fds[x->sut] < 0) return -1;
    struct us_tcp_info info;
    socklen_t len = sizeof(info);
    if (us_getsockopt(x->s, x->fds[x->sut], IPPROTO_TCP, TCP_INFO, &info, &len) < 0) return -1;
    *st = (enum us_tcp_state)info.state;
    return 0;
}

/* "FIN_WAIT_1" and "FIN-WAIT-1" both become "FINWAIT1". */
static void squash(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++)
        if (*in != '_' && *in != '-' && *in != ' ') out[n++] = *in;
    out[n] = 0;
}

bool pkt_tcpi_state_is(const char *name, enum us_tcp_state st)
{
    char a[32], b[32];
    squash(name, a, sizeof(a));
    squash(us_tcp_state_name(st), b, sizeof(b));
    if (!strcmp(a, "SYNRECV")) strcpy(a, "SYNRECEIVED"); /* Linux's spelling */
    return !strcmp(a, b);
}
