/*
 * model.h: a TCP sequence diagram as data.
 *
 * Two lifelines (left: the side that sent the first SYN, the client; without
 * a SYN, the first sender), one arrow per segment of one connection (sent
 * when, arrived when or lost, flags, sequence numbers, retransmission or
 * not), and the states each side enters, each placed where it is entered:
 * at the head of the arrow whose arrival caused it, at the tail of the arrow
 * it sent, or on a row of its own (timers, calls that sent nothing).
 *
 * A diagram is built by feeding it what happened, in the order it happened
 * (diagram_add_*), then diagram_finish(). Three feeders exist:
 * - load.c: a pcap plus, optionally, the event log that us_eventlog wrote
 *   beside it (src/trace/eventlog.c documents the format);
 * - record.c: live, from a wire and its stacks, in memory;
 * - tests, directly.
 * With wire events (ids, deliveries, drops) arrows have real flight times and
 * fates; with a capture alone every segment is drawn at its capture time as
 * delivered. Memory is bounded (DG_MAX_ARROWS, DG_MAX_STATES): past the
 * limits the diagram is marked truncated.
 */
#ifndef USTACK_TOOLS_DIAGRAM_MODEL_H
#define USTACK_TOOLS_DIAGRAM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/stack.h"
#include "ustack/wire.h"

#define DG_MAX_ARROWS 20000u
#define DG_MAX_STATES 4096u
#define DG_MAX_PORTS  16
#define DG_NAME_MAX   32

enum diagram_side { DG_LEFT = 0, DG_RIGHT = 1 };

enum diagram_fate {
    DG_DELIVERED, /* reached the other side at `arrived` */
    DG_LOST,      /* dropped on the wire; `reason` says why */
    DG_CORRUPTED, /* arrived damaged: the receiver's checksum drops it */
    DG_UNKNOWN,   /* the record ends before its fate was decided */
};

/* TCP flag bits as on the wire. */
enum {
    DG_FIN = 0x01,
    DG_SYN = 0x02,
    DG_RST = 0x04,
    DG_PSH = 0x08,
    DG_ACK = 0x10,
    DG_URG = 0x20,
    DG_ECE = 0x40,
    DG_CWR = 0x80,
};

struct diagram_arrow {
    uint64_t id; /* wire frame id, or pcap record number (from 1) */
    enum diagram_side from;
    us_time_t sent;
    us_time_t arrived; /* first delivery; == sent unless timed and delivered */
    enum diagram_fate fate;
    char reason[16];  /* DG_LOST: the wire's reason ("loss", "queue", "down") */
    unsigned copies;  /* intact deliveries: 2 for a duplicated frame */
    unsigned damaged; /* deliveries of corrupted copies */
    bool dropped;     /* the wire reported a drop */
    bool retransmit;  /* covers sequence space this side sent before */
    bool show_win;    /* the label shows the window (SYN, change, zero) */
    uint8_t flags;
    uint32_t seq, ack; /* absolute */
    uint16_t win, urp;
    uint32_t len; /* payload bytes */
    uint8_t optlen;
    uint8_t opt[40]; /* TCP options as sent */
    uint64_t hash;   /* of the whole frame, to recognise corrupted copies */
    uint64_t order_sent, order_arrived;
};

struct diagram_state {
    us_time_t time;
    enum diagram_side side;
    enum us_tcp_state from, to;
    char cause[48];
    uint64_t order;
    bool listener; /* a listening socket's transition (no remote end) */
    /* Placement, by diagram_finish(). */
    long arrow;   /* the arrow it is written at, or -1: a row of its own */
    bool at_head; /* at that arrow's head (on arrival), else its tail */
};

enum diagram_row_kind { DG_ROW_ARROW, DG_ROW_STATE };

/* Rows, top to bottom: each arrow at its send time and each state that has
 * no arrow to sit on, in the order things happened. */
struct diagram_row {
    enum diagram_row_kind kind;
    size_t index; /* into arrows or states */
    us_time_t time;
};

struct diagram_endpoint {
    uint32_t addr; /* host order */
    uint16_t port;
    char name[DG_NAME_MAX]; /* "client", a stack's or a port's name, or "" */
    int wire_port;          /* the wire port it sends from, -1 if unknown */
    uint32_t base;          /* sequence number 0 for relative numbering (the ISN) */
};

struct diagram_opts {
    uint16_t port; /* draw the first connection using this TCP port; 0: the first */
};

struct diagram {
    struct diagram_opts opts;
    bool found; /* a TCP connection was seen */
    bool finished;
    bool timed;     /* wire events: flight times and fates are real */
    bool truncated; /* more arrows or states than the limits */
    struct diagram_endpoint side[2];
    struct diagram_arrow *arrows;
    size_t n_arrows, cap_arrows;
    struct diagram_state *states;
    size_t n_states, cap_states;
    struct diagram_row *rows;
    size_t n_rows;
    us_time_t t0;      /* the time of the first row: times print relative to it */
    unsigned decimals; /* 3 when every time is whole milliseconds, else 6 */

