/*
 * lex.c: the tokens of a packetdrill script.
 *
 * Besides tokens, the lexer owns everything that is about the text rather
 * than the grammar: blanks and both comment styles, `--option` lines, the
 * raw text of backquoted shell commands and %{ }% blocks, the FreeBSD fork's
 * #ifdef/#ifndef/#else/#endif lines (a skipped branch is never tokenized, so
 * it may hold anything), and -D macros (an identifier naming a definition is
 * replaced by the definition's tokens, which report the position of the
 * identifier).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "pkt/internal.h"

/* Predefined for #ifdef only: the shared scripts' portable branch. */
static const char STANDARD_NAME[] = "STANDARD";

int lex_error(struct lexer *lx, struct pkt_pos pos, const char *fmt, ...)
{
    if (lx->err && !lx->err->msg[0]) {
        lx->err->pos = pos;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(lx->err->msg, sizeof(lx->err->msg), fmt, ap);
        va_end(ap);
    }
    return -1;
}

void lex_init(struct lexer *lx, const char *text, size_t len, const struct pkt_define *defines,
              size_t ndefines, bool standard, struct pkt_arena *arena, struct pkt_error *err)
{
    memset(lx, 0, sizeof(*lx));
    lx->p = text;
    lx->end = text + len;
    lx->line_start = text;
    lx->line = 1;
    lx->bol = true;
    lx->defines = defines;
    lx->ndefines = ndefines;
    lx->standard = standard;
    lx->arena = arena;
    lx->err = err;
}

/* ---- the current source: the script, or the innermost macro ---- */

static bool in_macro(const struct lexer *lx)
{
    return lx->nmacro > 0;
}

static const char *src_p(const struct lexer *lx)
{
    return in_macro(lx) ? lx->macro[lx->nmacro - 1].p : lx->p;
}

static const char *src_end(const struct lexer *lx)
{
    return in_macro(lx) ? lx->macro[lx->nmacro - 1].end : lx->end;
}

static struct pkt_pos here(const struct lexer *lx)
{
    if (in_macro(lx)) return lx->macro[lx->nmacro - 1].pos;
    struct pkt_pos pos = {lx->line, (uint32_t)(lx->p - lx->line_start) + 1};
    return pos;
}

/* Moves the current source to `to`, counting lines in the script. */
static void advance_to(struct lexer *lx, const char *to)
{
    if (in_macro(lx)) {
        lx->macro[lx->nmacro - 1].p = to;
        return;
    }
    for (const char *q = lx->p; q < to; q++) {
        if (*q == '\n') {
            lx->line++;
            lx->line_start = q + 1;
            lx->bol = true;
        } else if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\f' && *q != '\v') {
            lx->bol = false;
        }
    }
    lx->p = to;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}
static bool is_ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}
static bool is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && is_blank(*p)) p++;
    return p;
}

static const char *line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl : end;
}

/* ---- #ifdef blocks ---- */

static bool is_defined(const struct lexer *lx, const char *name, size_t len)
{
    if (lx->standard && len == sizeof(STANDARD_NAME) - 1 && !memcmp(name, STANDARD_NAME, len))
        return true;
    for (size_t i = 0; i < lx->ndefines; i++)
        if (strlen(lx->defines[i].name) == len && !memcmp(lx->defines[i].name, name, len))
            return true;
    return false;
}

enum directive { DIR_IFDEF, DIR_IFNDEF, DIR_ELSE, DIR_ENDIF, DIR_UNKNOWN };

struct dline {
    enum directive kind;
    const char *name; /* the NAME of #ifdef/#ifndef */
    size_t name_len;
};

/* Parses the directive line at p (which points at '#'). With `strict`, a
 * malformed line is an error; skipped branches are read leniently, as a C
 * preprocessor reads them. */
