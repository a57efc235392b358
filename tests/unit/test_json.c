/* The tools' JSON writer and reader (tools/json.c): punctuation, escapes,
 * exact integers, and every kind of malformed document refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static char *out;
static size_t outlen;
static FILE *f;

static void setup(void)
{
    f = open_memstream(&out, &outlen);
}
static void teardown(void)
{
    if (f) fclose(f);
    free(out);
}

static const char *written(void)
{
    fclose(f);
    f = NULL;
    return out;
}

TestSuite(json_write, .init = setup, .fini = teardown);

Test(json_write, compact_document)
{
    struct json_writer w;
    json_writer_init(&w, f, false);
    json_begin_object(&w);
    json_key(&w, "a");
    json_uint(&w, 1);
    json_key(&w, "list");
    json_begin_array(&w);
    json_int(&w, -2);
    json_bool(&w, true);
    json_null(&w);
    json_begin_object(&w);
    json_end_object(&w);
    json_end_array(&w);
    json_key(&w, "s");
    json_string(&w, "x");
    json_end_object(&w);
    cr_assert_str_eq(written(), "{\"a\":1,\"list\":[-2,true,null,{}],\"s\":\"x\"}");
}

Test(json_write, pretty_document)
{
    struct json_writer w;
    json_writer_init(&w, f, true);
    json_begin_object(&w);
    json_key(&w, "a");
    json_begin_array(&w);
    json_uint(&w, 1);
    json_uint(&w, 2);
    json_end_array(&w);
    json_key(&w, "e");
    json_begin_array(&w);
    json_end_array(&w);
    json_end_object(&w);
    cr_assert_str_eq(written(), "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"e\": []\n}\n");
}

Test(json_write, escapes)
{
    struct json_writer w;
    json_writer_init(&w, f, false);
    json_string(&w, "q\"b\\n\nt\tc\x01 e\xc3\xa9 bad\xff end");
    cr_assert_str_eq(written(), "\"q\\\"b\\\\n\\nt\\tc\\u0001 e\xc3\xa9 bad\\ufffd end\"");
}

Test(json_write, truncated_utf8_becomes_replacement)
{
    struct json_writer w;
    json_writer_init(&w, f, false);
    json_string(&w, "\xe2\x82"); /* the first two bytes of a three-byte sequence */
    cr_assert_str_eq(written(), "\"\\ufffd\\ufffd\"");
}

Test(json_write, max_uint)
{
    struct json_writer w;
    json_writer_init(&w, f, false);
    json_uint(&w, UINT64_MAX);
    cr_assert_str_eq(written(), "18446744073709551615");
}

/* ---- reading ---- */

static struct json_value *parse(const char *text)
{
    char err[128];
    return json_parse(text, strlen(text), err, sizeof(err));
}

static void expect_error(const char *text, const char *why)
{
    char err[128] = "";
    struct json_value *v = json_parse(text, strlen(text), err, sizeof(err));
    cr_expect_null(v, "accepted %s: %s", why, text);
    json_free(v);
    if (!v) cr_expect(strstr(err, "JSON error at byte") != NULL, "no message for %s", why);
}

TestSuite(json_read, .init = setup, .fini = teardown);

Test(json_read, document)
{
    struct json_value *v =
        parse(" {\"n\": 18446744073709551615, \"f\": -1.5e2, \"s\": \"a\\u00e9\\ud83d\\ude00\","
              " \"l\": [true, false, null], \"o\": {}} ");
    cr_assert(v);
    cr_assert_eq(v->type, JSON_OBJECT);
    uint64_t n;
    cr_assert(json_get_uint(v, "n", &n));
    cr_assert_eq(n, UINT64_MAX, "integers stay exact past 2^53");
    const struct json_value *fv = json_get(v, "f");
    cr_assert_eq(fv->type, JSON_NUMBER);
    cr_assert_float_eq(fv->number, -150.0, 1e-9);
    cr_assert_not(fv->is_uint);
    cr_assert_str_eq(json_get_string(v, "s"), "a\xc3\xa9\xf0\x9f\x98\x80");
    const struct json_value *l = json_get(v, "l");
    cr_assert_eq(l->type, JSON_ARRAY);
    cr_assert_eq(l->n, 3);
    cr_assert(l->items[0].boolean);
    cr_assert_eq(l->items[2].type, JSON_NULL);
    cr_assert_eq(json_get(v, "o")->type, JSON_OBJECT);
    cr_assert_null(json_get(v, "missing"));
    cr_assert_null(json_get_string(v, "n"), "typed lookups check the type");
    json_free(v);
}

