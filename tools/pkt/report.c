/*
 * report.c: per-script results, skip reasons, what was ignored, and the
 * summary of a run with its exit status (report.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pkt/report.h"

static const char *status_name(enum pkt_status st)
{
    switch (st) {
    case PKT_STATUS_PASS:
        return "PASS";
    case PKT_STATUS_FAIL:
        return "FAIL";
    case PKT_STATUS_SKIP:
        return "SKIP";
    case PKT_STATUS_ERROR:
        return "ERROR";
    }
    return "?";
}

void pkt_result_parse_error(struct pkt_result *r, const char *path, enum pkt_mode mode,
                            const struct pkt_error *err)
{
    r->path = path;
    r->status = PKT_STATUS_ERROR;
    r->mode = mode;
    pkt_error_format(err, r->message, sizeof(r->message));
}

/* ---- unsupported features ---- */

struct unsupported_symbol {
    const char *name;
    const char *why;
};

static const struct unsupported_symbol unsupported_symbols[] = {
    {"TCP_NOOPT", "TCP_NOOPT (FreeBSD socket option)"},
    {"TCP_KEEPINIT", "TCP_KEEPINIT (FreeBSD socket option)"},
    {"TCP_FASTOPEN", "TCP Fast Open"},
    {"TCP_FASTOPEN_CONNECT", "TCP Fast Open"},
    {"MSG_FASTOPEN", "TCP Fast Open"},
    {"AF_INET6", "IPv6"},
};

/* The first unsupported symbol in an expression tree, or NULL. */
static const char *expr_unsupported(const struct pkt_expr *e, int depth)
{
    if (!e || depth > 64) return NULL;
    if (e->kind == PKT_EXPR_SYMBOL)
        for (size_t i = 0; i < sizeof(unsupported_symbols) / sizeof(unsupported_symbols[0]); i++)
            if (!strcmp(e->name, unsupported_symbols[i].name)) return unsupported_symbols[i].why;
    const char *why = expr_unsupported(e->left, depth + 1);
    if (!why) why = expr_unsupported(e->right, depth + 1);
    for (uint32_t i = 0; !why && i < e->nitems; i++) why = expr_unsupported(e->items[i], depth + 1);
    return why;
}

bool pkt_script_unsupported(const struct pkt_script *s, char *reason, size_t cap)
{
    if (s->config.ip_version != 4) {
        snprintf(reason, cap, "IPv6 (--ip_version)");
        return true;
    }
    for (uint32_t i = 0; i < s->nevents; i++) {
        const struct pkt_event *ev = &s->events[i];
        if (ev->kind == PKT_EV_PACKET && (ev->u.packet.flags & (PKT_ECE | PKT_CWR))) {
            snprintf(reason, cap, "ECN (line %u: flags E/W)", ev->pos.line);
            return true;
        }
        if (ev->kind != PKT_EV_SYSCALL) continue;
        const char *why = expr_unsupported(ev->u.call.ret, 0);
        for (uint32_t k = 0; !why && k < ev->u.call.nargs; k++)
            why = expr_unsupported(ev->u.call.args[k], 0);
        if (why) {
            snprintf(reason, cap, "%s (line %u)", why, ev->pos.line);
            return true;
        }
    }
    return false;
}

/* ---- ignored ---- */

static const char *const known_options[] = {
    "ip_version", "tolerance_usecs", "mtu",       "mss",          "tcp_ts_tick_usecs",
    "local_ip",   "remote_ip",       "bind_port", "connect_port",
};

static void shell_ignored(const struct pkt_shell *sh, void (*fn)(void *ctx, const char *what),
                          void *ctx)
{
    for (uint32_t i = 0; i < sh->nignored; i++) fn(ctx, sh->ignored[i]);
}

void pkt_script_ignored(const struct pkt_script *s, void (*fn)(void *ctx, const char *what),
                        void *ctx)
{
    char buf[512];
    for (uint32_t i = 0; i < s->noptions; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof(known_options) / sizeof(known_options[0]); k++)
            known = known || !strcmp(s->options[i].name, known_options[k]);
        if (known) continue;
        snprintf(buf, sizeof(buf), "--%s%s%s", s->options[i].name, s->options[i].value ? "=" : "",
                 s->options[i].value ? s->options[i].value : "");
        fn(ctx, buf);
    }
    if (s->init) shell_ignored(&s->init->shell, fn, ctx);
    for (uint32_t i = 0; i < s->nevents; i++) {
        const struct pkt_event *ev = &s->events[i];
        if (ev->kind == PKT_EV_SHELL) shell_ignored(&ev->u.shell, fn, ctx);
        if (ev->kind == PKT_EV_CODE && !ev->u.code.tcpi_state) {
            snprintf(buf, sizeof(buf), "%%{%.400s}%%", ev->u.code.text);
            fn(ctx, buf);
        }
    }
    if (s->cleanup) shell_ignored(&s->cleanup->shell, fn, ctx);
}