static int parse_directive(struct lexer *lx, const char *p, bool strict, struct dline *d)
{
    struct pkt_pos pos = here(lx);
    const char *end = line_end(p, lx->end);
    const char *q = skip_blanks(p + 1, end);
    const char *w = q;
    while (q < end && is_ident_char(*q)) q++;
    size_t wl = (size_t)(q - w);
    memset(d, 0, sizeof(*d));
    if (wl == 5 && !memcmp(w, "ifdef", 5))
        d->kind = DIR_IFDEF;
    else if (wl == 6 && !memcmp(w, "ifndef", 6))
        d->kind = DIR_IFNDEF;
    else if (wl == 4 && !memcmp(w, "else", 4))
        d->kind = DIR_ELSE;
    else if (wl == 5 && !memcmp(w, "endif", 5))
        d->kind = DIR_ENDIF;
    else
        d->kind = DIR_UNKNOWN;
    if (!strict) return 0;
    if (d->kind == DIR_UNKNOWN)
        return lex_error(lx, pos, "unknown directive '#%.*s' (only #ifdef, #ifndef, #else, #endif)",
                         (int)wl, w);
    if (d->kind == DIR_IFDEF || d->kind == DIR_IFNDEF) {
        q = skip_blanks(q, end);
        if (q >= end || !is_ident_start(*q))
            return lex_error(lx, pos, "#%.*s needs a name", (int)wl, w);
        d->name = q;
        while (q < end && is_ident_char(*q)) q++;
        d->name_len = (size_t)(q - d->name);
    }
    q = skip_blanks(q, end);
    if (q < end && !(end - q >= 2 && q[0] == '/' && q[1] == '/'))
        return lex_error(lx, pos, "unexpected text after #%.*s", (int)wl, w);
    return 0;
}

/* Skips lines until the branch this skip started in ends: an #else or
 * #endif at the same nesting level. Leaves p at the end of that line. */
static int skip_branch(struct lexer *lx)
{
    int nested = 0;
    while (lx->p < lx->end) {
        const char *end = line_end(lx->p, lx->end);
        const char *q = skip_blanks(lx->p, end);
        if (q < end && *q == '#') {
            advance_to(lx, q);
            struct dline d;
            parse_directive(lx, q, false, &d);
            if (d.kind == DIR_IFDEF || d.kind == DIR_IFNDEF) {
                nested++;
            } else if (d.kind == DIR_ENDIF) {
                if (nested == 0) {
                    struct dline strict_d;
                    if (parse_directive(lx, q, true, &strict_d) < 0) return -1;
                    lx->ncond--;
                    advance_to(lx, end);
                    return 0;
                }
                nested--;
            } else if (d.kind == DIR_ELSE && nested == 0) {
                struct dline strict_d;
                if (parse_directive(lx, q, true, &strict_d) < 0) return -1;
                struct lex_cond *c = &lx->cond[lx->ncond - 1];
                if (c->in_else) return lex_error(lx, here(lx), "#else after #else");
                c->in_else = true;
                advance_to(lx, end);
                return 0;
            }
        }
        advance_to(lx, end < lx->end ? end + 1 : end);
    }
    return lex_error(lx, lx->cond[lx->ncond - 1].pos, "#ifdef without #endif");
}

/* Handles the directive at p while taking lines. */
static int directive(struct lexer *lx, const char *p)
{
    struct pkt_pos pos = here(lx);
    struct dline d;
    if (parse_directive(lx, p, true, &d) < 0) return -1;
    advance_to(lx, line_end(p, lx->end));
    switch (d.kind) {
    case DIR_IFDEF:
    case DIR_IFNDEF: {
        if (lx->ncond == LEX_COND_DEPTH) return lex_error(lx, pos, "#ifdef nested too deeply");
        struct lex_cond *c = &lx->cond[lx->ncond++];
        c->pos = pos;
        c->in_else = false;
        bool take = is_defined(lx, d.name, d.name_len) == (d.kind == DIR_IFDEF);
        return take ? 0 : skip_branch(lx);
    }
    case DIR_ELSE: {
        if (lx->ncond == 0) return lex_error(lx, pos, "#else without #ifdef");
        struct lex_cond *c = &lx->cond[lx->ncond - 1];
        if (c->in_else) return lex_error(lx, pos, "#else after #else");
        c->in_else = true;
        /* We were taking the branch before it, so this one is skipped. */
        return skip_branch(lx);
    }
    case DIR_ENDIF:
        if (lx->ncond == 0) return lex_error(lx, pos, "#endif without #ifdef");
        lx->ncond--;
        return 0;
    case DIR_UNKNOWN:
        break;
    }
    return -1;
}

/* ---- blanks, comments, directives; the end of macros ---- */

static int skip_space(struct lexer *lx)
{
    for (;;) {
        const char *p = src_p(lx), *end = src_end(lx);
        if (p >= end) {
            if (in_macro(lx)) {
                lx->nmacro--;
                continue;
            }
            return 0;
        }
        if (is_blank(*p) || *p == '\n') {
            advance_to(lx, p + 1);
            continue;
        }
        if (*p == '/' && end - p >= 2 && p[1] == '/') {
            advance_to(lx, line_end(p, end));
            continue;
        }
        if (*p == '/' && end - p >= 2 && p[1] == '*') {
            struct pkt_pos pos = here(lx);
            const char *q = p + 2;
            while (end - q >= 2 && !(q[0] == '*' && q[1] == '/')) q++;
            if (end - q < 2) return lex_error(lx, pos, "unterminated /* comment");
            advance_to(lx, q + 2);
            continue;
        }
        if (*p == '#' && !in_macro(lx) && lx->bol) {
            if (directive(lx, p) < 0) return -1;
            continue;
        }
        return 0;
    }
}

