/*
 * cmd_http.c: `ustack http`: a static-file HTTP/1.1 server on ustack.
 *
 * Event-driven over us_poll(), like cmd_echo.c: one loop, non-blocking
 * sockets, each client a small state machine:
 *
 *   READ   collect a request head (at most HTTP_MAX_HEAD bytes), parse it,
 *          decide the answer;
 *   SEND   write the head and then the file, as fast as the socket takes it;
 *   DRAIN  after answering on a connection that must close: our side is shut
 *          (FIN sent) and what the client still sends is read and thrown
 *          away until it closes too, so a request it pipelined cannot turn
 *          our close into a reset that destroys the answer in flight
 *          (RFC 9112 §9.6, "lingering close").
 *
 * Memory is bounded whatever the file sizes: each client holds its request
 * buffer and its response head; file data passes through one buffer shared
 * by all clients, read from the file only as far as the socket has room, so
 * nothing is read twice and nothing waits in the server.
 *
 * Timeouts keep idle or stuck clients from holding a slot forever: an idle
 * keep-alive connection, a request head that never completes (answered 408),
 * a client that stops reading, a drain that does not end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "http/http.h"

#define MAX_CLIENTS 1024
#define IO_BUF      (64 * 1024)
/* Per-connection send buffer (SO_SNDBUF, which doubles it as Linux does):
 * enough in flight for a fast LAN, bounded for many clients. */
#define HTTP_SNDBUF   (128 * 1024)
#define IDLE_TIMEOUT  US_SEC(15) /* between requests on a kept-alive connection */
#define HEAD_TIMEOUT  US_SEC(30) /* from a request's first byte to its last header */
#define SEND_TIMEOUT  US_SEC(60) /* without the client taking a single byte */
#define DRAIN_TIMEOUT US_SEC(2)
#define DRAIN_MAX     (1u << 20)
/* A response head, with room for a Location as long as the longest target,
 * plus an error page. */
#define HEAD_MAX (HTTP_MAX_TARGET + 1024)

enum client_state { C_READ, C_SEND, C_DRAIN };

struct client {
    int fd;
    unsigned pfi; /* its entry in this round's poll set; 0: none */
    enum client_state state;
    char peer[24]; /* "10.0.0.1:43210", for the log */
    size_t in_len;
    size_t head_len, head_sent;
    int file;          /* -1: no body from a file */
    uint64_t off, end; /* next file byte to send; end of the body */
    uint32_t sndbuf;
    bool close_after;
    size_t drained;
    us_time_t deadline;
    /* The buffers last: a new client clears only what comes before them. */
    char head[HEAD_MAX]; /* the response head (and an error page) */
    char in[HTTP_MAX_HEAD];
};

struct server {
    struct us_stack *s;
    struct us_loop *loop;
    int lfd;
    int rootfd;
    bool quiet;
    struct client *c[MAX_CLIENTS];
    unsigned n;
    char io[IO_BUF];
};

static void help(void)
{
    printf("Usage: ustack http --root DIR [--port P] [--quiet] --tap IFNAME --addr A.B.C.D/NN "
           "[options]\n\n"
           "A static-file HTTP/1.1 server on ustack: GET and HEAD, keep-alive, files of\n"
           "any size streamed with bounded memory, index.html for directories. Nothing\n"
           "outside DIR is ever served (no '..', no symlink leading out).\n\n"
           "  --root DIR    serve the files under DIR (required)\n"
           "  --port P      TCP port or service name to listen on (default 80, http)\n"
           "  --quiet       no access log (default: one line per request on "
           "stdout)\n\n" LINK_OPTIONS_HELP);
}

static us_time_t now_us(const struct server *sv)
{
    return us_loop_now(sv->loop);
}

/* ---- responses ---- */

/* On a connection that closes after this answer, the FIN should ride on the
 * answer's last segment: sent alone just after it, it races the client,
 * which may close on the complete body first; both sides then close at once
 * and both hold TIME-WAIT. Corked, only full segments leave until
 * finish_response() has queued the FIN and uncorks. */
