/*
 * show.h: the stage's record as the terminal shows it: one row per frame on
 * the wire (tcpdump's line for it), per socket call and per change to the
 * world, in the order they happened, with each side's TCP state changes in
 * a column of its own beside the row that caused them or that they caused.
 */
#ifndef USTACK_TOOLS_SCENARIO_SHOW_H
#define USTACK_TOOLS_SCENARIO_SHOW_H

#include <stdio.h>

#include "scenario/stage.h"

enum {
    SHOW_COLOR = 0x1,    /* ANSI colours */
    SHOW_TCP_ONLY = 0x2, /* no rows for frames that are not TCP (ARP, ICMP) */
};

/* Writes the trace of everything recorded. */
void show_trace(const struct stage *sg, FILE *out, unsigned flags);
/* Colour on: stdout is a terminal and NO_COLOR is unset or empty. */
bool show_want_color(void);
/* Writes `text` wrapped at `width` columns, each line indented by `indent`. */
void show_wrap(FILE *out, const char *text, unsigned indent, unsigned width);
/* The same, with `label` in the indentation of the first line. */
void show_wrap_label(FILE *out, const char *label, const char *text, unsigned indent,
                     unsigned width);

#endif
