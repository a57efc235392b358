/*
 * book.h: the scenario book: textbook TCP situations, each played on a
 * stage (stage.h) under virtual time, drawn, and checked by its claims
 * (claim.h).
 *
 * A scenario is a small function that acts (act_*) and claims (claim_*),
 * plus a descriptor naming it. Scenarios live in book_*.c by theme; the
 * table in book.c lists them in the order the book tells them. To add one,
 * write its function and descriptor beside its kin and add a line to the
 * table: `ustack scenario`, `make test` and docs/scenarios.md pick it up.
 */
#ifndef USTACK_TOOLS_SCENARIO_BOOK_H
#define USTACK_TOOLS_SCENARIO_BOOK_H

#include <stdbool.h>
#include <stdio.h>

#include "scenario/claim.h"
#include "scenario/stage.h"

struct scenario {
    const char *name;  /* "handshake": what `ustack scenario run` takes */
    const char *title; /* "The three-way handshake" */
    const char *about; /* a few sentences for the trace's header and the book */
    void (*play)(struct stage *sg);
    void (*configure)(struct us_stack_config *cfg); /* settings; NULL: the defaults */
    uint16_t draw_port; /* the connection to draw: the first using this port; 0: the first */
    bool attacker;      /* a third stack on the wire */
    us_time_t delay;    /* one-way delay of the wire (0: none), so crossing segments show */
};

/* The book, in order. */
const struct scenario *const *book_scenarios(size_t *n);
/* NULL when there is no scenario of that name. */
const struct scenario *book_find(const char *name);

/* The usual start: the server listens on `port` (backlog 16), the client
 * connects (blocking), the server accepts. Fills the descriptors (-1 when
 * a step failed) and returns the listener's. */
int book_connect(struct stage *sg, uint16_t port, int *cfd, int *sfd);

/* ---- playing one (play.c) ---- */
struct play_opts {
    uint64_t seed;
    const char *pcap; /* the wire capture, or NULL */
    const char *svg;  /* the diagram as SVG, or NULL */
    bool ascii;       /* the diagram as text */
    bool quiet;       /* only the verdict line */
    bool color;
};
/* Plays `sc` and writes its report to `out`: what it shows, the trace, the
 * diagram and the claims. Returns 0 when every claim holds, 1 when one
 * fails, -1 (message in err) when the stage or a file could not be made. */
int scenario_play(const struct scenario *sc, const struct play_opts *o, FILE *out, char *err,
                  size_t errlen);
/* Writes the book as Markdown (docs/scenarios.md): each scenario played
 * with the default seed, its text, its diagram and its claims. Returns 0,
 * or 1 when a scenario's claim fails (named in err). */
int scenario_doc(FILE *out, char *err, size_t errlen);

/* The scenarios, by theme (book_*.c). */
extern const struct scenario sc_handshake, sc_byte_stream, sc_simultaneous_open, sc_refused,
    sc_connect_timeout;
extern const struct scenario sc_close_client_first, sc_close_server_first, sc_close_three,
    sc_close_simultaneous, sc_half_close, sc_time_wait_rebind, sc_time_wait_lost_ack;
extern const struct scenario sc_framing;
extern const struct scenario sc_loss_rto, sc_loss_fast, sc_sack_recovery, sc_tail_loss_probe,
    sc_reordering, sc_zero_window;
extern const struct scenario sc_keepalive, sc_cable_unplugged, sc_cable_reboot;
extern const struct scenario sc_syn_flood, sc_syn_flood_cookies, sc_backlog_full;

#endif
