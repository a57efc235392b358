/*
 * record.c: feeds a diagram live from a wire and its stacks, in memory, so
 * scenario code can draw a connection without writing files.
 *
 * It sees exactly what the event log sees (the wire's events, the stacks'
 * state transitions) and feeds the model the same calls load.c makes from
 * the log, so a live diagram and one drawn later from demo.pcap plus its
 * event log are the same diagram. Corrupted deliveries are recognised by
 * comparing the delivered bytes with the frame the model kept a hash of.
 */
#include <errno.h>
#include <stdlib.h>

#include "diagram/model.h"

#define RECORDER_MAX_STACKS 8

struct diagram_recorder {
    struct diagram *d;
    struct us_wire *w;
    struct us_stack *stacks[RECORDER_MAX_STACKS];
    unsigned n_stacks;
};

static void on_wire(void *ctx, const struct us_wire_event *ev)
{
    struct diagram *d = ((struct diagram_recorder *)ctx)->d;
    switch (ev->kind) {
    case US_WIRE_SEND:
        diagram_add_frame(d, ev->frame_id, ev->time, ev->from, ev->frame, ev->len);
        break;
    case US_WIRE_DELIVER:
        diagram_add_delivery(d, ev->frame_id, ev->time, ev->to,
                             diagram_frame_differs(d, ev->frame_id, ev->frame, ev->len));
        break;
    case US_WIRE_DROP:
        diagram_add_drop(d, ev->frame_id, ev->time, ev->reason ? ev->reason : "unknown");
        break;
    }
}

static void on_state(void *ctx, struct us_stack *s, const struct us_state_event *ev)
{
    diagram_add_state(((struct diagram_recorder *)ctx)->d, us_stack_name(s), ev);
}

struct diagram_recorder *diagram_recorder_new(struct us_wire *w, const struct diagram_opts *opts)
{
    struct diagram_recorder *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->d = diagram_new(opts);
    if (!r->d || us_wire_observe(w, on_wire, r) < 0) {
        diagram_free(r->d);
        free(r);
        return NULL;
    }
    r->w = w;
    return r;
}

int diagram_recorder_add_stack(struct diagram_recorder *r, struct us_stack *s, int port)
{
    if (r->n_stacks >= RECORDER_MAX_STACKS) return -ENOSPC;
    struct us_observer ob = {.state = on_state, .ctx = r};
    int rc = us_stack_observe(s, &ob);
    if (rc < 0) return rc;
    r->stacks[r->n_stacks++] = s;
    diagram_name_port(r->d, port, us_stack_name(s));
    return 0;
}

static void detach(struct diagram_recorder *r)
{
    us_wire_unobserve(r->w, r);
    for (unsigned i = 0; i < r->n_stacks; i++) us_stack_unobserve(r->stacks[i], r);
}

struct diagram *diagram_recorder_done(struct diagram_recorder *r)
{
    if (!r) return NULL;
    detach(r);
    struct diagram *d = r->d;
    free(r);
    diagram_finish(d);
    return d;
}

void diagram_recorder_free(struct diagram_recorder *r)
{
    if (!r) return;
    detach(r);
    diagram_free(r->d);
    free(r);
}
