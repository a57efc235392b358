/*
 * pkt.h: packetdrill scripts in parsed form, and the parser that makes them.
 *
 * A script is a list of option lines (`--tolerance_usecs=10000`) followed by
 * events, perhaps with an untimed shell command before and after them. Every
 * event has a time spec, a source position and one of four kinds: a TCP
 * packet (`<` injected into the stack, `>` expected from it), a system call
 * with its argument expressions and expected result, a shell command in
 * backquotes (not executed: the sysctl settings that matter are extracted as
 * data), or a `%{ }%` code block (not executed).
 *
 * The language is packetdrill's, as its documentation and public scripts use
 * it, plus the FreeBSD fork's `#ifdef NAME` / `#ifndef` / `#else` / `#endif`
 * lines. `STANDARD` is predefined (the shared scripts' portable branch)
 * unless the caller asks otherwise; more names come from -D definitions,
 * which are also macros: an identifier that names a definition is replaced
 * by the definition's text, re-lexed.
 *
 * Everything a script holds lives in one arena owned by the script:
 * pkt_script_free() releases it all. Numbers in packets are in *script
 * space*; map.h translates them to and from the stack's.
 */
#ifndef USTACK_TOOLS_PKT_H
#define USTACK_TOOLS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- positions and errors ---- */

struct pkt_pos {
    uint32_t line; /* 1-based */
    uint32_t col;  /* 1-based, in bytes */
};

struct pkt_error {
    char file[256];
    struct pkt_pos pos;
    char msg[256];
};
/* "file:line:col: message" into buf; returns buf. */
char *pkt_error_format(const struct pkt_error *e, char *buf, size_t cap);

/* ---- time specs ---- */

enum pkt_time_kind {
    PKT_TIME_ABSOLUTE, /* `1.5`: from the start of the script */
    PKT_TIME_RELATIVE, /* `+0.1`: from the start time of the previous event */
    PKT_TIME_ANY,      /* `*`: whenever it happens */
};

/*
 * `T`, `+T`, `*`, `T1~T2` (the event happens somewhere in the range) and
 * `T1...T2` (a blocking call starts at T1 and returns at T2). In both forms
 * the second time takes its base from its own `+` (relative to the previous
 * event's start) or, without one, from the first time's kind: `+0...0.2`
 * returns 0.2 s after the previous event started, `1...6` at 6 s. That is how
 * the public scripts read (blocking-read.pkt: `+.1...0.200 read()` returns
 * when a packet sent `+.1` after it arrives).
 */
struct pkt_time {
    enum pkt_time_kind kind;
    int64_t usecs;               /* ABSOLUTE and RELATIVE */
    bool has_end;                /* a range or a blocking end */
    bool blocking;               /* `...` (else `~`) */
    enum pkt_time_kind end_kind; /* ABSOLUTE or RELATIVE */
    int64_t end_usecs;
};

/* Resolved times of an event, in microseconds from the script start. */
struct pkt_when {
    bool any;      /* `*`: start/end unconstrained */
    int64_t start; /* earliest start */
    int64_t end;   /* latest start for a range; return time for `...`; else start */
};
/* Resolves `t` given the previous event's start time. Pure arithmetic; the
 * tolerance is the caller's to apply. */
struct pkt_when pkt_time_resolve(const struct pkt_time *t, int64_t prev_start);

/* ---- TCP packets ---- */

/* TCP header flag bits, as on the wire. */
enum {
    PKT_FIN = 0x01,
    PKT_SYN = 0x02,
    PKT_RST = 0x04,
    PKT_PSH = 0x08,
    PKT_ACK = 0x10,
    PKT_URG = 0x20,
    PKT_ECE = 0x40,
    PKT_CWR = 0x80,
};

/* TCP option kinds we name (RFC 9293, 7323, 2018). */
enum {
    PKT_OPT_EOL = 0,
    PKT_OPT_NOP = 1,
    PKT_OPT_MSS = 2,
    PKT_OPT_WSCALE = 3,
    PKT_OPT_SACK_OK = 4,
    PKT_OPT_SACK = 5,
    PKT_OPT_TS = 8,
};
#define PKT_OPTS_MAX 40 /* the TCP option space */
#define PKT_SACK_MAX 4  /* blocks that fit in 40 bytes */