Test(json_read, round_trip_through_the_writer)
{
    struct json_writer w;
    json_writer_init(&w, f, true);
    json_begin_object(&w);
    json_key(&w, "k\"ey");
    json_string(&w, "line\nbreak");
    json_end_object(&w);
    const char *text = written();
    struct json_value *v = parse(text);
    cr_assert(v);
    cr_assert_str_eq(json_get_string(v, "k\"ey"), "line\nbreak");
    json_free(v);
}

Test(json_read, negative_and_huge_integers_are_not_uint)
{
    struct json_value *v = parse("[-1, 18446744073709551616, 0]");
    cr_assert(v);
    cr_assert_not(v->items[0].is_uint);
    cr_assert_not(v->items[1].is_uint, "2^64 does not fit");
    cr_assert(v->items[2].is_uint);
    json_free(v);
}

Test(json_read, malformed_documents)
{
    expect_error("", "empty input");
    expect_error("   ", "only spaces");
    expect_error("{\"a\":1,}", "a trailing comma");
    expect_error("[1,]", "a trailing comma in an array");
    expect_error("{\"a\" 1}", "a missing colon");
    expect_error("{a:1}", "an unquoted name");
    expect_error("\"abc", "an unterminated string");
    expect_error("\"a\\", "a backslash at the end");
    expect_error("\"\\x\"", "an unknown escape");
    expect_error("\"\\u12\"", "a short \\u escape");
    expect_error("\"\\ud800\"", "a lone high surrogate");
    expect_error("\"\\udc00\"", "a lone low surrogate");
    expect_error("\"\\u0000\"", "an embedded NUL");
    expect_error("\"a\x01\"", "a raw control character");
    expect_error("\"\xc3\"", "truncated UTF-8");
    expect_error("\"\xed\xa0\x80\"", "an encoded surrogate");
    expect_error("\"\xc0\xaf\"", "overlong UTF-8");
    expect_error("01", "a leading zero");
    expect_error("1.", "a fraction without digits");
    expect_error("1e", "an exponent without digits");
    expect_error("-", "a lone minus");
    expect_error("+1", "a plus sign");
    expect_error("tru", "a cut literal");
    expect_error("nul", "a cut null");
    expect_error("{} x", "text after the document");
    expect_error("[1 2]", "a missing comma");
}

Test(json_read, nesting_is_bounded)
{
    /* JSON_MAX_DEPTH levels are fine; one more is refused. */
    char deep[(JSON_MAX_DEPTH + 1) * 2 + 1];
    for (int i = 0; i <= JSON_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[JSON_MAX_DEPTH + 1 + i] = ']';
    }
    deep[(JSON_MAX_DEPTH + 1) * 2] = 0;
    expect_error(deep, "nesting deeper than the limit");
    struct json_value *v = parse(deep + 1);
    cr_assert_null(v, "one more ']' than '['");
    deep[(JSON_MAX_DEPTH + 1) * 2 - 1] = 0;
    v = parse(deep + 1);
    cr_assert(v, "nesting at the limit is accepted");
    json_free(v);
}

Test(json_read, not_nul_terminated_input)
{
    /* The reader must stay inside the length it is given. */
    char *buf = malloc(3);
    memcpy(buf, "123", 3);
    char err[64];
    struct json_value *v = json_parse(buf, 3, err, sizeof(err));
    cr_assert(v);
    cr_assert_eq(v->uint, 123);
    json_free(v);
    memcpy(buf, "\"ab", 3);
    cr_assert_null(json_parse(buf, 3, err, sizeof(err)));
    free(buf);
}
