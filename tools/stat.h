/*
 * stat.h: a snapshot of a running stack's sockets and counters, as the
 * control socket sends it and `ustack stat` shows it.
 *
 * One model, three forms: taken from a live stack (server side), written as
 * JSON (the wire format, and `ustack stat --json`), read back from JSON
 * (client side), and printed as a table in the manner of `ss -tan -o` and
 * `nstat`. The JSON form is documented in docs/ustack.md ("Control socket").
 */
#ifndef USTACK_TOOLS_STAT_H
#define USTACK_TOOLS_STAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ustack/socket.h"
#include "ustack/stack.h"

/* The version of the JSON document; a reader refuses a higher one. */
#define STAT_VERSION 1
/* Sockets listed per snapshot; the rest are counted (sockets_total). */
#define STAT_MAX_SOCKETS 65536

struct stat_socket {
    char proto[4];         /* "tcp", "udp" */
    char state[16];        /* RFC 9293 name ("ESTABLISHED"); "" for UDP */
    int fd;                /* -1: no descriptor (TIME-WAIT, embryo, orphan) */
    uint32_t laddr, raddr; /* host order */
    uint16_t lport, rport;
    uint32_t recv_q, send_q;
    char timer[12];    /* "on", "keepalive", "timewait", "persist", "off" */
    uint64_t timer_ms; /* time left on the timer (0 when "off") */
    unsigned retransmits;
};

struct stat_counter {
    char name[48];
    uint64_t value;
};

struct stat_snapshot {
    unsigned version;
    long pid;
    char command[32]; /* "http", "echo", ... */
    char tap[16];
    uint32_t addr; /* host order */
    unsigned prefix;
    uint64_t uptime_ms;
    struct stat_socket *sockets;
    size_t n_sockets;
    size_t sockets_total;          /* > n_sockets when the list was cut short */
    struct stat_counter *counters; /* every counter, zero or not, in table order */
    size_t n_counters;
};

/* Everything that is not the stack itself. */
struct stat_origin {
    long pid;
    const char *command;
    const char *tap;
    uint32_t addr;
    unsigned prefix;
    us_time_t started; /* loop time the session started */
};

/* Fills `snap` from a live stack at loop time `now`. 0, or -ENOMEM. */
int stat_take(struct stat_snapshot *snap, struct us_stack *s, const struct stat_origin *o,
              us_time_t now);
void stat_free(struct stat_snapshot *snap);

/* The JSON document (compact for the wire, pretty for people). */
void stat_write_json(FILE *out, const struct stat_snapshot *snap, bool pretty);
/* Reads a document; 0, or -1 with a message in err. Unknown members are
 * ignored so version 1 can grow. */
int stat_read_json(struct stat_snapshot *snap, const char *text, size_t len, char *err,
                   size_t errlen);

/* The table: a title line, the sockets like `ss -tan -o`, then the non-zero
 * counters with their help texts. */
void stat_write_table(FILE *out, const struct stat_snapshot *snap);

/* ss's short state names: "ESTAB", "SYN-RECV", "TIME-WAIT", "UNCONN"... */
const char *stat_ss_state(const struct stat_socket *sk);
/* ss -o's timer: "timer:(on,200ms,0)", "" when off. Returns buf. */
char *stat_format_timer(char *buf, size_t len, const struct stat_socket *sk);
/* ss's way of writing a duration in ms: "200ms", "1.500ms", "59sec", "2min5sec". */
char *stat_format_ms(char *buf, size_t len, uint64_t ms);

#endif
