/*
 * shell.c: what a backquoted shell command in a script means for ustack.
 *
 * The runner never executes shell commands. The ones that matter set
 * sysctls: FreeBSD scripts run `sysctl -w net.inet.tcp.X=V` one per line,
 * Linux scripts source ../common/defaults.sh (`sysctl -q net.ipv4.X=V`, with
 * shell arithmetic such as $((15*1024*1024))) and call set_sysctls.py with
 * /proc/sys paths. This module reads those forms, maps the sysctls ustack
 * has a setting for (pkt.h: enum pkt_setting) and lists everything else as
 * ignored so the report can show it. A sourced file is read only when the
 * caller gives a base directory.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt/internal.h"

#define SHELL_FILE_MAX  (256 * 1024)
#define SHELL_DEPTH_MAX 2 /* a script sources a file that sources a file */
#define SHELL_WORDS_MAX 64
#define SHELL_WORD_MAX  512

struct shell_out {
    struct pkt_arena *a;
    struct pkt_shell *sh;
    uint32_t cap_settings, cap_ignored;
};

static int add_ignored(struct shell_out *o, const char *text, size_t len)
{
    o->sh->ignored =
        arena_grow(o->a, o->sh->ignored, o->sh->nignored, &o->cap_ignored, sizeof(*o->sh->ignored));
    if (!o->sh->ignored) return -1;
    const char *copy = arena_strndup(o->a, text, len);
    if (!copy) return -1;
    o->sh->ignored[o->sh->nignored++] = copy;
    return 0;
}

static int add_setting(struct shell_out *o, enum pkt_setting s, const char *name, const char *text,
                       int64_t value)
{
    o->sh->settings = arena_grow(o->a, o->sh->settings, o->sh->nsettings, &o->cap_settings,
                                 sizeof(*o->sh->settings));
    if (!o->sh->settings) return -1;
    struct pkt_sysctl *e = &o->sh->settings[o->sh->nsettings];
    e->setting = s;
    e->sysctl = arena_strndup(o->a, name, strlen(name));
    e->text = arena_strndup(o->a, text, strlen(text));
    e->value = value;
    if (!e->sysctl || !e->text) return -1;
    o->sh->nsettings++;
    return 0;
}

/* ---- $(( )) arithmetic: + - * / % and parentheses on 64-bit integers ---- */

struct arith {
    const char *p, *end;
    bool bad;
    int depth;
};

static int64_t arith_expr(struct arith *ar);

static void arith_blanks(struct arith *ar)
{
    while (ar->p < ar->end && isspace((unsigned char)*ar->p)) ar->p++;
}

static int64_t arith_factor(struct arith *ar)
{
    arith_blanks(ar);
    if (ar->p >= ar->end || ++ar->depth > 32) {
        ar->bad = true;
        return 0;
    }
    int64_t v = 0;
    if (*ar->p == '(') {
        ar->p++;
        v = arith_expr(ar);
        arith_blanks(ar);
        if (ar->p >= ar->end || *ar->p != ')')
            ar->bad = true;
        else
            ar->p++;
    } else if (*ar->p == '-') {
        ar->p++;
        v = arith_factor(ar);
        if (v == INT64_MIN)
            ar->bad = true;
        else
            v = -v;
    } else if (isdigit((unsigned char)*ar->p)) {
        char *e;
        errno = 0;
        unsigned long long u = strtoull(ar->p, &e, 0);
        if (errno || u > INT64_MAX || e > ar->end) ar->bad = true;
        v = (int64_t)u;
        ar->p = e;
    } else {
        ar->bad = true;
    }
    ar->depth--;
    return v;
}

static int64_t arith_term(struct arith *ar)
{
    int64_t v = arith_factor(ar);
    for (;;) {
        arith_blanks(ar);
        if (ar->bad || ar->p >= ar->end || !strchr("*/%", *ar->p)) return v;
        char op = *ar->p++;
        int64_t r = arith_factor(ar);
        if (op == '*') {
            if (__builtin_mul_overflow(v, r, &v)) ar->bad = true;
        } else if (r == 0 || (v == INT64_MIN && r == -1)) {
            ar->bad = true;
        } else {
            v = op == '/' ? v / r : v % r;
        }
    }
}

static int64_t arith_expr(struct arith *ar)
{
    int64_t v = arith_term(ar);
    for (;;) {
        arith_blanks(ar);
        if (ar->bad || ar->p >= ar->end || (*ar->p != '+' && *ar->p != '-')) return v;
        char op = *ar->p++;
        int64_t r = arith_term(ar);
        if (op == '+' ? __builtin_add_overflow(v, r, &v) : __builtin_sub_overflow(v, r, &v))
            ar->bad = true;
    }
}

/* ---- words ---- */

