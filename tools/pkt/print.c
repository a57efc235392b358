/*
 * print.c: scripts and packets back in script syntax.
 *
 * `ustack pkt parse` prints a parsed script this way, reports print the
 * expected and actual packets this way, and the tests check that printing
 * and parsing again gives the same script (the printer is canonical: one
 * event per line, times with six decimals).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkt/pkt.h"

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    if (o->len >= o->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0) o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1;
}

char *pkt_flags_format(char *buf, size_t cap, uint8_t flags)
{
    /* The order scripts write them in: "S.", "FP.", "SEW". */
    static const struct {
        uint8_t bit;
        char c;
    } order[] = {{PKT_SYN, 'S'}, {PKT_FIN, 'F'}, {PKT_RST, 'R'}, {PKT_PSH, 'P'},
                 {PKT_URG, 'U'}, {PKT_ACK, '.'}, {PKT_ECE, 'E'}, {PKT_CWR, 'W'}};
    struct out o = {buf, cap, 0};
    if (cap) buf[0] = 0;
    if (!flags) put(&o, "-");
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (flags & order[i].bit) put(&o, "%c", order[i].c);
    return buf;
}

static void put_opts(struct out *o, const struct pkt_opts *opts)
{
    if (opts->any) {
        put(o, "...");
        return;
    }
    size_t off = 0;
    struct pkt_opt opt;
    int r;
    bool first = true;
    while ((r = pkt_opts_next(opts, &off, &opt)) == 1) {
        if (!first) put(o, ",");
        first = false;
        switch (opt.kind) {
        case PKT_OPT_EOL:
            put(o, "eol");
            break;
        case PKT_OPT_NOP:
            put(o, "nop");
            break;
        case PKT_OPT_MSS:
            put(o, "mss %u", opt.mss);
            break;
        case PKT_OPT_WSCALE:
            put(o, "wscale %u", opt.wscale);
            break;
        case PKT_OPT_SACK_OK:
            put(o, "sackOK");
            break;
        case PKT_OPT_SACK:
            put(o, "sack");
            for (int k = 0; k < opt.nsack; k++)
                put(o, " %u:%u", opt.sack[k].left, opt.sack[k].right);
            break;
        case PKT_OPT_TS:
            put(o, "TS val %u ecr %u", opt.ts_val, opt.ts_ecr);
            break;
        default:
            put(o, "unknown-%u(%u)", opt.kind, opt.len);
            break;
        }
    }
    if (r < 0) put(o, "%sbad", first ? "" : ",");
}

char *pkt_opts_format(char *buf, size_t cap, const struct pkt_opts *opts)
{
    struct out o = {buf, cap, 0};
    if (cap) buf[0] = 0;
    put_opts(&o, opts);
    return buf;
}

char *pkt_packet_format(char *buf, size_t cap, const struct pkt_packet *p)
{
    struct out o = {buf, cap, 0};
    char fl[16];
    if (cap) buf[0] = 0;
    put(&o, "%c %s ", p->dir == PKT_INBOUND ? '<' : '>',
        pkt_flags_format(fl, sizeof(fl), p->flags));
    if (p->seq_any)
        put(&o, "...(%u)", p->len);
    else
        put(&o, "%u:%u(%u)", p->seq, p->seq + p->len, p->len);
    if (p->has_ack) put(&o, " ack %u", p->ack);
    if (p->has_win) put(&o, " win %u", p->win);
    if (p->has_urg) put(&o, " urg %u", p->urg);
    if (p->opts.any || p->opts.len) {
        put(&o, " <");
        put_opts(&o, &p->opts);
        put(&o, ">");
    }
    return buf;
}

/* ---- whole scripts ---- */

static void print_usecs(FILE *f, int64_t us)
{
    fprintf(f, "%lld.%06lld", (long long)(us / 1000000), (long long)(us % 1000000));
}

static void print_time(FILE *f, const struct pkt_time *t)
{
    if (t->kind == PKT_TIME_ANY) {
        fputc('*', f);
        return;
    }
    if (t->kind == PKT_TIME_RELATIVE) fputc('+', f);
    print_usecs(f, t->usecs);
    if (!t->has_end) return;
    fputs(t->blocking ? "..." : "~", f);
    if (t->end_kind == PKT_TIME_RELATIVE) fputc('+', f);
    print_usecs(f, t->end_usecs);
}

