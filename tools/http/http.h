/*
 * http.h: the pieces of `ustack http` that do not touch the network, each
 * testable alone: the request parser (request.c), the path sanitizer and
 * the confined open beneath the document root (path.c), content types
 * (mime.c) and response heads (response.c).
 *
 * What is implemented of RFC 9110/9112: GET and HEAD (anything else is 405),
 * HTTP/1.0 and 1.1, persistent connections and pipelining, Content-Length
 * on every response. Not implemented (and refused or ignored on purpose):
 * request bodies (the connection is closed after answering), ranges,
 * conditional requests, chunked responses, compression.
 */
#ifndef USTACK_TOOLS_HTTP_H
#define USTACK_TOOLS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The longest request head (request line and headers) we read; beyond it
 * the answer is 431 (or 414 when the request line alone is too long). */
#define HTTP_MAX_HEAD 8192
/* The longest request target; beyond it 414. */
#define HTTP_MAX_TARGET 4096

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

struct http_request {
    enum http_method method;
    char method_name[32]; /* as sent, for the log ("POST") */
    unsigned minor;       /* HTTP/1.minor */
    char target[HTTP_MAX_TARGET + 1];
    bool keep_alive; /* the connection may carry another request */
    bool has_body;   /* Content-Length > 0 or Transfer-Encoding */
    bool has_host;
};

/* Parses the request head at the start of buf[0..len) (leading empty lines
 * are skipped, RFC 9112 §2.2; lines may end in CRLF or a bare LF).
 * Returns the head's length in bytes when it is complete and valid, 0 when
 * more bytes are needed, or minus the status to answer when it is not valid:
 * -400 malformed, -414 request line too long, -431 head too long, -505 a
 * version other than HTTP/1.x. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* Turns a request target ("/a/b%20c.html?x=1", or the absolute form
 * "http://host/a") into a path relative to the document root ("a/b c.html",
 * "" for the root itself), decoding %XX once. Returns 0, or the status to
 * answer: 400 for a target that is not a path or has a bad escape, a NUL or
 * a control byte; 403 for any ".." segment (raw or encoded). `dir` is set
 * when the target ends in '/'. */
int http_sanitize_path(const char *target, char *out, size_t outlen, bool *dir);

/* Opens `rel` (from http_sanitize_path) beneath the directory rootfd,
 * read-only, never leaving it: ".." and symlinks that lead outside are
 * refused, symlinks that stay inside are followed (openat2 RESOLVE_BENEATH;
 * where the kernel lacks openat2, every symlink is refused instead).
 * Returns an fd, or -errno: -ENOENT, -EACCES, -EXDEV (would leave the
 * root), -ELOOP (a symlink, in the fallback)... */
int http_open_beneath(int rootfd, const char *rel);
/* The fallback alone, for tests: component by component, O_NOFOLLOW. */
int http_open_walk(int rootfd, const char *rel);
/* The status for an error from http_open_beneath (404, 403 or 500). */
int http_status_for_errno(int err);

/* "text/html; charset=utf-8" for "index.html"; application/octet-stream
 * for what is not known. Case-insensitive on the extension. */
const char *http_content_type(const char *path);

/* "Not Found" for 404; "Unknown" for a status not in the table. */
const char *http_reason(int status);
/* An IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT". */
char *http_date(char *buf, size_t len, time_t t);

struct http_response {
    int status;
    unsigned minor; /* answer in the request's HTTP/1.minor */
    bool keep_alive;
    const char *content_type; /* NULL: no Content-Type */
    uint64_t content_length;
    time_t last_modified; /* 0: none */
    const char *location; /* for 301: already a valid URI path */
    const char *allow;    /* for 405 */
    time_t now;
};
/* Formats the status line and headers, ending with the blank line. Returns
 * the length, or -1 if it does not fit. */
int http_format_head(char *buf, size_t len, const struct http_response *r);
/* A short HTML page saying the status ("404 Not Found"). Returns its
 * length, or -1 if it does not fit. */
int http_error_body(char *buf, size_t len, int status);

#endif