static void cork(struct server *sv, struct client *c, int on)
{
    us_setsockopt(sv->s, c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

static void log_request(const struct server *sv, const struct client *c, const char *req_line,
                        int status, uint64_t len)
{
    if (sv->quiet) return;
    printf("%s \"%s\" %d %llu\n", c->peer, req_line, status, (unsigned long long)len);
}

/* Prepares an answer with no file: an error page, or a redirect. */
static void respond_small(struct server *sv, struct client *c, const struct http_request *req,
                          int status, const char *location, bool keep_alive)
{
    char body[512];
    int blen = http_error_body(body, sizeof(body), status);
    if (blen < 0) blen = 0;
    struct http_response r = {
        .status = status,
        .minor = req ? req->minor : 1,
        .keep_alive = keep_alive,
        .content_type = "text/html; charset=utf-8",
        .content_length = (uint64_t)blen,
        .location = location,
        .allow = status == 405 ? "GET, HEAD" : NULL,
        .now = time(NULL),
    };
    bool with_body = !req || req->method != HTTP_HEAD;
    int hl = http_format_head(c->head, sizeof(c->head), &r);
    if (hl < 0 || (with_body && (size_t)hl + (size_t)blen > sizeof(c->head))) {
        /* HEAD_MAX leaves room for the longest Location; should it not, a
         * bare 500 rather than a Content-Length the body does not match. */
        r.status = 500;
        r.location = NULL;
        r.allow = NULL;
        r.content_type = NULL;
        r.content_length = 0;
        blen = 0;
        hl = http_format_head(c->head, sizeof(c->head), &r);
    }
    if (with_body) {
        memcpy(c->head + hl, body, (size_t)blen);
        hl += blen;
    }
    c->head_len = (size_t)hl;
    c->head_sent = 0;
    c->file = -1;
    c->off = c->end = 0;
    c->close_after = !keep_alive;
    if (c->close_after) cork(sv, c, 1);
    c->state = C_SEND;
    c->deadline = now_us(sv) + SEND_TIMEOUT;
}

/* "/docs?x" -> "/docs/?x": where a directory asked without its slash is. */
static int redirect_location(const char *target, char *out, size_t len)
{
    const char *p = target;
    if (!strncasecmp(p, "http://", 7) || !strncasecmp(p, "https://", 8)) {
        p = strchr(p, ':') + 3;
        p += strcspn(p, "/?#");
    }
    size_t path = strcspn(p, "?#");
    int n = snprintf(out, len, "%.*s/%s", (int)path, p, p + path);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Opens what the request names; the fd of a regular file, or -status. */
static int open_target(struct server *sv, const struct http_request *req, struct stat *st,
                       char *name, size_t namelen, bool *redirect)
{
    char rel[HTTP_MAX_TARGET + 16];
    bool dir;
    *redirect = false;
    int status = http_sanitize_path(req->target, rel, sizeof(rel) - 16, &dir);
    if (status) return -status;
    int fd = http_open_beneath(sv->rootfd, rel);
    if (fd < 0) return -http_status_for_errno(-fd);
    if (fstat(fd, st) < 0) {
        close(fd);
        return -500;
    }
    if (S_ISDIR(st->st_mode)) {
        close(fd);
        if (!dir) {
            *redirect = true;
            return -301;
        }
        /* Opened from the root again, not from the directory, so a symlinked
         * index.html is judged against the root like everything else. */
        strcat(rel, *rel ? "/index.html" : "index.html");
        fd = http_open_beneath(sv->rootfd, rel);
        if (fd < 0) return fd == -ENOENT ? -403 : -http_status_for_errno(-fd); /* no listing */
        if (fstat(fd, st) < 0) {
            close(fd);
            return -500;
        }
    }
    if (!S_ISREG(st->st_mode)) { /* devices, FIFOs, sockets */
        close(fd);
        return -403;
    }
    snprintf(name, namelen, "%s", rel);
    return fd;
}

static void respond(struct server *sv, struct client *c, const struct http_request *req)
{
    char line[HTTP_MAX_TARGET + 64];
    snprintf(line, sizeof(line), "%s %s HTTP/1.%u", req->method_name, req->target, req->minor);
    if (req->method == HTTP_OTHER) {
        log_request(sv, c, line, 405, 0);
        respond_small(sv, c, req, 405, NULL, req->keep_alive);
        return;
    }
    struct stat st = {0};
    char name[HTTP_MAX_TARGET + 16];
    bool redirect;
    int fd = open_target(sv, req, &st, name, sizeof(name), &redirect);
    if (fd < 0) {
        char loc[HTTP_MAX_TARGET + 2];
        bool have_loc = redirect && redirect_location(req->target, loc, sizeof(loc)) == 0;
        int status = redirect && !have_loc ? 414 : -fd;
        log_request(sv, c, line, status, 0);
        /* A request we could parse and answer leaves the connection usable. */
        respond_small(sv, c, req, status, have_loc ? loc : NULL, req->keep_alive);
        return;
    }
    struct http_response r = {
        .status = 200,
        .minor = req->minor,
        .keep_alive = req->keep_alive,
        .content_type = http_content_type(name),
        .content_length = (uint64_t)st.st_size,
        .last_modified = st.st_mtime,
        .now = time(NULL),
    };
    int hl = http_format_head(c->head, sizeof(c->head), &r);
    if (hl < 0) { /* cannot happen with our headers; refuse rather than truncate */
        close(fd);
        log_request(sv, c, line, 500, 0);
        respond_small(sv, c, req, 500, NULL, false);
        return;
    }
    log_request(sv, c, line, 200, req->method == HTTP_HEAD ? 0 : (uint64_t)st.st_size);
    c->head_len = (size_t)hl;
    c->head_sent = 0;
    if (req->method == HTTP_HEAD) {
        close(fd);
        c->file = -1;
        c->off = c->end = 0;
    } else {
        c->file = fd;
        c->off = 0;
        c->end = (uint64_t)st.st_size;
    }
    c->close_after = !req->keep_alive;
    if (c->close_after) cork(sv, c, 1);
    c->state = C_SEND;
    c->deadline = now_us(sv) + SEND_TIMEOUT;
}

/* ---- one client ---- */

enum step { STEP_WAIT, STEP_CLOSE, STEP_ABORT };

/* Writes what the socket has room for. 1 when the response is complete, 0
 * when the socket is full, -1 when the connection must be aborted. */
static int send_some(struct server *sv, struct client *c)
{
    for (;;) {
        int outq = 0;
        if (us_ioctl(sv->s, c->fd, SIOCOUTQ, &outq) < 0) return -1;
        size_t room = c->sndbuf > (uint32_t)outq ? c->sndbuf - (uint32_t)outq : 0;
        size_t h = c->head_len - c->head_sent;
        uint64_t body = c->end - c->off;
        if (h == 0 && body == 0) return 1;
        if (room == 0) return 0;
        size_t n = h < room ? h : room;
        if (n > IO_BUF) n = IO_BUF;
        memcpy(sv->io, c->head + c->head_sent, n);
        /* Only as much of the file as the socket will take now. */
        size_t want = room - n < IO_BUF - n ? room - n : IO_BUF - n;
        if (body < want) want = (size_t)body;
        if (want) {
            ssize_t r = pread(c->file, sv->io + n, want, (off_t)c->off);
            if (r < 0 && errno == EINTR) continue;
            /* The file shrank or failed under us: the Content-Length we sent
             * cannot be kept, and only an abort tells the client so. */
            if (r <= 0) return -1;
            n += (size_t)r;
        }
        ssize_t w = us_send(sv->s, c->fd, sv->io, n, MSG_NOSIGNAL);
        if (w < 0) return errno == EAGAIN ? 0 : -1;
        size_t from_head = (size_t)w < h ? (size_t)w : h;
        c->head_sent += from_head;
        c->off += (size_t)w - from_head;
        c->deadline = now_us(sv) + SEND_TIMEOUT; /* progress */
        if ((size_t)w < n) return 0;
    }
}

static void finish_response(struct server *sv, struct client *c)
{
    if (c->file >= 0) close(c->file);
    c->file = -1;
    if (c->close_after) {
        us_shutdown(sv->s, c->fd, SHUT_WR);
        cork(sv, c, 0); /* the tail and the FIN, together */
        c->state = C_DRAIN;
        c->drained = 0;
        c->deadline = now_us(sv) + DRAIN_TIMEOUT;
    } else {
        c->state = C_READ;
        c->deadline = now_us(sv) + IDLE_TIMEOUT;
    }
}

/* Does everything that can be done for c without waiting. */
static enum step client_step(struct server *sv, struct client *c)
{
    for (;;) {
        switch (c->state) {
        case C_READ: {
            /* A pipelined request may be complete in the buffer already. */
            if (c->in_len) {
                struct http_request req;
                int rc = http_parse_request(c->in, c->in_len, &req);
                if (rc > 0) {
                    memmove(c->in, c->in + rc, c->in_len - (size_t)rc);
                    c->in_len -= (size_t)rc;
                    respond(sv, c, &req);
                    continue;
                }
                if (rc < 0) { /* the stream cannot be trusted past this */
                    log_request(sv, c, "-", -rc, 0);
                    respond_small(sv, c, NULL, -rc, NULL, false);
                    continue;
                }
            }
            ssize_t r = us_recv(sv->s, c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
            if (r > 0) {
                if (c->in_len == 0) c->deadline = now_us(sv) + HEAD_TIMEOUT;
                c->in_len += (size_t)r;
                continue;
            }
            if (r == 0) return STEP_CLOSE; /* the client is done */
            return errno == EAGAIN ? STEP_WAIT : STEP_ABORT;
        }
        case C_SEND: {
            int rc = send_some(sv, c);
            if (rc < 0) return STEP_ABORT;
            if (rc == 0) return STEP_WAIT;
            finish_response(sv, c);
            continue;
        }
        case C_DRAIN: {
            ssize_t r = us_recv(sv->s, c->fd, sv->io, sizeof(sv->io), 0);
            if (r > 0) {
                c->drained += (size_t)r;
                if (c->drained > DRAIN_MAX) return STEP_CLOSE;
                continue;
            }
            if (r == 0) return STEP_CLOSE;
            return errno == EAGAIN ? STEP_WAIT : STEP_CLOSE;
        }
        }
    }
}

/* What to do when c's deadline passes. */
static enum step client_timeout(struct server *sv, struct client *c)
{
    if (c->state == C_READ && c->in_len) {
        /* A request started and never finished: say so, then close. */
        log_request(sv, c, "-", 408, 0);
        respond_small(sv, c, NULL, 408, NULL, false);
        return client_step(sv, c);
    }
    return c->state == C_SEND ? STEP_ABORT : STEP_CLOSE;
}

static void client_free(struct server *sv, unsigned i, bool abort)
{
    struct client *c = sv->c[i];
    if (abort) {
        /* SO_LINGER 0: close with a reset, so the client knows the answer
         * is incomplete rather than taking a short body for the whole. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        us_setsockopt(sv->s, c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    us_close(sv->s, c->fd);
    if (c->file >= 0) close(c->file);
    free(c);
    sv->c[i] = sv->c[--sv->n];
}

/* ---- the server ---- */

static void accept_clients(struct server *sv)
{
    while (sv->n < MAX_CLIENTS) {
        struct sockaddr_in a;
        socklen_t alen = sizeof(a);
        int fd = us_accept4(sv->s, sv->lfd, (struct sockaddr *)&a, &alen, SOCK_NONBLOCK);
        if (fd < 0) return;
        struct client *c = malloc(sizeof(*c));
        if (!c) {
            us_close(sv->s, fd);
            return;
        }
        memset(c, 0, offsetof(struct client, head));
        c->fd = fd;
        c->file = -1;
        c->state = C_READ;
        c->deadline = now_us(sv) + IDLE_TIMEOUT;
        char ip[16];
        snprintf(c->peer, sizeof(c->peer), "%s:%u", us_ip_str(ntohl(a.sin_addr.s_addr), ip),
                 ntohs(a.sin_port));
        int v = HTTP_SNDBUF, one = 1;
        us_setsockopt(sv->s, fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
        /* Every write is a whole response or a socket's worth of file: no
         * tinygrams to coalesce, and Nagle would hold a response's last
         * segment for the client's delayed ACK. */
        us_setsockopt(sv->s, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        socklen_t vl = sizeof(v);
        c->sndbuf = us_getsockopt(sv->s, fd, SOL_SOCKET, SO_SNDBUF, &v, &vl) == 0 && v > 0
                        ? (uint32_t)v
                        : HTTP_SNDBUF;
        sv->c[sv->n++] = c;
        /* Data may have arrived with the handshake's last ACK. */
        enum step st = client_step(sv, c);
        if (st != STEP_WAIT) client_free(sv, sv->n - 1, st == STEP_ABORT);
    }
}

static int serve(struct server *sv)
{
    static struct pollfd pf[1 + MAX_CLIENTS];
    while (!us_loop_stopped(sv->loop)) {
        unsigned np = 0;
        /* A full house stops accepting: connections wait in the backlog. */
        pf[np++] = (struct pollfd){.fd = sv->n < MAX_CLIENTS ? sv->lfd : -1, .events = POLLIN};
        us_time_t now = now_us(sv), next = US_TIME_NEVER;
        for (unsigned i = 0; i < sv->n; i++) {
            struct client *c = sv->c[i];
            c->pfi = np;
            pf[np++] = (struct pollfd){.fd = c->fd,
                                       .events = (short)(c->state == C_SEND ? POLLOUT : POLLIN)};
            if (c->deadline < next) next = c->deadline;
        }
        int timeout = next == US_TIME_NEVER ? -1
                      : next <= now         ? 0
                                            : (int)((next - now + 999) / 1000);
        if (us_poll(sv->s, pf, np, timeout) < 0) {
            if (errno == EINTR) break;
            fail("poll: %s", strerror(errno));
        }
        if (pf[0].revents & POLLIN) accept_clients(sv);
        now = now_us(sv);
        /* Each client knows its poll entry: client_free() moves the last
         * client into a freed slot, and clients accepted just now (pfi 0)
         * were served by accept_clients(). */
        for (unsigned i = 0; i < sv->n;) {
            struct client *c = sv->c[i];
            short rev = c->pfi ? pf[c->pfi].revents : 0;
            enum step st = STEP_WAIT;
            if (rev) st = client_step(sv, c);
            if (st == STEP_WAIT && now >= c->deadline) st = client_timeout(sv, c);
            if (st != STEP_WAIT) {
                client_free(sv, i, st == STEP_ABORT);
                continue;
            }
            i++;
        }
    }
    return 0;
}

int cmd_http(int argc, char **argv)
{
    enum { OPT_ROOT = 1, OPT_PORT, OPT_QUIET };
    static const struct option own[] = {{"help", no_argument, 0, 'h'},
                                        {"root", required_argument, 0, OPT_ROOT},
                                        {"port", required_argument, 0, OPT_PORT},
                                        {"quiet", no_argument, 0, OPT_QUIET},
                                        {0, 0, 0, 0}};
    const struct option *opts = options_with_link(own);
    struct link_opts lo;
    link_opts_init(&lo);
    const char *root = NULL;
    unsigned long long port = 80;
    bool quiet = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case OPT_ROOT:
            root = optarg;
            break;
        case OPT_PORT: {
            char err[160];
            uint16_t p16;
            if (parse_service(optarg, "tcp", &p16, err, sizeof(err)) < 0)
                usage_error("bad --port: %s", err);
            port = p16;
            break;
        }
        case OPT_QUIET:
            quiet = true;
            break;
        case ':':
            usage_error("option '%s' needs a value", argv[optind - 1]);
        case '?':
            usage_error("unknown option '%s'", argv[optind - 1]);
        default:
            if (!link_opts_parse(&lo, c, optarg)) usage_error("unexpected option");
        }
    }
    if (optind < argc) usage_error("unexpected argument '%s'", argv[optind]);
    if (!root) usage_error("--root DIR is required");
    link_opts_require_tap(&lo);

    static struct server sv;
    sv.quiet = quiet;
    sv.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sv.rootfd < 0)
        fail("cannot serve --root %s: %s", root,
             errno == ENOTDIR ? "not a directory" : strerror(errno));
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct session ss;
    session_open(&ss, &lo, "http");
    sv.s = ss.s;
    sv.loop = ss.loop;
    sv.lfd = us_socket(sv.s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    us_setsockopt(sv.s, sv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (us_bind(sv.s, sv.lfd, (struct sockaddr *)&a, sizeof(a)) < 0)
        fail("cannot bind TCP port %llu: %s (choose another with --port)", port, strerror(errno));
    if (us_listen(sv.s, sv.lfd, 128) < 0) fail("listen: %s", strerror(errno));
    char ip[16];
    fprintf(stderr, "ustack http: serving %s at http://%s:%llu/\n", root, us_ip_str(lo.addr, ip),
            port);
    if (ss.ctl) fprintf(stderr, "ustack http: control socket %s\n", ctl_path(ss.ctl));

    int rc = serve(&sv);
    while (sv.n) client_free(&sv, 0, false);
    us_close(sv.s, sv.lfd);
    close(sv.rootfd);
    session_close(&ss);
    fprintf(stderr, "ustack http: stopped\n");
    return rc;
}
