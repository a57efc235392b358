/*
 * timer.h: one hierarchical timer wheel per stack (Varghese & Lauck, scheme 7).
 *
 * Eight levels of 64 slots cover 2^48 microseconds (~8.9 years) at
 * microsecond resolution; a timer sits at the level of the highest bit in
 * which its expiry differs from the wheel's clock and drops a level each time
 * the clock enters its slot. Adding, cancelling and firing are O(1); the
 * clock can jump by hours (virtual time) at the cost of one cascade per level.
 * Timers fire exactly at their expiry: timer_wheel_next() never returns a
 * time later than the earliest timer.
 */
#ifndef USTACK_CORE_TIMER_H
#define USTACK_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/stack.h"

#define TW_BITS 6
#define TW_SLOTS (1u << TW_BITS)
#define TW_LEVELS 8

struct us_timer;
/* `ctx` is the wheel's context (the stack), so timers need no back-pointer. */
typedef void (*timer_fn)(struct us_timer *t, us_time_t now, void *ctx);

/* 32 bytes: one sits in every control block, so the callback is a kind
 * (an index into the wheel's table) rather than an 8-byte pointer. */
struct us_timer {
    struct us_timer *next;
    struct us_timer **pprev;
    us_time_t expires;
    uint16_t where; /* TW_IDLE, TW_DUE, TW_OVERFLOW, or level*64+slot */
    uint8_t kind;   /* index into timer_wheel.fns */
};

#define TW_KINDS 16

#define TW_IDLE 0xffffu
#define TW_DUE 0xfffeu
#define TW_OVERFLOW 0xfffdu

struct timer_wheel {
    us_time_t now;
    uint64_t pending[TW_LEVELS];              /* bit per non-empty slot */
    struct us_timer *slot[TW_LEVELS][TW_SLOTS];
    struct us_timer *due;                     /* expired, sorted by expiry */
    struct us_timer *overflow;                /* beyond 2^48 us ahead */
    unsigned count;                           /* timers armed */
    void *ctx;                                /* passed to every callback */
    timer_fn fns[TW_KINDS];                   /* callbacks, by timer kind */
    unsigned n_fns;
};

void timer_wheel_init(struct timer_wheel *w, us_time_t now, void *ctx);
/* The kind of timer that calls fn when it fires, registered once (at
 * init) and given to timer_init(). At most TW_KINDS callbacks per wheel (a
 * programming error beyond: abort). */
uint8_t timer_kind(struct timer_wheel *w, timer_fn fn);
/* An idle timer of that kind. */
void timer_init(struct us_timer *t, uint8_t kind);
/* Arms (or re-arms) t to fire at `expires` (absolute). */
void timer_set(struct timer_wheel *w, struct us_timer *t, us_time_t expires);
void timer_cancel(struct timer_wheel *w, struct us_timer *t);
static inline bool timer_pending(const struct us_timer *t) { return t->where != TW_IDLE; }
/* Moves the clock to `now` and fires every timer due, earliest first.
 * Returns how many fired. */
unsigned timer_wheel_run(struct timer_wheel *w, us_time_t now);
/* No later than the earliest armed timer's expiry; US_TIME_NEVER if none. */
us_time_t timer_wheel_next(const struct timer_wheel *w);

#endif
