/*
 * parse.c: recursive-descent parser from tokens (lex.c) to a script (pkt.h).
 *
 * Grammar, as the public scripts use packetdrill's language:
 *
 *   script  := option* [`shell`] event* [`shell`]   (untimed: init, cleanup)
 *   option  := a line starting with `--`: --name or --name=value
 *   event   := time (packet | syscall | `shell` | %{ code }%)
 *   time    := '*' | ['+'] NUM [('~' | '...') ['+'] NUM]
 *   packet  := ('<' | '>') FLAGS (NUM ':' NUM | '...') '(' NUM ')'
 *              ['ack' NUM] ['win' NUM] ['urg' NUM] ['<' ('...' | tcpopt (',' tcpopt)*) '>']
 *   tcpopt  := nop | eol | mss NUM | wscale NUM | sackOK | sack (NUM ':' NUM)*
 *            | TS val NUM ecr NUM
 *   syscall := IDENT '(' [expr (',' expr)*] ')' '=' expr [ERRNO] ['(' note ')']
 *   expr    := primary ('|' primary)*
 *   primary := NUM | '-' NUM | '...' | STRING | IDENT ['(' [expr (',' expr)*] ')']
 *            | '[' [expr (',' expr)*] ']' | '{' [IDENT '=' expr (',' ...)*] '}'
 *
 * FLAGS is one word of S F R P . E W U, or `-` for none. Every error names
 * the line and column of the token that was not expected.
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "pkt/internal.h"

#define EXPR_DEPTH_MAX  64
#define SCRIPT_SIZE_MAX (16u * 1024 * 1024)

struct parser {
    struct lexer lx;
    struct tok tok; /* the current token */
    struct pkt_arena *a;
    struct pkt_script *s;
    const char *base_dir;
    uint32_t cap_events, cap_options;
    int depth;
};

char *pkt_error_format(const struct pkt_error *e, char *buf, size_t cap)
{
    if (e->pos.line)
        snprintf(buf, cap, "%s:%u:%u: %s", e->file, e->pos.line, e->pos.col, e->msg);
    else
        snprintf(buf, cap, "%s: %s", e->file, e->msg);
    return buf;
}

/* ---- tokens ---- */

static int advance(struct parser *P)
{
    return lex_next(&P->lx, &P->tok);
}

static bool is_punct(const struct parser *P, char c)
{
    return P->tok.kind == TOK_PUNCT && P->tok.punct == c;
}

static bool is_word(const struct parser *P, const char *w)
{
    return P->tok.kind == TOK_IDENT && P->tok.len == strlen(w) &&
           !memcmp(P->tok.text, w, P->tok.len);
}

/* A short description of the current token for messages. */
static const char *tok_desc(const struct parser *P, char *buf, size_t cap)
{
    const struct tok *t = &P->tok;
    switch (t->kind) {
    case TOK_EOF:
        return "end of file";
    case TOK_STRING:
        return "a string";
    case TOK_SHELL:
        return "a `command`";
    case TOK_CODE:
        return "a %{ code }% block";
    case TOK_OPTION:
        return "an option line";
    default:
        break;
    }
    size_t n = t->len > 24 ? 24 : t->len;
    snprintf(buf, cap, "'%.*s%s'", (int)n, t->text, t->len > n ? "..." : "");
    return buf;
}

static int unexpected(struct parser *P, const char *wanted)
{
    char d[48];
    return lex_error(&P->lx, P->tok.pos, "expected %s, found %s", wanted,
                     tok_desc(P, d, sizeof(d)));
}

static int expect_punct(struct parser *P, char c)
{
    if (!is_punct(P, c)) {
        char w[8] = {'\'', c, '\'', 0};
        return unexpected(P, w);
    }
    return advance(P);
}

static int oom(struct parser *P)
{
    return lex_error(&P->lx, P->tok.pos, "out of memory");
}

/* ---- numbers ---- */

