/* us_stack_teardown() reports the connections it drops at the current time:
 * it is an API call like the socket calls, so it first brings the stack's
 * clock up to its driver's (found by the scenario book's cable-reboot
 * scenario, where a reboot 0.4 s after the last frame was stamped in
 * the past). */
#include <criterion/criterion.h>

#include "testlib.h"

static us_time_t last_state_time;
static unsigned n_states;

static void on_state(void *ctx, struct us_stack *s, const struct us_state_event *ev)
{
    (void)ctx;
    (void)s;
    last_state_time = ev->time;
    n_states++;
}

Test(stack_teardown, reports_dropped_connections_at_the_drivers_time)
{
    struct pair *p = pair_new(1, NULL, NULL);
    int c, s;
    tcp_connect_pair(p, 80, &c, &s, NULL);
    us_wire_run_for(p->w, US_MSEC(1500));
    us_time_t now = us_wire_now(p->w);
    struct us_observer o = {.state = on_state, .ctx = &n_states};
    cr_assert_eq(us_stack_observe(p->b, &o), 0);
    cr_assert_eq(us_stack_teardown(p->b), 0);
    cr_assert_eq(n_states, 1, "the server's connection is dropped");
    cr_assert_eq(last_state_time, now, "reported at %llu us, the wire is at %llu us",
                 (unsigned long long)last_state_time, (unsigned long long)now);
    us_stack_unobserve(p->b, &n_states);
    us_close(p->a, c);
    pair_free(p);
}
