/* The HTTP/1.x request parser of `ustack http` (tools/http/request.c):
 * what it accepts, what it waits for, and the status for everything it
 * refuses, with the smuggling cases RFC 9112 §11 warns about. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"

static struct http_request req;

static int parse(const char *s)
{
    return http_parse_request(s, strlen(s), &req);
}

static void expect_status(const char *s, int status, const char *why)
{
    int rc = parse(s);
    cr_expect_eq(rc, -status, "%s: got %d, expected -%d", why, rc, status);
}

Test(http_request, simple_get)
{
    const char *s = "GET /index.html HTTP/1.1\r\nHost: 10.0.0.2\r\nUser-Agent: curl/7.88\r\n\r\n";
    cr_assert_eq(parse(s), (int)strlen(s));
    cr_assert_eq(req.method, HTTP_GET);
    cr_assert_str_eq(req.method_name, "GET");
    cr_assert_str_eq(req.target, "/index.html");
    cr_assert_eq(req.minor, 1);
    cr_assert(req.keep_alive, "HTTP/1.1 keeps the connection by default");
    cr_assert(req.has_host);
    cr_assert_not(req.has_body);
}

Test(http_request, head_and_other_methods)
{
    cr_assert_gt(parse("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    cr_assert_eq(req.method, HTTP_HEAD);
    cr_assert_gt(parse("DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    cr_assert_eq(req.method, HTTP_OTHER, "valid, but not ours: the server answers 405");
    cr_assert_str_eq(req.method_name, "DELETE");
    cr_assert_gt(parse("get / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    cr_assert_eq(req.method, HTTP_OTHER, "methods are case-sensitive (RFC 9110 §9.1)");
}

Test(http_request, connection_semantics)
{
    cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n"), 0);
    cr_assert_not(req.keep_alive, "HTTP/1.0 closes by default");
    cr_assert_not(req.has_host, "and needs no Host");
    cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 0);
    cr_assert(req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 0);
    cr_assert_not(req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: x\r\nconnection: TE, CLOSE\r\n\r\n"), 0);
    cr_assert_not(req.keep_alive, "a token list, case-insensitive");
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n"), 0);
    cr_assert(req.keep_alive, "'closed' is not 'close'");
    cr_assert_gt(parse("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), 0);
    cr_assert_eq(req.minor, 2, "a later 1.x is served as 1.1");
}

Test(http_request, incomplete_heads_wait)
{
    cr_assert_eq(parse(""), 0);
    cr_assert_eq(parse("GET / HT"), 0);
    cr_assert_eq(parse("GET / HTTP/1.1\r"), 0);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n"), 0);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n\r"), 0);
    cr_assert_eq(parse("\r\n\r\n"), 0, "empty lines before a request");
}

Test(http_request, lenient_where_the_rfc_asks)
{
    const char *s = "\r\n\nGET / HTTP/1.1\nHost: x\n\n";
    cr_assert_eq(parse(s), (int)strlen(s), "leading empty lines and bare LF line ends");
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost:x\r\nX-Empty:\r\n\r\n"), 0, "no space, empty value");
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: \t x \t\r\n\r\n"), 0, "OWS around the value");
}

Test(http_request, pipelined_requests_one_at_a_time)
{
    const char *one = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    char two[256];
    snprintf(two, sizeof(two), "%sGET /b HTTP/1.1\r\nHost: x\r\n\r\n", one);
    cr_assert_eq(parse(two), (int)strlen(one));
    cr_assert_str_eq(req.target, "/a");
    cr_assert_eq(parse(two + strlen(one)), (int)(strlen(two) - strlen(one)));
    cr_assert_str_eq(req.target, "/b");
}

Test(http_request, malformed_request_lines)
{
    expect_status("GET\r\n\r\n", 400, "no target");
    expect_status("GET /\r\n\r\n", 400, "HTTP/0.9 (no version)");
    expect_status("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "two spaces");
    expect_status("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400, "a trailing space");
    expect_status(" GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "a leading space");
    expect_status("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "a method that is not a token");
    expect_status("GET / http/1.1\r\nHost: x\r\n\r\n", 400, "a lower-case version");
    expect_status("GET / HTTP/1\r\nHost: x\r\n\r\n", 400, "a short version");
    expect_status("GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400, "a non-digit minor");
    expect_status("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2 in HTTP/1 framing");
    expect_status("GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505, "major version 0");
    expect_status("GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400, "DEL in the target");
    expect_status("GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "raw non-ASCII in the target");
    expect_status("GET /\t HTTP/1.1\r\nHost: x\r\n\r\n", 400, "a tab in the target");
    expect_status("GET / HTTP/1.1\rHost: x\r\n\r\n", 400, "a bare CR");
    expect_status("GET / HTTP/1.1\r\r\n\r\n", 400, "a CR before CRLF");
    expect_status("\rGET / HTTP/1.1\r\n\r\n", 400, "a bare CR before the request");
}

Test(http_request, malformed_headers)
{
    expect_status("GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host");
    expect_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Hosts");
    expect_status("GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n", 400, "two Hosts in 1.0 too");
    expect_status("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "space before the colon");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400, "no colon");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\n: value\r\n\r\n", 400, "an empty name");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 400, "obs-fold");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01\r\n\r\n", 400, "a control byte");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7f\r\n\r\n", 400, "DEL in a value");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, "a bare CR in a value");
    expect_status("GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", 400, "a name that is not a token");
}

Test(http_request, bodies_and_smuggling)
{
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), 0);
    cr_assert_not(req.has_body);
    cr_assert(req.keep_alive);
    cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"), 0);
    cr_assert(req.has_body);
    cr_assert_not(req.keep_alive, "we do not read bodies, so the connection must close");
    cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
    cr_assert(req.has_body);
    cr_assert_gt(
        parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"), 0,
        "the same length twice is harmless");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                  400, "two different lengths");
    expect_status(
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
        "Content-Length with Transfer-Encoding");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", 400, "a sign");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", 400, "a list");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400, "empty");
    expect_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400,
                  "longer than any file");
}

Test(http_request, size_limits)
{
    static char buf[HTTP_MAX_HEAD * 2];
    /* The target at the limit is fine; one byte more is 414. */
    char target[HTTP_MAX_TARGET + 2];
    memset(target, 'a', sizeof(target));
    target[0] = '/';
    target[HTTP_MAX_TARGET] = 0;
    snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    cr_assert_gt(parse(buf), 0);
    target[HTTP_MAX_TARGET] = 'a';
    target[HTTP_MAX_TARGET + 1] = 0;
    snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    expect_status(buf, 414, "a target one byte too long");

    /* A request line that never ends: 414 as soon as it is too long. */
    memset(buf, 'a', HTTP_MAX_TARGET + 100);
    memcpy(buf, "GET /", 5);
    buf[HTTP_MAX_TARGET + 100] = 0;
    expect_status(buf, 414, "an endless request line");

    /* Headers that fill the buffer without ending: 431. */
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: x\r\n");
    while (n < HTTP_MAX_HEAD)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-Pad: aaaaaaaa\r\n");
    expect_status(buf, 431, "an endless head");
    /* The same ended: a complete head over the limit is 431 too. */
    strcat(buf, "\r\n");
    expect_status(buf, 431, "a complete head over the limit");
    /* Empty lines count: a flood of them is not a way around the limit. */
    memset(buf, '\n', HTTP_MAX_HEAD);
    buf[HTTP_MAX_HEAD] = 0;
    expect_status(buf, 431, "a flood of empty lines");
}

Test(http_request, restartable_byte_by_byte)
{
    /* The server parses again whenever bytes arrive: every strict prefix of
     * a valid head must say "need more", also with the longest target. */
    static char buf[HTTP_MAX_HEAD];
    char target[HTTP_MAX_TARGET + 1];
    memset(target, 'a', HTTP_MAX_TARGET);
    target[0] = '/';
    target[HTTP_MAX_TARGET] = 0;
    int n = snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    cr_assert_eq(http_parse_request(buf, (size_t)n, &req), n);
    for (int k = 0; k < n; k++) {
        int rc = http_parse_request(buf, (size_t)k, &req);
        cr_assert_eq(rc, 0, "a prefix of %d bytes answered %d", k, rc);
    }
}