    /* Ingest state. */
    uint64_t order; /* events fed so far: their order */
    uint64_t last_id;
    bool first_was_syn; /* the connection's first segment was a SYN without ACK */
    bool ended;         /* a new SYN on the same ports started another connection */
    us_time_t end_time;
    uint64_t end_order;
    char port_name[DG_MAX_PORTS][DG_NAME_MAX];
    char stack_name[2][DG_NAME_MAX]; /* the stack that reported each side's states */
    bool syn_seen[2];
    uint32_t isn[2];
    struct diagram_pending *pending; /* states seen before the connection */
    size_t n_pending, pending_head;
};

struct diagram *diagram_new(const struct diagram_opts *opts);
void diagram_free(struct diagram *d);

/* ---- feeding it, in the order things happened ---- */

/* Wire port `port` belongs to the stack named `name`. */
void diagram_name_port(struct diagram *d, int port, const char *name);
/* A frame entered the wire at `port` (-1: a capture, no wire), or was
 * captured at time t. `id` must grow from call to call (0: the next number).
 * `caplen` bytes are available; lengths come from the headers. Frames that
 * are not TCP segments of the chosen connection are ignored. */
void diagram_add_frame(struct diagram *d, uint64_t id, us_time_t t, int port, const uint8_t *frame,
                       size_t caplen);
/* Frame `id` reached `port` at t, damaged when `corrupt`. */
void diagram_add_delivery(struct diagram *d, uint64_t id, us_time_t t, int port, bool corrupt);
/* Frame `id` was lost at t. */
void diagram_add_drop(struct diagram *d, uint64_t id, us_time_t t, const char *reason);
/* A TCP state transition of the stack named `stack`. */
void diagram_add_state(struct diagram *d, const char *stack, const struct us_state_event *ev);
/* True when the diagram holds frame `id` and `frame` is not what was sent. */
bool diagram_frame_differs(const struct diagram *d, uint64_t id, const uint8_t *frame, size_t len);

/* Relative numbers, retransmissions, state placement, rows. Returns 0, or
 * -ENOENT when no TCP connection was seen. Feeding stops here. */
int diagram_finish(struct diagram *d);

/* ---- reading it (after diagram_finish) ---- */

/* "SYN,ACK seq 0 ack 1 win 65160 <mss 1460>"; sequence numbers relative to
 * each side's ISN unless `abs`. Returns buf. */
char *diagram_label(const struct diagram *d, size_t arrow, bool abs, char *buf, size_t cap);
/* The segment in full, tcpdump style, absolute numbers, every option:
 * "frame 3: 10.0.0.1.40000 > 10.0.0.2.80: Flags [S.], seq ..., length 0". */
char *diagram_detail(const struct diagram *d, size_t arrow, char *buf, size_t cap);
/* What the arrow's line cannot show: "retransmission", "lost", "lost (queue)",
 * "corrupted", "duplicated", "fate unknown", joined by ", "; "" if nothing. */
char *diagram_note(const struct diagram *d, size_t arrow, char *buf, size_t cap);
/* Time t relative to the first row, in seconds, with the decimals every time
 * of this diagram needs (3 when all are whole milliseconds, else 6). */
char *diagram_time(const struct diagram *d, us_time_t t, char *buf, size_t cap);
/* "client 10.0.0.1:40000" style pieces for headers. */
char *diagram_endpoint_addr(const struct diagram *d, enum diagram_side s, char *buf, size_t cap);
/* True when some arrow took time to arrive (the two sides' clocks differ). */
bool diagram_has_flight(const struct diagram *d);

/* ---- loaders ---- */

/* Reads `pcap_path` and, unless NULL, the event log `events_path`.
 * Returns 0, or -1 with a one-line message in err (files unreadable, not
 * matching, malformed log; no TCP connection found). */
int diagram_load(struct diagram *d, const char *pcap_path, const char *events_path, char *err,
                 size_t errlen);

/* Live recording from a wire and its stacks, in memory. */
struct diagram_recorder;
struct diagram_recorder *diagram_recorder_new(struct us_wire *w, const struct diagram_opts *opts);
/* Observes the stack's state transitions; `port` is its wire port (names
 * the lifeline after the stack). 0 or a negative errno. */
int diagram_recorder_add_stack(struct diagram_recorder *r, struct us_stack *s, int port);
/* Stops observing (the wire and stacks must still exist), finishes the
 * diagram and returns it (the caller frees it with diagram_free), freeing the
 * recorder. Check ->found before drawing. NULL only on a NULL recorder. */
struct diagram *diagram_recorder_done(struct diagram_recorder *r);
/* Stops observing and frees, without a diagram. */
void diagram_recorder_free(struct diagram_recorder *r);

#endif
