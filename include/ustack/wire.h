/*
 * wire.h: the in-memory wire, and the faults it (and the TAP path) can inject.
 *
 * A wire connects two or more stacks in one process under virtual time. It
 * owns the clock: us_wire_run*() advance it from event to event (a frame
 * arriving, a stack's timer), so a 2MSL wait takes no real time. Each port has
 * its own egress faults drawn from the wire's seed; the same seed and inputs
 * give byte-identical output. Frames go to the port owning the destination MAC
 * (learned from traffic) or to every other port for broadcast.
 */
#ifndef USTACK_WIRE_H
#define USTACK_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/link.h"
#include "ustack/stack.h"

/* Faults for one direction. Percentages are 0..100. */
struct us_faults {
    double loss;             /* % of frames dropped */
    double dup;              /* % of frames delivered twice */
    double reorder;          /* % of frames given an extra random delay */
    us_time_t reorder_delay; /* the extra delay is uniform in [0, this]; 0: max(1 ms, 2*delay) */
    double corrupt;          /* % of IPv4 frames with one bit flipped past the Ethernet header */
    us_time_t delay;         /* fixed one-way delay */
    uint64_t rate_bps;       /* bandwidth limit in bit/s; 0 = unlimited */
    unsigned queue_frames;   /* frames the bandwidth queue holds; 0 = 1000 */
    bool down;               /* the unplugged cable: every frame is lost */
};

/* What happened to frames leaving one port. */
struct us_wire_stats {
    uint64_t sent;           /* frames offered to the wire by this port */
    uint64_t delivered;      /* frame deliveries (duplicates count twice) */
    uint64_t lost;           /* dropped by the loss fault */
    uint64_t duplicated;
    uint64_t reordered;
    uint64_t corrupted;
    uint64_t queue_drops;    /* tail drops at the bandwidth queue */
    uint64_t down_drops;     /* dropped while the port was down (partition) */
    uint64_t no_dest;        /* no port owns the destination MAC */
};

/* Events on the wire, for diagrams and tests. A frame has one id from the
 * moment it enters the wire (1, 2, 3... across all ports, so the n-th frame
 * sent is id n); its fate is reported when it is decided. */
enum us_wire_event_kind {
    US_WIRE_SEND,      /* entered the wire at port `from` */
    US_WIRE_DELIVER,   /* reached port `to` */
    US_WIRE_DROP,      /* lost; `reason` says why */
};
struct us_wire_event {
    enum us_wire_event_kind kind;
    uint64_t frame_id;
    int from, to;
    us_time_t time;
    const char *reason;      /* "loss", "queue", "down", "corrupt"(delivered corrupted), ... */
    const uint8_t *frame;
    size_t len;
};

struct us_wire;

struct us_wire *us_wire_new(uint64_t seed);
/* Frees the wire (not the stacks attached to it). */
void us_wire_free(struct us_wire *w);

/* Attaches a stack: adds an interface to it whose link is a new port of this
 * wire, and makes the wire the stack's driver. Returns the port (>= 0) or a
 * negative errno. `mtu` 0 means 1500. */
int us_wire_attach(struct us_wire *w, struct us_stack *s, const struct us_iface_config *cfg);

/* Faults on frames leaving `port` (to every destination). */
void us_wire_set_faults(struct us_wire *w, int port, const struct us_faults *f);
struct us_faults *us_wire_faults(struct us_wire *w, int port);
/* Puts a frame on the wire at `port` as if that port's stack had sent it:
 * traffic no stack would send (a SYN flood from spoofed addresses, in the
 * scenario book). It gets an id, is observed and meets the port's faults like
 * any other frame. Returns 0, -EINVAL for a bad port or -EMSGSIZE. */
int us_wire_inject(struct us_wire *w, int port, const uint8_t *frame, size_t len);
/* The unplugged cable: while down, frames to and from the port are lost. */
void us_wire_set_down(struct us_wire *w, int port, bool down);
const struct us_wire_stats *us_wire_stats(const struct us_wire *w, int port);

/* Observers of wire events (up to 4). Returns 0 or -ENOSPC. */
int us_wire_observe(struct us_wire *w, void (*fn)(void *ctx, const struct us_wire_event *ev),
                    void *ctx);
void us_wire_unobserve(struct us_wire *w, void *ctx);

/* The virtual clock. Starts at 0 unless set before anything is attached. */
us_time_t us_wire_now(const struct us_wire *w);
void us_wire_set_now(struct us_wire *w, us_time_t now);
/* The next time anything happens (frame due or a stack's timer). */
us_time_t us_wire_next_event(struct us_wire *w);
/* Processes everything due at the next event time if it is <= until (frames
 * arriving, stacks' timers); otherwise moves the clock to `until` (if finite).
 * Returns false when nothing is scheduled and `until` is US_TIME_NEVER. */
bool us_wire_step(struct us_wire *w, us_time_t until);
/* Runs events until the clock reaches `until`. */
void us_wire_run_until(struct us_wire *w, us_time_t until);
/* Runs for `dt` of virtual time. */
void us_wire_run_for(struct us_wire *w, us_time_t dt);
/* Runs until no frame is in flight and no timer is due before `limit`
 * (absolute); returns the clock. Useful to let a connection settle. */
us_time_t us_wire_run_idle(struct us_wire *w, us_time_t limit);
/* Frames currently in flight. */
unsigned us_wire_in_flight(const struct us_wire *w);

/* --- The fault shaper on its own, used by the wire and by the TAP path. --- */
struct us_shaper;
struct us_shaper *us_shaper_new(uint64_t seed);
void us_shaper_free(struct us_shaper *sh);
void us_shaper_set_faults(struct us_shaper *sh, const struct us_faults *f);
struct us_faults *us_shaper_faults(struct us_shaper *sh);
const struct us_wire_stats *us_shaper_stats(const struct us_shaper *sh);
/* Takes one frame at `now`; it leaves (zero, one or two copies, possibly
 * corrupted) through us_shaper_pop(). `id` names the frame in events (the
 * wire numbers frames across all its ports); 0 lets the shaper number it.
 * Returns the id used. */
uint64_t us_shaper_push(struct us_shaper *sh, const uint8_t *frame, size_t len, us_time_t now,
                        uint64_t id);
/* The time the next frame is due, or US_TIME_NEVER. */
us_time_t us_shaper_next(const struct us_shaper *sh);
/* Pops one frame due at `now` into buf (cap bytes); returns its length, 0 when
 * none is due. `id` receives the frame's id. */
size_t us_shaper_pop(struct us_shaper *sh, us_time_t now, uint8_t *buf, size_t cap, uint64_t *id);
unsigned us_shaper_in_flight(const struct us_shaper *sh);
/* Reports drops (US_WIRE_DROP with from=-1) to fn. */
void us_shaper_observe(struct us_shaper *sh, void (*fn)(void *ctx, const struct us_wire_event *ev),
                       void *ctx);

#endif
