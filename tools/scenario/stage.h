/*
 * stage.h: where a scenario (and the demo) plays.
 *
 * A stage is two or three stacks on the in-memory wire under virtual time --
 * the client (10.0.0.1), the server (10.0.0.2) and, when a scenario asks, an
 * attacker (10.0.0.3) -- and the record of everything that happens on it, in
 * the order it happened: every frame that enters the wire (parsed, with its
 * tcpdump line and, later, its fate), every TCP state change, and every
 * socket call the scenario makes with what it returned. From that one record
 * come the terminal trace (show.c), the claims (claim.c) and the summary of
 * the demo; beside it a diagram recorder draws the sequence diagram live and
 * the wire capture goes to a pcap file.
 *
 * Scenario code acts through act_*() (stage.c): each is one socket call or
 * one change to the world (the cable, a reboot, faults), logged so the trace
 * shows it where it happened. Blocking calls advance virtual time: the wire
 * is the driver of every stack on it (docs/DESIGN.md §9).
 */
#ifndef USTACK_TOOLS_SCENARIO_STAGE_H
#define USTACK_TOOLS_SCENARIO_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "diagram/model.h"
#include "ustack/socket.h"
#include "ustack/stack.h"
#include "ustack/trace.h"
#include "ustack/wire.h"

/* The actors, in wire-port order. */
enum actor { CLIENT = 0, SERVER = 1, ATTACKER = 2 };
#define STAGE_MAX_ACTORS 3

enum stage_event_kind {
    SEV_FRAME,  /* a frame entered the wire */
    SEV_STATE,  /* a TCP state change */
    SEV_CALL,   /* a socket call (or a change to the world) begins */
    SEV_RETURN, /* ... and returns */
    SEV_NOTE,   /* a change to the world: a cable, a reboot, faults */
};

enum frame_fate {
    FATE_IN_FLIGHT, /* not decided yet */
    FATE_DELIVERED,
    FATE_LOST,      /* `reason` says why: "loss", "down", "queue" */
    FATE_CORRUPTED, /* delivered damaged: the receiver's checksum drops it */
};

/* TCP flag bits as on the wire. */
enum { TF_FIN = 0x01, TF_SYN = 0x02, TF_RST = 0x04, TF_PSH = 0x08, TF_ACK = 0x10 };

struct stage_event {
    enum stage_event_kind kind;
    us_time_t time;
    int actor; /* the sender, the stack that changed state, the caller */

    /* SEV_FRAME */
    uint64_t frame_id;
    bool tcp;        /* an IPv4 TCP segment (else ARP, ICMP, ...) */
    bool retransmit; /* covers sequence space its sender sent before */
    uint8_t flags;
    uint32_t saddr, daddr;
    uint16_t sport, dport;
    uint32_t seq, ack; /* absolute */
    uint32_t len;      /* payload bytes */
    uint16_t win;      /* as on the wire (unscaled) */
    enum frame_fate fate;
    us_time_t arrived;                /* the first delivery, or US_TIME_NEVER */
    uint8_t copies[STAGE_MAX_ACTORS]; /* intact deliveries to each actor */
    bool duplicated;                  /* one actor received it twice */
    char reason[12];
    uint64_t hash; /* of the frame as sent, to recognise a corrupted copy */

    /* SEV_STATE */
    enum us_tcp_state from, to;
    uint16_t lport, rport;

    /* SEV_FRAME: the tcpdump line; SEV_STATE: the cause ("rcv SYN");
     * SEV_CALL: the call ("connect(3, 10.0.0.2:80)"); SEV_RETURN: the call
     * and its result ("connect(3, 10.0.0.2:80) = -1 ECONNREFUSED");
     * SEV_NOTE: a sentence. */
    char text[240];
};

struct stage_claim {
    bool ok;
    char what[200];   /* the claim, as the scenario states it */
    char detail[400]; /* when it fails: what really happened */
};

struct stage_opts {
    uint64_t seed;
    struct us_faults faults; /* on every port (the demo's fault options) */
    bool attacker;           /* a third stack on the wire */
    uint16_t draw_port;      /* the connection to draw: the first using this port; 0: the first */
    void (*configure)(struct us_stack_config *cfg); /* the scenario's settings, or NULL */
    const char *pcap_path;                          /* the wire capture, or NULL */
};

struct flow_mark; /* stage.c: the highest sequence number each flow sent */

struct stage {
    struct us_wire *w;
    struct us_stack *stack[STAGE_MAX_ACTORS];
    int port[STAGE_MAX_ACTORS];
    uint32_t addr[STAGE_MAX_ACTORS];
    unsigned n_actors;

    struct stage_event *ev; /* the record */
    size_t n_ev, cap_ev;
    size_t mark;   /* claims about segments and states look from here */
    bool overflow; /* the record stopped growing (out of memory) */

    struct stage_claim *claims;
    size_t n_claims, cap_claims;
    unsigned failed;

    struct diagram_recorder *rec;
    struct diagram *diagram; /* after stage_finish() */
    struct us_pcap *pcap;
    struct us_seqrel *rel;
    struct flow_mark *flows;
    size_t n_flows;
    uint16_t next_spoof_port;
    uint64_t seed;
    unsigned leaked; /* what us_stack_teardown() found, by stage_finish() */
    bool finished;

