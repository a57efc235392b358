/*
 * eval.c: the symbolic constants scripts use, and integer evaluation of
 * expressions built from them.
 *
 * ustack's socket API takes the system's own constants (ustack/socket.h), so
 * a symbol's value is whatever this system's headers say. Names only another
 * system has (FreeBSD's TCP_NOOPT, TCP_KEEPINIT) are unknown here on
 * purpose: a script that needs them tests a feature we do not have.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "pkt/pkt.h"

struct symbol {
    const char *name;
    int64_t value;
};

/* The name as a string and its value from the headers. */
/* clang-format off */
#define SYM(x) {#x, (int64_t)(x)}

static const struct symbol symbols[] = {
    /* socket() */
    SYM(AF_INET), SYM(AF_INET6), SYM(AF_UNSPEC), SYM(PF_INET), SYM(PF_INET6),
    SYM(SOCK_STREAM), SYM(SOCK_DGRAM), SYM(SOCK_RAW), SYM(SOCK_NONBLOCK), SYM(SOCK_CLOEXEC),
    SYM(IPPROTO_IP), SYM(IPPROTO_TCP), SYM(IPPROTO_UDP), SYM(IPPROTO_IPV6), SYM(IPPROTO_ICMP),
    /* levels and socket options */
    SYM(SOL_SOCKET), SYM(SOL_TCP), SYM(SOL_IP), SYM(SOL_IPV6),
    SYM(SO_REUSEADDR), SYM(SO_REUSEPORT), SYM(SO_RCVBUF), SYM(SO_SNDBUF), SYM(SO_ERROR),
    SYM(SO_LINGER), SYM(SO_KEEPALIVE), SYM(SO_RCVTIMEO), SYM(SO_SNDTIMEO), SYM(SO_RCVLOWAT),
    SYM(SO_SNDLOWAT), SYM(SO_TYPE), SYM(SO_ACCEPTCONN), SYM(SO_OOBINLINE), SYM(SO_DEBUG),
    SYM(SO_BROADCAST), SYM(SO_DONTROUTE), SYM(SO_PRIORITY), SYM(SO_MARK),
    SYM(TCP_NODELAY), SYM(TCP_MAXSEG), SYM(TCP_CORK), SYM(TCP_KEEPIDLE), SYM(TCP_KEEPINTVL),
    SYM(TCP_KEEPCNT), SYM(TCP_SYNCNT), SYM(TCP_LINGER2), SYM(TCP_DEFER_ACCEPT),
    SYM(TCP_WINDOW_CLAMP), SYM(TCP_INFO), SYM(TCP_QUICKACK), SYM(TCP_CONGESTION),
    SYM(TCP_USER_TIMEOUT), SYM(TCP_FASTOPEN), SYM(TCP_NOTSENT_LOWAT), SYM(TCP_MD5SIG),
    SYM(IP_TOS), SYM(IP_TTL), SYM(IP_MTU_DISCOVER), SYM(IPV6_V6ONLY),
    /* fcntl() */
    SYM(F_GETFL), SYM(F_SETFL), SYM(F_GETFD), SYM(F_SETFD), SYM(O_RDONLY), SYM(O_WRONLY),
    SYM(O_RDWR), SYM(O_NONBLOCK), SYM(FD_CLOEXEC),
    /* shutdown(), send()/recv() */
    SYM(SHUT_RD), SYM(SHUT_WR), SYM(SHUT_RDWR), SYM(MSG_PEEK), SYM(MSG_OOB),
    SYM(MSG_DONTWAIT), SYM(MSG_WAITALL), SYM(MSG_NOSIGNAL), SYM(MSG_MORE), SYM(MSG_TRUNC),
    SYM(MSG_ERRQUEUE), SYM(MSG_ZEROCOPY), SYM(MSG_FASTOPEN),
    /* poll() */
    SYM(POLLIN), SYM(POLLPRI), SYM(POLLOUT), SYM(POLLERR), SYM(POLLHUP), SYM(POLLNVAL),
    SYM(POLLRDNORM), SYM(POLLRDBAND), SYM(POLLWRNORM), SYM(POLLWRBAND), SYM(POLLRDHUP),
    /* ioctl() */
    SYM(SIOCINQ), SYM(SIOCOUTQ), SYM(FIONREAD), SYM(FIONBIO), SYM(TIOCOUTQ),
    /* errno */
    SYM(EPERM), SYM(ENOENT), SYM(EINTR), SYM(EIO), SYM(EBADF), SYM(EAGAIN),
    SYM(EWOULDBLOCK), SYM(ENOMEM), SYM(EACCES), SYM(EFAULT), SYM(EBUSY), SYM(EEXIST),
    SYM(EINVAL), SYM(ENFILE), SYM(EMFILE), SYM(ENOSPC), SYM(EPIPE), SYM(EDEADLK),
    SYM(ENOSYS), SYM(ENOTSOCK), SYM(EDESTADDRREQ), SYM(EMSGSIZE), SYM(EPROTOTYPE),
    SYM(ENOPROTOOPT), SYM(EPROTONOSUPPORT), SYM(ESOCKTNOSUPPORT), SYM(EOPNOTSUPP),
    SYM(EPFNOSUPPORT), SYM(EAFNOSUPPORT), SYM(EADDRINUSE), SYM(EADDRNOTAVAIL),
    SYM(ENETDOWN), SYM(ENETUNREACH), SYM(ENETRESET), SYM(ECONNABORTED), SYM(ECONNRESET),
    SYM(ENOBUFS), SYM(EISCONN), SYM(ENOTCONN), SYM(ESHUTDOWN), SYM(ETIMEDOUT),
    SYM(ECONNREFUSED), SYM(EHOSTDOWN), SYM(EHOSTUNREACH), SYM(EALREADY), SYM(EINPROGRESS),
    SYM(ENOTSUP), SYM(EPROTO), SYM(ENODATA),
};
/* clang-format on */

int pkt_symbol_value(const char *name, int64_t *out)
{
    for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
        if (!strcmp(symbols[i].name, name)) {
            *out = symbols[i].value;
            return 0;
        }
    }
    return -1;
}

int pkt_expr_int(const struct pkt_expr *e, int64_t *out, char *err, size_t errlen)
{
    int64_t l, r;
    switch (e->kind) {
    case PKT_EXPR_INT:
        *out = e->num;
        return 0;
    case PKT_EXPR_SYMBOL:
        if (pkt_symbol_value(e->name, out) == 0) return 0;
        snprintf(err, errlen, "%u:%u: unknown symbol %s", e->pos.line, e->pos.col, e->name);
        return -1;
    case PKT_EXPR_OR:
        if (pkt_expr_int(e->left, &l, err, errlen) < 0) return -1;
        if (pkt_expr_int(e->right, &r, err, errlen) < 0) return -1;
        *out = l | r;
        return 0;
    default:
        snprintf(err, errlen, "%u:%u: not a number", e->pos.line, e->pos.col);
        return -1;
    }
}

/* True when `e` is the symbol `name`. */
static bool is_symbol(const struct pkt_expr *e, const char *name)
{
    return e->kind == PKT_EXPR_SYMBOL && !strcmp(e->name, name);
}

bool pkt_syscall_reads_buffer_size(const struct pkt_syscall *c)
{
    if (strcmp(c->name, "getsockopt") != 0 || c->nargs < 3) return false;
    return is_symbol(c->args[1], "SOL_SOCKET") &&
           (is_symbol(c->args[2], "SO_RCVBUF") || is_symbol(c->args[2], "SO_SNDBUF"));
}
