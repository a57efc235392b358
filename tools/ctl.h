/*
 * ctl.h: the control socket of a running `ustack`: the server side of
 * `ustack stat`.
 *
 * Protocol (version 1, docs/ustack.md "Control socket"): a Unix-domain
 * stream socket. The client connects and sends nothing; the server writes
 * one JSON document (stat.h's snapshot) followed by a newline and closes.
 * Clients ignore members they do not know, so the document can grow.
 */
#ifndef USTACK_TOOLS_CTL_H
#define USTACK_TOOLS_CTL_H

#include <stddef.h>
#include <sys/un.h>

#include "stat.h"
#include "ustack/tap.h"

/* sun_path's size: the longest path a control socket can have, plus one. */
#define CTL_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

struct ctl_server;

/* The directories control sockets are looked for in, in order, with their
 * count: $USTACK_CTL_DIR alone when it is set; else /run/ustack and $TMPDIR
 * (default /tmp). Each entry holds up to CTL_PATH_MAX bytes. */
size_t ctl_search_dirs(char dirs[][CTL_PATH_MAX], size_t max);

/* The path a process with this pid uses by default: ustack-PID.ctl in
 * $USTACK_CTL_DIR, else in /run/ustack when it exists or can be created
 * and is writable, else in $TMPDIR (default /tmp). 0, or -1 with a message
 * when the path would be too long. */
int ctl_default_path(char *buf, size_t len, long pid, char *err, size_t errlen);

/* Opens the control socket at `path` (NULL: ctl_default_path()) and watches
 * it from `loop`; answers come from inside the loop without blocking it.
 * A stale socket left by a process that died is replaced; a live one, or a
 * file that is not a socket, is refused. The socket is removed by
 * ctl_close(), and at exit() if the program leaves without closing it.
 * NULL on failure, with a message saying what to do in err. */
struct ctl_server *ctl_open(const char *path, struct us_loop *loop, struct us_stack *s,
                            const struct stat_origin *origin, char *err, size_t errlen);
const char *ctl_path(const struct ctl_server *c);
/* Stops answering, closes every connection and removes the socket file. */
void ctl_close(struct ctl_server *c);

#endif