/* An integer token (decimal or 0x hex) up to `max`. */
static int tok_uint(struct parser *P, uint64_t max, uint64_t *out, const char *what)
{
    const struct tok *t = &P->tok;
    if (t->kind != TOK_NUMBER) return unexpected(P, what);
    char buf[32];
    if (t->len >= sizeof(buf) || memchr(t->text, '.', t->len))
        return lex_error(&P->lx, t->pos, "%s must be an integer", what);
    memcpy(buf, t->text, t->len);
    buf[t->len] = 0;
    bool hex = t->len > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X');
    char *e;
    errno = 0;
    unsigned long long v = strtoull(buf, &e, hex ? 16 : 10);
    if (errno || *e || v > max)
        return lex_error(&P->lx, t->pos, "%s %s is out of range (0..%llu)", what, buf,
                         (unsigned long long)max);
    *out = v;
    return advance(P);
}

static int tok_u32(struct parser *P, uint32_t *out, const char *what)
{
    uint64_t v = 0;
    if (tok_uint(P, UINT32_MAX, &v, what) < 0) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int tok_u16(struct parser *P, uint16_t *out, const char *what)
{
    uint64_t v = 0;
    if (tok_uint(P, UINT16_MAX, &v, what) < 0) return -1;
    *out = (uint16_t)v;
    return 0;
}

/* A time in seconds with up to six decimals ("0", ".1", "2.35") as
 * microseconds, exactly: scripts compare times to the microsecond. */
static int tok_time(struct parser *P, int64_t *usecs)
{
    const struct tok *t = &P->tok;
    if (t->kind != TOK_NUMBER) return unexpected(P, "a time");
    const char *p = t->text, *end = t->text + t->len;
    int64_t secs = 0, frac = 0;
    int digits = 0;
    for (; p < end && isdigit((unsigned char)*p); p++) {
        secs = secs * 10 + (*p - '0');
        if (secs > 1000000000) return lex_error(&P->lx, t->pos, "time too large");
    }
    if (p < end && *p == '.') {
        for (p++; p < end && isdigit((unsigned char)*p); p++) {
            if (++digits > 6)
                return lex_error(&P->lx, t->pos, "time has more than six decimals (microseconds)");
            frac = frac * 10 + (*p - '0');
        }
    }
    if (p != end) return lex_error(&P->lx, t->pos, "bad time '%.*s'", (int)t->len, t->text);
    for (; digits < 6; digits++) frac *= 10;
    *usecs = secs * 1000000 + frac;
    return advance(P);
}

/* ---- time specs ---- */

static int parse_time(struct parser *P, struct pkt_time *t)
{
    memset(t, 0, sizeof(*t));
    if (is_punct(P, '*')) {
        t->kind = PKT_TIME_ANY;
        return advance(P);
    }
    t->kind = PKT_TIME_ABSOLUTE;
    if (is_punct(P, '+')) {
        t->kind = PKT_TIME_RELATIVE;
        if (advance(P) < 0) return -1;
    }
    if (P->tok.kind != TOK_NUMBER) return unexpected(P, "an event time");
    if (tok_time(P, &t->usecs) < 0) return -1;
    if (!is_punct(P, '~') && P->tok.kind != TOK_ELLIPSIS) return 0;
    t->has_end = true;
    t->blocking = P->tok.kind == TOK_ELLIPSIS;
    if (advance(P) < 0) return -1;
    t->end_kind = t->kind;
    if (is_punct(P, '+')) {
        t->end_kind = PKT_TIME_RELATIVE;
        if (advance(P) < 0) return -1;
    }
    if (P->tok.kind != TOK_NUMBER) return unexpected(P, "an end time");
    return tok_time(P, &t->end_usecs);
}

/* a + b, stuck at INT64_MAX: ten thousand `+999999999` lines must not
 * overflow. Times are never negative. */
static int64_t time_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

struct pkt_when pkt_time_resolve(const struct pkt_time *t, int64_t prev_start)
{
    struct pkt_when w = {false, 0, 0};
    if (t->kind == PKT_TIME_ANY) {
        w.any = true;
        w.start = w.end = prev_start;
        return w;
    }
    w.start = t->kind == PKT_TIME_RELATIVE ? time_add(prev_start, t->usecs) : t->usecs;
    w.end = w.start;
    if (t->has_end)
        w.end =
            t->end_kind == PKT_TIME_RELATIVE ? time_add(prev_start, t->end_usecs) : t->end_usecs;
    return w;
}

/* ---- packets ---- */

static int parse_flags(struct parser *P, uint8_t *flags)
{
    struct tok w;
    lex_raw_word(&P->lx, &w);
    *flags = 0;
    if (w.len == 0) return lex_error(&P->lx, w.pos, "expected TCP flags after the direction");
    if (w.len == 1 && w.text[0] == '-') return advance(P);
    for (size_t i = 0; i < w.len; i++) {
        static const char letters[] = "FSRP.UEW"; /* bit order of the header */
        const char *c = strchr(letters, w.text[i]);
        if (!c || !w.text[i]) {
            struct pkt_pos pos = {w.pos.line, w.pos.col + (uint32_t)i};
            return lex_error(&P->lx, pos,
                             "bad TCP flag '%c' (flags are S F R P . E W U, or - for none)",
                             w.text[i]);
        }
        uint8_t bit = (uint8_t)(1u << (c - letters));
        if (*flags & bit) {
            struct pkt_pos pos = {w.pos.line, w.pos.col + (uint32_t)i};
            return lex_error(&P->lx, pos, "TCP flag '%c' given twice", w.text[i]);
        }
        *flags |= bit;
    }
    return advance(P);
}

static int add_opt(struct parser *P, struct pkt_opts *o, const struct pkt_opt *opt,
                   struct pkt_pos pos)
{
    if (pkt_opts_add(o, opt) < 0)
        return lex_error(&P->lx, pos, "TCP options do not fit in %d bytes", PKT_OPTS_MAX);
    return 0;
}

static int parse_tcp_option(struct parser *P, struct pkt_opts *o)
{
    struct pkt_pos pos = P->tok.pos;
    struct pkt_opt opt;
    memset(&opt, 0, sizeof(opt));
    if (P->tok.kind != TOK_IDENT) return unexpected(P, "a TCP option");
    if (is_word(P, "nop") || is_word(P, "eol") || is_word(P, "sackOK")) {
        opt.kind = is_word(P, "nop")   ? PKT_OPT_NOP
                   : is_word(P, "eol") ? PKT_OPT_EOL
                                       : PKT_OPT_SACK_OK;
        if (advance(P) < 0) return -1;
    } else if (is_word(P, "mss")) {
        opt.kind = PKT_OPT_MSS;
        if (advance(P) < 0 || tok_u16(P, &opt.mss, "an MSS") < 0) return -1;
    } else if (is_word(P, "wscale")) {
        uint64_t v = 0;
        opt.kind = PKT_OPT_WSCALE;
        if (advance(P) < 0 || tok_uint(P, UINT8_MAX, &v, "a window scale") < 0) return -1;
        opt.wscale = (uint8_t)v;
    } else if (is_word(P, "sack")) {
        opt.kind = PKT_OPT_SACK;
        if (advance(P) < 0) return -1;
        while (P->tok.kind == TOK_NUMBER) {
            if (opt.nsack == PKT_SACK_MAX)
                return lex_error(&P->lx, P->tok.pos, "at most %d SACK blocks", PKT_SACK_MAX);
            struct pkt_sack_block *b = &opt.sack[opt.nsack++];
            if (tok_u32(P, &b->left, "a SACK block start") < 0 || expect_punct(P, ':') < 0 ||
                tok_u32(P, &b->right, "a SACK block end") < 0)
                return -1;
        }
    } else if (is_word(P, "TS")) {
        opt.kind = PKT_OPT_TS;
        if (advance(P) < 0) return -1;
        if (!is_word(P, "val")) return unexpected(P, "'val' after TS");
        if (advance(P) < 0 || tok_u32(P, &opt.ts_val, "a TS val") < 0) return -1;
        if (!is_word(P, "ecr")) return unexpected(P, "'ecr' after the TS val");
        if (advance(P) < 0 || tok_u32(P, &opt.ts_ecr, "a TS ecr") < 0) return -1;
    } else {
        return lex_error(&P->lx, pos,
                         "unknown TCP option '%.*s' (known: nop eol mss wscale sackOK sack TS)",
                         (int)P->tok.len, P->tok.text);
    }
    return add_opt(P, o, &opt, pos);
}

static int parse_tcp_options(struct parser *P, struct pkt_opts *o)
{
    if (advance(P) < 0) return -1; /* the '<' */
    if (P->tok.kind == TOK_ELLIPSIS) {
        o->any = true;
        if (advance(P) < 0) return -1;
        return expect_punct(P, '>');
    }
    for (;;) {
        if (parse_tcp_option(P, o) < 0) return -1;
        if (is_punct(P, '>')) return advance(P);
        if (!is_punct(P, ',')) return unexpected(P, "',' or '>' in the TCP options");
        if (advance(P) < 0) return -1;
    }
}

static int parse_packet(struct parser *P, struct pkt_packet *pk)
{
    memset(pk, 0, sizeof(*pk));
    pk->dir = P->tok.punct == '<' ? PKT_INBOUND : PKT_OUTBOUND;
    if (parse_flags(P, &pk->flags) < 0) return -1;
    struct pkt_pos seq_pos = P->tok.pos;
    uint32_t end = 0;
    if (P->tok.kind == TOK_ELLIPSIS && pk->dir == PKT_OUTBOUND) {
        /* The FreeBSD fork's `...(len)`: any sequence number. */
        pk->seq_any = true;
        if (advance(P) < 0 || expect_punct(P, '(') < 0 ||
            tok_u32(P, &pk->len, "a segment length") < 0 || expect_punct(P, ')') < 0)
            return -1;
        end = pk->len;
    } else {
        if (P->tok.kind != TOK_NUMBER) return unexpected(P, "a sequence range 'start:end(length)'");
        if (tok_u32(P, &pk->seq, "a sequence number") < 0 || expect_punct(P, ':') < 0 ||
            tok_u32(P, &end, "a sequence number") < 0 || expect_punct(P, '(') < 0 ||
            tok_u32(P, &pk->len, "a segment length") < 0 || expect_punct(P, ')') < 0)
            return -1;
    }
    if ((uint32_t)(end - pk->seq) != pk->len)
        return lex_error(&P->lx, seq_pos, "sequence range %u:%u is %u bytes, not %u", pk->seq, end,
                         (uint32_t)(end - pk->seq), pk->len);
    if (pk->len > 65535 - 60)
        return lex_error(&P->lx, seq_pos, "segment length %u does not fit in one IPv4 packet",
                         pk->len);
    if (is_word(P, "ack")) {
        pk->has_ack = true;
        if (advance(P) < 0 || tok_u32(P, &pk->ack, "an ack number") < 0) return -1;
    }
    if (is_word(P, "win")) {
        pk->has_win = true;
        if (advance(P) < 0 || tok_u16(P, &pk->win, "a window") < 0) return -1;
    }
    if (is_word(P, "urg")) {
        pk->has_urg = true;
        if (advance(P) < 0 || tok_u16(P, &pk->urg, "an urgent pointer") < 0) return -1;
    }
    if (is_punct(P, '<') && parse_tcp_options(P, &pk->opts) < 0) return -1;
    if (pk->dir == PKT_INBOUND && !pk->has_win)
        return lex_error(&P->lx, seq_pos, "an inbound packet needs a window ('win N')");
    if (pk->dir == PKT_INBOUND && pk->opts.any)
        return lex_error(&P->lx, seq_pos, "an inbound packet cannot have '<...>' options");
    return 0;
}

/* ---- expressions ---- */

static struct pkt_expr *new_expr(struct parser *P, enum pkt_expr_kind kind, struct pkt_pos pos)
{
    struct pkt_expr *e = arena_alloc(P->a, sizeof(*e));
    if (!e) {
        oom(P);
        return NULL;
    }
    e->kind = kind;
    e->pos = pos;
    return e;
}

static int parse_expr(struct parser *P, struct pkt_expr **out);

/* Items up to `close`, separated by commas; with `fields`, each is name=expr. */
static int parse_items(struct parser *P, char close, bool fields, struct pkt_expr *e)
{
    uint32_t cap = 0;
    if (advance(P) < 0) return -1; /* the opening bracket */
    if (is_punct(P, close)) return advance(P);
    for (;;) {
        struct pkt_expr *item = NULL;
        if (fields) {
            if (P->tok.kind != TOK_IDENT) return unexpected(P, "a field name");
            item = new_expr(P, PKT_EXPR_FIELD, P->tok.pos);
            if (!item) return -1;
            item->name = arena_strndup(P->a, P->tok.text, P->tok.len);
            if (!item->name) return oom(P);
            if (advance(P) < 0 || expect_punct(P, '=') < 0 || parse_expr(P, &item->left) < 0)
                return -1;
        } else if (parse_expr(P, &item) < 0) {
            return -1;
        }
        e->items = arena_grow(P->a, e->items, e->nitems, &cap, sizeof(*e->items));
        if (!e->items) return oom(P);
        e->items[e->nitems++] = item;
        if (is_punct(P, close)) return advance(P);
        if (!is_punct(P, ',')) {
            char w[16];
            snprintf(w, sizeof(w), "',' or '%c'", close);
            return unexpected(P, w);
        }
        if (advance(P) < 0) return -1;
    }
}

static int parse_primary(struct parser *P, struct pkt_expr **out)
{
    struct pkt_pos pos = P->tok.pos;
    struct pkt_expr *e = NULL;
    if (P->tok.kind == TOK_NUMBER || is_punct(P, '-')) {
        bool neg = is_punct(P, '-');
        if (neg && advance(P) < 0) return -1;
        uint64_t v = 0;
        if (tok_uint(P, neg ? (uint64_t)INT64_MAX + 1 : UINT64_MAX, &v, "a number") < 0) return -1;
        if (!(e = new_expr(P, PKT_EXPR_INT, pos))) return -1;
        /* Two's complement: 0xffffffffffffffff stays all ones, -N is -N. */
        e->num = neg ? (int64_t)(0 - v) : (int64_t)v;
    } else if (P->tok.kind == TOK_ELLIPSIS) {
        if (!(e = new_expr(P, PKT_EXPR_ELLIPSIS, pos)) || advance(P) < 0) return -1;
    } else if (P->tok.kind == TOK_STRING) {
        if (!(e = new_expr(P, PKT_EXPR_STRING, pos))) return -1;
        e->name = P->tok.text; /* already in the arena, decoded */
        e->name_len = P->tok.len;
        if (advance(P) < 0) return -1;
    } else if (P->tok.kind == TOK_IDENT) {
        if (!(e = new_expr(P, PKT_EXPR_SYMBOL, pos))) return -1;
        if (!(e->name = arena_strndup(P->a, P->tok.text, P->tok.len))) return oom(P);
        if (advance(P) < 0) return -1;
        if (is_punct(P, '(')) {
            e->kind = PKT_EXPR_CALL;
            if (parse_items(P, ')', false, e) < 0) return -1;
        }
    } else if (is_punct(P, '[')) {
        if (!(e = new_expr(P, PKT_EXPR_LIST, pos)) || parse_items(P, ']', false, e) < 0) return -1;
    } else if (is_punct(P, '{')) {
        if (!(e = new_expr(P, PKT_EXPR_STRUCT, pos)) || parse_items(P, '}', true, e) < 0) return -1;
    } else {
        return unexpected(P, "an expression");
    }
    *out = e;
    return 0;
}

static int parse_expr(struct parser *P, struct pkt_expr **out)
{
    if (++P->depth > EXPR_DEPTH_MAX)
        return lex_error(&P->lx, P->tok.pos, "expression nested too deeply");
    struct pkt_expr *e = NULL;
    if (parse_primary(P, &e) < 0) return -1;
    while (is_punct(P, '|')) {
        struct pkt_expr *node = new_expr(P, PKT_EXPR_OR, P->tok.pos);
        if (!node || advance(P) < 0) return -1;
        node->left = e;
        if (parse_primary(P, &node->right) < 0) return -1;
        e = node;
    }
    P->depth--;
    *out = e;
    return 0;
}

/* ---- system calls ---- */

static int parse_syscall(struct parser *P, struct pkt_syscall *c)
{
    memset(c, 0, sizeof(c[0]));
    if (!(c->name = arena_strndup(P->a, P->tok.text, P->tok.len))) return oom(P);
    if (advance(P) < 0) return -1;
    if (!is_punct(P, '(')) return unexpected(P, "'(' after the system call name");
    struct pkt_expr args = {0};
    if (parse_items(P, ')', false, &args) < 0) return -1;
    c->args = args.items;
    c->nargs = args.nitems;
    if (!is_punct(P, '=')) return unexpected(P, "'=' and the expected result");
    if (advance(P) < 0 || parse_expr(P, &c->ret) < 0) return -1;
    if (P->tok.kind == TOK_IDENT) {
        if (!(c->errno_name = arena_strndup(P->a, P->tok.text, P->tok.len))) return oom(P);
        if (advance(P) < 0) return -1;
    }
    if (is_punct(P, '(')) {
        struct tok note;
        if (lex_raw_paren(&P->lx, &note) < 0) return -1;
        if (!(c->note = arena_strndup(P->a, note.text, note.len))) return oom(P);
        if (advance(P) < 0) return -1;
    }
    return 0;
}

/* ---- shell commands and code blocks ---- */

static int parse_shell(struct parser *P, struct pkt_shell *sh)
{
    char *text = arena_strndup(P->a, P->tok.text, P->tok.len);
    if (!text) return oom(P);
    sh->command = text;
    if (shell_analyze(P->a, text, P->base_dir, sh) < 0) return oom(P);
    return advance(P);
}

/* `assert tcpi_state == TCPI_NAME`: NAME, else NULL. */
static const char *code_tcpi_state(struct parser *P, const char *text)
{
    static const char prefix[] = "assert tcpi_state == TCPI_";
    const char *p = text;
    while (isspace((unsigned char)*p)) p++;
    if (strncmp(p, prefix, sizeof(prefix) - 1) != 0) return NULL;
    p += sizeof(prefix) - 1;
    const char *s = p;
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    const char *e = p;
    while (isspace((unsigned char)*p)) p++;
    if (*p || e == s) return NULL;
    return arena_strndup(P->a, s, (size_t)(e - s));
}

static int parse_code(struct parser *P, struct pkt_code *c)
{
    char *text = arena_strndup(P->a, P->tok.text, P->tok.len);
    if (!text) return oom(P);
    c->text = text;
    c->tcpi_state = code_tcpi_state(P, text);
    return advance(P);
}

/* ---- events ---- */

static int parse_event(struct parser *P)
{
    P->s->events =
        arena_grow(P->a, P->s->events, P->s->nevents, &P->cap_events, sizeof(*P->s->events));
    if (!P->s->events) return oom(P);
    struct pkt_event *ev = &P->s->events[P->s->nevents];
    memset(ev, 0, sizeof(*ev));
    ev->pos = P->tok.pos;
    if (parse_time(P, &ev->time) < 0) return -1;
    int r;
    if (is_punct(P, '<') || is_punct(P, '>')) {
        ev->kind = PKT_EV_PACKET;
        r = parse_packet(P, &ev->u.packet);
    } else if (P->tok.kind == TOK_IDENT) {
        ev->kind = PKT_EV_SYSCALL;
        r = parse_syscall(P, &ev->u.call);
    } else if (P->tok.kind == TOK_SHELL) {
        ev->kind = PKT_EV_SHELL;
        r = parse_shell(P, &ev->u.shell);
    } else if (P->tok.kind == TOK_CODE) {
        ev->kind = PKT_EV_CODE;
        r = parse_code(P, &ev->u.code);
    } else {
        return unexpected(P, "a packet ('<' or '>'), a system call, a `command` or %{ code }%");
    }
    if (r < 0) return -1;
    P->s->nevents++;
    return 0;
}

/* ---- option lines ---- */

static int option_int(struct parser *P, const struct pkt_option *o, int64_t lo, int64_t hi,
                      int64_t *out)
{
    char *e;
    errno = 0;
    long long v = o->value ? strtoll(o->value, &e, 10) : 0;
    if (!o->value || !*o->value || errno || *e || v < lo || v > hi)
        return lex_error(&P->lx, o->pos, "--%s needs a number from %lld to %lld", o->name,
                         (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

static int option_ip(struct parser *P, const struct pkt_option *o, uint32_t *out)
{
    unsigned b[4];
    char tail;
    if (!o->value ||
        sscanf(o->value, "%3u.%3u.%3u.%3u%c", &b[0], &b[1], &b[2], &b[3], &tail) != 4 ||
        b[0] > 255 || b[1] > 255 || b[2] > 255 || b[3] > 255)
        return lex_error(&P->lx, o->pos, "--%s needs an IPv4 address A.B.C.D", o->name);
    *out = b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
    return 0;
}

/* Checks the options the runner acts on and records them in config. */
static int apply_option(struct parser *P, const struct pkt_option *o)
{
    struct pkt_config *c = &P->s->config;
    int64_t v;
    if (!strcmp(o->name, "ip_version")) {
        if (o->value && !strcmp(o->value, "ipv4"))
            c->ip_version = 4;
        else if (o->value && !strcmp(o->value, "ipv6"))
            c->ip_version = 6;
        else if (o->value && !strcmp(o->value, "ipv4-mapped-ipv6"))
            c->ip_version = 46;
        else
            return lex_error(&P->lx, o->pos, "--ip_version is ipv4, ipv6 or ipv4-mapped-ipv6");
    } else if (!strcmp(o->name, "tolerance_usecs")) {
        if (option_int(P, o, 0, INT32_MAX, &v) < 0) return -1;
        c->tolerance_usecs = v;
    } else if (!strcmp(o->name, "mtu")) {
        if (option_int(P, o, 68, 65535, &v) < 0) return -1;
        c->mtu = (uint32_t)v;
    } else if (!strcmp(o->name, "mss")) {
        if (option_int(P, o, 1, 65535, &v) < 0) return -1;
        c->mss = (uint32_t)v;
    } else if (!strcmp(o->name, "tcp_ts_tick_usecs")) {
        if (option_int(P, o, 0, INT32_MAX, &v) < 0) return -1;
        c->ts_tick_usecs = (uint32_t)v;
    } else if (!strcmp(o->name, "bind_port") || !strcmp(o->name, "connect_port")) {
        if (option_int(P, o, 1, 65535, &v) < 0) return -1;
        *(o->name[0] == 'b' ? &c->bind_port : &c->connect_port) = (uint16_t)v;
    } else if (!strcmp(o->name, "local_ip")) {
        return option_ip(P, o, &c->local_ip);
    } else if (!strcmp(o->name, "remote_ip")) {
        return option_ip(P, o, &c->remote_ip);
    }
    return 0;
}

static int parse_option(struct parser *P)
{
    const struct tok *t = &P->tok;
    struct pkt_pos pos = {t->pos.line, t->pos.col};
    const char *eq = memchr(t->text, '=', t->len);
    size_t nl = eq ? (size_t)(eq - t->text) : t->len;
    if (nl == 0) return lex_error(&P->lx, pos, "an option line needs a name: --name=value");
    for (size_t i = 0; i < nl; i++)
        if (!isalnum((unsigned char)t->text[i]) && t->text[i] != '_' && t->text[i] != '-')
            return lex_error(&P->lx, pos, "bad option name '%.*s'", (int)nl, t->text);
    P->s->options =
        arena_grow(P->a, P->s->options, P->s->noptions, &P->cap_options, sizeof(*P->s->options));
    if (!P->s->options) return oom(P);
    struct pkt_option *o = &P->s->options[P->s->noptions++];
    o->pos = pos;
    o->name = arena_strndup(P->a, t->text, nl);
    o->value = eq ? arena_strndup(P->a, eq + 1, t->len - nl - 1) : NULL;
    if (!o->name || (eq && !o->value)) return oom(P);
    if (apply_option(P, o) < 0) return -1;
    return advance(P);
}

/* ---- entry points ---- */

/* Scripts are text: a NUL byte anywhere (in a comment, a command) is an
 * error, so every piece of text in the script is a C string. */
static int check_text(struct parser *P, const char *text, size_t len)
{
    const char *nul = memchr(text, 0, len);
    if (!nul) return 0;
    struct pkt_pos pos = {1, 1};
    for (const char *p = text; p < nul; p++) {
        if (*p == '\n') {
            pos.line++;
            pos.col = 1;
        } else {
            pos.col++;
        }
    }
    return lex_error(&P->lx, pos, "NUL byte in the script");
}

static void config_defaults(struct pkt_config *c)
{
    memset(c, 0, sizeof(*c));
    c->ip_version = 4;
    c->tolerance_usecs = 4000; /* packetdrill's default */
    c->mtu = 1500;
}

static int parse_untimed(struct parser *P, struct pkt_untimed **out)
{
    struct pkt_untimed *u = arena_alloc(P->a, sizeof(*u));
    if (!u) return oom(P);
    u->pos = P->tok.pos;
    *out = u;
    return parse_shell(P, &u->shell);
}

static int parse_script(struct parser *P)
{
    if (advance(P) < 0) return -1;
    while (P->tok.kind == TOK_OPTION)
        if (parse_option(P) < 0) return -1;
    if (P->tok.kind == TOK_SHELL && parse_untimed(P, &P->s->init) < 0) return -1;
    while (P->tok.kind != TOK_EOF) {
        if (P->tok.kind == TOK_OPTION)
            return lex_error(&P->lx, P->tok.pos, "option lines must come before the first event");
        if (P->tok.kind == TOK_SHELL && P->s->nevents > 0 && !P->s->cleanup) {
            if (parse_untimed(P, &P->s->cleanup) < 0) return -1;
            if (P->tok.kind != TOK_EOF)
                return lex_error(&P->lx, P->s->cleanup->pos,
                                 "a `command` without a time may only come right after the "
                                 "options or after the last event");
            break;
        }
        if (parse_event(P) < 0) return -1;
    }
    return 0;
}

int pkt_parse_buffer(const char *name, const char *text, size_t len,
                     const struct pkt_parse_opts *opts, struct pkt_script **out,
                     struct pkt_error *err)
{
    static const struct pkt_parse_opts none = {NULL, 0, NULL, false};
    if (!opts) opts = &none;
    struct pkt_error scratch;
    if (!err) err = &scratch;
    memset(err, 0, sizeof(*err));
    snprintf(err->file, sizeof(err->file), "%s", name ? name : "<script>");
    *out = NULL;

    struct parser P;
    memset(&P, 0, sizeof(P));
    P.a = arena_new();
    if (!P.a) {
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return -1;
    }
    P.s = arena_alloc(P.a, sizeof(*P.s));
    if (!P.s) {
        arena_free(P.a);
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return -1;
    }
    P.s->arena = P.a;
    P.s->path = arena_strndup(P.a, err->file, strlen(err->file));
    config_defaults(&P.s->config);
    P.base_dir = opts->base_dir;
    lex_init(&P.lx, text, len, opts->defines, opts->ndefines, !opts->no_standard, P.a, err);
    if (!P.s->path || check_text(&P, text, len) < 0 || parse_script(&P) < 0) {
        if (!err->msg[0]) snprintf(err->msg, sizeof(err->msg), "out of memory");
        arena_free(P.a);
        return -1;
    }
    *out = P.s;
    return 0;
}

int pkt_parse_file(const char *path, const struct pkt_parse_opts *opts, struct pkt_script **out,
                   struct pkt_error *err)
{
    struct pkt_error scratch;
    if (!err) err = &scratch;
    memset(err, 0, sizeof(*err));
    snprintf(err->file, sizeof(err->file), "%s", path);
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->msg, sizeof(err->msg), "%s", strerror(errno));
        return -1;
    }
    char *buf = malloc(SCRIPT_SIZE_MAX);
    size_t n = buf ? fread(buf, 1, SCRIPT_SIZE_MAX, f) : 0;
    bool too_big = buf && n == SCRIPT_SIZE_MAX;
    fclose(f);
    if (!buf) {
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return -1;
    }
    if (too_big) {
        free(buf);
        snprintf(err->msg, sizeof(err->msg), "script larger than %u bytes", SCRIPT_SIZE_MAX);
        return -1;
    }
    struct pkt_parse_opts o = {NULL, 0, NULL, false};
    if (opts) o = *opts;
    char dir[4096];
    if (!o.base_dir) {
        snprintf(dir, sizeof(dir), "%s", path);
        o.base_dir = dirname(dir);
    }
    int r = pkt_parse_buffer(path, buf, n, &o, out, err);
    free(buf);
    return r;
}

void pkt_script_free(struct pkt_script *s)
{
    if (s) arena_free(s->arena);
}

static bool is_valid_define_name(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_') return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_') return false;
    return true;
}

int pkt_define_parse(char *arg, struct pkt_define *d)
{
    char *eq = strchr(arg, '=');
    if (eq) *eq = 0;
    if (!is_valid_define_name(arg)) return -1;
    d->name = arg;
    d->value = eq ? eq + 1 : "";
    return 0;
}