struct words {
    char w[SHELL_WORDS_MAX][SHELL_WORD_MAX];
    int n;
    bool bad; /* something we do not model: leave the command ignored */
};

static void word_putc(struct words *ws, size_t *len, char c)
{
    if (*len + 1 >= SHELL_WORD_MAX) {
        ws->bad = true;
        return;
    }
    ws->w[ws->n][(*len)++] = c;
}

/* Expands $((expr)) at p (pointing at '$'); returns the position after it. */
static const char *expand_arith(struct words *ws, size_t *len, const char *p, const char *end)
{
    const char *s = p + 3; /* after "$((" */
    int depth = 2;
    const char *q = s;
    for (; q < end; q++) {
        if (*q == '(') depth++;
        if (*q == ')' && --depth == 0) break;
    }
    if (q >= end || q - s < 1 || q[-1] != ')') {
        ws->bad = true;
        return end;
    }
    struct arith ar = {s, q - 1, false, 0};
    int64_t v = arith_expr(&ar);
    arith_blanks(&ar);
    if (ar.bad || ar.p != ar.end) {
        ws->bad = true;
        return q + 1;
    }
    char num[24];
    snprintf(num, sizeof(num), "%lld", (long long)v);
    for (const char *c = num; *c; c++) word_putc(ws, len, *c);
    return q + 1;
}

/* Splits one command into words the way sh would for the forms we model:
 * blanks, '...' and "..." quoting, backslash escapes, $((...)), # comments.
 * Redirections (`> /dev/null`, `2>&1`) are dropped. */
static void split_words(const char *p, const char *end, struct words *ws)
{
    ws->n = 0;
    ws->bad = false;
    while (p < end && !ws->bad) {
        while (p < end && isspace((unsigned char)*p)) p++;
        if (p >= end || *p == '#') break; /* a comment runs to the end */
        if (ws->n == SHELL_WORDS_MAX) {
            ws->bad = true;
            return;
        }
        size_t len = 0;
        char quote = 0;
        while (p < end && !ws->bad && (quote || !isspace((unsigned char)*p))) {
            char c = *p;
            if (quote == '\'') {
                if (c == '\'')
                    quote = 0;
                else
                    word_putc(ws, &len, c);
                p++;
            } else if (c == '\'' && !quote) {
                quote = '\'';
                p++;
            } else if (c == '"') {
                quote = quote ? 0 : '"';
                p++;
            } else if (c == '\\' && end - p >= 2) {
                word_putc(ws, &len, p[1]);
                p += 2;
            } else if (c == '$' && end - p >= 3 && p[1] == '(' && p[2] == '(') {
                p = expand_arith(ws, &len, p, end);
            } else {
                word_putc(ws, &len, c);
                p++;
            }
        }
        if (quote) ws->bad = true;
        ws->w[ws->n][len] = 0;
        const char *w = ws->w[ws->n];
        /* A redirection: its target is the next word, unless attached. */
        const char *r = w;
        while (isdigit((unsigned char)*r)) r++;
        if (*r == '>' || *r == '<') {
            /* `>file`, `2>&1` carry their target; `>`, `>>` take the next word. */
            bool attached = r[1] && !(r[1] == '>' && !r[2]);
            if (!attached) {
                while (p < end && isspace((unsigned char)*p)) p++;
                while (p < end && !isspace((unsigned char)*p)) p++;
            }
            continue;
        }
        ws->n++;
    }
}

/* ---- sysctls ---- */

static bool parse_int(const char *s, int64_t *out)
{
    /* Decimal, or hex with 0x; a leading 0 is not octal here. */
    int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, base);
    if (errno || e == s || *e) return false;
    *out = v;
    return true;
}

/* Three numbers "min default max" (tcp_rmem, tcp_wmem). */
static bool parse_triple(const char *s, int64_t v[3])
{
    char *e;
    for (int i = 0; i < 3; i++) {
        errno = 0;
        v[i] = strtoll(s, &e, 10);
        if (errno || e == s) return false;
        s = e;
    }
    while (isspace((unsigned char)*s)) s++;
    return *s == 0;
}

struct simple_map {
    const char *name;
    enum pkt_setting setting;
};

