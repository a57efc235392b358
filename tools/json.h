/*
 * json.h: just enough JSON for the tools: a writer that keeps the commas and
 * the escapes right, and a reader that turns a document into a tree.
 *
 * The writer prints to a FILE (open_memstream() when the text is wanted in
 * memory). The reader accepts RFC 8259 JSON, refuses anything else with a
 * message, and bounds nesting, so a hostile document costs at most its own
 * size in memory.
 */
#ifndef USTACK_TOOLS_JSON_H
#define USTACK_TOOLS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- writing ---- */

#define JSON_MAX_DEPTH 32

struct json_writer {
    FILE *out;
    bool pretty; /* newlines and two-space indents */
    unsigned depth;
    bool first[JSON_MAX_DEPTH]; /* no member written yet at this depth */
    bool after_key;             /* the next value follows "key": */
};

void json_writer_init(struct json_writer *w, FILE *out, bool pretty);
void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);
/* An object member's name; the next call writes its value. */
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *s);
void json_uint(struct json_writer *w, uint64_t v);
void json_int(struct json_writer *w, int64_t v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);

/* ---- reading ---- */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
    enum json_type type;
    bool boolean;
    double number;
    /* Set when the number is a non-negative integer below 2^64, written
     * without fraction or exponent: counters stay exact past 2^53. */
    bool is_uint;
    uint64_t uint;
    char *string; /* decoded, NUL-terminated (no NUL inside) */
    size_t n;     /* array elements or object members */
    struct json_value *items;
    char **keys; /* object member names, in document order */
};

/* Parses text[0..len). NULL on error, with a message naming the byte offset
 * in err. */
struct json_value *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct json_value *v);

/* The member `key` of an object (the first, if repeated), or NULL. */
const struct json_value *json_get(const struct json_value *obj, const char *key);
/* Typed lookups: NULL / false when absent or of another type. */
const char *json_get_string(const struct json_value *obj, const char *key);
bool json_get_uint(const struct json_value *obj, const char *key, uint64_t *out);

#endif