/* Options are kept as their wire encoding, in order, exactly as the script
 * wrote them (or the stack sent them); pkt_opts_next() decodes one at a time.
 * `any` is the script's `<...>`: whatever the stack sends. */
struct pkt_opts {
    bool any;
    uint8_t len;
    uint8_t bytes[PKT_OPTS_MAX];
};

struct pkt_sack_block {
    uint32_t left, right;
};

/* One decoded option. Fields beyond `kind` and `len` are set per kind. */
struct pkt_opt {
    uint8_t kind;
    uint8_t len; /* encoded length in bytes (1 for eol and nop) */
    uint8_t off; /* offset of the option in pkt_opts.bytes */
    uint16_t mss;
    uint8_t wscale;
    uint8_t nsack;
    struct pkt_sack_block sack[PKT_SACK_MAX];
    uint32_t ts_val, ts_ecr;
};
/* Decodes the option at *off and advances *off. Returns 1 with `out` filled,
 * 0 at the end, -1 when the bytes are malformed (a length running past the
 * end, a length below 2, a known kind with the wrong length). */
int pkt_opts_next(const struct pkt_opts *o, size_t *off, struct pkt_opt *out);
/* Appends one option's encoding; -1 if it does not fit in 40 bytes. */
int pkt_opts_add(struct pkt_opts *o, const struct pkt_opt *opt);

enum pkt_dir { PKT_INBOUND, PKT_OUTBOUND };

struct pkt_packet {
    enum pkt_dir dir; /* `<` inbound (injected), `>` outbound (expected) */
    uint8_t flags;    /* PKT_* bits; `-` is none */
    uint32_t seq;     /* `seq:end(len)`; end = seq + len */
    uint32_t len;     /* payload bytes */
    bool seq_any;     /* `...(len)` (FreeBSD fork, outbound only): seq not checked */
    bool has_ack;     /* `ack N`, with or without the ACK flag */
    uint32_t ack;
    bool has_win; /* `win N` */
    uint16_t win;
    bool has_urg; /* `urg N` */
    uint16_t urg;
    struct pkt_opts opts; /* none given: no options */
};

/* ---- expressions (system-call arguments and results) ---- */

enum pkt_expr_kind {
    PKT_EXPR_INT,      /* 3, 0x02, -1 */
    PKT_EXPR_SYMBOL,   /* SOCK_STREAM, O_NONBLOCK, POLLIN, ECONNRESET */
    PKT_EXPR_ELLIPSIS, /* ... : whatever the runner chooses */
    PKT_EXPR_STRING,   /* "cubic" */
    PKT_EXPR_LIST,     /* [65536], [{fd=3, events=POLLIN}] */
    PKT_EXPR_STRUCT,   /* {onoff=1, linger=0}: items are FIELDs */
    PKT_EXPR_FIELD,    /* name=value inside a struct: `name`, `left` */
    PKT_EXPR_OR,       /* left | right */
    PKT_EXPR_CALL,     /* htons(8080), inet_addr("192.0.2.1"): `name`, items */
};

struct pkt_expr {
    enum pkt_expr_kind kind;
    struct pkt_pos pos;
    int64_t num;             /* INT */
    const char *name;        /* SYMBOL, FIELD, CALL; STRING: the bytes */
    size_t name_len;         /* STRING may hold NULs */
    struct pkt_expr *left;   /* OR, FIELD (the value) */
    struct pkt_expr *right;  /* OR */
    struct pkt_expr **items; /* LIST, STRUCT, CALL */
    uint32_t nitems;
};

/* ---- system calls ---- */

struct pkt_syscall {
    const char *name; /* "socket", "setsockopt", ... (not checked) */
    struct pkt_expr **args;
    uint32_t nargs;
    struct pkt_expr *ret;   /* expected return value */
    const char *errno_name; /* `-1 ECONNRESET`: "ECONNRESET"; else NULL */
    const char *note;       /* `(Connection reset by peer)`; else NULL */
};

/* ---- shell commands and the settings they carry ---- */

