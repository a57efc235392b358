/*
 * claim.h: what a scenario says happened, checked against what did.
 *
 * A claim is a sentence and a verdict. Each function below computes the
 * verdict from the stage's record, counters or a call's result -- never
 * from the scenario's own expectations -- and keeps the sentence; when a
 * claim fails, it also keeps what really happened. The claims are printed
 * after the trace and the diagram; a scenario passes when every one holds.
 */
#ifndef USTACK_TOOLS_SCENARIO_CLAIM_H
#define USTACK_TOOLS_SCENARIO_CLAIM_H

#include <stdbool.h>
#include <stdio.h>

#include "scenario/stage.h"

/* The general form: `ok` decides; `what` is the sentence; the detail says
 * what happened instead (printed only when the claim fails). */
bool claim(struct stage *sg, bool ok, const char *what, const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The TCP segments since the mark are exactly `want` (stage_segments()'s
 * form: "client SYN | server SYN,ACK | client ACK"). */
bool claim_segments(struct stage *sg, const char *want);
/* `who`'s states since the mark, for connections using `port` (0: all), are
 * exactly `want` ("CLOSED -> SYN-SENT -> ESTABLISHED"). */
bool claim_states(struct stage *sg, int who, uint16_t port, const char *want);
/* `who`'s counter equals `want`; claim_counter_min: at least `want`. */
bool claim_counter(struct stage *sg, int who, enum us_counter c, uint64_t want);
bool claim_counter_min(struct stage *sg, int who, enum us_counter c, uint64_t want);
/* A call returned -1 with errno `want` (the last act_*() call's errno). */
bool claim_errno(struct stage *sg, const char *call, long rc, int want);
/* A call succeeded (rc >= 0). */
bool claim_ok(struct stage *sg, const char *call, long rc);
/* Data received is exactly `want`. */
bool claim_data(struct stage *sg, int who, const char *got, long n, const char *want);

/* Writes "  ok    sentence" / "  FAIL  sentence" lines (and the detail of
 * each failure). */
void claims_print(const struct stage *sg, FILE *out, bool color);
/* The first failed claim's sentence, or NULL. */
const char *claims_first_failed(const struct stage *sg);

/* Time as the trace prints it: seconds, "1.500 s". */
char *secs_str(us_time_t t, char *buf, size_t cap);

#endif
