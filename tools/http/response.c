/*
 * response.c: status lines, headers and error pages (http.h).
 *
 * We always answer "HTTP/1.1", also to HTTP/1.0 clients (RFC 9110 §6.2:
 * the highest minor version we implement), and say what the connection
 * will do when the default for the request's version does not: "close"
 * to a 1.1 client, "keep-alive" to a 1.0 client that asked for it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

const char *http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 301:
        return "Moved Permanently";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

char *http_date(char *buf, size_t len, time_t t)
{
    /* Not strftime: %a and %b follow the locale, HTTP dates do not. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

struct out {
    char *buf;
    size_t len, n;
    bool overflow;
};

static void add(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct out *o, const char *fmt, ...)
{
    if (o->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o->buf + o->n, o->len - o->n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= o->len - o->n) {
        o->overflow = true;
        return;
    }
    o->n += (size_t)k;
}

int http_format_head(char *buf, size_t len, const struct http_response *r)
{
    struct out o = {.buf = buf, .len = len};
    char date[40];
    if (!len) return -1;
    add(&o, "HTTP/1.1 %d %s\r\n", r->status, http_reason(r->status));
    add(&o, "Server: ustack\r\n");
    add(&o, "Date: %s\r\n", http_date(date, sizeof(date), r->now));
    if (r->content_type) add(&o, "Content-Type: %s\r\n", r->content_type);
    add(&o, "Content-Length: %llu\r\n", (unsigned long long)r->content_length);
    if (r->last_modified)
        add(&o, "Last-Modified: %s\r\n", http_date(date, sizeof(date), r->last_modified));
    if (r->location) add(&o, "Location: %s\r\n", r->location);
    if (r->allow) add(&o, "Allow: %s\r\n", r->allow);
    if (!r->keep_alive)
        add(&o, "Connection: close\r\n");
    else if (r->minor == 0)
        add(&o, "Connection: keep-alive\r\n");
    add(&o, "\r\n");
    return o.overflow ? -1 : (int)o.n;
}

int http_error_body(char *buf, size_t len, int status)
{
    int n = snprintf(buf, len,
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
                     "<body><h1>%d %s</h1><hr>ustack</body></html>\n",
                     status, http_reason(status), status, http_reason(status));
    return n < 0 || (size_t)n >= len ? -1 : n;
}
