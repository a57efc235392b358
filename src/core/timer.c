/*
 * timer.c: the hierarchical timer wheel (see timer.h).
 *
 * Invariant: a timer at level L has the same bits above level L as the clock,
 * and a larger digit at level L. So when the clock advances, the timers that
 * must move down are exactly those in the slots the clock has entered: digits
 * (old, new] at each level, or the whole level when the clock left the block
 * of the level above.
 */
#include "core/timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void list_insert(struct us_timer **head, struct us_timer *t)
{
    t->next = *head;
    if (t->next) t->next->pprev = &t->next;
    *head = t;
    t->pprev = head;
}

static void list_unlink(struct us_timer *t)
{
    *t->pprev = t->next;
    if (t->next) t->next->pprev = t->pprev;
    t->next = NULL;
    t->pprev = NULL;
}

void timer_wheel_init(struct timer_wheel *w, us_time_t now, void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->now = now;
    w->ctx = ctx;
}

uint8_t timer_kind(struct timer_wheel *w, timer_fn fn)
{
    unsigned k = 0;
    while (k < w->n_fns && w->fns[k] != fn) k++;
    if (k == w->n_fns) {
        if (k == TW_KINDS) {
            fprintf(stderr, "ustack: more than %d timer callbacks\n", TW_KINDS);
            abort();
        }
        w->fns[w->n_fns++] = fn;
    }
    return (uint8_t)k;
}

void timer_init(struct us_timer *t, uint8_t kind)
{
    t->next = NULL;
    t->pprev = NULL;
    t->expires = 0;
    t->kind = kind;
    t->where = TW_IDLE;
}

/* Inserts into the due list keeping it sorted by expiry (stable: a timer goes
 * after others with the same expiry, so equal timers fire in arming order). */
static void due_insert(struct timer_wheel *w, struct us_timer *t)
{
    struct us_timer **pp = &w->due;
    while (*pp && (*pp)->expires <= t->expires) pp = &(*pp)->next;
    t->next = *pp;
    if (t->next) t->next->pprev = &t->next;
    *pp = t;
    t->pprev = pp;
    t->where = TW_DUE;
}

static void place(struct timer_wheel *w, struct us_timer *t)
{
    if (t->expires <= w->now) {
        due_insert(w, t);
        return;
    }
    uint64_t diff = t->expires ^ w->now;
    unsigned level = (unsigned)(63 - __builtin_clzll(diff)) / TW_BITS;
    if (level >= TW_LEVELS) {
        list_insert(&w->overflow, t);
        t->where = TW_OVERFLOW;
        return;
    }
    unsigned slot = (unsigned)(t->expires >> (level * TW_BITS)) & (TW_SLOTS - 1);
    list_insert(&w->slot[level][slot], t);
    w->pending[level] |= 1ull << slot;
    t->where = (uint16_t)(level * TW_SLOTS + slot);
}

static void unplace(struct timer_wheel *w, struct us_timer *t)
{
    uint16_t where = t->where;
    list_unlink(t);
    t->where = TW_IDLE;
    if (where < TW_LEVELS * TW_SLOTS) {
        unsigned level = where / TW_SLOTS, slot = where % TW_SLOTS;
        if (!w->slot[level][slot]) w->pending[level] &= ~(1ull << slot);
    }
}

void timer_set(struct timer_wheel *w, struct us_timer *t, us_time_t expires)
{
    if (timer_pending(t))
        unplace(w, t);
    else
        w->count++;
    t->expires = expires;
    place(w, t);
}

void timer_cancel(struct timer_wheel *w, struct us_timer *t)
{
    if (!timer_pending(t)) return;
    unplace(w, t);
    w->count--;
}

/* Slots (od, nd] at one level, as a bit mask. */
static uint64_t digits_between(unsigned od, unsigned nd)
{
    uint64_t upto_nd = nd == 63 ? ~0ull : (1ull << (nd + 1)) - 1;
    uint64_t upto_od = (1ull << (od + 1)) - 1;
    return upto_nd & ~upto_od;
}

static void advance(struct timer_wheel *w, us_time_t now)
{
    if (now <= w->now) return;
    us_time_t old = w->now;
    struct us_timer *todo = NULL;

    for (unsigned level = 0; level < TW_LEVELS; level++) {
        unsigned shift = level * TW_BITS;
        uint64_t mask;
        if ((now >> (shift + TW_BITS)) != (old >> (shift + TW_BITS))) {
            mask = ~0ull;
        } else {
            unsigned od = (unsigned)(old >> shift) & (TW_SLOTS - 1);
            unsigned nd = (unsigned)(now >> shift) & (TW_SLOTS - 1);
            if (od == nd) break; /* this level and all above are unchanged */
            mask = digits_between(od, nd);
        }
        uint64_t hit = mask & w->pending[level];
        while (hit) {
            unsigned slot = (unsigned)__builtin_ctzll(hit);
            hit &= hit - 1;
            struct us_timer *t;
            while ((t = w->slot[level][slot])) {
                list_unlink(t);
                list_insert(&todo, t);
            }
            w->pending[level] &= ~(1ull << slot);
        }
    }
    if ((now >> (TW_LEVELS * TW_BITS)) != (old >> (TW_LEVELS * TW_BITS))) {
        struct us_timer *t;
        while ((t = w->overflow)) {
            list_unlink(t);
            list_insert(&todo, t);
        }
    }
    w->now = now;
    struct us_timer *t;
    while ((t = todo)) {
        list_unlink(t);
        place(w, t);
    }
}

unsigned timer_wheel_run(struct timer_wheel *w, us_time_t now)
{
    advance(w, now);
    unsigned fired = 0;
    struct us_timer *t;
    /* A callback may arm or cancel any timer, this one included. */
    while ((t = w->due)) {
        unplace(w, t);
        w->count--;
        w->fns[t->kind](t, w->now, w->ctx);
        fired++;
    }
    return fired;
}

us_time_t timer_wheel_next(const struct timer_wheel *w)
{
    if (w->due) return w->now;
    /* Every timer at level L expires before any timer at a level above it, so
     * the lowest non-empty level holds the earliest; its first slot's start is
     * exact at level 0 and a lower bound above (the cascade then refines it). */
    for (unsigned level = 0; level < TW_LEVELS; level++) {
        if (!w->pending[level]) continue;
        unsigned shift = level * TW_BITS;
        unsigned cur = (unsigned)(w->now >> shift) & (TW_SLOTS - 1);
        /* Slots at this level all lie after the current digit. */
        uint64_t after = w->pending[level] & ~((cur == 63) ? ~0ull : ((1ull << (cur + 1)) - 1));
        unsigned slot = (unsigned)__builtin_ctzll(after ? after : w->pending[level]);
        us_time_t block = w->now & ~((1ull << (shift + TW_BITS)) - 1);
        us_time_t start = block | ((us_time_t)slot << shift);
        if (level == 0) {
            /* Exact. */
            return start;
        }
        /* Scan the slot for its earliest timer only when it is short. */
        us_time_t best = US_TIME_NEVER;
        unsigned n = 0;
        for (const struct us_timer *t = w->slot[level][slot]; t && n < 16; t = t->next, n++)
            if (t->expires < best) best = t->expires;
        if (n < 16) return best;
        return start;
    }
    if (w->overflow) {
        us_time_t best = US_TIME_NEVER;
        for (const struct us_timer *t = w->overflow; t; t = t->next)
            if (t->expires < best) best = t->expires;
        return best;
    }
    return US_TIME_NEVER;
}
