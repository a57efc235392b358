/* Message framing over the byte stream (examples/frame.c): random message
 * sizes from empty to the maximum, random send sizes at the sender, random
 * read sizes at the receiver, loss, duplication and reordering on the wire --
 * every message arrives whole, once, in order. And the edges: a hostile
 * length is refused before anything is read or reserved for it, a stream
 * that ends inside a message is an error, one that ends between messages is
 * not. A failure prints its seed; USTACK_SEED=N replays it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "testlib.h"

static uint64_t rnd(uint64_t *x)
{
    /* splitmix64: the test's own randomness, from the seed. */
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t message_size(uint64_t *r)
{
    static const uint32_t edges[] = {0, 1, 4, 5, FRAME_MAX_BODY - 1, FRAME_MAX_BODY};
    switch (rnd(r) % 4) {
    case 0:
        return edges[rnd(r) % 6];
    case 1:
        return (uint32_t)(rnd(r) % (FRAME_MAX_BODY + 1));
    default:
        return (uint32_t)(rnd(r) % 2000);
    }
}

static void nonblocking(struct us_stack *s, int fd)
{
    us_fcntl(s, fd, F_SETFL, us_fcntl(s, fd, F_GETFL, 0) | O_NONBLOCK);
}

static void big_buffers(struct pair *p, int c, int s)
{
    int big = 1 << 20;
    us_setsockopt(p->a, c, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    us_setsockopt(p->b, s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
}

#define NMSG 24

Test(framing, every_message_arrives_whole_once_in_order)
{
    static const struct us_faults faults[] = {
        {.delay = US_MSEC(1)},
        {.loss = 2, .reorder = 3, .delay = US_MSEC(5)},
        {.dup = 3, .loss = 1, .delay = US_MSEC(2)},
    };
    static uint8_t body[FRAME_MAX_BODY], got[FRAME_MAX_BODY];
    unsigned n = test_seed_count(12);
    for (unsigned i = 0; i < n; i++) {
        uint64_t seed = test_seed(i), r = seed;
        const struct us_faults *f = &faults[i % 3];
        struct pair *p = pair_new(seed, f, f);
        int c, s;
        tcp_connect_pair(p, 7000, &c, &s, NULL);
        big_buffers(p, c, s);
        nonblocking(p->a, c);
        nonblocking(p->b, s);
        /* The messages, encoded back to back: one stream. */
        uint32_t size[NMSG];
        uint8_t type[NMSG];
        size_t total = 0;
        for (unsigned m = 0; m < NMSG; m++) {
            size[m] = message_size(&r);
            type[m] = (uint8_t)rnd(&r);
            total += FRAME_HDR_LEN + size[m];
        }
        uint8_t *stream = malloc(total);
        size_t off = 0;
        for (unsigned m = 0; m < NMSG; m++) {
            uint32_t l = size[m];
            uint8_t h[FRAME_HDR_LEN] = {(uint8_t)(l >> 24), (uint8_t)(l >> 16), (uint8_t)(l >> 8),
                                        (uint8_t)l, type[m]};
            memcpy(stream + off, h, sizeof(h));
            fill_pattern(stream + off + FRAME_HDR_LEN, l, seed + m, 0);
            off += FRAME_HDR_LEN + l;
        }
        /* Half the seeds write the stream in random pieces (a header may be
         * split, two messages may share a send); the others use
         * frame_send, one call per message. */
        bool raw = i % 2 == 0;
        size_t sent = 0;
        unsigned next_send = 0, next_recv = 0;
        struct frame_reader fr;
        frame_reader_init(&fr);
        fr.max_read = rnd(&r) % 2 ? 0 : 1 + (uint32_t)(rnd(&r) % 3000);
        us_time_t limit = us_wire_now(p->w) + US_SEC(600);
        bool eof = false;
        while (!eof && us_wire_now(p->w) < limit) {
            if (raw && sent < total) {
                size_t piece = 1 + rnd(&r) % (rnd(&r) % 4 ? 3000 : 100000);
                if (piece > total - sent) piece = total - sent;
                ssize_t w = us_send(p->a, c, stream + sent, piece, 0);
                if (w > 0) sent += (size_t)w;
            } else if (!raw && next_send < NMSG) {
                fill_pattern(body, size[next_send], seed + next_send, 0);
                cr_assert_eq(frame_send(p->a, c, type[next_send], body, size[next_send]), 0,
                             "seed %llu: frame_send: %s", (unsigned long long)seed,
                             strerror(errno));
                next_send++;
            }
            if ((raw && sent == total) || (!raw && next_send == NMSG)) {
                us_shutdown(p->a, c, SHUT_WR);
                sent = total + 1; /* once */
                next_send = NMSG + 1;
            }
            uint8_t t;
            uint32_t len;
            int rc = frame_recv(p->b, s, &fr, &t, got, &len);
            if (rc == 1) {
                cr_assert(next_recv < NMSG, "seed %llu: a message too many",
                          (unsigned long long)seed);
                cr_assert_eq(len, size[next_recv], "seed %llu message %u: length %u, sent %u",
                             (unsigned long long)seed, next_recv, len, size[next_recv]);
                cr_assert_eq(t, type[next_recv], "seed %llu message %u: type",
                             (unsigned long long)seed, next_recv);
                fill_pattern(body, len, seed + next_recv, 0);
                cr_assert(memcmp(got, body, len) == 0, "seed %llu message %u: contents differ",
                          (unsigned long long)seed, next_recv);
                next_recv++;
                /* A new read size for the next message. */
                fr.max_read = rnd(&r) % 2 ? 0 : 1 + (uint32_t)(rnd(&r) % 3000);
                continue;
            }
            if (rc == 0) {
                eof = true;
                break;
            }
            cr_assert_eq(errno, EAGAIN, "seed %llu: frame_recv: %s", (unsigned long long)seed,
                         strerror(errno));
            us_wire_run_for(p->w, US_MSEC(1));
        }
        cr_assert(eof, "seed %llu: no end of stream after %u of %u messages (replay with "
                       "USTACK_SEED=%llu)",
                  (unsigned long long)seed, next_recv, NMSG, (unsigned long long)seed);
        cr_assert_eq(next_recv, NMSG, "seed %llu", (unsigned long long)seed);
        free(stream);
        us_close(p->a, c);
        us_close(p->b, s);
        us_wire_run_for(p->w, US_SEC(200));
        pair_free(p);
    }
}

/* Runs the wire until frame_recv stops saying EAGAIN. */
static int recv_settled(struct pair *p, int s, struct frame_reader *fr, uint8_t *body)
{
    uint8_t t;
    uint32_t len;
    for (int k = 0; k < 10000; k++) {
        int rc = frame_recv(p->b, s, fr, &t, body, &len);
        if (rc >= 0 || errno != EAGAIN) return rc;
        us_wire_run_for(p->w, US_MSEC(1));
    }
    return -2;
}

Test(framing, a_hostile_length_is_refused_at_the_header)
{
    static uint8_t body[FRAME_MAX_BODY];
    static const uint32_t lens[] = {FRAME_MAX_BODY + 1, 0xffffffffu};
    for (unsigned k = 0; k < 2; k++) {
        struct pair *p = pair_new(11 + k, NULL, NULL);
        int c, s;
        tcp_connect_pair(p, 7001, &c, &s, NULL);
        nonblocking(p->b, s);
        /* Only the header: nothing of the body is ever sent, so the
         * refusal cannot have waited for (or reserved room for) it. */
        uint32_t l = lens[k];
        uint8_t h[FRAME_HDR_LEN] = {(uint8_t)(l >> 24), (uint8_t)(l >> 16), (uint8_t)(l >> 8),
                                    (uint8_t)l, 1};
        cr_assert_eq(us_send(p->a, c, h, sizeof(h), 0), (ssize_t)sizeof(h));
        struct frame_reader fr;
        frame_reader_init(&fr);
        cr_assert_eq(recv_settled(p, s, &fr, body), -1);
        cr_assert_eq(errno, EMSGSIZE);
        /* The receiver hangs up; the sender sees the end. */
        us_close(p->b, s);
        char x;
        ssize_t n = us_recv(p->a, c, &x, 1, 0);
        cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "the sender saw %zd", n);
        us_close(p->a, c);
        us_wire_run_for(p->w, US_SEC(200));
        pair_free(p);
    }
}

Test(framing, the_stream_ending_inside_a_message_is_an_error)
{
    static uint8_t body[FRAME_MAX_BODY];
    /* Inside the header, and inside the body. */
    static const uint8_t cut_header[] = {0, 0};
    static const uint8_t cut_body[] = {0, 0, 0, 10, 1, 'a', 'b', 'c'};
    const uint8_t *what[] = {cut_header, cut_body};
    size_t lens[] = {sizeof(cut_header), sizeof(cut_body)};
    for (unsigned k = 0; k < 2; k++) {
        struct pair *p = pair_new(21 + k, NULL, NULL);
        int c, s;
        tcp_connect_pair(p, 7002, &c, &s, NULL);
        nonblocking(p->b, s);
        cr_assert_eq(us_send(p->a, c, what[k], lens[k], 0), (ssize_t)lens[k]);
        us_shutdown(p->a, c, SHUT_WR);
        struct frame_reader fr;
        frame_reader_init(&fr);
        cr_assert_eq(recv_settled(p, s, &fr, body), -1);
        cr_assert_eq(errno, EPROTO, "case %u: %s", k, strerror(errno));
        us_close(p->a, c);
        us_close(p->b, s);
        us_wire_run_for(p->w, US_SEC(200));
        pair_free(p);
    }
}

Test(framing, an_oversized_message_is_not_sent_at_all)
{
    static uint8_t body[FRAME_MAX_BODY + 1];
    struct pair *p = pair_new(31, NULL, NULL);
    int c, s;
    tcp_connect_pair(p, 7003, &c, &s, NULL);
    nonblocking(p->b, s);
    cr_assert_eq(frame_send(p->a, c, 1, body, FRAME_MAX_BODY + 1), -1);
    cr_assert_eq(errno, EMSGSIZE);
    /* Then an empty message, and the end: the receiver sees exactly that. */
    cr_assert_eq(frame_send(p->a, c, 7, body, 0), 0);
    us_shutdown(p->a, c, SHUT_WR);
    struct frame_reader fr;
    frame_reader_init(&fr);
    uint8_t t;
    uint32_t len = 99;
    int rc;
    while ((rc = frame_recv(p->b, s, &fr, &t, body, &len)) < 0 && errno == EAGAIN)
        us_wire_run_for(p->w, US_MSEC(1));
    cr_assert_eq(rc, 1);
    cr_assert_eq(t, 7);
    cr_assert_eq(len, 0);
    cr_assert_eq(recv_settled(p, s, &fr, body), 0, "a clean end between messages");
    us_close(p->a, c);
    us_close(p->b, s);
    us_wire_run_for(p->w, US_SEC(200));
    pair_free(p);
}