/* ---- tokens ---- */

static void set_tok(struct tok *t, enum tok_kind kind, struct pkt_pos pos, const char *text,
                    size_t len)
{
    t->kind = kind;
    t->pos = pos;
    t->text = text;
    t->len = len;
    t->punct = 0;
}

static const struct pkt_define *find_define(const struct lexer *lx, const char *name, size_t len)
{
    for (size_t i = lx->ndefines; i-- > 0;) /* the last definition wins */
        if (strlen(lx->defines[i].name) == len && !memcmp(lx->defines[i].name, name, len))
            return &lx->defines[i];
    return NULL;
}

static bool macro_active(const struct lexer *lx, const char *name)
{
    for (int i = 0; i < lx->nmacro; i++)
        if (lx->macro[i].name == name) return true;
    return false;
}

/* Reads "..." at p; decodes C escapes into the arena. */
static int lex_string(struct lexer *lx, struct tok *t, struct pkt_pos pos)
{
    const char *p = src_p(lx) + 1, *end = src_end(lx);
    char *buf = arena_alloc(lx->arena, (size_t)(end - p) + 1);
    if (!buf) return lex_error(lx, pos, "out of memory");
    size_t n = 0;
    while (p < end && *p != '"') {
        if (*p == '\n') break;
        if (*p != '\\') {
            buf[n++] = *p++;
            continue;
        }
        if (end - p < 2) break;
        /* Escape errors point at the backslash (strings stay on one line). */
        struct pkt_pos epos = pos;
        if (!in_macro(lx)) epos.col += (uint32_t)(p - src_p(lx));
        char e = p[1];
        p += 2;
        switch (e) {
        case 'n':
            buf[n++] = '\n';
            break;
        case 't':
            buf[n++] = '\t';
            break;
        case 'r':
            buf[n++] = '\r';
            break;
        case '0':
            buf[n++] = '\0';
            break;
        case '\\':
            buf[n++] = '\\';
            break;
        case '"':
            buf[n++] = '"';
            break;
        case 'x': {
            int v = 0, digits = 0;
            while (digits < 2 && p < end && isxdigit((unsigned char)*p)) {
                v = v * 16 + (isdigit((unsigned char)*p) ? *p - '0' : (tolower(*p) - 'a' + 10));
                p++;
                digits++;
            }
            if (!digits) return lex_error(lx, epos, "\\x needs hex digits");
            buf[n++] = (char)v;
            break;
        }
        default:
            return lex_error(lx, epos, "unknown escape '\\%c' in string", e);
        }
    }
    if (p >= end || *p != '"') return lex_error(lx, pos, "unterminated string");
    advance_to(lx, p + 1);
    set_tok(t, TOK_STRING, pos, buf, n);
    return 0;
}

/* Reads text up to a terminator (backquote, `}%`) that may span lines. */
static int lex_delimited(struct lexer *lx, struct tok *t, struct pkt_pos pos, size_t open_len,
                         const char *close, enum tok_kind kind, const char *what)
{
    const char *p = src_p(lx) + open_len, *end = src_end(lx);
    size_t cl = strlen(close);
    const char *q = p;
    while ((size_t)(end - q) >= cl && memcmp(q, close, cl) != 0) q++;
    if ((size_t)(end - q) < cl) return lex_error(lx, pos, "unterminated %s", what);
    advance_to(lx, q + cl);
    set_tok(t, kind, pos, p, (size_t)(q - p));
    return 0;
}

static int lex_number(struct lexer *lx, struct tok *t, struct pkt_pos pos)
{
    const char *p = src_p(lx), *end = src_end(lx), *s = p;
    if (end - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        while (p < end && isxdigit((unsigned char)*p)) p++;
        if (p == s + 2) return lex_error(lx, pos, "0x needs hex digits");
    } else {
        while (p < end && isdigit((unsigned char)*p)) p++;
        /* A fraction, but not the start of `...` (`+0...0.2`). */
        if (p < end && *p == '.' && !(end - p >= 2 && p[1] == '.')) {
            p++;
            while (p < end && isdigit((unsigned char)*p)) p++;
        }
    }
    advance_to(lx, p);
    set_tok(t, TOK_NUMBER, pos, s, (size_t)(p - s));
    return 0;
}