static void print_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void print_expr(FILE *f, const struct pkt_expr *e);

static void print_items(FILE *f, const struct pkt_expr *e, const char *open, const char *close)
{
    fputs(open, f);
    for (uint32_t i = 0; i < e->nitems; i++) {
        if (i) fputs(", ", f);
        print_expr(f, e->items[i]);
    }
    fputs(close, f);
}

static void print_expr(FILE *f, const struct pkt_expr *e)
{
    switch (e->kind) {
    case PKT_EXPR_INT:
        fprintf(f, "%lld", (long long)e->num);
        break;
    case PKT_EXPR_SYMBOL:
        fputs(e->name, f);
        break;
    case PKT_EXPR_ELLIPSIS:
        fputs("...", f);
        break;
    case PKT_EXPR_STRING:
        print_string(f, e->name, e->name_len);
        break;
    case PKT_EXPR_LIST:
        print_items(f, e, "[", "]");
        break;
    case PKT_EXPR_STRUCT:
        print_items(f, e, "{", "}");
        break;
    case PKT_EXPR_FIELD:
        fprintf(f, "%s=", e->name);
        print_expr(f, e->left);
        break;
    case PKT_EXPR_OR:
        print_expr(f, e->left);
        fputc('|', f);
        print_expr(f, e->right);
        break;
    case PKT_EXPR_CALL:
        fputs(e->name, f);
        print_items(f, e, "(", ")");
        break;
    }
}

/* Text inside a // comment: a newline would end the comment early. */
static void print_comment_text(FILE *f, const char *s)
{
    for (; *s; s++) fputc(*s == '\n' ? ' ' : *s, f);
}

static void print_shell(FILE *f, const struct pkt_shell *sh)
{
    fprintf(f, "`%s`\n", sh->command);
    for (uint32_t i = 0; i < sh->nsettings; i++) {
        const struct pkt_sysctl *st = &sh->settings[i];
        fprintf(f, "//   setting %s = ", pkt_setting_name(st->setting));
        if (st->setting == PKT_SET_CONGESTION)
            print_comment_text(f, st->text);
        else
            fprintf(f, "%lld", (long long)st->value);
        fputs(" (", f);
        print_comment_text(f, st->sysctl);
        fputc('=', f);
        print_comment_text(f, st->text);
        fputs(")\n", f);
    }
    for (uint32_t i = 0; i < sh->nignored; i++) {
        fputs("//   ignored: ", f);
        print_comment_text(f, sh->ignored[i]);
        fputc('\n', f);
    }
}

void pkt_event_print(FILE *f, const struct pkt_event *ev)
{
    char buf[512];
    print_time(f, &ev->time);
    fputc(' ', f);
    switch (ev->kind) {
    case PKT_EV_PACKET:
        fprintf(f, "%s\n", pkt_packet_format(buf, sizeof(buf), &ev->u.packet));
        break;
    case PKT_EV_SYSCALL: {
        const struct pkt_syscall *c = &ev->u.call;
        fputs(c->name, f);
        fputc('(', f);
        for (uint32_t i = 0; i < c->nargs; i++) {
            if (i) fputs(", ", f);
            print_expr(f, c->args[i]);
        }
        fputs(") = ", f);
        print_expr(f, c->ret);
        if (c->errno_name) fprintf(f, " %s", c->errno_name);
        if (c->note) fprintf(f, " (%s)", c->note);
        fputc('\n', f);
        break;
    }
    case PKT_EV_SHELL:
        print_shell(f, &ev->u.shell);
        break;
    case PKT_EV_CODE:
        fprintf(f, "%%{%s}%%\n", ev->u.code.text);
        if (ev->u.code.tcpi_state)
            fprintf(f, "//   asserts tcpi_state %s\n", ev->u.code.tcpi_state);
        break;
    }
}

void pkt_script_print(FILE *f, const struct pkt_script *s)
{
    for (uint32_t i = 0; i < s->noptions; i++) {
        const struct pkt_option *o = &s->options[i];
        if (o->value)
            fprintf(f, "--%s=%s\n", o->name, o->value);
        else
            fprintf(f, "--%s\n", o->name);
    }
    if (s->init) print_shell(f, &s->init->shell);
    for (uint32_t i = 0; i < s->nevents; i++) pkt_event_print(f, &s->events[i]);
    if (s->cleanup) print_shell(f, &s->cleanup->shell);
}
