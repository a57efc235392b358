/*
 * expect.c: reading the expectations file and comparing results with it
 * (expect.h has the format).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt/expect.h"

#define EXPECT_FILE_MAX (4u << 20)
#define FIELDS_MAX      4

static const char *const reason_classes[] = {"feature: ", "home: ", "bug: ", "runner: "};

static int bad(char *err, size_t errlen, const char *name, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int bad(char *err, size_t errlen, const char *name, unsigned line, const char *fmt, ...)
{
    int n = snprintf(err, errlen, "%s:%u: ", name, line);
    if (n < 0 || (size_t)n >= errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_status(const char *s, enum pkt_status *out)
{
    if (!strcmp(s, "pass"))
        *out = PKT_STATUS_PASS;
    else if (!strcmp(s, "fail"))
        *out = PKT_STATUS_FAIL;
    else if (!strcmp(s, "skip"))
        *out = PKT_STATUS_SKIP;
    else
        return -1;
    return 0;
}

static bool reason_has_class(const char *r)
{
    for (size_t i = 0; i < sizeof(reason_classes) / sizeof(reason_classes[0]); i++)
        if (!strncmp(r, reason_classes[i], strlen(reason_classes[i])) &&
            r[strlen(reason_classes[i])] != 0)
            return true;
    return false;
}

static int add(struct pkt_expectations *x, const struct pkt_expectation *e)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 256;
        struct pkt_expectation *n = realloc(x->e, cap * sizeof(*n));
        if (!n) return -1;
        x->e = n;
        x->cap = cap;
    }
    x->e[x->n] = *e;
    x->e[x->n].script = strdup(e->script);
    x->e[x->n].reason = e->reason ? strdup(e->reason) : NULL;
    if (!x->e[x->n].script || (e->reason && !x->e[x->n].reason)) {
        free(x->e[x->n].script);
        free(x->e[x->n].reason);
        return -1;
    }
    x->n++;
    return 0;
}

/* One line, in place: splits at tabs. */
static int parse_line(const char *name, unsigned lineno, char *line, struct pkt_expectations *x,
                      char *err, size_t errlen)
{
    char *f[FIELDS_MAX];
    unsigned nf = 0;
    for (char *p = line;;) {
        if (nf == FIELDS_MAX) return bad(err, errlen, name, lineno, "too many fields");
        f[nf++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = 0;
        p = tab + 1;
    }
    if (nf < 3)
        return bad(err, errlen, name, lineno, "expected SCRIPT<TAB>MODE<TAB>RESULT[<TAB>REASON]");
    struct pkt_expectation e = {.script = f[0], .line = lineno};
    if (!f[0][0]) return bad(err, errlen, name, lineno, "empty script name");
    if (pkt_mode_parse(f[1], &e.mode) < 0)
        return bad(err, errlen, name, lineno, "mode '%s' is neither strict nor portable", f[1]);
    if (parse_status(f[2], &e.status) < 0)
        return bad(err, errlen, name, lineno, "result '%s' is not pass, fail or skip", f[2]);
    e.reason = nf > 3 && f[3][0] ? f[3] : NULL;
    if (e.status == PKT_STATUS_PASS && e.reason)
        return bad(err, errlen, name, lineno, "a passing script takes no reason");
    if (e.status != PKT_STATUS_PASS && (!e.reason || !reason_has_class(e.reason)))
        return bad(err, errlen, name, lineno,
                   "%s needs a reason starting with feature:, home:, bug: or runner:", f[2]);
    if (pkt_expect_find(x, e.script, e.mode))
        return bad(err, errlen, name, lineno, "%s is listed twice for %s mode", e.script, f[1]);
    if (add(x, &e) < 0) return bad(err, errlen, name, lineno, "out of memory");
    return 0;
}

int pkt_expect_parse(const char *name, const char *text, struct pkt_expectations *x, char *err,
                     size_t errlen)
{
    memset(x, 0, sizeof(*x));
    char *copy = strdup(text);
    if (!copy) return bad(err, errlen, name, 0, "out of memory");
    unsigned lineno = 0;
    int rc = 0;
    for (char *line = copy; line && rc == 0;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = 0;
        if (len && line[0] != '#') rc = parse_line(name, lineno, line, x, err, errlen);
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
    if (rc < 0) pkt_expect_free(x);
    return rc;
}

int pkt_expect_load(const char *path, struct pkt_expectations *x, char *err, size_t errlen)
{
    memset(x, 0, sizeof(*x));
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(EXPECT_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, EXPECT_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > EXPECT_FILE_MAX) {
        free(buf);
        snprintf(err, errlen, "%s: %s", path, buf ? "file too large" : "out of memory");
        return -1;
    }
    buf[n] = 0;
    int rc = pkt_expect_parse(path, buf, x, err, errlen);
    free(buf);
    return rc;
}

void pkt_expect_free(struct pkt_expectations *x)
{
    for (size_t i = 0; i < x->n; i++) {
        free(x->e[i].script);
        free(x->e[i].reason);
    }
    free(x->e);
    memset(x, 0, sizeof(*x));
}

struct pkt_expectation *pkt_expect_find(struct pkt_expectations *x, const char *script,
                                        enum pkt_mode mode)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->e[i].mode == mode && !strcmp(x->e[i].script, script)) return &x->e[i];
    return NULL;
}

enum pkt_verdict_vs_expectation pkt_expect_compare(const struct pkt_expectation *e,
                                                   const struct pkt_result *r)
{
    if (!e) return PKT_UNLISTED;
    if (e->status == r->status) return PKT_AS_EXPECTED;
    if (r->status == PKT_STATUS_PASS) return PKT_UNEXPECTED_PASS;
    if (e->status == PKT_STATUS_PASS) return PKT_REGRESSION;
    return PKT_CHANGED;
}
