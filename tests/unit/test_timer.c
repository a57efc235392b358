/* The timer wheel: exact expiry at every level, big jumps, cancel and
 * re-arm from callbacks, and a randomized comparison with a sorted list. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "core/rand.h"
#include "core/timer.h"
#include "core/util.h"

struct probe {
    struct us_timer t;
    us_time_t fired_at;
    int fired;
};

static void on_fire(struct us_timer *t, us_time_t now, void *ctx)
{
    struct probe *p = container_of(t, struct probe, t);
    p->fired++;
    p->fired_at = now;
}

/* Advances the wheel the way a driver does: to each next() until `until`. */
static void drive(struct timer_wheel *w, us_time_t until)
{
    for (;;) {
        us_time_t next = timer_wheel_next(w);
        if (next > until) break;
        timer_wheel_run(w, next);
    }
    timer_wheel_run(w, until);
}

Test(timer, fires_exactly_at_every_scale)
{
    static const us_time_t delays[] = {1, 63, 64, 65, 4095, 4096, 200000, 1000000, 60000000,
                                       7200000000ull, 86400000000ull * 30};
    for (size_t i = 0; i < ARRAY_LEN(delays); i++) {
        struct timer_wheel w;
        timer_wheel_init(&w, 12345, NULL);
        struct probe p = {0};
        timer_init(&p.t, timer_kind(&w, on_fire));
        timer_set(&w, &p.t, 12345 + delays[i]);
        drive(&w, 12345 + delays[i] - 1);
        cr_assert_eq(p.fired, 0, "delay %llu fired early", (unsigned long long)delays[i]);
        drive(&w, 12345 + delays[i] + 1000);
        cr_assert_eq(p.fired, 1);
        cr_assert_eq(p.fired_at, 12345 + delays[i], "delay %llu fired at %llu",
                     (unsigned long long)delays[i], (unsigned long long)p.fired_at);
    }
}

Test(timer, one_big_jump_fires_everything_due)
{
    struct timer_wheel w;
    timer_wheel_init(&w, 0, NULL);
    struct probe p[50];
    for (int i = 0; i < 50; i++) {
        timer_init(&p[i].t, timer_kind(&w, on_fire));
        p[i].fired = 0;
        timer_set(&w, &p[i].t, (us_time_t)(i + 1) * 997 * 1013);
    }
    cr_assert_eq(timer_wheel_run(&w, US_SEC(3600)), 50);
    for (int i = 0; i < 50; i++) cr_assert_eq(p[i].fired, 1);
    cr_assert_eq(timer_wheel_next(&w), US_TIME_NEVER);
    cr_assert_eq(w.count, 0);
}

Test(timer, cancel_and_rearm)
{
    struct timer_wheel w;
    timer_wheel_init(&w, 0, NULL);
    struct probe a = {0}, b = {0};
    timer_init(&a.t, timer_kind(&w, on_fire));
    timer_init(&b.t, timer_kind(&w, on_fire));
    timer_set(&w, &a.t, 1000);
    timer_set(&w, &b.t, 2000);
    timer_cancel(&w, &a.t);
    cr_assert(!timer_pending(&a.t));
    timer_set(&w, &b.t, 500); /* re-arm earlier */
    drive(&w, 10000);
    cr_assert_eq(a.fired, 0);
    cr_assert_eq(b.fired, 1);
    cr_assert_eq(b.fired_at, 500);
}

static int other_fired;
static void on_other(struct us_timer *t, us_time_t now, void *ctx) { other_fired++; }

/* The callback is a kind in the wheel's table: two callbacks, each timer
 * calls its own, and a callback registered twice takes one slot. */
Test(timer, each_timer_calls_its_own_callback)
{
    struct timer_wheel w;
    timer_wheel_init(&w, 0, NULL);
    struct probe a = {0}, b = {0};
    struct probe o;
    timer_init(&a.t, timer_kind(&w, on_fire));
    timer_init(&o.t, timer_kind(&w, on_other));
    timer_init(&b.t, timer_kind(&w, on_fire));
    cr_assert_eq(w.n_fns, 2);
    other_fired = 0;
    timer_set(&w, &a.t, 100);
    timer_set(&w, &o.t, 200);
    timer_set(&w, &b.t, 300);
    drive(&w, 1000);
    cr_assert_eq(a.fired, 1);
    cr_assert_eq(b.fired, 1);
    cr_assert_eq(other_fired, 1);
    cr_assert_eq(sizeof(struct us_timer), 32, "a timer in every control block stays small");
}

struct chain {
    struct us_timer t;
    struct timer_wheel *w;
    int left;
    us_time_t last;
};

static void on_chain(struct us_timer *t, us_time_t now, void *ctx)
{
    struct chain *c = container_of(t, struct chain, t);
    c->last = now;
    if (--c->left > 0) timer_set(c->w, t, now + 75000000); /* keepalive-like */
}

Test(timer, rearm_from_callback)
{
    struct timer_wheel w;
    timer_wheel_init(&w, 0, NULL);
    struct chain c = {.w = &w, .left = 9};
    timer_init(&c.t, timer_kind(&w, on_chain));
    timer_set(&w, &c.t, US_SEC(7200));
    drive(&w, US_SEC(100000));
    cr_assert_eq(c.left, 0);
    cr_assert_eq(c.last, US_SEC(7200) + 8 * US_SEC(75));
}

/* Random operations against a brute-force model. */
Test(timer, random_against_model)
{
    enum { N = 300 };
    struct rng r;
    rng_seed(&r, 2024);
    struct timer_wheel w;
    timer_wheel_init(&w, 5, NULL);
    static struct probe p[N];
    us_time_t model[N]; /* expiry, or 0 when idle */
    for (int i = 0; i < N; i++) {
        timer_init(&p[i].t, timer_kind(&w, on_fire));
        p[i].fired = 0;
        model[i] = 0;
    }
    us_time_t now = 5;
    for (int step = 0; step < 20000; step++) {
        int i = (int)rng_below(&r, N);
        switch (rng_below(&r, 4)) {
        case 0:
        case 1: {
            us_time_t d = rng_below(&r, 4) == 0 ? rng_below(&r, 100) : rng_below(&r, 50000000);
            timer_set(&w, &p[i].t, now + d);
            model[i] = now + d;
            break;
        }
        case 2:
            timer_cancel(&w, &p[i].t);
            model[i] = 0;
            break;
        case 3: {
            /* Check next() against the model, then advance to it. */
            us_time_t earliest = US_TIME_NEVER;
            for (int k = 0; k < N; k++)
                if (model[k] && model[k] < earliest) earliest = model[k];
            us_time_t next = timer_wheel_next(&w);
            cr_assert(next <= earliest, "next %llu later than earliest %llu",
                      (unsigned long long)next, (unsigned long long)earliest);
            us_time_t to = next == US_TIME_NEVER ? now + 1000 : next;
            for (int k = 0; k < N; k++) p[k].fired = 0;
            timer_wheel_run(&w, to);
            now = to;
            for (int k = 0; k < N; k++) {
                bool due = model[k] && model[k] <= now;
                cr_assert_eq(p[k].fired, due ? 1 : 0, "timer %d expiry %llu now %llu", k,
                             (unsigned long long)model[k], (unsigned long long)now);
                if (due) {
                    cr_assert_eq(p[k].fired_at, now);
                    cr_assert_eq(model[k], now, "fired late");
                    model[k] = 0;
                }
            }
            break;
        }
        }
    }
}
