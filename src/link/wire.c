/*
 * wire.c: the in-memory wire (see ustack/wire.h).
 *
 * Each port is a link whose send() pushes the frame into the port's egress
 * shaper; us_wire_step() advances the virtual clock to the next event and
 * delivers every frame due, then runs every stack's timers. The wire is the
 * driver of the stacks attached to it, so their blocking socket calls advance
 * virtual time. Deliveries from a port without the corruption fault carry
 * US_LINK_F_CSUM_TRUSTED (see deliver()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rand.h"
#include "core/util.h"
#include "ustack/wire.h"

#define WIRE_MAX_PORTS 16
#define FRAME_MAX (65535 + 14)
#define WIRE_MAX_OBS 4

struct port {
    struct us_link link;
    struct us_wire *w;
    int idx;
    struct us_stack *stack;
    int iface;
    uint8_t mac[6];
    bool down;
    struct us_shaper *sh;
    char name[16];
};

struct us_wire {
    us_time_t now;
    uint64_t seed;
    struct port *ports[WIRE_MAX_PORTS];
    unsigned n;
    uint64_t frames;       /* frame ids, across ports */
    struct {
        void (*fn)(void *ctx, const struct us_wire_event *ev);
        void *ctx;
    } obs[WIRE_MAX_OBS];
    unsigned n_obs;
    uint8_t frame[FRAME_MAX];
};

static void notify(struct us_wire *w, const struct us_wire_event *ev)
{
    for (unsigned i = 0; i < w->n_obs; i++) w->obs[i].fn(w->obs[i].ctx, ev);
}

static int port_send(struct us_link *link, const uint8_t *frame, size_t len, us_time_t now)
{
    struct port *p = container_of(link, struct port, link);
    struct us_wire *w = p->w;
    if (len > FRAME_MAX) return -EMSGSIZE;
    /* Announce the frame before its fate: a drop decided inside the shaper
     * is then reported after the send that names it. */
    uint64_t id = ++w->frames;
    struct us_wire_event ev = {.kind = US_WIRE_SEND, .frame_id = id, .from = p->idx, .to = -1,
                               .time = w->now, .frame = frame, .len = len};
    notify(w, &ev);
    us_shaper_push(p->sh, frame, len, w->now, id);
    return 0;
}

static const struct us_link_ops port_ops = {.send = port_send};

static void shaper_drop(void *ctx, const struct us_wire_event *ev)
{
    struct port *p = ctx;
    struct us_wire_event e = *ev;
    e.from = p->idx;
    notify(p->w, &e);
}

struct us_wire *us_wire_new(uint64_t seed)
{
    struct us_wire *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->seed = seed;
    return w;
}

void us_wire_free(struct us_wire *w)
{
    if (!w) return;
    for (unsigned i = 0; i < w->n; i++) {
        /* The stacks may already be gone: the wire does not touch them. */
        struct port *p = w->ports[i];
        us_shaper_free(p->sh);
        free(p);
    }
    free(w);
}

static us_time_t drv_now(void *ctx) { return ((struct us_wire *)ctx)->now; }
static int drv_wait(void *ctx, us_time_t until) { return us_wire_step(ctx, until) ? 0 : -1; }

int us_wire_attach(struct us_wire *w, struct us_stack *s, const struct us_iface_config *cfg)
{
    if (w->n >= WIRE_MAX_PORTS) return -ENOSPC;
    struct port *p = calloc(1, sizeof(*p));
    if (!p) return -ENOMEM;
    /* Each port draws its faults from its own stream of the wire's seed. */
    uint64_t sm = w->seed ^ (0x5851f42d4c957f2dull * (w->n + 1));
    p->sh = us_shaper_new(splitmix64(&sm));
    if (!p->sh) {
        free(p);
        return -ENOMEM;
    }
    p->w = w;
    p->idx = (int)w->n;
    p->stack = s;
    memcpy(p->mac, cfg->mac, 6);
    snprintf(p->name, sizeof(p->name), "wire%d", p->idx);
    p->link.ops = &port_ops;
    p->link.mtu = cfg->mtu ? cfg->mtu : 1500;
    p->link.name = p->name;
    us_shaper_observe(p->sh, shaper_drop, p);
    int iface = us_stack_add_iface(s, &p->link, cfg);
    if (iface < 0) {
        us_shaper_free(p->sh);
        free(p);
        return iface;
    }
    p->iface = iface;
    struct us_driver drv = {.now = drv_now, .wait = drv_wait, .ctx = w};
    us_stack_set_driver(s, &drv);
    w->ports[w->n++] = p;
    return p->idx;
}

void us_wire_set_faults(struct us_wire *w, int port, const struct us_faults *f)
{
    if (port < 0 || (unsigned)port >= w->n) return;
    struct us_faults copy = *f;
    copy.down = w->ports[port]->down;
    us_shaper_set_faults(w->ports[port]->sh, &copy);
}

struct us_faults *us_wire_faults(struct us_wire *w, int port)
{
    if (port < 0 || (unsigned)port >= w->n) return NULL;
    return us_shaper_faults(w->ports[port]->sh);
}

int us_wire_inject(struct us_wire *w, int port, const uint8_t *frame, size_t len)
{
    if (port < 0 || (unsigned)port >= w->n) return -EINVAL;
    return port_send(&w->ports[port]->link, frame, len, w->now);
}

void us_wire_set_down(struct us_wire *w, int port, bool down)
{
    if (port < 0 || (unsigned)port >= w->n) return;
    w->ports[port]->down = down;
    us_shaper_faults(w->ports[port]->sh)->down = down;
}