int lex_next(struct lexer *lx, struct tok *t)
{
    for (;;) {
        if (skip_space(lx) < 0) return -1;
        const char *p = src_p(lx), *end = src_end(lx);
        struct pkt_pos pos = here(lx);
        if (p >= end) {
            if (lx->ncond > 0)
                return lex_error(lx, lx->cond[lx->ncond - 1].pos, "#ifdef without #endif");
            set_tok(t, TOK_EOF, pos, p, 0);
            return 0;
        }
        char c = *p;
        if (c == '-' && end - p >= 2 && p[1] == '-' && !in_macro(lx) && lx->bol) {
            const char *e = line_end(p, end);
            /* A trailing `// comment` is not part of the value. */
            for (const char *q = p + 2; q + 1 < e; q++)
                if (q[0] == '/' && q[1] == '/' && is_blank(q[-1])) {
                    e = q;
                    break;
                }
            while (e > p + 2 && is_blank(e[-1])) e--;
            advance_to(lx, e);
            set_tok(t, TOK_OPTION, pos, p + 2, (size_t)(e - p - 2));
            return 0;
        }
        if (isdigit((unsigned char)c) || (c == '.' && end - p >= 2 && isdigit((unsigned char)p[1])))
            return lex_number(lx, t, pos);
        if (is_ident_start(c)) {
            const char *q = p;
            while (q < end && is_ident_char(*q)) q++;
            advance_to(lx, q);
            const struct pkt_define *d = find_define(lx, p, (size_t)(q - p));
            if (d && !macro_active(lx, d->name)) {
                if (lx->nmacro == LEX_MACRO_DEPTH)
                    return lex_error(lx, pos, "macros nested too deeply");
                struct lex_src *m = &lx->macro[lx->nmacro++];
                m->p = d->value;
                m->end = d->value + strlen(d->value);
                m->pos = pos;
                m->name = d->name;
                continue;
            }
            set_tok(t, TOK_IDENT, pos, p, (size_t)(q - p));
            return 0;
        }
        if (c == '"') return lex_string(lx, t, pos);
        if (c == '`') return lex_delimited(lx, t, pos, 1, "`", TOK_SHELL, "backquoted command");
        if (c == '%' && end - p >= 2 && p[1] == '{')
            return lex_delimited(lx, t, pos, 2, "}%", TOK_CODE, "%{ code block");
        if (c == '.' && end - p >= 3 && p[1] == '.' && p[2] == '.') {
            advance_to(lx, p + 3);
            set_tok(t, TOK_ELLIPSIS, pos, p, 3);
            return 0;
        }
        if (strchr("()[]{},=|:<>+-*~.", c)) {
            advance_to(lx, p + 1);
            set_tok(t, TOK_PUNCT, pos, p, 1);
            t->punct = c;
            return 0;
        }
        if (isprint((unsigned char)c)) return lex_error(lx, pos, "unexpected character '%c'", c);
        return lex_error(lx, pos, "unexpected byte 0x%02x", (unsigned char)c);
    }
}

/* Raw reads continue in the enclosing source once a macro is used up. */
static void pop_finished_macros(struct lexer *lx)
{
    while (in_macro(lx) && src_p(lx) >= src_end(lx)) lx->nmacro--;
}

int lex_raw_word(struct lexer *lx, struct tok *t)
{
    pop_finished_macros(lx);
    if (in_macro(lx)) advance_to(lx, skip_blanks(src_p(lx), src_end(lx)));
    pop_finished_macros(lx);
    const char *p = skip_blanks(src_p(lx), src_end(lx)), *end = src_end(lx);
    advance_to(lx, p);
    struct pkt_pos pos = here(lx);
    const char *q = p;
    while (q < end && !is_blank(*q) && *q != '\n') q++;
    advance_to(lx, q);
    set_tok(t, TOK_RAW, pos, p, (size_t)(q - p));
    return 0;
}

int lex_raw_paren(struct lexer *lx, struct tok *t)
{
    pop_finished_macros(lx);
    const char *p = src_p(lx), *end = src_end(lx);
    struct pkt_pos pos = here(lx);
    int depth = 1;
    const char *q = p;
    for (; q < end; q++) {
        if (*q == '\n') break;
        if (*q == '(') depth++;
        if (*q == ')' && --depth == 0) break;
    }
    if (q >= end || *q != ')') return lex_error(lx, pos, "unterminated '(' note");
    advance_to(lx, q + 1);
    set_tok(t, TOK_RAW, pos, p, (size_t)(q - p));
    return 0;
}
