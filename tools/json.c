/*
 * json.c: the JSON writer and reader (json.h).
 *
 * The writer owns the punctuation: callers say "object, key, value" and the
 * commas, colons, quotes and escapes follow. Strings are written as UTF-8;
 * a byte that is not part of a valid UTF-8 sequence becomes U+FFFD, so the
 * output is valid JSON whatever the caller hands in.
 *
 * The reader is a recursive descent over RFC 8259's grammar, with nesting
 * bounded by JSON_MAX_DEPTH so the C stack is bounded too.
 */
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t len;
    uint32_t cp, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, cp = s[0] & 0x1fu, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, cp = s[0] & 0x0fu, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, cp = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

/* ---- writing ---- */

void json_writer_init(struct json_writer *w, FILE *out, bool pretty)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->pretty = pretty;
    w->first[0] = true;
}

static void newline(struct json_writer *w)
{
    if (!w->pretty) return;
    fputc('\n', w->out);
    for (unsigned i = 0; i < w->depth; i++) fputs("  ", w->out);
}

/* Separates this value (or key) from the previous member of its container. */
static void separate(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0) return;
    if (!w->first[w->depth]) fputc(',', w->out);
    w->first[w->depth] = false;
    newline(w);
}

static void open_container(struct json_writer *w, char c)
{
    separate(w);
    fputc(c, w->out);
    /* Our documents are shallow; past the limit commas would go wrong, so
     * stop counting rather than overrun. */
    if (w->depth + 1 < JSON_MAX_DEPTH) w->depth++;
    w->first[w->depth] = true;
}

static void close_container(struct json_writer *w, char c)
{
    bool empty = w->first[w->depth];
    if (w->depth > 0) w->depth--;
    if (!empty) newline(w);
    fputc(c, w->out);
    if (w->depth == 0 && w->pretty) fputc('\n', w->out);
}

void json_begin_object(struct json_writer *w)
{
    open_container(w, '{');
}
void json_end_object(struct json_writer *w)
{
    close_container(w, '}');
}
void json_begin_array(struct json_writer *w)
{
    open_container(w, '[');
}
void json_end_array(struct json_writer *w)
{
    close_container(w, ']');
}

static void write_quoted(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s);
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c == '\t') {
            fputs("\\t", out);
        } else if (c == '\r') {
            fputs("\\r", out);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        } else if (c >= 0x80) {
            size_t len = utf8_seq_len(s + i, n - i);
            if (len == 0) {
                fputs("\\ufffd", out);
                i++;
                continue;
            }
            fwrite(s + i, 1, len, out);
            i += len;
            continue;
        } else {
            fputc(c, out);
        }
        i++;
    }
    fputc('"', out);
}

void json_key(struct json_writer *w, const char *key)
{
    separate(w);
    write_quoted(w->out, key);
    fputs(w->pretty ? ": " : ":", w->out);
    w->after_key = true;
}

void json_string(struct json_writer *w, const char *s)
{
    separate(w);
    write_quoted(w->out, s);
}

void json_uint(struct json_writer *w, uint64_t v)
{
    separate(w);
    fprintf(w->out, "%llu", (unsigned long long)v);
}

void json_int(struct json_writer *w, int64_t v)
{
    separate(w);
    fprintf(w->out, "%lld", (long long)v);
}

void json_bool(struct json_writer *w, bool v)
{
    separate(w);
    fputs(v ? "true" : "false", w->out);
}

void json_null(struct json_writer *w)
{
    separate(w);
    fputs("null", w->out);
}

/* ---- reading ---- */

struct parser {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
    bool failed;
};

static void perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(struct parser *ps, const char *fmt, ...)
{
    if (ps->failed) return;
    ps->failed = true;
    char msg[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ps->errlen)
        snprintf(ps->err, ps->errlen, "JSON error at byte %zu: %s", (size_t)(ps->p - ps->start),
                 msg);
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return false;
    ps->p += n;
    return true;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* At the opening quote. The decoded string is never longer than its
 * escaped form, so one allocation of that size is enough. */
static char *parse_string(struct parser *ps)
{
    const char *q = ps->p + 1;
    while (q < ps->end && *q != '"') q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
    if (q >= ps->end) {
        perr(ps, "unterminated string");
        return NULL;
    }
    char *out = malloc((size_t)(q - ps->p));
    if (!out) {
        perr(ps, "out of memory");
        return NULL;
    }
    size_t n = 0;
    ps->p++;
    while (*ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            perr(ps, "control character in a string");
            goto fail;
        }
        if (c >= 0x80) {
            size_t len = utf8_seq_len((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
            if (len == 0) {
                perr(ps, "invalid UTF-8 in a string");
                goto fail;
            }
            memcpy(out + n, ps->p, len);
            n += len;
            ps->p += len;
            continue;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            ps->p++;
            continue;
        }
        char e = ps->p[1];
        ps->p += 2;
        switch (e) {
        case '"':
            out[n++] = '"';
            break;
        case '\\':
            out[n++] = '\\';
            break;
        case '/':
            out[n++] = '/';
            break;
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u': {
            int hi = ps->end - ps->p >= 4 ? hex4(ps->p) : -1;
            if (hi < 0) {
                perr(ps, "bad \\u escape");
                goto fail;
            }
            ps->p += 4;
            uint32_t cp = (uint32_t)hi;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                perr(ps, "lone low surrogate");
                goto fail;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo = ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u'
                             ? hex4(ps->p + 2)
                             : -1;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    perr(ps, "high surrogate without its low half");
                    goto fail;
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
            }
            if (cp == 0) {
                perr(ps, "\\u0000 is not supported");
                goto fail;
            }
            /* 6 escaped bytes (12 for a pair) always cover the 1-4 decoded. */
            n += put_utf8(out + n, cp);
            break;
        }
        default:
            ps->p--;
            perr(ps, "bad escape");
            goto fail;
        }
    }
    ps->p++;
    out[n] = 0;
    return out;
fail:
    free(out);
    return NULL;
}

