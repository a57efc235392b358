/*
 * trace.h: observers that show what the stack does.
 *
 * - a pcap writer (libpcap's dump API) that tcpdump, tshark and Wireshark read;
 * - a text trace, one tcpdump-style line per frame;
 * - a state log, one line per TCP state transition.
 * Each is an us_observer; attach it with us_stack_observe().
 */
#ifndef USTACK_TRACE_H
#define USTACK_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ustack/stack.h"

/* ---- pcap ---- */
struct us_pcap;
/* Opens `path` for writing (Ethernet link type, snaplen 65535). NULL on error
 * with a message in err. */
struct us_pcap *us_pcap_open(const char *path, char *err, size_t errlen);
/* Writes one frame with timestamp `now` (microseconds since the epoch of the
 * caller's clock; virtual time starts at 0 = 1970-01-01 00:00:00). */
void us_pcap_write(struct us_pcap *p, const uint8_t *frame, size_t len, us_time_t now);
void us_pcap_flush(struct us_pcap *p);
void us_pcap_close(struct us_pcap *p);
/* Observer writing every frame of a stack, in and out. With several stacks
 * sharing one writer, a frame appears once per stack that saw it; to capture
 * a wire once, observe only one of its stacks or use us_pcap_observe_out(). */
struct us_observer us_pcap_observer(struct us_pcap *p);
/* Observer writing only the frames a stack sends: attached to every stack on
 * a wire, it records each frame once, as it enters the wire. */
struct us_observer us_pcap_observer_out(struct us_pcap *p);

/* ---- text ---- */
enum {
    US_TRACE_ABS_SEQ = 0x1,   /* absolute sequence numbers (tcpdump -S) */
    US_TRACE_NO_TIME = 0x2,   /* no timestamp column */
    US_TRACE_DIR = 0x4,       /* prefix with the stack name and In/Out */
};
/* Formats one frame the way tcpdump does, without a trailing newline:
 * "10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1, win 64240, options [...], length 0".
 * `rel` (may be NULL) tracks ISNs for relative sequence numbers. Returns buf. */
struct us_seqrel;
char *us_trace_format(char *buf, size_t cap, const uint8_t *frame, size_t len,
                      struct us_seqrel *rel);
/* Relative sequence-number state: the ISN of each direction of each
 * connection, learned from SYNs, as tcpdump does. */
struct us_seqrel *us_seqrel_new(void);
void us_seqrel_free(struct us_seqrel *r);

struct us_text_trace;
/* Writes lines to `out` (not closed). */
struct us_text_trace *us_text_trace_new(FILE *out, unsigned flags);
void us_text_trace_free(struct us_text_trace *t);
struct us_observer us_text_trace_observer(struct us_text_trace *t);
/* Formats a time as tcpdump does: "HH:MM:SS.uuuuuu". */
char *us_trace_time(char *buf, size_t cap, us_time_t t);

/* ---- state log ---- */
/* Writes "TIME STACK LADDR:LPORT > RADDR:RPORT OLD -> NEW (cause)" lines, and
 * (us_state_log_file) the machine-readable event log that diagrams read. */
struct us_state_log;
struct us_state_log *us_state_log_new(FILE *out);
void us_state_log_free(struct us_state_log *l);
struct us_observer us_state_log_observer(struct us_state_log *l);
/* Formats one event in the human form. Returns buf. */
char *us_state_event_format(char *buf, size_t cap, const char *stack, const struct us_state_event *ev);

/* ---- event log and wire capture ----
 * The machine-readable record of a run on the in-memory wire: every frame's
 * id, sender and fate (delivered, dropped and why), every TCP state
 * transition, and optionally the wire capture: a pcap holding each frame once,
 * as it entered the wire, so the n-th `send` line of the log describes the
 * n-th pcap record (record k is wire frame id k when the log is attached
 * before the first frame). `ustack diagram` draws sequence diagrams from the
 * pair. The format (line-oriented text, versioned) is specified at the top of
 * src/trace/eventlog.c and in docs/DESIGN.md §9. */
struct us_wire;
struct us_wire_event;
struct us_eventlog;
/* Writes the log to `out` and, when `pcap` is not NULL, the wire capture to
 * it; neither is closed by us_eventlog_close(). NULL on allocation failure. */
struct us_eventlog *us_eventlog_new(FILE *out, struct us_pcap *pcap);
/* Creates `log_path` and, unless `pcap_path` is NULL, `pcap_path`; the log
 * owns and closes both. NULL with a message in err on failure. */
struct us_eventlog *us_eventlog_open(const char *log_path, const char *pcap_path, char *err,
                                     size_t errlen);
/* Observes the wire's frame events. 0 or -ENOSPC. */
int us_eventlog_attach_wire(struct us_eventlog *l, struct us_wire *w);
/* Observes the stack's TCP state transitions and, when `port` >= 0, names that
 * wire port after the stack. 0 or -ENOSPC. */
int us_eventlog_attach_stack(struct us_eventlog *l, struct us_stack *s, int port);
/* The same observers, for callers that attach by hand. */
void us_eventlog_wire_event(void *ctx, const struct us_wire_event *ev);
struct us_observer us_eventlog_observer(struct us_eventlog *l);
/* Flushes the log and the capture. */
void us_eventlog_flush(struct us_eventlog *l);
/* Stops observing what it attached to (which must still exist: close before
 * freeing the wire and the stacks), flushes, closes what it owns and frees.
 * Returns 0, or -EIO if a write to the log failed. NULL is a no-op. */
int us_eventlog_close(struct us_eventlog *l);

#endif
