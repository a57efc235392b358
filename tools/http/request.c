/*
 * request.c: the HTTP/1.x request-head parser (http.h).
 *
 * Strict where laxness has been exploited (RFC 9112 §11 on request
 * smuggling): one space between the request line's parts, no whitespace
 * before a header's colon, no obsolete line folding, no control bytes,
 * Content-Length digits only, not both Content-Length and
 * Transfer-Encoding, exactly one Host in HTTP/1.1. Lenient where the RFC
 * asks it: empty lines before the request, bare LF line ends.
 *
 * The parser is restartable by being cheap: the server calls it again on
 * the whole buffer whenever more bytes arrive, and it either finds the end
 * of the head or says how much is too much.
 */
#include <string.h>
#include <strings.h>

#include "http.h"

/* Longest request line: method, target, version and their separators. */
#define MAX_REQUEST_LINE (HTTP_MAX_TARGET + 64)

/* RFC 9110 §5.6.2: tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Finds the line starting at *pos: its bytes are buf[*pos .. *pos + *n).
 * Returns 1 and moves *pos past the line end, 0 when the line is not
 * complete yet, -1 for a CR that is not followed by LF. */
static int next_line(const char *buf, size_t len, size_t *pos, size_t *n)
{
    const char *start = buf + *pos;
    const char *lf = memchr(start, '\n', len - *pos);
    if (!lf) {
        /* A CR before the end, not last, must be followed by LF. */
        const char *cr = memchr(start, '\r', len - *pos);
        if (cr && cr + 1 < buf + len) return -1;
        return 0;
    }
    size_t line = (size_t)(lf - start);
    if (line && start[line - 1] == '\r') line--;
    if (memchr(start, '\r', line)) return -1; /* a bare CR inside the line */
    *n = line;
    *pos += (size_t)(lf - start) + 1;
    return 1;
}

static int parse_request_line(const char *s, size_t n, struct http_request *req)
{
    const char *sp1 = memchr(s, ' ', n);
    if (!sp1 || sp1 == s) return -400;
    size_t mlen = (size_t)(sp1 - s);
    if (mlen >= sizeof(req->method_name)) return -400; /* no method is that long */
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)s[i])) return -400;
    memcpy(req->method_name, s, mlen);
    req->method_name[mlen] = 0;
    req->method = !strcmp(req->method_name, "GET")    ? HTTP_GET
                  : !strcmp(req->method_name, "HEAD") ? HTTP_HEAD
                                                      : HTTP_OTHER;

    const char *t = sp1 + 1, *end = s + n;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2 || sp2 == t) return -400;
    size_t tlen = (size_t)(sp2 - t);
    if (tlen > HTTP_MAX_TARGET) return -414;
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f) return -400; /* URIs are visible ASCII */
    }
    memcpy(req->target, t, tlen);
    req->target[tlen] = 0;

    const char *v = sp2 + 1;
    if (end - v != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return -400;
    if (v[5] != '1') return -505;
    req->minor = (unsigned)(v[7] - '0');
    return 0;
}

static bool token_eq(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* Connection: a comma-separated list of tokens. */
static void parse_connection(const char *v, size_t n, bool *close, bool *keep)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t start = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t') i++;
        if (token_eq(v + start, i - start, "close")) *close = true;
        if (token_eq(v + start, i - start, "keep-alive")) *keep = true;
    }
}

struct head_state {
    unsigned hosts;
    bool close, keep, te;
    bool have_cl;
    unsigned long long cl;
};

static int parse_header(const char *s, size_t n, struct head_state *h)
{
    if (s[0] == ' ' || s[0] == '\t') return -400; /* obs-fold, RFC 9112 §5.2 */
    const char *colon = memchr(s, ':', n);
    if (!colon || colon == s) return -400;
    size_t nlen = (size_t)(colon - s);
    for (size_t i = 0; i < nlen; i++)
        if (!is_tchar((unsigned char)s[i])) return -400; /* includes space before ':' */
    const char *v = colon + 1, *end = s + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t vlen = (size_t)(end - v);
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return -400;
    }
    if (token_eq(s, nlen, "host")) {
        h->hosts++;
    } else if (token_eq(s, nlen, "connection")) {
        parse_connection(v, vlen, &h->close, &h->keep);
    } else if (token_eq(s, nlen, "transfer-encoding")) {
        h->te = true;
    } else if (token_eq(s, nlen, "content-length")) {
        if (vlen == 0 || vlen > 19) return -400;
        unsigned long long cl = 0;
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9') return -400;
            cl = cl * 10 + (unsigned)(v[i] - '0');
        }
        if (h->have_cl && h->cl != cl) return -400;
        h->have_cl = true;
        h->cl = cl;
    }
    return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    memset(req, 0, sizeof(*req));
    size_t pos = 0, n = 0;

    /* RFC 9112 §2.2: ignore empty lines before the request line. */
    for (;;) {
        if (pos >= len) return len >= HTTP_MAX_HEAD ? -431 : 0;
        if (buf[pos] == '\n') {
            pos++;
        } else if (buf[pos] == '\r') {
            if (pos + 1 >= len) return 0;
            if (buf[pos + 1] != '\n') return -400;
            pos += 2;
        } else {
            break;
        }
    }

    size_t line_start = pos;
    int rc = next_line(buf, len, &pos, &n);
    if (rc < 0) return -400;
    if (rc == 0) {
        /* Room for a CR that may yet be followed by its LF. */
        if (len - line_start > MAX_REQUEST_LINE + 1) return -414;
        return len >= HTTP_MAX_HEAD ? -431 : 0;
    }
    if (n > MAX_REQUEST_LINE) return -414;
    rc = parse_request_line(buf + line_start, n, req);
    if (rc < 0) return rc;

    struct head_state h = {0};
    for (;;) {
        line_start = pos;
        rc = next_line(buf, len, &pos, &n);
        if (rc < 0) return -400;
        /* A head that fills the whole buffer without ending never will. */
        if (rc == 0) return len >= HTTP_MAX_HEAD ? -431 : 0;
        if (pos > HTTP_MAX_HEAD) return -431;
        if (n == 0) break; /* the empty line ending the head */
        rc = parse_header(buf + line_start, n, &h);
        if (rc < 0) return rc;
    }

    /* RFC 9112 §3.2: HTTP/1.1 needs exactly one Host; more is always bad. */
    if (h.hosts > 1 || (req->minor >= 1 && h.hosts == 0)) return -400;
    /* RFC 9112 §6.1: both framings at once is how requests are smuggled. */
    if (h.te && h.have_cl) return -400;
    req->has_host = h.hosts == 1;
    req->has_body = h.te || (h.have_cl && h.cl > 0);
    req->keep_alive = req->minor >= 1 ? !h.close : (h.keep && !h.close);
    /* We do not read bodies: after answering, the connection must close or
     * the body would be read as the next request. */
    if (req->has_body) req->keep_alive = false;
    return (int)pos;
}
