/*
 * common.h: what the example programs share, so each of them can stay the
 * short textbook program it imitates.
 *
 * An example is made of *parts*: a server part and a client part, each an
 * ordinary function written with blocking socket calls on one stack. Where
 * they run:
 *
 * - On the in-memory wire (the default): every part of the run gets its own
 *   stack (the server 10.0.0.2, the clients 10.0.0.1, 10.0.0.3, ...) on one
 *   wire under virtual time, and its own thread. The threads pass a baton
 *   (see common.c) so exactly one of them runs at a time: the run is
 *   single-threaded in effect, and the same seed gives the same trace.
 * - On a TAP (--tap IFNAME --addr A.B.C.D/NN): only the program's own part
 *   runs, on a stack driven by the real clock, so that the kernel's nc or
 *   Python can be the other side.
 */
#ifndef USTACK_EXAMPLES_COMMON_H
#define USTACK_EXAMPLES_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h" /* link options, session_open(), parse_service(), parse_host() */
#include "ustack/socket.h"

/* Addresses on the wire: the server, and the first client (the next ones
 * are 10.0.0.3, 10.0.0.4, ...). */
#define EX_SERVER_ADDR 0x0a000002u /* 10.0.0.2 */
#define EX_CLIENT_ADDR 0x0a000001u /* 10.0.0.1 */
#define EX_MAX_PARTS   8

/* The options' help: the link options, and what they mean on the wire. */
#define EX_OPTIONS_HELP                                                                            \
    LINK_OPTIONS_HELP                                                                              \
    "On the in-memory wire (no --tap) the server is 10.0.0.2, the clients 10.0.0.1,\n"             \
    "10.0.0.3...; time is virtual; --delay is 5 ms unless given.\n"

/* The default port of the textbook examples (Python's socket HOWTO). */
#define EX_DEFAULT_PORT 50007

/* One program's part in a run. */
struct ex_part {
    const char *name;                          /* the stack's name: "server", "client", "client2" */
    int (*run)(struct us_stack *s, void *arg); /* returns the exit status */
    void *arg;
    /* A server runs until it is stopped: its blocking call fails with EINTR.
     * On a TAP that is Ctrl-C (SIGINT/SIGTERM); on the wire it happens when
     * every client part has finished and nothing is left to happen. */
    bool server;
};

/* getopt_long() over the program's own options and the link options
 * (cli.h): link options go into `o`, --help calls help() and exits 0, a bad
 * option exits 2 with one line. Returns the program's own options as
 * getopt_long() does, -1 at the end. Also names the program in messages. */
int ex_getopt(int argc, char **argv, const struct option *own, struct link_opts *o,
              void (*help)(void));

/* True when the run is on a TAP (--tap given); checks the link options
 * that only make sense there. Exits 2 with one line on a bad combination. */
bool ex_on_tap(const struct link_opts *o);

/* Runs the parts: on the wire all of them, each in its own thread; on a
 * TAP only parts[mine]. Returns the exit status (the first part's that is
 * not 0). */
int ex_run(const struct link_opts *o, struct ex_part *parts, int n, int mine);

/* The usual helpers. */
struct sockaddr_in ex_sockaddr(uint32_t host, uint16_t port); /* host order in */
/* "10.0.0.1:40000"; buf of at least 24 bytes. */
char *ex_addr_str(const struct sockaddr_in *a, char *buf);
/* Parses a port or service name, or exits 2 with one line. */
uint16_t ex_port(const char *s, const char *proto);
/* Parses a host name or address, or exits 2 with one line. */
uint32_t ex_host(const char *s);
/* Prints "NAME: CALL: strerror(errno)" on stderr (perror with the part's name). */
void ex_perror(struct us_stack *s, const char *call);
/* Sets SO_RCVTIMEO to `ms` milliseconds. */
int ex_set_rcvtimeo(struct us_stack *s, int fd, unsigned ms);

#endif
