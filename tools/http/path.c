/*
 * path.c: from a request target to an open file, without ever leaving the
 * document root (http.h).
 *
 * Two fences, either enough alone:
 * 1. The sanitizer works on the decoded path (each %XX decoded exactly once,
 *    so %2e%2e is "..", and %252e%252e is the harmless name "%2e%2e") and
 *    refuses any ".." segment outright rather than resolving it: there is
 *    no lexical trick left for the kernel to interpret differently.
 * 2. The open is confined by the kernel: openat2(RESOLVE_BENEATH) refuses
 *    any resolution that would leave the root, which covers symlinks a
 *    user placed inside the root pointing outside. Without openat2 (old
 *    kernels, some sandboxes) the path is walked one component at a time
 *    with O_NOFOLLOW, so no symlink is followed at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int http_sanitize_path(const char *target, char *out, size_t outlen, bool *dir)
{
    const char *p = target;
    /* The absolute form (RFC 9112 §3.2.2), which proxies send: skip the
     * scheme and authority; the host does not choose among roots here. */
    if (!strncasecmp(p, "http://", 7) || !strncasecmp(p, "https://", 8)) {
        p = strchr(p, ':') + 3;
        p += strcspn(p, "/?#");
        if (*p != '/') p = "/";
    }
    if (*p != '/') return 400;

    /* Decode the path part (up to '?' or '#') into out. */
    size_t n = 0;
    for (; *p && *p != '?' && *p != '#'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
            if (lo < 0) return 400;
            c = (unsigned char)(hi << 4 | lo);
            p += 2;
        }
        if (c == 0 || c < 0x20 || c == 0x7f) return 400;
        if (n + 1 >= outlen) return 414;
        out[n++] = (char)c;
    }
    out[n] = 0;
    *dir = n > 0 && out[n - 1] == '/';

    /* Rebuild it from its segments in place (the result is never longer):
     * empty and "." segments vanish, ".." is refused. */
    size_t w = 0;
    char *seg = out;
    while (*seg) {
        size_t len = strcspn(seg, "/");
        char *next = seg + len + (seg[len] == '/');
        if (len == 2 && seg[0] == '.' && seg[1] == '.') return 403;
        if (len && !(len == 1 && seg[0] == '.')) {
            if (w) out[w++] = '/';
            memmove(out + w, seg, len);
            w += len;
        }
        seg = next;
    }
    out[w] = 0;
    if (w == 0) *dir = true; /* the root itself */
    return 0;
}

int http_open_walk(int rootfd, const char *rel)
{
    int dirfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return -errno;
    const char *p = rel;
    for (;;) {
        size_t len = strcspn(p, "/");
        char name[256];
        if (len >= sizeof(name)) {
            close(dirfd);
            return -ENAMETOOLONG;
        }
        memcpy(name, p, len);
        name[len] = 0;
        if (!strcmp(name, "..")) {
            close(dirfd);
            return -EXDEV;
        }
        bool last = p[len] == 0;
        if (len == 0 || !strcmp(name, ".")) {
            if (last) return dirfd; /* "" or a trailing '/': the directory */
            p += len + 1;
            continue;
        }
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? O_NONBLOCK : O_DIRECTORY);
        int fd = openat(dirfd, name, flags);
        int e = errno;
        struct stat st;
        /* O_DIRECTORY reports a symlink as "not a directory"; say what it
         * is, so every refused symlink reads the same (ELOOP: 403). */
        if (fd < 0 && e == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode))
            e = ELOOP;
        close(dirfd);
        if (fd < 0) return -e;
        if (last) return fd;
        dirfd = fd;
        p += len + 1;
    }
}

int http_open_beneath(int rootfd, const char *rel)
{
    /* O_NONBLOCK: a FIFO in the root must not hang the server in open(). */
    struct open_how how = {
        .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
    if (fd >= 0) return (int)fd;
    /* ENOSYS: a kernel before 5.6. EPERM: a seccomp filter that does not
     * know openat2. The walk is stricter, so falling back is safe. */
    if (errno == ENOSYS || errno == EPERM) return http_open_walk(rootfd, rel);
    return -errno;
}

int http_status_for_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
    case EXDEV: /* the path would leave the root */
    case ELOOP: /* a symlink, where none may be followed */
        return 403;
    default:
        return 500;
    }
}
