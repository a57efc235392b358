/*
 * claim.c: claims and their verdicts (see claim.h).
 */
#include "scenario/claim.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static struct stage_claim *add(struct stage *sg)
{
    if (sg->n_claims == sg->cap_claims) {
        size_t cap = sg->cap_claims ? sg->cap_claims * 2 : 16;
        struct stage_claim *c = realloc(sg->claims, cap * sizeof(*c));
        if (!c) return NULL;
        sg->claims = c;
        sg->cap_claims = cap;
    }
    struct stage_claim *c = &sg->claims[sg->n_claims++];
    memset(c, 0, sizeof(*c));
    return c;
}

static bool vclaim(struct stage *sg, bool ok, const char *what, const char *fmt, va_list ap)
{
    struct stage_claim *c = add(sg);
    if (!ok) sg->failed++;
    if (!c) return ok;
    c->ok = ok;
    snprintf(c->what, sizeof(c->what), "%s", what);
    if (!ok && fmt) vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
    return ok;
}

bool claim(struct stage *sg, bool ok, const char *what, const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    bool r = vclaim(sg, ok, what, detail_fmt, ap);
    va_end(ap);
    return r;
}

bool claim_segments(struct stage *sg, const char *want)
{
    char got[2048], what[200];
    stage_segments(sg, got, sizeof(got));
    snprintf(what, sizeof(what), "segments: %s", want);
    return claim(sg, strcmp(got, want) == 0, what, "the segments were: %s", got);
}

bool claim_states(struct stage *sg, int who, uint16_t port, const char *want)
{
    char got[1024], what[200];
    stage_states(sg, who, port, got, sizeof(got));
    if (port)
        snprintf(what, sizeof(what), "%s, connection with port %u: %s", actor_name(who), port,
                 want);
    else
        snprintf(what, sizeof(what), "%s: %s", actor_name(who), want);
    return claim(sg, strcmp(got, want) == 0, what, "%s went %s", actor_name(who), got);
}

static bool counter_claim(struct stage *sg, int who, enum us_counter c, uint64_t want, bool min)
{
    uint64_t got = us_stack_counter(sg->stack[who], c);
    char what[200];
    snprintf(what, sizeof(what), "%s: %s %s %llu (%s)", actor_name(who), us_counter_name(c),
             min ? ">=" : "=", (unsigned long long)want, us_counter_help(c));
    bool ok = min ? got >= want : got == want;
    return claim(sg, ok, what, "%s is %llu", us_counter_name(c), (unsigned long long)got);
}

bool claim_counter(struct stage *sg, int who, enum us_counter c, uint64_t want)
{
    return counter_claim(sg, who, c, want, false);
}

bool claim_counter_min(struct stage *sg, int who, enum us_counter c, uint64_t want)
{
    return counter_claim(sg, who, c, want, true);
}

bool claim_errno(struct stage *sg, const char *call, long rc, int want)
{
    char what[200];
    snprintf(what, sizeof(what), "%s fails with %s", call, errno_name(want));
    if (rc >= 0) return claim(sg, false, what, "it returned %ld", rc);
    return claim(sg, sg->err == want, what, "it failed with %s", errno_name(sg->err));
}

bool claim_ok(struct stage *sg, const char *call, long rc)
{
    char what[200];
    snprintf(what, sizeof(what), "%s succeeds", call);
    return claim(sg, rc >= 0, what, "it failed with %s", errno_name(sg->err));
}

bool claim_data(struct stage *sg, int who, const char *got, long n, const char *want)
{
    char what[200];
    snprintf(what, sizeof(what), "%s reads \"%s\"", actor_name(who), want);
    if (n < 0) return claim(sg, false, what, "recv failed with %s", errno_name(sg->err));
    return claim(sg, (size_t)n == strlen(want) && memcmp(got, want, (size_t)n) == 0, what,
                 "it read %ld bytes: \"%.*s\"", n, (int)(n > 60 ? 60 : n), got);
}

void claims_print(const struct stage *sg, FILE *out, bool color)
{
    for (size_t i = 0; i < sg->n_claims; i++) {
        const struct stage_claim *c = &sg->claims[i];
        if (c->ok)
            fprintf(out, "  %sok%s    %s\n", color ? "\033[32m" : "", color ? "\033[0m" : "",
                    c->what);
        else
            fprintf(out, "  %sFAIL%s  %s\n        but %s\n", color ? "\033[1;31m" : "",
                    color ? "\033[0m" : "", c->what, c->detail);
    }
}

const char *claims_first_failed(const struct stage *sg)
{
    for (size_t i = 0; i < sg->n_claims; i++)
        if (!sg->claims[i].ok) return sg->claims[i].what;
    return NULL;
}

char *secs_str(us_time_t t, char *buf, size_t cap)
{
    if (t % 1000 == 0)
        snprintf(buf, cap, "%llu.%03llu s", (unsigned long long)(t / 1000000),
                 (unsigned long long)(t / 1000 % 1000));
    else
        snprintf(buf, cap, "%llu.%06llu s", (unsigned long long)(t / 1000000),
                 (unsigned long long)(t % 1000000));
    return buf;
}