static void parse_number(struct parser *ps, struct json_value *v)
{
    const char *s = ps->p;
    const char *q = s;
    bool integer = true, negative = false;
    if (q < ps->end && *q == '-') negative = true, q++;
    if (q < ps->end && *q == '0') {
        q++;
    } else if (q < ps->end && *q >= '1' && *q <= '9') {
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    } else {
        perr(ps, "bad number");
        return;
    }
    if (q < ps->end && *q == '.') {
        integer = false;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            perr(ps, "bad fraction");
            return;
        }
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integer = false;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            perr(ps, "bad exponent");
            return;
        }
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    /* strtod needs a terminated copy: the text is not NUL-terminated. */
    char buf[400];
    size_t len = (size_t)(q - s);
    if (len >= sizeof(buf)) {
        perr(ps, "number too long");
        return;
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    v->type = JSON_NUMBER;
    v->number = strtod(buf, NULL);
    if (integer && !negative) {
        errno = 0;
        unsigned long long u = strtoull(buf, NULL, 10);
        if (errno == 0) {
            v->is_uint = true;
            v->uint = u;
        }
    }
    ps->p = q;
}

static void parse_value(struct parser *ps, struct json_value *v, unsigned depth);

/* Appends a zeroed element to an array or object; NULL when out of memory. */
static struct json_value *grow(struct parser *ps, struct json_value *v, size_t *cap, bool keys)
{
    if (v->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        struct json_value *items = realloc(v->items, ncap * sizeof(*items));
        if (!items) {
            perr(ps, "out of memory");
            return NULL;
        }
        v->items = items;
        if (keys) {
            char **k = realloc(v->keys, ncap * sizeof(*k));
            if (!k) {
                perr(ps, "out of memory");
                return NULL;
            }
            v->keys = k;
        }
        *cap = ncap;
    }
    struct json_value *item = &v->items[v->n];
    memset(item, 0, sizeof(*item));
    if (keys) v->keys[v->n] = NULL;
    v->n++;
    return item;
}

static void parse_array(struct parser *ps, struct json_value *v, unsigned depth)
{
    v->type = JSON_ARRAY;
    size_t cap = 0;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return;
    }
    for (;;) {
        struct json_value *item = grow(ps, v, &cap, false);
        if (!item) return;
        parse_value(ps, item, depth + 1);
        if (ps->failed) return;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return;
        }
        perr(ps, "expected ',' or ']'");
        return;
    }
}

static void parse_object(struct parser *ps, struct json_value *v, unsigned depth)
{
    v->type = JSON_OBJECT;
    size_t cap = 0;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            perr(ps, "expected a member name");
            return;
        }
        struct json_value *item = grow(ps, v, &cap, true);
        if (!item) return;
        v->keys[v->n - 1] = parse_string(ps);
        if (ps->failed) return;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            perr(ps, "expected ':'");
            return;
        }
        ps->p++;
        parse_value(ps, item, depth + 1);
        if (ps->failed) return;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return;
        }
        perr(ps, "expected ',' or '}'");
        return;
    }
}

static void parse_value(struct parser *ps, struct json_value *v, unsigned depth)
{
    if (depth >= JSON_MAX_DEPTH) {
        perr(ps, "nested deeper than %d", JSON_MAX_DEPTH);
        return;
    }
    skip_ws(ps);
    if (ps->p >= ps->end) {
        perr(ps, "unexpected end of document");
        return;
    }
    switch (*ps->p) {
    case '{':
        parse_object(ps, v, depth);
        return;
    case '[':
        parse_array(ps, v, depth);
        return;
    case '"':
        v->type = JSON_STRING;
        v->string = parse_string(ps);
        return;
    case 't':
    case 'f':
    case 'n':
        if (literal(ps, "true")) {
            v->type = JSON_BOOL;
            v->boolean = true;
        } else if (literal(ps, "false")) {
            v->type = JSON_BOOL;
        } else if (literal(ps, "null")) {
            v->type = JSON_NULL;
        } else {
            perr(ps, "unknown literal");
        }
        return;
    default:
        parse_number(ps, v);
        return;
    }
}

static void free_members(struct json_value *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free_members(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
}

struct json_value *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct parser ps = {.p = text, .end = text + len, .start = text, .err = err, .errlen = errlen};
    struct json_value *v = calloc(1, sizeof(*v));
    if (!v) {
        if (errlen) snprintf(err, errlen, "out of memory");
        return NULL;
    }
    parse_value(&ps, v, 0);
    if (!ps.failed) {
        skip_ws(&ps);
        if (ps.p != ps.end) perr(&ps, "unexpected text after the document");
    }
    if (ps.failed) {
        json_free(v);
        return NULL;
    }
    return v;
}

void json_free(struct json_value *v)
{
    if (!v) return;
    free_members(v);
    free(v);
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (obj->keys[i] && !strcmp(obj->keys[i], key)) return &obj->items[i];
    return NULL;
}

const char *json_get_string(const struct json_value *obj, const char *key)
{
    const struct json_value *v = json_get(obj, key);
    return v && v->type == JSON_STRING ? v->string : NULL;
}

bool json_get_uint(const struct json_value *obj, const char *key, uint64_t *out)
{
    const struct json_value *v = json_get(obj, key);
    if (!v || v->type != JSON_NUMBER || !v->is_uint) return false;
    *out = v->uint;
    return true;
}
