/*
 * frame.c: see frame.h.
 */
#include "frame.h"

#include <errno.h>
#include <string.h>

/* Sends all of buf. A blocking send already loops inside ustack until
 * everything is queued; this loop is what makes the same code right on a
 * non-blocking socket, and on any stack whose send returns short. */
static int send_all(struct us_stack *s, int fd, const uint8_t *buf, size_t n)
{
    while (n) {
        ssize_t w = us_send(s, fd, buf, n, 0);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (us_poll(s, &p, 1, -1) < 0) return -1;
            continue;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int frame_send(struct us_stack *s, int fd, uint8_t type, const void *body, uint32_t len)
{
    if (len > FRAME_MAX_BODY) {
        errno = EMSGSIZE;
        return -1;
    }
    uint8_t hdr[FRAME_HDR_LEN] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                                  (uint8_t)len, type};
    if (send_all(s, fd, hdr, sizeof(hdr)) < 0) return -1;
    return len ? send_all(s, fd, body, len) : 0;
}

void frame_reader_init(struct frame_reader *r)
{
    memset(r, 0, sizeof(*r));
}

/* Reads up to `want` bytes into dst. 1: got some; 0: end of stream; -1: errno. */
static int read_some(struct us_stack *s, int fd, struct frame_reader *r, uint8_t *dst,
                     uint32_t want)
{
    if (r->max_read && want > r->max_read) want = r->max_read;
    ssize_t n = us_recv(s, fd, dst, want, 0);
    if (n < 0) return -1;
    if (n == 0) return 0;
    r->got += (uint32_t)n;
    return 1;
}

int frame_recv(struct us_stack *s, int fd, struct frame_reader *r, uint8_t *type, uint8_t *body,
               uint32_t *len)
{
    /* The header first, and only the header: what follows it may belong to
     * the next message, so we never ask for more than this one needs. */
    while (r->got < FRAME_HDR_LEN) {
        int rc = read_some(s, fd, r, r->hdr + r->got, FRAME_HDR_LEN - r->got);
        if (rc < 0) return -1;
        if (rc == 0) {
            if (r->got == 0) return 0; /* closed between messages */
            errno = EPROTO;
            return -1;
        }
        if (r->got == FRAME_HDR_LEN) {
            r->len = (uint32_t)r->hdr[0] << 24 | (uint32_t)r->hdr[1] << 16 |
                     (uint32_t)r->hdr[2] << 8 | r->hdr[3];
            r->type = r->hdr[4];
            /* A length we did not agree to is refused before any byte of
             * it is read or any memory is set aside for it. */
            if (r->len > FRAME_MAX_BODY) {
                errno = EMSGSIZE;
                return -1;
            }
        }
    }
    while (r->got < FRAME_HDR_LEN + r->len) {
        uint32_t have = r->got - FRAME_HDR_LEN;
        int rc = read_some(s, fd, r, body + have, r->len - have);
        if (rc < 0) return -1;
        if (rc == 0) {
            errno = EPROTO;
            return -1;
        }
    }
    *type = r->type;
    *len = r->len;
    r->got = 0; /* ready for the next message */
    r->len = 0;
    return 1;
}