    int err; /* errno of the last act_*() call that failed, else 0 */
};

/* Builds the stage: the stacks, their addresses, the observers, the pcap.
 * Returns 0, or -1 with a one-line message in err. */
int stage_open(struct stage *sg, const struct stage_opts *o, char *err, size_t errlen);
/* Stops recording, finishes the diagram (sg->diagram; NULL if no TCP
 * connection was seen), closes the capture and tears the stacks down,
 * keeping in sg->leaked what they still held (0 unless something leaked).
 * The record and the claims stay readable. */
void stage_finish(struct stage *sg);
/* Frees everything (calls stage_finish() first if needed). */
void stage_close(struct stage *sg);

/* "client", "server", "attacker". */
const char *actor_name(int actor);

/* Claims about segments and states consider what happened from here on. */
void stage_mark(struct stage *sg);

/* Virtual time: since the stage opened (the wire starts at 0). */
us_time_t stage_now(const struct stage *sg);
/* Lets the world run for dt, or until nothing is left to happen. */
void act_run(struct stage *sg, us_time_t dt);
us_time_t act_run_idle(struct stage *sg);
/* Lets the frames still on the wire arrive (and whatever is due before),
 * so the record knows every frame's fate. */
void stage_settle(struct stage *sg);

/* ---- socket calls, each logged with its result; -1 with sg->err set on failure ---- */
int act_socket(struct stage *sg, int who, bool nonblock);
int act_bind(struct stage *sg, int who, int fd, uint16_t port);
/* socket(), SO_REUSEADDR when `reuse`, bind(port), listen(backlog): the fd. */
int act_listen(struct stage *sg, int who, uint16_t port, int backlog, bool reuse);
int act_listen_fd(struct stage *sg, int who, int fd, int backlog);
/* connect() to the server's `port` (blocking unless the socket is not). */
int act_connect(struct stage *sg, int who, int fd, int to, uint16_t port);
int act_accept(struct stage *sg, int who, int lfd);
ssize_t act_send(struct stage *sg, int who, int fd, const void *data, size_t len);
/* recv() of up to cap bytes; the bytes are NUL-terminated in buf (cap+1). */
ssize_t act_recv(struct stage *sg, int who, int fd, char *buf, size_t cap, int flags);
int act_shutdown(struct stage *sg, int who, int fd, int how);
int act_close(struct stage *sg, int who, int fd);
/* setsockopt() of an int option; `name` is its C name for the trace. */
int act_setsockopt(struct stage *sg, int who, int fd, int level, int opt, const char *name,
                   int value);
/* An ICMP echo to `to`, waiting up to 3 s for the reply: warms both ARP
 * caches before a scenario about TCP. 0, or -1 when no reply came. */
int act_ping(struct stage *sg, int who, int to);
/* getsockopt(TCP_INFO). */
int act_tcp_info(struct stage *sg, int who, int fd, struct us_tcp_info *info);

/* ---- changes to the world, logged as notes ---- */
/* A sentence for the trace ("the server does not read for a while"), shown
 * as `who`'s doing. */
void act_note(struct stage *sg, int who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Unplugs (or plugs back) `who`'s cable: every frame to or from it is lost. */
void act_cable(struct stage *sg, int who, bool down);
/* Faults on frames leaving `who` (NULL: none); `what` says it in a sentence. */
void act_faults(struct stage *sg, int who, const struct us_faults *f, const char *what);
/* The host reboots: every socket and connection of its stack is gone. */
void act_reboot(struct stage *sg, int who);
/* A SYN from `who`'s port, with a forged source address and port, to the
 * server's `port`: what a SYN flood is made of. */
void act_spoof_syn(struct stage *sg, int who, uint32_t src, uint16_t port);

/* ---- reading the record ---- */
/* "SYN", "SYN,ACK", "PSH,ACK", "RST,ACK" ... */
char *tcp_flags_name(uint8_t flags, char *buf, size_t cap);
/* Segments between `a` and `b` since the mark, one "client SYN,ACK" (plus
 * "(5)" for a payload and " lost" for a lost one) per segment, joined by
 * " | ". */
char *stage_segments(const struct stage *sg, char *buf, size_t cap);
/* `who`'s states since the mark, "CLOSED -> SYN-SENT -> ESTABLISHED", for
 * connections using `port` (0: all, listeners included). */
char *stage_states(const struct stage *sg, int who, uint16_t port, char *buf, size_t cap);
/* Counts events since the mark that match: frames from `who` (-1: anyone)
 * with all `flags` set (and payload when `data`). */
unsigned stage_count_segments(const struct stage *sg, int who, uint8_t flags, bool data);
/* The index of the n-th (from 0) segment since the mark sent by `who` with
 * all `flags`, or -1. */
long stage_find_segment(const struct stage *sg, int who, uint8_t flags, unsigned n);
/* When `who` entered `state` (the first time since the mark), or US_TIME_NEVER. */
us_time_t stage_state_time(const struct stage *sg, int who, enum us_tcp_state state);

/* "ECONNREFUSED"; "no error" for 0. */
const char *errno_name(int err);

/* A textual rendering of a byte string for the trace: "hello" or 1448 bytes. */
char *bytes_desc(const void *data, size_t len, char *buf, size_t cap);

#endif
