/*
 * internal.h: what the parser's modules share and nothing else includes:
 * the arena (arena.c), the lexer (lex.c) and the shell-command analysis
 * (shell.c).
 */
#ifndef USTACK_TOOLS_PKT_INTERNAL_H
#define USTACK_TOOLS_PKT_INTERNAL_H

#include <stdarg.h>

#include "pkt/pkt.h"

/* ---- arena.c: every allocation of one script, freed at once ---- */

struct pkt_arena *arena_new(void);
void arena_free(struct pkt_arena *a);
/* Zeroed memory; NULL only when malloc fails. */
void *arena_alloc(struct pkt_arena *a, size_t size);
/* A NUL-terminated copy of `len` bytes. */
char *arena_strndup(struct pkt_arena *a, const char *s, size_t len);
/* Grows a array of `*cap` elements of `size` bytes to hold one more, copying
 * the old contents (the old block stays in the arena until it is freed).
 * Returns the array (possibly moved) or NULL. */
void *arena_grow(struct pkt_arena *a, void *array, uint32_t count, uint32_t *cap, size_t size);

/* ---- lex.c: tokens, comments, #ifdef blocks and -D macros ---- */

enum tok_kind {
    TOK_EOF,
    TOK_NUMBER,   /* 12, 0x1f, 0.100, .5: text kept, the parser converts */
    TOK_IDENT,    /* [A-Za-z_][A-Za-z0-9_]* */
    TOK_STRING,   /* "..." with escapes decoded (text in lexer scratch) */
    TOK_ELLIPSIS, /* ... */
    TOK_PUNCT,    /* one character: ( ) [ ] { } , = | : < > + - * ~ . */
    TOK_SHELL,    /* `...`: the text between the backquotes */
    TOK_CODE,     /* %{ ... }%: the text between */
    TOK_OPTION,   /* a line starting with --: the text after the dashes */
    TOK_RAW,      /* from lex_raw_word() / lex_raw_paren() */
};

struct tok {
    enum tok_kind kind;
    struct pkt_pos pos;
    const char *text; /* not NUL-terminated */
    size_t len;
    char punct; /* TOK_PUNCT */
};

#define LEX_MACRO_DEPTH 8
#define LEX_COND_DEPTH  32

struct lex_src {
    const char *p, *end;
    struct pkt_pos pos; /* a macro's tokens all report where it was used */
    const char *name;   /* the macro being expanded */
};

struct lex_cond {
    struct pkt_pos pos; /* of the #ifdef, for "unterminated" */
    bool in_else;
};

struct lexer {
    const char *p, *end; /* the script text */
    const char *line_start;
    uint32_t line;
    bool bol; /* nothing but blanks so far on this line */
    struct lex_src macro[LEX_MACRO_DEPTH];
    int nmacro;
    struct lex_cond cond[LEX_COND_DEPTH];
    int ncond;
    const struct pkt_define *defines;
    size_t ndefines;
    bool standard;           /* STANDARD is defined for #ifdef */
    struct pkt_arena *arena; /* decoded strings */
    struct pkt_error *err;
};

void lex_init(struct lexer *lx, const char *text, size_t len, const struct pkt_define *defines,
              size_t ndefines, bool standard, struct pkt_arena *arena, struct pkt_error *err);
/* The next token. 0, or -1 with lx->err filled. */
int lex_next(struct lexer *lx, struct tok *t);
/* Reads the next blank-delimited word as it stands (packet flags: `S.`). */
int lex_raw_word(struct lexer *lx, struct tok *t);
/* After a `(` token: the text up to the matching `)`, which is consumed. */
int lex_raw_paren(struct lexer *lx, struct tok *t);
/* Fills lx->err at pos; returns -1. */
int lex_error(struct lexer *lx, struct pkt_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- shell.c: settings carried by backquoted commands ---- */

/* Fills `out` from `command`: sysctl settings that map to ustack settings,
 * and everything else as ignored. Files named by the command (a `.sh` that
 * the script sources) are read from base_dir when it is not NULL. Returns 0,
 * or -1 when memory runs out. */
int shell_analyze(struct pkt_arena *a, const char *command, const char *base_dir,
                  struct pkt_shell *out);

#endif