static const struct simple_map simple[] = {
    {"net.ipv4.tcp_timestamps", PKT_SET_TIMESTAMPS},
    {"net.ipv4.tcp_window_scaling", PKT_SET_WINDOW_SCALING},
    {"net.ipv4.tcp_sack", PKT_SET_SACK},
    {"net.inet.tcp.sack.enable", PKT_SET_SACK},
    {"net.inet.tcp.recvspace", PKT_SET_RCVBUF},
    {"net.inet.tcp.sendspace", PKT_SET_SNDBUF},
    {"kern.ipc.maxsockbuf", PKT_SET_SOCKBUF_MAX},
    {"net.ipv4.tcp_syn_retries", PKT_SET_SYN_RETRIES},
    {"net.ipv4.tcp_synack_retries", PKT_SET_SYNACK_RETRIES},
    {"net.ipv4.tcp_syncookies", PKT_SET_SYNCOOKIES},
    {"net.inet.tcp.syncookies", PKT_SET_SYNCOOKIES},
    {"net.inet.tcp.syncookies_only", PKT_SET_SYNCOOKIES_ONLY},
    {"net.inet.tcp.insecure_rst", PKT_SET_INSECURE_RST},
    {"net.inet.tcp.insecure_syn", PKT_SET_INSECURE_SYN},
    {"net.ipv4.tcp_slow_start_after_idle", PKT_SET_SLOW_START_AFTER_IDLE},
    {"net.inet.tcp.rexmit_initial", PKT_SET_RTO_INITIAL},
    {"net.inet.tcp.drop_synfin", PKT_SET_DROP_SYNFIN},
};

static const char *const setting_names[] = {
    [PKT_SET_TIMESTAMPS] = "timestamps",
    [PKT_SET_WINDOW_SCALING] = "window_scaling",
    [PKT_SET_SACK] = "sack",
    [PKT_SET_RCVBUF] = "rcvbuf",
    [PKT_SET_RCVBUF_MAX] = "rcvbuf_max",
    [PKT_SET_SNDBUF] = "sndbuf",
    [PKT_SET_SNDBUF_MAX] = "sndbuf_max",
    [PKT_SET_SOCKBUF_MAX] = "sockbuf_max",
    [PKT_SET_SYN_RETRIES] = "syn_retries",
    [PKT_SET_SYNACK_RETRIES] = "synack_retries",
    [PKT_SET_SYNCOOKIES] = "syncookies",
    [PKT_SET_SYNCOOKIES_ONLY] = "syncookies_only",
    [PKT_SET_INSECURE_RST] = "insecure_rst",
    [PKT_SET_INSECURE_SYN] = "insecure_syn",
    [PKT_SET_CONGESTION] = "congestion",
    [PKT_SET_SLOW_START_AFTER_IDLE] = "slow_start_after_idle",
    [PKT_SET_RTO_INITIAL] = "rto_initial_ms",
    [PKT_SET_DROP_SYNFIN] = "drop_synfin",
};

const char *pkt_setting_name(enum pkt_setting s)
{
    if ((size_t)s >= sizeof(setting_names) / sizeof(setting_names[0]) || !setting_names[s])
        return "?";
    return setting_names[s];
}

/* Maps one `name=value`. Returns 1 mapped, 0 not ours, -1 out of memory. */
static int map_sysctl(struct shell_out *o, const char *name, const char *value)
{
    int64_t v, t[3];
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        if (strcmp(name, simple[i].name) != 0) continue;
        if (!parse_int(value, &v)) return 0;
        return add_setting(o, simple[i].setting, name, value, v) < 0 ? -1 : 1;
    }
    if (!strcmp(name, "net.inet.tcp.rfc1323")) {
        /* FreeBSD: 0 off, 1 both, 2 window scaling only, 3 timestamps only. */
        if (!parse_int(value, &v) || v < 0 || v > 3) return 0;
        if (add_setting(o, PKT_SET_WINDOW_SCALING, name, value, v == 1 || v == 2) < 0) return -1;
        if (add_setting(o, PKT_SET_TIMESTAMPS, name, value, v == 1 || v == 3) < 0) return -1;
        return 1;
    }
    if (!strcmp(name, "net.ipv4.tcp_rmem") || !strcmp(name, "net.ipv4.tcp_wmem")) {
        /* "min default max": ustack has a default and a ceiling. */
        if (!parse_triple(value, t)) return 0;
        bool r = !strcmp(name, "net.ipv4.tcp_rmem");
        if (add_setting(o, r ? PKT_SET_RCVBUF : PKT_SET_SNDBUF, name, value, t[1]) < 0) return -1;
        if (add_setting(o, r ? PKT_SET_RCVBUF_MAX : PKT_SET_SNDBUF_MAX, name, value, t[2]) < 0)
            return -1;
        return 1;
    }
    if (!strcmp(name, "net.ipv4.tcp_congestion_control"))
        return add_setting(o, PKT_SET_CONGESTION, name, value, 0) < 0 ? -1 : 1;
    return 0;
}

