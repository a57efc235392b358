/*
 * render.h: drawing a finished diagram (model.h): plain text for terminals
 * and docs (ascii.c), SVG for browsers (svg.c).
 */
#ifndef USTACK_TOOLS_DIAGRAM_RENDER_H
#define USTACK_TOOLS_DIAGRAM_RENDER_H

#include <stdio.h>

#include "diagram/model.h"

enum {
    DIAGRAM_ABS_SEQ = 0x1, /* absolute sequence numbers (default: relative to each ISN) */
    DIAGRAM_COLOR = 0x2,   /* ANSI colours (text only; callers enable it for terminals) */
};

/* Writes the diagram as text: one row per segment or state, time going
 * down, the two lifelines as columns. Lines are at most about 100 columns
 * (labels too long for that are cut) and carry no trailing spaces. Returns 0,
 * -EINVAL for an unfinished or empty diagram, or -EIO on a write error. */
int diagram_render_ascii(const struct diagram *d, FILE *out, unsigned flags);

/* Writes the diagram as a standalone SVG document (no external resources,
 * text as <text>, each arrow's full segment in a <title> tooltip). Returns 0,
 * -EINVAL or -EIO as above. */
int diagram_render_svg(const struct diagram *d, FILE *out, unsigned flags);

#endif
