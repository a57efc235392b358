/*
 * ctl.c: the control socket (ctl.h).
 *
 * The listening socket is non-blocking and watched by the TAP loop, so a
 * request is answered between two rounds of the loop, whatever the program
 * is doing with its sockets at the time. The answer is built in memory and
 * written without blocking; when it does not fit in the socket buffer (many
 * thousands of sockets) the rest is written as the client reads, from a
 * write watch. At most CTL_MAX_PENDING answers wait like that; a client
 * that stops reading is dropped when a new one needs its place, so a stuck
 * client can never stop the loop or grow memory without bound.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CTL_MAX_PENDING  4
#define CTL_ACCEPT_BATCH 16

struct ctl_client {
    int fd;
    char *buf;
    size_t len, off;
};

struct ctl_server {
    int fd;
    char path[CTL_PATH_MAX];
    struct us_loop *loop;
    struct us_stack *s;
    struct stat_origin origin;
    char command[32], tap[16]; /* origin's strings, owned */
    struct ctl_client pending[CTL_MAX_PENDING];
    unsigned n_pending;
};

/* ---- where sockets live ---- */

static const char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

size_t ctl_search_dirs(char dirs[][CTL_PATH_MAX], size_t max)
{
    size_t n = 0;
    const char *env = getenv("USTACK_CTL_DIR");
    if (env && *env) {
        if (max > n) snprintf(dirs[n++], CTL_PATH_MAX, "%s", env);
        return n;
    }
    if (max > n) snprintf(dirs[n++], CTL_PATH_MAX, "/run/ustack");
    if (max > n) snprintf(dirs[n++], CTL_PATH_MAX, "%s", tmpdir());
    return n;
}

/* /run/ustack when it exists or can be made, and we may write there. */
static bool run_dir_usable(void)
{
    if (mkdir("/run/ustack", 0755) < 0 && errno != EEXIST) return false;
    return access("/run/ustack", W_OK | X_OK) == 0;
}

int ctl_default_path(char *buf, size_t len, long pid, char *err, size_t errlen)
{
    const char *env = getenv("USTACK_CTL_DIR");
    const char *dir = env && *env ? env : run_dir_usable() ? "/run/ustack" : tmpdir();
    int n = snprintf(buf, len, "%s/ustack-%ld.ctl", dir, pid);
    if (n < 0 || (size_t)n >= len) {
        snprintf(err, errlen, "control socket path under '%s' is too long (at most %zu bytes)", dir,
                 CTL_PATH_MAX - 1);
        return -1;
    }
    return 0;
}

/* ---- answering ---- */

/* Atexit safety net: a program that exits through fail() after the session
 * opened would otherwise leave its socket behind. One control socket per
 * process, so one path. */
static char unlink_at_exit[CTL_PATH_MAX];

static void remove_at_exit(void)
{
    if (unlink_at_exit[0]) unlink(unlink_at_exit);
}

static void drop_client(struct ctl_server *c, unsigned i)
{
    us_loop_unwatch(c->loop, c->pending[i].fd);
    close(c->pending[i].fd);
    free(c->pending[i].buf);
    /* Keep arrival order: slot 0 is always the longest waiting. */
    memmove(&c->pending[i], &c->pending[i + 1], (c->n_pending - i - 1) * sizeof(c->pending[0]));
    c->n_pending--;
}

/* Writes what the socket takes. 1 when all is written, 0 when more remains,
 * -1 on error (the client went away). */