/* What a sysctl means for ustack (struct us_tcp_config). The values are in
 * the sysctl's own units; see each comment. */
enum pkt_setting {
    PKT_SET_TIMESTAMPS,            /* 0/1: RFC 7323 timestamps */
    PKT_SET_WINDOW_SCALING,        /* 0/1: RFC 7323 window scale */
    PKT_SET_SACK,                  /* 0/1: RFC 2018 */
    PKT_SET_RCVBUF,                /* bytes: default receive buffer */
    PKT_SET_RCVBUF_MAX,            /* bytes: ceiling for SO_RCVBUF (tcp_rmem max) */
    PKT_SET_SNDBUF,                /* bytes: default send buffer */
    PKT_SET_SNDBUF_MAX,            /* bytes: ceiling for SO_SNDBUF (tcp_wmem max) */
    PKT_SET_SOCKBUF_MAX,           /* bytes: ceiling for both (kern.ipc.maxsockbuf) */
    PKT_SET_SYN_RETRIES,           /* count */
    PKT_SET_SYNACK_RETRIES,        /* count */
    PKT_SET_SYNCOOKIES,            /* 0 off, 1 when the queue overflows, 2 always (Linux) */
    PKT_SET_SYNCOOKIES_ONLY,       /* FreeBSD syncookies_only: 1 means always */
    PKT_SET_INSECURE_RST,          /* 1: RFC 5961 RST checks off */
    PKT_SET_INSECURE_SYN,          /* 1: RFC 5961 SYN checks off */
    PKT_SET_CONGESTION,            /* text: "cubic", "newreno" */
    PKT_SET_SLOW_START_AFTER_IDLE, /* 0/1 */
    PKT_SET_RTO_INITIAL,           /* milliseconds */
    PKT_SET_DROP_SYNFIN,           /* 0/1 */
};
/* "timestamps", "sack", ... for reports. */
const char *pkt_setting_name(enum pkt_setting s);

struct pkt_sysctl {
    enum pkt_setting setting;
    const char *sysctl; /* the name as written: "net.inet.tcp.sack.enable" */
    const char *text;   /* the value as written (after shell arithmetic) */
    int64_t value;      /* the number for every setting but CONGESTION */
};

struct pkt_shell {
    const char *command;         /* the text between the backquotes */
    struct pkt_sysctl *settings; /* in the order they appear */
    uint32_t nsettings;
    const char **ignored; /* commands and sysctls without a mapping */
    uint32_t nignored;
};

/* ---- code blocks ---- */

struct pkt_code {
    const char *text; /* between %{ and }% */
    /* `assert tcpi_state == TCPI_X`, the one form the shared scripts use,
     * as "X" ("ESTABLISHED", "FIN_WAIT_1"); else NULL. */
    const char *tcpi_state;
};

/* ---- events and scripts ---- */

enum pkt_event_kind {
    PKT_EV_PACKET,
    PKT_EV_SYSCALL,
    PKT_EV_SHELL,
    PKT_EV_CODE,
};

struct pkt_event {
    enum pkt_event_kind kind;
    struct pkt_pos pos; /* of the time spec */
    struct pkt_time time;
    union {
        struct pkt_packet packet;
        struct pkt_syscall call;
        struct pkt_shell shell;
        struct pkt_code code;
    } u;
};

/* `--name=value` (value NULL for `--name`). */
struct pkt_option {
    const char *name;
    const char *value;
    struct pkt_pos pos;
};

/* The options the runner understands, checked at parse time. Others stay in
 * pkt_script.options for the report. */
struct pkt_config {
    int ip_version;          /* 4; 6 for ipv6, 46 for ipv4-mapped-ipv6 */
    int64_t tolerance_usecs; /* 4000 unless --tolerance_usecs */
    uint32_t mtu;            /* 1500 unless --mtu */
    uint32_t mss;            /* --mss; 0 when not given */
    uint32_t ts_tick_usecs;  /* --tcp_ts_tick_usecs; 0: TS val not checked */
    uint32_t local_ip;       /* --local_ip, host order; 0 when not given */
    uint32_t remote_ip;      /* --remote_ip; 0 when not given */
    uint16_t bind_port;      /* --bind_port; 0 when not given */
    uint16_t connect_port;   /* --connect_port; 0 when not given */
};