/* ---- one result ---- */

static void print_ignored_line(void *ctx, const char *what)
{
    FILE *f = ctx;
    fputs("  ignored: ", f);
    for (; *what; what++) fputc(*what == '\n' ? ' ' : *what, f);
    fputc('\n', f);
}

void pkt_result_print(FILE *f, const struct pkt_result *r, const struct pkt_script *s, bool verbose)
{
    fprintf(f, "%s %s", status_name(r->status), r->path);
    if (r->status == PKT_STATUS_ERROR) {
        fprintf(f, ": %s\n", r->message);
        return;
    }
    fprintf(f, " (%s mode)", pkt_mode_name(r->mode));
    if (r->status == PKT_STATUS_SKIP) fprintf(f, ": %s", r->message);
    fputc('\n', f);
    if (r->status == PKT_STATUS_FAIL && r->message[0]) {
        /* Indent every line of the message. */
        const char *p = r->message;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            fprintf(f, "  %.*s\n", (int)n, p);
            p += n + (nl ? 1 : 0);
        }
    }
    if (verbose && s) pkt_script_ignored(s, print_ignored_line, f);
}

/* ---- the run ---- */

void pkt_summary_init(struct pkt_summary *sum, enum pkt_mode mode)
{
    memset(sum, 0, sizeof(*sum));
    sum->mode = mode;
}

/* The distinct things one script ignored. */
struct collect {
    char **items;
    size_t n, cap;
};

static void collect_one(void *ctx, const char *what)
{
    struct collect *c = ctx;
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->items[i], what)) return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **n = realloc(c->items, cap * sizeof(*n));
        if (!n) return; /* the list is informative; losing an entry is not fatal */
        c->items = n;
        c->cap = cap;
    }
    char *text = strdup(what);
    if (text) c->items[c->n++] = text;
}

/* Counts `text` for one more script; takes ownership of it. */
static void summary_ignored(struct pkt_summary *sum, char *text)
{
    for (size_t i = 0; i < sum->nignored; i++) {
        if (!strcmp(sum->ignored[i].text, text)) {
            sum->ignored[i].scripts++;
            free(text);
            return;
        }
    }
    if (sum->nignored == sum->cap) {
        size_t cap = sum->cap ? sum->cap * 2 : 32;
        struct pkt_ignored *n = realloc(sum->ignored, cap * sizeof(*n));
        if (!n) {
            free(text);
            return;
        }
        sum->ignored = n;
        sum->cap = cap;
    }
    sum->ignored[sum->nignored].text = text;
    sum->ignored[sum->nignored].scripts = 1;
    sum->nignored++;
}

void pkt_summary_add(struct pkt_summary *sum, const struct pkt_result *r,
                     const struct pkt_script *s)
{
    switch (r->status) {
    case PKT_STATUS_PASS:
        sum->pass++;
        break;
    case PKT_STATUS_FAIL:
        sum->fail++;
        break;
    case PKT_STATUS_SKIP:
        sum->skip++;
        break;
    case PKT_STATUS_ERROR:
        sum->error++;
        break;
    }
    if (!s) return;
    struct collect c = {NULL, 0, 0};
    pkt_script_ignored(s, collect_one, &c);
    for (size_t i = 0; i < c.n; i++) summary_ignored(sum, c.items[i]);
    free(c.items);
}

void pkt_summary_print(FILE *f, const struct pkt_summary *sum)
{
    unsigned total = sum->pass + sum->fail + sum->skip + sum->error;
    fprintf(f, "%u script%s (%s mode): %u passed, %u failed, %u skipped, %u did not parse\n", total,
            total == 1 ? "" : "s", pkt_mode_name(sum->mode), sum->pass, sum->fail, sum->skip,
            sum->error);
    if (sum->nignored == 0) return;
    fprintf(f, "not acted on (scripts):\n");
    for (size_t i = 0; i < sum->nignored; i++) {
        fprintf(f, "  %4u  ", sum->ignored[i].scripts);
        for (const char *p = sum->ignored[i].text; *p; p++) fputc(*p == '\n' ? ' ' : *p, f);
        fputc('\n', f);
    }
}

int pkt_summary_exit_status(const struct pkt_summary *sum)
{
    if (sum->error) return 2;
    return sum->fail ? 1 : 0;
}

void pkt_summary_free(struct pkt_summary *sum)
{
    for (size_t i = 0; i < sum->nignored; i++) free(sum->ignored[i].text);
    free(sum->ignored);
    memset(sum, 0, sizeof(*sum));
}