/* One `name=value` from sysctl or set_sysctls.py: mapped or ignored. */
static int one_sysctl(struct shell_out *o, const char *assign)
{
    const char *eq = strchr(assign, '=');
    char text[SHELL_WORD_MAX + 16];
    snprintf(text, sizeof(text), "sysctl %s", assign);
    if (!eq) return add_ignored(o, text, strlen(text));
    char name[SHELL_WORD_MAX];
    size_t nl = (size_t)(eq - assign);
    memcpy(name, assign, nl);
    name[nl] = 0;
    int r = map_sysctl(o, name, eq + 1);
    if (r < 0) return -1;
    return r ? 0 : add_ignored(o, text, strlen(text));
}

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int analyze_text(struct shell_out *o, const char *text, size_t len, const char *base_dir,
                        int depth);

/* A command that runs a shell file: read it and analyze its lines. */
static int source_file(struct shell_out *o, const char *file, const char *cmd, size_t cmdlen,
                       const char *base_dir, int depth)
{
    char path[4096];
    if (file[0] == '/')
        snprintf(path, sizeof(path), "%s", file);
    else
        snprintf(path, sizeof(path), "%s/%s", base_dir, file);
    FILE *f = depth < SHELL_DEPTH_MAX ? fopen(path, "r") : NULL;
    if (!f) return add_ignored(o, cmd, cmdlen);
    char *buf = malloc(SHELL_FILE_MAX);
    size_t n = buf ? fread(buf, 1, SHELL_FILE_MAX, f) : 0;
    fclose(f);
    if (!buf) return -1;
    int r = analyze_text(o, buf, n, base_dir, depth + 1);
    free(buf);
    return r;
}

static int analyze_command(struct shell_out *o, const char *p, const char *end,
                           const char *base_dir, int depth)
{
    while (p < end && isspace((unsigned char)*p)) p++;
    while (end > p && isspace((unsigned char)end[-1])) end--;
    if (p >= end || *p == '#') return 0;
    size_t len = (size_t)(end - p);
    struct words *ws = malloc(sizeof(*ws));
    if (!ws) return -1;
    split_words(p, end, ws);
    int r;
    const char *cmd = ws->n ? basename_of(ws->w[0]) : "";
    if (ws->bad || ws->n == 0) {
        r = add_ignored(o, p, len);
    } else if (!strcmp(cmd, "sysctl")) {
        r = 0;
        for (int i = 1; i < ws->n && r == 0; i++)
            if (ws->w[i][0] != '-') r = one_sysctl(o, ws->w[i]);
    } else if (!strcmp(cmd, "set_sysctls.py")) {
        /* /proc/sys/net/ipv4/tcp_min_tso_segs=10 is net.ipv4.tcp_min_tso_segs. */
        r = 0;
        for (int i = 1; i < ws->n && r == 0; i++) {
            const char *a = ws->w[i];
            if (strncmp(a, "/proc/sys/", 10) != 0) {
                r = add_ignored(o, a, strlen(a));
                continue;
            }
            char name[SHELL_WORD_MAX];
            snprintf(name, sizeof(name), "%s", a + 10);
            for (char *c = name; *c && *c != '='; c++)
                if (*c == '/') *c = '.';
            r = one_sysctl(o, name);
        }
    } else if (ends_with(ws->w[0], ".sh") && ws->n == 1 && base_dir && !strchr(ws->w[0], '$')) {
        r = source_file(o, ws->w[0], p, len, base_dir, depth);
    } else {
        r = add_ignored(o, p, len);
    }
    free(ws);
    return r;
}

static bool at_command_start(const char *start, const char *p)
{
    for (const char *q = start; q < p; q++)
        if (!isspace((unsigned char)*q)) return false;
    return true;
}

/* Commands end at newlines, `;` and `&&` (outside quotes). */
static int analyze_text(struct shell_out *o, const char *text, size_t len, const char *base_dir,
                        int depth)
{
    const char *p = text, *end = text + len, *start = text;
    char quote = 0;
    for (; p < end; p++) {
        char c = *p;
        if (quote) {
            if (c == quote) quote = 0;
            continue;
        }
        if (c == '#' && (at_command_start(start, p) || isspace((unsigned char)p[-1]))) {
            /* A comment (or #!) runs to the end of the line; quotes in it
             * do not count. */
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            p = (nl ? nl : end) - 1;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            continue;
        }
        bool sep2 = c == '&' && end - p >= 2 && p[1] == '&';
        if (c == '\n' || c == ';' || sep2) {
            if (analyze_command(o, start, p, base_dir, depth) < 0) return -1;
            if (sep2) p++;
            start = p + 1;
        }
    }
    return analyze_command(o, start, end, base_dir, depth);
}

int shell_analyze(struct pkt_arena *a, const char *command, const char *base_dir,
                  struct pkt_shell *out)
{
    struct shell_out o = {a, out, 0, 0};
    out->settings = NULL;
    out->nsettings = 0;
    out->ignored = NULL;
    out->nignored = 0;
    return analyze_text(&o, command, strlen(command), base_dir, 0);
}