struct pkt_arena;

/* A `command` with no time: packetdrill allows one right after the options
 * (run before the first event) and one after the last event (cleanup). */
struct pkt_untimed {
    struct pkt_pos pos;
    struct pkt_shell shell;
};

struct pkt_script {
    const char *path;
    struct pkt_option *options;
    uint32_t noptions;
    struct pkt_config config;
    struct pkt_untimed *init; /* NULL when absent */
    struct pkt_event *events;
    uint32_t nevents;
    struct pkt_untimed *cleanup; /* NULL when absent */
    struct pkt_arena *arena;     /* owns everything above */
};

/* ---- parsing ---- */

struct pkt_define {
    const char *name;
    const char *value; /* "" for a bare -DNAME */
};

struct pkt_parse_opts {
    const struct pkt_define *defines; /* -D NAME=VALUE, in order */
    size_t ndefines;
    /* Shell commands that run a file (`../common/defaults.sh`) are read from
     * this directory to extract their sysctls. NULL: never touch files. */
    const char *base_dir;
    bool no_standard; /* do not predefine STANDARD */
};

/* Parses `len` bytes of script text. `name` is used in messages. Returns 0
 * and a script to free with pkt_script_free(), or -1 with `err` filled (and
 * *out NULL). opts may be NULL. */
int pkt_parse_buffer(const char *name, const char *text, size_t len,
                     const struct pkt_parse_opts *opts, struct pkt_script **out,
                     struct pkt_error *err);
/* Reads and parses a file; base_dir defaults to the file's directory. */
int pkt_parse_file(const char *path, const struct pkt_parse_opts *opts, struct pkt_script **out,
                   struct pkt_error *err);
void pkt_script_free(struct pkt_script *s);

/* Parses "NAME=VALUE" or "NAME" (a -D argument) into d, pointing into arg's
 * storage (the '=' is replaced by a NUL). Returns 0 or -1. */
int pkt_define_parse(char *arg, struct pkt_define *d);

/* ---- printing ---- */

/* Prints the script back in canonical script syntax: options, then one line
 * per event. Parsing the output gives the same script. */
void pkt_script_print(FILE *out, const struct pkt_script *s);
/* One event in script syntax, time first, ending with a newline (shell
 * lines print the settings they carry as comments). */
void pkt_event_print(FILE *f, const struct pkt_event *ev);
/* One packet in script syntax, without time: "> S. 0:0(0) ack 1 <mss 1460>". */
char *pkt_packet_format(char *buf, size_t cap, const struct pkt_packet *p);
/* One option list in script syntax, without the angle brackets. */
char *pkt_opts_format(char *buf, size_t cap, const struct pkt_opts *o);
/* Flags as the script writes them: "S.", "FP.", "-". */
char *pkt_flags_format(char *buf, size_t cap, uint8_t flags);

/* ---- symbols ---- */

/* The value of a symbolic constant (SOCK_STREAM, O_NONBLOCK, POLLIN,
 * SOL_SOCKET, SO_RCVBUF, TCP_NODELAY, SHUT_WR, SIOCINQ, MSG_PEEK, ...) or an
 * errno name (ECONNRESET, EWOULDBLOCK), as this system defines it (the socket
 * API takes the system's constants). Returns 0, or -1 for a name we do not
 * know (TCP_NOOPT and TCP_KEEPINIT are FreeBSD's; the runner skips scripts
 * that need them). */
int pkt_symbol_value(const char *name, int64_t *out);
/* Whether `c` is getsockopt(fd, SOL_SOCKET, SO_RCVBUF or SO_SNDBUF, [v], ...):
 * in portable mode the executor does not compare v (buffer sizes are each
 * system's own choice; shared/packetdrill/README.md). */
bool pkt_syscall_reads_buffer_size(const struct pkt_syscall *c);
/* Evaluates INT, SYMBOL and OR expressions to a number. Returns 0, or -1 with
 * the unknown symbol or unsupported expression described in err. */
int pkt_expr_int(const struct pkt_expr *e, int64_t *out, char *err, size_t errlen);

#endif