const struct us_wire_stats *us_wire_stats(const struct us_wire *w, int port)
{
    if (port < 0 || (unsigned)port >= w->n) return NULL;
    return us_shaper_stats(w->ports[port]->sh);
}

int us_wire_observe(struct us_wire *w, void (*fn)(void *ctx, const struct us_wire_event *ev),
                    void *ctx)
{
    if (w->n_obs >= WIRE_MAX_OBS) return -ENOSPC;
    w->obs[w->n_obs].fn = fn;
    w->obs[w->n_obs].ctx = ctx;
    w->n_obs++;
    return 0;
}

void us_wire_unobserve(struct us_wire *w, void *ctx)
{
    for (unsigned i = 0; i < w->n_obs;) {
        if (w->obs[i].ctx == ctx) {
            w->obs[i] = w->obs[--w->n_obs];
        } else {
            i++;
        }
    }
}

us_time_t us_wire_now(const struct us_wire *w) { return w->now; }
void us_wire_set_now(struct us_wire *w, us_time_t now) { w->now = now; }

unsigned us_wire_in_flight(const struct us_wire *w)
{
    unsigned n = 0;
    for (unsigned i = 0; i < w->n; i++) n += us_shaper_in_flight(w->ports[i]->sh);
    return n;
}

us_time_t us_wire_next_event(struct us_wire *w)
{
    us_time_t next = US_TIME_NEVER;
    for (unsigned i = 0; i < w->n; i++) {
        next = min_u64(next, us_shaper_next(w->ports[i]->sh));
        next = min_u64(next, us_stack_next_timer(w->ports[i]->stack));
    }
    return next;
}

static void deliver(struct us_wire *w, struct port *to, struct port *from, uint64_t id,
                    size_t len)
{
    if (to->down) {
        ((struct us_wire_stats *)us_shaper_stats(from->sh))->down_drops++;
        struct us_wire_event ev = {.kind = US_WIRE_DROP, .frame_id = id, .from = from->idx,
                                   .to = to->idx, .time = w->now, .reason = "down",
                                   .frame = w->frame, .len = len};
        notify(w, &ev);
        return;
    }
    struct us_wire_event ev = {.kind = US_WIRE_DELIVER, .frame_id = id, .from = from->idx,
                               .to = to->idx, .time = w->now, .frame = w->frame, .len = len};
    notify(w, &ev);
    /* Frames cross memory only; the one thing that can damage them is the
     * corruption fault of the port they left from. Without it the wire
     * vouches for their checksums, so the receiver skips verifying them
     * (the way a NIC's checksum offload does). The flag is decided per
     * frame and held only during this delivery: a frame a test hands to
     * the stack directly is still verified. */
    bool trusted = us_shaper_faults(from->sh)->corrupt <= 0;
    if (trusted) to->link.flags |= US_LINK_F_CSUM_TRUSTED;
    us_stack_input(to->stack, to->iface, w->frame, len, w->now);
    to->link.flags &= ~US_LINK_F_CSUM_TRUSTED;
}

/* Delivers the earliest due frame, if any; false when none is due. */
static bool deliver_one(struct us_wire *w)
{
    struct port *from = NULL;
    us_time_t best = US_TIME_NEVER;
    for (unsigned i = 0; i < w->n; i++) {
        us_time_t t = us_shaper_next(w->ports[i]->sh);
        if (t <= w->now && t < best) {
            best = t;
            from = w->ports[i];
        }
    }
    if (!from) return false;
    uint64_t id;
    size_t len = us_shaper_pop(from->sh, w->now, w->frame, sizeof(w->frame), &id);
    if (len < 14) return true;
    const uint8_t *dst = w->frame;
    bool group = dst[0] & 1; /* broadcast or multicast */
    bool found = false;
    for (unsigned i = 0; i < w->n; i++) {
        struct port *to = w->ports[i];
        if (to == from) continue;
        if (group || memcmp(to->mac, dst, 6) == 0) {
            found = true;
            /* Delivery may send frames that overwrite w->frame, so a group
             * frame is re-read from a copy for each port. */
            if (group) {
                uint8_t copy[FRAME_MAX];
                memcpy(copy, w->frame, len);
                deliver(w, to, from, id, len);
                memcpy(w->frame, copy, len);
            } else {
                deliver(w, to, from, id, len);
                break;
            }
        }
    }
    if (!found) ((struct us_wire_stats *)us_shaper_stats(from->sh))->no_dest++;
    return true;
}

bool us_wire_step(struct us_wire *w, us_time_t until)
{
    us_time_t next = us_wire_next_event(w);
    if (next == US_TIME_NEVER && until == US_TIME_NEVER) return false;
    if (next > until) {
        if (until > w->now) w->now = until;
        return true;
    }
    if (next > w->now) w->now = next;
    /* Zero-delay replies become due at the same instant and are delivered in
     * the same step, as on a real wire with no propagation delay. */
    while (deliver_one(w)) {
    }
    for (unsigned i = 0; i < w->n; i++) us_stack_poll(w->ports[i]->stack, w->now);
    /* Timers may have sent frames due now. */
    while (deliver_one(w)) {
    }
    return true;
}

void us_wire_run_until(struct us_wire *w, us_time_t until)
{
    while (w->now < until) us_wire_step(w, until);
    /* Events due exactly at `until`. */
    while (us_wire_next_event(w) <= w->now) us_wire_step(w, w->now);
}

void us_wire_run_for(struct us_wire *w, us_time_t dt) { us_wire_run_until(w, w->now + dt); }

us_time_t us_wire_run_idle(struct us_wire *w, us_time_t limit)
{
    while (us_wire_next_event(w) <= limit) us_wire_step(w, limit);
    return w->now;
}
