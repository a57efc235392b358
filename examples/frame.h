/*
 * frame.h: messages over TCP's byte stream.
 *
 * TCP delivers bytes in order but keeps no message edges: two sends may
 * arrive in one recv, one send in several. A frame puts the edges back:
 *
 *     4 bytes: body length, network byte order | 1 byte: type | body
 *
 * frame_send() writes one frame whatever the socket accepts per call;
 * frame_recv() reads exactly one frame whatever each recv returns, and
 * refuses a length above FRAME_MAX_BODY as soon as the header is in --
 * nothing is allocated from a length the peer chose.
 */
#ifndef USTACK_EXAMPLES_FRAME_H
#define USTACK_EXAMPLES_FRAME_H

#include <stdint.h>

#include "ustack/socket.h"
#include "ustack/stack.h"

#define FRAME_HDR_LEN 5
#define FRAME_MAX_BODY 65536u /* largest body; a header announcing more is an error */

/* Sends one message with a send-all loop (a blocking socket may accept only
 * part of a send; the loop sends the rest). Returns 0, or -1 with errno:
 * EMSGSIZE (len > FRAME_MAX_BODY: nothing sent) or us_send's errno. On a
 * non-blocking socket it waits for POLLOUT with us_poll between partial
 * sends. */
int frame_send(struct us_stack *s, int fd, uint8_t type, const void *body, uint32_t len);

struct frame_reader {
    uint8_t hdr[FRAME_HDR_LEN];
    uint32_t got;      /* bytes of the current message read so far (header + body) */
    uint32_t len;      /* body length, once the header is complete */
    uint8_t type;
    uint32_t max_read; /* 0: no limit; else at most this many bytes per us_recv */
};

void frame_reader_init(struct frame_reader *r);

/* Reads one whole message into type/body/len; body must have room for
 * FRAME_MAX_BODY bytes and, after EAGAIN, be the same buffer on the next
 * call. Returns 1 for a message; 0 when the peer closed cleanly between
 * messages; -1 with errno: EMSGSIZE (the header announced more than
 * FRAME_MAX_BODY: the caller closes), EPROTO (the peer closed inside a
 * message), EAGAIN (non-blocking socket or receive timeout, message
 * incomplete: call again with the same reader), or us_recv's errno. Bytes
 * beyond the current message are never consumed. */
int frame_recv(struct us_stack *s, int fd, struct frame_reader *r, uint8_t *type, uint8_t *body,
               uint32_t *len);

#endif
