/*
 * fuzz_http_request: arbitrary bytes as an HTTP request head, into the
 * parser of `ustack http` and, when it accepts them, the path sanitizer.
 *
 * Beyond "no crash, no out-of-bounds read" (the input is copied to a buffer
 * of exactly its size), the properties the server relies on:
 * - an accepted head is no longer than the input and HTTP_MAX_HEAD, and its
 *   target is a terminated string of at most HTTP_MAX_TARGET bytes;
 * - the parser is restartable: every strict prefix of an accepted head
 *   answers "need more" (0), so reading byte by byte gives the same result;
 * - a sanitized path is relative, has no "." or ".." segment, no empty
 *   segment, and no NUL or control byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static void check_path(const char *p)
{
    if (p[0] == '/') __builtin_trap();
    const char *seg = p;
    while (*seg) {
        size_t len = strcspn(seg, "/");
        if (len == 0) __builtin_trap(); /* "//" or a trailing '/' */
        if (len == 1 && seg[0] == '.') __builtin_trap();
        if (len == 2 && seg[0] == '.' && seg[1] == '.') __builtin_trap();
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f) __builtin_trap();
        seg += len + (seg[len] == '/');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (size) memcpy(buf, data, size);
    static struct http_request req, again;
    int rc = http_parse_request(buf, size, &req);
    if (rc > 0) {
        if ((size_t)rc > size || rc > HTTP_MAX_HEAD) __builtin_trap();
        if (strlen(req.target) > HTTP_MAX_TARGET) __builtin_trap();
        /* Two prefixes: one byte short, and half way. */
        if (http_parse_request(buf, (size_t)rc - 1, &again) != 0) __builtin_trap();
        if (http_parse_request(buf, (size_t)rc / 2, &again) != 0) __builtin_trap();
        static char out[HTTP_MAX_TARGET + 1];
        bool dir;
        if (http_sanitize_path(req.target, out, sizeof(out), &dir) == 0) check_path(out);
    }
    free(buf);
    return 0;
}