static int write_some(struct ctl_client *cl)
{
    while (cl->off < cl->len) {
        ssize_t w = send(cl->fd, cl->buf + cl->off, cl->len - cl->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        cl->off += (size_t)w;
    }
    return 1;
}

static void on_writable(void *ctx, int fd)
{
    struct ctl_server *c = ctx;
    for (unsigned i = 0; i < c->n_pending; i++) {
        if (c->pending[i].fd != fd) continue;
        if (write_some(&c->pending[i]) != 0) drop_client(c, i);
        return;
    }
}

/* The document for one request: the snapshot as one line of JSON. */
static char *build_answer(struct ctl_server *c, size_t *len)
{
    struct stat_snapshot snap;
    char *buf = NULL;
    *len = 0;
    if (stat_take(&snap, c->s, &c->origin, us_loop_now(c->loop)) < 0) return NULL;
    FILE *f = open_memstream(&buf, len);
    if (f) {
        stat_write_json(f, &snap, false);
        fputc('\n', f);
        if (fclose(f) != 0) {
            free(buf);
            buf = NULL;
        }
    }
    stat_free(&snap);
    return buf;
}

static void answer(struct ctl_server *c, int fd)
{
    struct ctl_client cl = {.fd = fd};
    cl.buf = build_answer(c, &cl.len);
    /* Out of memory: closing without a word tells the client as much. */
    int done = cl.buf ? write_some(&cl) : -1;
    if (done != 0) {
        close(fd);
        free(cl.buf);
        return;
    }
    if (c->n_pending == CTL_MAX_PENDING) drop_client(c, 0); /* the longest waiting */
    if (us_loop_watch_write(c->loop, fd, on_writable, c) < 0) {
        close(fd);
        free(cl.buf);
        return;
    }
    c->pending[c->n_pending++] = cl;
}

static void on_acceptable(void *ctx, int lfd)
{
    struct ctl_server *c = ctx;
    for (int i = 0; i < CTL_ACCEPT_BATCH; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or a client that gave up already */
        answer(c, fd);
    }
}

/* ---- opening and closing ---- */

/* Clears the way for bind(): a socket nobody answers on is a leftover of a
 * process that died (SIGKILL, a crash) and is removed; anything else stays. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0) return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen,
                 "%s exists and is not a socket; remove it or choose another path with --ctl",
                 path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen,
                 "another ustack answers on %s; stop it or choose another path with --ctl", path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        snprintf(err, errlen, "cannot check the existing socket %s: %s", path, strerror(e));
        return -1;
    }
    if (unlink(path) < 0) {
        snprintf(err, errlen, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

struct ctl_server *ctl_open(const char *path, struct us_loop *loop, struct us_stack *s,
                            const struct stat_origin *origin, char *err, size_t errlen)
{
    struct ctl_server *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->fd = -1;
    c->loop = loop;
    c->s = s;
    c->origin = *origin;
    snprintf(c->command, sizeof(c->command), "%s", origin->command ? origin->command : "");
    snprintf(c->tap, sizeof(c->tap), "%s", origin->tap ? origin->tap : "");
    c->origin.command = c->command;
    c->origin.tap = c->tap;

    if (path) {
        if (!*path || strlen(path) >= sizeof(c->path)) {
            snprintf(err, errlen, "control socket path '%s' must be 1 to %zu bytes", path,
                     sizeof(c->path) - 1);
            goto fail;
        }
        snprintf(c->path, sizeof(c->path), "%s", path);
    } else if (ctl_default_path(c->path, sizeof(c->path), origin->pid, err, errlen) < 0) {
        goto fail;
    }
    if (clear_stale(c->path, err, errlen) < 0) goto fail;

    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
    /* Only the user who started ustack may read its sockets: bind under a
     * tight umask so the file is never open to others, even briefly. */
    mode_t old = umask(0177);
    int rc = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    umask(old);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create the control socket %s: %s%s", c->path, strerror(e),
                 e == EACCES   ? " (choose a writable place with --ctl)"
                 : e == ENOENT ? " (its directory does not exist)"
                               : "");
        goto fail;
    }
    snprintf(unlink_at_exit, sizeof(unlink_at_exit), "%s", c->path);
    static bool registered;
    if (!registered) registered = atexit(remove_at_exit) == 0;
    if (listen(c->fd, 16) < 0 || us_loop_watch(loop, c->fd, on_acceptable, c) < 0) {
        snprintf(err, errlen, "cannot listen on the control socket %s", c->path);
        unlink(c->path);
        unlink_at_exit[0] = 0;
        goto fail;
    }
    return c;
fail:
    if (c->fd >= 0) close(c->fd);
    free(c);
    return NULL;
}

const char *ctl_path(const struct ctl_server *c)
{
    return c->path;
}

void ctl_close(struct ctl_server *c)
{
    if (!c) return;
    while (c->n_pending) drop_client(c, 0);
    us_loop_unwatch(c->loop, c->fd);
    close(c->fd);
    unlink(c->path);
    if (!strcmp(unlink_at_exit, c->path)) unlink_at_exit[0] = 0;
    free(c);
}
