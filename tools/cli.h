/*
 * cli.h: what the `ustack` subcommands share: the link options, bringing a
 * stack up on a TAP (with pcap, trace and faults), errors in one line.
 */
#ifndef USTACK_TOOLS_CLI_H
#define USTACK_TOOLS_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ustack/socket.h"
#include "ustack/stack.h"
#include "ustack/tap.h"
#include "ustack/trace.h"
#include "ustack/wire.h"

/* Exit codes: 0 success, 1 runtime failure, 2 usage error. */
#define EXIT_USAGE 2

extern const char *prog_cmd; /* "ustack run", for messages */

/* Prints "ustack CMD: message" and exits 2. */
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Exits 2 with one line for a getopt_long() error: c is '?' (unknown
 * option) or ':' (missing value; the option string must start with ':'). */
void option_error(int c, char *const argv[]) __attribute__((noreturn));
/* Prints "ustack CMD: message" and exits 1. */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

struct link_opts {
    const char *tap;
    uint32_t addr;
    unsigned prefix;
    bool have_addr;
    uint32_t gw;
    uint8_t mac[6];
    bool have_mac;
    unsigned mtu;
    const char *pcap;
    bool trace;
    bool offload;             /* virtio-net header, checksum offload, GSO (--no-offload) */
    const char *ctl;          /* control socket path for `ustack stat` */
    struct us_faults faults;
    uint64_t seed;
};

/* getopt_long entries for the link options; values start at LINKOPT_BASE. */
#define LINKOPT_BASE 1000
extern const struct option link_long_options[];
#define LINK_OPTIONS_HELP                                                                \
    "Link options:\n"                                                                    \
    "  --tap IFNAME        attach to (or create) this TAP device (required)\n"          \
    "  --addr A.B.C.D/NN   ustack's address and prefix length (required)\n"            \
    "  --gw A.B.C.D        default gateway (default: none)\n"                          \
    "  --mac MAC           ustack's MAC (default: 02:75 and the address)\n"            \
    "  --mtu N             MTU (default 1500)\n"                                       \
    "  --pcap FILE         write every frame in and out to FILE (default: none)\n"     \
    "  --trace             print frames (tcpdump style) and TCP state changes\n"        \
    "  --no-offload        no virtio-net header on the TAP (default: on, so the\n"     \
    "                      kernel checksums and cuts 64 KiB TCP frames, both ways)\n"  \
    "  --ctl PATH          control socket for `ustack stat` (default: ustack-PID.ctl\n" \
    "                      in $USTACK_CTL_DIR, /run/ustack or $TMPDIR)\n"              \
    "Fault options (inside ustack, both directions; P in percent, default 0):\n"       \
    "  --loss P  --dup P  --reorder P  --corrupt P  --delay MS  --seed N (default 1)\n"

void link_opts_init(struct link_opts *o);
/* Handles one getopt result if it is a link option: 1 handled, 0 not ours.
 * Bad values exit 2 with one line. */
int link_opts_parse(struct link_opts *o, int opt, const char *arg);
/* Checks that --tap and --addr were given; exits 2 otherwise. */
void link_opts_require_tap(const struct link_opts *o);
/* Builds a getopt_long table of `own` options followed by the link options.
 * The result is static storage. */
const struct option *options_with_link(const struct option *own);

/* A stack on a TAP, with its loop, pcap, trace and control socket. */
struct session {
    struct us_stack *s;
    struct us_link *tap;
    struct us_loop *loop;
    struct us_pcap *pcap;
    struct us_text_trace *trace;
    struct us_state_log *statelog;
    struct ctl_server *ctl;
    int iface;
};
/* Brings the stack up or exits 1 with a message saying what to do. */
void session_open(struct session *ss, const struct link_opts *o, const char *name);
void session_close(struct session *ss);
/* SIGINT/SIGTERM stop the session's loop (and interrupt blocking calls). */
void session_catch_signals(struct session *ss);

/* Parsers; return 0 on success. */
int parse_percent(const char *s, double *out);
int parse_uint(const char *s, unsigned long long max, unsigned long long *out);
int parse_mac(const char *s, uint8_t mac[6]);
int parse_addr_prefix(const char *s, uint32_t *addr, unsigned *prefix);
/* A port: a number 1..65535 or a service name from the system's services
 * database (getservbyname(3): "http", "smtp", "domain"...) for `proto`
 * ("tcp" or "udp"). On failure err says which name failed and why. */
int parse_service(const char *s, const char *proto, uint16_t *port, char *err, size_t errlen);
/* An IPv4 host: A.B.C.D, or a name resolved with getaddrinfo(3) (files,
 * DNS: whatever the system's name service offers). On failure err says
 * which name failed and why. Host order. */
int parse_host(const char *s, uint32_t *addr, char *err, size_t errlen);

/* Subcommands. */
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_echo(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_diagram(int argc, char **argv);
int cmd_http(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_scenario(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_pkt(int argc, char **argv);

#endif
